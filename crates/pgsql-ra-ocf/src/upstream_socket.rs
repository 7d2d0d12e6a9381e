//! Issue 16: whether a process's TCP connections got an answer
//! ([`UpstreamAnswer`]), read from the kernel: the socket inodes among its
//! open file descriptors (`/proc/<pid>/fd/*` → `socket:[inode]`) and their
//! states in the socket tables of the process's own network namespace
//! (`/proc/<pid>/net/tcp`, `/proc/<pid>/net/tcp6`). No program is run. Asked about the
//! WAL receiver, whose only TCP socket is its connection to its upstream
//! (PostgreSQL closes the postmaster's listening sockets in its children).
//! Fails closed ([`UpstreamAnswer::Unknown`]): no such process, not a WAL
//! receiver by its title (a PID namespace between the agent and the
//! server), `/proc` hidden (`hidepid`, not root), no TCP socket (an upstream
//! on a Unix socket, a receiver still resolving a host name).
//!
//! The early election (docs/decision-logic.md "Early election") counts a
//! receiver that is still connecting as delivering nothing only when the
//! answer is [`UpstreamAnswer::Unanswered`]: every TCP socket it holds is
//! in `SYN_SENT` (the SYN went out, no host answered). Two earlier versions
//! of the same day looked at the address instead of the process: the ARP
//! neighbour table for `master_ip` (a restarted lab cluster kept the VIP's
//! old, complete entry for seconds after its holder had gone), then every
//! socket of the node towards `master_ip`:`pgport` (the attack on it: any
//! other program retrying the VIP made the receiver look unanswered while
//! `repuser`, `ALTER SYSTEM` or the environment sent it elsewhere). The
//! receiver's own sockets say whether *its* connection was answered,
//! wherever it goes.

use std::collections::BTreeSet;

use pgsql_ra_core::ports::UpstreamAnswer;

/// `TCP_SYN_SENT` in the tables' `st` column.
const SYN_SENT: u8 = 0x02;

/// Whether the TCP connections of the WAL receiver `pid` got an answer.
/// The process must be a PostgreSQL WAL receiver (`/proc/<pid>/cmdline`
/// `postgres: … walreceiver …`: a pid read by PostgreSQL in another PID
/// namespace names some other process here), and its sockets are looked up
/// in its own network namespace's tables (`/proc/<pid>/net/tcp{,6}`), so
/// an inode number is never matched against another namespace's sockets.
pub fn connection_answer(pid: u32) -> UpstreamAnswer {
    let is_receiver = std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| is_walreceiver_cmdline(&String::from_utf8_lossy(&c)));
    if !is_receiver {
        return UpstreamAnswer::Unknown;
    }
    let Some(inodes) = socket_inodes(pid) else {
        return UpstreamAnswer::Unknown;
    };
    if inodes.is_empty() {
        return UpstreamAnswer::Unknown;
    }
    let tables: Vec<String> = ["tcp", "tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).ok())
        .collect();
    answer(&tables, &inodes)
}

/// True for a WAL receiver's process title: `postgres: walreceiver …` (13
/// and later) or `postgres: <cluster>: walreceiver …` / `postgres: wal
/// receiver process …` (10 to 12), NUL-separated or space-padded as the
/// kernel shows a retitled process.
fn is_walreceiver_cmdline(cmdline: &str) -> bool {
    let title = cmdline.replace('\0', " ");
    title.starts_with("postgres:")
        && (title.contains(" walreceiver") || title.contains(" wal receiver"))
}

/// The inodes of the sockets among `pid`'s open file descriptors; `None`
/// when its `fd` directory cannot be read (no such process, no right).
fn socket_inodes(pid: u32) -> Option<BTreeSet<u64>> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(
        dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter_map(|target| socket_inode(&target.to_string_lossy()))
            .collect(),
    )
}

/// The inode of a `/proc/<pid>/fd` link's target `socket:[<inode>]`.
fn socket_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The answer from the texts of the socket tables for the sockets
/// `inodes` (pure, for tests): [`UpstreamAnswer::Unanswered`] when at least
/// one of them is a TCP socket and all of those are in `SYN_SENT`,
/// [`UpstreamAnswer::Answered`] when one is in another state,
/// [`UpstreamAnswer::Unknown`] when none is in the tables.
pub fn answer(tables: &[String], inodes: &BTreeSet<u64>) -> UpstreamAnswer {
    let mut syn_sent = false;
    for line in tables.iter().flat_map(|t| t.lines().skip(1)) {
        let Some((inode, state)) = inode_and_state(line) else {
            continue;
        };
        if !inodes.contains(&inode) {
            continue;
        }
        if state != SYN_SENT {
            return UpstreamAnswer::Answered;
        }
        syn_sent = true;
    }
    if syn_sent {
        UpstreamAnswer::Unanswered
    } else {
        UpstreamAnswer::Unknown
    }
}

