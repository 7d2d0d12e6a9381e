//! Builds an [`Explanation`] from a [`Snapshot`] by re-running the core's
//! pure decisions: `start_decision` (the local `PGSQL.lock`), the role gate
//! (a local server answering as primary), `control_slave_status` (on the
//! primary, over its `pg_stat_replication`), and, with no primary, the
//! election's checks (`eligibility_of_attr`, `handover_eligibility`,
//! `lineage_eligibility`) and one round (`decide_checked`).

use crate::decide::start::{start_decision, StartInput};
use crate::election::{
    cluster_origin, completed_rounds, decide_checked, decide_with_finality, eligibility_of_attr,
    handover_eligibility, lineage_eligibility, probe_claim_of, render_note, Finality, Observation,
    Origin, Round, Verdict, NOTE_PREFIX,
};
use crate::ineligible::Ineligible;
use crate::lsn::Lsn;
use crate::names::AttributeNames;
use crate::params::Params;
use crate::replication::{control_slave_status, ControlInput, Handover, SyncBaseline};
use crate::role_gate::{self, GateInput, MonitorRole, OthersPromoted};
use crate::score::Score;
use crate::status::DataStatus;
use crate::sync_mode;

use super::outcomes::{
    Classification, ClusterLine, ElectionRound, Fact, LineageRefusal, LockedStart,
};
use super::snapshot::{NodeAttrs, Snapshot};
use super::{Explanation, LocalServer, NodeExplanation, Reason, When, SCHEMA};

/// Explains every node_list node of `snap` under `params`.
pub fn explain(params: &Params, snap: &Snapshot) -> Explanation {
    let names = AttributeNames::for_instance(&snap.resource);
    let promoted: Vec<String> = snap
        .nodes
        .iter()
        .filter(|n| n.promoted)
        .map(|n| n.node.clone())
        .collect();
    let recorded: Vec<(String, Origin)> = snap
        .nodes
        .iter()
        .filter_map(|n| {
            let o = Origin::parse_attr(n.primary_origin.as_deref()?).ok()?;
            Some((n.node.clone(), o))
        })
        .collect();
    let cluster = cluster_origin(&recorded);
    let classified = classify_on_primary(params, snap, &promoted);
    let mut nodes = Vec::new();
    for n in &snap.nodes {
        let mut reasons = Vec::new();
        let local = n.node == snap.local_node;
        if local {
            local_reasons(
                params,
                &names,
                snap,
                n,
                &promoted,
                cluster.as_ref(),
                &mut reasons,
            );
        }
        let down = local && server_down(snap, n);
        if n.online == Some(false) {
            reasons.push(Reason::of(&Fact::Offline));
        } else if n.promoted && down {
            // ServerDown (local_reasons) says what its next monitor does.
        } else if n.promoted {
            reasons.push(Reason::of(&Fact::Promoted));
        } else if local && snap.server.in_recovery == Some(false) {
            // A primary Pacemaker did not promote: the role gate above says
            // why; its own monitor wrote its attributes, not the primary's.
        } else if let Some(primary) = promoted.first() {
            match classified.iter().find(|c| c.decision.node == n.node) {
                Some(c) => reasons.push(Reason::of(c)),
                None => reasons.push(Reason::of(&Fact::SetByPrimary {
                    primary: primary.clone(),
                })),
            }
        } else if snap.promoted_error.is_none() {
            election_reasons(
                params,
                &names,
                snap,
                n,
                local,
                cluster.as_ref(),
                &mut reasons,
            );
        }
        nodes.push(NodeExplanation {
            node: n.node.clone(),
            role: role_of(n),
            score: n.score.clone(),
            data_status: n.data_status.clone(),
            pgsql_status: n.pgsql_status.clone(),
            published: super::published::check(n, &reasons),
            server: local.then(|| local_server(snap)),
            reasons,
        });
    }
    let line = if let Some(error) = &snap.promoted_error {
        ClusterLine::Unreadable {
            error: error.clone(),
        }
    } else if promoted.is_empty() {
        ClusterLine::NoPrimary {
            why: nodes
                .iter()
                .map(|n| {
                    let first = n
                        .reasons
                        .first()
                        .map(|r| r.sentence.clone())
                        .unwrap_or_else(|| "no reason found".into());
                    (n.node.clone(), first)
                })
                .collect(),
        }
    } else {
        ClusterLine::Primary { nodes: promoted }
    };
    Explanation {
        schema: SCHEMA,
        resource: snap.resource.clone(),
        local_node: snap.local_node.clone(),
        cluster: Reason::of(&line),
        nodes,
    }
}

