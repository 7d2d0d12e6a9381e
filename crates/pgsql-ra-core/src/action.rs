//! The actions an OCF agent is called with.

use std::fmt;
use std::str::FromStr;

/// One OCF action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `start`.
    Start,
    /// `stop`.
    Stop,
    /// `monitor` (a probe when the interval is 0).
    Monitor,
    /// `promote`.
    Promote,
    /// `demote`.
    Demote,
    /// `notify`.
    Notify,
    /// `status`: is the postmaster alive (no SQL).
    Status,
    /// `validate-all`.
    ValidateAll,
    /// `meta-data`.
    MetaData,
    /// `methods`.
    Methods,
    /// `reload-agent` (OCF 1.1): pick up changed reloadable parameters.
    ReloadAgent,
}

impl Action {
    /// Every action, in the order `methods` lists them.
    pub const ALL: [Action; 11] = [
        Action::Start,
        Action::Stop,
        Action::Status,
        Action::Monitor,
        Action::Promote,
        Action::Demote,
        Action::Notify,
        Action::ReloadAgent,
        Action::Methods,
        Action::MetaData,
        Action::ValidateAll,
    ];

    /// The action's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Monitor => "monitor",
            Action::Promote => "promote",
            Action::Demote => "demote",
            Action::Notify => "notify",
            Action::Status => "status",
            Action::ValidateAll => "validate-all",
            Action::MetaData => "meta-data",
            Action::Methods => "methods",
            Action::ReloadAgent => "reload-agent",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not an action (the agent answers `OCF_ERR_UNIMPLEMENTED`).
/// Shown as typed, in double quotes (`quote::quoted`), not Rust's debug
/// escaping (issue 12, attack finding 11).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action {}", crate::quote::quoted(.0))]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction(s.to_string()))
    }
}
