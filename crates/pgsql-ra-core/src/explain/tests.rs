//! Unit tests of the explanation over hand-built snapshots: the outcome
//! variants the simulator's fixtures do not reach (diverged histories,
//! the lineage check, an unrecorded sync baseline, a withheld score, an
//! unrecognised election input, the role gate's refusals), and the
//! properties every [`Explain`] impl must have.

use std::collections::BTreeMap;

use super::outcomes::{ClusterLine, Fact};
use super::snapshot::{LockFact, NodeAttrs, ServerFacts, Snapshot};
use super::*;
use crate::ineligible::Ineligible;
use crate::lsn::Lsn;
use crate::params::Params;

const SYS: u64 = 7_300_000_000_000_000_001;

fn params(nodes: &str) -> Params {
    let mut m = BTreeMap::new();
    m.insert("rep_mode".to_string(), "sync".to_string());
    m.insert("node_list".to_string(), nodes.to_string());
    m.insert("master_ip".to_string(), "192.168.2.3".to_string());
    m.insert("tmpdir".to_string(), "/tmp/pg".to_string());
    Params::parse(&m).0
}

fn node(name: &str) -> NodeAttrs {
    NodeAttrs {
        node: name.into(),
        online: Some(true),
        pgsql_status: Some("HS:alone".into()),
        score: Some("-INFINITY".into()),
        ..NodeAttrs::default()
    }
}

/// A snapshot taken on `local`, whose server runs as a standby (as its
/// `HS:alone` says).
fn snap(local: &str, nodes: Vec<NodeAttrs>) -> Snapshot {
    Snapshot {
        resource: "pgsql".into(),
        local_node: local.into(),
        nodes,
        server: ServerFacts {
            running: true,
            in_recovery: Some(true),
            ..ServerFacts::default()
        },
        ..Snapshot::default()
    }
}

fn rules_of(e: &Explanation, node: &str) -> Vec<String> {
    e.nodes
        .iter()
        .find(|n| n.node == node)
        .map(|n| n.reasons.iter().map(|r| r.rule.clone()).collect())
        .unwrap_or_default()
}

#[test]
fn diverged_histories_are_explained_as_no_decision() {
    // node2 is on timeline 2 that began at 0/3000100; node1 holds WAL up to
    // 0/3000500 on timeline 1: its WAL past the switch point is not node2's.
    let mut n1 = node("node1");
    n1.xlog_loc = Some(Lsn(0x0300_0500).to_attr());
    n1.xlog_tli = Some(format!("1:{SYS}"));
    let mut n2 = node("node2");
    n2.xlog_loc = Some(Lsn(0x0300_0600).to_attr());
    n2.xlog_tli = Some(format!("2:{SYS}:{}", Lsn(0x0300_0100).to_attr()));
    let e = explain(&params("node1 node2"), &snap("node2", vec![n1, n2]));
    let r = &e.nodes[0].reasons[0];
    assert_eq!(r.rule, "election.restarted", "{r:?}");
    assert!(r.projected);
    assert!(r.sentence.contains("diverge"), "{}", r.sentence);
    assert_eq!(e.cluster.rule, "cluster.no_primary");
    assert!(e.cluster.sentence.starts_with("no primary: "));
}

#[test]
fn the_lineage_check_and_the_sync_baseline_refuse_with_their_inputs() {
    let mut n1 = node("node1");
    n1.primary_origin = Some(format!("2:{SYS}"));
    n1.pgsql_status = Some("STOP".into());
    let mut n2 = node("node2");
    n2.xlog_loc = Some(Lsn(0x0300_0100).to_attr());
    n2.xlog_tli = Some(format!("3:{SYS}"));
    let mut n3 = node("node3");
    n3.data_status = Some("STREAMING|SYNC".into());
    n3.xlog_loc = Some(Lsn(0x0300_0100).to_attr());
    n3.sync_baseline = Some("unknown".into());
    let e = explain(
        &params("node1 node2 node3"),
        &snap("node1", vec![n1, n2, n3]),
    );
    assert_eq!(rules_of(&e, "node1"), ["state.stopped"]);
    assert_eq!(rules_of(&e, "node2"), ["election.lineage_refused"]);
    assert!(e.nodes[1].reasons[0]
        .sentence
        .contains("promoted outside the cluster"));
    assert_eq!(e.nodes[1].reasons[0].inputs["origin"], format!("3:{SYS}"));
    assert_eq!(
        rules_of(&e, "node3"),
        ["ineligible.sync_baseline_unrecorded"]
    );
}