/// The local server as `explain` shows it.
fn local_server(snap: &Snapshot) -> LocalServer {
    let f = &snap.server;
    let looked = f.running || f.errors.is_empty();
    LocalServer {
        running: looked.then_some(f.running),
        role: f.in_recovery.map(|r| {
            if r {
                "standby".to_string()
            } else {
                "primary".to_string()
            }
        }),
        lsn: f.lsn.map(Lsn::to_pg),
        timeline: f.timeline,
        errors: f.errors.clone(),
    }
}

/// The local node's postmaster is known dead while the node is Promoted or
/// its `<rsc>-status` says it runs (issue 13: the server read through the
/// ports, not only the attributes).
fn server_down(snap: &Snapshot, n: &NodeAttrs) -> bool {
    let dead = !snap.server.running && snap.server.errors.is_empty();
    dead && (n.promoted || !is_stopped(n))
}

fn role_of(n: &NodeAttrs) -> String {
    if n.online == Some(false) {
        "offline".into()
    } else if n.promoted {
        "Promoted".into()
    } else {
        match n.pgsql_status.as_deref() {
            None | Some("STOP") => "Stopped".into(),
            Some(_) => "Started".into(),
        }
    }
}

fn is_stopped(n: &NodeAttrs) -> bool {
    matches!(
        n.pgsql_status.as_deref(),
        None | Some("STOP") | Some("UNKNOWN")
    )
}

/// The local lock (start's decision) and, for a server answering as a
/// primary, the role gate.
fn local_reasons(
    params: &Params,
    names: &AttributeNames,
    snap: &Snapshot,
    n: &NodeAttrs,
    promoted: &[String],
    cluster: Option<&(String, Origin)>,
    out: &mut Vec<Reason>,
) {
    if server_down(snap, n) {
        out.push(Reason::of(&Fact::ServerDown {
            promoted: n.promoted,
            status: n.pgsql_status.clone().unwrap_or_else(|| "none".into()),
        }));
    }
    if snap.server.in_recovery == Some(false) {
        gate_reason(names, snap, n, promoted, cluster, out);
    }
    // A primary holds the lock while it runs (promote takes it): it is a
    // refusal only for an instance Pacemaker has not promoted.
    if let Some(lock) = snap.lock.as_ref().filter(|_| !n.promoted) {
        // The same lock rules as start (issue 10): the lone primary (B2-05)
        // over the snapshot's attributes; crash rejoin needs the primary's
        // facts and runs only in start, so it is named, not decided here.
        let reading = |v: &Option<String>| match v {
            Some(v) => crate::decide::lock::Reading::Value(v.clone()),
            None => crate::decide::lock::Reading::Absent,
        };
        let lone = crate::decide::lock::lone_primary(&crate::decide::lock::LonePrimaryInput {
            own: reading(&n.data_status),
            others_promoted: Ok(promoted.iter().filter(|p| **p != n.node).cloned().collect()),
            others: snap
                .nodes
                .iter()
                .filter(|o| o.node != n.node)
                .map(|o| (o.node.clone(), reading(&o.data_status)))
                .collect(),
        });
        let lock_check = if lone.releases() {
            crate::decide::start::LockCheck::Released
        } else if params.crash_rejoin == crate::params::CrashRejoin::None {
            crate::decide::start::LockCheck::Kept { why: None }
        } else {
            crate::decide::start::LockCheck::Kept {
                why: Some(format!(
                    "{lone}; crash_rejoin={} decides at the next start from pg_controldata, the end of WAL and the Promoted node's history",
                    params.crash_rejoin.as_str()
                )),
            }
        };
        let decision = start_decision(&StartInput {
            rep_mode: params.rep_mode,
            lock: Some(lock.path.clone()),
            lock_check: Some(lock_check),
            found: None,
            came_up: None,
        });
        out.push(Reason::of(&LockedStart {
            released: lone.releases().then(|| lone.to_string()),
            decision,
            since_epoch_s: lock.since_epoch_s,
        }));
        // Issue 10: the crash rejoin runs only in a start, which Pacemaker
        // does not call here while the fail-count keeps the instance off.
        if !lone.releases() && !snap.server.running {
            if let Some(wait) =
                super::outcomes::failure_wait(snap.failure.as_ref(), params.crash_rejoin)
            {
                out.push(Reason::of(&wait));
            }
        }
    }
}

