//! The Pacemaker port against the real Debian 12 binaries (crm_mon,
//! crm_attribute 2.1.5) working on an offline CIB file (`CIB_file`): the
//! `--update=-INFINITY` form, permanent attributes in crm_mon's output, the
//! offline-node fallback, and no write when the value is unchanged.
//! One test only: it sets `CIB_file` for the whole process.

use std::process::Command;
use std::time::Duration;

use pgsql_ra_core::ports::{Cluster, Lifetime, NodeState};
use pgsql_ra_ocf::pacemaker::{CibRead, CrmCluster, CrmTools};

fn cib(args: &[&str]) -> String {
    let out = Command::new("cibadmin")
        .args(args)
        .output()
        .expect("cibadmin (Pacemaker) is required");
    assert!(
        out.status.success(),
        "cibadmin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn epoch() -> u64 {
    let xml = cib(&["-Q"]);
    let start = xml.find(" epoch=\"").expect("epoch") + 8;
    xml[start..]
        .split('"')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("numeric epoch")
}

fn fresh() -> CrmCluster {
    CrmCluster::new(CrmTools {
        sbin_dir: None,
        timeout: Duration::from_secs(10),
        forever_timeout: Duration::from_secs(5),
    })
}

#[test]
fn crm_attribute_and_crm_mon_on_an_offline_cib() {
    let dir = std::env::temp_dir().join(format!("pgsql-ra-cib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("cib.xml");
    let empty = Command::new("cibadmin")
        .arg("--empty")
        .output()
        .expect("cibadmin --empty");
    std::fs::write(&file, &empty.stdout).expect("write cib");
    std::env::set_var("CIB_file", &file);
    for (id, name) in [("1", "node1"), ("2", "node2"), ("3", "node3")] {
        cib(&[
            "-C",
            "-o",
            "nodes",
            "-X",
            &format!("<node id=\"{id}\" uname=\"{name}\"/>"),
        ]);
    }
    for (id, name) in [("1", "node1"), ("2", "node2")] {
        cib(&[
            "-C",
            "-o",
            "status",
            "-X",
            &format!("<node_state id=\"{id}\" uname=\"{name}\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\"/>"),
        ]);
    }

    let mut c = fresh();
    let nodes = c.nodes().expect("crm_mon");
    assert_eq!(nodes.len(), 3);
    assert!(nodes.contains(&NodeState::new("node1", true)));
    assert!(nodes.contains(&NodeState::new("node3", false)));
    assert!(c.promoted_nodes("pgsql").expect("promoted").is_empty());

    // The value that `crm_attribute -p <rsc> -v -INFINITY` mis-parses.
    c.set_attr("node1", "master-pgsql", "-INFINITY", Lifetime::Reboot)
        .expect("transient write");
    c.set_attr("node2", "pgsql-status", "HS:sync", Lifetime::Reboot)
        .expect("transient write");
    c.set_attr("node1", "pgsql-data-status", "LATEST", Lifetime::Forever)
        .expect("permanent write");
    c.set_attr(
        "node3",
        "pgsql-data-status",
        "DISCONNECT",
        Lifetime::Forever,
    )
    .expect("offline node write");
    assert_eq!(
        c.get_attr("node1", "master-pgsql", Lifetime::Reboot)
            .expect("cached")
            .as_deref(),
        Some("-INFINITY")
    );

    // A new invocation reads everything back from one crm_mon (permanent
    // attributes included) and the offline node through crm_attribute.
    let mut c = fresh();
    assert_eq!(
        c.get_attr("node1", "master-pgsql", Lifetime::Reboot)
            .expect("read")
            .as_deref(),
        Some("-INFINITY")
    );
    assert_eq!(
        c.get_attr("node2", "pgsql-status", Lifetime::Reboot)
            .expect("read")
            .as_deref(),
        Some("HS:sync")
    );
    assert_eq!(
        c.get_attr("node1", "pgsql-data-status", Lifetime::Forever)
            .expect("read")
            .as_deref(),
        Some("LATEST")
    );
    assert_eq!(
        c.get_attr("node3", "pgsql-data-status", Lifetime::Forever)
            .expect("offline read")
            .as_deref(),
        Some("DISCONNECT")
    );
    assert_eq!(
        c.get_attr("node3", "pgsql-xlog-loc", Lifetime::Reboot)
            .expect("absent"),
        None
    );
    assert_eq!(
        c.get_attr("node2", "pgsql-xlog-loc", Lifetime::Reboot)
            .expect("absent"),
        None
    );

    // Unchanged values and absent deletions write nothing (the CIB epoch stays).
    let before = epoch();
    c.set_attr("node1", "pgsql-data-status", "LATEST", Lifetime::Forever)
        .expect("no-op");
    c.set_attr("node1", "master-pgsql", "-INFINITY", Lifetime::Reboot)
        .expect("no-op");
    c.delete_attr("node2", "pgsql-xlog-loc", Lifetime::Reboot)
        .expect("no-op");
    assert_eq!(epoch(), before);

    c.delete_attr("node2", "pgsql-status", Lifetime::Reboot)
        .expect("delete");
    c.set_attr("node1", "master-pgsql", "1000", Lifetime::Reboot)
        .expect("change");
    let mut c = fresh();
    assert_eq!(
        c.get_attr("node2", "pgsql-status", Lifetime::Reboot)
            .expect("read"),
        None
    );
    assert_eq!(
        c.get_attr("node1", "master-pgsql", Lifetime::Reboot)
            .expect("read")
            .as_deref(),
        Some("1000")
    );

    // Issue 16: the state is read in process (libcib honours CIB_file), so
    // a missing tools directory does not matter to a read...
    let no_tools = || {
        CrmCluster::new(CrmTools {
            sbin_dir: Some("/nonexistent".into()),
            timeout: Duration::from_secs(2),
            forever_timeout: Duration::from_secs(2),
        })
    };
    let mut in_process = no_tools();
    assert_eq!(in_process.nodes().expect("read through libcib").len(), 3);
    assert_eq!(in_process.cib_read_used(), Some(CibRead::Library));
    // ...and on the crm_mon path a failing tool is an error with its words,
    // not a panic.
    let mut broken = no_tools().with_cib_read(CibRead::CrmMon);
    let e = broken.nodes().unwrap_err();
    assert!(e.0.contains("/nonexistent/crm_mon"), "{e}");

    // Issue 16: refresh drops the cached state, so a value another node
    // wrote since is read (an election monitor waiting for the others'
    // marks); this invocation's own writes still read back as written.
    let mut c = fresh();
    assert_eq!(
        c.get_attr("node2", "pgsql-xlog-final", Lifetime::Reboot)
            .expect("read"),
        None
    );
    c.set_attr(
        "node1",
        "pgsql-xlog-final",
        "00000000040000A0",
        Lifetime::Reboot,
    )
    .expect("own mark");
    let mut other = fresh();
    other
        .set_attr(
            "node2",
            "pgsql-xlog-final",
            "00000000040000A0",
            Lifetime::Reboot,
        )
        .expect("the other node's mark");
    // Behind this invocation's back, its own write is undone (attrd has not
    // written it to the CIB yet).
    other
        .delete_attr("node1", "pgsql-xlog-final", Lifetime::Reboot)
        .expect("delete");
    assert_eq!(
        c.get_attr("node2", "pgsql-xlog-final", Lifetime::Reboot)
            .expect("cached"),
        None,
        "the cache still answers before refresh"
    );
    c.refresh().expect("refresh");
    assert_eq!(
        c.get_attr("node2", "pgsql-xlog-final", Lifetime::Reboot)
            .expect("read again")
            .as_deref(),
        Some("00000000040000A0")
    );
    assert_eq!(
        c.get_attr("node1", "pgsql-xlog-final", Lifetime::Reboot)
            .expect("own write")
            .as_deref(),
        Some("00000000040000A0")
    );
    assert_eq!(c.cib_read_used(), Some(CibRead::Library));
    // On the crm_mon path too.
    let mut via_crm_mon = fresh().with_cib_read(CibRead::CrmMon);
    assert_eq!(
        via_crm_mon
            .get_attr("node1", "pgsql-xlog-final", Lifetime::Reboot)
            .expect("read"),
        None
    );
    other
        .set_attr(
            "node1",
            "pgsql-xlog-final",
            "00000000040000A1",
            Lifetime::Reboot,
        )
        .expect("write");
    via_crm_mon.refresh().expect("refresh");
    assert_eq!(
        via_crm_mon
            .get_attr("node1", "pgsql-xlog-final", Lifetime::Reboot)
            .expect("read again")
            .as_deref(),
        Some("00000000040000A1")
    );
    assert_eq!(via_crm_mon.cib_read_used(), Some(CibRead::CrmMon));

    let _ = std::fs::remove_dir_all(&dir);
}