#[test]
fn a_withheld_score_and_an_unrecognised_location_are_named() {
    let mut n1 = node("node1");
    n1.xlog_loc = Some(Lsn(0x0300_0100).to_attr());
    n1.withheld_score = Some("100".into());
    let mut n2 = node("node2");
    n2.xlog_loc = Some("garbage".into());
    let e = explain(&params("node1 node2"), &snap("node1", vec![n1, n2.clone()]));
    assert_eq!(
        rules_of(&e, "node1"),
        ["ineligible.election_note_unwritable"]
    );
    let mut n1 = node("node1");
    n1.xlog_loc = Some(Lsn(0x0300_0100).to_attr());
    let e = explain(&params("node1 node2"), &snap("node1", vec![n1, n2]));
    let r = &e.nodes[0].reasons[0];
    assert_eq!(r.rule, "election.restarted");
    assert!(
        r.sentence.contains("unrecognised pgsql-xlog-loc"),
        "{}",
        r.sentence
    );
    // No xlog_note.* and no 1000: no round ran since start; the first is
    // the next monitor's (issue 13: not shown as the one already decided).
    assert_eq!(r.when, When::NextMonitor);
    assert!(r.projected);
}

#[test]
fn the_role_gate_refuses_a_lone_primary_whose_data_is_not_the_clusters() {
    let mut n1 = node("node1");
    n1.data_status = Some("DISCONNECT".into());
    let mut s = snap("node1", vec![n1, node("node2")]);
    s.server = ServerFacts {
        running: true,
        in_recovery: Some(false),
        timeline: Some(2),
        system_id: Some(SYS),
        ..ServerFacts::default()
    };
    s.lock = Some(LockFact {
        path: "/tmp/pg/PGSQL.lock".into(),
        since_epoch_s: Some(1_764_522_131),
    });
    let e = explain(&params("node1 node2"), &s);
    let rules = rules_of(&e, "node1");
    assert_eq!(rules[0], "role_gate.not_cluster_data", "{rules:?}");
    assert_eq!(rules[1], "start.lock_present");
    assert_eq!(
        e.nodes[0].reasons[1].inputs["lock_since"],
        "2025-11-30 17:02:11 UTC"
    );
    s.promoted_error = Some("crm_mon timed out".into());
    let e = explain(&params("node1 node2"), &s);
    assert_eq!(rules_of(&e, "node1")[0], "role_gate.cluster_unreadable");
    assert_eq!(e.cluster.rule, "cluster.unreadable");
}

