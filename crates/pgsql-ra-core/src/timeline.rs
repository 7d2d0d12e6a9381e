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

/// The end of a node's WAL on the history its recovery follows, read by
/// [`end_on_followed_history`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HistoryEnd {
    /// The end of the local WAL on the followed history: the own timeline's
    /// part, then the followed timeline's.
    pub end: Lsn,
    /// The end of the own (control file's) timeline's part, at or before the
    /// followed timeline's switch point: the end [`rank`] is given.
    pub own_part: Lsn,
    /// The newer timeline the node's recovery follows, if any.
    pub followed: Option<u32>,
}

/// The end of the WAL in a stopped or recovering node's `pg_wal` on the
/// history its recovery replays (issue 11, found by the attack on the
/// master-baseline's `pg_wal` reading): `own` and `checkpoint` are the
/// control file's timeline and checkpoint location, `histories` the
/// history files in `pg_wal`, and `read(timeline, from)` the end of the
/// valid WAL on `timeline` from `from` (`pg_waldump`).
///
/// Rule: recovery with `recovery_target_timeline = 'latest'` (PostgreSQL's
/// default from 12) follows the newest timeline N whose history holds a
/// switch point S from `own` at or after the checkpoint (PostgreSQL refuses
/// a target whose fork lies before the checkpoint: `xlogrecovery.c`). The
/// WAL of `own` counts only up to S; N's WAL is read from its own last
/// switch point (a streamed segment of N starts at its segment's beginning,
/// `walreceiverfuncs.c`). Without such an N, the own timeline's end is the
/// end.
///
/// # Errors
/// Fail closed, in words: a read failed; or the own timeline's WAL goes on
/// past S although N is the followed history (bytes of `own` past the fork
/// are either a divergence the node replayed or stale bytes of an old
/// timeline recovery skips: from the files alone nobody can tell which);
/// or the node reached S and N's WAL cannot be read.
pub fn end_on_followed_history(
    own: u32,
    checkpoint: Lsn,
    histories: &[(u32, Vec<HistoryEntry>)],
    mut read: impl FnMut(u32, Lsn) -> Result<Lsn, String>,
) -> Result<HistoryEnd, String> {
    let raw = read(own, checkpoint)?;
    let followed = histories
        .iter()
        .filter(|(t, _)| *t > own)
        .filter_map(|(t, entries)| {
            let fork = entries.iter().find(|e| e.parent == own)?;
            let last = entries.last()?;
            (fork.switch_point >= checkpoint).then_some((*t, fork.switch_point, last.switch_point))
        })
        .max_by_key(|(t, _, _)| *t);
    let Some((tli, fork, last)) = followed else {
        return Ok(HistoryEnd {
            end: raw,
            own_part: raw,
            followed: None,
        });
    };
    if raw > fork {
        return Err(format!(
            "my timeline {own} WAL in pg_wal goes on to {} past {}, where timeline {tli} (the one my recovery follows) forked from it",
            raw.to_pg(),
            fork.to_pg()
        ));
    }
    let newer = read(tli, last.max(checkpoint));
    let end = match newer {
        Ok(e) => raw.max(e),
        Err(_) if raw < fork => raw,
        Err(e) => {
            return Err(format!(
                "my WAL reached timeline {tli}'s switch point {} but its WAL cannot be read: {e}",
                fork.to_pg()
            ))
        }
    };
    Ok(HistoryEnd {
        end,
        own_part: raw,
        followed: Some(tli),
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
    fn a_history_forked_before_the_checkpoint_is_not_followed() {
        // PostgreSQL refuses a target timeline that forked before the
        // checkpoint: the node stays on its own timeline and all of it counts.
        let hist = vec![(2, h("1 0/1000000 promoted"))];
        let e = end_on_followed_history(
            1,
            lsn("0/2000000"),
            &hist,
            reader(Some(lsn("0/5000000")), Some(lsn("0/9000000"))),
        )
        .unwrap();
        assert_eq!((e.end, e.followed), (lsn("0/5000000"), None));
    }

    #[test]
    fn several_hops_read_the_newest_timeline_from_its_last_switch_point() {
        let hist = vec![
            (2, h("1 0/3000100 promoted")),
            (3, h("1 0/3000100 promoted\n2 0/4000000 promoted")),
        ];
        let mut asked = Vec::new();
        let mut inner = reader(Some(lsn("0/3000100")), None);
        let e = end_on_followed_history(1, lsn("0/2000000"), &hist, |t, from| {
            asked.push((t, from));
            if t == 3 {
                return Ok(lsn("0/4500000"));
            }
            inner(t, from)
        })
        .unwrap();
        assert_eq!((e.end, e.followed), (lsn("0/4500000"), Some(3)));
        assert_eq!(asked, vec![(1, lsn("0/2000000")), (3, lsn("0/4000000"))]);
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
