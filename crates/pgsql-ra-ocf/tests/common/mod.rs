//! Test harness: real PostgreSQL clusters (Debian's 15 by default, other
//! majors from `scripts/fetch-postgres.sh`'s cache, see [`server_bins`]) in
//! temporary directories, run as the `postgres` user on loopback addresses. Each "node" gets its own
//! loopback address (127.0.0.2, 127.0.0.3…) and all nodes of a test share
//! one free port, so `primary_conninfo` (master_ip + the LOCAL pgport, as in
//! the stock agent) reaches whichever node is primary. A missing PostgreSQL
//! makes the tests fail, not skip. Servers are stopped (`-m immediate`, after
//! SIGCONT) by a Drop guard even when a test fails.

#![allow(dead_code)]

pub mod agent;
pub mod vip;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use pgsql_ra_ocf::command::{self, Finished, Invocation};
use pgsql_ra_ocf::users;

/// PostgreSQL's binaries (Debian 12's PostgreSQL 15: server and client).
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The major of [`PG_BIN`].
pub const PG_BIN_MAJOR: u32 = 15;

/// The server binaries (initdb, pg_ctl, postgres) of PostgreSQL `major`:
/// Debian's for 15, else `<cache>/<major>/bin` of `scripts/fetch-postgres.sh`
/// (cache `$PGSQL_RA_PG_CACHE`, default `/var/cache/pgsql-ra/pg`), with the
/// version it fetched. `None` when not there.
pub fn server_bins(major: u32) -> Option<(String, String)> {
    if major == PG_BIN_MAJOR && Path::new(&format!("{PG_BIN}/postgres")).exists() {
        let out = std::process::Command::new(format!("{PG_BIN}/postgres"))
            .arg("--version")
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.split_whitespace().nth(2).unwrap_or("15").to_string();
        return Some((PG_BIN.to_string(), format!("{version} (Debian)")));
    }
    let cache =
        std::env::var("PGSQL_RA_PG_CACHE").unwrap_or_else(|_| "/var/cache/pgsql-ra/pg".into());
    let dir = format!("{cache}/{major}");
    let version = std::fs::read_to_string(format!("{dir}/VERSION")).ok()?;
    Path::new(&format!("{dir}/bin/postgres"))
        .exists()
        .then(|| (format!("{dir}/bin"), version.trim().to_string()))
}
/// The OS user owning the test clusters.
pub const PGDBA: &str = "postgres";

/// Path of a PostgreSQL program; panics (test failure) when it is missing.
pub fn pg_bin(name: &str) -> String {
    let p = format!("{PG_BIN}/{name}");
    assert!(
        Path::new(&p).exists(),
        "PostgreSQL 15 is required for these tests: {p} is missing"
    );
    p
}

/// Runs a program as `postgres`, panicking with its output on failure.
pub fn as_pgdba(program: &str, args: &[&str]) -> Finished {
    let mut inv = Invocation::new(program, args, Duration::from_secs(120));
    inv.run_as = Some(users::by_name(PGDBA).expect("the postgres user is required"));
    inv.cwd = Some("/tmp".into());
    let done = command::run(&inv).expect("program runs");
    assert!(
        done.success(),
        "{} failed: {}",
        inv.display(),
        done.output_line()
    );
    done
}

/// A free TCP port on the test addresses.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.2:0").expect("bind an ephemeral port");
    let port = l.local_addr().expect("address").port();
    drop(l);
    port
}

/// A temporary directory owned by `postgres`, removed on drop.
pub struct TestDir {
    /// Its path.
    pub path: PathBuf,
}

