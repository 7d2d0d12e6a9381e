//! [`Explain`] for the core decisions' outcome values: the ineligibility
//! reasons ([`Ineligible`]), the primary's classification of a standby
//! ([`Classification`] over [`StandbyDecision`]), one election round
//! ([`ElectionRound`] over [`election::Decision`]), the election's lineage
//! check ([`LineageRefusal`]), `start`'s decision ([`StartDecision`]), the
//! role gate ([`Gate`]) and the facts that are not decisions ([`Fact`],
//! [`ClusterLine`]). A new outcome enum (issue 10's rejoin, issue 11's
//! election) joins with one `impl Explain`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{snake, tag_of, Explain};
use crate::decide::start::{StartDecision, StartReason};
use crate::election::{self, Observation, Round, Verdict};
use crate::ineligible::Ineligible;
use crate::lsn::Lsn;
use crate::ports::ReplicationRow;
use crate::replication::{Handover, StandbyDecision};
use crate::role_gate::{Gate, Refusal};

fn inputs_of<T: Serialize>(value: &T, skip: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(value) {
        for (k, v) in m {
            if skip.contains(&k.as_str()) {
                continue;
            }
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            out.insert(k, text);
        }
    }
    out
}

fn pg(lsn: Lsn) -> String {
    lsn.to_pg()
}

impl Explain for Ineligible {
    fn rule(&self) -> String {
        format!("ineligible.{}", tag_of(self, "reason"))
    }

    fn sentence(&self) -> String {
        self.to_string()
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        let mut m = inputs_of(self, &["reason"]);
        // LSNs in the form operators read elsewhere (`X/Y`).
        for (k, v) in m.iter_mut() {
            if matches!(k.as_str(), "baseline" | "flushed" | "mine" | "promotee") {
                if let Ok(l) = Lsn::parse_attr(v) {
                    *v = l.to_pg();
                }
            }
        }
        m
    }

    fn would_change(&self) -> String {
        match self {
            Ineligible::Starting | Ineligible::ProbedAsStandby => {
                "the primary's monitor seeing it streaming, or an election it wins".into()
            }
            Ineligible::Stopping | Ineligible::Demoting => "the action finishing".into(),
            Ineligible::OtherNodePromoted { promoted } => {
                format!("{promoted}'s monitor seeing it streaming")
            }
            Ineligible::NotReplicating => {
                "its server streaming from the primary again (check that it runs, its primary_conninfo and the network)".into()
            }
            Ineligible::AsyncInSyncMode => {
                "becoming the synchronous standby (the primary picks one when none is)".into()
            }
            Ineligible::AsyncWithManyNodes => "rep_mode=sync, or a node_list of two".into(),
            Ineligible::PotentialStandby => {
                "the synchronous standby leaving, so that it becomes synchronous".into()
            }
            Ineligible::NotStreaming { .. } => "its replication reaching STREAMING".into(),
            Ineligible::HandoverUnrecorded => {
                "the primary's next monitor recording its WAL position".into()
            }
            Ineligible::HandoverBehind { baseline, .. } => format!(
                "its flush position reaching {} (it is streaming: usually seconds)",
                baseline.to_pg()
            ),
            Ineligible::DataStatusNotAllowed { .. } => {
                "a primary seeing it stream again (a rebuild if its data is stale); or an operator who accepts losing writes setting its data-status".into()
            }
            Ineligible::BelowSyncBaseline { .. } | Ineligible::SyncBaselineUnrecorded { .. } => {
                "its WAL reaching the baseline; or an operator who accepts losing those writes deleting <rsc>-sync-baseline (docs/decision-logic.md)".into()
            }
            Ineligible::ElectionNoteUnwritable => {
                "the tmpdir being writable again (free space, permissions)".into()
            }
            Ineligible::LostElection { .. } => {
                "a primary seeing it stream (after a rebuild if it diverged)".into()
            }
            Ineligible::NewerThanPromotee { .. } => {
                "promoting the newer standby instead, or clearing the ban (crm_resource --clear)".into()
            }
            Ineligible::NotPromotedByCluster => {
                "a rebuild of this node from the cluster's primary, then removing PGSQL.lock and a cleanup".into()
            }
            Ineligible::UnrecognisedAttribute { attribute, .. } => {
                format!("an operator correcting or deleting {attribute}")
            }
        }
    }
}

