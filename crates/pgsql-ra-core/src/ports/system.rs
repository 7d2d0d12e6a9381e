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

/// Issue 16: what this node's link layer says about an IPv4 address on a
/// directly attached network: has any host answered ARP for it? Read from
/// the kernel's neighbour table (`/proc/net/arp`) and routing table
/// (`/proc/net/route`) of the agent's network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LinkNeighbour {
    /// The address is on a directly attached route (no gateway) and every
    /// neighbour entry for it is incomplete or failed (`/proc/net/arp`
    /// flags `0x0`): the kernel asked and no host answered.
    Unanswered,
    /// Some neighbour entry for it is complete (a host answered).
    Answered,
    /// No entry, not IPv4, routed through a gateway, or unreadable.
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
    /// Issue 16: the link layer's answer for `ip` ([`LinkNeighbour`]);
    /// never fails ([`LinkNeighbour::Unknown`] when it cannot tell).
    fn link_neighbour(&mut self, ip: &str) -> LinkNeighbour;
}
