//! Timeline history files (`pg_wal/0000000N.history`) and which timeline a
//! standby may be ranked on in the election.
//!
//! A history file of timeline N lists, one line per ancestor, `<parent
//! timeline> <switch point LSN> <reason>`: timeline `parent` ended at the
//! switch point and timeline N (or a later ancestor) began there
//! (PostgreSQL documentation, "Timelines", and `src/backend/access/transam/
//! timeline.c`). A standby's checkpoint timeline moves only at restartpoints,
//! so right after following a promotion it still shows the old timeline
//! while the new history file is already in `pg_wal`.
//!
//! Rule (issue 9 item 4): a node on checkpoint timeline T is ranked on the
//! newest timeline N whose history file holds a switch point S for T with
//! the node's end of WAL ≤ S — it holds nothing beyond the fork, so it can
//! follow N. A node whose WAL goes past S has diverged from N (its WAL after
//! S is not N's) and is ranked on its own timeline T.

use serde::Serialize;

use crate::lsn::Lsn;

/// One line of a history file: `parent` ended at `switch_point`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// The ancestor timeline that ended.
    pub parent: u32,
    /// Where it ended (the first LSN of the next timeline).
    pub switch_point: Lsn,
}

/// Parses a history file's text. Blank lines and `#` comments are skipped.
///
/// # Errors
/// A line whose first two fields are not a timeline number and an LSN
/// (`X/Y`), or a parent not greater than the previous line's.
pub fn parse_history(text: &str) -> Result<Vec<HistoryEntry>, String> {
    let mut out: Vec<HistoryEntry> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let bad = || {
            format!(
                "invalid timeline history line {}",
                crate::quote::quoted(line)
            )
        };
        let parent: u32 = fields.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        let switch_point = Lsn::parse_pg(fields.next().ok_or_else(bad)?).map_err(|_| bad())?;
        if out.last().is_some_and(|p| p.parent >= parent) {
            return Err(format!(
                "timeline history is not in ascending order at {}",
                crate::quote::quoted(line)
            ));
        }
        out.push(HistoryEntry {
            parent,
            switch_point,
        });
    }
    Ok(out)
}

/// The timeline number of a WAL directory entry named like a history file
/// (`0000000A.history` → 10).
pub fn history_file_timeline(name: &str) -> Option<u32> {
    let t = name.strip_suffix(".history")?;
    if t.len() != 8 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(t, 16).ok()
}

/// The history file name of timeline `tli` (`0000000A.history`).
pub fn history_file_name(tli: u32) -> String {
    format!("{tli:08X}.history")
}

/// On which timeline a node is ranked, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ranking {
    /// The timeline the node is ranked on.
    pub timeline: u32,
    /// Where that timeline began (its history's last switch point), when known.
    pub switch_point: Option<Lsn>,
    /// History files the node cannot follow, in words (for a warning).
    pub diverged: Vec<String>,
}

/// Decides the ranking timeline of a node on checkpoint timeline `own`
/// whose WAL ends at `end` (its received/flushed end of WAL; the greater of
/// receive and replay when the receiver reports nothing). `histories` holds
/// the parsed history files found in the WAL directory, by timeline.
/// `own_switch` is the switch point of `own` (from `own`'s history file), if known.
pub fn rank(own: u32, end: Lsn, histories: &[(u32, Vec<HistoryEntry>)]) -> Ranking {
    let own_switch = histories
        .iter()
        .find(|(t, _)| *t == own)
        .and_then(|(_, h)| h.last().map(|e| e.switch_point));
    let mut best = Ranking {
        timeline: own,
        switch_point: own_switch,
        diverged: Vec::new(),
    };
    let mut newer: Vec<&(u32, Vec<HistoryEntry>)> =
        histories.iter().filter(|(t, _)| *t > own).collect();
    newer.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    for (tli, entries) in newer {
        let Some(fork) = entries.iter().find(|e| e.parent == own) else {
            best.diverged.push(format!(
                "timeline {tli} does not descend from my timeline {own}"
            ));
            continue;
        };
        if end <= fork.switch_point {
            best.timeline = *tli;
            best.switch_point = entries.last().map(|e| e.switch_point);
            return best;
        }
        best.diverged.push(format!(
            "timeline {tli} forked from my timeline {own} at {}, but my WAL goes on to {}",
            fork.switch_point.to_pg(),
            end.to_pg()
        ));
    }
    best
}