impl TestDir {
    /// A fresh, empty directory whose name includes `tag`.
    pub fn new(tag: &str) -> TestDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "pgsql-ra-it-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test dir");
        chown_pgdba(&path);
        TestDir { path }
    }

    /// A path inside the directory, as a string.
    pub fn join(&self, rel: &str) -> String {
        self.path.join(rel).to_string_lossy().into_owned()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Gives a path to `postgres`.
pub fn chown_pgdba(path: &Path) {
    let a = users::by_name(PGDBA).expect("the postgres user is required");
    std::os::unix::fs::chown(path, Some(a.uid), Some(a.gid)).expect("chown");
}

/// Creates a directory owned by `postgres`.
pub fn mkdir_pgdba(path: &str) {
    std::fs::create_dir_all(path).expect("mkdir");
    chown_pgdba(Path::new(path));
}

/// One PostgreSQL node of a test: its directories, address and port.
#[derive(Debug, Clone)]
pub struct PgNode {
    /// Node name (also the standby's application_name).
    pub name: String,
    /// Data directory.
    pub pgdata: String,
    /// Socket directory.
    pub socketdir: String,
    /// The agent's tmpdir.
    pub tmpdir: String,
    /// Server log.
    pub logfile: String,
    /// Listen address (also the agent's `pghost`).
    pub host: String,
    /// Port (shared by all nodes of a test).
    pub port: u16,
    /// Directory of the server binaries (initdb, pg_ctl, postgres).
    pub bin: String,
    /// Their major version.
    pub major: u32,
}

impl PgNode {
    /// Lays out the directories of node number `index` (1-based) under `dir`.
    pub fn new(dir: &TestDir, name: &str, index: u8, port: u16) -> PgNode {
        let base = dir.join(name);
        mkdir_pgdba(&base);
        let node = PgNode {
            name: name.to_string(),
            pgdata: format!("{base}/data"),
            socketdir: format!("{base}/sock"),
            tmpdir: format!("{base}/tmp"),
            logfile: format!("{base}/postgresql.log"),
            host: format!("127.0.0.{}", index + 1),
            port,
            bin: PG_BIN.to_string(),
            major: PG_BIN_MAJOR,
        };
        mkdir_pgdba(&node.socketdir);
        mkdir_pgdba(&node.tmpdir);
        node
    }

    /// The same node run by the server binaries in `bin` of PostgreSQL `major`.
    pub fn with_server(mut self, bin: &str, major: u32) -> PgNode {
        self.bin = bin.to_string();
        self.major = major;
        self
    }

    /// Path of one of this node's server programs (initdb, pg_ctl, postgres).
    pub fn server_bin(&self, name: &str) -> String {
        let p = format!("{}/{name}", self.bin);
        assert!(
            Path::new(&p).exists(),
            "PostgreSQL {} is required for this test: {p} is missing",
            self.major
        );
        p
    }

    /// Settings appended to postgresql.conf of every test cluster.
    fn settings(&self) -> String {
        // wal_keep_segments became wal_keep_size in 13.
        let keep = if self.major >= 13 {
            "wal_keep_size = 64MB"
        } else {
            "wal_keep_segments = 4"
        };
        format!(
            "port = {}\nunix_socket_directories = '{}'\nlisten_addresses = '{}'\n\
             wal_level = replica\nmax_wal_senders = 10\nmax_replication_slots = 10\nhot_standby = on\n\
             {keep}\nfsync = off\nsynchronous_commit = on\nshared_buffers = 16MB\n\
             wal_receiver_status_interval = 1\nwal_retrieve_retry_interval = 1s\nlog_min_messages = warning\n",
            self.port,
            self.socketdir,
            self.host
        )
    }

    /// `initdb` a primary: trust for postgres and replication on loopback,
    /// scram for the role `monitor` (created later with a password).
    pub fn initdb(&self) {
        as_pgdba(
            &self.server_bin("initdb"),
            &[
                "-D",
                &self.pgdata,
                "-U",
                PGDBA,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let conf = format!("{}/postgresql.conf", self.pgdata);
        let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf");
        text.push_str(&self.settings());
        std::fs::write(&conf, text).expect("write postgresql.conf");
        let hba = "local all all trust\n\
                   host all monitor 127.0.0.0/8 scram-sha-256\n\
                   host all all 127.0.0.0/8 trust\n\
                   host replication all 127.0.0.0/8 trust\n";
        std::fs::write(format!("{}/pg_hba.conf", self.pgdata), hba).expect("write pg_hba.conf");
    }

    /// `pg_basebackup` from `primary` into this node's pgdata, with this
    /// node's own settings (no recovery configuration: the agent writes it).
    pub fn basebackup_from(&self, primary: &PgNode) {
        as_pgdba(
            &pg_bin("pg_basebackup"),
            &[
                "-h",
                &primary.host,
                "-p",
                &primary.port.to_string(),
                "-U",
                PGDBA,
                "-D",
                &self.pgdata,
                "-X",
                "stream",
                "--no-sync",
            ],
        );
        let conf = format!("{}/postgresql.conf", self.pgdata);
        let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf");
        text.push_str(&self.settings());
        std::fs::write(&conf, text).expect("write postgresql.conf");
    }

    /// A standby's data directory as a cold copy of `primary`'s, which must
    /// be stopped cleanly (how a standby of a server newer than the Debian
    /// 15 `pg_basebackup` is made), with this node's own settings and no
    /// recovery configuration (the agent writes it).
    pub fn cold_copy_from(&self, primary: &PgNode) {
        let out = std::process::Command::new("cp")
            .args(["-a", &primary.pgdata, &self.pgdata])
            .output()
            .expect("cp runs");
        assert!(
            out.status.success(),
            "cp -a {} {}: {}",
            primary.pgdata,
            self.pgdata,
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_file(format!("{}/postmaster.pid", self.pgdata));
        let conf = format!("{}/postgresql.conf", self.pgdata);
        let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf");
        text.push_str(&self.settings());
        std::fs::write(&conf, text).expect("write postgresql.conf");
    }

    /// Stops the server with `-m fast` and waits (a clean shutdown).
    pub fn stop_cleanly(&self) {
        as_pgdba(
            &self.server_bin("pg_ctl"),
            &["-D", &self.pgdata, "-m", "fast", "-w", "-t", "60", "stop"],
        );
    }

    /// Starts the server directly (not through the agent) and waits for it.
    pub fn start_directly(&self) {
        as_pgdba(
            &self.server_bin("pg_ctl"),
            &[
                "-D",
                &self.pgdata,
                "-l",
                &self.logfile,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Runs SQL with psql as postgres over the unix socket.
    pub fn psql(&self, sql: &str) -> String {
        as_pgdba(
            &pg_bin("psql"),
            &[
                "-h",
                &self.socketdir,
                "-p",
                &self.port.to_string(),
                "-d",
                "postgres",
                "-Atc",
                sql,
            ],
        )
        .stdout
        .trim()
        .to_string()
    }

    /// The postmaster PID from postmaster.pid, if the file exists.
    pub fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(format!("{}/postmaster.pid", self.pgdata))
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse().ok()))
    }

    /// The postmaster and its children.
    pub fn server_pids(&self) -> Vec<u32> {
        let Some(pm) = self.postmaster_pid() else {
            return Vec::new();
        };
        let root = Path::new("/proc");
        let mut pids: Vec<u32> = pgsql_ra_ocf::procfs::pids(root)
            .into_iter()
            .filter(|p| pgsql_ra_ocf::procfs::stat(root, *p).is_some_and(|s| s.ppid == pm))
            .collect();
        pids.push(pm);
        pids
    }

    /// Sends a signal to the postmaster and all its children.
    pub fn signal_all(&self, sig: i32) {
        for pid in self.server_pids() {
            // SAFETY: signalling a test server process.
            unsafe {
                libc::kill(pid as libc::pid_t, sig);
            }
        }
    }

    /// kill -9 of the postmaster and every child, then waits until they
    /// are gone (a crash). The postmaster is frozen first (SIGSTOP): one
    /// that saw a child die before itself would start a crash restart and
    /// write "in crash recovery" into pg_control.
    pub fn kill_9(&self) {
        let pm = self.postmaster_pid().expect("postmaster.pid");
        // SAFETY: signalling this test's own postmaster.
        unsafe {
            libc::kill(pm as libc::pid_t, libc::SIGSTOP);
        }
        let pids = self.server_pids();
        assert!(pids.contains(&pm), "{} is not running", self.name);
        for pid in pids
            .iter()
            .filter(|p| **p != pm)
            .chain(std::iter::once(&pm))
        {
            // SAFETY: signalling this test's own server processes.
            unsafe {
                libc::kill(*pid as libc::pid_t, libc::SIGKILL);
            }
        }
        let gone = wait_for(Duration::from_secs(20), || {
            pids.iter()
                .all(|p| !Path::new(&format!("/proc/{p}")).exists())
        });
        assert!(gone, "{}'s processes survived SIGKILL", self.name);
    }

    /// Stops the server with `-m immediate` (after SIGCONT), ignoring errors.
    pub fn stop_immediately(&self) {
        self.signal_all(libc::SIGCONT);
        let mut inv = Invocation::new(
            &format!("{}/pg_ctl", self.bin),
            &[
                "-D",
                &self.pgdata,
                "-m",
                "immediate",
                "-w",
                "-t",
                "20",
                "stop",
            ],
            Duration::from_secs(30),
        );
        inv.run_as = users::by_name(PGDBA);
        inv.cwd = Some("/tmp".into());
        let _ = command::run(&inv);
    }
}

/// Stops every node's server when dropped (also when a test panics).
pub struct ServerGuard(pub Vec<PgNode>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        for n in &self.0 {
            n.stop_immediately();
        }
    }
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}
