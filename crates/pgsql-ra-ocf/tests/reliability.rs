//! Issue 17 against the real binary and real PostgreSQL 15 servers: a
//! parameter value that is not UTF-8 (a legal path) is carried as its exact
//! bytes and never replaced by its default, no
//! secret reaches a child's environment, `stop` stops whatever runs (and
//! succeeds when nothing does), and a full tmpdir does not fail a healthy
//! standby's monitor.

mod common;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
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

/// Creates a directory with a raw-byte path, owned by `postgres`.
fn mkdir_pgdba_os(path: &Path) {
    std::fs::create_dir_all(path).expect("mkdir");
    chown_pgdba(path);
}

/// Concatenates raw path bytes.
fn raw(parts: &[&[u8]]) -> OsString {
    OsString::from_vec(parts.concat())
}

/// A node whose every directory lives under a name that is not UTF-8
/// (`<dir>/<name>\xff`): pgdata, tmpdir, socket directory, log file and a
/// `bin\xff` directory with symlinks to pg_ctl and psql.
struct RawNode {
    name: String,
    base: OsString,
    pgdata: OsString,
    tmpdir: OsString,
    socketdir: OsString,
    logfile: OsString,
    pgctl: OsString,
    psql: OsString,
    host: String,
    port: u16,
}

impl RawNode {
    fn new(dir: &TestDir, name: &str, index: u8, port: u16) -> RawNode {
        let base = raw(&[
            dir.path.as_os_str().as_bytes(),
            b"/",
            name.as_bytes(),
            b"\xff",
        ]);
        let b = base.as_bytes();
        let node = RawNode {
            name: name.to_string(),
            pgdata: raw(&[b, b"/data\xfe"]),
            tmpdir: raw(&[b, b"/tmp\xfd"]),
            socketdir: raw(&[b, b"/sock\xfc"]),
            logfile: raw(&[b, b"/postgresql\xfb.log"]),
            pgctl: raw(&[b, b"/bin\xfa/pg_ctl"]),
            psql: raw(&[b, b"/bin\xfa/psql"]),
            base,
            host: format!("127.0.0.{}", index + 1),
            port,
        };
        mkdir_pgdba_os(Path::new(&node.base));
        mkdir_pgdba_os(Path::new(&node.tmpdir));
        mkdir_pgdba_os(Path::new(&node.socketdir));
        let bin = Path::new(&node.pgctl).parent().expect("bin");
        mkdir_pgdba_os(bin);
        std::os::unix::fs::symlink(pg_bin("pg_ctl"), &node.pgctl).expect("symlink pg_ctl");
        std::os::unix::fs::symlink(pg_bin("psql"), &node.psql).expect("symlink psql");
        node
    }

    /// Settings appended to postgresql.conf (the socket directory as raw bytes).
    fn append_settings(&self) {
        use std::io::Write;
        let conf = Path::new(&self.pgdata).join("postgresql.conf");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .expect("postgresql.conf");
        let mut text = format!(
            "port = {}\nlisten_addresses = '{}'\nwal_level = replica\nmax_wal_senders = 10\n\
             max_replication_slots = 10\nhot_standby = on\nwal_keep_size = 64MB\nfsync = off\n\
             shared_buffers = 16MB\nwal_receiver_status_interval = 1\n\
             wal_retrieve_retry_interval = 1s\nlog_min_messages = warning\n\
             unix_socket_directories = '",
            self.port, self.host
        )
        .into_bytes();
        text.extend_from_slice(self.socketdir.as_bytes());
        text.extend_from_slice(b"'\n");
        f.write_all(&text).expect("append settings");
    }

    fn initdb(&self) {
        as_pgdba_os(
            &pg_bin("initdb"),
            &[
                OsStr::new("-D"),
                &self.pgdata,
                OsStr::new("-U"),
                OsStr::new(PGDBA),
                OsStr::new("--auth=trust"),
                OsStr::new("--no-sync"),
                OsStr::new("-E"),
                OsStr::new("UTF8"),
            ],
        );
        self.append_settings();
    }