/// The primary's classification of one node_list standby
/// ([`crate::replication::classify_row`]), with the inputs it read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The decision.
    pub decision: StandbyDecision,
    /// Its row of `pg_stat_replication` (`None`: absent).
    pub row: Option<ReplicationRow>,
    /// Where it stands with the handover baseline.
    pub handover: Handover,
}

impl Explain for Classification {
    fn rule(&self) -> String {
        match &self.decision.ineligible {
            Some(i) => i.rule(),
            None => {
                // The promotable branches of classify_row.
                let flushed = self.row.as_ref().and_then(|r| r.flush_lsn);
                if !self.decision.data_status.is_streaming("SYNC") {
                    "replication.streaming_async_two_nodes".into()
                } else {
                    match (self.handover, flushed) {
                        (Handover::At(_), Some(_)) => "replication.streaming_sync_caught_up".into(),
                        (Handover::At(_), None) => "replication.streaming_sync_no_flush_lsn".into(),
                        _ => "replication.streaming_sync".into(),
                    }
                }
            }
        }
    }

    fn sentence(&self) -> String {
        let d = &self.decision;
        let flushed = self
            .row
            .as_ref()
            .and_then(|r| r.flush_lsn)
            .map(|f| format!(", flushed {}", f.to_pg()))
            .unwrap_or_default();
        let baseline = match self.handover {
            Handover::At(b) => format!(" (handover baseline {})", b.to_pg()),
            _ => String::new(),
        };
        format!("{}{flushed}{baseline}: {}", d.data_status, d.reason)
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        match &self.row {
            Some(r) => {
                m.insert("state".into(), r.state.clone());
                m.insert("sync_state".into(), r.sync_state.clone());
                if let Some(f) = r.flush_lsn {
                    m.insert("flush_lsn".into(), pg(f));
                }
                if let Some(f) = r.replay_lsn {
                    m.insert("replay_lsn".into(), pg(f));
                }
            }
            None => {
                m.insert("row".into(), "absent from pg_stat_replication".into());
            }
        }
        match self.handover {
            Handover::At(b) => {
                m.insert("handover_baseline".into(), pg(b));
            }
            Handover::Unrecorded => {
                m.insert("handover_baseline".into(), "unknown".into());
            }
            Handover::NotWaiting => {}
        }
        if let Some(i) = &self.decision.ineligible {
            m.extend(i.inputs());
        }
        m
    }

    fn would_change(&self) -> String {
        match &self.decision.ineligible {
            Some(i) => i.would_change(),
            None => "its replication leaving STREAMING or its sync_state changing".into(),
        }
    }
}

/// One election round ([`election::decide_checked`]) with its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElectionRound {
    /// The node the round is for.
    pub node: String,
    /// The inputs.
    pub round: Round,
    /// The decision.
    pub decision: election::Decision,
    /// The election inputs that could not be recognised (in words), which
    /// make [`election::decide_checked`] restart.
    pub unreadable: Vec<String>,
}

impl ElectionRound {
    /// True when the round was confirmed (`xlog_check_count` unchanged
    /// rounds) and still decided nothing: the election failed closed
    /// (diverged histories, system identifiers in equal numbers; steps
    /// 7c of docs/decision-logic.md).
    fn confirmed_without_decision(&self) -> bool {
        let r = &self.round;
        self.decision.verdict == Verdict::Restarted
            && !r.observed.is_empty()
            && r.completed + 1 >= r.check_count
            && r.previous.as_deref() == Some(election::render_note(&r.observed).as_str())
    }
}

fn observation_text(o: &Observation) -> String {
    match o.origin {
        Some(origin) => format!("{} timeline {}", o.lsn.to_pg(), origin.timeline),
        None => o.lsn.to_pg(),
    }
}

impl Explain for ElectionRound {
    fn rule(&self) -> String {
        format!("election.{}", snake(&tag_of(&self.decision.verdict, "")))
    }

    fn sentence(&self) -> String {
        let mut s = self.decision.reason.clone();
        for w in &self.decision.warnings {
            s.push_str("; ");
            s.push_str(w);
        }
        s
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("my_location".into(), pg(self.round.my_lsn));
        if let Some(o) = self.round.my_origin {
            m.insert("my_timeline".into(), o.timeline.to_string());
        }
        m.insert(
            "rounds".into(),
            format!("{} of {}", self.round.completed, self.round.check_count),
        );
        for o in &self.round.observed {
            m.insert(format!("candidate {}", o.node), observation_text(o));
        }
        if let Some(h) = self.decision.highest {
            m.insert("highest".into(), pg(h));
        }
        m
    }

