//! Issue 17 against the real binary and real PostgreSQL 15 servers: a
//! parameter value that is not UTF-8 is never replaced by its default, no
//! secret reaches a child's environment, `stop` stops whatever runs (and
//! succeeds when nothing does), and a full tmpdir does not fail a healthy
//! standby's monitor.

mod common;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::agent::{attr, AgentEnv};
use common::*;
use pgsql_ra_ocf::users;

const RUNNING: i32 = 0;
const NOT_RUNNING: i32 = 7;
const PROMOTED: i32 = 8;
const ERR_CONFIGURED: i32 = 6;

/// Runs the binary with `vars` plus `extra` (values as raw bytes).
fn run_os(
    vars: &BTreeMap<String, String>,
    extra: &[(&str, OsString)],
    action: &str,
    interval_ms: u64,
) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pgsql-ra"))
        .arg(action)
        .env_clear()
        .envs(vars)
        .envs(extra.iter().map(|(k, v)| (k, v)))
        .env("OCF_RESKEY_CRM_meta_interval", interval_ms.to_string())
        .output()
        .expect("the agent binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a program as `postgres` with raw-byte arguments; panics on failure.
fn as_pgdba_os(program: &str, args: &[&OsStr]) {
    let a = users::by_name(PGDBA).expect("postgres user");
    let out = Command::new(program)
        .args(args)
        .current_dir("/tmp")
        .uid(a.uid)
        .gid(a.gid)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// True when `pid` is alive and not a zombie.
fn alive(pid: u32) -> bool {
    pgsql_ra_ocf::procfs::stat(Path::new("/proc"), pid).is_some_and(|s| s.state != 'Z')
}

/// A single-node (rep_mode=none) agent environment for `node`.
fn single(node: &PgNode, attrd: &str) -> AgentEnv {
    let mut env = AgentEnv::new(node, attrd, "node1", &node.host);
    env.set("OCF_RESKEY_rep_mode", "none");
    env.vars.remove("OCF_RESKEY_node_list");
    env.vars.remove("OCF_RESKEY_master_ip");
    env
}

/// Item 1: `OCF_RESKEY_pgdata` with a byte that is not UTF-8. validate-all
/// and monitor refuse it naming the parameter; stop acts on exactly that
/// directory (never on the default `/var/lib/pgsql/data`).
#[test]
fn a_non_utf8_pgdata_is_never_replaced_by_the_default() {
    let dir = TestDir::new("nonutf8");
    let node = PgNode::new(&dir, "node1", 1, free_port());
    let attrd = dir.join("attrd");
    let mut raw = dir.path.join("node1").into_os_string().into_vec();
    raw.extend_from_slice(b"/data\xff");
    let pgdata = OsString::from_vec(raw);
    let pgdata_path = PathBuf::from(&pgdata);
    as_pgdba_os(
        &pg_bin("initdb"),
        &[
            OsStr::new("-D"),
            &pgdata,
            OsStr::new("-U"),
            OsStr::new(PGDBA),
            OsStr::new("--auth=trust"),
            OsStr::new("--no-sync"),
        ],
    );
    let conf = pgdata_path.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf");
    text.push_str(&format!(
        "port = {}\nunix_socket_directories = '{}'\nlisten_addresses = '{}'\nshared_buffers = 16MB\n",
        node.port, node.socketdir, node.host
    ));
    std::fs::write(&conf, text).expect("write postgresql.conf");
    let env = single(&node, &attrd);
    let extra = [("OCF_RESKEY_pgdata", pgdata.clone())];

    let (code, err) = run_os(&env.vars, &extra, "validate-all", 0);
    assert_eq!(code, ERR_CONFIGURED, "validate-all: {err}");
    assert!(err.contains("pgdata"), "the reason names pgdata: {err}");

    // Nothing runs there: stop succeeds.
    let (code, err) = run_os(&env.vars, &extra, "stop", 0);
    assert_eq!(code, 0, "stop with nothing running: {err}");

    as_pgdba_os(
        &pg_bin("pg_ctl"),
        &[
            OsStr::new("-D"),
            &pgdata,
            OsStr::new("-l"),
            OsStr::new(&node.logfile),
            OsStr::new("-w"),
            OsStr::new("start"),
        ],
    );
    let pid: u32 = String::from_utf8_lossy(
        &std::fs::read(pgdata_path.join("postmaster.pid")).expect("postmaster.pid"),
    )
    .lines()
    .next()
    .and_then(|l| l.trim().parse().ok())
    .expect("pid");
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            // SAFETY: stopping the test's own server if the agent did not.
            unsafe {
                libc::kill(self.0 as libc::pid_t, libc::SIGQUIT);
            }
        }
    }
    let _kill = Kill(pid);
    assert!(alive(pid));

    let (code, err) = run_os(&env.vars, &extra, "monitor", 0);
    assert_eq!(code, ERR_CONFIGURED, "monitor: {err}");
    assert!(err.contains("pgdata"), "the reason names pgdata: {err}");

    let (code, err) = run_os(&env.vars, &extra, "stop", 0);
    assert_eq!(code, 0, "stop of the running server: {err}");
    assert!(
        wait_for(Duration::from_secs(10), || !alive(pid)),
        "stop left the server at the non-UTF-8 pgdata running: {err}"
    );
    let (code, err) = run_os(&env.vars, &extra, "stop", 0);
    assert_eq!(code, 0, "second stop: {err}");
}

