//! The decision journal (issue 13): one JSON line per decision the agent
//! took on this node — elections, promotions, sync/async switches,
//! refusals — in `<tmpdir>/pgsql-ra-journal.jsonl`, read back by
//! `pgsql-ra history`. Schema [`SCHEMA`], docs/explain.md.
//!
//! Writing never fails an action: [`record`] appends one line through the
//! Filesystem port ([`crate::ports::Filesystem::append_rotating`]: no
//! fsync; past [`MAX_BYTES`] the file becomes `<file>.1` and a new one
//! starts, so at most about twice that is kept) and logs an error at debug
//! only. Reading never fails: [`parse`] skips and counts lines that are
//! not a journal entry.

use serde::{Deserialize, Serialize};

use crate::ports::{Clock, Filesystem, Log, LogLevel};

/// The journal's file name in tmpdir.
pub const FILE: &str = "pgsql-ra-journal.jsonl";
/// The size (bytes) past which the journal is rotated once (`<file>.1`):
/// about 150 entries per file, and at most ~128 KiB in tmpdir, which also
/// holds the election notes (a journal must never fill a small tmpdir).
pub const MAX_BYTES: u64 = 64 * 1024;
/// The schema of one journal line.
pub const SCHEMA: &str = "pgsql-ra/journal/1";
/// The schema of `pgsql-ra history --json`.
pub const HISTORY_SCHEMA: &str = "pgsql-ra/history/1";

/// One candidate of an election, as the round saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// The node.
    pub node: String,
    /// Its published location (`X/Y`).
    pub location: String,
    /// Its published timeline, when any.
    pub timeline: Option<u32>,
}

/// What was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An election round that decided (`winner` or `loser`).
    Election {
        /// `winner` or `loser` (the verdict of [`crate::election::decide`]).
        verdict: String,
        /// This node's location (`X/Y`).
        my_location: String,
        /// Every candidate of the round, node_list order.
        candidates: Vec<Candidate>,
        /// The highest position among the candidates (`X/Y`), when known.
        highest: Option<String>,
        /// The election's own reason.
        reason: String,
    },
    /// This node was promoted. Pacemaker chose it for its score: 1000 from
    /// an election it won (an `election` entry before), or 100 given by the
    /// primary's monitor to a `STREAMING|SYNC` standby (no election).
    Promoted {
        /// Its location when promoted (`X/Y`, its master baseline).
        location: Option<String>,
        /// Its `master-<rsc>` when promote began.
        score: Option<String>,
        /// Its `<rsc>-data-status` when promote began.
        data_status: Option<String>,
    },
    /// The primary changed `synchronous_standby_names` (rep_mode.conf).
    SyncChange {
        /// The new synchronous standbys (empty: all asynchronous).
        names: Vec<String>,
        /// Why ([`crate::replication::SyncChange::reason`]).
        reason: String,
    },
    /// A decision refused something (start, promote, the role gate).
    Refusal {
        /// The decision (`start`, `role_gate`, `pre_promote`, …).
        decision: String,
        /// Its outcome variant ([`crate::explain::Explain::rule`]).
        rule: String,
        /// Its reason in words.
        reason: String,
    },
    /// Issue 10's rejoin decisions, with their reasons: `start` with
    /// `PGSQL.lock` (`lone_primary`: released or kept; `crash_rejoin`:
    /// follow, rewind, reclone or refuse, once more after a repair),
    /// `demote` (`clean_demote`: continue as a standby or stay stopped)
    /// and the promotion candidate's check of the demote checkpoints
    /// (`demote_checkpoint`: received or refuse).
    Rejoin {
        /// `lone_primary`, `crash_rejoin`, `clean_demote`, `demote_checkpoint`.
        decision: String,
        /// What it decided (`released`, `kept`, `follow`, `rewind`,
        /// `reclone`, `refuse`, `continue_as_standby`, `stay_stopped`,
        /// `received`); not `action`, which names the OCF action.
        outcome: String,
        /// Its reason in words (the decision's own).
        reason: String,
    },
}

/// One journal line as read back: the fields of [`Entry`], all required
/// and typed, nothing else (issue 13: a malformed entry is skipped, not
/// passed through).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct EntryIn {
    schema: String,
    ts: Option<u64>,
    node: String,
    action: String,
    #[serde(flatten)]
    event: Event,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// Seconds since the Unix epoch (`None`: the clock gives no wall time).
    pub ts: Option<u64>,
    /// The node.
    pub node: String,
    /// The action that decided (`monitor`, `promote`, …).
    pub action: String,
    /// What.
    #[serde(flatten)]
    pub event: Event,
}

