//! `have_master_right` (stock §4.3): how a standby that sees no primary
//! decides whether it may claim the primary role. The decision is a pure
//! function of the observations; the caller reads and writes the
//! attributes and the `xlog_note.*` files in `tmpdir`.
//!
//! A round publishes the own LSN as `<rsc>-xlog-loc`, reads every node's
//! `xlog-loc` (node_list order) into a note, and compares it with the note
//! of the previous round. After `xlog_check_count` identical confirmations
//! (one base note plus `xlog_check_count` rounds) the node(s) with the
//! highest LSN win (score 1000); every other node marks its own data
//! `DISCONNECT`.

use serde::Serialize;

use crate::lsn::Lsn;
use crate::params::RepMode;
use crate::status::DataStatus;

/// Prefix of the note files in `tmpdir` (`xlog_note.0`, `xlog_note.1`, …).
pub const NOTE_PREFIX: &str = "xlog_note.";

/// The note file for round `k`.
pub fn note_file_name(round: u32) -> String {
    format!("{NOTE_PREFIX}{round}")
}

/// One node's published location, a line `<node> <LSN>` of a note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// The node name.
    pub node: String,
    /// Its `<rsc>-xlog-loc`.
    pub lsn: Lsn,
}

/// Renders a note: one `<node> <LSN>` line per observation.
pub fn render_note(observed: &[Observation]) -> String {
    observed
        .iter()
        .map(|o| format!("{} {}\n", o.node, o.lsn))
        .collect()
}

/// The number of completed rounds: the largest k in 1..=check_count such
/// that `xlog_note.1` … `xlog_note.k` all exist (0 if none). `existing` holds
/// the names of the files present in `tmpdir`.
pub fn completed_rounds(existing: &[String], check_count: u32) -> u32 {
    let mut k = 0;
    while k < check_count && existing.iter().any(|f| *f == note_file_name(k + 1)) {
        k += 1;
    }
    k
}

/// Whether the own data-status allows taking part in the election: empty
/// (first boot) is allowed; sync mode allows `STREAMING|SYNC` and `LATEST`;
/// async mode also allows `STREAMING|ASYNC`. `Err` holds the reason.
pub fn eligibility(rep_mode: RepMode, own: Option<&DataStatus>) -> Result<(), String> {
    let Some(status) = own else { return Ok(()) };
    let allowed = match status {
        DataStatus::Latest => true,
        s if s.is_streaming("SYNC") => true,
        s if s.is_streaming("ASYNC") => rep_mode == RepMode::Async,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "My data is out-of-date: data-status {status} does not allow a {} standby to become primary",
            rep_mode.as_str()
        ))
    }
}

/// Beyond the stock agent: a standby made synchronous at a handover whose
/// `<rsc>-sync-baseline` (the primary's position then) it has not reached
/// lacks writes its predecessor acknowledged and must not be elected, even
/// though its data-status says `STREAMING|SYNC`. `baseline` is the raw
/// attribute (`None`: no handover pending).
pub fn handover_eligibility(baseline: Option<&str>, my_lsn: Lsn) -> Result<(), String> {
    let Some(text) = baseline else { return Ok(()) };
    match Lsn::parse_attr(text) {
        Ok(base) if my_lsn >= base => Ok(()),
        Ok(base) => Err(format!(
            "My data is out-of-date: I became the synchronous standby when the primary was at {} and hold only {}",
            base.to_pg(),
            my_lsn.to_pg()
        )),
        Err(_) => Err(format!(
            "My data may be out-of-date: I became the synchronous standby at an unrecorded primary position ({text})"
        )),
    }
}

/// What one round of the election concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// The observations changed (or this is the first round): start counting again.
    Restarted,
    /// Same observations as before, but not yet confirmed `xlog_check_count` times.
    Waiting,
    /// Confirmed, and this node holds the highest location: score 1000.
    Winner,
    /// Confirmed, and another node is ahead: own data-status `DISCONNECT`.
    Loser,
}

