//! The binary against hostile environment values: every parameter (and the
//! context variables the shim reads) × a set of hostile values × `monitor`,
//! `validate-all`, `notify` and `stop`, in single-node and sync replication
//! mode with a missing data directory, and in sync mode with a real,
//! initdb'd but stopped PostgreSQL 15 data directory (so the machine checks
//! read `PG_VERSION` and `postgresql.conf`), with the file-backed attribute
//! store. Nothing runs in the data directory, so no run may touch a server. Counted: panics (exit 101 or
//! "panicked" on stderr), deaths by signal, runs over the operation timeout,
//! and exit codes outside the OCF range. All must be 0. The cases are a
//! fixed, deterministic set (no randomness) so a failure always reproduces.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pgsql_ra_core::params::PARAMETERS;

/// The operation timeout handed to the agent (`CRM_meta_timeout`).
const OP_TIMEOUT: Duration = Duration::from_secs(10);

fn hostile_values() -> Vec<(&'static str, OsString)> {
    let s = |v: &str| OsString::from(v.to_string());
    vec![
        ("non-utf8", OsString::from_vec(b"/srv/pg\xff\xfe".to_vec())),
        ("non-utf8-word", OsString::from_vec(b"\xc3\x28yes".to_vec())),
        ("empty", s("")),
        ("blank", s("   ")),
        ("huge", s(&"A".repeat(64 * 1024))),
        ("huge-path", s(&format!("/{}", "d/".repeat(3000)))),
        ("control", s("a\x01\x07\x1b[31m\tb\r\nc\x7f")),
        ("newlines", s("\n\n\n")),
        ("dotdot", s("../../../../../../etc")),
        ("dotdot-rel", s("../")),
        ("negative", s("-1")),
        ("overflow", s("99999999999999999999999999")),
        ("min-i64", s("-9223372036854775809")),
        ("shell", s("$(touch /tmp/pgsql-ra-pwned); `id`; 'x\"")),
        ("option", s("--help")),
        ("percent", s("%s%n%x")),
    ]
}

/// The variables the shim reads besides the 33 parameters.
const CONTEXT_VARS: [&str; 8] = [
    "OCF_RESOURCE_INSTANCE",
    "OCF_RESKEY_CRM_meta_timeout",
    "OCF_RESKEY_CRM_meta_interval",
    "OCF_RESKEY_CRM_meta_on_node",
    "OCF_RESKEY_CRM_meta_notify_type",
    "OCF_RESKEY_CRM_meta_notify_operation",
    "OCF_RESKEY_CRM_meta_notify_promote_uname",
    "PGSQL_RA_NODE",
];

