//! `notify` (stock §1.6): carries out [`crate::decide::notify`]. Node names
//! in the notify lists are compared exactly (bug J); membership is checked
//! over the whole list.

use super::control::control;
use super::elect::{
    history_files, own_location, own_origin, record_master_baseline_and_origin, withdraw_location,
};
use super::Ctx;
use crate::decide::notify::{
    notify_decision, pre_promote, promotee_yields_to, NotifyAction, PrePromoteAction,
    PrePromoteInput, PrePromoteReason, StandbyAhead,
};
use crate::election::Origin;
use crate::lsn::Lsn;
use crate::ocf::{OcfExit, Outcome};
use crate::ports::{Lifetime, LogLevel};
use crate::score::Score;
use crate::status::PgStatus;
use crate::timeline::{rank, HistoryEntry};
use std::time::Duration;

/// Runs `notify`: decides with [`notify_decision`], then carries it out.
pub fn notify(ctx: &mut Ctx<'_, '_>) -> Outcome {
    let local = ctx.attrs.local.clone();
    let names = &ctx.agent.names;
    let decision = notify_decision(
        ctx.agent.params.rep_mode,
        &local,
        &ctx.agent.context.notify_lists,
    );
    match decision.action {
        NotifyAction::Nothing => {}
        NotifyAction::PrePromoteCheck => return pre_promote_check(ctx),
        NotifyAction::ForgetElection {
            delete_master_baseline,
        } => {
            withdraw_location(ctx);
            let r = ctx
                .attrs
                .delete_own(ctx.world.cluster, &names.baseline_origin);
            ctx.warn_on_err("deleting the origin of the master baseline", r);
            if delete_master_baseline {
                let r = ctx
                    .attrs
                    .delete_own(ctx.world.cluster, &names.master_baseline);
                ctx.warn_on_err("deleting the master baseline", r);
            }
        }
        NotifyAction::RecordBaseline => {
            if let Err(o) = record_master_baseline_and_origin(ctx) {
                ctx.log(LogLevel::Warn, &o.reason.unwrap_or_default());
            }
            let r = ctx
                .attrs
                .set_status(ctx.world.cluster, &local, PgStatus::HsAlone);
            ctx.warn_on_err("setting the status to HS:alone", r);
        }
        NotifyAction::ControlStandbys => {
            if let Err(o) = control(ctx) {
                ctx.log(LogLevel::Warn, &o.reason.unwrap_or_default());
            }
        }
    }
    Outcome::success()
}

/// A node's `<rsc>-master-baseline`; `None` when absent, unreadable or
/// unparsable.
fn read_baseline(ctx: &mut Ctx<'_, '_>, node: &str) -> Option<Lsn> {
    let name = &ctx.agent.names.master_baseline;
    match ctx.world.cluster.get_attr(node, name, Lifetime::Reboot) {
        Ok(Some(v)) => Lsn::parse_attr(&v).ok(),
        _ => None,
    }
}

/// A node's `<rsc>-baseline-origin`; `None` when absent, unreadable or
/// unparsable (the histories then cannot be compared).
fn read_baseline_origin(ctx: &mut Ctx<'_, '_>, node: &str) -> Option<Origin> {
    let name = &ctx.agent.names.baseline_origin;
    match ctx.world.cluster.get_attr(node, name, Lifetime::Reboot) {
        Ok(Some(v)) => Origin::parse_attr(&v).ok(),
        _ => None,
    }
}

/// Issue 11 (B2-14): this standby holds the promotee's WAL and more on the
/// same history. It gives itself 1000 and the promotee -INFINITY: the
/// attribute change aborts Pacemaker's transition before the promotee's
/// promote and the next one promotes this node; the promotee, behind on
/// the same timeline, then follows it. Nobody is banned.
fn take_over(ctx: &mut Ctx<'_, '_>, promotee: &str, why: &PrePromoteReason) -> Outcome {
    if let PrePromoteReason::AheadOnSameHistory {
        theirs,
        mine,
        origin,
        ..
    } = why
    {
        ctx.log(
            LogLevel::Info,
            &format!(
                "My data ({mine}) holds all of {promotee}'s ({theirs}) and more on the same history ({}): I take over the promotion",
                origin.to_attr()
            ),
        );
    }
    let r = ctx
        .attrs
        .set_own_score(ctx.world.cluster, Score::PROMOTE_ME)
        .and_then(|_| {
            ctx.attrs
                .set_other_score(ctx.world.cluster, promotee, Score::CAN_NOT_PROMOTE)
        });
    if let Err(e) = r {
        ctx.log(
            LogLevel::Warn,
            &format!("Can't move the promotion from {promotee} to me: {e}"),
        );
    }
    Outcome::success()
}