    fn basebackup_from(&self, primary: &PgNode) {
        as_pgdba_os(
            &pg_bin("pg_basebackup"),
            &[
                OsStr::new("-h"),
                OsStr::new(&primary.host),
                OsStr::new("-p"),
                OsStr::new(&primary.port.to_string()),
                OsStr::new("-U"),
                OsStr::new(PGDBA),
                OsStr::new("-D"),
                &self.pgdata,
                OsStr::new("-X"),
                OsStr::new("stream"),
                OsStr::new("--no-sync"),
            ],
        );
        self.append_settings();
    }

    fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read(Path::new(&self.pgdata).join("postmaster.pid"))
            .ok()
            .and_then(|t| {
                String::from_utf8_lossy(&t)
                    .lines()
                    .next()
                    .and_then(|l| l.trim().parse().ok())
            })
    }

    /// The OCF variables with raw bytes, to lay over an [`AgentEnv`].
    fn raw_vars(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("OCF_RESKEY_pgdata", self.pgdata.clone()),
            ("OCF_RESKEY_tmpdir", self.tmpdir.clone()),
            ("OCF_RESKEY_socketdir", self.socketdir.clone()),
            ("OCF_RESKEY_logfile", self.logfile.clone()),
            ("OCF_RESKEY_pgctl", self.pgctl.clone()),
            ("OCF_RESKEY_psql", self.psql.clone()),
        ]
    }

    /// A stand-in [`PgNode`] for [`AgentEnv::new`] (its paths are replaced
    /// by [`RawNode::raw_vars`]).
    fn as_pg_node(&self) -> PgNode {
        let lossy = |p: &OsString| p.to_string_lossy().into_owned();
        PgNode {
            name: self.name.clone(),
            pgdata: lossy(&self.pgdata),
            socketdir: lossy(&self.socketdir),
            tmpdir: lossy(&self.tmpdir),
            logfile: lossy(&self.logfile),
            host: self.host.clone(),
            port: self.port,
            bin: PG_BIN.to_string(),
            major: PG_BIN_MAJOR,
        }
    }

    fn stop_immediately(&self) {
        let Some(pid) = self.postmaster_pid() else {
            return;
        };
        // SAFETY: stopping the test's own server.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGCONT);
            libc::kill(pid as libc::pid_t, libc::SIGQUIT);
        }
        wait_for(Duration::from_secs(10), || !alive(pid));
    }
}

/// Stops a [`RawNode`]'s server on drop (also when the test fails).
struct RawGuard<'a>(&'a RawNode);

impl Drop for RawGuard<'_> {
    fn drop(&mut self) {
        self.0.stop_immediately();
    }
}

/// Item 1 (Precision: a non-UTF-8 path is legal, carry it as bytes): a
/// single-node resource whose pgdata, tmpdir, socket directory, log file,
/// pg_ctl and psql all live under names that are not UTF-8 is validated,
/// started, monitored (over the socket directory) and stopped like any
/// other, on exactly those bytes (never a default).
#[test]
fn a_non_utf8_data_directory_is_started_monitored_and_stopped() {
    let dir = TestDir::new("nonutf8");
    let node = RawNode::new(&dir, "node1", 1, free_port());
    let _guard = RawGuard(&node);
    node.initdb();
    let attrd = dir.join("attrd");
    let mut env = single(&node.as_pg_node(), &attrd);
    // Connect through the (non-UTF-8) socket directory.
    env.set("OCF_RESKEY_pghost", "");
    let extra = node.raw_vars();

    let (code, err) = run_os(&env.vars, &extra, "validate-all", 0);
    assert_eq!(code, 0, "validate-all: {err}");
    let mut level10 = extra.clone();
    level10.push(("OCF_CHECK_LEVEL", OsString::from("10")));
    let (code, err) = run_os(&env.vars, &level10, "validate-all", 0);
    assert_eq!(code, 0, "validate-all at level 10: {err}");
    let (code, err) = run_os(&env.vars, &extra, "monitor", 0);
    assert_eq!(code, NOT_RUNNING, "probe before start: {err}");
    // A value the agent can't use is refused naming the parameter, its
    // bytes shown as \xNN (never replaced by the default `none`).
    let mut bad_mode = extra.clone();
    bad_mode.push(("OCF_RESKEY_rep_mode", raw(&[b"none\xff"])));
    let (code, err) = run_os(&env.vars, &bad_mode, "validate-all", 0);
    assert_eq!(code, 6, "rep_mode=none\\xff: {err}");
    assert!(
        err.contains("rep_mode=\"none\\xff\"") && !err.contains('\u{FFFD}'),
        "the reason names rep_mode and shows the byte: {err}"
    );
    let (code, err) = run_os(&env.vars, &extra, "stop", 0);
    assert_eq!(code, 0, "stop with nothing running: {err}");

    let (code, err) = run_os(&env.vars, &extra, "start", 0);
    assert_eq!(code, 0, "start: {err}");
    assert!(!err.contains('\u{FFFD}'), "no raw byte in the log: {err}");
    let pid = node
        .postmaster_pid()
        .expect("postmaster.pid in the raw pgdata");
    assert!(alive(pid));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    assert!(
        cmdline
            .windows(node.pgdata.len())
            .any(|w| w == node.pgdata.as_bytes()),
        "the postmaster runs on exactly the given bytes: {:?}",
        String::from_utf8_lossy(&cmdline)
    );
    assert!(
        std::fs::metadata(Path::new(&node.logfile)).is_ok(),
        "pg_ctl -l wrote the log file at the raw path"
    );
    let (code, err) = run_os(&env.vars, &extra, "monitor", 0);
    assert_eq!(code, RUNNING, "probe: {err}");
    let (code, err) = run_os(&env.vars, &extra, "monitor", 10000);
    assert_eq!(code, RUNNING, "recurring monitor: {err}");

    let (code, err) = run_os(&env.vars, &extra, "stop", 0);
    assert_eq!(code, 0, "stop of the running server: {err}");
    assert!(
        wait_for(Duration::from_secs(10), || !alive(pid)),
        "stop left the server at the non-UTF-8 pgdata running: {err}"
    );
    let (code, err) = run_os(&env.vars, &extra, "stop", 0);
    assert_eq!(code, 0, "second stop: {err}");
    let (code, err) = run_os(&env.vars, &extra, "monitor", 0);
    assert_eq!(code, NOT_RUNNING, "probe after stop: {err}");
}

