//! Issue 11 item 4: does one node's WAL hold all of another's, judged by
//! history (the switch points of the timelines it went through), not by
//! timeline numbers alone ("same timeline means the same history").
//!
//! Node A holds a superset of node B when B's position (timeline, LSN)
//! lies on A's history at or before A's position: B's timeline is one A
//! went through (or A's own), begun at the same switch point, and B's WAL
//! ends at or before where A's history left that timeline. The switch
//! points of A's past timelines come from A's own history file
//! (`pg_wal/<A's timeline>.history`, PostgreSQL documentation,
//! "Timelines"), which only A can read: the comparison is made on A (at
//! pre-promote). Without that history, a node on a newer timeline is never
//! taken for a superset (fail closed).

use crate::election::{holds_all_of, Origin};
use crate::lsn::Lsn;
use crate::timeline::HistoryEntry;

/// True when the WAL ending at `mine.0` on `mine.1`, whose own history
/// file lists `my_history` (`None`: not read or unreadable), holds all of
/// the WAL ending at `theirs.0` on `theirs.1`.
///
/// * Another system identifier: false.
/// * The same timeline number: [`holds_all_of`] (the same switch point,
///   from the same kind of source on both sides, and at least as far).
/// * An older timeline of mine: false.
/// * A newer timeline of mine: only with my history, and only when their
///   timeline is one of its lines, that timeline began where their origin
///   says when it says (its switch point, the previous line's; none for
///   timeline 1; an unknown start of theirs is not contradicted), and
///   their WAL ends at or before the line's switch point (where my
///   history left it). A history
///   that does not end at my origin's known switch point, or that lists a
///   timeline not older than mine, is not mine: false.
pub fn holds_all_by_history(
    mine: (Lsn, Origin),
    my_history: Option<&[HistoryEntry]>,
    theirs: (Lsn, Origin),
) -> bool {
    let ((my_lsn, m), (their_lsn, t)) = (mine, theirs);
    if m.system_id != t.system_id {
        return false;
    }
    match m.timeline.cmp(&t.timeline) {
        std::cmp::Ordering::Equal => holds_all_of(mine, theirs),
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => {
            let Some(history) = my_history else {
                return false;
            };
            let Some(last) = history.last() else {
                return false;
            };
            if last.parent >= m.timeline || m.switch_point.is_some_and(|sp| sp != last.switch_point)
            {
                return false;
            }
            let Some(k) = history.iter().position(|e| e.parent == t.timeline) else {
                return false;
            };
            let began = k.checked_sub(1).map(|p| history[p].switch_point);
            if t.timeline > 1 && began.is_none() {
                return false;
            }
            // Their known start must be the one my history gives (another
            // start is a fork of the same number). An unknown one (their
            // history file unreadable, or a simulator without history
            // files) is judged by (timeline, position) alone, the rule of
            // issue 11 item 4, with the known limit of a fork of the same
            // number that the same-timeline rule carries too.
            t.switch_point.is_none_or(|sp| Some(sp) == began)
                && their_lsn <= history[k].switch_point
                && my_lsn >= their_lsn
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYS: u64 = 7300000000000000001;

    fn tl(timeline: u32, sp: Option<u64>) -> Origin {
        Origin {
            timeline,
            system_id: SYS,
            switch_point: sp.map(Lsn),
        }
    }

    fn line(parent: u32, sp: u64) -> HistoryEntry {
        HistoryEntry {
            parent,
            switch_point: Lsn(sp),
        }
    }

    #[test]
    fn a_lagging_node_on_an_older_timeline_lies_on_my_history() {
        // Timeline 1 ended at 0x28; I am on timeline 2 at 0x128.
        let h = [line(1, 0x28)];
        let me = (Lsn(0x128), tl(2, None));
        assert!(holds_all_by_history(me, Some(&h), (Lsn(0x28), tl(1, None))));
        assert!(holds_all_by_history(me, Some(&h), (Lsn(0x20), tl(1, None))));
        // Past the switch point: their timeline-1 WAL is not mine.
        assert!(!holds_all_by_history(
            me,
            Some(&h),
            (Lsn(0x30), tl(1, None))
        ));
        // My origin's switch point must be my history's last one.
        let me_sp = (Lsn(0x128), tl(2, Some(0x28)));
        assert!(holds_all_by_history(
            me_sp,
            Some(&h),
            (Lsn(0x28), tl(1, None))
        ));
        let me_other = (Lsn(0x128), tl(2, Some(0x30)));
        assert!(!holds_all_by_history(
            me_other,
            Some(&h),
            (Lsn(0x28), tl(1, None))
        ));
    }

    #[test]
    fn without_my_history_a_newer_timeline_is_no_superset() {
        let me = (Lsn(0x128), tl(2, Some(0x28)));
        assert!(!holds_all_by_history(me, None, (Lsn(0x28), tl(1, None))));
        assert!(!holds_all_by_history(
            me,
            Some(&[]),
            (Lsn(0x28), tl(1, None))
        ));
    }

    #[test]
    fn two_switches_compare_the_middle_timeline_by_its_start_and_end() {
        // 1 ended at 0x40, 2 ended at 0x80; I am on 3.
        let h = [line(1, 0x40), line(2, 0x80)];
        let me = (Lsn(0x200), tl(3, Some(0x80)));
        // On timeline 1 past 0x40: diverged from my history (the old
        // single-switch-point rule took it for a superset: 0x60 <= 0x80).
        assert!(!holds_all_by_history(
            me,
            Some(&h),
            (Lsn(0x60), tl(1, None))
        ));
        assert!(holds_all_by_history(me, Some(&h), (Lsn(0x40), tl(1, None))));
        // Timeline 2 begun at 0x40, up to 0x80: mine.
        assert!(holds_all_by_history(
            me,
            Some(&h),
            (Lsn(0x70), tl(2, Some(0x40)))
        ));
        assert!(!holds_all_by_history(
            me,
            Some(&h),
            (Lsn(0x90), tl(2, Some(0x40)))
        ));
        // Another timeline 2 (begun at 0x30): a fork, not mine.
        assert!(!holds_all_by_history(
            me,
            Some(&h),
            (Lsn(0x70), tl(2, Some(0x30)))
        ));
        // Their timeline 2 with an unreadable history: judged by (timeline,
        // position) on my history (their start unknown, not contradicted).
        assert!(holds_all_by_history(me, Some(&h), (Lsn(0x70), tl(2, None))));
        assert!(!holds_all_by_history(
            me,
            Some(&h),
            (Lsn(0x90), tl(2, None))
        ));
        // Timeline 1 never has a start: one given is not timeline 1's.
        assert!(!holds_all_by_history(
            me,
            Some(&h),
            (Lsn(0x40), tl(1, Some(0x10)))
        ));
    }

    #[test]
    fn skipped_timeline_numbers_are_not_guessed() {
        // I went from 1 to 3 (2 existed elsewhere): their 2 is not mine.
        let h = [line(1, 0x40)];
        let me = (Lsn(0x200), tl(3, Some(0x40)));
        assert!(!holds_all_by_history(
            me,
            Some(&h),
            (Lsn(0x40), tl(2, Some(0x40)))
        ));
        assert!(holds_all_by_history(me, Some(&h), (Lsn(0x40), tl(1, None))));
    }

    #[test]
    fn the_same_timeline_and_the_rest_follow_the_origin_rule() {
        let me = (Lsn(0x60), tl(2, Some(0x40)));
        assert!(holds_all_by_history(
            me,
            None,
            (Lsn(0x50), tl(2, Some(0x40)))
        ));
        assert!(!holds_all_by_history(
            me,
            None,
            (Lsn(0x50), tl(2, Some(0x30)))
        ));
        assert!(!holds_all_by_history(
            me,
            None,
            (Lsn(0x70), tl(2, Some(0x40)))
        ));
        // An older timeline of mine never holds a newer one.
        assert!(!holds_all_by_history(
            me,
            None,
            (Lsn(0x50), tl(3, Some(0x50)))
        ));
        // Another system.
        let other = Origin {
            system_id: 42,
            ..tl(2, Some(0x40))
        };
        assert!(!holds_all_by_history(
            (Lsn(0x60), other),
            None,
            (Lsn(0x50), tl(2, Some(0x40)))
        ));
        // A history listing my own timeline or a newer one is not mine.
        let bad = [line(1, 0x40), line(2, 0x80)];
        assert!(!holds_all_by_history(
            (Lsn(0x200), tl(2, None)),
            Some(&bad),
            (Lsn(0x40), tl(1, None))
        ));
    }
}
