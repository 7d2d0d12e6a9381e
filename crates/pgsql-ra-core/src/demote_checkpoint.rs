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
        let bad = || format!("not <timeline>:<LSN>: {text:?}");
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

/// The candidate's check before `pg_ctl promote`. `own_timeline` is the
/// timeline the candidate's WAL is on (`None`: the server does not report
/// it; every checkpoint is then compared by LSN), `own_end` the greater of
/// its replay and receive locations. For every other node's published
/// checkpoint:
///
/// | checkpoint | verdict |
/// |---|---|
/// | absent | ignored |
/// | unreadable or not `<timeline>:<LSN>` | refuse (fail closed) |
/// | on the candidate's timeline (or timeline unknown) | `own_end` must be > its LSN |
/// | on a newer timeline than the candidate's | refuse: it never received that timeline |
/// | on an older timeline | ignored: the candidate's timeline already superseded it |
pub fn check(own_timeline: Option<u32>, own_end: Lsn, published: &[Published]) -> Verdict {
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
        match own_timeline {
            Some(mine) if ckpt.timeline < mine => continue,
            Some(mine) if ckpt.timeline > mine => {
                return Verdict::Refuse(format!(
                    "{} was demoted cleanly on timeline {}, newer than my timeline {mine}: I did not receive its WAL; it can be promoted again",
                    p.node, ckpt.timeline
                ))
            }
            _ => {}
        }
        checked += 1;
        if own_end <= ckpt.lsn {
            return Verdict::Refuse(format!(
                "{} was demoted cleanly with its shutdown checkpoint at {} on timeline {}, and my WAL ends at {}: I did not receive it, promoting me would fork; it can be promoted again",
                p.node,
                ckpt.lsn.to_pg(),
                ckpt.timeline,
                own_end.to_pg()
            ));
        }
    }
    Verdict::Received { checked }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            check(Some(2), Lsn(0x0300_0478), &p),
            Verdict::Received { checked: 1 }
        );
        for end in [0x0300_0400, 0x0300_0100] {
            match check(Some(2), Lsn(end), &p) {
                Verdict::Refuse(r) => {
                    assert!(r.contains("node1") && r.contains("0/3000400"), "{r}")
                }
                v => panic!("{end:x}: {v:?}"),
            }
        }
        // Timeline unknown: compared by LSN alone.
        assert!(matches!(
            check(None, Lsn(0x0300_0400), &p),
            Verdict::Refuse(_)
        ));
        assert_eq!(
            check(None, Lsn(0x0300_0401), &p),
            Verdict::Received { checked: 1 }
        );
    }

    #[test]
    fn timelines_newer_refuse_older_are_superseded() {
        let p = [published("node1", Some("3:0000000003000400"))];
        assert!(matches!(
            check(Some(2), Lsn(u64::MAX), &p),
            Verdict::Refuse(_)
        ));
        assert_eq!(
            check(Some(4), Lsn(0x0300_0000), &p),
            Verdict::Received { checked: 0 }
        );
    }

    #[test]
    fn absent_is_ignored_unreadable_or_garbled_refuses() {
        let none = [published("node1", None)];
        assert_eq!(
            check(Some(1), Lsn::ZERO, &none),
            Verdict::Received { checked: 0 }
        );
        let garbled = [published("node1", Some("disconnect"))];
        assert!(
            matches!(check(Some(1), Lsn(u64::MAX), &garbled), Verdict::Refuse(r) if r.contains("unrecognised"))
        );
        let unreadable = [Published {
            node: "node3".into(),
            value: Err("crm_attribute timed out".into()),
        }];
        assert!(
            matches!(check(Some(1), Lsn(u64::MAX), &unreadable), Verdict::Refuse(r) if r.contains("node3"))
        );
    }
}