/// A node's published election location (`<rsc>-xlog-loc`) and origin
/// (`<rsc>-xlog-tli`), both readable and recognised, or `None`.
fn read_election_location(ctx: &mut Ctx<'_, '_>, node: &str) -> Option<(Lsn, Origin)> {
    let names = &ctx.agent.names;
    let loc = ctx
        .world
        .cluster
        .get_attr(node, &names.xlog_loc, Lifetime::Reboot);
    let tli = ctx
        .world
        .cluster
        .get_attr(node, &names.xlog_tli, Lifetime::Reboot);
    match (loc, tli) {
        (Ok(Some(l)), Ok(Some(t))) => {
            Some((Lsn::parse_attr(&l).ok()?, Origin::parse_attr(&t).ok()?))
        }
        _ => None,
    }
}

/// Issue 11 item 4: this node's end of WAL and origin read from the data
/// directory, without SQL (its server did not answer at post-demote, so it
/// has no master-baseline): `pg_controldata` gives the system identifier,
/// the checkpoint and its timeline, `pg_waldump` from that checkpoint the
/// end of WAL on that timeline (at or before the true end: never more than
/// the node holds); the timeline is raised from the history files like the
/// election's ([`rank`]). `None` (logged) when either cannot tell.
fn read_own_wal_end(ctx: &mut Ctx<'_, '_>) -> Option<(Lsn, Origin)> {
    let control = match ctx.world.server.control_data() {
        Ok(c) => c,
        Err(e) => {
            ctx.log(
                LogLevel::Info,
                &format!("Can't read my control data for the pre-promote check: {e}"),
            );
            return None;
        }
    };
    let end = match ctx
        .world
        .server
        .wal_end(control.timeline, control.checkpoint)
    {
        Ok(end) => end,
        Err(e) => {
            ctx.log(
                LogLevel::Info,
                &format!("Can't find my end of WAL for the pre-promote check: {e}"),
            );
            return None;
        }
    };
    let histories = history_files(ctx, control.timeline);
    let ranking = rank(control.timeline, end, &histories);
    let origin = Origin {
        timeline: ranking.timeline,
        system_id: control.system_id,
        switch_point: ranking.switch_point,
    };
    ctx.log(
        LogLevel::Info,
        &format!(
            "I have no master baseline; my end of WAL from the data directory: {end} on {}",
            origin.to_attr()
        ),
    );
    Some((end, origin))
}

/// Issue 11 item 4: this node's own history file of `timeline` (the
/// switch points of the timelines it went through): from the server port,
/// else `pg_wal/<TLI>.history` through the filesystem port. `None` when
/// neither can tell (the node is then not taken for a superset of a node
/// on an older timeline).
fn read_own_history(ctx: &mut Ctx<'_, '_>, timeline: u32) -> Option<Vec<HistoryEntry>> {
    if let Ok(h) = ctx.world.server.local_history(timeline) {
        return Some(h);
    }
    history_files(ctx, timeline)
        .into_iter()
        .find(|(t, _)| *t == timeline)
        .map(|(_, h)| h)
}

/// Runs [`pre_promote`] from `input`, reading what it asks for, to its
/// final step (take over, allow or ban).
fn decide_pre_promote(
    ctx: &mut Ctx<'_, '_>,
    mut input: PrePromoteInput,
) -> (PrePromoteInput, crate::decide::notify::PrePromoteDecision) {
    loop {
        let decision = pre_promote(&input);
        let promotee = input.promotee.clone().unwrap_or_default();
        let local = input.local.clone();
        match decision.action {
            PrePromoteAction::ReadPromoteeBaseline => {
                input.theirs = Some(read_baseline(ctx, &promotee));
            }
            PrePromoteAction::ReadOwnBaseline => {
                input.mine = Some(read_baseline(ctx, &local));
            }
            PrePromoteAction::ReadPromoteeOrigin => {
                input.their_origin = Some(read_baseline_origin(ctx, &promotee));
            }
            PrePromoteAction::ReadOwnOrigin => {
                input.my_origin = Some(read_baseline_origin(ctx, &local));
            }
            PrePromoteAction::ReadOwnWalEnd => {
                input.my_wal_end = Some(read_own_wal_end(ctx));
            }
            PrePromoteAction::ReadOwnHistory => {
                let timeline = input
                    .my_wal_end
                    .flatten()
                    .map(|(_, o)| o.timeline)
                    .or_else(|| input.my_origin.flatten().map(|o| o.timeline))
                    .unwrap_or(1);
                input.my_history = Some(read_own_history(ctx, timeline));
            }
            PrePromoteAction::TakeOver | PrePromoteAction::Allow | PrePromoteAction::BanMyself => {
                return (input, decision)
            }
        }
    }
}