/// Item 1 in sync mode: a standby whose pgdata and tmpdir are not UTF-8
/// starts (recovery settings in its raw tmpdir, included from its
/// postgresql.conf by the raw path), streams from the primary, becomes its
/// synchronous standby (score 100) and stops.
#[test]
fn a_non_utf8_standby_starts_and_streams_in_sync_mode() {
    let dir = TestDir::new("nonutf8sync");
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let n2 = RawNode::new(&dir, "node2", 2, port);
    let _guard = ServerGuard(vec![n1.clone()]);
    let _raw_guard = RawGuard(&n2);
    let attrd = dir.join("attrd");
    std::fs::create_dir_all(&attrd).expect("attrd");
    std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").expect("nodes");
    n1.initdb();
    n1.start_directly();
    n2.basebackup_from(&n1);
    n1.stop_immediately();
    let mut a1 = AgentEnv::new(&n1, &attrd, "node1 node2", &n1.host);
    let a2 = AgentEnv::new(&n2.as_pg_node(), &attrd, "node1 node2", &n1.host);
    let extra = n2.raw_vars();
    a1.expect("start", 0, RUNNING);
    a1.expect("promote", 0, RUNNING);
    std::fs::write(format!("{attrd}/promoted"), "pgsql node1\n").expect("promoted");
    a1.set("OCF_RESKEY_CRM_meta_role", "Promoted");

    let (code, err) = run_os(&a2.vars, &extra, "start", 0);
    assert_eq!(code, 0, "start of the non-UTF-8 standby: {err}");
    let conf = std::fs::read(Path::new(&n2.pgdata).join("postgresql.conf")).expect("conf");
    assert!(
        conf.windows(n2.tmpdir.len())
            .any(|w| w == n2.tmpdir.as_bytes()),
        "postgresql.conf includes from the raw tmpdir: {:?}",
        String::from_utf8_lossy(&conf)
    );
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
    let (code, err) = run_os(&a2.vars, &extra, "monitor", 0);
    assert_eq!(code, RUNNING, "probe of the standby: {err}");
    let (code, err) = run_os(&a2.vars, &extra, "monitor", 4000);
    assert_eq!(code, RUNNING, "recurring monitor of the standby: {err}");
    let pid = n2.postmaster_pid().expect("standby pid");
    let (code, err) = run_os(&a2.vars, &extra, "stop", 0);
    assert_eq!(code, 0, "stop of the standby: {err}");
    assert!(!alive(pid), "stop left the standby running: {err}");
    a1.expect("stop", 0, RUNNING);
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

/// Item 2: no secret (`OCF_RESKEY_*password*`, `PGPASSWORD`, the secret
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

// ---------------------------------------------------------------------------
// Issue 17, second round: an operator's attack on real PostgreSQL 15.
// ---------------------------------------------------------------------------

/// Replaces line 1 of `<pgdata>/postmaster.pid` with `pid` (the rest of the
/// file is kept). `root_only`: the file is recreated owned by root, mode 0600.
fn forge_pid_file(node: &PgNode, pid: u32, root_only: bool) {
    let path = format!("{}/postmaster.pid", node.pgdata);
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let rest: Vec<&str> = old.lines().skip(1).collect();
    let text = format!("{pid}\n{}\n", rest.join("\n"));
    if root_only {
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, text).expect("write forged pid file");
        std::os::unix::fs::chown(&path, Some(0), Some(0)).expect("chown root");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    } else {
        std::fs::write(&path, text).expect("write forged pid file");
        chown_pgdba(Path::new(&path));
    }
}