    fn would_change(&self) -> String {
        match self.decision.verdict {
            Verdict::Waiting => format!(
                "{} more unchanged monitor(s) decide; any published location changing restarts the count",
                self.round.check_count.saturating_sub(self.round.completed + 1)
            ),
            Verdict::Restarted if !self.unreadable.is_empty() => {
                "an operator correcting or deleting the unrecognised attribute(s)".into()
            }
            Verdict::Restarted if self.confirmed_without_decision() => {
                "one side leaving the election (stopped or rebuilt from the other): which data is the cluster's cannot be told while both take part".into()
            }
            Verdict::Restarted => {
                "the published locations staying unchanged for xlog_check_count monitors".into()
            }
            Verdict::Winner => "Pacemaker promoting it (score 1000)".into(),
            Verdict::Loser => {
                "the node ahead leaving the election; a rebuild if its history diverged".into()
            }
        }
    }
}

/// The election's lineage check refused the node
/// ([`election::lineage_eligibility`], issue 9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineageRefusal {
    /// The node's published `<rsc>-xlog-tli`.
    pub origin: String,
    /// The cluster's newest `<rsc>-primary-origin` and who recorded it.
    pub cluster: String,
    /// The check's own words.
    pub reason: String,
}

impl Explain for LineageRefusal {
    fn rule(&self) -> String {
        "election.lineage_refused".into()
    }
    fn sentence(&self) -> String {
        self.reason.clone()
    }
    fn inputs(&self) -> BTreeMap<String, String> {
        inputs_of(self, &["reason"])
    }
    fn would_change(&self) -> String {
        "a rebuild of this node from the cluster's primary".into()
    }
}

impl Explain for StartDecision {
    fn rule(&self) -> String {
        format!("start.{}", tag_of(&self.reason, "reason"))
    }

    fn sentence(&self) -> String {
        self.reason.to_string()
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        inputs_of(&self.reason, &["reason"])
    }

    fn would_change(&self) -> String {
        match &self.reason {
            StartReason::LockPresent { lock } => format!(
                "rebuild this node from the current primary (pg_basebackup or pg_rewind), then remove {lock} and run crm_resource --cleanup; crash rejoin (issue 10) when it is enabled"
            ),
            _ => String::new(),
        }
    }
}

/// The lock's age, attached to [`StartDecision`] when the shim knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockedStart {
    /// `start`'s decision with the lock present.
    pub decision: StartDecision,
    /// The lock's modification time, seconds since the Unix epoch.
    pub since_epoch_s: Option<u64>,
}

