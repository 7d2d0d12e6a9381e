//! The `start` decision (stock §1.1, §4.6): from `PGSQL.lock`, the state in
//! which the server was found and `rep_mode`, what `start` does next and
//! how it ends. A step function: the caller looks at the server only when
//! the decision asks for it ([`StartAction::LookAtServer`]), so the lock is
//! checked before the server is touched, as in the stock agent.
//!
//! Unlike the stock agent (which returns 1 for any running server in
//! sync/async mode, §1.1 replication step 7), a running hot standby is a
//! successful start (issue 12, case B2-08): the caller then changes
//! nothing, neither the server nor any attribute ([`StartInput::came_up`]
//! is `None` on that success).
//!
//! With `PGSQL.lock` (sync/async) the caller first considers it
//! ([`StartAction::ConsiderLock`]: the lone primary of B2-05,
//! [`crate::decide::lock`], then the crash rejoin, [`crate::rejoin`];
//! issue 10) and decides again with [`StartInput::lock_check`]: a released
//! lock counts as absent, a kept one refuses.
//!
//! | rep_mode | PGSQL.lock | found | action | exit |
//! |---|---|---|---|---|
//! | sync/async | present, not considered yet | answering as a primary | refuse: the lock is a live primary's (issue 12) | 1 |
//! | sync/async | present, not considered yet | alive, not answering | refuse: never the lock path for a live postmaster (issue 12, re-attack item 2) | 1 |
//! | sync/async | present, not considered yet | (not looked at, down, a standby) | consider it | – |
//! | sync/async | present, kept | (not looked at) | refuse (the stock message, or why it was kept) | 1 |
//! | sync/async | present, released | as for absent | as for absent | |
//! | any | absent (or not a replication mode) | down | `pg_ctl start`, wait until it answers | see below |
//! | any | absent | alive, not answering | wait for it; never a second postmaster (bug F) | see below |
//! | none/slave | – | answering | nothing | 0 |
//! | sync/async | absent | answering as a hot standby | nothing: what start brings up is there (OCF: a start of a running resource succeeds) | 0 |
//! | sync/async | absent | answering as a primary | refuse: start only brings up a hot standby | 1 |
//! | none/slave | – | came up | – | 0 (8 if it came up as a primary) |
//! | sync/async | absent | came up as a hot standby | go on (sync names, `HS:alone`) | 0 |
//! | sync/async | absent | came up as a primary | refuse | 1 |

use std::fmt;

use serde::Serialize;

use crate::ocf::OcfExit;
use crate::params::RepMode;

/// What the server looks like to `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ServerState {
    /// No live postmaster.
    Down,
    /// Answering SQL (a mode without replication: `none`, `slave`).
    Running,
    /// Answering as a hot standby (`pg_is_in_recovery()` true).
    Standby,
    /// Answering as a primary (`pg_is_in_recovery()` false).
    Primary,
    /// A postmaster is alive but does not answer SQL.
    Unresponsive {
        /// The postmaster's process id.
        pid: u32,
    },
}

impl ServerState {
    /// The monitor code of an answering server (`Running`/`Standby` 0,
    /// `Primary` 8); 7 for `Down`, 1 for `Unresponsive`.
    pub fn code(self) -> OcfExit {
        match self {
            ServerState::Down => OcfExit::NotRunning,
            ServerState::Running | ServerState::Standby => OcfExit::Success,
            ServerState::Primary => OcfExit::RunningPromoted,
            ServerState::Unresponsive { .. } => OcfExit::ErrGeneric,
        }
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerState::Down => f.write_str("Down"),
            ServerState::Running => f.write_str("Running"),
            ServerState::Standby => f.write_str("Standby"),
            ServerState::Primary => f.write_str("Primary"),
            ServerState::Unresponsive { pid } => write!(f, "Unresponsive (postmaster {pid})"),
        }
    }
}

