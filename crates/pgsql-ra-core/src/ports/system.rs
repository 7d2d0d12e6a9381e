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

/// Facts about the local machine used by validation.
pub trait System {
    /// Resolves a program (absolute path or a name on `PATH`); `None` when missing.
    fn find_program(&mut self, program: &str) -> Option<String>;
    /// Looks up an OS user.
    fn user(&mut self, name: &str) -> Option<UserInfo>;
    /// The name of the user running the agent.
    fn current_user(&mut self) -> String;
}
