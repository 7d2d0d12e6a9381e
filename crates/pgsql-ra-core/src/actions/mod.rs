//! The actions, one file each, over the [`World`] ports. [`Ctx`] carries
//! what one invocation knows: the agent, the ports, the machine facts from
//! validation, the time budget and the attribute writer.

mod await_marks;
mod control;
mod demote;
pub(crate) mod elect;
mod health;
mod lock;
mod monitor;
mod notify;
mod prepare;
mod promote;
mod quorum_record;
mod rejoin;
mod reload;
mod server_ctl;
mod start;
mod status;
mod stop;

pub use demote::demote;
pub use monitor::monitor;
pub use notify::notify;
pub use promote::promote;
pub use reload::reload;
pub use start::start;
pub use status::status;
pub use stop::stop;

use std::time::Duration;

use crate::agent::Agent;
use crate::attrs::Attrs;
use crate::budget::{Budget, POLL_INTERVAL};
use crate::ocf::{OcfExit, Outcome};
use crate::ports::{LogLevel, World};
use crate::recovery::join;
use crate::validate::{cluster_problems, ClusterProblem, MachineFacts};

/// `PGSQL.lock` in `tmpdir`.
pub const LOCK_FILE: &str = "PGSQL.lock";

/// What one invocation works with.
pub struct Ctx<'a, 'w> {
    /// The agent (parameters, context, names).
    pub agent: &'a Agent,
    /// The ports.
    pub world: &'a mut World<'w>,
    /// What validation learned about the machine.
    pub facts: MachineFacts,
    /// The deadline of this action.
    pub budget: Budget,
    /// The attribute writer (node list read once).
    pub attrs: Attrs,
    /// True for a probe (monitor with interval 0).
    pub probe: bool,
}

impl Ctx<'_, '_> {
    /// Appends a decision to the journal (issue 13, [`crate::journal`]):
    /// never fails the action, costs one appended line.
    pub fn journal(&mut self, action: &str, event: crate::journal::Event) {
        let local = self.attrs.local.clone();
        let w = &mut *self.world;
        crate::journal::record(
            &mut *w.fs,
            &mut *w.clock,
            &mut *w.log,
            &self.agent.params.tmpdir,
            &local,
            action,
            event,
        );
    }

    /// Journals a rejoin decision (issue 13 item 5, [`crate::journal::Event::Rejoin`])
    /// from the OCF action `action`.
    pub fn journal_rejoin(&mut self, action: &str, decision: &str, outcome: &str, reason: &str) {
        self.journal(
            action,
            crate::journal::Event::Rejoin {
                decision: decision.into(),
                outcome: outcome.into(),
                reason: reason.into(),
            },
        );
    }

    /// Logs one line.
    pub fn log(&mut self, level: LogLevel, message: &str) {
        self.world.log.log(level, message);
    }

    /// Logs the reason at error level and returns the failed outcome.
    pub fn fail(&mut self, code: OcfExit, reason: impl Into<String>) -> Outcome {
        let reason = reason.into();
        self.world.log.log(LogLevel::Err, &reason);
        Outcome::fail(code, reason)
    }

    /// A path inside `tmpdir`.
    pub fn tmp_path(&self, name: &str) -> String {
        join(&self.agent.params.tmpdir, name)
    }

    /// A path inside `pgdata`.
    pub fn pgdata_path(&self, name: &str) -> String {
        join(&self.agent.params.pgdata, name)
    }

    /// The replication configuration's problems that only the cluster can
    /// show: unknown `node_list` names, `notify` off
    /// ([`crate::validate::cluster_problems`]). Uses the node list read
    /// once for this invocation.
    pub fn cluster_problems(&self) -> Vec<ClusterProblem> {
        cluster_problems(
            &self.agent.params.node_list,
            self.agent.context.notify,
            |n| self.attrs.exists(n),
        )
    }

    /// Logs each of [`Ctx::cluster_problems`] at warn (monitors: the running
    /// service is not at fault, so a monitor never fails for them).
    pub fn warn_cluster_problems(&mut self) {
        if !self.is_replication() {
            return;
        }
        for p in self.cluster_problems() {
            self.log(
                LogLevel::Warn,
                &format!("{p} (start refuses this configuration)"),
            );
        }
    }

    /// True in `sync`/`async` mode.
    pub fn is_replication(&self) -> bool {
        self.agent.params.rep_mode.is_replication()
    }

    /// Sleeps one poll interval (less when the deadline is nearer). Returns
    /// false when the deadline has passed and polling must stop.
    pub fn pause(&mut self, interval: Duration) -> bool {
        let now = self.world.clock.now();
        if self.budget.expired(now) {
            return false;
        }
        let d = self.budget.next_sleep(now, interval);
        self.world.clock.sleep(d);
        true
    }

    /// [`Ctx::pause`] with the default poll interval.
    pub fn pause_poll(&mut self) -> bool {
        self.pause(POLL_INTERVAL)
    }

    /// Logs a failed attribute write that must not fail the action (stop).
    pub fn warn_on_err<T, E: std::fmt::Display>(&mut self, what: &str, r: Result<T, E>) {
        if let Err(e) = r {
            self.log(LogLevel::Warn, &format!("{what} failed: {e}"));
        }
    }
}

#[cfg(test)]
mod tests;
