//! Issue 16 (target 3): an election monitor that has just published its own
//! `<rsc>-xlog-final` mark for the first time waits a moment for the
//! locations and marks the other nodes' monitors publish at the same time.
//!
//! Every node reads the cluster state once, at the start of its monitor
//! (the real port caches it), and publishes its location and mark a few
//! tens of milliseconds later; on a cold start the nodes' monitors run
//! within tens of milliseconds of each other, so each one read the state
//! before the others wrote, and the election decided a whole monitor
//! interval later (the lab: both marks 40 ms apart, the decision at the
//! next monitor). Reading the round again is the same proof
//! ([`crate::election::proven_final`]) over a later read: each node's mark
//! is read after its location, as in the first read, and a node withdraws
//! its mark before it publishes another location.

use std::time::Duration;

use super::elect::{finality, own_standing, read_round, OwnInputs};
use super::Ctx;
use crate::election::{awaits_marks, decide_with_finality, Decision, Round};
use crate::lsn::Lsn;
use crate::ports::{InstanceState, LogLevel, REFRESH_LIMIT};

/// The longest wait (monitors of a 2 s interval or more).
pub const MARK_WAIT_MAX: Duration = Duration::from_secs(1);

/// The pause between two reads of the round.
pub const MARK_POLL: Duration = Duration::from_millis(100);

/// How long an election monitor waits for the other nodes' marks: half its
/// interval (`interval_ms`, Pacemaker's `CRM_meta_interval` in
/// milliseconds), at most [`MARK_WAIT_MAX`]; none for a probe (0). The
/// last read again may end up to [`REFRESH_LIMIT`] later. A node
/// waits once per mark it publishes (the first monitor that publishes it),
/// so a node whose peers never become final pays this once, not every
/// round.
pub fn mark_wait(interval_ms: u64) -> Duration {
    Duration::from_millis(interval_ms / 2).min(MARK_WAIT_MAX)
}

/// The node_list nodes whose locations and marks an election monitor may
/// wait for: online, their instance not shown stopped. An unreadable node
/// list gives none (no wait).
pub(super) fn running_nodes(ctx: &mut Ctx<'_, '_>) -> Vec<String> {
    ctx.world
        .cluster
        .nodes()
        .map(|nodes| {
            nodes
                .into_iter()
                .filter(|n| n.online && n.instance != InstanceState::Stopped)
                .map(|n| n.name)
                .collect()
        })
        .unwrap_or_default()
}

/// The round read again every [`MARK_POLL`], for at most [`mark_wait`]
/// (and within the operation's budget), until it is decided: `Some` with
/// that round and its decision; `None` (the caller keeps its first read)
/// when the wait ends without one, when [`awaits_marks`] stops holding,
/// when the cluster or an election input cannot be read again, when
/// another node's instance became Promoted meanwhile (the election is
/// over; the next monitor sees it), or when this node's own standing
/// changed ([`super::elect::own_standing`]: its own inputs are not read
/// again, a change ends the wait). The local node's mark is the one this
/// monitor published (`own_mark`: attrd writes it to the CIB a moment
/// after it acknowledged).
pub(super) fn await_marks(
    ctx: &mut Ctx<'_, '_>,
    own: &OwnInputs,
    own_mark: Lsn,
) -> Option<(Round, Decision)> {
    let wait = mark_wait(ctx.agent.context.interval_ms);
    let local = ctx.attrs.local.clone();
    let resource = ctx.agent.names.resource.clone();
    let standing = own_standing(ctx);
    let started = ctx.world.clock.now();
    loop {
        let now = ctx.world.clock.now();
        let spent = now.saturating_sub(started);
        // A read again may take REFRESH_LIMIT: it starts only with that
        // much of the operation's budget left (the writes that follow have
        // the budget's reserve).
        if spent >= wait
            || ctx.budget.remaining(now) < REFRESH_LIMIT + MARK_POLL
            || !ctx.pause(MARK_POLL.min(wait - spent))
        {
            return None;
        }
        if let Err(e) = ctx.world.cluster.refresh() {
            ctx.log(LogLevel::Warn, &format!("Can't read the round again: {e}"));
            return None;
        }
        match ctx.world.cluster.promoted_nodes(&resource) {
            Ok(nodes) if nodes.iter().all(|n| *n == local) => {}
            Ok(_) => return None,
            Err(e) => {
                ctx.log(LogLevel::Warn, &format!("Can't read the round again: {e}"));
                return None;
            }
        }
        if own_standing(ctx) != standing {
            ctx.log(
                LogLevel::Info,
                "My own standing in the election changed while I waited for the others' marks; the next monitor decides.",
            );
            return None;
        }
        let (round, unreadable) = read_round(ctx, own, false).ok()?;
        if !unreadable.is_empty() {
            return None;
        }
        let mut f = finality(ctx);
        for (node, mark) in &mut f.marks {
            if *node == local {
                *mark = Some(own_mark);
            }
        }
        let d = decide_with_finality(&round, &[], Some(&f));
        if d.verdict.is_decided() {
            let waited = ctx.world.clock.now().saturating_sub(started);
            ctx.log(
                LogLevel::Info,
                &format!(
                    "The other nodes' locations and final marks came {} ms after mine.",
                    waited.as_millis()
                ),
            );
            return Some((round, d));
        }
        let running = running_nodes(ctx);
        if !awaits_marks(&round, &f, &running) {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_half_the_interval_at_most_a_second() {
        assert_eq!(mark_wait(0), Duration::ZERO);
        assert_eq!(mark_wait(1500), Duration::from_millis(750));
        assert_eq!(mark_wait(2000), Duration::from_secs(1));
        assert_eq!(mark_wait(10_000), Duration::from_secs(1));
    }
}
