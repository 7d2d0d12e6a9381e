/// Severity of a log line (the `ocf_log` levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Debug detail, dropped unless debugging is on.
    Debug,
    /// Normal progress.
    Info,
    /// Something unusual that the agent handled.
    Warn,
    /// A failure.
    Err,
}

/// Where the core's log lines go.
pub trait Log {
    /// Records one line.
    fn log(&mut self, level: LogLevel, message: &str);
}

/// A log that keeps its lines in memory (tests, the simulator, explanations).
#[derive(Debug, Default, Clone)]
pub struct MemoryLog {
    /// The lines, oldest first.
    pub lines: Vec<(LogLevel, String)>,
}

impl Log for MemoryLog {
    fn log(&mut self, level: LogLevel, message: &str) {
        self.lines.push((level, message.to_string()));
    }
}
