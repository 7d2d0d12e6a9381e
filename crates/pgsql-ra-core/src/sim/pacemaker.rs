//! A simplified Pacemaker 2.1 for the simulator: the roles it records, the
//! operations it runs with pre/post notifications, and one policy step
//! (probe, monitor, recover, demote an unworthy Promoted instance, start,
//! promote).
//!
//! Like Pacemaker it
//! * treats a monitor result that does not match the recorded role as a
//!   failure (a Promoted monitor returning 0, an Unpromoted one returning 8
//!   or 1) and recovers: demote if Promoted, stop, start again unless the
//!   node is banned or over the migration threshold;
//! * demotes a Promoted instance whose promotion score (`master-<rsc>`) is
//!   missing or negative (`-INFINITY`), keeps at most one Promoted instance
//!   (the best score), and promotes the best other eligible instance;
//! * keeps the VIP colocated with the Promoted role: placed after a
//!   successful promote (or a probe that finds a primary), removed after a
//!   demote (the seed orders the demote before the VIP group's stop),
//!   before a stop of that instance and when its node goes down;
//! * passes `CRM_meta_role` on recurring monitors as the configuration
//!   spells it ([`MonitorRoles`]).

use std::collections::BTreeMap;
use std::time::Duration;

use super::env::{NotifyEnv, OpEnv};
use super::{Sim, RESOURCE};
use crate::action::Action;
use crate::memory::{SimRole, WalHistory};
use crate::ocf::{OcfExit, Outcome};
use crate::ports::{InstanceState, Lifetime};
use crate::score::Score;

/// How recurring monitors spell their role (`CRM_meta_role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MonitorRoles {
    /// The documented setup: the Unpromoted monitor has no `role`, so no
    /// `CRM_meta_role`; the Promoted one passes `Master`.
    #[default]
    Seed,
    /// crmsh and older pcs: `Slave` / `Master`.
    Legacy,
    /// pcs 0.11: `Unpromoted` / `Promoted`.
    Pcs011,
}

impl MonitorRoles {
    /// Parses `seed`, `legacy` or `pcs011`.
    pub fn parse(text: &str) -> Option<MonitorRoles> {
        match text {
            "seed" => Some(MonitorRoles::Seed),
            "legacy" => Some(MonitorRoles::Legacy),
            "pcs011" => Some(MonitorRoles::Pcs011),
            _ => None,
        }
    }

    /// The `CRM_meta_role` of the recurring monitor of an instance in `role`.
    pub fn meta_role(self, promoted: bool) -> Option<&'static str> {
        match (self, promoted) {
            (MonitorRoles::Seed, false) => None,
            (MonitorRoles::Seed | MonitorRoles::Legacy, true) => Some("Master"),
            (MonitorRoles::Legacy, false) => Some("Slave"),
            (MonitorRoles::Pcs011, true) => Some("Promoted"),
            (MonitorRoles::Pcs011, false) => Some("Unpromoted"),
        }
    }
}

/// What the servers looked like when Pacemaker promoted an instance: the
/// ground truth the safety oracles judge the promotion by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionRecord {
    /// The node promoted.
    pub node: String,
    /// True when the promote succeeded.
    pub succeeded: bool,
    /// The other instances Pacemaker could have promoted instead: running
    /// Unpromoted, not failed, on an online node that is not banned
    /// (whatever their promotion score: the score is the agent's choice).
    pub alternatives: Vec<String>,
    /// Every node's WAL just before the promote.
    pub wal: BTreeMap<String, WalHistory>,
    /// Every node's server state just before the promote.
    pub servers: BTreeMap<String, SimRole>,
    /// Every node's `<rsc>-data-status` just before the promote.
    pub data_status: BTreeMap<String, Option<String>>,
    /// Every node's `<rsc>-sync-baseline` just before the promote.
    pub sync_baseline: BTreeMap<String, Option<String>>,
    /// Every node whose server streamed from a primary since it last started.
    pub streamed: BTreeMap<String, bool>,
}