/// What `start` knows so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartInput {
    /// `rep_mode`.
    pub rep_mode: RepMode,
    /// The path of `<tmpdir>/PGSQL.lock` when it exists. Only read (and
    /// only meaningful) in sync/async mode; `None` otherwise.
    pub lock: Option<String>,
    /// What became of the lock once considered (`None`: not yet).
    pub lock_check: Option<LockCheck>,
    /// The server before start (`None`: not looked at yet).
    pub found: Option<ServerState>,
    /// The server after starting it or waiting for it (`None`: not yet).
    pub came_up: Option<ServerState>,
}

/// What became of `PGSQL.lock` once `start` considered it (issue 10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "lock", rename_all = "snake_case")]
pub enum LockCheck {
    /// Kept. `why`: the rejoin's refusal; `None` when no rule applied
    /// (the stock refusal, word for word).
    Kept {
        /// Why, when a rule was tried.
        why: Option<String>,
    },
    /// Removed (lone primary, or a rejoin that ended on the primary's
    /// history): start as if it were absent.
    Released,
}

/// The next step of `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StartAction {
    /// Consider `PGSQL.lock` (lone primary, crash rejoin) and decide again
    /// with [`StartInput::lock_check`].
    ConsiderLock,
    /// Look at the server (the real monitor, then the postmaster) and
    /// decide again with [`StartInput::found`].
    LookAtServer,
    /// Run `pg_ctl start`, wait until it answers, and decide again with
    /// [`StartInput::came_up`].
    StartServer,
    /// Wait until the live postmaster answers, and decide again with
    /// [`StartInput::came_up`].
    WaitForServer,
    /// The start is done as far as the server goes; in sync/async mode the
    /// action goes on (`synchronous_standby_names`, `HS:alone`).
    Succeed {
        /// The exit code.
        code: OcfExit,
    },
    /// The start fails.
    Refuse {
        /// The exit code.
        code: OcfExit,
    },
}

/// Why, with the stock rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StartReason {
    /// `PGSQL.lock` exists: this node was a primary and may hold writes the
    /// new primary never received (§4.6, §1.1 replication step 6).
    LockPresent {
        /// The lock's path.
        lock: String,
    },
    /// `PGSQL.lock` exists and has not been considered yet.
    LockNotConsidered {
        /// The lock's path.
        lock: String,
    },
    /// `PGSQL.lock` was kept by a rule that was tried (the crash rejoin
    /// refused or failed): the stock refusal with the reason.
    LockKept {
        /// The lock's path.
        lock: String,
        /// Why.
        why: String,
    },
    /// The server has not been looked at yet.
    NotLookedAt,
    /// No live postmaster: start it (§1.1 steps 2–9).
    NotRunning,
    /// A live postmaster that does not answer: wait for it rather than
    /// delete its pid file and start a second one (bug F, §8.2).
    Unresponsive {
        /// The postmaster's process id.
        pid: u32,
    },
    /// `PGSQL.lock` exists and its postmaster is alive but does not answer
    /// (SIGSTOPped, overloaded): it may be a primary. The lock's rules
    /// (lone primary, crash rejoin) are for a primary that is gone, so
    /// start changes nothing and fails (issue 12, re-attack item 2).
    AliveWithLock {
        /// The lock's path.
        lock: String,
        /// The postmaster's process id.
        pid: u32,
    },
    /// Already running: success (§1.1 step 1), in sync/async mode only as a
    /// hot standby.
    AlreadyRunning {
        /// What was found.
        found: ServerState,
    },
    /// Already running as a primary in sync/async mode: start only brings
    /// up a hot standby (§1.1 replication step 7); promoting is Pacemaker's
    /// decision.
    RunningAsPrimary,
    /// Started (or answered after waiting) as expected.
    CameUp {
        /// What it came up as.
        state: ServerState,
    },
    /// In sync/async mode a node always starts as a hot standby; it came up
    /// as something else (§1.1 replication step 7: 8 → 1).
    NotAStandby {
        /// What it came up as.
        state: ServerState,
    },
}

