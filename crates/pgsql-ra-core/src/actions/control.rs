//! Applies [`control_slave_status`] on the primary: reads
//! `pg_stat_replication` (retried within the budget, bug M), writes the
//! standbys' attributes through the guards and switches the synchronous
//! standby with a reload. Keeps the handover baseline
//! (`<tmpdir>/sync_baseline`, see [`SyncBaseline`]): the primary's own WAL
//! position read by the first run after the reload that made a standby
//! synchronous in which the server runs rep_mode.conf's set
//! ([`crate::loaded_sync_set::unsettled`]).

use super::prepare::write_rep_mode_text;
use super::quorum_record;
use super::Ctx;
use crate::budget::RETRY_INTERVAL;
use crate::ocf::{OcfExit, Outcome};
use crate::ports::{FileOwner, LogLevel, ReplicationRow};
use crate::quorum::QuorumSet;
use crate::replication::{control_slave_status, ControlInput, SyncBaseline, BASELINE_FILE};
use crate::status::PgStatus;
use crate::sync_mode;
use std::time::Duration;

/// Attempts at a database call that may fail transiently.
pub const SQL_ATTEMPTS: u32 = 3;

fn replication_rows(ctx: &mut Ctx<'_, '_>) -> Result<Vec<ReplicationRow>, Outcome> {
    let mut attempt = 1;
    loop {
        match ctx.world.db.replication_rows() {
            Ok(rows) => return Ok(rows),
            Err(e) => {
                ctx.log(
                    LogLevel::Warn,
                    &format!("pg_stat_replication query failed (attempt {attempt}): {e}"),
                );
                if attempt >= SQL_ATTEMPTS || !ctx.pause(RETRY_INTERVAL) {
                    return Err(ctx.fail(
                        OcfExit::ErrGeneric,
                        format!("Can't get PostgreSQL replication status: {e}"),
                    ));
                }
                ctx.world.db.reset();
                attempt += 1;
            }
        }
    }
}

fn reload(ctx: &mut Ctx<'_, '_>) -> Result<(), Outcome> {
    let mut attempt = 1;
    loop {
        match ctx.world.server.reload() {
            Ok(()) => {
                ctx.log(LogLevel::Info, "Reload configuration file.");
                return Ok(());
            }
            Err(e) => {
                if attempt >= SQL_ATTEMPTS || !ctx.pause(RETRY_INTERVAL) {
                    return Err(ctx.fail(
                        OcfExit::ErrGeneric,
                        format!("Can't reload configuration file. {e}"),
                    ));
                }
                attempt += 1;
            }
        }
    }
}

/// Fills in a baseline still waiting for the primary's position: the
/// position now is at or above every write acknowledged before the reload.
/// Left unknown (the standbys keep waiting) if it cannot be read.
fn record_position(ctx: &mut Ctx<'_, '_>, baseline: &mut SyncBaseline) {
    if baseline.lsn.is_some() {
        return;
    }
    match ctx.world.db.current_lsn() {
        Ok(lsn) => {
            ctx.log(
                LogLevel::Info,
                &format!(
                    "Handover baseline {} for the new synchronous standbys [{}].",
                    lsn.to_pg(),
                    baseline.names.join(", ")
                ),
            );
            baseline.lsn = Some(lsn);
        }
        Err(e) => ctx.log(
            LogLevel::Warn,
            &format!("Can't read my WAL position for the handover baseline: {e}"),
        ),
    }
}

fn store_baseline(ctx: &mut Ctx<'_, '_>, baseline: Option<&SyncBaseline>) -> Result<(), Outcome> {
    let path = ctx.tmp_path(BASELINE_FILE);
    let r = match baseline {
        Some(b) => ctx
            .world
            .fs
            .write(&path, &b.render(), FileOwner::Root, 0o600),
        None => ctx.world.fs.remove(&path).map(|_| ()),
    };
    r.map_err(|e| ctx.fail(OcfExit::ErrGeneric, format!("Can't write {path}: {e}")))
}

/// Mirrors the baseline onto the waiting standbys' `<rsc>-sync-baseline`
/// (forever), so that their election also refuses to promote them before
/// they hold it; deletes it everywhere else (the primary included). A
/// standby whose `flush_lsn` (read before the reload, so at most its
/// position now) already reaches the baseline does not wait.
fn publish_baseline(
    ctx: &mut Ctx<'_, '_>,
    baseline: Option<&SyncBaseline>,
    rows: &[ReplicationRow],
) -> Result<(), Outcome> {
    let local = ctx.attrs.local.clone();
    for node in ctx.agent.params.node_list.clone() {
        let flushed = rows
            .iter()
            .find(|r| r.application_name == node)
            .and_then(|r| r.flush_lsn);
        let value = baseline
            .filter(|b| node != local && b.names.contains(&node))
            .and_then(|b| match (b.lsn, flushed) {
                (None, _) => Some("unknown".to_string()),
                (Some(base), Some(f)) if f < base => Some(base.to_attr()),
                _ => None,
            });
        if let Err(e) = ctx
            .attrs
            .set_sync_baseline(ctx.world.cluster, &node, value.as_deref())
        {
            return Err(ctx.fail(
                OcfExit::ErrGeneric,
                format!("Can't update the sync baseline of {node}: {e}"),
            ));
        }
    }
    Ok(())
}

