//! Logging like `ocf_log` (resource-agents' ocf-shellfuncs): each line is
//! `LEVEL: message` and goes
//!
//! * to syslog when `HA_LOGFACILITY` is set and not `none` (pacemakerd
//!   exports it), with the tag `pgsql(<instance>)[<pid>]`, that facility
//!   (`daemon` when the name is not a syslog facility) and the level's
//!   priority (error → err, warning → warning, info → info, debug → debug);
//! * to `HA_LOGFILE` when set (`<date> <tag>:    <line>`), not for debug
//!   lines;
//! * to `HA_DEBUGLOG` when set and not the same file (`<tag>:\t<date><line>`);
//! * to stderr when neither syslog nor `HA_LOGFILE` takes it (for debug
//!   lines: neither syslog nor `HA_DEBUGLOG`), or when syslog can't be
//!   reached, so a line is never lost.
//!
//! Debug lines are kept only when `HA_debug` is set and not `0`. The date is
//! `HA_DATEFMT` (strftime, default `%b %d %T `) in local time. The
//! `ocf-exit-reason:` line stays on stderr (main); its text is also logged
//! as an ERROR where stderr is not the log (as `ocf_exit_reason` does),
//! unless the same ERROR line was already logged.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;

use pgsql_ra_core::ports::{Log, LogLevel};
use syslog::{Facility, Formatter3164, Logger, LoggerBackend};

/// Writes one line per log call to stderr.
#[derive(Debug, Default)]
pub struct StderrLog {
    /// Emit debug lines too.
    pub debug: bool,
}

/// Pacemaker keeps this many bytes of an exit reason.
pub const MAX_EXIT_REASON: usize = 128;

/// What a too-long exit reason ends with.
pub const SHORTENED: &str = "... (full text in the log)";

/// What an abbreviated exit reason that was not cut ends with.
pub const FULL_IN_LOG: &str = " (full text in the log)";

/// A word (a path, a file name) longer than this, in characters, is
/// abbreviated in a too-long exit reason before anything is cut.
const LONG_WORD: usize = 40;

/// The exit reason as printed: `reason` when it fits in
/// [`MAX_EXIT_REASON`] bytes; else with every word longer than
/// `LONG_WORD` abbreviated around a `…` (a 200-byte path component must
/// not push the cause out; issue 12, re-attack item 6) and [`FULL_IN_LOG`],
/// and when that is still too long its beginning (cut at a character
/// boundary) and [`SHORTENED`]. `None`: it fits as it is.
pub fn shorten_exit_reason(reason: &str) -> Option<String> {
    if reason.len() <= MAX_EXIT_REASON {
        return None;
    }
    let squeezed = reason
        .split(' ')
        .map(|w| pgsql_ra_core::quote::abbreviated(w, LONG_WORD))
        .collect::<Vec<_>>()
        .join(" ");
    if squeezed.len() + FULL_IN_LOG.len() <= MAX_EXIT_REASON {
        return Some(format!("{squeezed}{FULL_IN_LOG}"));
    }
    let reason = squeezed.as_str();
    let mut keep = MAX_EXIT_REASON - SHORTENED.len();
    while !reason.is_char_boundary(keep) {
        keep -= 1;
    }
    Some(format!("{}{SHORTENED}", reason[..keep].trim_end()))
}

/// The `level: message` line for one log call. A byte that is not UTF-8
/// (carried as a reserved character, see [`crate::bytes_path`]) shows as
/// `\xNN`.
pub fn format_line(level: LogLevel, message: &str) -> String {
    let tag = match level {
        LogLevel::Debug => "DEBUG",
        LogLevel::Info => "INFO",
        LogLevel::Warn => "WARNING",
        LogLevel::Err => "ERROR",
    };
    format!(
        "{tag}: {}",
        crate::bytes_path::display(message).replace('\n', " ")
    )
}

impl Log for StderrLog {
    fn log(&mut self, level: LogLevel, message: &str) {
        if level == LogLevel::Debug && !self.debug {
            return;
        }
        let _ = writeln!(std::io::stderr(), "{}", format_line(level, message));
    }
}

