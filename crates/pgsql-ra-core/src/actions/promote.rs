//! `promote` (stock §1.4): mark the other nodes stale, take `PGSQL.lock`,
//! record the baseline, promote (pg_ctl promote, or restart without the
//! standby marker), poll until primary within the budget, recreate slots.

use super::elect::{
    history_files, own_location, primary_origin_now, promoted_claim, record_master_baseline,
    record_primary_origin,
};
use super::health::{real_monitor, Health};
use super::prepare::prepare;
use super::server_ctl::{real_start, real_stop, Started, StopKind};
use super::start::remove_notes;
use super::{Ctx, LOCK_FILE};
use crate::demote_checkpoint::{check, OwnWal, Published, Verdict};
use crate::ineligible::Ineligible;
use crate::ocf::{OcfExit, Outcome};
use crate::ports::{FileOwner, Lifetime, LogLevel};
use crate::recovery::{recovery_conf_path, standby_signal_path, uses_standby_signal};
use crate::score::Score;
use crate::slots::slots_for_others;
use crate::status::{DataStatus, PgStatus};

/// Runs `promote`.
pub fn promote(ctx: &mut Ctx<'_, '_>) -> Outcome {
    if !ctx.is_replication() {
        return ctx.fail(OcfExit::ErrConfigured, "Not in a replication mode.");
    }
    let in_recovery = match ctx.world.db.is_in_recovery() {
        Err(e) => {
            return ctx.fail(
                OcfExit::ErrGeneric,
                format!("select pg_is_in_recovery() failed: {e}"),
            )
        }
        Ok(r) => r,
    };
    // Also for a server already running as a primary (promoted outside the
    // cluster): it may have forked before a clean demote's checkpoint.
    if let Err(o) = received_demote_checkpoints(ctx, in_recovery) {
        return o;
    }
    if !in_recovery {
        // Issue 9's lineage rule (found missing by a settled fault schedule,
        // 2026-12-01): a standby promoted outside the cluster between two
        // monitors is a primary on a timeline no cluster primary recorded;
        // promoting it would make its fork the cluster's history.
        if let Err(reason) = promoted_claim(ctx) {
            let refusal = crate::role_gate::Refusal::NotClusterData { reason };
            return super::monitor::refuse_primary(ctx, &refusal);
        }
        ctx.log(
            LogLevel::Info,
            "PostgreSQL is already running as a primary; nothing to promote",
        );
        return Outcome::success();
    }
    match steps(ctx) {
        Ok(()) => {
            ctx.log(LogLevel::Info, "PostgreSQL is promoted");
            clear_demote_checkpoints(ctx);
            Outcome::success()
        }
        Err(o) => o,
    }
}

/// Issue 10: before anything changes (no node marked `DISCONNECT`, no
/// `PGSQL.lock`), the candidate checks that it received the shutdown
/// checkpoint of every node demoted cleanly ([`crate::demote_checkpoint`]).
/// Refused with exit 1 and the reason otherwise: the demoted node, which
/// holds the newest WAL and no lock, can win the next election.
fn received_demote_checkpoints(ctx: &mut Ctx<'_, '_>, in_recovery: bool) -> Result<(), Outcome> {
    let local = ctx.attrs.local.clone();
    let name = ctx.agent.names.demote_checkpoint.clone();
    let published: Vec<Published> = ctx
        .agent
        .params
        .node_list
        .iter()
        .filter(|n| **n != local)
        .map(|node| Published {
            node: node.clone(),
            value: ctx
                .world
                .cluster
                .get_attr(node, &name, Lifetime::Forever)
                .map_err(|e| e.to_string()),
        })
        .collect();
    if published.iter().all(|p| matches!(p.value, Ok(None))) {
        return Ok(());
    }
    let own_end = if in_recovery {
        own_location(ctx)
    } else {
        ctx.world.db.current_lsn().map_err(|e| {
            Outcome::fail(
                OcfExit::ErrGeneric,
                format!("Can't get my current WAL location: {e}"),
            )
        })
    };
    let own_end = match own_end {
        Ok(lsn) => lsn,
        Err(o) => return Err(generic(ctx, o.reason.unwrap_or_default())),
    };
    let timeline = primary_origin_now(ctx).map(|o| o.timeline);
    let history = timeline.and_then(|tl| {
        history_files(ctx, tl)
            .into_iter()
            .find(|(t, _)| *t == tl)
            .map(|(_, entries)| entries)
    });
    let own = OwnWal {
        timeline,
        end: own_end,
        history,
    };
    match check(&own, &published) {
        Verdict::Received { checked } => {
            if checked > 0 {
                let line = format!(
                    "I received the shutdown checkpoint of every node demoted cleanly (my WAL ends at {})",
                    own_end.to_pg()
                );
                ctx.log(LogLevel::Info, &line);
                ctx.journal_rejoin("promote", "demote_checkpoint", "received", &line);
            }
            Ok(())
        }
        Verdict::Refuse(reason) => {
            let line = format!("Refusing to promote: {reason}");
            ctx.journal_rejoin("promote", "demote_checkpoint", "refuse", &line);
            Err(generic(ctx, line))
        }
    }
}

