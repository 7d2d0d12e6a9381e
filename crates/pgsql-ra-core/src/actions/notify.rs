//! `notify` (stock §1.6): carries out [`crate::decide::notify`]. Node names
//! in the notify lists are compared exactly (bug J); membership is checked
//! over the whole list.

use super::control::control;
use super::elect::{
    history_files, history_files_checked, own_location, record_master_baseline_and_origin,
    recorded_primary_origins, withdraw_location, BASELINE_WITHHELD,
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
use crate::timeline::{end_on_followed_history, HistoryEntry};

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

/// Whether `node` withheld its master-baseline at post-demote
/// ([`BASELINE_WITHHELD`]); an unreadable attribute counts as withheld
/// (no fallback on weaker evidence).
fn baseline_withheld(ctx: &mut Ctx<'_, '_>, node: &str) -> bool {
    let name = &ctx.agent.names.baseline_origin;
    match ctx.world.cluster.get_attr(node, name, Lifetime::Reboot) {
        Ok(v) => v.as_deref() == Some(BASELINE_WITHHELD),
        Err(_) => true,
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
/// end of WAL on the history the node's recovery follows
/// ([`end_on_followed_history`]: old-timeline bytes past a newer
/// timeline's fork are never counted), and the node ranked on that
/// followed timeline. `None` (logged) when either cannot tell, a history
/// file included.
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
    let histories = match history_files_checked(ctx, control.timeline) {
        Ok(h) => h,
        Err(e) => {
            ctx.log(
                LogLevel::Info,
                &format!("Can't read my timeline history files for the pre-promote check: {e}"),
            );
            return None;
        }
    };
    let server = &mut *ctx.world.server;
    let he = match end_on_followed_history(
        control.timeline,
        control.checkpoint,
        &histories,
        |t, from| server.wal_end(t, from),
    ) {
        Ok(he) => he,
        Err(e) => {
            ctx.log(
                LogLevel::Info,
                &format!("Can't find my end of WAL for the pre-promote check: {e}"),
            );
            return None;
        }
    };
    let end = he.end;
    let origin = Origin {
        timeline: he.timeline,
        system_id: control.system_id,
        switch_point: he.switch_point,
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

/// The greater of [`read_own_wal_end`] and the replay/receive location,
/// with the origin of the former: the own position a take-over or a yield
/// compares (never the replay position alone). `None` when the end of WAL
/// cannot be read.
fn own_end_and_location(ctx: &mut Ctx<'_, '_>) -> Option<(Lsn, Origin)> {
    let (end, origin) = read_own_wal_end(ctx)?;
    Some((own_location(ctx).map_or(end, |l| l.max(end)), origin))
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

/// True when `node`'s recorded data-status is `STREAMING|SYNC`; `None`
/// when it cannot be read.
fn streaming_sync(ctx: &mut Ctx<'_, '_>, node: &str) -> Option<bool> {
    ctx.attrs
        .data_status(ctx.world.cluster, node)
        .ok()
        .map(|d| matches!(d, Some(crate::status::DataStatus::Replication { ref state, ref sync_state }) if state == "STREAMING" && sync_state == "SYNC"))
}

/// Issue 11 (sixth attack on the baseline rule): the promotee has no
/// master-baseline and is not the synchronous standby (the election made
/// an async standby promotable as a superset of the sync standby, on
/// published replay and receive positions: a sync standby whose replay
/// stalled below WAL it had flushed looked behind). When this node is the
/// synchronous standby (`STREAMING|SYNC`, not refused by its handover
/// baseline, single synchronous standby: `sync_quorum` 0) and its end of
/// WAL read from `pg_wal` by the baseline's rule holds all of the
/// promotee's published location and more on the same history, the
/// superset premise was false: it takes over. A take-over by the
/// synchronous standby never loses an acknowledged commit (it holds them
/// all); the promotee's own WAL past it was never acknowledged. Never from
/// a promotee that withheld its baseline (its `pg_wal` may hold more than
/// its published location), never for a node the election's lineage gate
/// refuses; anything unreadable: no take-over.
fn sync_standby_ahead_of_a_superset_promotee(
    ctx: &mut Ctx<'_, '_>,
    input: &PrePromoteInput,
    promotee: &str,
) -> Option<PrePromoteReason> {
    if ctx.agent.params.sync_quorum != 0 {
        return None;
    }
    let is_sync = |ctx: &mut Ctx<'_, '_>, node: &str| streaming_sync(ctx, node).unwrap_or(false);
    let local = input.local.clone();
    if is_sync(ctx, promotee) || !is_sync(ctx, &local) {
        return None;
    }
    ahead_of_an_election_location(ctx, input, promotee, None)
}

/// The take-over check shared by [`sync_standby_ahead_of_a_superset_promotee`]
/// and [`superset_of_a_final_promotee`]: this node's end of WAL (the
/// baseline's rule, never its replay position alone), past its own
/// handover baseline and the election's lineage gate (issue 9: never 1000
/// for a node the election would refuse; seventh attack: one promoted
/// outside the cluster took over), compared by [`pre_promote`] with the
/// promotee's published election location (`required`: only when its
/// location is this LSN). Anything unreadable: `None` (no take-over).
fn ahead_of_an_election_location(
    ctx: &mut Ctx<'_, '_>,
    input: &PrePromoteInput,
    promotee: &str,
    required: Option<Lsn>,
) -> Option<PrePromoteReason> {
    let (theirs, their_origin) = read_election_location(ctx, promotee)?;
    if required.is_some_and(|r| r != theirs) {
        return None;
    }
    let local = input.local.clone();
    let (mine, my_origin) = own_end_and_location(ctx)?;
    let baseline = ctx
        .world
        .cluster
        .get_attr(&local, &ctx.agent.names.sync_baseline, Lifetime::Forever)
        .ok()?;
    crate::election::handover_eligibility(baseline.as_deref(), mine).ok()?;
    let recorded = recorded_primary_origins(ctx).ok()?;
    crate::election::lineage_eligibility(
        Some(my_origin),
        crate::election::cluster_origin(&recorded).as_ref(),
    )
    .ok()?;
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

/// Issue 11 item 4 (found by the property test: a sync standby killed
/// with the primary restarts without a baseline, the bootstrap election
/// promotes it, while an async standby on the newer timeline holds all of
/// its WAL and more): the promotee has no master-baseline (not withheld)
/// but its position is proven to be its end of WAL — its final mark
/// (`<rsc>-xlog-final`, issue 16: two consecutive observations of its
/// startup process asleep after `pg_wal`, the archive and the stream gave
/// nothing more) equals its published `<rsc>-xlog-loc`. Then the election
/// location is as good as a baseline: a standby the primary saw streaming
/// whose end of WAL (read by the baseline's rule) holds all of it and more
/// on the same history ([`crate::superset::holds_all_by_history`], its own
/// history file for a newer timeline) takes over. The promotee holds every
/// acknowledged commit — it must be the one `STREAMING|SYNC` node, no other
/// node_list node showing it — so a node holding all of its WAL does too.
/// Single synchronous standby only (`sync_quorum` 0: quorum members are
/// ranked by the election); never for a node the
/// election's lineage gate refuses or whose own handover baseline it has
/// not reached; anything unreadable: no take-over.
fn superset_of_a_final_promotee(
    ctx: &mut Ctx<'_, '_>,
    input: &PrePromoteInput,
    promotee: &str,
) -> Option<PrePromoteReason> {
    if ctx.agent.params.sync_quorum != 0 || !input.i_streamed {
        return None;
    }
    // The premise: the promotee is the one synchronous standby, so it holds
    // every acknowledged commit. An async promotee (made promotable as a
    // superset) may lack one the sync standby acknowledged: only
    // `sync_standby_ahead_of_a_superset_promotee` may take over then (ninth
    // attack on issue 11, A9-2: an async standby ahead of an async promotee
    // took over beside the sync standby). Unreadable: no take-over.
    if !streaming_sync(ctx, promotee)? {
        return None;
    }
    for node in ctx.agent.params.node_list.clone() {
        if node != promotee && streaming_sync(ctx, &node)? {
            return None;
        }
    }
    let mark = ctx
        .world
        .cluster
        .get_attr(promotee, &ctx.agent.names.xlog_final, Lifetime::Reboot)
        .ok()??;
    let mark = Lsn::parse_attr(&mark).ok()?;
    ahead_of_an_election_location(ctx, input, promotee, Some(mark))
}

/// The pre-promote data check (stock §4.5), decided by [`pre_promote`].
fn pre_promote_check(ctx: &mut Ctx<'_, '_>) -> Outcome {
    let agent = ctx.agent;
    let local = ctx.attrs.local.clone();
    let i_streamed = matches!(
        ctx.attrs.data_status(ctx.world.cluster, &local),
        Ok(Some(crate::status::DataStatus::Replication { ref state, .. })) if state == "STREAMING"
    );
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
                PrePromoteReason::IAmThePromotee => yield_if_behind(ctx),
                PrePromoteReason::PromoteeBaselineUnreadable { promotee } => {
                    let withheld = baseline_withheld(ctx, promotee);
                    if !withheld {
                        if let Some(why) =
                            sync_standby_ahead_of_a_superset_promotee(ctx, &input, promotee)
                                .or_else(|| superset_of_a_final_promotee(ctx, &input, promotee))
                        {
                            return take_over(ctx, promotee, &why);
                        }
                    }
                    if withheld {
                        ctx.log(
                            LogLevel::Info,
                            &format!(
                                "{promotee} withheld its master baseline (its end of WAL could not be read safely); no data check, the promotion goes on"
                            ),
                        );
                        return Outcome::success();
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
fn yield_if_behind(ctx: &mut Ctx<'_, '_>) {
    let local = ctx.attrs.local.clone();
    let published =
        read_baseline(ctx, &local).is_some() || read_election_location(ctx, &local).is_some();
    if published {
        return;
    }
    // Never on weaker evidence than the baselines': a node that withheld
    // its own does not yield, and its location counts the WAL already in
    // its `pg_wal` (read by the baseline's rule; unreadable: no yield).
    // Its replay position alone may lack acknowledged WAL (fifth attack on
    // issue 11's baseline).
    if baseline_withheld(ctx, &local) {
        return;
    }
    let Some(mine) = own_end_and_location(ctx) else {
        return;
    };
    let mine = Some(mine);
    let agent = ctx.agent;
    let mut others = Vec::new();
    for node in agent.params.node_list.iter().filter(|n| **n != local) {
        let streaming = matches!(
            ctx.attrs.data_status(ctx.world.cluster, node),
            Ok(Some(crate::status::DataStatus::Replication { ref state, .. })) if state == "STREAMING"
        );
        let location = read_election_location(ctx, node);
        others.push(StandbyAhead {
            node: node.clone(),
            active: agent.context.notify_lists.unpromoted.contains(node),
            streaming,
            location,
        });
    }
    let Some(winner) = promotee_yields_to(mine, &others) else {
        return;
    };
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