/// What Pacemaker believes an instance is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PcmkRole {
    /// Not probed yet.
    Unknown,
    /// Not running.
    Stopped,
    /// Running unpromoted (standby).
    Unpromoted,
    /// Running promoted (primary).
    Promoted,
}

impl PcmkRole {
    /// The role's name as crm_mon prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            PcmkRole::Unknown => "Unknown",
            PcmkRole::Stopped => "Stopped",
            PcmkRole::Unpromoted => "Unpromoted",
            PcmkRole::Promoted => "Promoted",
        }
    }

    fn active(self) -> bool {
        matches!(self, PcmkRole::Unpromoted | PcmkRole::Promoted)
    }
}

/// An operation Pacemaker runs with notifications around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `start`.
    Start,
    /// `stop`.
    Stop,
    /// `promote`.
    Promote,
    /// `demote`.
    Demote,
}

impl Op {
    fn action(self) -> Action {
        match self {
            Op::Start => Action::Start,
            Op::Stop => Action::Stop,
            Op::Promote => Action::Promote,
            Op::Demote => Action::Demote,
        }
    }
}

/// Interval of the Unpromoted-role monitor (ms), as in the documented setup.
pub const UNPROMOTED_INTERVAL_MS: u64 = 4000;
/// Interval of the Promoted-role monitor (ms).
pub const PROMOTED_INTERVAL_MS: u64 = 3000;

impl Sim {
    fn role(&self, node: &str) -> PcmkRole {
        self.nodes
            .get(node)
            .map(|n| n.role)
            .unwrap_or(PcmkRole::Stopped)
    }

    fn set_role(&mut self, node: &str, role: PcmkRole) {
        self.cluster
            .set_promoted(RESOURCE, node, role == PcmkRole::Promoted);
        // Issue 11: the instance state crm_mon shows (not probed: unknown).
        let instance = match role {
            PcmkRole::Unknown => InstanceState::Unknown,
            PcmkRole::Stopped => InstanceState::Stopped,
            PcmkRole::Unpromoted | PcmkRole::Promoted => InstanceState::Active,
        };
        self.cluster.set_instance(node, instance);
        if let Some(n) = self.nodes.get_mut(node) {
            n.role = role;
        }
    }

