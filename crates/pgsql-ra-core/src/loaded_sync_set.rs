//! Issue 11: the synchronous standby set the server runs, read from its
//! walsenders, against the one `rep_mode.conf` configures. The primary
//! chooses from the file, but commits wait for what the server loaded; the
//! two differ after a reload that failed, for the moment a walsender takes
//! to reload, and under a setting that overrides the file (`ALTER SYSTEM`,
//! a later include). Every rule here keeps the CIB on the safe side of the
//! server: a standby is only promotable on a set the server runs.
//!
//! What the rows say (PostgreSQL, `pg_stat_replication.sync_state`, from
//! `pg_stat_get_wal_senders`): `async` when the walsender's priority in the
//! `synchronous_standby_names` it loaded is 0 (not named there); else
//! `sync` or `quorum` for a member of the synchronous set, `potential` for
//! a named standby outside it.

use crate::lsn::Lsn;
use crate::ports::ReplicationRow;
use crate::replication::SyncChange;

/// One row per `application_name`, in first-seen order. Two walsenders
/// report one name when a standby reconnected while its old walsender
/// lingers (a link lost without a TCP reset, B2-04) or two servers share a
/// name. They are merged so that every rule reads the same, least
/// favourable row: the first non-`STREAMING` state, the weakest
/// `sync_state` (`ASYNC` < `POTENTIAL` < `QUORUM` < `SYNC`; an unknown
/// value is the weakest), the lowest flush and replay positions (unknown
/// lowest) and the oldest reply.
pub fn merge_duplicate_rows(rows: &[ReplicationRow]) -> Vec<ReplicationRow> {
    let mut out: Vec<ReplicationRow> = Vec::new();
    for r in rows {
        match out
            .iter_mut()
            .find(|m| m.application_name == r.application_name)
        {
            None => out.push(r.clone()),
            Some(m) => {
                if m.state.eq_ignore_ascii_case("STREAMING")
                    && !r.state.eq_ignore_ascii_case("STREAMING")
                {
                    m.state = r.state.clone();
                }
                if strength(&r.sync_state) < strength(&m.sync_state) {
                    m.sync_state = r.sync_state.clone();
                }
                m.flush_lsn = lowest(m.flush_lsn, r.flush_lsn);
                m.replay_lsn = lowest(m.replay_lsn, r.replay_lsn);
                m.reply_age = match (m.reply_age, r.reply_age) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
        }
    }
    out
}

fn strength(sync_state: &str) -> u8 {
    match sync_state.to_ascii_uppercase().as_str() {
        "SYNC" => 3,
        "QUORUM" => 2,
        "POTENTIAL" => 1,
        _ => 0,
    }
}

fn lowest(a: Option<Lsn>, b: Option<Lsn>) -> Option<Lsn> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        _ => None,
    }
}

fn reports(r: &ReplicationRow, states: &[&str]) -> bool {
    states.iter().any(|s| r.sync_state.eq_ignore_ascii_case(s))
}

fn streaming(r: &ReplicationRow) -> bool {
    r.state.eq_ignore_ascii_case("STREAMING")
}

/// The rows as they will be once the server runs with `rep_mode.conf`
/// (sync mode): a walsender reporting `sync`, `potential` or `quorum`
/// whose name the file does not hold is read as `async`, so that the
/// cluster never shows a standby promotable (`STREAMING|SYNC`) that the
/// next reload stops waiting for. It happens right after a reload that
/// released the name (its walsender has not reloaded yet), after a reload
/// that failed, or under a setting that overrides the file; in the last two
/// cases the standby is shown unpromotable until the file is loaded (fail
/// closed). Returns the rows and, for each name so read, its `sync_state`
/// as reported.
pub fn as_after_reload(
    current_sync: &[String],
    mut rows: Vec<ReplicationRow>,
) -> (Vec<ReplicationRow>, Vec<(String, String)>) {
    let mut released = Vec::new();
    for r in rows.iter_mut() {
        if reports(r, &["SYNC", "POTENTIAL", "QUORUM"])
            && !current_sync.contains(&r.application_name)
        {
            released.push((r.application_name.clone(), r.sync_state.clone()));
            r.sync_state = "ASYNC".to_string();
        }
    }
    (rows, released)
}