/// How the note files change after a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum NotesChange {
    /// Delete every `xlog_note.*`, then save `text` as `xlog_note.0`.
    ResetTo(String),
    /// Save `text` as `xlog_note.<round>`.
    Save {
        /// The round number.
        round: u32,
        /// The note.
        text: String,
    },
    /// Delete every `xlog_note.*` (the winner; the cycle starts anew).
    Clear,
}

/// The inputs of one round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Round {
    /// This node's location (the greater of replay and receive).
    pub my_lsn: Lsn,
    /// Every readable `<rsc>-xlog-loc` of node_list, in list order (self included).
    pub observed: Vec<Observation>,
    /// Rounds already confirmed ([`completed_rounds`]).
    pub completed: u32,
    /// The content of `xlog_note.<completed>` (`None` when missing).
    pub previous: Option<String>,
    /// `xlog_check_count`.
    pub check_count: u32,
}

/// The decision of one round, with its reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// What to do with the note files.
    pub notes: NotesChange,
    /// The highest location observed, when any.
    pub highest: Option<Lsn>,
    /// Why.
    pub reason: String,
}

/// Decides one round (stock steps 4 to 7 of `have_master_right`).
pub fn decide(round: &Round) -> Decision {
    let text = render_note(&round.observed);
    let highest = round.observed.iter().map(|o| o.lsn).max();
    let next = round.completed + 1;
    if round.previous.as_deref() != Some(text.as_str()) || round.observed.is_empty() {
        return Decision {
            verdict: Verdict::Restarted,
            notes: NotesChange::ResetTo(text),
            highest,
            reason: if round.observed.is_empty() {
                "no node has published its location yet; counting starts again".to_string()
            } else {
                "the published locations changed since the last round (or this is the first round); counting starts again".to_string()
            },
        };
    }
    if next < round.check_count {
        return Decision {
            verdict: Verdict::Waiting,
            notes: NotesChange::Save { round: next, text },
            highest,
            reason: format!(
                "locations unchanged for {next} of {} rounds; waiting before deciding",
                round.check_count
            ),
        };
    }
    match highest {
        Some(top) if round.my_lsn >= top => Decision {
            verdict: Verdict::Winner,
            notes: NotesChange::Clear,
            highest,
            reason: format!(
                "I have a master right: my location {} is the highest after {next} unchanged rounds",
                round.my_lsn
            ),
        },
        _ => Decision {
            verdict: Verdict::Loser,
            notes: NotesChange::ResetTo(text),
            highest,
            reason: format!(
                "I don't have correct master data: my location {} is behind the highest {}",
                round.my_lsn,
                highest.map(|l| l.to_string()).unwrap_or_default()
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(pairs: &[(&str, u64)]) -> Vec<Observation> {
        pairs
            .iter()
            .map(|(n, l)| Observation {
                node: n.to_string(),
                lsn: Lsn(*l),
            })
            .collect()
    }

    fn files(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Runs rounds with unchanged observations and returns the verdicts,
    /// keeping the note files the way the caller does.
    fn run_rounds(my: u64, observed: &[(&str, u64)], count: u32, rounds: usize) -> Vec<Verdict> {
        let mut notes: std::collections::BTreeMap<u32, String> = Default::default();
        let mut out = Vec::new();
        for _ in 0..rounds {
            let names: Vec<String> = notes.keys().map(|k| note_file_name(*k)).collect();
            let completed = completed_rounds(&names, count);
            let d = decide(&Round {
                my_lsn: Lsn(my),
                observed: obs(observed),
                completed,
                previous: notes.get(&completed).cloned(),
                check_count: count,
            });
            match &d.notes {
                NotesChange::ResetTo(t) => {
                    notes.clear();
                    notes.insert(0, t.clone());
                }
                NotesChange::Save { round, text } => {
                    notes.insert(*round, text.clone());
                }
                NotesChange::Clear => notes.clear(),
            }
            out.push(d.verdict);
        }
        out
    }

    #[test]
    fn default_count_decides_on_the_fourth_round() {
        use Verdict::*;
        let v = run_rounds(0x300, &[("node1", 0x300), ("node2", 0x200)], 3, 5);
        assert_eq!(v, vec![Restarted, Waiting, Waiting, Winner, Restarted]);
    }

    #[test]
    fn the_node_behind_loses_and_restarts_counting() {
        use Verdict::*;
        let v = run_rounds(0x200, &[("node1", 0x300), ("node2", 0x200)], 3, 5);
        assert_eq!(v, vec![Restarted, Waiting, Waiting, Loser, Waiting]);
    }

    #[test]
    fn ties_make_every_top_node_a_winner() {
        let a = run_rounds(0x300, &[("node1", 0x300), ("node2", 0x300)], 1, 2);
        assert_eq!(a, vec![Verdict::Restarted, Verdict::Winner]);
    }

    #[test]
    fn count_zero_and_one_need_two_rounds() {
        for count in [0, 1] {
            let v = run_rounds(5, &[("node1", 5)], count, 2);
            assert_eq!(
                v,
                vec![Verdict::Restarted, Verdict::Winner],
                "count {count}"
            );
        }
    }

    #[test]
    fn a_changed_location_restarts_the_count() {
        let d = decide(&Round {
            my_lsn: Lsn(9),
            observed: obs(&[("node1", 9)]),
            completed: 2,
            previous: Some(render_note(&obs(&[("node1", 8)]))),
            check_count: 3,
        });
        assert_eq!(d.verdict, Verdict::Restarted);
        assert_eq!(
            d.notes,
            NotesChange::ResetTo("node1 0000000000000009\n".to_string())
        );
    }

    #[test]
    fn no_observation_never_elects() {
        let d = decide(&Round {
            my_lsn: Lsn(9),
            observed: vec![],
            completed: 3,
            previous: Some(String::new()),
            check_count: 3,
        });
        assert_eq!(d.verdict, Verdict::Restarted);
    }

    #[test]
    fn completed_rounds_needs_consecutive_files() {
        assert_eq!(
            completed_rounds(&files(&["xlog_note.0", "xlog_note.1", "xlog_note.3"]), 3),
            1
        );
        assert_eq!(
            completed_rounds(
                &files(&["xlog_note.1", "xlog_note.2", "xlog_note.3", "xlog_note.4"]),
                3
            ),
            3
        );
        assert_eq!(completed_rounds(&files(&[]), 3), 0);
    }

    #[test]
    fn a_standby_behind_its_handover_baseline_is_not_eligible() {
        let base = Lsn(0x0500_0060);
        assert!(handover_eligibility(None, Lsn(0x0300_0000)).is_ok());
        assert!(handover_eligibility(Some(&base.to_attr()), base).is_ok());
        let err = handover_eligibility(Some(&base.to_attr()), Lsn(0x0500_0000)).unwrap_err();
        assert!(err.contains("0/5000060"), "{err}");
        assert!(handover_eligibility(Some("unknown"), Lsn(u64::MAX)).is_err());
    }

    #[test]
    fn eligibility_follows_the_mode() {
        let sync = DataStatus::replication("STREAMING", "SYNC");
        let asy = DataStatus::replication("STREAMING", "ASYNC");
        assert!(eligibility(RepMode::Sync, None).is_ok());
        assert!(eligibility(RepMode::Sync, Some(&DataStatus::Latest)).is_ok());
        assert!(eligibility(RepMode::Sync, Some(&sync)).is_ok());
        assert!(eligibility(RepMode::Sync, Some(&asy)).is_err());
        assert!(eligibility(RepMode::Async, Some(&asy)).is_ok());
        assert!(eligibility(RepMode::Async, Some(&DataStatus::Disconnect)).is_err());
        let potential = DataStatus::replication("STREAMING", "POTENTIAL");
        assert!(eligibility(RepMode::Async, Some(&potential))
            .unwrap_err()
            .contains("out-of-date"));
    }
}