/// After a successful promotion the demote checkpoints are history: the
/// new primary holds them (it checked) and every node follows it.
fn clear_demote_checkpoints(ctx: &mut Ctx<'_, '_>) {
    let name = ctx.agent.names.demote_checkpoint.clone();
    for node in ctx.agent.params.node_list.clone() {
        let r = match ctx.world.cluster.get_attr(&node, &name, Lifetime::Forever) {
            Ok(Some(_)) => ctx
                .world
                .cluster
                .delete_attr(&node, &name, Lifetime::Forever),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        ctx.warn_on_err(&format!("deleting {name} of {node}"), r);
    }
}

fn generic(ctx: &mut Ctx<'_, '_>, reason: String) -> Outcome {
    ctx.fail(OcfExit::ErrGeneric, reason)
}

fn steps(ctx: &mut Ctx<'_, '_>) -> Result<(), Outcome> {
    let agent = ctx.agent;
    let params = &agent.params;
    let local = ctx.attrs.local.clone();
    prepare(ctx)?;
    remove_notes(ctx);
    // What made Pacemaker choose this node, for the journal (issue 13): read
    // before promote rewrites them; a read error only leaves them out.
    let (names, cluster) = (&agent.names, &mut *ctx.world.cluster);
    let score_before = cluster
        .get_attr(&local, &names.master_score, Lifetime::Reboot)
        .ok()
        .flatten();
    let data_status_before = cluster
        .get_attr(&local, &names.data_status, Lifetime::Forever)
        .ok()
        .flatten();
    let why = Ineligible::OtherNodePromoted {
        promoted: local.clone(),
    };
    for node in params.node_list.iter().filter(|n| **n != local) {
        let r = ctx
            .attrs
            .set_data_status(ctx.world.cluster, node, &why.disconnect())
            .and_then(|_| {
                ctx.attrs
                    .set_other_score(ctx.world.cluster, node, why.score())
            });
        if let Err(e) = r {
            return Err(generic(
                ctx,
                format!("Can't mark {node} as DISCONNECT: {e}"),
            ));
        }
    }
    let lock = ctx.tmp_path(LOCK_FILE);
    if let Err(e) = ctx.world.fs.write(&lock, "", FileOwner::Root, 0o644) {
        return Err(generic(ctx, format!("Can't create {lock}: {e}")));
    }
    let baseline =
        record_master_baseline(ctx).map_err(|o| generic(ctx, o.reason.unwrap_or_default()))?;
    if params.restart_on_promote {
        restart_as_primary(ctx)?;
    } else {
        promote_in_place(ctx)?;
    }
    record_primary_origin(ctx, params.restart_on_promote.then_some(baseline))
        .map_err(|o| generic(ctx, o.reason.unwrap_or_default()))?;
    ctx.journal(
        "promote",
        crate::journal::Event::Promoted {
            location: Some(baseline.to_pg()),
            score: score_before,
            data_status: data_status_before,
        },
    );
    for slot in slots_for_others(&params.replication_slot_name, &params.node_list, &local) {
        let db = &mut *ctx.world.db;
        let r = db
            .slot_exists(&slot)
            .and_then(|exists| if exists { db.drop_slot(&slot) } else { Ok(()) })
            .and_then(|_| db.create_physical_slot(&slot));
        if let Err(e) = r {
            return Err(generic(
                ctx,
                format!("Can't create replication slot {slot}: {e}"),
            ));
        }
    }
    let r = ctx
        .attrs
        .set_data_status(ctx.world.cluster, &local, &DataStatus::Latest)
        .and_then(|_| {
            ctx.attrs
                .set_own_score(ctx.world.cluster, Score::PROMOTE_ME)
        })
        .and_then(|_| {
            ctx.attrs
                .set_status(ctx.world.cluster, &local, PgStatus::Pri)
        });
    r.map(|_| ())
        .map_err(|e| generic(ctx, format!("Can't record the promotion: {e}")))
}

fn promote_in_place(ctx: &mut Ctx<'_, '_>) -> Result<(), Outcome> {
    if let Err(e) = ctx.world.server.promote() {
        return Err(generic(ctx, format!("Can't promote PostgreSQL. {e}")));
    }
    loop {
        match real_monitor(ctx, 1) {
            Ok(Health::Primary) => return Ok(()),
            Ok(_) => {}
            Err(o) => return Err(generic(ctx, o.reason.unwrap_or_default())),
        }
        if !ctx.pause_poll() {
            let secs = ctx.budget.timeout.as_secs();
            return Err(generic(
                ctx,
                format!("PostgreSQL did not become primary within {secs}s"),
            ));
        }
    }
}

fn restart_as_primary(ctx: &mut Ctx<'_, '_>) -> Result<(), Outcome> {
    let agent = ctx.agent;
    let local = ctx.attrs.local.clone();
    real_stop(ctx, StopKind::Slave)?;
    let marker = if uses_standby_signal(ctx.facts.pg_version) {
        standby_signal_path(&agent.params)
    } else {
        recovery_conf_path(&agent.params, ctx.facts.pg_version)
    };
    if let Err(e) = ctx.world.fs.remove(&marker) {
        return Err(generic(ctx, format!("Can't remove {marker}: {e}")));
    }
    let result = real_start(ctx);
    if matches!(result, Ok(Started::Up(Health::Primary))) {
        return Ok(());
    }
    if !matches!(result, Ok(Started::Up(Health::Standby))) {
        let r = ctx
            .attrs
            .set_status(ctx.world.cluster, &local, PgStatus::Stop);
        ctx.warn_on_err("setting the status to STOP", r);
    }
    let detail = match result {
        Err(o) => o.reason.unwrap_or_default(),
        Ok(s) => {
            let (how, h) = match s {
                Started::AlreadyRunning(h) => ("was already running", h),
                Started::Up(h) => ("came up", h),
            };
            let what = match h {
                Health::Down => "down",
                Health::Running => "running",
                Health::Primary => "a primary",
                Health::Standby => "a hot standby",
            };
            format!("PostgreSQL {how} as {what}.")
        }
    };
    Err(generic(
        ctx,
        format!("Can't start PostgreSQL as primary on promote. {detail}"),
    ))
}