/// Where the lines go, from the environment (see the module doc).
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `pgsql(<instance>)[<pid>]` (`pgsql[<pid>]` without an instance).
    pub tag: String,
    /// The syslog facility (`None`: no syslog).
    pub facility: Option<Facility>,
    /// `HA_LOGFILE`.
    pub logfile: Option<PathBuf>,
    /// `HA_DEBUGLOG`.
    pub debuglog: Option<PathBuf>,
    /// `HA_debug` set and not `0`.
    pub debug: bool,
    /// `HA_DATEFMT` (strftime).
    pub datefmt: String,
    /// The syslog socket: `/dev/log` (or the other usual paths) when
    /// `None`; `PGSQL_RA_SYSLOG_SOCKET` sets it (tests).
    pub socket: Option<PathBuf>,
}

impl LogConfig {
    /// Reads `HA_LOGFACILITY`, `HA_LOGFILE`, `HA_DEBUGLOG`, `HA_debug`,
    /// `HA_DATEFMT`, `OCF_RESOURCE_INSTANCE` (and the test hook
    /// `PGSQL_RA_SYSLOG_SOCKET`).
    pub fn from_env(env: &BTreeMap<String, String>) -> LogConfig {
        let get = |k: &str| env.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let pid = std::process::id();
        let tag = match get("OCF_RESOURCE_INSTANCE") {
            Some(i) => format!("pgsql({})[{pid}]", crate::bytes_path::display(i)),
            None => format!("pgsql[{pid}]"),
        };
        let facility = get("HA_LOGFACILITY")
            .filter(|f| *f != "none")
            .map(|f| f.parse::<Facility>().unwrap_or(Facility::LOG_DAEMON));
        LogConfig {
            tag,
            facility,
            logfile: get("HA_LOGFILE").map(crate::bytes_path::path),
            debuglog: get("HA_DEBUGLOG").map(crate::bytes_path::path),
            debug: get("HA_debug").is_some_and(|v| v != "0"),
            datefmt: get("HA_DATEFMT").unwrap_or("%b %d %T ").to_string(),
            socket: get("PGSQL_RA_SYSLOG_SOCKET").map(crate::bytes_path::path),
        }
    }
}

/// The local time formatted with strftime `fmt` (empty on failure).
fn hadate(fmt: &str) -> String {
    let Ok(cfmt) = std::ffi::CString::new(fmt) else {
        return String::new();
    };
    let mut buf = [0u8; 128];
    // SAFETY: plain libc calls on local buffers; `tm` is fully written by
    // localtime_r before strftime reads it; strftime gets the buffer length.
    let n = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return String::new();
        }
        libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm)
    };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn append(path: &PathBuf, line: &str) -> bool {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| writeln!(f, "{line}"))
        .is_ok()
}

/// The `ocf_log`-like log (module doc).
pub struct OcfLog {
    config: LogConfig,
    syslog: Option<Logger<LoggerBackend, Formatter3164>>,
    errors: Vec<String>,
}

impl std::fmt::Debug for OcfLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcfLog")
            .field("config", &self.config)
            .finish()
    }
}

impl OcfLog {
    /// A log with this configuration; syslog is reached on the first line.
    pub fn new(config: LogConfig) -> OcfLog {
        OcfLog {
            config,
            syslog: None,
            errors: Vec::new(),
        }
    }

    /// Sends one line to syslog; false when syslog can't be reached.
    fn send_syslog(&mut self, facility: Facility, level: LogLevel, line: &str) -> bool {
        if self.syslog.is_none() {
            let (process, pid) = match self.config.tag.rsplit_once('[') {
                Some((p, rest)) => (
                    p.to_string(),
                    rest.trim_end_matches(']')
                        .parse()
                        .unwrap_or_else(|_| std::process::id()),
                ),
                None => (self.config.tag.clone(), std::process::id()),
            };
            let formatter = Formatter3164 {
                facility,
                hostname: None,
                process,
                pid,
            };
            let logger = match &self.config.socket {
                Some(path) => syslog::unix_custom(formatter, path),
                None => syslog::unix(formatter),
            };
            match logger {
                Ok(l) => self.syslog = Some(l),
                Err(_) => return false,
            }
        }
        let Some(logger) = self.syslog.as_mut() else {
            return false;
        };
        let sent = match level {
            LogLevel::Err => logger.err(line),
            LogLevel::Warn => logger.warning(line),
            LogLevel::Info => logger.info(line),
            LogLevel::Debug => logger.debug(line),
        };
        if sent.is_err() {
            self.syslog = None;
            return false;
        }
        true
    }

