//! The shutdown checkpoint of a clean demote (issue 10, case B2-01) and the
//! check a promotion candidate makes against it. Pure: no I/O.
//!
//! A clean demote (`pg_ctl stop -m fast` that did not escalate) ends the old
//! primary's WAL with a shutdown checkpoint record; `pg_controldata`'s
//! "Latest checkpoint location" is the *start* of that record and nothing
//! follows it. PostgreSQL's walsenders send all WAL, that record included,
//! to the connected standbys before the postmaster exits. The demoted node
//! publishes `<rsc>-demote-checkpoint` = `<timeline>:<LSN>` and continues as
//! a standby; before `pg_ctl promote`, a candidate checks that its own end
//! of WAL (the greater of the replay and receive locations) is **past** that
//! start, i.e. it holds at least the beginning of the record and so every
//! record before it. Equal means it stopped right before the record: its new
//! timeline would begin before the old primary's end of WAL, the old primary
//! could no longer follow it without a rewind (its WAL after the switch point
//! is not the new timeline's), and any WAL it did not send would be lost.
//! PAF makes the same check before a switchover (`pgsqlms`, pre-promote).

use serde::Serialize;

use crate::lsn::Lsn;
use crate::timeline::HistoryEntry;

/// A published demote checkpoint: the old primary's timeline and the start
/// of its shutdown checkpoint record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemoteCheckpoint {
    /// "Latest checkpoint's TimeLineID".
    pub timeline: u32,
    /// "Latest checkpoint location".
    pub lsn: Lsn,
}

impl DemoteCheckpoint {
    /// The attribute value: `<timeline>:<LSN as 16 hex digits>`.
    pub fn to_attr(self) -> String {
        format!("{}:{}", self.timeline, self.lsn.to_attr())
    }

    /// Parses [`DemoteCheckpoint::to_attr`]'s format.
    ///
    /// # Errors
    /// Not `<decimal timeline ≥ 1>:<16 hex digits>`.
    pub fn parse_attr(text: &str) -> Result<DemoteCheckpoint, String> {
        let bad = || format!("not <timeline>:<LSN>: {}", crate::quote::quoted(text));
        let (tli, lsn) = text.trim().split_once(':').ok_or_else(bad)?;
        let timeline: u32 = tli
            .parse()
            .ok()
            .filter(|t| *t >= 1 && tli.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(bad)?;
        let lsn = Lsn::parse_attr(lsn).map_err(|_| bad())?;
        Ok(DemoteCheckpoint { timeline, lsn })
    }
}

/// One node's `<rsc>-demote-checkpoint` as read: absent, its text, or the
/// read error in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The node that published it.
    pub node: String,
    /// `Ok(None)`: absent; `Ok(Some(text))`; `Err(reason)`: unreadable.
    pub value: Result<Option<String>, String>,
}

/// Whether the candidate may promote, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// No published checkpoint is missing from the candidate's WAL.
    Received {
        /// How many checkpoints were compared (0: no clean demote published).
        checked: usize,
    },
    /// Promoting would lose WAL a cleanly demoted node holds (or cannot be
    /// told): refuse, in words.
    Refuse(String),
}

/// What the candidate knows about its own WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnWal {
    /// The timeline its WAL is on (`None`: the server does not report it;
    /// every checkpoint is then compared by LSN alone).
    pub timeline: Option<u32>,
    /// Its end of WAL: the greater of replay and receive on a standby, the
    /// current WAL position on a primary.
    pub end: Lsn,
    /// Its timeline's history file, parsed (the ancestors with the switch
    /// points where it left them); `None` when not at hand.
    pub history: Option<Vec<HistoryEntry>>,
}

