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

/// Issue 16: whether this node's TCP connections to an upstream (an IP
/// address and port) got an answer, from the kernel's socket tables of the
/// agent's network namespace (`/proc/net/tcp`, `/proc/net/tcp6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum UpstreamAnswer {
    /// Of the sockets to it that a process holds (not orphaned), at least
    /// one is in `SYN_SENT` and none in a state that
    /// follows an answer (`ESTABLISHED`, `SYN_RECV`, `FIN_WAIT1/2`,
    /// `CLOSE_WAIT`, `LAST_ACK`, `CLOSING`): a connection was asked for and
    /// no host has answered it. `TIME_WAIT`, `CLOSE` and `LISTEN` sockets
    /// are not counted.
    Unanswered,
    /// Some socket to it is in a state that follows an answer.
    Answered,
    /// No socket to it, not an IP address, or a table unreadable.
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
    /// Issue 16: whether this node's TCP connections to `host`:`port` got
    /// an answer ([`UpstreamAnswer`]); never fails
    /// ([`UpstreamAnswer::Unknown`] when it cannot tell).
    fn upstream_answer(&mut self, host: &str, port: u16) -> UpstreamAnswer;
}