/// The rows as the reload of `change` leaves them: a walsender reporting
/// `sync`, `potential` or `quorum` whose name the change does not hold
/// reads `async` (returned with its reported state, like
/// [`as_after_reload`]); with `ANY k` every named `sync` or `potential` one
/// reads `quorum`. The attributes of a run that changes the set hold from
/// its reload on (tenth attack on issue 11, A10-1).
pub fn as_after_change(
    change: &SyncChange,
    rows: Vec<ReplicationRow>,
) -> (Vec<ReplicationRow>, Vec<(String, String)>) {
    let (mut rows, dropped) = as_after_reload(&change.names, rows);
    if change.quorum.is_some() {
        for r in rows.iter_mut() {
            if change.names.contains(&r.application_name) && reports(r, &["SYNC", "POTENTIAL"]) {
                r.sync_state = "QUORUM".to_string();
            }
        }
    }
    (rows, dropped)
}

/// Splits `rep_mode.conf`'s synchronous standbys into those the server may
/// be waiting for and those it is known not to wait for: a name whose
/// walsender streams with `sync_state` `async` has no priority in the set
/// its walsender loaded. Such a name counts as not synchronous: the change
/// that names it is redone (rewrite, reload) and it waits for a handover
/// baseline recorded once the server runs the file ([`unsettled`]), so
/// that a later load of the file (an outside `SIGHUP`) never makes it
/// synchronous without one. Returns (in force, not loaded), both in file
/// order.
pub fn names_in_force(
    current_sync: &[String],
    rows: &[ReplicationRow],
) -> (Vec<String>, Vec<String>) {
    current_sync.iter().cloned().partition(|name| {
        !rows
            .iter()
            .any(|r| r.application_name == *name && streaming(r) && reports(r, &["ASYNC"]))
    })
}