fn gate_reason(
    names: &AttributeNames,
    snap: &Snapshot,
    n: &NodeAttrs,
    promoted: &[String],
    cluster: Option<&(String, Origin)>,
    out: &mut Vec<Reason>,
) {
    let mine = match (snap.server.timeline, snap.server.system_id) {
        (Some(t), Some(s)) => Some(Origin::new(t, s)),
        _ => None,
    };
    let input = if n.promoted {
        GateInput {
            probe: false,
            role: MonitorRole::Promoted,
            others: OthersPromoted::NotRead,
            own_claim: Ok(()),
        }
    } else {
        let others = match &snap.promoted_error {
            Some(e) => OthersPromoted::Unreadable(e.clone()),
            None => {
                OthersPromoted::Nodes(promoted.iter().filter(|p| **p != n.node).cloned().collect())
            }
        };
        GateInput {
            probe: true,
            role: MonitorRole::Unstated,
            others,
            own_claim: probe_claim_of(&names.data_status, n.data_status.as_deref(), mine, cluster),
        }
    };
    out.push(Reason::of(&role_gate::decide(&input)));
}

/// On the local primary, Promoted, with its `pg_stat_replication` read:
/// `control_slave_status` over the rows, `rep_mode.conf` and the stored
/// handover baseline, as its next monitor would run it.
fn classify_on_primary(
    params: &Params,
    snap: &Snapshot,
    promoted: &[String],
) -> Vec<Classification> {
    let (Some(rows), true) = (
        snap.server.replication.as_ref(),
        promoted.contains(&snap.local_node),
    ) else {
        return Vec::new();
    };
    let current = snap
        .rep_mode_conf
        .as_deref()
        .map(sync_mode::parse)
        .unwrap_or_default();
    let baseline = snap
        .sync_baseline_file
        .as_deref()
        .and_then(SyncBaseline::parse);
    // The same inputs as the primary's monitor (actions/control.rs).
    let current_quorum = snap
        .rep_mode_conf
        .as_deref()
        .and_then(sync_mode::parse_quorum);
    let offline: Vec<String> = snap
        .nodes
        .iter()
        .filter(|n| n.node != snap.local_node && n.online == Some(false))
        .map(|n| n.node.clone())
        .collect();
    let instance_stopped: Vec<String> = snap
        .nodes
        .iter()
        .filter(|n| {
            n.node != snap.local_node
                && n.online == Some(true)
                && n.instance == crate::ports::InstanceState::Stopped
        })
        .map(|n| n.node.clone())
        .collect();
    let input = ControlInput {
        rep_mode: params.rep_mode,
        node_list: &params.node_list,
        local: &snap.local_node,
        external: &params.external_standby_node_list,
        rows,
        current_sync: &current,
        baseline: baseline.as_ref(),
        offline: &offline,
        instance_stopped: &instance_stopped,
        reply_timeout: (params.standby_reply_timeout > 0)
            .then(|| std::time::Duration::from_secs(u64::from(params.standby_reply_timeout))),
        quorum: params.sync_quorum,
        current_quorum,
        // Not in the snapshot: explain judges by standby_reply_timeout only.
        sync_wait_age: None,
    };
    let valid = crate::replication::valid_baseline(&input);
    control_slave_status(&input)
        .standbys
        .into_iter()
        .map(|decision| {
            let row = rows
                .iter()
                .find(|r| r.application_name == decision.node)
                .cloned();
            let handover = Handover::of(valid, &decision.node);
            Classification {
                decision,
                row,
                handover,
            }
        })
        .collect()
}