/// Kills a server's postmaster with SIGKILL (a crash) and waits until it and
/// every child are gone; its postmaster.pid stays behind.
fn crash(node: &PgNode) {
    let pids = node.server_pids();
    assert!(!pids.is_empty(), "{} runs", node.name);
    let pm = node.postmaster_pid().expect("pid");
    // SAFETY: killing the test's own postmaster.
    unsafe {
        libc::kill(pm as libc::pid_t, libc::SIGKILL);
    }
    assert!(
        wait_for(Duration::from_secs(20), || pids.iter().all(|p| !alive(*p))),
        "the crashed server's processes are gone"
    );
}

/// D1: after a crash of server A, A's stale postmaster.pid names the live
/// postmaster of server B (PID reuse). No action for A may take B for A's
/// postmaster: stop (through pg_ctl, through the signal fallback without
/// pg_ctl, through the raw-bytes path, and with a root-only pid file) returns
/// 0 at once and B keeps running; the probe says A is not running; start
/// starts A.
#[test]
fn a_stale_pid_file_naming_another_servers_postmaster_is_not_this_server() {
    let dir = TestDir::new("pidreuse");
    let port = free_port();
    let a = PgNode::new(&dir, "a", 1, port);
    let b = PgNode::new(&dir, "b", 2, port);
    // B is stopped last: A's pid file may name B at the end.
    let _guard = ServerGuard(vec![a.clone(), b.clone()]);
    a.initdb();
    b.initdb();
    a.start_directly();
    b.start_directly();
    crash(&a);
    let attrd = dir.join("attrd");
    let env_a = single(&a, &attrd);
    let mut failures: Vec<String> = Vec::new();
    let mut step = |what: &str, root_only: bool, run: &dyn Fn() -> (i32, String), want: i32| {
        if b.postmaster_pid().is_none_or(|p| !alive(p)) {
            b.start_directly();
        }
        let b_pid = b.postmaster_pid().expect("B's pid");
        forge_pid_file(&a, b_pid, root_only);
        let start = std::time::Instant::now();
        let (code, err) = run();
        let took = start.elapsed();
        std::thread::sleep(Duration::from_millis(300));
        if code != want {
            failures.push(format!(
                "{what}: rc {code}, want {want} after {took:?}: {err}"
            ));
        }
        if !alive(b_pid) {
            failures.push(format!(
                "{what}: B's postmaster {b_pid} was shut down: {err}"
            ));
        }
        if took > Duration::from_secs(10) {
            failures.push(format!("{what}: took {took:?}"));
        }
    };
    let plain = |env: &AgentEnv, action: &'static str| {
        let r = env.run(action, 0);
        (r.code, r.stderr)
    };
    step("stop", false, &|| plain(&env_a, "stop"), 0);
    step("probe", false, &|| plain(&env_a, "monitor"), NOT_RUNNING);
    let mut no_pgctl = single(&a, &attrd);
    no_pgctl.set("OCF_RESKEY_pgctl", "/nonexistent/pg_ctl");
    step(
        "stop without pg_ctl",
        false,
        &|| plain(&no_pgctl, "stop"),
        0,
    );
    let raw = [(
        "OCF_RESKEY_start_opt",
        OsString::from_vec(b"-c x=\xff".to_vec()),
    )];
    step(
        "stop, raw-bytes path",
        false,
        &|| run_os(&env_a.vars, &raw, "stop", 0),
        0,
    );
    step(
        "probe, raw-bytes path",
        false,
        &|| run_os(&env_a.vars, &raw, "monitor", 0),
        NOT_RUNNING,
    );
    step(
        "stop with a root-only pid file",
        true,
        &|| plain(&env_a, "stop"),
        0,
    );
    step("start", false, &|| plain(&env_a, "start"), RUNNING);
    let a_pid = a.postmaster_pid();
    let b_pid = b.postmaster_pid();
    if a_pid.is_none() || a_pid == b_pid || !a_pid.is_some_and(alive) {
        failures.push(format!("start did not start A: A {a_pid:?}, B {b_pid:?}"));
    }
    let r = env_a.run("stop", 0);
    if r.code != 0 || a_pid.is_some_and(alive) {
        failures.push(format!(
            "stop of the started A: rc {}: {}",
            r.code, r.stderr
        ));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// D3: an existing but wrong `pgdba` (root: pg_ctl refuses to run; nobody:
/// can't read the pid file) does not make stop fail while the agent (root)
/// found the verified postmaster: it signals it. `pgdba=root` is
/// OCF_ERR_CONFIGURED naming pgdba for validate-all and start.
#[test]
fn stop_works_with_a_wrong_pgdba_and_root_is_refused_as_pgdba() {
    let dir = TestDir::new("pgdba");
    let node = PgNode::new(&dir, "node1", 1, free_port());
    let _guard = ServerGuard(vec![node.clone()]);
    node.initdb();
    let attrd = dir.join("attrd");
    let mut failures: Vec<String> = Vec::new();
    for pgdba in ["root", "nobody"] {
        node.start_directly();
        let pid = node.postmaster_pid().expect("pid");
        let mut env = single(&node, &attrd);
        env.set("OCF_RESKEY_pgdba", pgdba)
            .set("OCF_RESKEY_CRM_meta_timeout", "10000");
        let r = env.run("stop", 0);
        if r.code != 0 || !wait_for(Duration::from_secs(5), || !alive(pid)) {
            failures.push(format!(
                "stop with pgdba={pgdba}: rc {} after {:?}, postmaster alive: {}: {}",
                r.code,
                r.elapsed,
                alive(pid),
                r.stderr
            ));
            node.stop_immediately();
        }
    }
    let mut root = single(&node, &attrd);
    root.set("OCF_RESKEY_pgdba", "root");
    for (action, level) in [
        ("validate-all", "0"),
        ("validate-all", "10"),
        ("start", "0"),
    ] {
        root.set("OCF_CHECK_LEVEL", level);
        let r = root.run(action, 0);
        if r.code != ERR_CONFIGURED || !r.stderr.contains("pgdba") {
            failures.push(format!(
                "{action} (check level {level}) with pgdba=root: rc {}: {}",
                r.code, r.stderr
            ));
        }
    }
    if let Some(pid) = node.postmaster_pid().filter(|p| alive(*p)) {
        failures.push(format!("start with pgdba=root started {pid}"));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// D4: the value of a secret parameter (`monitor_password`, any
/// `*password*`, `primary_conninfo_opt`) that is not UTF-8 is never printed
/// by any action (the bytes are carried, not refused: no message names it).
#[test]
fn a_non_utf8_secret_is_never_printed() {
    let dir = TestDir::new("secretbytes");
    let node = PgNode::new(&dir, "node1", 1, free_port());
    let _guard = ServerGuard(vec![node.clone()]);
    node.initdb();
    node.start_directly();
    let attrd = dir.join("attrd");
    let env = single(&node, &attrd);
    let mut failures: Vec<String> = Vec::new();
    for param in [
        "monitor_password",
        "replication_password",
        "primary_conninfo_opt",
    ] {
        let value = if param == "primary_conninfo_opt" {
            b"password=SEC\xffRET".to_vec()
        } else {
            b"SEC\xffRET".to_vec()
        };
        let extra = [(
            &*format!("OCF_RESKEY_{param}").leak(),
            OsString::from_vec(value),
        )];
        for action in ["validate-all", "monitor", "start", "stop"] {
            let out = Command::new(env!("CARGO_BIN_EXE_pgsql-ra"))
                .arg(action)
                .env_clear()
                .envs(&env.vars)
                .envs(extra.iter().map(|(k, v)| (k, v)))
                .env("OCF_RESKEY_CRM_meta_interval", "0")
                .output()
                .expect("the agent binary runs");
            let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
            let text = String::from_utf8_lossy(&all);
            if all.windows(3).any(|w| w == b"SEC" || w == b"RET") {
                failures.push(format!(
                    "{action} with {param}: the value is printed: {text}"
                ));
            }
            // Since non-UTF-8 values are carried as bytes (bytes_path), such
            // a secret is no longer an error to name: it is used, and what
            // matters is that its value never appears in any output.
        }
        node.start_directly();
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// D6: `primary_conninfo_opt` may carry a password (a libpq conninfo
/// fragment): it reaches neither pg_ctl, nor the postmaster, nor a Pacemaker
/// tool.
#[test]
fn primary_conninfo_opt_never_reaches_a_child() {
    let dir = TestDir::new("conninfo");
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
    let secret = "password=S3cr3t-conninfo keepalives_idle=60";
    let mut env = single(&node, &attrd);
    env.set("OCF_RESKEY_pgctl", &wrapper)
        .set("OCF_RESKEY_primary_conninfo_opt", secret);
    env.expect("start", 0, RUNNING);
    let mut failures: Vec<String> = Vec::new();
    let pid = node.postmaster_pid().expect("postmaster.pid");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    if !leaks(&environ).is_empty() {
        failures.push(format!("postmaster: {:?}", leaks(&environ)));
    }
    for entry in std::fs::read_dir(&dumps).expect("dumps") {
        let text = std::fs::read(entry.expect("entry").path()).expect("dump");
        if !leaks(&text).is_empty() {
            failures.push(format!("pg_ctl: {:?}", leaks(&text)));
        }
    }
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
        .set("OCF_RESKEY_primary_conninfo_opt", secret);
    let r = crm.run("monitor", 10000);
    assert_eq!(r.code, RUNNING, "monitor through crm_node: {}", r.stderr);
    let text = std::fs::read(format!("{dumps}/crm_node.env")).expect("crm_node ran");
    if !leaks(&text).is_empty() {
        failures.push(format!("crm_node: {:?}", leaks(&text)));
    }
    env.expect("stop", 0, RUNNING);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Minor: an empty `OCF_RESOURCE_INSTANCE` in replication mode would give
/// attributes named `-status`, `-xlog-loc`…: every action but stop (and
/// meta-data) is OCF_ERR_CONFIGURED naming it, and stop still stops.
#[test]
fn an_empty_resource_instance_is_refused_in_replication_mode() {
    let dir = TestDir::new("noinstance");
    let node = PgNode::new(&dir, "node1", 1, free_port());
    let _guard = ServerGuard(vec![node.clone()]);
    node.initdb();
    node.start_directly();
    let pid = node.postmaster_pid().expect("pid");
    let attrd = dir.join("attrd");
    std::fs::create_dir_all(&attrd).expect("attrd");
    std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").expect("nodes");
    let mut env = AgentEnv::new(&node, &attrd, "node1 node2", &node.host);
    env.set("OCF_RESOURCE_INSTANCE", "");
    let mut failures: Vec<String> = Vec::new();
    for (action, interval) in [
        ("monitor", 0),
        ("monitor", 4000),
        ("validate-all", 0),
        ("notify", 0),
        ("start", 0),
    ] {
        let r = env.run(action, interval);
        if r.code != ERR_CONFIGURED || !r.stderr.contains("OCF_RESOURCE_INSTANCE") {
            failures.push(format!("{action}/{interval}: rc {}: {}", r.code, r.stderr));
        }
    }
    for entry in std::fs::read_dir(format!("{attrd}/attrs"))
        .into_iter()
        .flatten()
    {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in text.lines().filter(|l| l.starts_with('-')) {
            failures.push(format!("{}: attribute {line}", path.display()));
        }
    }
    let r = env.run("stop", 0);
    if r.code != 0 || !wait_for(Duration::from_secs(5), || !alive(pid)) {
        failures.push(format!("stop: rc {}: {}", r.code, r.stderr));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