/// Issue 11: the promotee has no master-baseline (its primary went away
/// without a demote: a node fenced or down), so the stock check is skipped.
/// When both this node and the promotee published their election location
/// and origin since (`xlog-loc`, `xlog-tli`, standbys without a primary),
/// the same check runs on those (with this node's own history file when it
/// is on a newer timeline, issue 11 item 4): a take-over when this node
/// holds all of the promotee's WAL and more; anything else keeps the stock
/// skip (never a ban on this weaker evidence).
///
/// At a pre-promote without a demote (`published_now`), the promotee
/// publishes its location in its own notification, run at the same time:
/// when the promotee's data-status is `STREAMING|…` this node waits for it
/// as the promotee waits for the others ([`wait_for_location`]).
fn ahead_by_election_locations(
    ctx: &mut Ctx<'_, '_>,
    input: &PrePromoteInput,
    promotee: &str,
    published_now: bool,
) -> Option<PrePromoteReason> {
    let theirs = if published_now && is_streaming(ctx, promotee) {
        let since = ctx.world.clock.now();
        wait_for_location(ctx, promotee, since)
    } else {
        read_election_location(ctx, promotee)
    };
    let (theirs, their_origin) = theirs?;
    let local = input.local.clone();
    let (mine, my_origin) = read_election_location(ctx, &local)?;
    let (_, decision) = decide_pre_promote(
        ctx,
        PrePromoteInput {
            theirs: Some(Some(theirs)),
            mine: Some(Some(mine)),
            their_origin: Some(Some(their_origin)),
            my_origin: Some(Some(my_origin)),
            ..input.clone()
        },
    );
    (decision.action == PrePromoteAction::TakeOver).then_some(decision.reason)
}

/// How long the promotee waits, at a pre-promote without a demote, for
/// each other active streaming standby to publish its location
/// ([`publish_position_without_demote`]): they publish in their own
/// pre-promote notification, which Pacemaker runs at the same time. A
/// standby that publishes nothing (its server does not answer) costs the
/// failover this much once.
pub const PUBLICATION_WAIT: Duration = Duration::from_secs(3);

/// Issue 11 (node loss): Pacemaker promotes without a demote when the
/// primary's node left the cluster or was fenced. No standby then recorded
/// a master-baseline at post-demote and, a primary having run, none
/// published an election location: the standbys could not be compared,
/// and the sync standby was promoted at once even when an async standby
/// held all of its WAL and more. Here every active standby whose
/// data-status is `STREAMING|…` publishes its current location (the
/// greater of replay and receive) and origin as its election location
/// (`<rsc>-xlog-loc`, `<rsc>-xlog-tli`; withdrawn at post-promote), so
/// that the promotee compares itself with the others ([`yield_if_behind`])
/// and the others with the promotee ([`ahead_by_election_locations`]).
/// Only in sync mode with 3 or more nodes (the scope of [`pre_promote`]).
/// Nothing is published when the transition demotes a node (post-demote
/// recorded the baselines), when this node already published either, or
/// when its server does not report its location and origin (a standby
/// that does not answer never takes over). Returns true when it published.
fn publish_position_without_demote(ctx: &mut Ctx<'_, '_>, i_streamed: bool) -> bool {
    let agent = ctx.agent;
    if agent.params.rep_mode != crate::params::RepMode::Sync
        || agent.params.node_list.len() < 3
        || !agent.context.notify_lists.demote.is_empty()
        || !i_streamed
    {
        return false;
    }
    let local = ctx.attrs.local.clone();
    if read_baseline(ctx, &local).is_some() || read_election_location(ctx, &local).is_some() {
        return false;
    }
    // A server that answers as a primary (promoted outside the cluster)
    // has no standby location to compare.
    if !matches!(ctx.world.db.is_in_recovery(), Ok(true)) {
        return false;
    }
    let Ok(lsn) = own_location(ctx) else {
        ctx.log(
            LogLevel::Info,
            "Can't read my location for the pre-promote comparison; I publish nothing",
        );
        return false;
    };
    let Some(origin) = own_origin(ctx, lsn) else {
        return false;
    };
    let names = &agent.names;
    let r = ctx
        .attrs
        .set_own(ctx.world.cluster, &names.xlog_tli, &origin.to_attr())
        .and_then(|_| {
            ctx.attrs
                .set_own(ctx.world.cluster, &names.xlog_loc, &lsn.to_string())
        });
    match r {
        Ok(_) => {
            ctx.log(
                LogLevel::Info,
                &format!(
                    "No node was demoted: I publish my location {lsn} on {} for the pre-promote comparison",
                    origin.to_attr()
                ),
            );
            true
        }
        Err(e) => {
            ctx.log(
                LogLevel::Warn,
                &format!("Can't publish my location for the pre-promote comparison: {e}"),
            );
            withdraw_location(ctx);
            false
        }
    }
}

