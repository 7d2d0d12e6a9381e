//! The agent's node states with their exact attribute texts:
//! `pgsql-status` ([`PgStatus`]) and `pgsql-data-status` ([`DataStatus`]).

use std::fmt;
use std::str::FromStr;

/// The value of `<rsc>-status`: what PostgreSQL on a node is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PgStatus {
    /// `STOP`: PostgreSQL is stopped (set by the node's own agent).
    Stop,
    /// `HS:alone`: hot standby not (known to be) connected to a primary.
    HsAlone,
    /// `HS:connected`: connected, but not streaming normally (catchup, startup, backup).
    HsConnected,
    /// `HS:async`: streaming asynchronously.
    HsAsync,
    /// `HS:sync`: the synchronous standby.
    HsSync,
    /// `HS:potential`: streaming, potential synchronous standby.
    HsPotential,
    /// `HS:quorum` (issue 11, not in the stock agent): streaming, a member of
    /// a quorum commit set (`ANY k (...)`, `sync_state = quorum`).
    HsQuorum,
    /// `PRI`: the primary.
    Pri,
    /// `UNKNOWN`: a stop or demote could not tell.
    Unknown,
}

impl PgStatus {
    /// Every value, in a stable order.
    pub const ALL: [PgStatus; 9] = [
        PgStatus::Stop,
        PgStatus::HsAlone,
        PgStatus::HsConnected,
        PgStatus::HsAsync,
        PgStatus::HsSync,
        PgStatus::HsPotential,
        PgStatus::HsQuorum,
        PgStatus::Pri,
        PgStatus::Unknown,
    ];

    /// The exact attribute text.
    pub fn as_str(self) -> &'static str {
        match self {
            PgStatus::Stop => "STOP",
            PgStatus::HsAlone => "HS:alone",
            PgStatus::HsConnected => "HS:connected",
            PgStatus::HsAsync => "HS:async",
            PgStatus::HsSync => "HS:sync",
            PgStatus::HsPotential => "HS:potential",
            PgStatus::HsQuorum => "HS:quorum",
            PgStatus::Pri => "PRI",
            PgStatus::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for PgStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An attribute text that is not a known status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {}", crate::quote::quoted(.0))]
pub struct StatusParseError(pub String);

impl FromStr for PgStatus {
    type Err = StatusParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PgStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| StatusParseError(s.to_string()))
    }
}

/// The value of `<rsc>-data-status` (lifetime forever): how current a node's data is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DataStatus {
    /// `LATEST`: the node is (or was last) the primary.
    Latest,
    /// `DISCONNECT`: the primary did not see it streaming; its data may be behind.
    Disconnect,
    /// `STATE|SYNC_STATE`, upper-cased, as the primary saw it in `pg_stat_replication`.
    Replication {
        /// e.g. `STREAMING`, `CATCHUP`, `STARTUP`, `BACKUP`.
        state: String,
        /// e.g. `SYNC`, `ASYNC`, `POTENTIAL`, `QUORUM`.
        sync_state: String,
    },
}

impl DataStatus {
    /// Builds `STATE|SYNC_STATE` from `pg_stat_replication` columns (upper-cased).
    pub fn replication(state: &str, sync_state: &str) -> DataStatus {
        DataStatus::Replication {
            state: state.to_uppercase(),
            sync_state: sync_state.to_uppercase(),
        }
    }

    /// `pg_stat_replication.state` values, upper-cased (PostgreSQL 10–18).
    pub const REPLICATION_STATES: [&'static str; 5] =
        ["STARTUP", "CATCHUP", "STREAMING", "BACKUP", "STOPPING"];
    /// `pg_stat_replication.sync_state` values, upper-cased.
    pub const SYNC_STATES: [&'static str; 4] = ["ASYNC", "POTENTIAL", "SYNC", "QUORUM"];

    /// True for a value the agent itself writes: `LATEST`, `DISCONNECT`, or
    /// `STATE|SYNC_STATE` built from the columns PostgreSQL reports. A
    /// parsed value that is not one (`streaming|sync`, `FOO|BAR`) is not
    /// trusted by the election.
    pub fn is_known(&self) -> bool {
        match self {
            DataStatus::Latest | DataStatus::Disconnect => true,
            DataStatus::Replication { state, sync_state } => {
                Self::REPLICATION_STATES.contains(&state.as_str())
                    && Self::SYNC_STATES.contains(&sync_state.as_str())
            }
        }
    }

    /// True for `STREAMING|<sync>`.
    pub fn is_streaming(&self, sync: &str) -> bool {
        matches!(self, DataStatus::Replication { state, sync_state } if state == "STREAMING" && sync_state == sync)
    }
}

impl fmt::Display for DataStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataStatus::Latest => f.write_str("LATEST"),
            DataStatus::Disconnect => f.write_str("DISCONNECT"),
            DataStatus::Replication { state, sync_state } => write!(f, "{state}|{sync_state}"),
        }
    }
}

impl FromStr for DataStatus {
    type Err = StatusParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "LATEST" => Ok(DataStatus::Latest),
            "DISCONNECT" => Ok(DataStatus::Disconnect),
            _ => match s.split_once('|') {
                Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains('|') => {
                    Ok(DataStatus::Replication {
                        state: a.to_string(),
                        sync_state: b.to_string(),
                    })
                }
                _ => Err(StatusParseError(s.to_string())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_round_trip() {
        for v in PgStatus::ALL {
            assert_eq!(v.as_str().parse::<PgStatus>().unwrap(), v);
        }
        for t in ["LATEST", "DISCONNECT", "STREAMING|SYNC", "CATCHUP|ASYNC"] {
            assert_eq!(t.parse::<DataStatus>().unwrap().to_string(), t);
        }
        assert!("".parse::<DataStatus>().is_err());
        assert!("STREAMING|".parse::<DataStatus>().is_err());
        assert!(DataStatus::replication("streaming", "sync").is_streaming("SYNC"));
    }
}
