//! A property over random fault schedules stated as a newcomer would, from
//! the crate docs alone: `pgsql_ra_core::sim::faults` generates the
//! schedule and plays it on the simulator; the judge is ours. (An earlier
//! judge, "never two Promoted", held by construction of the simulator's
//! Pacemaker model and could not fail because of the agent; found by the
//! issue-18 attack.)

use pgsql_ra_core::memory::WalHistory;
use pgsql_ra_core::sim::faults::{run_schedule, warm_event, Event, Judge, Observed};
use pgsql_ra_core::sim::{Sim, SimConfig};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// A write acknowledged through the VIP with a sync standby's confirmation
/// is in the WAL of every node Pacemaker promotes afterwards.
#[derive(Default)]
struct NoAcknowledgedWriteLost {
    acknowledged: Vec<WalHistory>,
    promotions: usize,
}

impl Judge for NoAcknowledgedWriteLost {
    fn after_event(&mut self, seen: &Observed<'_>) -> Result<(), TestCaseError> {
        for p in seen.promotions.iter().filter(|p| p.succeeded) {
            self.promotions += 1;
            let wal = &p.wal[&p.node];
            for a in &self.acknowledged {
                prop_assert!(
                    wal.includes(a),
                    "{} promoted with {} lacking the acknowledged {}",
                    p.node,
                    wal.describe(),
                    a.describe()
                );
            }
        }
        if let Some(c) = seen.commit.filter(|c| c.via_vip && c.sync_confirmed) {
            self.acknowledged.push(c.wal.clone());
        }
        Ok(())
    }
}

fn settled() -> Sim {
    let mut sim = Sim::new(SimConfig::new(&["node1", "node2", "node3"]));
    sim.settle(10);
    sim
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_acknowledged_write_is_lost(events in prop::collection::vec(warm_event(), 1..40)) {
        let run = run_schedule(&mut settled(), &events, &mut NoAcknowledgedWriteLost::default());
        if let Err(e) = run.result {
            return Err(TestCaseError::fail(format!("{e}\n{}", run.transcript.join("\n"))));
        }
    }
}

/// The judge sees what it judges: a write, a failover, a promotion.
#[test]
fn a_failover_after_a_write_is_judged() {
    let mut judge = NoAcknowledgedWriteLost::default();
    let events = [Event::WriteVip(3), Event::KillPrimary, Event::Steps(12)];
    let run = run_schedule(&mut settled(), &events, &mut judge);
    assert!(run.result.is_ok(), "{}", run.transcript.join("\n"));
    assert!(judge.promotions >= 1 && !judge.acknowledged.is_empty());
}
