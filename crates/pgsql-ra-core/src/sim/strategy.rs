//! Proptest strategies for cluster situations (issue 18): node names, WAL
//! locations, timelines, system identifiers, origins, data statuses and
//! the election's observations, plus [`confirmed_round`], the round of the
//! election in which every node has confirmed what it saw. With
//! [`super::faults`] (fault schedules over the simulator) they let another
//! crate state its own property in a few lines.
//!
//! The value ranges are deliberately small so that ties, equal timelines and
//! boundaries come up often.
//!
//! ```
//! use pgsql_ra_core::election::{decide, Verdict};
//! use pgsql_ra_core::sim::strategy::{confirmed_round, observations};
//! use proptest::prelude::*;
//!
//! proptest!(|(observed in observations(1..5))| {
//!     // In a confirmed round without timelines, the winners hold the highest LSN.
//!     let top = observed.iter().map(|o| o.lsn).max();
//!     for me in &observed {
//!         let d = decide(&confirmed_round(me, &observed, 3));
//!         if d.verdict == Verdict::Winner {
//!             prop_assert_eq!(Some(me.lsn), top, "{}", d.reason);
//!         }
//!     }
//! });
//! ```

use std::ops::Range;

use proptest::prelude::*;

use crate::election::{render_note, Observation, Origin, Round};
use crate::lsn::Lsn;
use crate::status::DataStatus;

/// The first LSN of [`lsn`]'s band: `0/3000000`.
pub const LSN_BASE: u64 = 0x0300_0000;

/// A WAL location among eight, `0/3000000` to `0/3000700` in steps of
/// 0x100 bytes (equal locations are frequent).
pub fn lsn() -> impl Strategy<Value = Lsn> {
    (0u64..8).prop_map(|k| Lsn(LSN_BASE + k * 0x100))
}

/// Any WAL location (the whole 64-bit range; for parsers and printers).
pub fn any_lsn() -> impl Strategy<Value = Lsn> {
    any::<u64>().prop_map(Lsn)
}

/// A timeline ID, 1 to 3.
pub fn timeline() -> impl Strategy<Value = u32> {
    1u32..4
}

/// A system identifier among three (`pg_control_system()`): 7000 most of
/// the time, 7001 or 7002 for a node re-initdb'ed outside the cluster.
pub fn system_id() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => Just(7_000u64),
        1 => Just(7_001u64),
        1 => Just(7_002u64),
    ]
}

/// An origin (`<rsc>-xlog-tli`): a [`timeline`], a [`system_id`] and, for
/// a timeline after the first, a switch point from [`lsn`]'s band or none
/// (history file not at hand).
pub fn origin() -> impl Strategy<Value = Origin> {
    (timeline(), system_id(), prop::option::of(lsn())).prop_map(|(timeline, system_id, sp)| {
        Origin {
            timeline,
            system_id,
            switch_point: if timeline > 1 { sp } else { None },
        }
    })
}

/// A `<rsc>-data-status` the agent itself writes (stock §4.2, §4.3):
/// `LATEST`, `DISCONNECT` or `STATE|SYNC_STATE` from PostgreSQL's columns.
pub fn data_status() -> impl Strategy<Value = DataStatus> {
    let state = prop::sample::select(DataStatus::REPLICATION_STATES.to_vec());
    let sync = prop::sample::select(DataStatus::SYNC_STATES.to_vec());
    prop_oneof![
        1 => Just(DataStatus::Latest),
        1 => Just(DataStatus::Disconnect),
        3 => (state, sync).prop_map(|(s, y)| DataStatus::replication(s, y)),
    ]
}

/// A node's `<rsc>-data-status` as the election reads it: absent (`None`,
/// a first boot), `LATEST`, `DISCONNECT` or the streaming and catch-up
/// values, the ones that decide eligibility (stock §4.3).
pub fn election_data_status() -> impl Strategy<Value = Option<DataStatus>> {
    prop_oneof![
        Just(None),
        Just(Some(DataStatus::Latest)),
        Just(Some(DataStatus::Disconnect)),
        Just(Some(DataStatus::replication("STREAMING", "SYNC"))),
        Just(Some(DataStatus::replication("STREAMING", "ASYNC"))),
        Just(Some(DataStatus::replication("STREAMING", "POTENTIAL"))),
        Just(Some(DataStatus::replication("CATCHUP", "ASYNC"))),
    ]
}

/// The names `node1` … `node<n>`, in `node_list` order.
pub fn node_names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("node{i}")).collect()
}

/// Observations of a node count in `count` (`node1`, `node2`, …), each with
/// an [`lsn`] and no published origin (compared by LSN alone, as the stock
/// agent does).
pub fn observations(count: Range<usize>) -> impl Strategy<Value = Vec<Observation>> {
    prop::collection::vec(lsn(), count).prop_map(|lsns| {
        lsns.into_iter()
            .enumerate()
            .map(|(i, lsn)| Observation {
                node: format!("node{}", i + 1),
                lsn,
                origin: None,
            })
            .collect()
    })
}

/// Observations of a node count in `count`, each with an [`lsn`] and, most
/// of the time, an [`origin`] (`None`: a server that cannot report it).
pub fn observations_with_origins(count: Range<usize>) -> impl Strategy<Value = Vec<Observation>> {
    prop::collection::vec((lsn(), prop::option::weighted(0.8, origin())), count).prop_map(|nodes| {
        nodes
            .into_iter()
            .enumerate()
            .map(|(i, (lsn, origin))| Observation {
                node: format!("node{}", i + 1),
                lsn,
                origin,
            })
            .collect()
    })
}

/// The round `me` decides once every observation has been confirmed
/// `check_count` times (`xlog_check_count`, stock §4.3): the previous note
/// equals this one and `check_count - 1` rounds are done, so
/// [`crate::election::decide`] gives `Winner`, `Loser`, `Yield` or an
/// undecided `Restarted` with its reason, never `Waiting`. Every observed
/// node is eligible (no superset-only or ineligible node, no quorum set).
pub fn confirmed_round(me: &Observation, observed: &[Observation], check_count: u32) -> Round {
    Round {
        my_lsn: me.lsn,
        my_origin: me.origin,
        observed: observed.to_vec(),
        completed: check_count.saturating_sub(1),
        previous: Some(render_note(observed)),
        check_count,
        superset_only: Vec::new(),
        not_eligible: Vec::new(),
        my_superset_only: false,
        quorum: None,
    }
}
