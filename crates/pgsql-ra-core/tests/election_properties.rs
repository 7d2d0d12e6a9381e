//! Properties of the pure election (`pgsql_ra_core::election`, stock §4.3
//! and §8.2 bug N): who wins a confirmed round, with and without published
//! timelines, with unrecognised data-status values, and forks.

use pgsql_ra_core::election::{
    decide, decide_checked, eligibility, eligibility_of_attr, render_note, Observation, Origin,
    Round, Verdict,
};
use pgsql_ra_core::lsn::Lsn;
use pgsql_ra_core::params::RepMode;
use pgsql_ra_core::sim::strategy::{confirmed_round, election_data_status};
use pgsql_ra_core::status::DataStatus;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The pure election (§4.3): nodes not eligible by their data-status
    /// (DISCONNECT among them) never take part and so never win; every node
    /// that takes part publishes its LSN; after the confirmation rounds a
    /// winner holds the highest LSN among the eligible nodes, and some
    /// eligible node always wins.
    #[test]
    fn the_election_winner_holds_the_highest_eligible_lsn(
        nodes in prop::collection::vec((election_data_status(), 0u64..8), 1..6),
        sync in any::<bool>(),
        check_count in 0u32..5,
    ) {
        let mode = if sync { RepMode::Sync } else { RepMode::Async };
        let eligible: Vec<(String, Lsn)> = nodes
            .iter()
            .enumerate()
            .filter(|(_, (ds, _))| eligibility(mode, ds.as_ref()).is_ok())
            .map(|(i, (_, l))| (format!("node{i}"), Lsn(0x0300_0000 + l * 0x100)))
            .collect();
        let observed: Vec<Observation> = eligible
            .iter()
            .map(|(n, l)| Observation { node: n.clone(), lsn: *l, origin: None })
            .collect();
        let top = observed.iter().map(|o| o.lsn).max();
        let mut winners = Vec::new();
        for (i, (ds, _)) in nodes.iter().enumerate() {
            let name = format!("node{i}");
            let Some((_, my_lsn)) = eligible.iter().find(|(n, _)| *n == name) else {
                prop_assert!(eligibility(mode, ds.as_ref()).is_err());
                continue;
            };
            prop_assert!(ds.as_ref() != Some(&DataStatus::Disconnect), "DISCONNECT is never eligible");
            // A confirmed round: the same note as last time, all rounds done.
            let d = decide(&Round {
                my_lsn: *my_lsn,
                my_origin: None,
                observed: observed.clone(),
                completed: check_count.saturating_sub(1),
                previous: Some(render_note(&observed)),
                check_count,
                superset_only: Vec::new(),
                not_eligible: Vec::new(),
                my_superset_only: false,
                quorum: None,
            });
            prop_assert_eq!(d.highest, top);
            match d.verdict {
                Verdict::Winner => {
                    prop_assert_eq!(Some(*my_lsn), top);
                    winners.push(name);
                }
                Verdict::Loser => prop_assert!(Some(*my_lsn) < top),
                v => prop_assert!(false, "a confirmed round must decide, got {:?}", v),
            }
            // An unconfirmed round (changed note) never elects anyone.
            let first = decide(&Round {
                my_lsn: *my_lsn,
                my_origin: None,
                observed: observed.clone(),
                completed: 0,
                previous: None,
                check_count,
                superset_only: Vec::new(),
                not_eligible: Vec::new(),
                my_superset_only: false,
                quorum: None,
            });
            prop_assert_eq!(first.verdict, Verdict::Restarted);
        }
        prop_assert_eq!(winners.is_empty(), eligible.is_empty());
    }

    /// §8.2 bug N (fixed): with every node publishing its timeline and
    /// system identifier, a confirmed round makes a node the winner exactly
    /// when it holds the maximum (timeline, LSN) among the nodes of its own
    /// system identifier and that identifier is not outnumbered; a node of
    /// another system is never the reason anyone loses; and the same inputs
    /// always give the same decision.
    #[test]
    fn the_election_winner_holds_the_newest_timeline_and_lsn_of_its_system(
        nodes in prop::collection::vec((1u32..4, 0u64..6, 0u64..3), 1..6),
        check_count in 0u32..5,
    ) {
        let observed: Vec<Observation> = nodes
            .iter()
            .enumerate()
            .map(|(i, (tli, lsn, sys))| Observation {
                node: format!("node{i}"),
                lsn: Lsn(0x0300_0000 + lsn * 0x100),
                origin: Some(Origin::new(*tli, 7_000 + sys)),
            })
            .collect();
        let count = |id: u64| observed.iter().filter(|o| o.origin.unwrap().system_id == id).count();
        let mut winners = Vec::new();
        for me in &observed {
            let mine = me.origin.unwrap();
            let round = Round {
                my_lsn: me.lsn,
                my_origin: me.origin,
                observed: observed.clone(),
                completed: check_count.saturating_sub(1),
                previous: Some(render_note(&observed)),
                check_count,
                superset_only: Vec::new(),
                not_eligible: Vec::new(),
                my_superset_only: false,
                quorum: None,
            };
            let d = decide(&round);
            prop_assert_eq!(&d, &decide(&round), "deterministic");
            let key = |o: &Observation| (o.origin.unwrap().timeline, o.lsn);
            let best = observed
                .iter()
                .filter(|o| o.origin.unwrap().system_id == mine.system_id)
                .map(key)
                .max()
                .unwrap();
            let outnumbered = observed
                .iter()
                .any(|o| count(o.origin.unwrap().system_id) > count(mine.system_id));
            // A tie with another system identifier: which data is the
            // cluster's cannot be told, so nobody decides (fail closed).
            let tied = !outnumbered
                && observed.iter().any(|o| {
                    let id = o.origin.unwrap().system_id;
                    id != mine.system_id && count(id) == count(mine.system_id)
                });
            let expected = key(me) == best && !outnumbered;
            match d.verdict {
                Verdict::Winner => {
                    prop_assert!(expected && !tied, "{} won: {}", me.node, d.reason);
                    winners.push(mine.system_id);
                }
                Verdict::Loser => prop_assert!(!expected, "{} lost: {}", me.node, d.reason),
                Verdict::Restarted => prop_assert!(tied, "{} undecided: {}", me.node, d.reason),
                v => prop_assert!(false, "a confirmed round must decide, got {:?}", v),
            }
            let foreign = observed.iter().filter(|o| o.origin.unwrap().system_id != mine.system_id).count();
            prop_assert_eq!(d.warnings.len(), foreign);
        }
        // Someone wins exactly when one system is published by more nodes
        // than any other, and every winner belongs to it.
        let top = observed.iter().map(|o| count(o.origin.unwrap().system_id)).max().unwrap();
        let mut ids: Vec<u64> = observed.iter().map(|o| o.origin.unwrap().system_id).collect();
        ids.sort();
        ids.dedup();
        let unique_top = ids.iter().filter(|id| count(**id) == top).count() == 1;
        prop_assert_eq!(!winners.is_empty(), unique_top, "winners {:?}", winners);
        prop_assert!(winners.iter().all(|id| count(*id) == top));
    }
}