/// The newest timeline found by probing `own + 1`, `own + 2`, … in
/// `histories` until one is missing (PostgreSQL's `findNewestTimeLine`,
/// `timeline.c`); `None` when `own + 1` is missing.
fn newest_consecutive(own: u32, histories: &[(u32, Vec<HistoryEntry>)]) -> Option<u32> {
    let has = |t: u32| histories.iter().any(|(tli, _)| *tli == t);
    let mut newest = None;
    let mut probe = own;
    while let Some(next) = probe.checked_add(1).filter(|t| has(*t)) {
        newest = Some(next);
        probe = next;
    }
    newest
}

/// The history files a node on timeline `own` may be ranked by: its own,
/// and the newest timeline N found by probing `own + 1`, `own + 2`, …
/// until a file is missing (PostgreSQL's `findNewestTimeLine`), when N
/// descends from `own` with its fork at or after `checkpoint` (unknown:
/// its own only, fail closed):
/// recovery refuses any other target and never falls back to an older one
/// (`xlogrecovery.c`). Found by the third attack on issue 11's baseline:
/// the election's origin ranked a streaming standby on a timeline forked
/// before its checkpoint.
pub fn followable(
    own: u32,
    checkpoint: Option<Lsn>,
    histories: Vec<(u32, Vec<HistoryEntry>)>,
) -> Vec<(u32, Vec<HistoryEntry>)> {
    let newest = newest_consecutive(own, &histories);
    histories
        .into_iter()
        .filter(|(t, entries)| {
            *t == own
                || (Some(*t) == newest
                    && entries.iter().any(|e| {
                        e.parent == own && checkpoint.is_some_and(|c| e.switch_point >= c)
                    }))
        })
        .collect()
}

/// The end of a node's WAL on the history its recovery follows, read by
/// [`end_on_followed_history`], and the timeline it is ranked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HistoryEnd {
    /// The end of the local WAL along the followed history.
    pub end: Lsn,
    /// The end of the own (control file's) timeline's part, at or before the
    /// followed timeline's fork from it.
    pub own_part: Lsn,
    /// The newer timeline the node's recovery follows, if any.
    pub followed: Option<u32>,
    /// The timeline the node is ranked on: the followed one, else its own.
    pub timeline: u32,
    /// Where that timeline began (its history's last switch point), when known.
    pub switch_point: Option<Lsn>,
}