/// Appends one entry; any error is logged at debug and otherwise ignored.
pub fn record(
    fs: &mut dyn Filesystem,
    clock: &mut dyn Clock,
    log: &mut dyn Log,
    tmpdir: &str,
    node: &str,
    action: &str,
    event: Event,
) {
    let entry = Entry {
        schema: SCHEMA,
        ts: clock.unix_time_s(),
        node: node.to_string(),
        action: action.to_string(),
        event,
    };
    let path = format!("{}/{FILE}", tmpdir.trim_end_matches('/'));
    let result = serde_json::to_string(&entry)
        .map_err(|e| e.to_string())
        .and_then(|line| {
            fs.append_rotating(&path, &line, MAX_BYTES)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = result {
        log.log(LogLevel::Debug, &format!("journal {path}: {e}"));
    }
}

/// The journal as read back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Read {
    /// The entries, oldest first.
    pub entries: Vec<serde_json::Value>,
    /// Lines that were not a journal entry (torn, corrupt, foreign).
    pub bad_lines: usize,
}

/// Parses journal text (`<file>.1` then `<file>`, concatenated): every line
/// that is a journal entry of schema [`SCHEMA`] (a JSON object with the
/// fields of [`Entry`], typed as written, and an `event` this version
/// knows with its fields) is an entry, as written; blank lines are
/// ignored; any other line (torn, corrupt, foreign, a known event with a
/// field missing or of another type) is counted in [`Read::bad_lines`].
pub fn parse(text: &str) -> Read {
    let mut read = Read::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if is_entry(&v) => read.entries.push(v),
            _ => read.bad_lines += 1,
        }
    }
    read
}

/// True when `v` is one well-formed entry of [`SCHEMA`].
fn is_entry(v: &serde_json::Value) -> bool {
    v.is_object()
        && serde_json::from_value::<EntryIn>(v.clone())
            .is_ok_and(|e| e.schema == SCHEMA && !e.node.is_empty() && !e.action.is_empty())
}

/// The line `history` prints after the entries when lines were skipped.
pub fn skipped_text(bad_lines: usize) -> String {
    if bad_lines == 1 {
        "1 malformed line skipped".to_string()
    } else {
        format!("{bad_lines} malformed lines skipped")
    }
}

