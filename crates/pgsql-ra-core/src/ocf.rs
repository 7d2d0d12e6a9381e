//! OCF exit codes and the result of one agent action.

use std::fmt;

/// OCF resource-agent exit codes (OCF 1.1, including the degraded codes 190/191).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcfExit {
    /// 0 `OCF_SUCCESS`.
    Success,
    /// 1 `OCF_ERR_GENERIC`.
    ErrGeneric,
    /// 2 `OCF_ERR_ARGS`.
    ErrArgs,
    /// 3 `OCF_ERR_UNIMPLEMENTED`.
    ErrUnimplemented,
    /// 4 `OCF_ERR_PERM`.
    ErrPerm,
    /// 5 `OCF_ERR_INSTALLED`.
    ErrInstalled,
    /// 6 `OCF_ERR_CONFIGURED`.
    ErrConfigured,
    /// 7 `OCF_NOT_RUNNING`.
    NotRunning,
    /// 8 `OCF_RUNNING_PROMOTED` (formerly `OCF_RUNNING_MASTER`).
    RunningPromoted,
    /// 9 `OCF_FAILED_PROMOTED` (formerly `OCF_FAILED_MASTER`).
    FailedPromoted,
    /// 190 `OCF_DEGRADED`.
    Degraded,
    /// 191 `OCF_DEGRADED_PROMOTED`.
    DegradedPromoted,
}

impl OcfExit {
    /// Every code, in numeric order.
    pub const ALL: [OcfExit; 12] = [
        OcfExit::Success,
        OcfExit::ErrGeneric,
        OcfExit::ErrArgs,
        OcfExit::ErrUnimplemented,
        OcfExit::ErrPerm,
        OcfExit::ErrInstalled,
        OcfExit::ErrConfigured,
        OcfExit::NotRunning,
        OcfExit::RunningPromoted,
        OcfExit::FailedPromoted,
        OcfExit::Degraded,
        OcfExit::DegradedPromoted,
    ];

    /// The numeric process exit code.
    pub fn code(self) -> i32 {
        match self {
            OcfExit::Success => 0,
            OcfExit::ErrGeneric => 1,
            OcfExit::ErrArgs => 2,
            OcfExit::ErrUnimplemented => 3,
            OcfExit::ErrPerm => 4,
            OcfExit::ErrInstalled => 5,
            OcfExit::ErrConfigured => 6,
            OcfExit::NotRunning => 7,
            OcfExit::RunningPromoted => 8,
            OcfExit::FailedPromoted => 9,
            OcfExit::Degraded => 190,
            OcfExit::DegradedPromoted => 191,
        }
    }

    /// The code for a number, if it is an OCF code.
    pub fn from_code(code: i32) -> Option<OcfExit> {
        OcfExit::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The symbolic OCF name, e.g. `OCF_NOT_RUNNING`.
    pub fn name(self) -> &'static str {
        match self {
            OcfExit::Success => "OCF_SUCCESS",
            OcfExit::ErrGeneric => "OCF_ERR_GENERIC",
            OcfExit::ErrArgs => "OCF_ERR_ARGS",
            OcfExit::ErrUnimplemented => "OCF_ERR_UNIMPLEMENTED",
            OcfExit::ErrPerm => "OCF_ERR_PERM",
            OcfExit::ErrInstalled => "OCF_ERR_INSTALLED",
            OcfExit::ErrConfigured => "OCF_ERR_CONFIGURED",
            OcfExit::NotRunning => "OCF_NOT_RUNNING",
            OcfExit::RunningPromoted => "OCF_RUNNING_PROMOTED",
            OcfExit::FailedPromoted => "OCF_FAILED_PROMOTED",
            OcfExit::Degraded => "OCF_DEGRADED",
            OcfExit::DegradedPromoted => "OCF_DEGRADED_PROMOTED",
        }
    }
}

impl fmt::Display for OcfExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.name())
    }
}

/// Serializes as the symbolic name (`OCF_ERR_CONFIGURED`), for printing
/// decisions as JSON.
impl serde::Serialize for OcfExit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// What an action ended with: the exit code and, on failure, a one-line reason
/// (printed as `ocf-exit-reason:` by the shim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code.
    pub code: OcfExit,
    /// The reason shown to the operator, if any.
    pub reason: Option<String>,
}

impl Outcome {
    /// An outcome without a reason.
    pub fn code(code: OcfExit) -> Outcome {
        Outcome { code, reason: None }
    }

    /// 0, success.
    pub fn success() -> Outcome {
        Outcome::code(OcfExit::Success)
    }

    /// A failure with a reason.
    pub fn fail(code: OcfExit, reason: impl Into<String>) -> Outcome {
        Outcome {
            code,
            reason: Some(reason.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in OcfExit::ALL {
            assert_eq!(OcfExit::from_code(c.code()), Some(c));
        }
        assert_eq!(OcfExit::from_code(42), None);
        assert_eq!(OcfExit::DegradedPromoted.code(), 191);
    }
}