/// With no primary: the election's own checks, then one round.
fn election_reasons(
    params: &Params,
    names: &AttributeNames,
    snap: &Snapshot,
    n: &NodeAttrs,
    local: bool,
    cluster: Option<&(String, Origin)>,
    out: &mut Vec<Reason>,
) {
    let stopped = is_stopped(n);
    if stopped && out.is_empty() {
        out.push(Reason::of(&Fact::Stopped {
            status: n.pgsql_status.clone().unwrap_or_else(|| "none".into()),
        }));
    }
    let raw = n.data_status.as_deref();
    if let Err(reason) = eligibility_of_attr(params.rep_mode, raw) {
        let recognised = raw.is_some_and(|v| {
            v.parse::<DataStatus>()
                .is_ok_and(|d| d.is_known() && d.to_string() == v)
        });
        let why = match raw {
            Some(v) if recognised => Ineligible::DataStatusNotAllowed {
                data_status: v.to_string(),
                rep_mode: params.rep_mode.as_str().to_string(),
            },
            Some(v) => Ineligible::UnrecognisedAttribute {
                attribute: names.data_status.clone(),
                value: v.to_string(),
            },
            None => unreachable_ok(reason),
        };
        out.push(Reason::of(&why));
        return;
    }
    let my_lsn = n.xlog_loc.as_deref().and_then(|v| Lsn::parse_attr(v).ok());
    let own_lsn = if local {
        snap.server.lsn.or(my_lsn)
    } else {
        my_lsn
    };
    if let (Some(lsn), Some(raw)) = (own_lsn, n.sync_baseline.as_deref()) {
        if handover_eligibility(Some(raw), lsn).is_err() {
            let why = match Lsn::parse_attr(raw) {
                Ok(baseline) => Ineligible::BelowSyncBaseline {
                    baseline,
                    mine: lsn,
                },
                Err(_) => Ineligible::SyncBaselineUnrecorded {
                    value: raw.to_string(),
                },
            };
            out.push(Reason::of(&why));
            return;
        }
    }
    let my_origin = n
        .xlog_tli
        .as_deref()
        .and_then(|v| Origin::parse_attr(v).ok());
    if let Err(reason) = lineage_eligibility(my_origin, cluster) {
        out.push(Reason::of(&LineageRefusal {
            origin: n.xlog_tli.clone().unwrap_or_default(),
            cluster: cluster
                .map(|(node, o)| format!("{} (recorded by {node})", o.to_attr()))
                .unwrap_or_default(),
            reason,
        }));
        return;
    }
    if n.withheld_score.is_some() {
        out.push(Reason::of(&Ineligible::ElectionNoteUnwritable));
        return;
    }
    let Some(my_lsn) = my_lsn else {
        match n.xlog_loc.as_deref() {
            Some(value) => out.push(Reason::of(&Fact::UnrecognisedLocation {
                value: value.to_string(),
            })),
            None if !stopped => out.push(Reason::of(&Fact::NotInElection)),
            None => {}
        }
        return;
    };
    let (observed, unreadable) = observations(names, snap);
    let text = render_note(&observed);
    // Where the round ends if nothing changes: the last round, with the
    // same note as the previous one.
    // The same standings as the monitor's round (actions/elect.rs).
    let quorum = n
        .sync_quorum
        .as_deref()
        .and_then(|v| crate::quorum::QuorumSet::parse_attr(v).ok());
    let own = n.data_status.as_deref();
    let my_quorum_member = crate::actions::elect::quorum_member(quorum.as_ref(), &n.node, own);
    let my_superset_only =
        !my_quorum_member && crate::actions::elect::superset_only_status(params.rep_mode, own);
    let (superset_only, not_eligible) = crate::actions::elect::standings_of(
        params.rep_mode,
        &observed,
        &n.node,
        my_superset_only,
        quorum.as_ref(),
        |node| {
            snap.node(node)
                .map(|a| (a.data_status.clone(), a.sync_baseline.clone()))
        },
    );
    let projected = Round {
        my_lsn,
        my_origin,
        observed,
        completed: params.xlog_check_count.saturating_sub(1),
        previous: Some(text),
        check_count: params.xlog_check_count,
        superset_only,
        not_eligible,
        my_superset_only,
        quorum,
    };
    // A won round's 1000 stays through the undecided rounds after it (the
    // monitor writes the score only on a win, §4.3) while the locations
    // still give this node the win.
    let published_win = n.score.as_deref() == Some(&Score::PROMOTE_ME.to_string())
        && decide_checked(&projected, &unreadable).verdict == Verdict::Winner;
    // Issue 16: the next rounds decide early when every node's published
    // finality mark proves it (as the monitor's round, actions/elect.rs);
    // the round that left the notes is re-run by the count alone.
    let finality = Finality {
        node_list: params.node_list.clone(),
        marks: params
            .node_list
            .iter()
            .map(|node| {
                let mark = snap
                    .node(node)
                    .and_then(|a| a.xlog_final.as_deref())
                    .and_then(|v| Lsn::parse_attr(v).ok());
                (node.clone(), mark)
            })
            .collect(),
        out_of_election: params
            .node_list
            .iter()
            .filter(|node| {
                crate::actions::elect::out_of_election(
                    params.rep_mode,
                    snap.node(node).and_then(|a| a.data_status.as_deref()),
                )
            })
            .cloned()
            .collect(),
    };
    let round_reason = |round: Round| {
        let decision = decide_with_finality(&round, &unreadable, Some(&finality));
        ElectionRound {
            node: n.node.clone(),
            round,
            decision,
            unreadable: unreadable.clone(),
            keeps_win: published_win,
        }
    };
    let counted_round = |round: Round| {
        let decision = decide_checked(&round, &unreadable);
        ElectionRound {
            node: n.node.clone(),
            round,
            decision,
            unreadable: unreadable.clone(),
            keeps_win: published_win,
        }
    };
    if !local {
        // Another node's rounds are counted on that node.
        out.push(Reason::of(&round_reason(projected)).projected());
        return;
    }
    let k = completed_rounds(&snap.tmp_files, params.xlog_check_count);
    let note = |round: u32| {
        snap.notes
            .iter()
            .find(|(r, _)| *r == round)
            .map(|(_, t)| t.clone())
    };
    // The round that left the notes as they are (and so the published
    // score), re-run over the current locations (issue 13 item 1).
    let last = last_round(snap, n, k, &projected, note(k.saturating_sub(1))).map(&counted_round);
    let next = round_reason(Round {
        completed: k,
        previous: note(k),
        ..projected.clone()
    });
    let undecided = matches!(next.decision.verdict, Verdict::Waiting | Verdict::Restarted);
    match &last {
        Some(last) => {
            out.push(Reason::of(last));
            if last.decision != next.decision {
                out.push(Reason::of(&next).at(When::NextMonitor));
            }
        }
        // No round since start (or since a won election cleared the
        // notes): the next monitor's round is the first.
        None => out.push(Reason::of(&next).at(When::NextMonitor)),
    }
    if undecided {
        let then = round_reason(projected);
        if then.decision != next.decision {
            out.push(Reason::of(&then).projected());
        }
    }
}