/// Issue 11 (node loss): true when this node's location is still the one
/// it published at this pre-promote ([`publish_position_without_demote`]).
/// A location that moved means a primary still sends it WAL (the "lost"
/// node is not gone: a partition without fencing): positions compared a
/// moment ago may be stale, so neither a take-over nor a yield is made on
/// them (the sync standby, which held every acknowledged commit, is
/// promoted as before). Unreadable counts as moved.
fn location_unmoved(ctx: &mut Ctx<'_, '_>) -> bool {
    let local = ctx.attrs.local.clone();
    let published = read_election_location(ctx, &local).map(|(lsn, _)| lsn);
    let now = own_location(ctx).ok();
    if published.is_some() && published == now {
        return true;
    }
    ctx.log(
        LogLevel::Warn,
        &format!(
            "My location moved since I published it ({} -> {}): a primary may still send WAL; the promotion is not moved",
            published.map_or("none".into(), |l| l.to_string()),
            now.map_or("unreadable".into(), |l| l.to_string())
        ),
    );
    false
}

/// True when `node`'s data-status is `STREAMING|…`.
fn is_streaming(ctx: &mut Ctx<'_, '_>, node: &str) -> bool {
    matches!(
        ctx.attrs.data_status(ctx.world.cluster, node),
        Ok(Some(crate::status::DataStatus::Replication { ref state, .. })) if state == "STREAMING"
    )
}

/// Issue 11 (node loss): `node`'s election location, read again every
/// 200 ms until it is published or [`PUBLICATION_WAIT`] has passed since
/// `since` (bounded by the action's deadline); the miss is logged.
fn wait_for_location(ctx: &mut Ctx<'_, '_>, node: &str, since: Duration) -> Option<(Lsn, Origin)> {
    loop {
        if let Some(l) = read_election_location(ctx, node) {
            return Some(l);
        }
        let waited = ctx.world.clock.now().saturating_sub(since);
        if waited >= PUBLICATION_WAIT || !ctx.pause(Duration::from_millis(200)) {
            ctx.log(
                LogLevel::Info,
                &format!("{node} published no location for the pre-promote comparison"),
            );
            return None;
        }
    }
}