/// A node for the mixed-publication property: its LSN offset and, when it
/// published one, its timeline.
fn mixed_node() -> impl Strategy<Value = (u64, Option<u32>)> {
    (0u64..6, prop::option::weighted(0.7, 1u32..4))
}

/// Confirms one round for every node of `nodes` (all of one system) and
/// returns the verdicts.
fn confirmed_verdicts(nodes: &[(u64, Option<u32>)], unreadable: &[String]) -> Vec<Verdict> {
    let observed: Vec<Observation> = nodes
        .iter()
        .enumerate()
        .map(|(i, (lsn, tli))| Observation {
            node: format!("node{i}"),
            lsn: Lsn(0x0300_0000 + lsn * 0x100),
            origin: tli.map(|t| Origin::new(t, 7_000)),
        })
        .collect();
    observed
        .iter()
        .map(|me| decide_checked(&confirmed_round(me, &observed, 3), unreadable).verdict)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Issue 9: the candidate order is a strict weak order. With nodes that
    /// published a timeline and nodes that did not (a server that cannot
    /// report it), once every eligible node has published its location some
    /// node wins a confirmed round; and every winner holds the top key
    /// (by (timeline, LSN) when all published a timeline, by LSN otherwise).
    /// Comparing pair by pair with two different rules made cycles
    /// (node0 tl1 0/3000300, node1 none 0/3000200, node2 tl2 0/3000100:
    /// nobody won).
    #[test]
    fn some_node_wins_whenever_all_eligible_nodes_have_published(
        nodes in prop::collection::vec(mixed_node(), 1..6),
    ) {
        let verdicts = confirmed_verdicts(&nodes, &[]);
        prop_assert!(verdicts.contains(&Verdict::Winner), "nobody won among {nodes:?}: {verdicts:?}");
        let all_tl = nodes.iter().all(|(_, t)| t.is_some());
        let key = |n: &(u64, Option<u32>)| if all_tl { (n.1.unwrap_or(0), n.0) } else { (0, n.0) };
        let top = nodes.iter().map(key).max().unwrap();
        for (n, v) in nodes.iter().zip(&verdicts) {
            prop_assert_eq!(*v == Verdict::Winner, key(n) == top, "{:?} {:?}", n, v);
        }
    }

    /// Fail closed (issue 9 item 2): while an election input is
    /// unrecognised nobody wins.
    #[test]
    fn nobody_wins_while_an_election_input_is_unrecognised(
        nodes in prop::collection::vec(mixed_node(), 1..5),
    ) {
        let verdicts = confirmed_verdicts(&nodes, &["node9: unrecognised pgsql-xlog-loc \"x\"".to_string()]);
        prop_assert!(verdicts.iter().all(|v| *v == Verdict::Restarted), "{verdicts:?}");
    }

    /// Fail closed (issue 9 item 2): a data-status is eligible only when it
    /// is absent or exactly one of the allowed texts; any other text (other
    /// case, a typo, another tool's value) is refused.
    #[test]
    fn only_the_exact_allowed_data_status_texts_are_eligible(
        text in prop_oneof![
            Just("LATEST".to_string()),
            Just("STREAMING|SYNC".to_string()),
            Just("STREAMING|ASYNC".to_string()),
            Just("DISCONNECT".to_string()),
            "(latest|Latest|disconnect|streaming\\|sync|STREAMING\\|SYNC |CATCHUP\\|ASYNC|STREAMING\\|QUORUM|FOO\\|BAR| LATEST|)",
            ".{0,12}",
        ],
        sync in any::<bool>(),
    ) {
        let mode = if sync { RepMode::Sync } else { RepMode::Async };
        let allowed = match text.as_str() {
            "LATEST" | "STREAMING|SYNC" => true,
            "STREAMING|ASYNC" => !sync,
            _ => false,
        };
        prop_assert_eq!(eligibility_of_attr(mode, Some(&text)).is_ok(), allowed, "{:?}", text);
        prop_assert!(eligibility_of_attr(mode, None).is_ok(), "absent = first boot");
    }

    /// Issue 9 precision: two nodes on the same timeline number that began
    /// at different switch points are forks of independent promotions:
    /// neither wins against the other, whatever their LSNs, and neither is
    /// marked (no decision until an operator or the rejoin logic acts).
    #[test]
    fn forked_timelines_never_win_against_each_other(
        a in 0u64..6, b in 0u64..6, sa in 1u64..4, sb in 1u64..4, tli in 2u32..4,
    ) {
        prop_assume!(sa != sb);
        let origin = |sp: u64| Some(Origin { switch_point: Some(Lsn(0x0200_0000 + sp)), ..Origin::new(tli, 7_000) });
        let observed = vec![
            Observation { node: "node1".into(), lsn: Lsn(0x0300_0000 + a), origin: origin(sa) },
            Observation { node: "node2".into(), lsn: Lsn(0x0300_0000 + b), origin: origin(sb) },
        ];
        for me in &observed {
            let d = decide(&confirmed_round(me, &observed, 3));
            prop_assert_eq!(d.verdict, Verdict::Restarted, "{}", d.reason);
            prop_assert!(d.reason.contains("forked"), "{}", d.reason);
        }
    }
}