/// A table line's socket inode (column 10) and state (column 4); `None`
/// for a line not of the expected form or an orphaned socket (inode 0).
fn inode_and_state(line: &str) -> Option<(u64, u8)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let state = u8::from_str_radix(f.get(3)?, 16).ok()?;
    let inode = f.get(9)?.parse::<u64>().ok()?;
    (inode != 0).then_some((inode, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD4: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

    /// A `/proc/net/tcp` line to 10.231.0.100:5432 in `state`, socket
    /// `inode` (the form read on this machine, 2026-12-02).
    fn line(state: u8, inode: u64) -> String {
        format!(
            "   0: 0C00E70A:9C40 6400E70A:1538 {state:02X} 00000000:00000000 00:00000000 00000000   105        0 {inode} 1 0000000000000000 100 0 0 10 0"
        )
    }

    fn tables(lines: &[String]) -> Vec<String> {
        vec![std::iter::once(HEAD4.to_string())
            .chain(lines.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n")]
    }

    fn set(inodes: &[u64]) -> BTreeSet<u64> {
        inodes.iter().copied().collect()
    }

    #[test]
    fn a_process_whose_only_connection_is_in_syn_sent_is_unanswered() {
        let t = tables(&[line(0x02, 501), line(0x01, 777), line(0x04, 0)]);
        assert_eq!(answer(&t, &set(&[501])), UpstreamAnswer::Unanswered);
    }

    #[test]
    fn another_process_an_answered_socket_or_no_socket_is_not_unanswered() {
        // Another program's SYN_SENT (777) says nothing of ours (501),
        // which is established.
        let t = tables(&[line(0x01, 501), line(0x02, 777)]);
        assert_eq!(answer(&t, &set(&[501])), UpstreamAnswer::Answered);
        for state in [0x01u8, 0x03, 0x04, 0x05, 0x06, 0x08, 0x09, 0x0B] {
            let t = tables(&[line(0x02, 501), line(state, 502)]);
            assert_eq!(
                answer(&t, &set(&[501, 502])),
                UpstreamAnswer::Answered,
                "{state:#x}"
            );
        }
        let t = tables(&[line(0x02, 777)]);
        assert_eq!(answer(&t, &set(&[501])), UpstreamAnswer::Unknown);
        assert_eq!(answer(&t, &set(&[])), UpstreamAnswer::Unknown);
        assert_eq!(answer(&[], &set(&[501])), UpstreamAnswer::Unknown);
        let bad = vec![format!("{HEAD4}\n   0: zz:9C40 nonsense 02")];
        assert_eq!(answer(&bad, &set(&[501])), UpstreamAnswer::Unknown);
    }

    #[test]
    fn only_a_walreceiver_process_title_is_a_receiver() {
        for t in [
            "postgres: walreceiver streaming 0/3000060",
            "postgres: walreceiver ",
            "postgres: main: walreceiver ",
            "postgres: wal receiver process   streaming 0/3000060",
        ] {
            assert!(is_walreceiver_cmdline(t), "{t}");
        }
        for t in [
            "/usr/lib/postgresql/15/bin/postgres\0-D\0/var/lib/pgsql/data\0",
            "postgres: checkpointer ",
            "postgres: startup recovering 000000010000000000000003",
            "sleep\0\x35\0",
            "",
        ] {
            assert!(!is_walreceiver_cmdline(t), "{t}");
        }
    }

    #[test]
    fn fd_link_targets_are_read() {
        assert_eq!(socket_inode("socket:[150105]"), Some(150_105));
        assert_eq!(socket_inode("pipe:[150105]"), None);
        assert_eq!(socket_inode("/var/lib/postgresql/x"), None);
        assert_eq!(socket_inode("socket:[x]"), None);
    }

    /// On the real kernel: this test process's connection to its own
    /// listener is established (answered) in its tables; a process that is
    /// not a WAL receiver, that does not exist, or that has no TCP socket
    /// is unknown.
    #[test]
    fn a_real_process_with_an_established_connection_is_answered() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
        let port = listener.local_addr().expect("its address").port();
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("a connection");
        let _server = listener.accept().expect("accepted");
        let me = std::process::id();
        let inodes = socket_inodes(me).expect("our fd directory");
        let tables: Vec<String> = ["tcp", "tcp6"]
            .iter()
            .filter_map(|t| std::fs::read_to_string(format!("/proc/{me}/net/{t}")).ok())
            .collect();
        assert_eq!(answer(&tables, &inodes), UpstreamAnswer::Answered);
        assert_eq!(
            connection_answer(me),
            UpstreamAnswer::Unknown,
            "not a walreceiver"
        );
        assert_eq!(connection_answer(u32::MAX), UpstreamAnswer::Unknown);
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep");
        assert_eq!(connection_answer(child.id()), UpstreamAnswer::Unknown);
        let _ = child.kill();
        let _ = child.wait();
    }
}