    /// Writes one line where the configuration says; `stderr`: whether
    /// stderr may be used when nothing else takes the line.
    fn emit(&mut self, level: LogLevel, message: &str, stderr: bool) {
        let debug = level == LogLevel::Debug;
        if debug && !self.config.debug {
            return;
        }
        let line = format_line(level, message);
        let tag = self.config.tag.clone();
        let mut taken = false;
        if let Some(facility) = self.config.facility {
            taken |= self.send_syslog(facility, level, &line);
        }
        if !debug {
            if let Some(path) = self.config.logfile.clone() {
                let date = hadate(&self.config.datefmt);
                taken |= append(&path, &format!("{date} {tag}:    {line}"));
            }
        }
        if let Some(path) = self.config.debuglog.clone() {
            if debug || self.config.logfile.as_ref() != Some(&path) {
                let date = hadate(&self.config.datefmt);
                let written = append(&path, &format!("{tag}:\t{date}{line}"));
                if debug {
                    taken |= written;
                }
            }
        }
        if !taken && stderr {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }

    /// Logs the exit reason as an ERROR where stderr is not the log (the
    /// `ocf-exit-reason:` line itself is main's), unless that ERROR line was
    /// already logged.
    pub fn exit_reason(&mut self, reason: &str) {
        if self.errors.iter().any(|e| e == reason) {
            return;
        }
        self.emit(LogLevel::Err, reason, false);
    }
}

impl OcfLog {
    /// Logs `reason` as an ERROR everywhere the log goes, stderr included
    /// when it is the log, unless that ERROR line was already logged.
    pub fn error_once(&mut self, reason: &str) {
        if !self.errors.iter().any(|e| e == reason) {
            self.log(LogLevel::Err, reason);
        }
    }
}

impl Log for OcfLog {
    fn log(&mut self, level: LogLevel, message: &str) {
        if level == LogLevel::Err {
            self.errors.push(message.to_string());
        }
        self.emit(level, message, true);
    }
}

/// One log shared by the core and a port that logs on its own (the
/// database port warns about an ignored password file, as libpq does).
#[derive(Debug, Clone)]
pub struct SharedLog(Rc<RefCell<OcfLog>>);

impl SharedLog {
    /// Shares `log`.
    pub fn new(log: OcfLog) -> SharedLog {
        SharedLog(Rc::new(RefCell::new(log)))
    }

    /// See [`OcfLog::error_once`].
    pub fn error_once(&self, reason: &str) {
        self.0.borrow_mut().error_once(reason);
    }

