/// How to stop PostgreSQL (`pg_ctl stop -m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// `-m fast`: disconnect clients, checkpoint.
    Fast,
    /// `-m immediate`: abort; crash recovery at next start.
    Immediate,
}

/// A failed process operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProcessError {
    /// The exit code, when the program ran.
    pub exit_code: Option<i32>,
    /// What went wrong, with the program's output.
    pub message: String,
}

impl ProcessError {
    /// Builds an error.
    pub fn new(exit_code: Option<i32>, message: impl Into<String>) -> ProcessError {
        ProcessError {
            exit_code,
            message: message.into(),
        }
    }
}

/// The local PostgreSQL server process, driven through pg_ctl as `pgdba`.
/// Start/stop/promote do not wait (`-W`); the core polls.
/// Its [`super::DataDir`] part serves the rejoin decision (issue 10).
pub trait Server: super::DataDir {
    /// The PID of a live postmaster for `pgdata` (from `postmaster.pid`), or
    /// `None` when there is no pid file or its process is gone.
    fn postmaster_pid(&mut self) -> Result<Option<u32>, ProcessError>;
    /// Removes a stale `postmaster.pid` (only called when no postmaster is alive).
    fn remove_stale_pid_file(&mut self) -> Result<(), ProcessError>;
    /// `pg_ctl start` with the configured options.
    fn start(&mut self) -> Result<(), ProcessError>;
    /// `pg_ctl stop -m <mode>`.
    fn stop(&mut self, mode: StopMode) -> Result<(), ProcessError>;
    /// `pg_ctl promote`.
    fn promote(&mut self) -> Result<(), ProcessError>;
    /// `pg_ctl reload`.
    fn reload(&mut self) -> Result<(), ProcessError>;
    /// True when a WAL receiver process is a child of `postmaster_pid`.
    fn wal_receiver_running(&mut self, postmaster_pid: u32) -> Result<bool, ProcessError>;
}
