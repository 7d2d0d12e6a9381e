/// An OS user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// Numeric user ID.
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
}

/// Issue 16: whether a process's TCP connections got an answer, from the
/// kernel (its open file descriptors in `/proc/<pid>/fd`, their sockets in
/// its own network namespace's `/proc/<pid>/net/tcp` and `tcp6`). Asked
/// about the WAL receiver, whose only TCP socket is its connection to its
/// upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum UpstreamAnswer {
    /// The process holds at least one TCP socket and every one is in
    /// `SYN_SENT`: it asked for a connection and no host has answered.
    Unanswered,
    /// It holds a TCP socket in any other state (`ESTABLISHED`, …): some
    /// host answered.
    Answered,
    /// No TCP socket, no such process, or a table unreadable.
    Unknown,
}

/// Facts about the local machine used by validation.
pub trait System {
    /// Resolves a program (absolute path or a name on `PATH`); `None` when missing.
    fn find_program(&mut self, program: &str) -> Option<String>;
    /// Looks up an OS user.
    fn user(&mut self, name: &str) -> Option<UserInfo>;
    /// The name of the user running the agent.
    fn current_user(&mut self) -> String;
    /// Issue 16: whether the TCP connections of the process `pid` got an
    /// answer ([`UpstreamAnswer`]); never fails ([`UpstreamAnswer::Unknown`]
    /// when it cannot tell).
    fn connection_answer(&mut self, pid: u32) -> UpstreamAnswer;
}
