//! `<rsc>-primary-forks` (issue 10): where a node began writing on a
//! timeline it kept. With `restart_on_promote` a promotion is a standby
//! started without `standby.signal`: PostgreSQL keeps the timeline number
//! and no history file records where the new primary's own WAL begins. A
//! node records every such point on its current timeline (one per
//! promotion; a second promotion of the same node must not erase the
//! first, found by an operator attack: the diverged old primary was then
//! "followed"), each with its place in the order of such promotions, and
//! the crash rejoin ([`crate::rejoin`] rows 6a/6b) judges a crashed node's
//! end of WAL against the other nodes' points that came after its own
//! latest promotion.

use crate::lsn::Lsn;

/// How many points a record keeps (the newest): one per promotion by
/// restart on the same timeline. Older ones are forgotten; a node kept
/// down across more promotions than this is judged on the newest only.
pub const MAX_FORK_POINTS: usize = 32;

/// One promotion that kept the timeline: its place in the cluster's order
/// of such promotions on the timeline (`seq`, 1 + the highest any node
/// recorded) and where it began writing. The order is what tells a crashed
/// primary which forks came after its own promotion: LSNs do not (a
/// lagging standby promoted later may fork at an LSN before it; found by
/// the fault schedules with `restart_on_promote`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForkPoint {
    /// The promotion's order on the timeline, from 1.
    pub seq: u64,
    /// Where the promoted node began writing.
    pub lsn: Lsn,
}

/// One node's record: its points on `timeline` of `system_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkRecord {
    /// The timeline the node kept.
    pub timeline: u32,
    /// The system identifier.
    pub system_id: u64,
    /// Its promotions, oldest first, without duplicates.
    pub points: Vec<ForkPoint>,
}

impl ForkRecord {
    /// Parses `<timeline>:<system identifier>:<seq>@<LSN>[,<seq>@<LSN>…]`
    /// (LSNs as the attributes store them, 16 hex digits).
    ///
    /// # Errors
    /// Anything else, in words quoting the value.
    pub fn parse_attr(text: &str) -> Result<ForkRecord, String> {
        let bad = || {
            format!(
                "invalid fork record {} (want <timeline>:<system identifier>:<seq>@<LSN>[,...])",
                crate::quote::quoted(text)
            )
        };
        let mut parts = text.trim().splitn(3, ':');
        let timeline: u32 = parts.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
        let system_id: u64 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let points = parts
            .next()
            .ok_or_else(bad)?
            .split(',')
            .map(|p| {
                let (seq, lsn) = p.trim().split_once('@').ok_or_else(bad)?;
                Ok(ForkPoint {
                    seq: seq.parse().map_err(|_| bad())?,
                    lsn: Lsn::parse_attr(lsn).map_err(|_| bad())?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        if timeline == 0 || points.is_empty() {
            return Err(bad());
        }
        Ok(ForkRecord {
            timeline,
            system_id,
            points,
        })
    }

    /// The attribute value.
    pub fn to_attr(&self) -> String {
        let points: Vec<String> = self
            .points
            .iter()
            .map(|p| format!("{}@{}", p.seq, p.lsn))
            .collect();
        format!("{}:{}:{}", self.timeline, self.system_id, points.join(","))
    }

    /// `previous` with `point` added: the same timeline and system keep
    /// their points (the newest [`MAX_FORK_POINTS`]), another one starts a
    /// new record. Only the very same point (same `seq` and LSN) is not
    /// added twice: a later promotion of the node at an LSN where it once
    /// began writing already is another promotion, and dropping it loses
    /// its place in the order (the fault schedules with
    /// `restart_on_promote` found node2 promoted twice at 0/3000128, the
    /// second dropped as a duplicate, and a node that had written past
    /// 0/3000128 in between "followed" it; issue 10).
    pub fn adding(
        previous: Option<ForkRecord>,
        timeline: u32,
        system_id: u64,
        point: ForkPoint,
    ) -> ForkRecord {
        let mut points = match previous {
            Some(r) if r.timeline == timeline && r.system_id == system_id => r.points,
            _ => Vec::new(),
        };
        if !points.contains(&point) {
            points.push(point);
        }
        points.sort();
        let excess = points.len().saturating_sub(MAX_FORK_POINTS);
        points.drain(..excess);
        ForkRecord {
            timeline,
            system_id,
            points,
        }
    }

    /// The highest `seq` of the record (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.points.iter().map(|p| p.seq).max().unwrap_or(0)
    }

    /// True when the record is about `timeline` of `system_id`.
    pub fn is_on(&self, timeline: u32, system_id: u64) -> bool {
        self.timeline == timeline && self.system_id == system_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let r =
            ForkRecord::parse_attr("1:7300000000000000001:1@0000000003000100,3@0000000003000B00")
                .expect("parses");
        assert_eq!(r.points, vec![pt(1, 0x0300_0100), pt(3, 0x0300_0B00)]);
        assert_eq!(ForkRecord::parse_attr(&r.to_attr()), Ok(r));
        for bad in [
            "",
            "1:2",
            "1:2:",
            "0:2:0000000003000100",
            "1:x:0000000003000100",
            "1:2:zz",
        ] {
            assert!(ForkRecord::parse_attr(bad).is_err(), "{bad}");
        }
    }

    fn pt(seq: u64, lsn: u64) -> ForkPoint {
        ForkPoint { seq, lsn: Lsn(lsn) }
    }

    #[test]
    fn a_second_promotion_keeps_the_first_point() {
        let first = ForkRecord::adding(None, 1, 7, pt(1, 0x100));
        let second = ForkRecord::adding(Some(first), 1, 7, pt(2, 0xB00));
        assert_eq!(second.points, vec![pt(1, 0x100), pt(2, 0xB00)]);
        let again = ForkRecord::adding(Some(second.clone()), 1, 7, pt(2, 0xB00));
        assert_eq!(again, second, "no duplicate");
        let same_lsn = ForkRecord::adding(Some(second.clone()), 1, 7, pt(4, 0xB00));
        assert_eq!(
            same_lsn.points,
            vec![pt(1, 0x100), pt(2, 0xB00), pt(4, 0xB00)],
            "a later promotion at the same LSN keeps its own place in the order"
        );
        assert_eq!(same_lsn.last_seq(), 4);
        let other = ForkRecord::adding(Some(second), 2, 7, pt(3, 0xC00));
        assert_eq!(
            other.points,
            vec![pt(3, 0xC00)],
            "a new timeline starts over"
        );
        let mut many = None;
        for k in 0..(MAX_FORK_POINTS as u64 + 5) {
            many = Some(ForkRecord::adding(many, 1, 7, pt(k + 1, k)));
        }
        let many = many.expect("a record");
        assert_eq!(many.points.len(), MAX_FORK_POINTS);
        assert_eq!(many.points[0], pt(6, 5), "the oldest are dropped");
    }
}