impl fmt::Display for StartReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartReason::LockPresent { lock } => write!(
                f,
                "My data may be inconsistent. You have to remove {lock} file to force start."
            ),
            StartReason::LockNotConsidered { lock } => {
                write!(f, "{lock} exists: considering whether it may go")
            }
            StartReason::LockKept { lock, why } => write!(f, "{why}; {lock} kept"),
            StartReason::NotLookedAt => f.write_str("the server has not been looked at yet"),
            StartReason::NotRunning => f.write_str("PostgreSQL is not running: starting it"),
            StartReason::Unresponsive { pid } => write!(
                f,
                "postmaster {pid} is alive but not answering: waiting for it, not starting a second one"
            ),
            StartReason::AliveWithLock { lock, pid } => write!(
                f,
                "postmaster {pid} is alive but not answering and {lock} exists: it may be a primary; start changes nothing"
            ),
            StartReason::AlreadyRunning { found } => {
                write!(f, "PostgreSQL is already running ({found})")
            }
            StartReason::RunningAsPrimary => f.write_str(
                "PostgreSQL is already running as a primary; start only starts a hot standby in replication mode",
            ),
            StartReason::CameUp { state } => write!(f, "PostgreSQL is up ({state})"),
            StartReason::NotAStandby { state } => {
                write!(f, "PostgreSQL came up as {state}, not as a hot standby")
            }
        }
    }
}

/// The next step and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartDecision {
    /// What to do.
    pub action: StartAction,
    /// Why.
    pub reason: StartReason,
}

fn step(action: StartAction, reason: StartReason) -> StartDecision {
    StartDecision { action, reason }
}