fn text_of(v: &serde_json::Value, key: &str) -> String {
    match v.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// One entry in words: `<time> <node> <action> <event>: …`.
pub fn render_text(v: &serde_json::Value) -> String {
    let ts = v
        .get("ts")
        .and_then(|t| t.as_u64())
        .map(crate::explain::outcomes::utc)
        .unwrap_or_else(|| "-".into());
    let head = format!(
        "{ts} {} {} {}",
        text_of(v, "node"),
        text_of(v, "action"),
        text_of(v, "event")
    );
    let body = match v.get("event").and_then(|e| e.as_str()) {
        Some("election") => {
            let cands: Vec<String> = v
                .get("candidates")
                .and_then(|c| c.as_array())
                .map(|a| {
                    a.iter()
                        .map(|c| format!("{} at {}", text_of(c, "node"), text_of(c, "location")))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{} (candidates: {}): {}",
                text_of(v, "verdict"),
                cands.join(", "),
                text_of(v, "reason")
            )
        }
        Some("promoted") => {
            let or_none = |k: &str| Some(text_of(v, k)).filter(|t| !t.is_empty());
            format!(
                "at {} (chosen with score {}, data-status {})",
                or_none("location").unwrap_or_else(|| "unknown".into()),
                or_none("score").unwrap_or_else(|| "none".into()),
                or_none("data_status").unwrap_or_else(|| "none".into())
            )
        }
        Some("sync_change") => {
            let names: Vec<String> = v
                .get("names")
                .and_then(|n| n.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "synchronous standbys [{}]: {}",
                names.join(", "),
                text_of(v, "reason")
            )
        }
        Some("refusal") => format!(
            "{} [{}]: {}",
            text_of(v, "decision"),
            text_of(v, "rule"),
            text_of(v, "reason")
        ),
        Some("rejoin") => format!(
            "{} -> {}: {}",
            text_of(v, "decision"),
            text_of(v, "outcome"),
            text_of(v, "reason")
        ),
        _ => text_of(v, "reason"),
    };
    format!("{head}: {body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemClock, MemFs, MemoryLog};

    #[test]
    fn records_parse_back_and_bad_lines_are_counted() {
        let mut fs = MemFs::new("postgres");
        fs.mkdir_p("/tmp/x", "root", 0o700);
        let mut clock = MemClock::new();
        let mut log = MemoryLog::default();
        record(
            &mut fs,
            &mut clock,
            &mut log,
            "/tmp/x",
            "node1",
            "monitor",
            Event::SyncChange {
                names: vec!["node2".into()],
                reason: "node2 streams".into(),
            },
        );
        let mut text = fs.file("/tmp/x/pgsql-ra-journal.jsonl").expect("written");
        text.push_str("{torn\nnot json\n\n");
        let read = parse(&text);
        assert_eq!(read.entries.len(), 1);
        assert_eq!(read.bad_lines, 2);
        assert_eq!(read.entries[0]["event"], "sync_change");
        assert_eq!(read.entries[0]["schema"], SCHEMA);
        assert!(render_text(&read.entries[0]).contains("synchronous standbys [node2]"));
    }

    /// Issue 13 item 6: lines that are JSON objects with an `event` but
    /// not a well-formed entry are skipped and counted, not passed through.
    #[test]
    fn malformed_entries_are_skipped_and_counted() {
        let good = serde_json::to_string(&Entry {
            schema: SCHEMA,
            ts: Some(1),
            node: "node1".into(),
            action: "start".into(),
            event: Event::Rejoin {
                decision: "crash_rejoin".into(),
                outcome: "rewind".into(),
                reason: "diverged after 0/3000100".into(),
            },
        })
        .expect("serializes");
        let bad = [
            r#"{"event":"election"}"#.to_string(),
            r#"{"event":"promoted","verdict":7}"#.to_string(),
            good.replace(r#""event":"rejoin""#, r#""event":"bogus""#),
            good.replace(SCHEMA, "pgsql-ra/journal/99"),
            good.replace(r#""ts":1"#, r#""ts":"yesterday""#),
            good.replace(r#""reason":"diverged after 0/3000100""#, r#""reason":5"#),
            good.replace(r#""node":"node1""#, r#""node":"""#),
            "[1,2]".to_string(),
        ];
        for b in &bad {
            assert_ne!(*b, good, "each bad line differs from the good one");
        }
        let text = format!("{good}\n{}\n", bad.join("\n"));
        let read = parse(&text);
        assert_eq!(read.entries.len(), 1, "{:?}", read.entries);
        assert_eq!(read.bad_lines, bad.len());
        assert_eq!(
            render_text(&read.entries[0]),
            "1970-01-01 00:00:01 UTC node1 start rejoin: crash_rejoin -> rewind: diverged after 0/3000100"
        );
        assert_eq!(skipped_text(8), "8 malformed lines skipped");
    }

    #[test]
    fn an_unwritable_tmpdir_is_only_logged() {
        let mut fs = MemFs::new("postgres");
        let mut clock = MemClock::new();
        let mut log = MemoryLog::default();
        record(
            &mut fs,
            &mut clock,
            &mut log,
            "/missing",
            "node1",
            "promote",
            Event::Promoted {
                location: None,
                score: None,
                data_status: None,
            },
        );
        assert!(fs.file("/missing/pgsql-ra-journal.jsonl").is_none());
        assert!(
            log.lines.iter().any(|(_, l)| l.contains("journal")),
            "{:?}",
            log.lines
        );
    }

    #[test]
    fn the_journal_rotates_once_past_its_cap() {
        let mut fs = MemFs::new("postgres");
        fs.mkdir_p("/t", "root", 0o700);
        let line = "x".repeat(1000);
        for _ in 0..200 {
            fs.append_rotating("/t/j", &line, MAX_BYTES)
                .expect("append");
        }
        let cur = fs.file("/t/j").expect("current").len() as u64;
        let old = fs.file("/t/j.1").expect("rotated").len() as u64;
        assert!(
            cur <= MAX_BYTES + 1001 && old <= MAX_BYTES + 1001,
            "{cur} {old}"
        );
    }
}