/// Writes an executable shell script.
fn script(path: &str, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).expect("script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    chown_pgdba(Path::new(path));
}

/// Environment blocks of `/proc/<pid>/environ` or a dumped `env`, as lines.
fn leaks(text: &[u8]) -> Vec<String> {
    text.split(|b| *b == 0 || *b == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .filter(|l| l.contains("S3cr3t"))
        .collect()
}

/// Item 2: no secret (`OCF_RESKEY_*password*`, `PGPASSWORD`, the private
/// `monitor_password`) in pg_ctl's environment, the postmaster's
/// (`/proc/<pid>/environ`) or a Pacemaker tool's.
#[test]
fn secrets_never_reach_pg_ctl_the_postmaster_or_pacemaker_tools() {
    let dir = TestDir::new("secrets");
    let node = PgNode::new(&dir, "node1", 1, free_port());
    let _guard = ServerGuard(vec![node.clone()]);
    node.initdb();
    let attrd = dir.join("attrd");
    let wrapper = dir.join("pg_ctl_wrapper");
    let dumps = dir.join("dumps");
    mkdir_pgdba(&dumps);
    script(
        &wrapper,
        &format!(
            "env > {dumps}/pg_ctl.$$\nexec {} \"$@\"\n",
            pg_bin("pg_ctl")
        ),
    );
    let mut env = single(&node, &attrd);
    env.set("OCF_RESKEY_pgctl", &wrapper)
        .set("OCF_RESKEY_monitor_user", PGDBA)
        .set("OCF_RESKEY_monitor_password", "S3cr3t-monitor")
        .set("OCF_RESKEY_other_password", "S3cr3t-other")
        .set("OCF_RESKEY_REPL_PASSWORD", "S3cr3t-upper")
        .set("PGPASSWORD", "S3cr3t-pgpassword");
    env.expect("start", 0, RUNNING);
    let pid = node.postmaster_pid().expect("postmaster.pid");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    assert!(
        leaks(&environ).is_empty(),
        "postmaster environment: {:?}",
        leaks(&environ)
    );
    assert!(
        String::from_utf8_lossy(&environ).contains("PATH="),
        "the rest of the environment passes through"
    );
    let mut seen = 0;
    for entry in std::fs::read_dir(&dumps).expect("dumps") {
        let text = std::fs::read(entry.expect("entry").path()).expect("dump");
        seen += 1;
        assert!(
            leaks(&text).is_empty(),
            "pg_ctl environment: {:?}",
            leaks(&text)
        );
    }
    assert!(seen > 0, "the wrapper ran");

    // A Pacemaker tool: crm_node -n through HA_SBIN_DIR (no file store).
    let sbin = dir.join("sbin");
    mkdir_pgdba(&sbin);
    script(
        &format!("{sbin}/crm_node"),
        &format!("env > {dumps}/crm_node.env\necho node1\n"),
    );
    let mut crm = single(&node, &attrd);
    crm.vars.remove("PGSQL_RA_ATTRD_DIR");
    crm.vars.remove("PGSQL_RA_NODE");
    crm.set("HA_SBIN_DIR", &sbin)
        .set("OCF_RESKEY_monitor_user", PGDBA)
        .set("OCF_RESKEY_monitor_password", "S3cr3t-monitor")
        .set("PGPASSWORD", "S3cr3t-pgpassword");
    let r = crm.run("monitor", 10000);
    assert_eq!(r.code, RUNNING, "monitor through crm_node: {}", r.stderr);
    let text = std::fs::read(format!("{dumps}/crm_node.env")).expect("crm_node ran");
    assert!(
        leaks(&text).is_empty(),
        "crm_node environment: {:?}",
        leaks(&text)
    );
    env.expect("stop", 0, RUNNING);
}

/// Item 3: stop stops a running server although `config` is missing or
/// (sync mode) the local node name is empty or unreadable, and succeeds
/// when nothing runs, also for a pgdata path too long for the filesystem.
#[test]
fn stop_stops_what_runs_and_succeeds_when_nothing_does() {
    let dir = TestDir::new("stop");
    let node = PgNode::new(&dir, "node1", 1, free_port());
    let _guard = ServerGuard(vec![node.clone()]);
    node.initdb();
    let attrd = dir.join("attrd");

    // `config` names a file that does not exist; the probe still says running.
    node.start_directly();
    let pid = node.postmaster_pid().expect("pid");
    let mut env = single(&node, &attrd);
    env.set("OCF_RESKEY_config", &dir.join("missing.conf"));
    env.expect("monitor", 0, RUNNING);
    let r = env.run("stop", 0);
    assert_eq!(r.code, 0, "stop without config: {}", r.stderr);
    assert!(!alive(pid), "stop without config left the server running");

    // pg_ctl itself is missing: the postmaster is signalled instead.
    node.start_directly();
    let pid = node.postmaster_pid().expect("pid");
    let mut no_pgctl = single(&node, &attrd);
    no_pgctl.set("OCF_RESKEY_pgctl", "/nonexistent/pg_ctl");
    let r = no_pgctl.run("stop", 0);
    assert_eq!(r.code, 0, "stop without pg_ctl: {}", r.stderr);
    assert!(!alive(pid), "stop without pg_ctl left the server running");

    // Sync mode, empty local node name.
    node.start_directly();
    let pid = node.postmaster_pid().expect("pid");
    let mut sync = AgentEnv::new(&node, &attrd, "node1 node2", &node.host);
    sync.set("PGSQL_RA_NODE", "");
    let r = sync.run("stop", 0);
    assert_eq!(r.code, 0, "stop with an empty node name: {}", r.stderr);
    assert!(
        !alive(pid),
        "stop with an empty node name left the server running"
    );
    sync.expect("stop", 0, 0);

    // Sync mode, crm_node fails (unreadable node name), nothing runs.
    let sbin = dir.join("sbin");
    mkdir_pgdba(&sbin);
    script(&format!("{sbin}/crm_node"), "echo oops >&2\nexit 1\n");
    let mut crm = AgentEnv::new(&node, &attrd, "node1 node2", &node.host);
    crm.vars.remove("PGSQL_RA_ATTRD_DIR");
    crm.vars.remove("PGSQL_RA_NODE");
    crm.set("HA_SBIN_DIR", &sbin);
    let r = crm.run("stop", 0);
    assert_eq!(r.code, 0, "stop with crm_node failing: {}", r.stderr);

    // A pgdata path the filesystem refuses ("File name too long").
    let mut long = single(&node, &attrd);
    long.set(
        "OCF_RESKEY_pgdata",
        &format!("{}/{}", dir.join("x"), "d".repeat(300)),
    );
    let r = long.run("stop", 0);
    assert_eq!(r.code, 0, "stop with a too long pgdata: {}", r.stderr);
    let _ = NOT_RUNNING;
}

/// A tmpfs of `size` mounted on `path`, unmounted on drop.
struct Tmpfs(String);

impl Tmpfs {
    fn mount(path: &str, size: &str) -> Tmpfs {
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
                path,
            ])
            .status()
            .expect("mount runs")
            .success();
        assert!(ok, "mount -t tmpfs on {path} (root is required)");
        chown_pgdba(Path::new(path));
        Tmpfs(path.to_string())
    }

    /// Fills the filesystem; returns the filler's path.
    fn fill(&self) -> String {
        use std::io::Write;
        let path = format!("{}/filler", self.0);
        let mut f = std::fs::File::create(&path).expect("filler");
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").args(["-l", &self.0]).status();
    }
}

