//! `monitor` and the probe (stock §1.3): the real monitor, the WAL receiver
//! status, and in sync/async mode the primary's control of its standbys or a
//! standby's election when no primary exists. A server that answers as a
//! primary runs the primary path only when [`crate::role_gate`] allows it.

use std::time::Duration;

use super::control::{control, SQL_ATTEMPTS};
use super::elect::{
    clear_withheld_score, have_master_right, probe_claim, promoted_claim, record_primary_origin,
};
use super::health::{postmaster_alive, real_monitor, Health};
use super::start::remove_notes;
use super::{Ctx, LOCK_FILE};
use crate::ineligible::Ineligible;
use crate::ocf::{OcfExit, Outcome};
use crate::ports::{FileOwner, LogLevel};
use crate::role_gate::{self, Gate, GateInput, MonitorRole, OthersPromoted, Refusal};
use crate::score::Score;
use crate::status::{DataStatus, PgStatus};

/// Pause before re-checking after a standby was made synchronous.
const RECHECK_DELAY: Duration = Duration::from_secs(2);

/// Runs `monitor` (a probe when the interval is 0).
pub fn monitor(ctx: &mut Ctx<'_, '_>) -> Outcome {
    let probe = ctx.probe;
    // The probe's initial scores are set below, after the role gate.
    let result = real_monitor(ctx, SQL_ATTEMPTS);
    let self_streaming =
        ctx.is_replication() && matches!(result, Ok(Health::Standby)) && stop_self_streaming(ctx);
    if ctx.agent.params.check_wal_receiver {
        let primary = matches!(result, Ok(Health::Primary));
        update_receiver_status(ctx, primary, self_streaming);
    }
    let health = match result {
        Ok(h) => h,
        Err(o) => return ctx.fail(o.code, o.reason.unwrap_or_default()),
    };
    if !ctx.is_replication() {
        return Outcome::code(health.code());
    }
    match health {
        Health::Down => Outcome::code(OcfExit::NotRunning),
        Health::Primary => match gate(ctx) {
            Gate::PrimaryPath { probe_score } => {
                if probe_score && ctx.agent.params.monitor_sql_is_default() {
                    if let Err(o) = set_own_score(ctx, Score::PROMOTE_ME) {
                        return o;
                    }
                }
                if probe_score {
                    // The cluster takes this primary as its own (PR #1277).
                    if let Err(o) = record_primary_origin(ctx, None) {
                        return ctx.fail(o.code, o.reason.unwrap_or_default());
                    }
                }
                primary_monitor(ctx)
            }
            Gate::Refused(refusal) => {
                use crate::explain::Explain;
                ctx.journal(
                    "monitor",
                    crate::journal::Event::Refusal {
                        decision: "role_gate".into(),
                        rule: Gate::Refused(refusal.clone()).rule(),
                        reason: refusal.reason(),
                    },
                );
                refuse_primary(ctx, &refusal)
            }
        },
        Health::Standby | Health::Running => {
            if probe {
                if let Err(o) = set_own_score(ctx, Ineligible::ProbedAsStandby.score()) {
                    return o;
                }
            }
            standby_monitor(ctx)
        }
    }
}

fn set_own_score(ctx: &mut Ctx<'_, '_>, score: Score) -> Result<(), Outcome> {
    match ctx.attrs.set_own_score(ctx.world.cluster, score) {
        Ok(_) => Ok(()),
        Err(e) => Err(ctx.fail(
            OcfExit::ErrGeneric,
            format!("Can't set the promotion score: {e}"),
        )),
    }
}

/// The role gate's input: the monitor's role and, on a probe, the other
/// Promoted instances as Pacemaker reports them.
fn gate(ctx: &mut Ctx<'_, '_>) -> Gate {
    let probe = ctx.probe;
    let role = MonitorRole::from_meta(ctx.agent.context.role.as_deref());
    let others = if role_gate::needs_promoted_list(probe) {
        let local = ctx.attrs.local.clone();
        let resource = ctx.agent.names.resource.clone();
        match ctx.world.cluster.promoted_nodes(&resource) {
            Ok(nodes) => OthersPromoted::Nodes(nodes.into_iter().filter(|n| *n != local).collect()),
            Err(e) => OthersPromoted::Unreadable(e.to_string()),
        }
    } else {
        OthersPromoted::NotRead
    };
    let own_claim = if probe && matches!(&others, OthersPromoted::Nodes(n) if n.is_empty()) {
        probe_claim(ctx)
    } else if !probe && role == MonitorRole::Promoted {
        promoted_claim(ctx)
    } else {
        Ok(())
    };
    role_gate::decide(&GateInput {
        probe,
        role,
        others,
        own_claim,
    })
}

