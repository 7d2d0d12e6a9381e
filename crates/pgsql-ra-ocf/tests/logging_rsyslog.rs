//! Issue 12 item 3: logging like `ocf_log`. With `HA_LOGFACILITY` set (and
//! not `none`, as pacemakerd exports it) every line goes to syslog with the
//! tag `pgsql(<instance>)[<pid>]`, that facility and the level's priority;
//! also to `HA_LOGFILE`/`HA_DEBUGLOG` when set; debug lines only with
//! `HA_debug=1`; otherwise to stderr. The `ocf-exit-reason:` line stays on
//! stderr. The syslog check runs a real rsyslogd (Debian's rsyslog) on a
//! private socket (`PGSQL_RA_SYSLOG_SOCKET`, the test hook that stands for
//! `/dev/log`) and reads the line back from the file rsyslog writes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTANCE: &str = "pgsqltest";

/// A private rsyslogd, killed (by its pid) on drop.
struct Rsyslog {
    child: Child,
    socket: PathBuf,
    out: PathBuf,
}

impl Rsyslog {
    fn start(dir: &Path) -> Rsyslog {
        assert!(
            Path::new("/usr/sbin/rsyslogd").exists(),
            "Debian's rsyslog is required (scripts/install-deps.sh installs it)"
        );
        let socket = dir.join("log.sock");
        let out = dir.join("messages");
        let conf = dir.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                "global(workDirectory=\"{d}\")\n\
                 module(load=\"imuxsock\" SysSock.Use=\"off\")\n\
                 input(type=\"imuxsock\" Socket=\"{s}\" CreatePath=\"on\")\n\
                 template(name=\"t\" type=\"string\" string=\"%syslogtag%|%syslogfacility-text%|%syslogseverity-text%|%msg%\\n\")\n\
                 *.* action(type=\"omfile\" file=\"{o}\" template=\"t\")\n",
                d = dir.display(),
                s = socket.display(),
                o = out.display()
            ),
        )
        .expect("rsyslog.conf");
        let child = Command::new("/usr/sbin/rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rsyslogd runs");
        let r = Rsyslog { child, socket, out };
        let t = Instant::now();
        while !r.socket.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "rsyslogd did not create its socket"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    /// Waits for a line containing every one of `needles`.
    fn wait_line(&self, needles: &[&str]) -> Option<String> {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(text) = std::fs::read_to_string(&self.out) {
                if let Some(l) = text.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
                    return Some(l.to_string());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    fn all(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pgsql-ra-log-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("data")).expect("dir");
    d
}

/// A stop whose machine check fails (pgctl missing) while PostgreSQL is not
/// running: exit 0 with one WARNING. `extra` adds/overrides variables.
fn run(dir: &Path, action: &str, extra: &[(&str, &str)]) -> (u32, i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgsql-ra"));
    cmd.arg(action)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESOURCE_INSTANCE", INSTANCE)
        .env("OCF_RESKEY_pgctl", "/nonexistent/pg_ctl")
        .env("OCF_RESKEY_psql", "/usr/lib/postgresql/15/bin/psql")
        .env("OCF_RESKEY_pgdata", dir.join("data"))
        .env("OCF_RESKEY_rep_mode", "none");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent");
    let pid = child.id();
    let out = child.wait_with_output().expect("agent ends");
    (
        pid,
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const WARNING: &str = "PostgreSQL is not running, so the stop succeeds";

#[test]
fn a_warning_reaches_rsyslog_with_the_ocf_log_tag_facility_and_priority() {
    let dir = temp_dir("syslog");
    let rs = Rsyslog::start(&dir);
    let sock = rs.socket.to_string_lossy().into_owned();
    let (pid, code, stderr) = run(
        &dir,
        "stop",
        &[
            ("HA_LOGFACILITY", "local3"),
            ("PGSQL_RA_SYSLOG_SOCKET", &sock),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let tag = format!("pgsql({INSTANCE})[{pid}]:");
    let line = rs.wait_line(&[&tag, WARNING]);
    let all = rs.all();
    let line = line.unwrap_or_else(|| {
        panic!("no line with {tag} in rsyslog's file:\n{all}\nstderr: {stderr}")
    });
    let fields: Vec<&str> = line.splitn(4, '|').collect();
    assert_eq!(fields[0], tag, "{line}");
    assert_eq!(fields[1], "local3", "{line}");
    assert_eq!(fields[2], "warning", "{line}");
    assert!(fields[3].trim_start().starts_with("WARNING: "), "{line}");
    // Syslog only: not on stderr too.
    assert!(!stderr.contains(WARNING), "{stderr}");

    // An error: priority err; the exit reason stays on stderr.
    let (pid, code, stderr) = run(
        &dir,
        "validate-all",
        &[
            ("HA_LOGFACILITY", "daemon"),
            ("PGSQL_RA_SYSLOG_SOCKET", &sock),
            ("OCF_RESKEY_rep_mode", "bogus"),
        ],
    );
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("ocf-exit-reason:"), "{stderr}");
    let tag = format!("pgsql({INSTANCE})[{pid}]:");
    let line = rs
        .wait_line(&[&tag, "|daemon|err|", "ERROR: "])
        .unwrap_or_else(|| panic!("no error line with {tag}:\n{}", rs.all()));
    assert!(line.contains("rep_mode"), "{line}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_a_facility_lines_go_to_stderr_and_files_follow_ha_logfile_ha_debuglog_ha_debug() {
    let dir = temp_dir("files");
    // HA_LOGFACILITY unset, or none: stderr.
    for facility in [None, Some("none")] {
        let extra: Vec<(&str, &str)> = facility
            .map(|f| ("HA_LOGFACILITY", f))
            .into_iter()
            .collect();
        let (_, code, stderr) = run(&dir, "stop", &extra);
        assert_eq!(code, 0);
        assert!(stderr.contains("WARNING: pgctl="), "{stderr}");
        assert!(stderr.contains(WARNING), "{stderr}");
    }

    let logfile = dir.join("ha-log");
    let debuglog = dir.join("ha-debug");
    let lf = logfile.to_string_lossy().into_owned();
    let dl = debuglog.to_string_lossy().into_owned();
    // HA_LOGFILE set (no facility): the file, not stderr; HA_DEBUGLOG gets the
    // line too; no debug lines without HA_debug.
    let (pid, code, stderr) = run(&dir, "stop", &[("HA_LOGFILE", &lf), ("HA_DEBUGLOG", &dl)]);
    assert_eq!(code, 0, "{stderr}");
    let tag = format!("pgsql({INSTANCE})[{pid}]:");
    let log = std::fs::read_to_string(&logfile).expect("HA_LOGFILE written");
    assert!(
        log.lines()
            .any(|l| l.contains(&tag) && l.contains("WARNING: pgctl=") && l.contains(WARNING)),
        "{log}"
    );
    assert!(!stderr.contains(WARNING), "{stderr}");
    let debug = std::fs::read_to_string(&debuglog).expect("HA_DEBUGLOG written");
    assert!(
        debug
            .lines()
            .any(|l| l.starts_with(&tag) && l.contains(WARNING)),
        "{debug}"
    );
    assert!(!debug.contains("DEBUG: "), "{debug}");
    assert!(!log.contains("DEBUG: "), "{log}");

    // HA_debug=1: debug lines reach HA_DEBUGLOG (not HA_LOGFILE).
    let (pid, code, _) = run(
        &dir,
        "stop",
        &[("HA_LOGFILE", &lf), ("HA_DEBUGLOG", &dl), ("HA_debug", "1")],
    );
    assert_eq!(code, 0);
    let tag = format!("pgsql({INSTANCE})[{pid}]:");
    let debug = std::fs::read_to_string(&debuglog).expect("HA_DEBUGLOG");
    assert!(
        debug
            .lines()
            .any(|l| l.starts_with(&tag) && l.contains("DEBUG: ")),
        "{debug}"
    );
    let log = std::fs::read_to_string(&logfile).expect("HA_LOGFILE");
    assert!(!log.contains("DEBUG: "), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