/// Every value of every wired outcome has a rule `<decision>.<snake_case>`,
/// a sentence, and (for refusals) what would change it; rule names are
/// distinct per variant.
#[test]
fn every_outcome_explains_itself() {
    let lsn = Lsn(0x0300_0100);
    let all: Vec<Box<dyn Explain>> = vec![
        Box::new(Ineligible::Starting),
        Box::new(Ineligible::Stopping),
        Box::new(Ineligible::Demoting),
        Box::new(Ineligible::ProbedAsStandby),
        Box::new(Ineligible::OtherNodePromoted {
            promoted: "node1".into(),
        }),
        Box::new(Ineligible::NotReplicating),
        Box::new(Ineligible::AsyncInSyncMode),
        Box::new(Ineligible::AsyncWithManyNodes),
        Box::new(Ineligible::PotentialStandby),
        Box::new(Ineligible::NotStreaming {
            data_status: "CATCHUP|ASYNC".into(),
        }),
        Box::new(Ineligible::HandoverUnrecorded),
        Box::new(Ineligible::HandoverBehind {
            baseline: lsn,
            flushed: Lsn(1),
        }),
        Box::new(Ineligible::DataStatusNotAllowed {
            data_status: "DISCONNECT".into(),
            rep_mode: "sync".into(),
        }),
        Box::new(Ineligible::BelowSyncBaseline {
            baseline: lsn,
            mine: Lsn(1),
        }),
        Box::new(Ineligible::SyncBaselineUnrecorded {
            value: "unknown".into(),
        }),
        Box::new(Ineligible::ElectionNoteUnwritable),
        Box::new(Ineligible::LostElection {
            detail: "behind".into(),
        }),
        Box::new(Ineligible::NewerThanPromotee {
            promotee: lsn,
            mine: Lsn(0x0400_0000),
        }),
        Box::new(Ineligible::NotPromotedByCluster),
        Box::new(Ineligible::UnrecognisedAttribute {
            attribute: "pgsql-data-status".into(),
            value: "x".into(),
        }),
        Box::new(Fact::Promoted),
        Box::new(Fact::Offline),
        Box::new(Fact::Stopped {
            status: "STOP".into(),
        }),
        Box::new(Fact::SetByPrimary {
            primary: "node1".into(),
        }),
        Box::new(Fact::NotInElection),
        Box::new(Fact::ServerDown {
            promoted: true,
            status: "PRI".into(),
        }),
        Box::new(ClusterLine::NoPrimary { why: vec![] }),
        Box::new(ClusterLine::Unreadable { error: "e".into() }),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for o in &all {
        let rule = o.rule();
        let (decision, variant) = rule.split_once('.').expect("decision.variant");
        assert!(!decision.is_empty() && !variant.is_empty(), "{rule}");
        assert!(
            variant.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{rule}"
        );
        assert!(seen.insert(rule.clone()), "{rule} twice");
        assert!(!o.sentence().is_empty(), "{rule}");
        assert!(!o.would_change().is_empty(), "{rule}");
    }
    let behind = Ineligible::HandoverBehind {
        baseline: lsn,
        flushed: Lsn(1),
    };
    assert_eq!(behind.inputs()["baseline"], "0/3000100");
}

#[test]
fn the_json_has_the_documented_fields() {
    let e = explain(
        &params("node1 node2"),
        &snap("node1", vec![node("node1"), node("node2")]),
    );
    let v = serde_json::to_value(&e).expect("serializes");
    assert_eq!(v["schema"], SCHEMA);
    for key in ["resource", "local_node", "cluster", "nodes"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    let n = &v["nodes"][0];
    for key in [
        "node",
        "role",
        "score",
        "data_status",
        "pgsql_status",
        "reasons",
        "published",
        "server",
    ] {
        assert!(n.get(key).is_some(), "{key}");
    }
    assert!(n["published"].get("verdict").is_some());
    assert!(n["published"]["mismatches"].is_array());
    for key in [
        "rule",
        "sentence",
        "inputs",
        "would_change",
        "projected",
        "when",
        "implies",
    ] {
        assert!(v["cluster"].get(key).is_some(), "{key}");
    }
}

/// Issue 13 (operator attack): a score the rules do not give is not
/// "explained" by the waiting election; it is named, with the rule that
/// gives another value, and the JSON verdict is `disagrees`.
#[test]
fn a_published_score_the_rules_do_not_give_is_flagged() {
    let mut n1 = node("node1");
    n1.xlog_loc = Some(Lsn(0x0300_0100).to_attr());
    n1.score = Some("1000".into());
    let mut n2 = node("node2");
    n2.xlog_loc = Some(Lsn(0x0300_0200).to_attr());
    let mut s = snap("node1", vec![n1, n2]);
    // One round counted: xlog_note.0 and xlog_note.1, same locations;
    // node2 is ahead, so node1 cannot have won with these locations.
    let text = format!("node1 {}\nnode2 {}\n", Lsn(0x0300_0100), Lsn(0x0300_0200));
    s.tmp_files = vec!["xlog_note.0".into(), "xlog_note.1".into()];
    s.notes = vec![(0, text.clone()), (1, text)];
    let e = explain(&params("node1 node2"), &s);
    let n = &e.nodes[0];
    assert_eq!(n.reasons[0].rule, "election.waiting");
    assert_eq!(n.reasons[0].when, When::Now);
    assert_eq!(n.published.verdict, PublishedVerdict::Disagrees);
    let m = &n.published.mismatches[0];
    assert_eq!(
        (m.attribute.as_str(), m.expected.as_deref()),
        ("score", Some("-INFINITY"))
    );
    assert!(
        m.sentence().starts_with(
            "published score 1000 but the rules give -INFINITY because [election.waiting]"
        ),
        "{}",
        m.sentence()
    );
    let v = serde_json::to_value(&e).expect("serializes");
    assert_eq!(v["nodes"][0]["published"]["verdict"], "disagrees");
    assert_eq!(
        v["nodes"][0]["published"]["mismatches"][0]["attribute"],
        "score"
    );

    // With node2 behind, the locations give node1 the win: a 1000 won
    // earlier is kept by the undecided rounds after it.
    let mut ahead = s.clone();
    ahead.nodes[1].xlog_loc = Some(Lsn(0x0300_0028).to_attr());
    let text = format!("node1 {}\nnode2 {}\n", Lsn(0x0300_0100), Lsn(0x0300_0028));
    ahead.notes = vec![(0, text.clone()), (1, text)];
    let e = explain(&params("node1 node2"), &ahead);
    assert_eq!(e.nodes[0].reasons[0].rule, "election.waiting");
    assert_eq!(e.nodes[0].published.verdict, PublishedVerdict::Agrees);

    // Agreement: the same node at -INFINITY; a garbage data-status on the
    // other node is not a value the agent writes.
    let mut s2 = s.clone();
    s2.nodes[0].score = Some("-INFINITY".into());
    s2.nodes[1].data_status = Some("LATEST ".into());
    let e = explain(&params("node1 node2"), &s2);
    assert_eq!(e.nodes[0].published.verdict, PublishedVerdict::Agrees);
    assert_eq!(e.nodes[1].published.verdict, PublishedVerdict::Disagrees);
    assert_eq!(e.nodes[1].published.mismatches[0].attribute, "data_status");
}

/// Issue 13 (operator attack): a Promoted instance whose postmaster is dead
/// no longer "keeps 1000": the server read through the ports is shown, the
/// next monitor's failure named, and the published PRI/1000 flagged.
#[test]
fn a_dead_promoted_postmaster_is_explained() {
    let mut n1 = node("node1");
    n1.promoted = true;
    n1.score = Some("1000".into());
    n1.data_status = Some("LATEST".into());
    n1.pgsql_status = Some("PRI".into());
    let mut s = snap("node1", vec![n1, node("node2")]);
    s.server = ServerFacts {
        running: true,
        in_recovery: Some(false),
        lsn: Some(Lsn(0x0300_0100)),
        timeline: Some(2),
        system_id: Some(SYS),
        ..ServerFacts::default()
    };
    let alive = explain(&params("node1 node2"), &s);
    assert!(rules_of(&alive, "node1").contains(&"state.promoted".to_string()));
    assert_eq!(alive.nodes[0].published.verdict, PublishedVerdict::Agrees);
    let server = alive.nodes[0].server.as_ref().expect("local server");
    assert_eq!(server.role.as_deref(), Some("primary"));
    assert_eq!(server.lsn.as_deref(), Some("0/3000100"));
    assert!(
        alive.nodes[1].server.is_none(),
        "only the local server is read"
    );

    s.server = ServerFacts::default();
    let dead = explain(&params("node1 node2"), &s);
    let rules = rules_of(&dead, "node1");
    assert_eq!(rules, ["state.server_down"], "{rules:?}");
    assert_eq!(
        dead.nodes[0].server.as_ref().and_then(|x| x.running),
        Some(false)
    );
    assert_eq!(dead.nodes[0].published.verdict, PublishedVerdict::Disagrees);
    let attrs: Vec<&str> = dead.nodes[0]
        .published
        .mismatches
        .iter()
        .map(|m| m.attribute.as_str())
        .collect();
    assert_eq!(attrs, ["score", "pgsql_status"]);
    assert!(dead.render_text(None).contains("server: not running"));

    // A postmaster that could not be looked for is not called dead.
    s.server.errors = vec!["postmaster: permission denied".into()];
    let unknown = explain(&params("node1 node2"), &s);
    assert_eq!(rules_of(&unknown, "node1"), ["state.promoted"]);
}
