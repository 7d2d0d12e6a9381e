//! Promotion scores (`master-<rsc>`), with Pacemaker's `INFINITY` texts.

use std::fmt;
use std::str::FromStr;

/// A promotion score as Pacemaker stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Score {
    /// `-INFINITY`: must not be promoted.
    MinusInfinity,
    /// A plain integer score.
    Value(i64),
    /// `INFINITY`.
    Infinity,
}

impl Score {
    /// `1000` (`PROMOTE_ME`): the primary, or the winner of an election.
    pub const PROMOTE_ME: Score = Score::Value(1000);
    /// `100` (`CAN_PROMOTE`): a standby that may take over at once.
    pub const CAN_PROMOTE: Score = Score::Value(100);
    /// `-INFINITY` (`CAN_NOT_PROMOTE`).
    pub const CAN_NOT_PROMOTE: Score = Score::MinusInfinity;

    /// True when Pacemaker may promote a node with this score.
    pub fn is_positive(self) -> bool {
        match self {
            Score::MinusInfinity => false,
            Score::Value(v) => v > 0,
            Score::Infinity => true,
        }
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Score::MinusInfinity => f.write_str("-INFINITY"),
            Score::Infinity => f.write_str("INFINITY"),
            Score::Value(v) => write!(f, "{v}"),
        }
    }
}

/// A text that is not a Pacemaker score.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid score {}", crate::quote::quoted(.0))]
pub struct ScoreParseError(pub String);

impl FromStr for Score {
    type Err = ScoreParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "-INFINITY" | "-inf" => Ok(Score::MinusInfinity),
            "INFINITY" | "+INFINITY" | "inf" | "+inf" => Ok(Score::Infinity),
            t => t
                .parse::<i64>()
                .map(Score::Value)
                .map_err(|_| ScoreParseError(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_print_like_pacemaker() {
        assert_eq!(Score::PROMOTE_ME.to_string(), "1000");
        assert_eq!(Score::CAN_NOT_PROMOTE.to_string(), "-INFINITY");
        assert_eq!("-INFINITY".parse::<Score>().unwrap(), Score::MinusInfinity);
        assert_eq!("100".parse::<Score>().unwrap(), Score::CAN_PROMOTE);
        assert!(Score::MinusInfinity < Score::Value(-5));
        assert!(!Score::Value(0).is_positive());
        assert!("x".parse::<Score>().is_err());
    }
}
