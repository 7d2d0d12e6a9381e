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

#[cfg(test)]
mod tests {
    use super::*;

    fn h(lines: &str) -> Vec<HistoryEntry> {
        parse_history(lines).unwrap()
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