impl Explain for LockedStart {
    fn rule(&self) -> String {
        self.decision.rule()
    }
    fn sentence(&self) -> String {
        let since = self
            .since_epoch_s
            .map(|s| format!(" since {}", utc(s)))
            .unwrap_or_default();
        format!(
            "PGSQL.lock present{since} (it ran as a primary and did not stop cleanly): start refuses: {}",
            self.decision.sentence()
        )
    }
    fn inputs(&self) -> BTreeMap<String, String> {
        let mut m = self.decision.inputs();
        if let Some(s) = self.since_epoch_s {
            m.insert("lock_since".into(), utc(s));
        }
        m
    }
    fn would_change(&self) -> String {
        self.decision.would_change()
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` of seconds since the Unix epoch (civil-from-days).
pub fn utc(epoch_s: u64) -> String {
    let days = (epoch_s / 86_400) as i64;
    let secs = epoch_s % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

impl Explain for Gate {
    fn rule(&self) -> String {
        match self {
            Gate::PrimaryPath { .. } => "role_gate.primary_path".into(),
            Gate::Refused(r) => format!("role_gate.{}", snake(&tag_of(r, ""))),
        }
    }

    fn sentence(&self) -> String {
        match self {
            Gate::PrimaryPath { probe_score: true } => {
                "a probe keeps it as the only primary (score 1000, PR #1277)".into()
            }
            Gate::PrimaryPath { probe_score: false } => {
                "promoted by the cluster: runs the primary path".into()
            }
            Gate::Refused(r) => r.reason(),
        }
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        match self {
            Gate::Refused(r) => match serde_json::to_value(r) {
                Ok(serde_json::Value::Object(m)) => m
                    .into_iter()
                    .next()
                    .map(|(_, v)| inputs_of(&v, &[]))
                    .unwrap_or_default(),
                _ => BTreeMap::new(),
            },
            Gate::PrimaryPath { .. } => BTreeMap::new(),
        }
    }

    fn would_change(&self) -> String {
        match self {
            Gate::PrimaryPath { .. } => String::new(),
            Gate::Refused(Refusal::ClusterUnreadable { .. }) => {
                "the cluster status becoming readable".into()
            }
            Gate::Refused(_) => {
                "Pacemaker recovers the instance (stop; its start is refused by PGSQL.lock); rebuild it from the cluster's primary".into()
            }
        }
    }
}

/// What is known about a node that no decision explains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    /// Pacemaker reports it Promoted: its monitor sets data-status `LATEST`
    /// and score 1000 (§1.3).
    Promoted,
    /// The node is offline.
    Offline,
    /// Its `<rsc>-status` says it is stopped (`STOP`) or unknown.
    Stopped {
        /// The `<rsc>-status`.
        status: String,
    },
    /// A standby while a primary exists: its data-status and score were set
    /// by the primary's monitor from `pg_stat_replication`, which only the
    /// primary reads.
    SetByPrimary {
        /// The primary.
        primary: String,
    },
    /// No primary, and it has not published `<rsc>-xlog-loc`: it is not
    /// taking part in the election (not running as a standby, or withdrawn).
    NotInElection,
}

impl Explain for Fact {
    fn rule(&self) -> String {
        format!("state.{}", tag_of(self, "fact"))
    }

    fn sentence(&self) -> String {
        match self {
            Fact::Promoted => "Promoted by Pacemaker: its monitor keeps data-status LATEST and score 1000".into(),
            Fact::Offline => "the node is offline".into(),
            Fact::Stopped { status } => format!("the resource is not running here (pgsql-status {status})"),
            Fact::SetByPrimary { primary } => format!(
                "its data-status and score are set by {primary}'s monitor from pg_stat_replication (run explain on {primary} for the row)"
            ),
            Fact::NotInElection => "it has published no location: it takes no part in the election".into(),
        }
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        inputs_of(self, &["fact"])
    }

    fn would_change(&self) -> String {
        match self {
            Fact::Promoted => "a demote, or a failure of its monitor".into(),
            Fact::Offline => "the node rejoining the cluster".into(),
            Fact::Stopped { .. } => "Pacemaker starting it (see its start's refusal if any)".into(),
            Fact::SetByPrimary { primary } => format!("{primary}'s next monitor"),
            Fact::NotInElection => "its monitor running as a standby that sees no primary".into(),
        }
    }
}

/// The cluster-level line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "line", rename_all = "snake_case")]
pub enum ClusterLine {
    /// Pacemaker reports these nodes Promoted.
    Primary {
        /// The Promoted nodes.
        nodes: Vec<String>,
    },
    /// Nobody is Promoted: each node's most decisive reason.
    NoPrimary {
        /// `(node, its first reason's sentence)`, node_list order.
        why: Vec<(String, String)>,
    },
    /// The Promoted list could not be read.
    Unreadable {
        /// The error.
        error: String,
    },
}

impl Explain for ClusterLine {
    fn rule(&self) -> String {
        format!("cluster.{}", tag_of(self, "line"))
    }

    fn sentence(&self) -> String {
        match self {
            ClusterLine::Primary { nodes } => format!("primary: {}", nodes.join(", ")),
            ClusterLine::NoPrimary { why } => {
                let parts: Vec<String> = why.iter().map(|(n, s)| format!("{n}: {s}")).collect();
                format!("no primary: {}", parts.join("; "))
            }
            ClusterLine::Unreadable { error } => {
                format!("which node is primary cannot be read: {error}")
            }
        }
    }

    fn would_change(&self) -> String {
        match self {
            ClusterLine::Primary { .. } => String::new(),
            ClusterLine::NoPrimary { .. } => {
                "a node becoming eligible and winning the election (see each node)".into()
            }
            ClusterLine::Unreadable { .. } => "the cluster status becoming readable".into(),
        }
    }
}
