//! What the CIB tests share (`cib_parity.rs`, `cib_ipc_live.rs`): the
//! recorded CIB samples and the Pacemaker port as they build it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pgsql_ra_ocf::pacemaker::{CibRead, CrmCluster, CrmTools};

/// `tests/cib_samples`: CIBs recorded in the lab (one per situation).
pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cib_samples")
}

/// The Pacemaker port reading the cluster state by `read`, for the
/// resource `pgsql`, with 10 s limits.
pub fn port(read: CibRead) -> CrmCluster {
    CrmCluster::new(CrmTools {
        sbin_dir: None,
        timeout: Duration::from_secs(10),
        forever_timeout: Duration::from_secs(10),
    })
    .with_cib_read(read)
    .with_resource("pgsql")
}