/// The cycle the old pairwise comparison made: nobody won.
#[test]
fn the_mixed_publication_cycle_elects_someone() {
    let v = confirmed_verdicts(&[(3, Some(1)), (2, None), (1, Some(2))], &[]);
    assert_eq!(v, vec![Verdict::Winner, Verdict::Loser, Verdict::Loser]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Issue 9: a node on a newer timeline wins against a node on an older
    /// one only when the older node's WAL ends at or before where the newer
    /// timeline began (it could follow it); otherwise their histories
    /// diverged and neither wins (a standby promoted outside the cluster
    /// must not beat the standby holding the acknowledged writes).
    #[test]
    fn a_newer_timeline_wins_only_over_nodes_that_can_follow_it(
        old_lsn in 0u64..8, new_lsn in 0u64..8, switch in 0u64..8,
    ) {
        let sp = Lsn(0x0300_0000 + switch * 0x100);
        let observed = vec![
            Observation { node: "old".into(), lsn: Lsn(0x0300_0000 + old_lsn * 0x100), origin: Some(Origin::new(1, 7_000)) },
            Observation {
                node: "new".into(),
                lsn: Lsn(0x0300_0000 + new_lsn.max(switch) * 0x100),
                origin: Some(Origin { switch_point: Some(sp), ..Origin::new(2, 7_000) }),
            },
        ];
        let can_follow = observed[0].lsn <= sp;
        for me in &observed {
            let d = decide(&confirmed_round(me, &observed, 3));
            let expected = match (can_follow, me.node.as_str()) {
                (true, "new") => Verdict::Winner,
                (true, _) => Verdict::Loser,
                (false, _) => Verdict::Restarted,
            };
            prop_assert_eq!(d.verdict, expected, "{}: {}", me.node, d.reason);
        }
    }
}
