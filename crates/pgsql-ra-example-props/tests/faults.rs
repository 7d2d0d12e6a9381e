//! A property over random fault schedules stated as a newcomer would, from
//! the crate docs alone: `pgsql_ra_core::sim::faults` generates the
//! schedule and plays it on the simulator; the judge is ours.

use pgsql_ra_core::sim::faults::{run_schedule, warm_event, Judge, Observed};
use pgsql_ra_core::sim::{PcmkRole, Sim, SimConfig};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Pacemaker never has two Promoted instances after an event.
struct OnePromoted;

impl Judge for OnePromoted {
    fn after_event(&mut self, seen: &Observed<'_>) -> Result<(), TestCaseError> {
        let promoted: Vec<String> = seen
            .sim
            .node_names()
            .into_iter()
            .filter(|n| seen.sim.pcmk_role(n) == PcmkRole::Promoted)
            .collect();
        prop_assert!(
            promoted.len() <= 1,
            "two Promoted after {:?}: {promoted:?}",
            seen.event
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn never_two_promoted(events in prop::collection::vec(warm_event(), 1..25)) {
        let mut sim = Sim::new(SimConfig::new(&["node1", "node2", "node3"]));
        sim.settle(10);
        let run = run_schedule(&mut sim, &events, &mut OnePromoted);
        if let Err(e) = run.result {
            return Err(TestCaseError::fail(format!("{e}\n{}", run.transcript.join("\n"))));
        }
    }
}