    /// See [`OcfLog::exit_reason`].
    pub fn exit_reason(&self, reason: &str) {
        self.0.borrow_mut().exit_reason(reason);
    }
}

impl Log for SharedLog {
    fn log(&mut self, level: LogLevel, message: &str) {
        self.0.borrow_mut().log(level, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_the_level_and_stay_on_one_line() {
        assert_eq!(format_line(LogLevel::Warn, "a\nb"), "WARNING: a b");
        assert_eq!(format_line(LogLevel::Err, "x"), "ERROR: x");
        assert_eq!(
            format_line(LogLevel::Info, "/srv/pg\u{10FFFF}"),
            "INFO: /srv/pg\\xff"
        );
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn exit_reasons_are_shortened_to_128_bytes_at_a_character_boundary() {
        assert_eq!(shorten_exit_reason("short"), None);
        assert_eq!(shorten_exit_reason(&"a".repeat(128)), None);
        for long in [
            "abc ".repeat(33),
            "é ".repeat(50),
            format!("x{}", "€ ".repeat(40)),
        ] {
            let s = shorten_exit_reason(&long).expect("shortened");
            assert!(s.len() <= MAX_EXIT_REASON, "{}", s.len());
            assert!(s.ends_with(SHORTENED), "{s}");
            assert!(long.starts_with(s.trim_end_matches(SHORTENED)), "{s}");
        }
    }

    /// Issue 12 (re-attack item 6): a 200-character path component is
    /// abbreviated, so that the cause after it stays in the reason.
    #[test]
    fn long_words_are_abbreviated_before_the_reason_is_cut() {
        let long = format!(
            "pgdata=\"/srv/{}\": No such file or directory",
            "d".repeat(200)
        );
        let s = shorten_exit_reason(&long).expect("shortened");
        assert!(s.len() <= MAX_EXIT_REASON, "{}", s.len());
        assert!(
            s.ends_with("No such file or directory (full text in the log)"),
            "{s}"
        );
        assert!(s.starts_with("pgdata=\"/srv/ddd"), "{s}");
        assert!(s.contains('…'), "{s}");
        let words = format!("{} {}", "w".repeat(100), "cause ".repeat(20));
        let s = shorten_exit_reason(&words).expect("shortened");
        assert!(s.len() <= MAX_EXIT_REASON && s.ends_with(SHORTENED), "{s}");
        assert!(s.contains("cause"), "{s}");
    }

    #[test]
    fn the_configuration_follows_ocf_log() {
        let pid = std::process::id();
        let c = LogConfig::from_env(&env(&[("OCF_RESOURCE_INSTANCE", "pgsql:1")]));
        assert_eq!(c.tag, format!("pgsql(pgsql:1)[{pid}]"));
        assert!(c.facility.is_none() && c.logfile.is_none() && c.debuglog.is_none());
        assert!(!c.debug);
        assert_eq!(c.datefmt, "%b %d %T ");
        assert_eq!(LogConfig::from_env(&env(&[])).tag, format!("pgsql[{pid}]"));
        for (value, facility) in [
            ("daemon", Some(Facility::LOG_DAEMON as i32)),
            ("local7", Some(Facility::LOG_LOCAL7 as i32)),
            ("no-such-facility", Some(Facility::LOG_DAEMON as i32)),
            ("none", None),
            ("", None),
        ] {
            let c = LogConfig::from_env(&env(&[("HA_LOGFACILITY", value)]));
            assert_eq!(c.facility.map(|f| f as i32), facility, "{value}");
        }
        for (value, debug) in [("1", true), ("yes", true), ("0", false), ("", false)] {
            assert_eq!(
                LogConfig::from_env(&env(&[("HA_debug", value)])).debug,
                debug
            );
        }
    }

    #[test]
    fn files_get_the_ocf_log_layout() {
        let dir = std::env::temp_dir().join(format!("ocflog-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let lf = dir.join("log");
        let dl = dir.join("debug");
        let mut log = OcfLog::new(LogConfig {
            tag: "pgsql(x)[1]".into(),
            facility: None,
            logfile: Some(lf.clone()),
            debuglog: Some(dl.clone()),
            debug: false,
            datefmt: "D ".into(),
            socket: None,
        });
        log.log(LogLevel::Warn, "w");
        log.log(LogLevel::Debug, "hidden");
        log.log(LogLevel::Err, "e");
        log.exit_reason("e");
        log.exit_reason("other");
        let text = std::fs::read_to_string(&lf).expect("log");
        assert_eq!(
            text,
            "D  pgsql(x)[1]:    WARNING: w\nD  pgsql(x)[1]:    ERROR: e\nD  pgsql(x)[1]:    ERROR: other\n"
        );
        let debug = std::fs::read_to_string(&dl).expect("debug");
        assert_eq!(
            debug,
            "pgsql(x)[1]:\tD WARNING: w\npgsql(x)[1]:\tD ERROR: e\npgsql(x)[1]:\tD ERROR: other\n"
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