/// The round the local node's last monitor ran, as far as its notes tell
/// (`k` completed rounds, `before` = `xlog_note.<k-1>`):
/// * `k` ≥ 1: it confirmed round `k` (it saved `xlog_note.<k>`) after
///   comparing with `xlog_note.<k-1>`;
/// * no note at all and score 1000: it won (a winner clears the notes), i.e.
///   it confirmed the last round;
/// * only `xlog_note.0`: it reset the count (the locations changed, or it
///   was the first round; a yield or a refused decision also reset it, and
///   then re-deciding the confirmed round tells which);
/// * no note and no 1000: no round ran since start (`None`).
fn last_round(
    snap: &Snapshot,
    n: &NodeAttrs,
    k: u32,
    projected: &Round,
    before: Option<String>,
) -> Option<Round> {
    if k >= 1 {
        return Some(Round {
            completed: k - 1,
            previous: before,
            ..projected.clone()
        });
    }
    let any_note = snap.tmp_files.iter().any(|f| f.starts_with(NOTE_PREFIX));
    let won = n.score.as_deref() == Some(&Score::PROMOTE_ME.to_string());
    if !any_note {
        return won.then(|| projected.clone());
    }
    let confirmed = decide_checked(projected, &[]);
    let reset_by_decision = matches!(confirmed.verdict, Verdict::Yield | Verdict::Restarted)
        && snap
            .notes
            .iter()
            .any(|(r, t)| *r == 0 && Some(t) == projected.previous.as_ref());
    if reset_by_decision {
        return Some(projected.clone());
    }
    Some(Round {
        completed: 0,
        previous: None,
        ..projected.clone()
    })
}

/// `eligibility_of_attr` refuses only a present value; kept total anyway.
fn unreachable_ok(reason: String) -> Ineligible {
    Ineligible::UnrecognisedAttribute {
        attribute: "data-status".into(),
        value: reason,
    }
}

/// Every published location and timeline, as the election reads them
/// (`have_master_right` step 3), with the unrecognised ones in words.
fn observations(names: &AttributeNames, snap: &Snapshot) -> (Vec<Observation>, Vec<String>) {
    let mut observed = Vec::new();
    let mut unreadable = Vec::new();
    for n in &snap.nodes {
        let Some(v) = n.xlog_loc.as_deref() else {
            continue;
        };
        let Ok(lsn) = Lsn::parse_attr(v) else {
            unreadable.push(format!(
                "{}: unrecognised {} {}",
                n.node,
                names.xlog_loc,
                crate::quote::quoted(v)
            ));
            continue;
        };
        let origin = match n.xlog_tli.as_deref().map(Origin::parse_attr) {
            None => None,
            Some(Ok(o)) => Some(o),
            Some(Err(_)) => {
                unreadable.push(format!(
                    "{}: unrecognised {} {}",
                    n.node,
                    names.xlog_tli,
                    crate::quote::quoted(n.xlog_tli.as_deref().unwrap_or(""))
                ));
                continue;
            }
        };
        observed.push(Observation {
            node: n.node.clone(),
            lsn,
            origin,
        });
    }
    (observed, unreadable)
}
