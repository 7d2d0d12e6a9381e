//! Attack on issue 16, finding 4: a CIB manager that never answers (here a
//! FIFO without a writer as `CIB_file`: libcib and crm_mon both block
//! opening it) ends the cluster-state read within the one limit the port
//! has (`CrmTools::timeout`, the operation's `budget.command`): the
//! in-process query gets a slice of it and crm_mon the rest, not a fresh
//! full limit each.
//!
//! One test function: it sets `CIB_file` for the whole process.

use std::process::Command;
use std::time::{Duration, Instant};

use pgsql_ra_core::ports::{Cluster, Log, LogLevel};
use pgsql_ra_ocf::pacemaker::{library_slice, CibRead, CrmCluster, CrmTools};

/// A log that keeps its lines.
struct Lines(std::rc::Rc<std::cell::RefCell<Vec<String>>>);

impl Log for Lines {
    fn log(&mut self, _level: LogLevel, message: &str) {
        self.0.borrow_mut().push(message.to_string());
    }
}

#[test]
fn a_hung_cib_ends_the_read_within_one_limit() {
    if Command::new("crm_mon").arg("--version").output().is_err() {
        eprintln!("no crm_mon: skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pgsql-ra-cib-hung-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let fifo = dir.join("cib.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success(), "mkfifo");
    std::env::set_var("CIB_file", &fifo);

    let limit = Duration::from_secs(5);
    let logged = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut port = CrmCluster::new(CrmTools {
        sbin_dir: None,
        timeout: limit,
        forever_timeout: limit,
    })
    .with_cib_read(CibRead::Library)
    .with_log(Box::new(Lines(logged.clone())));
    let started = Instant::now();
    let result = port.nodes();
    let took = started.elapsed();
    let lines = logged.borrow().join("\n");
    eprintln!("read failed after {took:?}: {result:?}\n{lines}");
    let e = result.expect_err("nothing answers");
    // The library waited its slice, then crm_mon was killed with the rest.
    assert!(
        lines.contains(&format!(
            "no answer within {:.1} s",
            library_slice(limit).as_secs_f64()
        )),
        "{lines}"
    );
    assert!(e.to_string().contains("killed after"), "{e}");
    assert!(took >= limit - Duration::from_millis(100), "{took:?}");
    assert!(
        took < limit + Duration::from_millis(500),
        "the whole read stays within its limit: {took:?}"
    );

    // Started ahead (issue 16, `prefetch`), the action busy meanwhile: the
    // one limit counts from the start of the read, not from the first call.
    logged.borrow_mut().clear();
    let started = Instant::now();
    let mut port = CrmCluster::new(CrmTools {
        sbin_dir: None,
        timeout: limit,
        forever_timeout: limit,
    })
    .with_cib_read(CibRead::Library)
    .with_log(Box::new(Lines(logged.clone())))
    .prefetch();
    std::thread::sleep(Duration::from_secs(1));
    let result = port.nodes();
    let took = started.elapsed();
    let lines = logged.borrow().join("\n");
    eprintln!("prefetched read failed after {took:?}: {result:?}\n{lines}");
    let e = result.expect_err("nothing answers");
    assert!(lines.contains("no answer within"), "{lines}");
    assert!(e.to_string().contains("killed after"), "{e}");
    assert!(
        took < limit + Duration::from_millis(500),
        "the prefetched read stays within its limit from its start: {took:?}"
    );
    std::env::remove_var("CIB_file");
    let _ = std::fs::remove_dir_all(&dir);
}
