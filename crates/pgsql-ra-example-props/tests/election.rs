//! A property over the election stated as a newcomer would, from the crate
//! docs alone: `pgsql_ra_core::sim::strategy` for the situations,
//! `election::decide` for the decision (stock §4.3).

use pgsql_ra_core::election::{decide, Verdict};
use pgsql_ra_core::sim::strategy::{confirmed_round, observations_with_origins};
use proptest::prelude::*;

proptest! {
    /// A confirmed round always decides, with a reason; every winner holds
    /// at least the WAL of each node on its own origin; and the winners
    /// that published a system identifier all share one (nodes that did
    /// not publish one are compared by LSN alone, so ties may win too).
    #[test]
    fn winners_hold_the_most_wal_of_their_origin(
        observed in observations_with_origins(1..6),
        check_count in 1u32..4,
    ) {
        let mut winners = Vec::new();
        for me in &observed {
            let d = decide(&confirmed_round(me, &observed, check_count));
            prop_assert_ne!(d.verdict, Verdict::Waiting, "a confirmed round decides: {}", d.reason);
            prop_assert!(!d.reason.is_empty());
            if d.verdict == Verdict::Winner {
                for other in observed.iter().filter(|o| o.origin.is_some() && o.origin == me.origin) {
                    prop_assert!(other.lsn <= me.lsn, "{} won below {}: {}", me.node, other.node, d.reason);
                }
                winners.extend(me.origin.map(|o| o.system_id));
            }
        }
        winners.sort();
        winners.dedup();
        prop_assert!(winners.len() <= 1, "winners of several systems: {winners:?}");
    }
}