/// Item 4: a healthy standby whose tmpdir is full cannot write its election
/// note: its recurring monitor returns 0, and its score is -INFINITY until
/// the note can be written again, then the score comes back.
#[test]
fn a_full_tmpdir_does_not_fail_a_healthy_standby() {
    let dir = TestDir::new("tmpfs");
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let n2 = PgNode::new(&dir, "node2", 2, port);
    let _guard = ServerGuard(vec![n1.clone(), n2.clone()]);
    let tmpfs = Tmpfs::mount(&n2.tmpdir, "256k");
    let attrd = dir.join("attrd");
    std::fs::create_dir_all(&attrd).expect("attrd");
    std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").expect("nodes");
    let promoted = |who: Option<&str>| {
        let text = who.map(|n| format!("pgsql {n}\n")).unwrap_or_default();
        std::fs::write(format!("{attrd}/promoted"), text).expect("promoted");
    };
    n1.initdb();
    n1.start_directly();
    n2.basebackup_from(&n1);
    n1.stop_immediately();
    let mut a1 = AgentEnv::new(&n1, &attrd, "node1 node2", &n1.host);
    let a2 = AgentEnv::new(&n2, &attrd, "node1 node2", &n1.host);
    a1.expect("start", 0, RUNNING);
    a1.expect("promote", 0, RUNNING);
    promoted(Some("node1"));
    // The Promoted-role recurring monitor, as Pacemaker runs it.
    a1.set("OCF_RESKEY_CRM_meta_role", "Promoted");
    a2.expect("start", 0, RUNNING);
    let score = |node: &str| attr(&attrd, node, "reboot", "master-pgsql");
    let mut last = String::new();
    assert!(
        wait_for(Duration::from_secs(30), || {
            let r = a1.run("monitor", 4000);
            last = format!("{}: {}", r.code, r.stderr);
            r.code == PROMOTED && score("node2").as_deref() == Some("100")
        }),
        "node2 never got 100 ({:?}); last primary monitor: {last}",
        score("node2")
    );
    // The primary goes away: node2 is a healthy standby without a primary.
    a1.expect("stop", 0, RUNNING);
    promoted(None);

    let filler = tmpfs.fill();
    let r = a2.run("monitor", 4000);
    assert_eq!(r.code, RUNNING, "monitor with a full tmpdir: {}", r.stderr);
    assert_eq!(score("node2").as_deref(), Some("-INFINITY"), "{}", r.stderr);
    let r = a2.run("monitor", 4000);
    assert_eq!(
        r.code, RUNNING,
        "second monitor with a full tmpdir: {}",
        r.stderr
    );
    assert_eq!(score("node2").as_deref(), Some("-INFINITY"));

    std::fs::remove_file(&filler).expect("free the tmpdir");
    let r = a2.run("monitor", 4000);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert_eq!(
        score("node2").as_deref(),
        Some("100"),
        "the withheld score is restored: {}",
        r.stderr
    );
    // xlog_check_count=1: the next round elects node2.
    let r = a2.run("monitor", 4000);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert_eq!(score("node2").as_deref(), Some("1000"), "{}", r.stderr);
    a2.expect("stop", 0, RUNNING);
    let _ = NOT_RUNNING;
}