/// Terminates the walsenders of standbys that are gone although their row
/// remains (issue 11), so that when they return they qualify again through
/// the handover baseline. A failure is logged: the standby is already out
/// of the sync set and marked `DISCONNECT`; the next monitor retries.
fn terminate_walsenders(ctx: &mut Ctx<'_, '_>, names: &[String]) {
    for name in names {
        match ctx.world.db.terminate_walsenders(name) {
            Ok(n) => ctx.log(
                LogLevel::Info,
                &format!("Terminated {n} walsender(s) of {name}: it is gone (see its score reason) and must qualify again when it returns."),
            ),
            Err(e) => ctx.log(
                LogLevel::Warn,
                &format!("Can't terminate the walsender of {name}: {e}"),
            ),
        }
    }
}

/// Runs `control_slave_status` once. Returns true when a standby was just
/// made synchronous and the caller should check again shortly.
pub fn control(ctx: &mut Ctx<'_, '_>) -> Result<bool, Outcome> {
    let agent = ctx.agent;
    let params = &agent.params;
    let rows = replication_rows(ctx)?;
    let conf_path = ctx.tmp_path(sync_mode::FILE_NAME);
    let conf_text = ctx.world.fs.read(&conf_path).ok().flatten();
    let current = conf_text
        .as_deref()
        .map(sync_mode::parse)
        .unwrap_or_default();
    let current_quorum = conf_text.as_deref().and_then(sync_mode::parse_quorum);
    let in_force = current_quorum.and_then(|k| QuorumSet::new(k, &current));
    let baseline_path = ctx.tmp_path(BASELINE_FILE);
    let stored = match ctx.world.fs.read(&baseline_path) {
        Ok(Some(text)) => SyncBaseline::parse(&text),
        _ => None,
    };
    let mut baseline = stored.clone();
    let local = ctx.attrs.local.clone();
    let offline: Vec<String> = params
        .node_list
        .iter()
        .filter(|n| **n != local && ctx.attrs.exists(n) && !ctx.attrs.is_online(n))
        .cloned()
        .collect();
    // Issue 11: online, but Pacemaker shows its instance stopped (never
    // for an unknown state, e.g. a start still pending).
    let instance_stopped: Vec<String> = params
        .node_list
        .iter()
        .filter(|n| ctx.attrs.instance_stopped(n))
        .cloned()
        .collect();
    // Issue 11: the oldest commit waiting for synchronous replication, read
    // only while a standby is synchronous (one query on the monitor's
    // session; an error or a role that cannot see other sessions' waits
    // leaves the standby_reply_timeout rule alone).
    let sync_wait_age = if params.rep_mode == crate::params::RepMode::Sync && !current.is_empty() {
        match ctx.world.db.sync_rep_wait_age() {
            Ok(age) => age,
            Err(e) => {
                ctx.log(
                    LogLevel::Debug,
                    &format!("can't read the commits waiting for synchronous replication: {e}"),
                );
                None
            }
        }
    } else {
        None
    };
    let input = ControlInput {
        rep_mode: params.rep_mode,
        node_list: &params.node_list,
        local: &local,
        external: &params.external_standby_node_list,
        rows: &rows,
        current_sync: &current,
        baseline: None,
        offline: &offline,
        instance_stopped: &instance_stopped,
        reply_timeout: (params.standby_reply_timeout > 0)
            .then(|| Duration::from_secs(u64::from(params.standby_reply_timeout))),
        quorum: params.sync_quorum,
        current_quorum,
        sync_wait_age,
    };
    let mut decision = control_slave_status(&ControlInput {
        baseline: baseline.as_ref(),
        ..input
    });
    // Issue 11: a baseline still waiting for the primary's position gets it
    // only in a run that sees the server run rep_mode.conf's set: the
    // position then covers every commit acknowledged under the set in
    // force before (the old standby's walsender has reloaded, an outside
    // SIGHUP has loaded the file). Decided again with it.
    if decision.unsettled.is_empty() {
        if let Some(b) = baseline.as_mut().filter(|b| b.lsn.is_none()) {
            record_position(ctx, b);
            if b.lsn.is_some() {
                decision = control_slave_status(&ControlInput {
                    baseline: baseline.as_ref(),
                    ..input
                });
            }
        }
    } else {
        ctx.log(
            LogLevel::Warn,
            &format!(
                "The server does not run rep_mode.conf's synchronous_standby_names ({}): no named standby is promotable until it does (a reload that failed or has not reached every walsender, or a setting that overrides rep_mode.conf, e.g. ALTER SYSTEM).",
                decision.unsettled.join("; ")
            ),
        );
    }
    // A primary killed while its replication was read loses its walsenders
    // first: the rows then show its standbys gone although the server died
    // before it could acknowledge anything without them. Before the run
    // writes anything, the postmaster must still be alive (a /proc read, no
    // program; every run, in sync and async mode alike): else it writes
    // nothing and reports the server stopped, and the standbys keep the
    // scores that let Pacemaker promote one (found by the 1 s failover
    // benchmark, issue 16: the sync standby was marked DISCONNECT by the
    // dying primary's last monitor and no failover followed; the twelfth
    // attack on issue 11: the same in async mode).
    match ctx.world.server.postmaster_pid() {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(ctx.fail(
                OcfExit::NotRunning,
                "PostgreSQL stopped while its replication was read: no standby attribute written"
                    .to_string(),
            ))
        }
        Err(e) => {
            return Err(ctx.fail(
                OcfExit::ErrGeneric,
                format!(
                    "Can't tell whether PostgreSQL still runs: {e}; no standby attribute written"
                ),
            ))
        }
    }
    let mut on_disk = stored;
    for s in &decision.standbys {
        ctx.log(
            LogLevel::Debug,
            &format!(
                "{}: {} score {}: {}",
                s.node, s.data_status, s.score, s.reason
            ),
        );
        let status = s.status.as_deref().and_then(|t| t.parse::<PgStatus>().ok());
        let writes = ctx
            .attrs
            .set_data_status(ctx.world.cluster, &s.node, &s.data_status)
            .and_then(|_| {
                ctx.attrs
                    .set_other_score(ctx.world.cluster, &s.node, s.score)
            })
            .and_then(|_| match status {
                Some(st) => ctx
                    .attrs
                    .set_status(ctx.world.cluster, &s.node, st)
                    .map(|_| ()),
                None => Ok(()),
            });
        if let Err(e) = writes {
            return Err(ctx.fail(
                OcfExit::ErrGeneric,
                format!("Can't update the attributes of {}: {e}", s.node),
            ));
        }
    }
    if let Some(change) = &decision.sync_change {
        ctx.log(
            LogLevel::Info,
            &format!(
                "Setup [{}] as synchronous standbys: {}",
                change.names.join(", "),
                change.reason
            ),
        );
        // Issue 11: the quorum record is widened before the reload.
        quorum_record::before_reload(ctx, change, in_force.clone())?;
        // Issue 11: the names the change adds wait for a baseline
        // (`unknown`) before the file names them, so that a reload that
        // fails here and a later outside one (SIGHUP) never makes them
        // synchronous without it: the next monitor records the position
        // read after that load.
        if decision.baseline != on_disk {
            store_baseline(ctx, decision.baseline.as_ref())?;
            publish_baseline(ctx, decision.baseline.as_ref(), &rows)?;
            on_disk = decision.baseline.clone();
        }
        let text = match change.quorum {
            Some(k) => sync_mode::render_quorum(k, &change.names),
            None => sync_mode::render(&change.names),
        };
        write_rep_mode_text(ctx, &text)
            .map_err(|o| ctx.fail(o.code, o.reason.unwrap_or_default()))?;
        reload(ctx)?;
        ctx.journal(
            "monitor",
            crate::journal::Event::SyncChange {
                names: change.names.clone(),
                reason: change.reason.clone(),
            },
        );
        if change.quorum.is_some() || current_quorum.is_some() {
            quorum_record::after_reload(ctx, change)?;
        }
    }
    let configured = match &decision.sync_change {
        Some(c) => c.quorum.and_then(|k| QuorumSet::new(k, &c.names)),
        None => in_force,
    };
    quorum_record::maintain(ctx, configured, params.sync_quorum > 0, &rows)?;
    // Issue 11: only now (the standby marked DISCONNECT/-INFINITY, then
    // released from synchronous_standby_names and reloaded) its walsender.
    terminate_walsenders(ctx, &decision.terminate);
    // A baseline this run created (a change) waits for the position read
    // by the next run that sees the set in force (the recheck, usually).
    let next = decision.baseline.clone();
    if next != on_disk {
        store_baseline(ctx, next.as_ref())?;
    }
    publish_baseline(ctx, next.as_ref(), &rows)?;
    Ok(decision.recheck)
}