/// Why the server does not (yet) run `rep_mode.conf`'s set, from the
/// merged rows as read (sync mode; empty: it does, as far as the rows
/// tell). The evidence:
///
/// - a named standby streams `async` (see [`names_in_force`]);
/// - a standby the file does not name reports `sync`, `potential` or
///   `quorum` (see [`as_after_reload`]);
/// - with `ANY k (...)` (`quorum`), a named standby reports `sync` or
///   `potential`; without it, one reports `quorum`, or the only name of
///   the file is `potential` (the agent never writes a set that makes its
///   own single name potential: another set is in force).
///
/// While the set is unsettled, no named standby is promotable and the
/// handover baseline is not recorded: its position is read at the first
/// monitor that sees the set in force, so it covers every commit
/// acknowledged under the set the server ran meanwhile (seventh and eighth
/// attacks on issue 11: a `FIRST 1 (node3, node2)` override, node3 leaving,
/// the server falling back to node2).
pub fn unsettled(
    current_sync: &[String],
    quorum: Option<u32>,
    rows: &[ReplicationRow],
) -> Vec<String> {
    let mut why = Vec::new();
    for r in rows.iter().filter(|r| streaming(r)) {
        let name = &r.application_name;
        let named = current_sync.contains(name);
        if named && reports(r, &["ASYNC"]) {
            why.push(format!("{name} is named but its walsender reports async"));
        } else if !named && reports(r, &["SYNC", "POTENTIAL", "QUORUM"]) {
            why.push(format!(
                "{name} is not named but its walsender reports {}",
                r.sync_state.to_ascii_lowercase()
            ));
        } else if named && quorum.is_some() && reports(r, &["SYNC", "POTENTIAL"]) {
            why.push(format!(
                "{name} reports {} although the file sets a quorum (ANY)",
                r.sync_state.to_ascii_lowercase()
            ));
        } else if named
            && quorum.is_none()
            && (reports(r, &["QUORUM"]) || (current_sync.len() == 1 && reports(r, &["POTENTIAL"])))
        {
            why.push(format!(
                "{name} reports {} although the file names it alone, without a quorum",
                r.sync_state.to_ascii_lowercase()
            ));
        }
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn row(name: &str, state: &str, sync: &str, flush: Option<u64>) -> ReplicationRow {
        ReplicationRow {
            application_name: name.to_string(),
            state: state.to_string(),
            sync_state: sync.to_string(),
            flush_lsn: flush.map(Lsn),
            replay_lsn: flush.map(Lsn),
            reply_age: None,
        }
    }

    #[test]
    fn duplicate_rows_merge_into_the_least_favourable_one() {
        let mut old = row("node2", "STREAMING", "SYNC", Some(0x50));
        old.reply_age = Some(Duration::from_secs(9));
        let mut new = row("node2", "STREAMING", "POTENTIAL", None);
        new.reply_age = Some(Duration::from_secs(1));
        let rows = [old, row("node3", "STREAMING", "ASYNC", Some(0x40)), new];
        let m = merge_duplicate_rows(&rows);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].application_name, "node2");
        assert_eq!(m[0].sync_state, "POTENTIAL");
        assert_eq!(m[0].flush_lsn, None);
        assert_eq!(m[0].reply_age, Some(Duration::from_secs(9)));
        assert_eq!(m[1], rows[1]);
        let m = merge_duplicate_rows(&[
            row("node2", "STREAMING", "SYNC", Some(0x50)),
            row("node2", "CATCHUP", "SYNC", Some(0x60)),
        ]);
        assert_eq!(m[0].state, "CATCHUP");
        assert_eq!(m[0].flush_lsn, Some(Lsn(0x50)));
    }

    #[test]
    fn a_named_standby_streaming_async_is_not_in_force() {
        let rows = [
            row("node2", "STREAMING", "ASYNC", None),
            row("node3", "CATCHUP", "ASYNC", None),
        ];
        let (in_force, not_loaded) = names_in_force(&v(&["node2", "node3", "node4"]), &rows);
        // node3 is not streaming yet and node4 has no row: nothing tells.
        assert_eq!(in_force, v(&["node3", "node4"]));
        assert_eq!(not_loaded, v(&["node2"]));
    }

    #[test]
    fn the_set_is_settled_only_when_the_rows_agree_with_the_file() {
        let one = v(&["node2"]);
        let ok = [
            row("node2", "STREAMING", "SYNC", None),
            row("node3", "STREAMING", "ASYNC", None),
            row("node4", "CATCHUP", "POTENTIAL", None),
        ];
        assert!(unsettled(&one, None, &ok).is_empty());
        // The file names node2 alone; the server makes node3 synchronous
        // and node2 potential (FIRST 1 (node3, node2) from elsewhere).
        let other = [
            row("node2", "STREAMING", "POTENTIAL", None),
            row("node3", "STREAMING", "SYNC", None),
        ];
        assert_eq!(unsettled(&one, None, &other).len(), 2);
        // Not loaded at all.
        let not = [row("node2", "STREAMING", "ASYNC", None)];
        assert_eq!(unsettled(&one, None, &not).len(), 1);
        // Two names (external standbys): one sync, one potential is right.
        let two = v(&["node2", "ext1"]);
        let rows = [
            row("node2", "STREAMING", "SYNC", None),
            row("ext1", "STREAMING", "POTENTIAL", None),
        ];
        assert!(unsettled(&two, None, &rows).is_empty());
        // A quorum file: members report quorum; sync means another set.
        let rows = [
            row("node2", "STREAMING", "QUORUM", None),
            row("ext1", "STREAMING", "QUORUM", None),
        ];
        assert!(unsettled(&two, Some(1), &rows).is_empty());
        assert_eq!(unsettled(&two, None, &rows).len(), 2);
        let rows = [row("node2", "STREAMING", "SYNC", None)];
        assert_eq!(unsettled(&two, Some(1), &rows).len(), 1);
    }

    #[test]
    fn a_standby_the_file_does_not_name_reads_async() {
        let rows = vec![
            row("node2", "STREAMING", "SYNC", None),
            row("node4", "STREAMING", "POTENTIAL", None),
        ];
        let (rows, released) = as_after_reload(&v(&["node2"]), rows);
        assert_eq!(rows[0].sync_state, "SYNC");
        assert_eq!(rows[1].sync_state, "ASYNC");
        assert_eq!(
            released,
            vec![("node4".to_string(), "POTENTIAL".to_string())]
        );
    }
}