/// A server answering as a primary that the cluster did not promote: write
/// nothing about any other node. When it was promoted outside the cluster
/// (its data may have forked), take it out of every election: score
/// -INFINITY, data status `DISCONNECT`, and `PGSQL.lock` so that a start
/// refuses it until an operator (or the rejoin decision) deals with the data.
pub(super) fn refuse_primary(ctx: &mut Ctx<'_, '_>, refusal: &Refusal) -> Outcome {
    let reason = refusal.reason();
    if refusal.is_rogue() {
        let local = ctx.attrs.local.clone();
        let r = ctx
            .attrs
            .set_own_score(ctx.world.cluster, Ineligible::NotPromotedByCluster.score());
        ctx.warn_on_err("setting the score to -INFINITY", r);
        let r = ctx.attrs.set_data_status(
            ctx.world.cluster,
            &local,
            &Ineligible::NotPromotedByCluster.disconnect(),
        );
        ctx.warn_on_err("setting my data status to DISCONNECT", r);
        let lock = ctx.tmp_path(LOCK_FILE);
        let r = ctx.world.fs.write(&lock, "", FileOwner::Root, 0o644);
        ctx.warn_on_err(&format!("creating {lock}"), r);
    }
    ctx.fail(OcfExit::ErrGeneric, reason)
}

/// Issue 10: the VIP (`master_ip`) leaves a demoted node only after the
/// demote, so its new walreceiver may have connected to its own server
/// (a hot standby serves replication) and would stay on the old timeline.
/// Terminates the local walsenders whose `application_name` is the local
/// node's (the agent's `primary_conninfo` sets it); the walreceiver retries
/// after `wal_retrieve_retry_interval` and reaches the primary once the VIP
/// moved. True when one was found.
fn stop_self_streaming(ctx: &mut Ctx<'_, '_>) -> bool {
    let local = ctx.attrs.local.clone();
    match ctx.world.db.terminate_walsenders(&local) {
        Ok(0) => false,
        Ok(n) => {
            ctx.log(
                LogLevel::Info,
                &format!(
                    "terminated {n} walsender(s) streaming to this node's own walreceiver (application_name={local}): master_ip={} still leads here; it retries and reaches the primary once the VIP moved",
                    ctx.agent.params.master_ip
                ),
            );
            true
        }
        Err(e) => {
            ctx.log(
                LogLevel::Warn,
                &format!("Can't check for a walreceiver streaming from this node itself: {e}"),
            );
            false
        }
    }
}

fn update_receiver_status(ctx: &mut Ctx<'_, '_>, primary: bool, self_streaming: bool) {
    let receiving = match postmaster_alive(ctx) {
        Ok(Some(pid)) => ctx.world.server.wal_receiver_running(pid).unwrap_or(false),
        _ => false,
    };
    let value = if self_streaming {
        ctx.log(
            LogLevel::Warn,
            "wal receiver was connected to this node itself",
        );
        "ERROR"
    } else if receiving {
        "normal"
    } else if primary {
        "normal (master)"
    } else {
        ctx.log(LogLevel::Warn, "wal receiver process is not running");
        "ERROR"
    };
    let name = ctx.agent.names.receiver_status.clone();
    let r = ctx.attrs.set_own(ctx.world.cluster, &name, value);
    ctx.warn_on_err("updating the receiver status", r);
}

fn primary_monitor(ctx: &mut Ctx<'_, '_>) -> Outcome {
    let local = ctx.attrs.local.clone();
    let own = ctx
        .attrs
        .set_data_status(ctx.world.cluster, &local, &DataStatus::Latest)
        .and_then(|_| {
            ctx.attrs
                .set_status(ctx.world.cluster, &local, PgStatus::Pri)
        });
    if let Err(e) = own {
        return ctx.fail(
            OcfExit::ErrGeneric,
            format!("Can't update my own attributes: {e}"),
        );
    }
    match control(ctx) {
        Ok(true) => {
            if ctx.pause(RECHECK_DELAY) {
                if let Err(o) = control(ctx) {
                    return o;
                }
            }
        }
        Ok(false) => {}
        Err(o) => return o,
    }
    Outcome::code(OcfExit::RunningPromoted)
}

fn standby_monitor(ctx: &mut Ctx<'_, '_>) -> Outcome {
    let local = ctx.attrs.local.clone();
    let resource = ctx.agent.names.resource.clone();
    let promoted = match ctx.world.cluster.promoted_nodes(&resource) {
        Ok(nodes) => nodes
            .into_iter()
            .filter(|n| *n != local)
            .collect::<Vec<_>>(),
        Err(e) => {
            return ctx.fail(
                OcfExit::ErrGeneric,
                format!("Can't read the cluster status: {e}"),
            )
        }
    };
    if promoted.is_empty() {
        ctx.log(LogLevel::Info, "Master does not exist.");
        if let Err(e) = ctx
            .attrs
            .set_status(ctx.world.cluster, &local, PgStatus::HsAlone)
        {
            return ctx.fail(OcfExit::ErrGeneric, format!("Can't set my status: {e}"));
        }
        match have_master_right(ctx) {
            Ok(true) => remove_notes(ctx),
            Ok(false) => {}
            Err(o) => return ctx.fail(o.code, o.reason.unwrap_or_default()),
        }
    } else {
        clear_withheld_score(ctx);
        match ctx.attrs.data_status(ctx.world.cluster, &local) {
            Ok(Some(DataStatus::Disconnect)) => {
                if let Err(e) = ctx
                    .attrs
                    .set_status(ctx.world.cluster, &local, PgStatus::HsAlone)
                {
                    return ctx.fail(OcfExit::ErrGeneric, format!("Can't set my status: {e}"));
                }
            }
            Ok(_) => {}
            Err(e) => {
                return ctx.fail(
                    OcfExit::ErrGeneric,
                    format!("Can't read my data status: {e}"),
                )
            }
        }
    }
    Outcome::success()
}
