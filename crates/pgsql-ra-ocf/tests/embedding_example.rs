//! Issue 18: the embedding example (`examples/supervisor.rs`) runs in CI.
//! Its scenario function is compiled into this test and played against
//! two real PostgreSQL 15 servers (as root, servers run as `postgres`);
//! the printed decisions are checked in order: the core's election makes
//! node1 the first primary, node2 becomes its sync standby, a write is
//! acknowledged, node1 is killed with `kill -9`, its monitor reports it
//! not running, the supervisor promotes node2 for its score, and the
//! acknowledged write is on node2.

#[allow(dead_code)]
#[path = "../examples/supervisor.rs"]
mod supervisor;

/// The position of the first line at or after `from` that contains every
/// one of `parts`, failing with the whole output otherwise.
fn find(lines: &[String], from: usize, parts: &[&str]) -> usize {
    lines
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, l)| parts.iter().all(|p| l.contains(p)))
        .map(|(i, _)| i)
        .unwrap_or_else(|| {
            panic!(
                "no line containing {parts:?} after line {from}:\n{}",
                lines.join("\n")
            )
        })
}

#[test]
fn the_supervisor_fails_over_from_a_killed_primary_to_its_sync_standby() {
    let mut lines: Vec<String> = Vec::new();
    let mut print = |l: &str| {
        eprintln!("{l}");
        lines.push(l.to_string());
    };
    let result = supervisor::run_scenario("/usr/lib/postgresql/15/bin", &mut print);
    assert_eq!(result, Ok(()), "{}", lines.join("\n"));

    let won = find(
        &lines,
        0,
        &["node1 monitor election: winner", "I have a master right"],
    );
    let chose = find(&lines, won, &["supervisor: promote node1", "node1=1000"]);
    let promoted = find(&lines, chose, &["node1 promote: 0 (OCF_SUCCESS)"]);
    let promoted = find(
        &lines,
        promoted,
        &["node1 monitor: 8 (OCF_RUNNING_PROMOTED)"],
    );
    let sync = find(
        &lines,
        promoted,
        &["sync_change: synchronous standbys [node2]"],
    );
    let sync = find(
        &lines,
        sync,
        &["supervisor: node2 is the sync standby of node1"],
    );
    let killed = find(&lines, sync, &["kill -9: node1"]);
    let down = find(&lines, killed, &["node1 monitor: 7 (OCF_NOT_RUNNING)"]);
    let stopped = find(&lines, down, &["node1 stop: 0 (OCF_SUCCESS)"]);
    let chose = find(&lines, stopped, &["supervisor: promote node2", "node2=100"]);
    let explained = find(&lines, chose, &["explain: node2"]);
    let promoted = find(&lines, explained, &["node2 promote: 0 (OCF_SUCCESS)"]);
    let journaled = find(
        &lines,
        promoted,
        &["node2 promote promoted", "data-status STREAMING|SYNC"],
    );
    let running = find(
        &lines,
        journaled,
        &["node2 monitor: 8 (OCF_RUNNING_PROMOTED)"],
    );
    let last = find(
        &lines,
        running,
        &["outcome: node2 is the primary; the acknowledged write is there: yes"],
    );
    assert_eq!(last, lines.len() - 1, "the outcome is the last line");
}
