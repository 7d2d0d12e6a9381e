//! Log lines on stderr (`level: message`), which Pacemaker's executor
//! captures into its log. Debug lines are kept only when `HA_debug` is set
//! to a non-zero value, as with `ocf_log`.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use pgsql_ra_core::ports::{Log, LogLevel};

/// Writes one line per log call to stderr.
#[derive(Debug, Default)]
pub struct StderrLog {
    /// Emit debug lines too.
    pub debug: bool,
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

/// One log shared by the core and a port that logs on its own (the
/// database port warns about an ignored password file, as libpq does).
#[derive(Debug, Clone, Default)]
pub struct SharedLog(Rc<RefCell<StderrLog>>);

impl SharedLog {
    /// Shares `log`.
    pub fn new(log: StderrLog) -> SharedLog {
        SharedLog(Rc::new(RefCell::new(log)))
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
}