/// The pre-promote data check (stock §4.5), decided by [`pre_promote`].
fn pre_promote_check(ctx: &mut Ctx<'_, '_>) -> Outcome {
    let agent = ctx.agent;
    let local = ctx.attrs.local.clone();
    let i_streamed = is_streaming(ctx, &local);
    let published_now = publish_position_without_demote(ctx, i_streamed);
    let input = PrePromoteInput {
        rep_mode: agent.params.rep_mode,
        node_list_len: agent.params.node_list.len(),
        local: ctx.attrs.local.clone(),
        promotee: agent.context.notify_lists.promote.first().cloned(),
        theirs: None,
        mine: None,
        their_origin: None,
        my_origin: None,
        i_streamed,
        my_wal_end: None,
        my_history: None,
    };
    let (input, decision) = decide_pre_promote(ctx, input);
    match decision.action {
        PrePromoteAction::TakeOver => {
            let promotee = input.promotee.clone().unwrap_or_default();
            take_over(ctx, &promotee, &decision.reason)
        }
        PrePromoteAction::BanMyself => {
            let reason = match &decision.reason {
                PrePromoteReason::Newer(why) => why.to_string(),
                _ => "the pre-promote data check refused this node".to_string(),
            };
            if let PrePromoteReason::Newer(why) = &decision.reason {
                use crate::explain::Explain;
                ctx.journal(
                    "notify",
                    crate::journal::Event::Refusal {
                        decision: "pre_promote".into(),
                        rule: why.rule(),
                        reason: reason.clone(),
                    },
                );
            }
            if let Err(e) = ctx.world.cluster.ban(&agent.context.instance, &input.local) {
                ctx.log(LogLevel::Err, &format!("Can't ban myself: {e}"));
            }
            ctx.fail(OcfExit::ErrGeneric, reason)
        }
        _ => {
            match &decision.reason {
                PrePromoteReason::IAmThePromotee => yield_if_behind(ctx, published_now),
                PrePromoteReason::PromoteeBaselineUnreadable { promotee } => {
                    if let Some(why) =
                        ahead_by_election_locations(ctx, &input, promotee, published_now)
                    {
                        if !published_now || location_unmoved(ctx) {
                            return take_over(ctx, promotee, &why);
                        }
                    }
                    ctx.log(
                        LogLevel::Info,
                        &format!(
                            "Can't read the master baseline of {promotee}; skipping the data check"
                        ),
                    );
                }
                PrePromoteReason::AheadNotStreaming {
                    promotee,
                    theirs,
                    mine,
                } => ctx.log(
                    LogLevel::Info,
                    &format!(
                        "My data ({mine}) holds all of {promotee}'s ({theirs}) and more, but the primary did not see me streaming: I neither take over nor refuse the promotion"
                    ),
                ),
                PrePromoteReason::NewerUnverified {
                    promotee,
                    theirs,
                    mine,
                } => ctx.log(
                    LogLevel::Warn,
                    &format!(
                        "My end of WAL ({mine}) is past {promotee}'s master baseline ({theirs}) but my history is not shown to hold all of it; the promotion goes on"
                    ),
                ),
                _ => {}
            }
            Outcome::success()
        }
    }
}

/// Issue 11 item 4, the promotee's side ([`promotee_yields_to`]): when
/// this node, about to be promoted, has published neither a master-baseline
/// nor an election location (the others had nothing to compare), it
/// compares itself with the active streaming standbys' published
/// locations; one that holds all of its WAL and more gets 1000 and this
/// node -INFINITY (Pacemaker aborts the transition on the score change and
/// promotes that node; this one follows it). Errors are logged; the
/// promotion then goes on.
///
/// Issue 11 (node loss): when this node has just published its location
/// because no node was demoted ([`publish_position_without_demote`],
/// `published_now`), it compares that location with the others', waiting
/// up to [`PUBLICATION_WAIT`] (bounded by the action's deadline) for each
/// active streaming standby that has not published yet.
fn yield_if_behind(ctx: &mut Ctx<'_, '_>, published_now: bool) {
    let local = ctx.attrs.local.clone();
    let mine = if published_now {
        read_election_location(ctx, &local)
    } else {
        let published =
            read_baseline(ctx, &local).is_some() || read_election_location(ctx, &local).is_some();
        if published {
            return;
        }
        own_location(ctx)
            .ok()
            .and_then(|lsn| own_origin(ctx, lsn).map(|o| (lsn, o)))
    };
    if mine.is_none() {
        return;
    }
    let waited_from = ctx.world.clock.now();
    let agent = ctx.agent;
    let mut others = Vec::new();
    for node in agent.params.node_list.iter().filter(|n| **n != local) {
        let streaming = is_streaming(ctx, node);
        let active = agent.context.notify_lists.unpromoted.contains(node);
        let location = if published_now && active && streaming {
            wait_for_location(ctx, node, waited_from)
        } else {
            read_election_location(ctx, node)
        };
        others.push(StandbyAhead {
            node: node.clone(),
            active,
            streaming,
            location,
        });
    }
    let Some(winner) = promotee_yields_to(mine, &others) else {
        return;
    };
    if published_now && !location_unmoved(ctx) {
        return;
    }
    if let Some((lsn, origin)) = mine {
        ctx.log(
            LogLevel::Info,
            &format!(
                "{winner} holds all of my data ({lsn} on {}) and more: I yield the promotion to it",
                origin.to_attr()
            ),
        );
    }
    let r = ctx
        .attrs
        .set_other_score(ctx.world.cluster, &winner, Score::PROMOTE_ME)
        .and_then(|_| {
            ctx.attrs
                .set_own_score(ctx.world.cluster, Score::CAN_NOT_PROMOTE)
        });
    if let Err(e) = r {
        ctx.log(
            LogLevel::Warn,
            &format!("Can't move the promotion from me to {winner}: {e}"),
        );
    }
}