/// The end of the WAL in a stopped or recovering node's `pg_wal` on the
/// history its recovery replays (issue 11, found by the attacks on the
/// master-baseline's `pg_wal` reading): `own` and `checkpoint` are the
/// control file's timeline and checkpoint location, `histories` every
/// history file in `pg_wal` of `own` and newer (all read: a file that could
/// not be read must fail the caller, not be left out), and `read(timeline,
/// from)` the end of the valid WAL on `timeline` from `from` (`pg_waldump`).
///
/// Rule: recovery with `recovery_target_timeline = 'latest'` (PostgreSQL's
/// default from 12) follows the newest timeline N found by probing `own +
/// 1`, `own + 2`, … until a history file is missing (`findNewestTimeLine`,
/// `timeline.c`); N must descend from `own` with its fork at or after the
/// checkpoint, or recovery refuses it (`xlogrecovery.c`). The WAL is then
/// read hop by hop along N's history: each timeline from where it began up
/// to its switch point, N from its last switch point. Trailing hops that
/// cannot be read end the chain when the last hop read ended before its
/// switch point (the node never reached them). Without N, the own
/// timeline's end is the end.
///
/// # Errors
/// Fail closed, in words: a read failed; N does not descend from `own` or
/// forked before the checkpoint; a timeline's WAL goes on past its switch
/// point on the followed history (bytes of a divergence the node replayed
/// or stale bytes recovery skips: from the files alone nobody can tell
/// which); or a hop cannot be read after one that reached its switch point
/// or before one that can be read (recovery reads a segment from the newest
/// timeline's file holding it, `XLogFileReadAnyTLI`: such a hop may sit in
/// a later file, or be a hole; a liveness cost — no baseline — where the
/// node was healthy).
pub fn end_on_followed_history(
    own: u32,
    checkpoint: Lsn,
    histories: &[(u32, Vec<HistoryEntry>)],
    mut read: impl FnMut(u32, Lsn) -> Result<Lsn, String>,
) -> Result<HistoryEnd, String> {
    let of = |t: u32| histories.iter().find(|(tli, _)| *tli == t).map(|(_, h)| h);
    let own_switch = of(own).and_then(|h| h.last()).map(|e| e.switch_point);
    let Some(tli) = newest_consecutive(own, histories) else {
        let raw = read(own, checkpoint)?;
        return Ok(HistoryEnd {
            end: raw,
            own_part: raw,
            followed: None,
            timeline: own,
            switch_point: own_switch,
        });
    };
    let entries = of(tli).map(Vec::as_slice).unwrap_or_default();
    let Some(k) = entries.iter().position(|e| e.parent == own) else {
        return Err(format!(
            "timeline {tli}, the newest in pg_wal, does not descend from my timeline {own}"
        ));
    };
    if entries[k].switch_point < checkpoint {
        return Err(format!(
            "timeline {tli}, the newest in pg_wal, forked from my timeline {own} at {}, before my checkpoint {}",
            entries[k].switch_point.to_pg(),
            checkpoint.to_pg()
        ));
    }
    // The hops: (timeline, where it began, where it ended on N's history).
    let mut hops = vec![(own, checkpoint, Some(entries[k].switch_point))];
    for w in entries[k..].windows(2) {
        hops.push((w[1].parent, w[0].switch_point, Some(w[1].switch_point)));
    }
    let last = entries.last().map(|e| e.switch_point);
    hops.push((tli, last.unwrap_or(checkpoint), None));
    let mut end = Lsn::ZERO;
    let mut own_part = Lsn::ZERO;
    // Recovery reads each segment from the newest timeline's file that
    // holds it (`XLogFileReadAnyTLI`), so a hop missing under its own name
    // may sit in a later timeline's file, or not at all: which, the files
    // alone do not tell without the segment geometry. An unreadable hop
    // after one that reached its switch point, or followed by a readable
    // one, fails closed; trailing unreadable hops after one that ended
    // before its switch point end the chain (the node never reached them).
    let mut reached = true;
    for (i, &(t, start, bound)) in hops.iter().enumerate() {
        let got = match read(t, start.max(checkpoint)) {
            Ok(e) => e,
            Err(e) if i == 0 => return Err(e),
            Err(e) if reached => {
                return Err(format!(
                    "my WAL reached timeline {t}'s start {} but its WAL cannot be read: {e}",
                    start.to_pg()
                ))
            }
            Err(_) => {
                for &(later, from, _) in &hops[i + 1..] {
                    if read(later, from.max(checkpoint)).is_ok() {
                        return Err(format!(
                            "timeline {t}'s WAL cannot be read but timeline {later}'s can: the segments between cannot be told apart"
                        ));
                    }
                }
                break;
            }
        };
        if let Some(b) = bound.filter(|b| got > *b) {
            return Err(format!(
                "my timeline {t} WAL in pg_wal goes on to {} past {}, where the history my recovery follows (timeline {tli}) left it",
                got.to_pg(),
                b.to_pg()
            ));
        }
        if i == 0 {
            own_part = got;
        }
        end = end.max(got);
        reached = bound.is_none_or(|b| got >= b);
    }
    Ok(HistoryEnd {
        end,
        own_part,
        followed: Some(tli),
        timeline: tli,
        switch_point: last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(lines: &str) -> Vec<HistoryEntry> {
        parse_history(lines).unwrap()
    }

    fn lsn(s: &str) -> Lsn {
        Lsn::parse_pg(s).unwrap()
    }

    /// A `pg_wal` holding WAL of timeline 1 up to `t1_end` and of timeline
    /// 2 up to `t2_end` (None: no segment of that timeline).
    fn reader(
        t1_end: Option<Lsn>,
        t2_end: Option<Lsn>,
    ) -> impl FnMut(u32, Lsn) -> Result<Lsn, String> {
        move |t, from| {
            let e = match t {
                1 => t1_end,
                2 => t2_end,
                _ => None,
            };
            match e {
                Some(e) if e >= from => Ok(e),
                _ => Err(format!(
                    "no valid record on timeline {t} after {}",
                    from.to_pg()
                )),
            }
        }
    }

    #[test]
    fn the_end_without_a_newer_history_is_the_own_timeline_end() {
        let e = end_on_followed_history(
            1,
            lsn("0/2000000"),
            &[],
            reader(Some(lsn("0/5000000")), None),
        )
        .unwrap();
        assert_eq!(
            (e.end, e.own_part, e.followed),
            (lsn("0/5000000"), lsn("0/5000000"), None)
        );
    }

    /// The attack on issue 11's baseline (BLOCKER 1): a lagging control
    /// file on timeline 1 and bytes of timeline 1 past the switch point in
    /// `pg_wal` must not raise the end; the node is ambiguous: fail closed.
    #[test]
    fn old_timeline_bytes_past_the_fork_fail_closed() {
        let hist = vec![(2, h("1 0/3000100 promoted"))];
        let r = end_on_followed_history(
            1,
            lsn("0/2000000"),
            &hist,
            reader(Some(lsn("0/3500000")), Some(lsn("0/3200000"))),
        );
        let err = r.unwrap_err();
        assert!(err.contains("past 0/3000100"), "{err}");
    }

    #[test]
    fn the_followed_timeline_counts_from_its_switch_point() {
        let hist = vec![(2, h("1 0/3000100 promoted"))];
        let e = end_on_followed_history(
            1,
            lsn("0/2000000"),
            &hist,
            reader(Some(lsn("0/3000100")), Some(lsn("0/3800000"))),
        )
        .unwrap();
        assert_eq!(e.end, lsn("0/3800000"));
        assert_eq!(e.own_part, lsn("0/3000100"));
        assert_eq!(e.followed, Some(2));
        // rank, given the own part, follows timeline 2 as recovery does.
        assert_eq!(rank(1, e.own_part, &hist).timeline, 2);
    }

    #[test]
    fn a_node_at_the_fork_whose_new_timeline_cannot_be_read_fails_closed() {
        let hist = vec![(2, h("1 0/3000100 promoted"))];
        let r = end_on_followed_history(
            1,
            lsn("0/2000000"),
            &hist,
            reader(Some(lsn("0/3000100")), None),
        );
        assert!(r.is_err());
        // Before the fork it holds nothing of timeline 2: its own end.
        let e = end_on_followed_history(
            1,
            lsn("0/2000000"),
            &hist,
            reader(Some(lsn("0/2800000")), None),
        )
        .unwrap();
        assert_eq!((e.end, e.followed), (lsn("0/2800000"), Some(2)));
    }

    #[test]
    fn several_hops_read_each_timeline_of_the_followed_history() {
        let hist = vec![
            (2, h("1 0/3000100 promoted")),
            (3, h("1 0/3000100 promoted\n2 0/4000000 promoted")),
        ];
        let mut asked = Vec::new();
        let e = end_on_followed_history(1, lsn("0/2000000"), &hist, |t, from| {
            asked.push((t, from));
            Ok(match t {
                1 => lsn("0/3000100"),
                2 => lsn("0/4000000"),
                _ => lsn("0/4500000"),
            })
        })
        .unwrap();
        assert_eq!(
            (e.end, e.followed, e.timeline),
            (lsn("0/4500000"), Some(3), 3)
        );
        assert_eq!(e.switch_point, Some(lsn("0/4000000")));
        assert_eq!(
            asked,
            vec![
                (1, lsn("0/2000000")),
                (2, lsn("0/3000100")),
                (3, lsn("0/4000000"))
            ]
        );
    }

    /// PostgreSQL probes history files one number after the other: with 2
    /// and 4 but no 3, recovery follows 2.
    #[test]
    fn the_followed_timeline_is_the_last_of_consecutive_history_files() {
        let hist = vec![
            (2, h("1 0/3000100 promoted")),
            (4, h("1 0/3000100 promoted\n3 0/4000000 promoted")),
        ];
        let e = end_on_followed_history(
            1,
            lsn("0/2000000"),
            &hist,
            reader(Some(lsn("0/3000100")), Some(lsn("0/3800000"))),
        )
        .unwrap();
        assert_eq!((e.end, e.followed), (lsn("0/3800000"), Some(2)));
    }

    /// The newest history file forked before the checkpoint or from another
    /// timeline: recovery refuses it (a stopped node would not start), the
    /// node is ambiguous: fail closed.
    #[test]
    fn a_newest_timeline_recovery_refuses_fails_closed() {
        for text in ["1 0/1000000 promoted", "7 0/3000100 promoted"] {
            let hist = vec![(2, h(text))];
            let r = end_on_followed_history(
                1,
                lsn("0/2000000"),
                &hist,
                reader(Some(lsn("0/5000000")), None),
            );
            assert!(r.is_err(), "{text}: {r:?}");
        }
    }

    /// Found by the attack on eed8e06 (MAJOR), fixed since: a multi-hop history where the node's
    /// recovery is on the intermediate timeline. Timeline 2 forked from 1 at
    /// 0/3000100 (after the checkpoint), timeline 3 from 2 at 0/5000000.
    /// The node replayed timeline 1 to the fork and then streamed timeline 2
    /// to 0/4800000 (valid WAL, before 3's fork): it has nothing of timeline
    /// 3 yet. Its end of WAL is 0/4800000 on the followed history
    /// (1 -> 2 -> 3), but the rule reads only timeline 3 from 0/5000000,
    /// finds nothing and fails closed: a healthy standby (possibly the one
    /// holding acknowledged writes) gets no baseline and the promotion of
    /// another node goes on.
    #[test]
    fn an_intermediate_timeline_of_the_followed_history_counts() {
        let hist = vec![
            (2, h("1 0/3000100 promoted")),
            (3, h("1 0/3000100 promoted\n2 0/5000000 promoted")),
        ];
        let r = end_on_followed_history(
            1,
            lsn("0/2000000"),
            &hist,
            reader(Some(lsn("0/3000100")), Some(lsn("0/4800000"))),
        );
        let e = r.expect("a node on timeline 2 before 3's fork is not ambiguous");
        assert_eq!(e.end, lsn("0/4800000"));
    }

    /// Found by the attack on eed8e06 (MINOR, consistency), fixed since: the ambiguity the rule
    /// fails closed on for the own timeline (bytes past the fork) is not
    /// checked for an intermediate timeline: timeline 2's WAL goes on to
    /// 0/5800000, past timeline 3's fork from it at 0/5000000, and the end
    /// is taken from timeline 3 without a word.
    #[test]
    fn intermediate_timeline_bytes_past_its_fork_are_ambiguous_too() {
        let hist = vec![
            (2, h("1 0/3000100 promoted")),
            (3, h("1 0/3000100 promoted\n2 0/5000000 promoted")),
        ];
        let r = end_on_followed_history(1, lsn("0/2000000"), &hist, |t, from| match t {
            1 => Ok(lsn("0/3000100")),
            2 => Ok(lsn("0/5800000").max(from)),
            3 if from <= lsn("0/5400000") => Ok(lsn("0/5400000")),
            _ => Err("no WAL".into()),
        });
        assert!(r.is_err(), "{r:?}");
    }

    /// Third attack on ae3cb15 (BLOCKER class, under-count): recovery picks,
    /// for each segment, the file of the newest timeline on its history
    /// whose start segment is at or before it (`XLogFileReadAnyTLI`,
    /// xlogrecovery.c); a segment restored from the archive is kept in
    /// `pg_wal` under that newest timeline's name only (the older
    /// timelines' copies are archived as `.partial`, which restore_command
    /// is never asked for). Timelines 2 and 3 began in segment 3 (two quick
    /// failovers, 0/3000100 and 0/3000200); `00000001…03` ends at 0/3000080
    /// (received before the first failover), there is no `00000002…03`,
    /// and `00000003…03` plus later segments hold the WAL up to 0/3800000,
    /// which recovery replays (and this sync standby may have
    /// acknowledged). The `break` on an unreadable hop after one that ended
    /// early returns 0/3000080 as if certain: a standby at 0/3500000 on
    /// timeline 3 then holds "more" and takes over. Either count 0/3800000
    /// or fail closed; never a lower end.
    #[test]
    fn a_later_timeline_holding_the_switch_segment_is_not_cut_off_by_an_early_hop() {
        let hist = vec![
            (2, h("1 0/3000100 promoted")),
            (3, h("1 0/3000100 promoted\n2 0/3000200 promoted")),
        ];
        let r = end_on_followed_history(1, lsn("0/2000000"), &hist, |t, from| match t {
            1 => Ok(lsn("0/3000080")),
            3 if from <= lsn("0/3800000") => Ok(lsn("0/3800000")),
            _ => Err(format!("could not find file of timeline {t}")),
        });
        assert!(
            r.as_ref().map_or(true, |e| e.end >= lsn("0/3800000")),
            "under-counted end {:?} although timeline 3's WAL to 0/3800000 is in pg_wal",
            r.map(|e| e.end.to_pg())
        );
    }

    /// Third attack on ae3cb15 (MAJOR, a healthy standby fails closed): the
    /// same two failovers in segment 3, the own timeline's file reaching
    /// the first switch point exactly, no `00000002…03` (the segment is
    /// kept only as `00000003…03`, which holds timeline 2's 0/3000100 to
    /// 0/3000200 too), timeline 3's WAL readable to 0/3800000. Recovery
    /// replays all of it; the rule fails closed ("reached timeline 2's
    /// start but its WAL cannot be read").
    #[test]
    fn an_intermediate_timeline_kept_only_in_the_next_timelines_segment_is_healthy() {
        let hist = vec![
            (2, h("1 0/3000100 promoted")),
            (3, h("1 0/3000100 promoted\n2 0/3000200 promoted")),
        ];
        let r = end_on_followed_history(1, lsn("0/2000000"), &hist, |t, from| match t {
            1 => Ok(lsn("0/3000100")),
            3 if from <= lsn("0/3800000") => Ok(lsn("0/3800000")),
            _ => Err(format!("could not find file of timeline {t}")),
        });
        // Fail closed since the fourth attack (the same files may be a
        // hole: `a_skipped_hop_is_not_bridged_across_segments_the_later_
        // timeline_cannot_hold`); the cost is no baseline, never a wrong one.
        assert!(r.is_err(), "{r:?}");
    }

    /// Fourth attack on 67a065d (MAJOR, over-count): the skip of an
    /// unreadable hop assumes the later timeline's file holds the skipped
    /// WAL (`XLogFileReadAnyTLI`), which is true only within the segment
    /// where the later timeline begins: recovery never reads a timeline's
    /// file for a segment before its begin segment. Timeline 2 began at
    /// 0/3000100 (segment 3), timeline 3 at 0/5000200 (segment 5); the own
    /// timeline's WAL reaches 0/3000100 (case a) or stops at 0/2800000 in
    /// segment 2 (case b); no WAL of timeline 2 can be read; timeline 3's
    /// WAL from 0/5000200 to 0/5800000 is in `pg_wal` (stale or restored
    /// segments). Segments 3 and 4 exist on no timeline: recovery stops at
    /// 0/3000100 (0/2800000), but the reading counts 0/5800000, so this
    /// standby's baseline holds "more" than a promotee at 0/4000000 and it
    /// takes over, behind. ae3cb15 failed closed in case (a).
    #[test]
    fn a_skipped_hop_is_not_bridged_across_segments_the_later_timeline_cannot_hold() {
        let hist = vec![
            (2, h("1 0/3000100 promoted")),
            (3, h("1 0/3000100 promoted\n2 0/5000200 promoted")),
        ];
        for own_end in ["0/3000100", "0/2800000"] {
            let r = end_on_followed_history(1, lsn("0/2000000"), &hist, |t, from| match t {
                1 => Ok(lsn(own_end)),
                3 if from <= lsn("0/5800000") => Ok(lsn("0/5800000")),
                _ => Err(format!("could not find file of timeline {t}")),
            });
            assert!(
                r.as_ref().map_or(true, |e| e.end <= lsn("0/3000100")),
                "own timeline to {own_end}, timeline 2 unreadable: counted {:?} across segments 3 and 4, which no timeline's file holds",
                r.map(|e| e.end.to_pg())
            );
        }
    }

    #[test]
    fn only_the_newest_consecutive_followable_history_ranks() {
        let two = (2, h("1 0/3000100 promoted"));
        let four = (4, h("1 0/3000100 promoted\n3 0/4000000 promoted"));
        let kept =
            |c, hs| -> Vec<u32> { followable(1, c, hs).into_iter().map(|(t, _)| t).collect() };
        assert_eq!(
            kept(Some(lsn("0/2000000")), vec![two.clone(), four.clone()]),
            vec![2]
        );
        // Without the checkpoint nothing newer ranks the node.
        assert!(kept(None, vec![two.clone(), four.clone()]).is_empty());
        assert_eq!(kept(Some(lsn("0/2000000")), vec![two.clone()]), vec![2]);
        // Forked before the checkpoint: refused, and no older one instead.
        assert!(kept(Some(lsn("0/3500000")), vec![two.clone()]).is_empty());
        let three = (3, h("1 0/2800000 promoted\n2 0/3000000 promoted"));
        let three_from_1 = (3, h("1 0/1000000 promoted"));
        assert_eq!(
            kept(Some(lsn("0/2000000")), vec![two.clone(), three]),
            vec![3]
        );
        assert!(kept(Some(lsn("0/2000000")), vec![two, three_from_1]).is_empty());
    }

    #[test]
    fn parses_postgres_history_files() {
        let e = h("1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tbefore 2026\n");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].parent, 1);
        assert_eq!(e[0].switch_point, Lsn::parse_pg("0/3000158").unwrap());
        assert!(parse_history("x 0/1").is_err());
        assert!(parse_history("1 nowhere").is_err());
        assert!(parse_history("2 0/1\n1 0/2").is_err());
        assert_eq!(history_file_timeline("0000000A.history"), Some(10));
        assert_eq!(history_file_timeline("0000000A.history.partial"), None);
        assert_eq!(history_file_name(10), "0000000A.history");
    }

    #[test]
    fn a_node_at_or_before_the_switch_point_follows_the_new_timeline() {
        let hist = vec![(2, h("1 0/3000100 promoted"))];
        let r = rank(1, Lsn::parse_pg("0/3000100").unwrap(), &hist);
        assert_eq!(r.timeline, 2);
        assert_eq!(r.switch_point, Lsn::parse_pg("0/3000100").ok());
        assert!(r.diverged.is_empty());
    }

    #[test]
    fn a_node_past_the_switch_point_has_diverged_and_keeps_its_timeline() {
        let hist = vec![(2, h("1 0/3000100 promoted"))];
        let r = rank(1, Lsn::parse_pg("0/3000200").unwrap(), &hist);
        assert_eq!(r.timeline, 1);
        assert_eq!(r.switch_point, None);
        assert_eq!(r.diverged.len(), 1, "{r:?}");
        assert!(r.diverged[0].contains("forked"));
    }

    #[test]
    fn the_newest_followable_timeline_wins_and_its_switch_point_is_reported() {
        let hist = vec![
            (2, h("1 0/3000100 a")),
            (3, h("1 0/3000100 a\n2 0/4000000 b")),
        ];
        let r = rank(1, Lsn::parse_pg("0/3000000").unwrap(), &hist);
        assert_eq!(
            (r.timeline, r.switch_point),
            (3, Lsn::parse_pg("0/4000000").ok())
        );
        // Own history file gives the own switch point.
        let r = rank(2, Lsn::parse_pg("0/5000000").unwrap(), &hist);
        assert_eq!(r.timeline, 2, "past timeline 3's fork from 2");
        assert_eq!(r.switch_point, Lsn::parse_pg("0/3000100").ok());
    }
}
