//! Watching `start` take `PGSQL.lock` away (issue 10): the lone primary of
//! B2-05 and the crash rejoin by follow, `pg_rewind` or re-clone. Counts
//! each path ([`Key::LonePrimaryRestart`], [`Key::RejoinedByFollow`], …),
//! from what the successful `start` logged, and checks that a node the
//! crash rejoin let start holds nothing its primary lacks (its WAL is a
//! prefix of the primary's, same system).

use std::collections::BTreeSet;

use pgsql_ra_core::ocf::OcfExit;
use pgsql_ra_core::sim::{Invocation, PcmkRole, Sim};
use proptest::test_runner::TestCaseError;

use super::oracle::{data_of, same_numbers_and_switch_points};
use super::reach::Key;

/// Which path a successful `start` took through `PGSQL.lock`, from its log.
fn path_of(start: &Invocation) -> Option<Key> {
    let said = |text: &str| start.log.iter().any(|(_, l)| l.contains(text));
    if said("this node was the last primary (data-status LATEST)") && said("Removed ") {
        Some(Key::LonePrimaryRestart)
    } else if !said("the local data is on the primary's history") {
        None
    } else if said("crash rejoin: re-cloned from the primary") {
        Some(Key::RejoinedByClone)
    } else if said("crash rejoin: pg_rewind ended") {
        Some(Key::RejoinedByRewind)
    } else {
        Some(Key::RejoinedByFollow)
    }
}

/// After a Pacemaker step (its invocations not yet taken): counts the
/// starts that went through the lock and checks the rejoined nodes.
pub fn after_step(sim: &Sim, reached: &mut BTreeSet<Key>) -> Result<(), TestCaseError> {
    let starts = sim
        .invocations
        .iter()
        .filter(|i| i.label == "start" && i.outcome.code == OcfExit::Success);
    for start in starts {
        let Some(key) = path_of(start) else {
            continue;
        };
        reached.insert(key);
        if key == Key::LonePrimaryRestart {
            continue;
        }
        let node = &start.node;
        // The crash rejoin let it start as a standby of the primary: its
        // WAL data must be a prefix of the primary's, same system.
        let primary = sim
            .node_names()
            .into_iter()
            .find(|n| n != node && sim.pcmk_role(n) == PcmkRole::Promoted);
        let (Some(p), Some(mine)) = (primary, sim.net.wal(node)) else {
            continue;
        };
        let Some(theirs) = sim.net.wal(&p) else {
            continue;
        };
        // Compared by data: a timeline that ends where it began holds no
        // record of its own (as the promotion oracle does).
        if data_of(&theirs).includes(&data_of(&mine)) {
            continue;
        }
        // History files cannot tell a fork with the same timeline numbers
        // and switch points (the known limit the election oracle counts
        // too); the standby then never streams (the simulator compares
        // lineages).
        if mine.system_id == theirs.system_id && same_numbers_and_switch_points(&mine, &theirs) {
            reached.insert(Key::IndistinguishableFork);
            continue;
        }
        return Err(TestCaseError::fail(format!(
            "[rejoin-diverged] {node} rejoined ({key:?}) at {} but the primary {p} is at {}",
            mine.describe(),
            theirs.describe()
        )));
    }
    Ok(())
}