/// Decides the next step of `start` (the table in the module doc).
pub fn start_decision(input: &StartInput) -> StartDecision {
    let replication = input.rep_mode.is_replication();
    if let Some(lock) = input.lock.as_ref().filter(|_| replication) {
        let refuse = StartAction::Refuse {
            code: OcfExit::ErrGeneric,
        };
        let lock = lock.clone();
        match (&input.lock_check, input.found) {
            // A live server is never the lock's case: the lock's rules are
            // for a primary that is gone.
            (None, Some(ServerState::Primary)) => {
                return step(refuse, StartReason::RunningAsPrimary)
            }
            (None, Some(ServerState::Unresponsive { pid })) => {
                return step(refuse, StartReason::AliveWithLock { lock, pid })
            }
            (None, _) => {
                return step(
                    StartAction::ConsiderLock,
                    StartReason::LockNotConsidered { lock },
                )
            }
            (Some(LockCheck::Kept { why: None }), _) => {
                return step(refuse, StartReason::LockPresent { lock })
            }
            (Some(LockCheck::Kept { why: Some(why) }), _) => {
                return step(
                    refuse,
                    StartReason::LockKept {
                        lock,
                        why: why.clone(),
                    },
                )
            }
            (Some(LockCheck::Released), _) => {}
        }
    }
    let Some(found) = input.found else {
        return step(StartAction::LookAtServer, StartReason::NotLookedAt);
    };
    if let Some(state) = input.came_up {
        return match state {
            ServerState::Standby if replication => step(
                StartAction::Succeed {
                    code: OcfExit::Success,
                },
                StartReason::CameUp { state },
            ),
            _ if replication => step(
                StartAction::Refuse {
                    code: OcfExit::ErrGeneric,
                },
                StartReason::NotAStandby { state },
            ),
            _ => step(
                StartAction::Succeed { code: state.code() },
                StartReason::CameUp { state },
            ),
        };
    }
    match found {
        ServerState::Down => step(StartAction::StartServer, StartReason::NotRunning),
        ServerState::Unresponsive { pid } => step(
            StartAction::WaitForServer,
            StartReason::Unresponsive { pid },
        ),
        ServerState::Primary if replication => step(
            StartAction::Refuse {
                code: OcfExit::ErrGeneric,
            },
            StartReason::RunningAsPrimary,
        ),
        _ => step(
            StartAction::Succeed {
                code: OcfExit::Success,
            },
            StartReason::AlreadyRunning { found },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "/var/lib/pgsql/tmp/PGSQL.lock";

    fn decide(
        mode: RepMode,
        lock: bool,
        found: Option<ServerState>,
        came_up: Option<ServerState>,
    ) -> StartDecision {
        start_decision(&StartInput {
            rep_mode: mode,
            lock: lock.then(|| LOCK.to_string()),
            lock_check: lock.then_some(LockCheck::Kept { why: None }),
            found,
            came_up,
        })
    }

    const REFUSE: StartAction = StartAction::Refuse {
        code: OcfExit::ErrGeneric,
    };

    /// Issue 10: the lock is considered first (lone primary, crash
    /// rejoin); kept without a rule, the stock refusal word for word; kept
    /// by a rule, its reason; released, the start goes on.
    #[test]
    fn the_lock_is_considered_before_anything_else() {
        let with = |check: Option<LockCheck>| {
            start_decision(&StartInput {
                rep_mode: RepMode::Sync,
                lock: Some(LOCK.to_string()),
                lock_check: check,
                found: None,
                came_up: None,
            })
        };
        assert_eq!(with(None).action, StartAction::ConsiderLock);
        let kept = with(Some(LockCheck::Kept {
            why: Some("no primary to follow: refused".into()),
        }));
        assert_eq!(kept.action, REFUSE);
        assert_eq!(
            kept.reason.to_string(),
            format!("no primary to follow: refused; {LOCK} kept")
        );
        assert_eq!(
            with(Some(LockCheck::Released)).action,
            StartAction::LookAtServer
        );
    }

    /// Issue 12 (re-attack item 2): a live server is never the lock's case.
    /// A primary, or a postmaster that is alive but does not answer, is
    /// refused before the lock is considered (no lone-primary removal, no
    /// attribute change); down or a standby goes on to the lock's rules.
    #[test]
    fn a_live_server_with_the_lock_is_refused_before_the_lock_is_considered() {
        let with = |found: ServerState| {
            start_decision(&StartInput {
                rep_mode: RepMode::Sync,
                lock: Some(LOCK.to_string()),
                lock_check: None,
                found: Some(found),
                came_up: None,
            })
        };
        let d = with(ServerState::Unresponsive { pid: 4242 });
        assert_eq!(d.action, REFUSE);
        assert_eq!(
            d.reason,
            StartReason::AliveWithLock {
                lock: LOCK.to_string(),
                pid: 4242
            }
        );
        assert_eq!(
            d.reason.to_string(),
            format!("postmaster 4242 is alive but not answering and {LOCK} exists: it may be a primary; start changes nothing")
        );
        let d = with(ServerState::Primary);
        assert_eq!(d.action, REFUSE);
        assert_eq!(d.reason, StartReason::RunningAsPrimary);
        for found in [ServerState::Down, ServerState::Standby] {
            assert_eq!(with(found).action, StartAction::ConsiderLock, "{found}");
        }
    }

    #[test]
    fn the_lock_refuses_before_the_server_is_looked_at() {
        for mode in [RepMode::Sync, RepMode::Async] {
            let d = decide(mode, true, None, None);
            assert_eq!(d.action, REFUSE);
            assert_eq!(
                d.reason.to_string(),
                format!(
                    "My data may be inconsistent. You have to remove {LOCK} file to force start."
                )
            );
        }
        // Without replication there is no lock rule.
        let d = decide(RepMode::None, true, None, None);
        assert_eq!(d.action, StartAction::LookAtServer);
    }

    #[test]
    fn the_found_state_decides_what_to_do() {
        use ServerState::*;
        for mode in [RepMode::None, RepMode::Slave, RepMode::Sync, RepMode::Async] {
            let replication = mode.is_replication();
            assert_eq!(
                decide(mode, false, None, None).action,
                StartAction::LookAtServer
            );
            assert_eq!(
                decide(mode, false, Some(Down), None).action,
                StartAction::StartServer
            );
            assert_eq!(
                decide(mode, false, Some(Unresponsive { pid: 42 }), None).action,
                StartAction::WaitForServer
            );
            for found in [Running, Standby, Primary] {
                let d = decide(mode, false, Some(found), None);
                if replication && found == Primary {
                    assert_eq!(d.action, REFUSE);
                    assert!(d.reason.to_string().contains("as a primary"));
                } else {
                    assert_eq!(
                        d.action,
                        StartAction::Succeed {
                            code: OcfExit::Success
                        }
                    );
                }
            }
        }
    }

    /// B2-08 (issue 12): OCF expects the start of a running resource to
    /// succeed. In sync/async mode a running hot standby is what start
    /// brings up, so it succeeds as it is; a running primary is refused
    /// with a reason that names it.
    #[test]
    fn a_running_standby_succeeds_and_a_running_primary_is_refused() {
        use ServerState::*;
        for mode in [RepMode::Sync, RepMode::Async] {
            let d = decide(mode, false, Some(Standby), None);
            assert_eq!(
                d.action,
                StartAction::Succeed {
                    code: OcfExit::Success
                }
            );
            assert_eq!(d.reason, StartReason::AlreadyRunning { found: Standby });
            let d = decide(mode, false, Some(Primary), None);
            assert_eq!(d.action, REFUSE);
            assert_eq!(
                d.reason.to_string(),
                "PostgreSQL is already running as a primary; start only starts a hot standby in replication mode"
            );
            // The lock rule still comes first.
            assert_eq!(decide(mode, true, Some(Standby), None).action, REFUSE);
        }
    }

    #[test]
    fn the_outcome_matrix() {
        use ServerState::*;
        for found in [Down, Unresponsive { pid: 7 }] {
            let ok = decide(RepMode::Sync, false, Some(found), Some(Standby));
            assert_eq!(
                ok.action,
                StartAction::Succeed {
                    code: OcfExit::Success
                }
            );
            let bad = decide(RepMode::Async, false, Some(found), Some(Primary));
            assert_eq!(bad.action, REFUSE);
            assert_eq!(
                bad.reason.to_string(),
                "PostgreSQL came up as Primary, not as a hot standby"
            );
            let plain = decide(RepMode::None, false, Some(found), Some(Running));
            assert_eq!(
                plain.action,
                StartAction::Succeed {
                    code: OcfExit::Success
                }
            );
            let slave = decide(RepMode::Slave, false, Some(found), Some(Primary));
            assert_eq!(
                slave.action,
                StartAction::Succeed {
                    code: OcfExit::RunningPromoted
                }
            );
        }
    }

    #[test]
    fn decisions_serialize_for_explain() {
        let d = decide(RepMode::Sync, true, None, None);
        let v = serde_json::to_value(&d).expect("serializes");
        assert_eq!(v["action"]["Refuse"]["code"], "OCF_ERR_GENERIC");
        assert_eq!(v["reason"]["reason"], "lock_present");
        assert_eq!(v["reason"]["lock"], LOCK);
    }

    #[test]
    fn every_walk_concludes_within_five_steps() {
        use ServerState::*;
        let states = [Down, Running, Standby, Primary, Unresponsive { pid: 9 }];
        for mode in [RepMode::None, RepMode::Slave, RepMode::Sync, RepMode::Async] {
            for lock in [false, true] {
                for found in states {
                    for up in [Running, Standby, Primary] {
                        let mut input = StartInput {
                            rep_mode: mode,
                            lock: lock.then(|| LOCK.to_string()),
                            lock_check: None,
                            found: None,
                            came_up: None,
                        };
                        let mut steps = 0;
                        let end = loop {
                            steps += 1;
                            assert!(steps <= 5, "{input:?}");
                            match start_decision(&input).action {
                                StartAction::ConsiderLock => {
                                    input.lock_check = Some(LockCheck::Kept { why: None })
                                }
                                StartAction::LookAtServer => input.found = Some(found),
                                StartAction::StartServer | StartAction::WaitForServer => {
                                    input.came_up = Some(up)
                                }
                                end => break end,
                            }
                        };
                        if lock && mode.is_replication() {
                            assert_eq!(end, REFUSE, "the lock refuses whatever the server");
                            assert_eq!(input.found, None, "without looking at it");
                        }
                    }
                }
            }
        }
    }
}