fn base_env(root: &str, pgdata: &str, sync: bool) -> BTreeMap<String, OsString> {
    let mut m = BTreeMap::new();
    let mut set = |k: &str, v: &str| {
        m.insert(k.to_string(), OsString::from(v));
    };
    set("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    set("OCF_ROOT", "/usr/lib/ocf");
    set("OCF_RESOURCE_INSTANCE", "pgsql:0");
    set(
        "OCF_RESKEY_CRM_meta_timeout",
        &OP_TIMEOUT.as_millis().to_string(),
    );
    set("OCF_RESKEY_CRM_meta_interval", "10000");
    set("OCF_RESKEY_pgctl", "/usr/lib/postgresql/15/bin/pg_ctl");
    set("OCF_RESKEY_psql", "/usr/lib/postgresql/15/bin/psql");
    set("OCF_RESKEY_pgdata", pgdata);
    set("OCF_RESKEY_tmpdir", &format!("{root}/tmp"));
    set("OCF_RESKEY_socketdir", &format!("{root}/sock"));
    set("OCF_RESKEY_pgport", "1");
    set("OCF_RESKEY_pghost", "127.0.0.1");
    set("PGSQL_RA_ATTRD_DIR", &format!("{root}/attrd"));
    set("PGSQL_RA_NODE", "node1");
    if sync {
        set("OCF_RESKEY_rep_mode", "sync");
        set("OCF_RESKEY_node_list", "node1 node2");
        set("OCF_RESKEY_master_ip", "127.0.0.1");
        set("OCF_RESKEY_CRM_meta_notify", "true");
        set("OCF_RESKEY_CRM_meta_promotable", "true");
        set("OCF_RESKEY_CRM_meta_clone_max", "2");
        set("OCF_RESKEY_CRM_meta_notify_type", "pre");
        set("OCF_RESKEY_CRM_meta_notify_operation", "promote");
        set("OCF_RESKEY_CRM_meta_notify_promote_uname", "node2");
    }
    m
}

#[derive(Default)]
struct Tally {
    runs: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

/// `default`: for a parameter whose value is not UTF-8, its default path,
/// which the run must never mention (the value is carried as its exact
/// bytes, never replaced by the default). A value that is not UTF-8 must
/// also never reach the log raw (it shows as `\xNN`).
fn run_case(
    env: &BTreeMap<String, OsString>,
    action: &str,
    label: &str,
    default: Option<&str>,
    tally: &Tally,
) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pgsql-ra"))
        .arg(action)
        .env_clear()
        .envs(env)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the agent binary runs");
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut s) = stderr {
            use std::io::Read;
            let _ = s.read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if start.elapsed() > OP_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = start.elapsed();
    let stderr = reader.join().unwrap_or_default();
    tally.runs.fetch_add(1, Ordering::Relaxed);
    let problem = match status.map(|s| s.code()) {
        None => Some(format!("over the {OP_TIMEOUT:?} op timeout")),
        Some(None) => Some("killed by a signal".to_string()),
        Some(Some(101)) => Some("exit 101 (panic)".to_string()),
        Some(Some(c)) if !(0..=9).contains(&c) => Some(format!("exit {c} outside OCF")),
        _ if stderr.contains("panicked") => Some("panicked".to_string()),
        _ if elapsed > OP_TIMEOUT => Some(format!("took {elapsed:?}")),
        Some(Some(c)) if default.is_some_and(|d| stderr.contains(d)) => Some(format!(
            "exit {c}: a value that is not UTF-8 was replaced by its default {default:?}"
        )),
        Some(Some(c)) if label.contains("non-utf8") && stderr.contains('\u{FFFD}') => Some(
            format!("exit {c}: a byte that is not UTF-8 reached the log raw (must show as \\xNN)"),
        ),
        _ => None,
    };
    if let Some(p) = problem {
        let first: String = stderr.chars().take(300).collect();
        tally
            .failures
            .lock()
            .expect("lock")
            .push(format!("{action} {label}: {p}: {first}"));
    }
}

#[test]
fn hostile_values_never_panic_or_hang() {
    let dir = common::TestDir::new("hostile");
    let root_s = dir.path.to_string_lossy().into_owned();
    std::fs::create_dir_all(dir.path.join("attrd")).expect("attrd");
    let node = common::PgNode::new(&dir, "node1", 1, common::free_port());
    node.initdb();
    let bases = [
        ("none", format!("{root_s}/missing"), false),
        ("sync", format!("{root_s}/missing"), true),
        ("sync-initdb", node.pgdata.clone(), true),
    ];
    let values = hostile_values();
    let names: Vec<String> = PARAMETERS
        .iter()
        .map(|p| format!("OCF_RESKEY_{}", p.name))
        .chain(CONTEXT_VARS.iter().map(|v| v.to_string()))
        .collect();
    let actions = ["monitor", "validate-all", "notify", "stop"];
    let mut cases = Vec::new();
    for (base_label, pgdata, sync) in &bases {
        let base = base_env(&root_s, pgdata, *sync);
        for name in &names {
            for (vlabel, value) in &values {
                for action in actions {
                    let mut env = base.clone();
                    env.insert(name.clone(), value.clone());
                    let label = format!("{base_label} {name}={vlabel}");
                    // Defaults that no other base value contains.
                    let default = (*vlabel == "non-utf8")
                        .then(|| name.trim_start_matches("OCF_RESKEY_"))
                        .filter(|p| ["pgdata", "tmpdir", "pgctl", "psql"].contains(p))
                        .and_then(pgsql_ra_core::params::param_spec)
                        .map(|spec| spec.default.to_string());
                    cases.push((env, action, label, default));
                }
            }
        }
    }
    let tally = Tally::default();
    let start = Instant::now();
    let queue = Mutex::new(cases.into_iter());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let next = queue.lock().expect("lock").next();
                let Some((env, action, label, default)) = next else {
                    break;
                };
                run_case(&env, action, &label, default.as_deref(), &tally);
            });
        }
    });
    let failures = tally.failures.into_inner().expect("lock");
    let runs = tally.runs.load(Ordering::Relaxed);
    eprintln!(
        "hostile environment: {runs} runs in {:?}, {} failures",
        start.elapsed(),
        failures.len()
    );
    assert!(
        !std::path::Path::new("/tmp/pgsql-ra-pwned").exists(),
        "a value reached a shell"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