    fn mark_failed(&mut self, node: &str, fatal: bool) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.failed = true;
            n.fail_count = if fatal {
                u32::MAX
            } else {
                n.fail_count.saturating_add(1)
            };
            let count = n.fail_count;
            // No wall clock in the simulator: the time is unknown.
            self.cluster.set_fail_count(RESOURCE, node, count, None);
        }
    }

    /// The roles Pacemaker records, as notify lists.
    pub fn role_lists(&self) -> NotifyEnv {
        let with = |r: PcmkRole| -> Vec<String> {
            self.node_names()
                .into_iter()
                .filter(|n| self.role(n) == r)
                .collect()
        };
        let promoted = with(PcmkRole::Promoted);
        let unpromoted = with(PcmkRole::Unpromoted);
        let active = self
            .node_names()
            .into_iter()
            .filter(|n| self.role(n).active())
            .collect();
        NotifyEnv {
            promoted,
            unpromoted,
            active,
            ..NotifyEnv::default()
        }
    }

    /// Pacemaker's role of a node.
    pub fn pcmk_role(&self, node: &str) -> PcmkRole {
        self.role(node)
    }

    /// True when Pacemaker may run the resource on the node: online, not
    /// banned, no failed start (start-failure-is-fatal), fail count below
    /// the migration threshold.
    pub fn eligible(&self, node: &str) -> bool {
        let Some(n) = self.nodes.get(node) else {
            return false;
        };
        let threshold = self.config.migration_threshold;
        self.cluster.is_online(node)
            && !self.cluster.is_banned(RESOURCE, node)
            && n.fail_count != u32::MAX
            && (threshold == 0 || n.fail_count < threshold)
    }

    /// The environment of a one-shot action (with the notify lists when notify is on).
    pub fn action_env(&self, lists: &NotifyEnv) -> OpEnv {
        OpEnv {
            interval_ms: 0,
            role: None,
            notify: self.config.notify.then(|| lists.clone()),
        }
    }

    fn notify_all(&mut self, targets: &[String], lists: &NotifyEnv, kind: &str, op: Op) {
        if !self.config.notify {
            return;
        }
        let mut n = lists.clone();
        n.kind = kind.to_string();
        n.operation = op.action().as_str().to_string();
        let env = OpEnv {
            interval_ms: 0,
            role: None,
            notify: Some(n),
        };
        for t in targets {
            let label = format!("notify {kind}-{}", op.action());
            let out = self.run(t, Action::Notify, &env, &label);
            if out.code != OcfExit::Success {
                self.mark_failed(t, false);
            }
        }
    }

    /// Runs `op` on `nodes` as Pacemaker does: pre-notify the active
    /// instances, run the action on each node, record the new roles, then
    /// post-notify the instances active afterwards.
    pub fn operate(&mut self, op: Op, nodes: &[String]) {
        if nodes.is_empty() {
            return;
        }
        let mut lists = self.role_lists();
        match op {
            Op::Start => lists.start = nodes.to_vec(),
            Op::Stop => lists.stop = nodes.to_vec(),
            Op::Promote => lists.promote = nodes.to_vec(),
            Op::Demote => lists.demote = nodes.to_vec(),
        }
        let before = lists.active.clone();
        if op == Op::Stop {
            // The VIP is ordered before the stop of its node; it leaves a
            // demoted node only after the demote (the seed orders the demote
            // before the VIP group's stop): [`Sim::sync_vip`] below.
            if let Some(at) = self.net.vip_placement() {
                if nodes.contains(&at) {
                    self.net.place_vip(None);
                }
            }
        }
        let scores_before = self.scores();
        self.notify_all(&before, &lists, "pre", op);
        if op == Op::Promote && self.scores() != scores_before {
            if let Some(aborted) = self.promotion_aborted(nodes) {
                self.invocations.push(aborted);
                return;
            }
        }
        let env = self.action_env(&lists);
        for node in nodes {
            if op == Op::Promote {
                let record = self.promotion_record(node);
                self.promotions.push(record);
            }
            let out = self.run(node, op.action(), &env, op.action().as_str());
            if op == Op::Promote {
                if let Some(r) = self.promotions.last_mut() {
                    r.succeeded = out.code == OcfExit::Success;
                }
            }
            let ok = out.code == OcfExit::Success;
            match (op, ok) {
                (Op::Start, true) => self.set_role(node, PcmkRole::Unpromoted),
                (Op::Start, false) => {
                    self.set_role(node, PcmkRole::Unpromoted);
                    self.mark_failed(node, true);
                }
                (Op::Stop, true) => {
                    self.set_role(node, PcmkRole::Stopped);
                    if let Some(n) = self.nodes.get_mut(node) {
                        n.failed = false;
                    }
                }
                (Op::Promote, true) => self.set_role(node, PcmkRole::Promoted),
                (Op::Demote, true) => self.set_role(node, PcmkRole::Unpromoted),
                (_, false) => {
                    if op == Op::Promote {
                        self.set_role(node, PcmkRole::Promoted);
                    }
                    self.mark_failed(node, false);
                }
            }
        }
        self.sync_vip();
        let after: Vec<String> = self
            .node_names()
            .into_iter()
            .filter(|n| self.role(n).active())
            .collect();
        self.notify_all(&after, &lists, "post", op);
    }

    /// Pacemaker aborts a transition when a node attribute changes while it
    /// runs (`Transition aborted: Transient attribute change`) and starts
    /// no further action of it: when the pre-promote notifications changed
    /// the promotion scores so that the promotee is no longer the best
    /// candidate, its promote is not run and the next step recomputes
    /// (issue 11: a standby ahead of the promotee on the same history takes
    /// over). Only a score change is modelled (a failed notification keeps
    /// the promote, as before); the abort wins the race with the promote.
    fn scores(&self) -> Vec<Option<String>> {
        self.node_names().iter().map(|n| self.score(n)).collect()
    }

    fn promotion_aborted(&self, nodes: &[String]) -> Option<super::Invocation> {
        let promotee = nodes.first()?;
        let best = self.promotion_candidate();
        (best.as_ref() != Some(promotee)).then(|| super::Invocation {
            node: promotee.clone(),
            label: format!(
                "{}promote not run: the transition was aborted by a promotion score change during pre-promote (best candidate now: {})",
                crate::sim::script::PACEMAKER_EVENT,
                best.as_deref().unwrap_or("none")
            ),
            outcome: Outcome::success(),
            changes: Vec::new(),
            log: Vec::new(),
        })
    }

    /// The state of the servers before `node` is promoted.
    fn promotion_record(&self, node: &str) -> PromotionRecord {
        let names = self.node_names();
        let alternatives = names
            .iter()
            .filter(|n| {
                *n != node
                    && self.role(n) == PcmkRole::Unpromoted
                    && !self.nodes.get(*n).is_some_and(|x| x.failed)
                    && self.eligible(n)
            })
            .cloned()
            .collect();
        PromotionRecord {
            node: node.to_string(),
            succeeded: false,
            alternatives,
            wal: names
                .iter()
                .filter_map(|n| self.net.wal(n).map(|w| (n.clone(), w)))
                .collect(),
            servers: names
                .iter()
                .map(|n| (n.clone(), self.net.role(n)))
                .collect(),
            sync_baseline: names
                .iter()
                .map(|n| {
                    let name = format!("{RESOURCE}-sync-baseline");
                    (n.clone(), self.cluster.attr(n, &name, Lifetime::Forever))
                })
                .collect(),
            data_status: names
                .iter()
                .map(|n| (n.clone(), self.data_status(n)))
                .collect(),
            streamed: names
                .iter()
                .map(|n| (n.clone(), self.net.streamed_since_start(n)))
                .collect(),
        }
    }

    /// Keeps the VIP colocated with the Promoted role: removed from a node
    /// that is no longer Promoted, placed on the one Promoted instance that
    /// has not failed when it is nowhere.
    fn sync_vip(&mut self) {
        if let Some(at) = self.net.vip_placement() {
            if self.role(&at) != PcmkRole::Promoted {
                self.net.place_vip(None);
            }
        }
        if self.net.vip_placement().is_none() {
            let holders: Vec<String> = self
                .node_names()
                .into_iter()
                .filter(|n| {
                    self.role(n) == PcmkRole::Promoted
                        && !self.nodes.get(n).is_some_and(|x| x.failed)
                        && self.cluster.is_online(n)
                })
                .collect();
            if let [only] = holders.as_slice() {
                self.net.place_vip(Some(only));
            }
        }
    }

    /// Probes (first time) or runs the recurring monitor on one node, and
    /// records a failure when the result is not what its role expects.
    pub fn monitor(&mut self, node: &str) -> Option<OcfExit> {
        let role = self.role(node);
        match role {
            PcmkRole::Unknown => {
                let out = self.run(node, Action::Monitor, &OpEnv::oneshot(), "probe");
                match out.code {
                    OcfExit::NotRunning => self.set_role(node, PcmkRole::Stopped),
                    OcfExit::Success => self.set_role(node, PcmkRole::Unpromoted),
                    OcfExit::RunningPromoted => self.set_role(node, PcmkRole::Promoted),
                    _ => {
                        self.set_role(node, PcmkRole::Unpromoted);
                        self.mark_failed(node, false);
                    }
                }
                self.sync_vip();
                Some(out.code)
            }
            PcmkRole::Stopped => None,
            PcmkRole::Unpromoted | PcmkRole::Promoted => {
                let promoted = role == PcmkRole::Promoted;
                let (interval_ms, expected) = if promoted {
                    (PROMOTED_INTERVAL_MS, OcfExit::RunningPromoted)
                } else {
                    (UNPROMOTED_INTERVAL_MS, OcfExit::Success)
                };
                let env = OpEnv {
                    interval_ms,
                    role: self
                        .config
                        .monitor_roles
                        .meta_role(promoted)
                        .map(str::to_string),
                    notify: None,
                };
                let out = self.run(node, Action::Monitor, &env, "monitor");
                if out.code != expected {
                    self.mark_failed(node, false);
                }
                Some(out.code)
            }
        }
    }

    /// The node Pacemaker would promote: no instance is promoted, and among
    /// the eligible unpromoted instances the highest positive score (ties:
    /// the first in `node_list`).
    pub fn promotion_candidate(&self) -> Option<String> {
        if self
            .node_names()
            .iter()
            .any(|n| self.role(n) == PcmkRole::Promoted)
        {
            return None;
        }
        let mut best: Option<(Score, String)> = None;
        for n in self.node_names() {
            let failed = self.nodes.get(&n).is_some_and(|x| x.failed);
            if self.role(&n) != PcmkRole::Unpromoted || failed || !self.eligible(&n) {
                continue;
            }
            let Some(score) = self.score(&n).and_then(|s| s.parse::<Score>().ok()) else {
                continue;
            };
            if score.is_positive() && !matches!(&best, Some((b, _)) if score <= *b) {
                best = Some((score, n));
            }
        }
        best.map(|(_, n)| n)
    }

    /// One policy step: probe unknown instances, monitor active ones,
    /// recover failed ones (demote, stop; start again unless the migration
    /// threshold bans the node), start stopped eligible ones, promote the
    /// best candidate when nothing is promoted; standbys replay one step of
    /// their backlog (issue 16). Virtual time then advances by one monitor
    /// interval.
    pub fn step(&mut self) {
        for n in self.node_names() {
            if self.role(&n) == PcmkRole::Unknown && self.cluster.is_online(&n) {
                self.monitor(&n);
            }
        }
        if self.config.concurrent_monitors {
            self.round_view = Some(self.cluster.attributes());
        }
        for n in self.node_names() {
            let failed = self.nodes.get(&n).is_some_and(|x| x.failed);
            if self.role(&n).active() && !failed && self.cluster.is_online(&n) {
                self.monitor(&n);
            }
        }
        self.round_view = None;
        self.transition();
        self.net.tick_backlogs();
        self.advance(Duration::from_millis(UNPROMOTED_INTERVAL_MS));
    }

    /// What Pacemaker does with the state it knows, without running a
    /// monitor first: recover failed instances, demote the unworthy,
    /// start what may start, promote the best candidate.
    fn transition(&mut self) {
        self.recover();
        self.demote_unworthy();
        let to_start: Vec<String> = self
            .node_names()
            .into_iter()
            .filter(|n| self.role(n) == PcmkRole::Stopped && self.eligible(n))
            .collect();
        self.operate(Op::Start, &to_start);
        self.promote_best();
    }

    /// Recovers, then promotes the best candidate if there is one.
    fn promote_best(&mut self) {
        self.recover();
        if let Some(n) = self.promotion_candidate() {
            self.operate(Op::Promote, &[n]);
            self.recover();
        }
    }

    /// Demotes every Promoted instance but one: the one with the best
    /// promotion score, when that score is present and not negative (ties:
    /// the first in `node_list`). A Promoted instance whose score dropped to
    /// `-INFINITY` is demoted, like Pacemaker 2.1 does.
    fn demote_unworthy(&mut self) {
        let promoted: Vec<(String, Option<Score>)> = self
            .node_names()
            .into_iter()
            .filter(|n| self.role(n) == PcmkRole::Promoted)
            .map(|n| {
                let score = self.score(&n).and_then(|s| s.parse::<Score>().ok());
                (n, score)
            })
            .collect();
        let mut keep: Option<(Score, &String)> = None;
        for (n, score) in &promoted {
            let Some(score) = *score else { continue };
            if score < Score::Value(0) {
                continue;
            }
            if !matches!(keep, Some((best, _)) if score <= best) {
                keep = Some((score, n));
            }
        }
        let keep = keep.map(|(_, n)| n.clone());
        for (n, _) in &promoted {
            if Some(n) != keep.as_ref() {
                self.operate(Op::Demote, std::slice::from_ref(n));
            }
        }
    }

    /// Demotes and stops failed instances and instances on ineligible nodes.
    fn recover(&mut self) {
        let needs_stop = |s: &Sim, n: &String| {
            let failed = s.nodes.get(n).is_some_and(|x| x.failed);
            s.role(n).active() && (failed || !s.eligible(n))
        };
        let promoted: Vec<String> = self
            .node_names()
            .into_iter()
            .filter(|n| needs_stop(self, n) && self.role(n) == PcmkRole::Promoted)
            .collect();
        for n in &promoted {
            self.operate(Op::Demote, std::slice::from_ref(n));
        }
        let stopping: Vec<String> = self
            .node_names()
            .into_iter()
            .filter(|n| needs_stop(self, n))
            .collect();
        self.operate(Op::Stop, &stopping);
    }

    /// Runs policy steps until nothing but monitors happens, at most `max` times.
    pub fn settle(&mut self, max: usize) {
        for _ in 0..max {
            self.step();
        }
    }

    /// The node goes down hard (power loss) and is fenced: PostgreSQL is
    /// killed, the node leaves the cluster (its reboot attributes vanish).
    /// The membership change makes Pacemaker compute a transition at once,
    /// before any monitor of the surviving nodes runs. Once the node is
    /// fenced, its instance's demote and stop are pseudo-actions that still
    /// notify the survivors: a Promoted instance lost this way gives them
    /// the pre- and post-demote notifications with the node in
    /// `notify_demote_uname` (Pacemaker's `pe_notif.c`; scheduler test
    /// `bundle-order-fencing`), then the promotion follows.
    pub fn node_down(&mut self, node: &str) {
        let was_promoted = self.role(node) == PcmkRole::Promoted;
        self.net.crash(node);
        self.cluster.set_online(node, false);
        if was_promoted {
            let mut lists = self.role_lists();
            lists.demote = vec![node.to_string()];
            let survivors: Vec<String> = self
                .node_names()
                .into_iter()
                .filter(|n| n != node && self.role(n).active())
                .collect();
            self.notify_all(&survivors, &lists, "pre", Op::Demote);
            self.set_role(node, PcmkRole::Stopped);
            self.sync_vip();
            self.notify_all(&survivors, &lists, "post", Op::Demote);
        }
        self.set_role(node, PcmkRole::Stopped);
        self.sync_vip();
        self.react_to_loss();
    }

    /// The node goes down with fencing disabled (`stonith-enabled=false`):
    /// Pacemaker takes the offline node's instance for stopped ("offline
    /// nodes run no resources if fencing is disabled", `unpack.c`), so no
    /// demote is notified, and promotes at once.
    pub fn node_down_unfenced(&mut self, node: &str) {
        self.node_down_pending(node);
        self.react_to_loss();
    }

    /// The transition after a node loss: instances stopped on purpose (a
    /// scripted `stop`) stay stopped until the next step; only the lost
    /// Promoted role is replaced.
    fn react_to_loss(&mut self) {
        self.demote_unworthy();
        self.promote_best();
    }

    /// [`Sim::node_down`] before Pacemaker has reacted (the membership
    /// change not yet processed): the next step, or an action run before
    /// it, sees the node gone and no transition run yet.
    pub fn node_down_pending(&mut self, node: &str) {
        self.net.crash(node);
        self.cluster.set_online(node, false);
        self.set_role(node, PcmkRole::Stopped);
        self.sync_vip();
    }

    /// The node rejoins; its instance will be probed.
    pub fn node_up(&mut self, node: &str) {
        self.cluster.set_online(node, true);
        self.set_role(node, PcmkRole::Unknown);
    }

    /// `crm_resource --cleanup`: forget failures (fail count, failed flag, the
    /// agent's bans stay) and re-probe.
    pub fn cleanup(&mut self, node: &str) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.fail_count = 0;
            n.failed = false;
        }
        self.cluster.set_fail_count(RESOURCE, node, 0, None);
        if !self.role(node).active() {
            self.set_role(node, PcmkRole::Unknown);
        }
        self.sync_vip();
    }
}
