//! Reads a [`Snapshot`] through the ports: attributes of every node_list
//! node, the Promoted list, the local `PGSQL.lock` (with Pacemaker's failure
//! record of the resource there), the local server (when a
//! postmaster runs) and the tmpdir files the decisions read. Reads only:
//! nothing is written, no server is started or stopped. Every error is kept
//! in the snapshot in words (an explanation of a broken cluster must still
//! come out).

use crate::actions::LOCK_FILE;
use crate::election::{completed_rounds, note_file_name};
use crate::params::Params;
use crate::ports::{Lifetime, World};
use crate::replication::BASELINE_FILE;
use crate::sync_mode;
use crate::AttributeNames;

use super::snapshot::{LockFact, NodeAttrs, ServerFacts, Snapshot};

/// Reads the snapshot for `params` (node_list, tmpdir, xlog_check_count)
/// and the attribute `names` of the resource.
pub fn gather(params: &Params, names: &AttributeNames, world: &mut World<'_>) -> Snapshot {
    let mut snap = Snapshot {
        resource: names.resource.clone(),
        ..Snapshot::default()
    };
    match world.cluster.local_node() {
        Ok(n) => snap.local_node = n,
        Err(e) => snap
            .cluster_errors
            .push(format!("the local node's name: {e}")),
    }
    let states = match world.cluster.nodes() {
        Ok(s) => Some(s),
        Err(e) => {
            snap.cluster_errors
                .push(format!("the cluster's nodes: {e}"));
            None
        }
    };
    let promoted = match world.cluster.promoted_nodes(&names.resource) {
        Ok(p) => p,
        Err(e) => {
            snap.promoted_error = Some(e.to_string());
            Vec::new()
        }
    };
    for node in &params.node_list {
        let mut a = NodeAttrs {
            node: node.clone(),
            online: states
                .as_ref()
                .and_then(|s| s.iter().find(|n| n.name == *node).map(|n| n.online)),
            promoted: promoted.iter().any(|p| p == node),
            instance: states
                .as_ref()
                .and_then(|s| s.iter().find(|n| n.name == *node).map(|n| n.instance))
                .unwrap_or_default(),
            ..NodeAttrs::default()
        };
        let mut read =
            |name: &str, lifetime: Lifetime| match world.cluster.get_attr(node, name, lifetime) {
                Ok(v) => v,
                Err(e) => {
                    a.errors.push(format!("can't read {name}: {e}"));
                    None
                }
            };
        let pgsql_status = read(&names.status, Lifetime::Reboot);
        let data_status = read(&names.data_status, Lifetime::Forever);
        let score = read(&names.master_score, Lifetime::Reboot);
        let xlog_loc = read(&names.xlog_loc, Lifetime::Reboot);
        let xlog_tli = read(&names.xlog_tli, Lifetime::Reboot);
        let xlog_final = read(&names.xlog_final, Lifetime::Reboot);
        let sync_baseline = read(&names.sync_baseline, Lifetime::Forever);
        let primary_origin = read(&names.primary_origin, Lifetime::Forever);
        let withheld_score = read(&names.withheld_score, Lifetime::Reboot);
        let sync_quorum = read(&names.sync_quorum, Lifetime::Forever);
        a.pgsql_status = pgsql_status;
        a.data_status = data_status;
        a.score = score;
        a.xlog_loc = xlog_loc;
        a.xlog_tli = xlog_tli;
        a.xlog_final = xlog_final;
        a.sync_baseline = sync_baseline;
        a.primary_origin = primary_origin;
        a.withheld_score = withheld_score;
        a.sync_quorum = sync_quorum;
        snap.nodes.push(a);
    }
    let tmp = params.tmpdir.trim_end_matches('/');
    let lock = format!("{tmp}/{LOCK_FILE}");
    if let Ok(Some(_)) = world.fs.metadata(&lock) {
        snap.lock = Some(LockFact {
            path: lock,
            since_epoch_s: None,
        });
        // Unknown on an error too: the failure record only adds a line.
        if !snap.local_node.is_empty() {
            snap.failure = world
                .cluster
                .failure_record(&names.resource, &snap.local_node)
                .ok()
                .flatten();
        }
    }
    snap.tmp_files = world.fs.list_dir(tmp).unwrap_or_default();
    let k = completed_rounds(&snap.tmp_files, params.xlog_check_count);
    for round in 0..=k {
        if let Ok(Some(text)) = world.fs.read(&format!("{tmp}/{}", note_file_name(round))) {
            snap.notes.push((round, text));
        }
    }
    snap.rep_mode_conf = world
        .fs
        .read(&format!("{tmp}/{}", sync_mode::FILE_NAME))
        .ok()
        .flatten();
    snap.sync_baseline_file = world
        .fs
        .read(&format!("{tmp}/{BASELINE_FILE}"))
        .ok()
        .flatten();
    snap.server = server_facts(params, world);
    snap
}

fn server_facts(params: &Params, world: &mut World<'_>) -> ServerFacts {
    let mut f = ServerFacts::default();
    match world.server.postmaster_pid() {
        Ok(Some(_)) => f.running = true,
        Ok(None) => return f,
        Err(e) => {
            f.errors.push(format!("postmaster: {e}"));
            return f;
        }
    }
    match world.db.is_in_recovery() {
        Ok(r) => f.in_recovery = Some(r),
        Err(e) => {
            f.errors.push(format!("pg_is_in_recovery(): {e}"));
            return f;
        }
    }
    if f.in_recovery == Some(false) {
        match world.db.current_lsn() {
            Ok(l) => f.lsn = Some(l),
            Err(e) => f.errors.push(format!("current WAL position: {e}")),
        }
        match world.db.replication_rows() {
            Ok(rows) => f.replication = Some(rows),
            Err(e) => f.errors.push(format!("pg_stat_replication: {e}")),
        }
        match world.db.replication_lag() {
            Ok(lag) => f.replication_lag = Some(lag),
            Err(e) => f.errors.push(format!("pg_stat_replication lag: {e}")),
        }
        match world.db.synchronous_standby_names() {
            Ok(s) => f.synchronous_standby_names = Some(s),
            Err(e) => f.errors.push(format!("synchronous_standby_names: {e}")),
        }
    } else {
        match world.db.replay_and_receive_lsn() {
            Ok((replay, receive)) => f.lsn = replay.max(receive),
            Err(e) => f.errors.push(format!("replay/receive position: {e}")),
        }
    }
    match world.db.timeline() {
        Ok(t) => f.timeline = t.map(|t| newest_history_timeline(params, world, t)),
        Err(e) => f.errors.push(format!("timeline: {e}")),
    }
    match world.db.system_identifier() {
        Ok(s) => f.system_id = s,
        Err(e) => f.errors.push(format!("system identifier: {e}")),
    }
    f
}

/// The server's timeline: the checkpoint's (`timeline()`) raised to the
/// newest history file in the WAL directory, as the agent itself judges it
/// (`primary_origin_now`): right after a promotion the checkpoint still
/// names the old timeline (the issue-13 attack saw "timeline 2" on a
/// primary writing on 3).
fn newest_history_timeline(params: &Params, world: &mut World<'_>, checkpoint: u32) -> u32 {
    let pgdata = params.pgdata.trim_end_matches('/');
    ["pg_wal", "pg_xlog"]
        .iter()
        .find_map(|d| world.fs.list_dir(&format!("{pgdata}/{d}")).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(|n| crate::timeline::history_file_timeline(n))
        .fold(checkpoint, u32::max)
}