/// The candidate's check before `pg_ctl promote`. For every other node's
/// published checkpoint:
///
/// | checkpoint | verdict |
/// |---|---|
/// | absent | ignored |
/// | unreadable or not `<timeline>:<LSN>` | refuse (fail closed) |
/// | on the candidate's timeline (or timeline unknown) | its end of WAL must be > the LSN |
/// | on an older timeline | the candidate's history must leave that timeline at a switch point > the LSN (a stale checkpoint of a switchover it followed passes; a fork before the checkpoint, or no history at hand, refuses) |
/// | on a newer timeline | refuse: it never received that timeline |
pub fn check(own: &OwnWal, published: &[Published]) -> Verdict {
    let mut checked = 0;
    for p in published {
        let text = match &p.value {
            Ok(None) => continue,
            Ok(Some(text)) => text,
            Err(e) => {
                return Verdict::Refuse(format!(
                    "can't read {}'s demote checkpoint ({e}): it may hold WAL I did not receive",
                    p.node
                ))
            }
        };
        let ckpt = match DemoteCheckpoint::parse_attr(text) {
            Ok(c) => c,
            Err(e) => {
                return Verdict::Refuse(format!(
                "{}'s demote checkpoint is unrecognised ({e}): it may hold WAL I did not receive",
                p.node
            ))
            }
        };
        checked += 1;
        let (held, mine) = match own.timeline {
            Some(mine) if ckpt.timeline > mine => {
                return Verdict::Refuse(format!(
                    "{} was demoted cleanly on timeline {}, newer than my timeline {mine}: I did not receive its WAL; it can be promoted again",
                    p.node, ckpt.timeline
                ))
            }
            Some(mine) if ckpt.timeline < mine => {
                let left = own.history.as_ref().and_then(|h| {
                    h.iter()
                        .find(|e| e.parent == ckpt.timeline)
                        .map(|e| e.switch_point)
                });
                match left {
                    Some(sp) => (sp, format!("my timeline {mine} left timeline {} at", ckpt.timeline)),
                    None => {
                        return Verdict::Refuse(format!(
                            "{} was demoted cleanly on timeline {}, and the history of my timeline {mine} does not show where it left timeline {}: I cannot tell whether I hold its shutdown checkpoint at {}",
                            p.node,
                            ckpt.timeline,
                            ckpt.timeline,
                            ckpt.lsn.to_pg()
                        ))
                    }
                }
            }
            _ => (own.end, "my WAL ends at".to_string()),
        };
        if held <= ckpt.lsn {
            return Verdict::Refuse(format!(
                "{} was demoted cleanly with its shutdown checkpoint at {} on timeline {}, and {mine} {}: I did not receive it, promoting me would fork; it can be promoted again",
                p.node,
                ckpt.lsn.to_pg(),
                ckpt.timeline,
                held.to_pg()
            ));
        }
    }
    Verdict::Received { checked }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(timeline: Option<u32>, end: u64) -> OwnWal {
        OwnWal {
            timeline,
            end: Lsn(end),
            history: None,
        }
    }

    fn published(node: &str, v: Option<&str>) -> Published {
        Published {
            node: node.into(),
            value: Ok(v.map(str::to_string)),
        }
    }

    #[test]
    fn the_attribute_round_trips_and_garbage_is_refused() {
        let c = DemoteCheckpoint {
            timeline: 2,
            lsn: Lsn(0x0300_0400),
        };
        assert_eq!(c.to_attr(), "2:0000000003000400");
        assert_eq!(DemoteCheckpoint::parse_attr("2:0000000003000400"), Ok(c));
        for bad in [
            "",
            "2",
            "0:0000000003000400",
            "x:0000000003000400",
            "2:zz",
            "+2:0000000003000400",
        ] {
            assert!(DemoteCheckpoint::parse_attr(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_candidate_must_hold_wal_past_the_checkpoint_start() {
        let p = [published("node1", Some("2:0000000003000400"))];
        assert_eq!(
            check(&own(Some(2), 0x0300_0478), &p),
            Verdict::Received { checked: 1 }
        );
        for end in [0x0300_0400, 0x0300_0100] {
            match check(&own(Some(2), end), &p) {
                Verdict::Refuse(r) => {
                    assert!(r.contains("node1") && r.contains("0/3000400"), "{r}")
                }
                v => panic!("{end:x}: {v:?}"),
            }
        }
        // Timeline unknown: compared by LSN alone.
        assert!(matches!(
            check(&own(None, 0x0300_0400), &p),
            Verdict::Refuse(_)
        ));
        assert_eq!(
            check(&own(None, 0x0300_0401), &p),
            Verdict::Received { checked: 1 }
        );
    }

    #[test]
    fn a_newer_timeline_refuses() {
        let p = [published("node1", Some("3:0000000003000400"))];
        assert!(matches!(
            check(&own(Some(2), u64::MAX), &p),
            Verdict::Refuse(r) if r.contains("newer than my timeline 2")
        ));
    }

    /// An older timeline counts through the candidate's history: where its
    /// timeline left the checkpoint's one.
    #[test]
    fn an_older_timeline_is_judged_by_where_the_history_left_it() {
        let p = [published("node1", Some("2:0000000003000400"))];
        let with_history = |sp: u64| OwnWal {
            timeline: Some(3),
            end: Lsn(0x0900_0000),
            history: Some(vec![
                HistoryEntry {
                    parent: 1,
                    switch_point: Lsn(0x0300_0100),
                },
                HistoryEntry {
                    parent: 2,
                    switch_point: Lsn(sp),
                },
            ]),
        };
        // A switchover it followed: timeline 3 began past the checkpoint.
        assert_eq!(
            check(&with_history(0x0300_0478), &p),
            Verdict::Received { checked: 1 }
        );
        // A fork before the checkpoint (a promotion outside the cluster).
        assert!(matches!(
            check(&with_history(0x0300_0400), &p),
            Verdict::Refuse(r) if r.contains("my timeline 3 left timeline 2 at 0/3000400")
        ));
        // No history at hand: cannot tell, refused.
        assert!(matches!(
            check(&own(Some(3), u64::MAX), &p),
            Verdict::Refuse(r) if r.contains("does not show")
        ));
    }

    #[test]
    fn absent_is_ignored_unreadable_or_garbled_refuses() {
        let none = [published("node1", None)];
        assert_eq!(
            check(&own(Some(1), 0), &none),
            Verdict::Received { checked: 0 }
        );
        let garbled = [published("node1", Some("disconnect"))];
        assert!(
            matches!(check(&own(Some(1), u64::MAX), &garbled), Verdict::Refuse(r) if r.contains("unrecognised"))
        );
        let unreadable = [Published {
            node: "node3".into(),
            value: Err("crm_attribute timed out".into()),
        }];
        assert!(
            matches!(check(&own(Some(1), u64::MAX), &unreadable), Verdict::Refuse(r) if r.contains("node3"))
        );
    }
}
