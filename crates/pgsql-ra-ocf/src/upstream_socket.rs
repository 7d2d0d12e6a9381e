//! Issue 16: whether this node's TCP connections to an upstream got an
//! answer ([`UpstreamAnswer`]), read from the kernel's socket tables of the
//! agent's network namespace (`/proc/net/tcp`, `/proc/net/tcp6`): no
//! program is run, two reads.
//!
//! The early election (docs/decision-logic.md "Early election") counts a
//! WAL receiver that is still connecting to `master_ip`:`pgport` as
//! delivering nothing only when the answer is
//! [`UpstreamAnswer::Unanswered`]: a socket to that address and port sits
//! in `SYN_SENT` (the SYN went out, no host answered) and none is in a state
//! that follows an answer. A first version read the neighbour table (ARP)
//! instead; in the lab a restarted cluster kept the VIP's old, complete
//! entry for several seconds after its holder had gone (2026-12-02), so the
//! socket's own state is the better witness: it says whether *this*
//! connection was answered, whatever the link, the route or the cache.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pgsql_ra_core::ports::UpstreamAnswer;

/// `TCP_SYN_SENT` in the tables' `st` column.
const SYN_SENT: u8 = 0x02;
/// States that do not follow an answer to a connection of ours and are not
/// counted: `TIME_WAIT`, `CLOSE`, `LISTEN`.
const NOT_COUNTED: [u8; 3] = [0x06, 0x07, 0x0A];

/// Whether this node's TCP connections to `host`:`port` (sockets a process
/// holds) got an answer;
/// `host` must be an IP address literal ([`UpstreamAnswer::Unknown`]
/// otherwise, and when neither table can be read).
pub fn upstream_answer(host: &str, port: u16) -> UpstreamAnswer {
    let Ok(addr) = host.trim().parse::<IpAddr>() else {
        return UpstreamAnswer::Unknown;
    };
    let tables: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    if tables.is_empty() {
        return UpstreamAnswer::Unknown;
    }
    answer(&tables, addr, port)
}

/// The answer from the texts of the socket tables (pure, for tests): the
/// states of every socket whose remote end is `addr`:`port` (an IPv4
/// address also as `::ffff:a.b.c.d` in `tcp6`).
pub fn answer(tables: &[String], addr: IpAddr, port: u16) -> UpstreamAnswer {
    let mut syn_sent = false;
    for line in tables.iter().flat_map(|t| t.lines().skip(1)) {
        let Some((remote, state)) = remote_and_state(line) else {
            continue;
        };
        if remote != (addr, port) || NOT_COUNTED.contains(&state) {
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

/// A table line's remote address and port (IPv4-mapped IPv6 addresses as
/// IPv4) and its state; `None` for a line not of the expected form and for
/// an orphaned socket (inode 0: no process holds it any more, e.g. an old
/// connection closed by its process, still in `FIN_WAIT1` towards a host
/// that has gone: seen in the lab after a restart, 2026-12-02).
fn remote_and_state(line: &str) -> Option<((IpAddr, u16), u8)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let (addr, port) = f.get(2)?.split_once(':')?;
    let state = u8::from_str_radix(f.get(3)?, 16).ok()?;
    if f.get(9)?.parse::<u64>().ok()? == 0 {
        return None;
    }
    let port = u16::from_str_radix(port, 16).ok()?;
    let addr = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(addr)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word(addr.get(i * 8..i * 8 + 8)?)?);
            }
            let v6 = Ipv6Addr::from(bytes);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(((addr, port), state))
}

/// Eight hex digits of a 32-bit word as the kernel stores it (network
/// order bytes read as a native integer), back to those bytes.
fn word(hex: &str) -> Option<[u8; 4]> {
    Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD4: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
    const HEAD6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

    /// A `/proc/net/tcp` line from 10.231.0.12 to `remote`:`port` in
    /// `state`, as this host prints it.
    fn line4(remote: [u8; 4], port: u16, state: u8) -> String {
        format!(
            "   0: {:08X}:9C40 {:08X}:{port:04X} {state:02X} 00000000:00000000 00:00000000 00000000   105        0 12345 1 0000000000000000 100 0 0 10 0",
            u32::from_ne_bytes([10, 231, 0, 12]),
            u32::from_ne_bytes(remote)
        )
    }

    fn table(head: &str, lines: &[String]) -> String {
        std::iter::once(head.to_string())
            .chain(lines.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn vip() -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 231, 0, 100))
    }

    #[test]
    fn a_connection_still_in_syn_sent_is_unanswered() {
        let t = vec![table(HEAD4, &[line4([10, 231, 0, 100], 5432, 0x02)])];
        assert_eq!(answer(&t, vip(), 5432), UpstreamAnswer::Unanswered);
        // Closed connections and listeners are not counted.
        let t = vec![table(
            HEAD4,
            &[
                line4([10, 231, 0, 100], 5432, 0x06),
                line4([10, 231, 0, 100], 5432, 0x02),
                line4([10, 231, 0, 100], 5432, 0x07),
            ],
        )];
        assert_eq!(answer(&t, vip(), 5432), UpstreamAnswer::Unanswered);
    }

    #[test]
    fn any_answered_state_no_socket_or_another_port_is_not_unanswered() {
        for state in [0x01u8, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0B] {
            let t = vec![table(
                HEAD4,
                &[
                    line4([10, 231, 0, 100], 5432, 0x02),
                    line4([10, 231, 0, 100], 5432, state),
                ],
            )];
            assert_eq!(
                answer(&t, vip(), 5432),
                UpstreamAnswer::Answered,
                "{state:#x}"
            );
        }
        let t = vec![table(HEAD4, &[line4([10, 231, 0, 100], 5433, 0x02)])];
        assert_eq!(answer(&t, vip(), 5432), UpstreamAnswer::Unknown);
        let t = vec![table(HEAD4, &[line4([10, 231, 0, 101], 5432, 0x02)])];
        assert_eq!(answer(&t, vip(), 5432), UpstreamAnswer::Unknown);
        let t = vec![table(HEAD4, &[line4([10, 231, 0, 100], 5432, 0x06)])];
        assert_eq!(
            answer(&t, vip(), 5432),
            UpstreamAnswer::Unknown,
            "only TIME_WAIT"
        );
        // An orphaned socket (inode 0) of an old connection, still in
        // FIN_WAIT1 towards the address's former holder, is not counted.
        let orphan = line4([10, 231, 0, 100], 5432, 0x04).replace(" 12345 1 ", " 0 1 ");
        let t = vec![table(
            HEAD4,
            &[orphan, line4([10, 231, 0, 100], 5432, 0x02)],
        )];
        assert_eq!(answer(&t, vip(), 5432), UpstreamAnswer::Unanswered);
        assert_eq!(answer(&[], vip(), 5432), UpstreamAnswer::Unknown);
        let bad = vec![format!("{HEAD4}\n   0: zz:9C40 nonsense 02")];
        assert_eq!(answer(&bad, vip(), 5432), UpstreamAnswer::Unknown);
    }

    #[test]
    fn ipv4_mapped_and_ipv6_sockets_of_tcp6_are_read() {
        // As read on this machine (2026-12-02): a v4-mapped socket to
        // 198.51.100.8:5433, established.
        let real = "   0: 0000000000000000FFFF0000020200C0:A83A 0000000000000000FFFF0000086433C6:1539 01 00000000:00000000 00:00000000 00000000     0        0 129837 2 0000000067543cac 20 0 0 10 -1";
        let here_le = cfg!(target_endian = "little");
        if here_le {
            let t = vec![table(HEAD6, &[real.to_string()])];
            let a: IpAddr = "198.51.100.8".parse().expect("an address");
            assert_eq!(answer(&t, a, 5433), UpstreamAnswer::Answered);
            let syn = vec![table(HEAD6, &[real.replace(":1539 01 ", ":1539 02 ")])];
            assert_eq!(answer(&syn, a, 5433), UpstreamAnswer::Unanswered);
        }
        // A native IPv6 remote, printed word by word.
        let v6: Ipv6Addr = "fd00::64".parse().expect("an address");
        let b = v6.octets();
        let hex: String = b
            .chunks(4)
            .map(|c| format!("{:08X}", u32::from_ne_bytes([c[0], c[1], c[2], c[3]])))
            .collect();
        let l = format!("   1: {}:A83A {hex}:1538 02 00000000:00000000 00:00000000 00000000     0        0 1 2 0 20 0 0 10 -1", "0".repeat(32));
        let t = vec![table(HEAD6, &[l])];
        assert_eq!(answer(&t, IpAddr::V6(v6), 5432), UpstreamAnswer::Unanswered);
    }

    #[test]
    fn a_real_established_connection_on_loopback_is_answered() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
        let port = listener.local_addr().expect("its address").port();
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("a connection");
        let _server = listener.accept().expect("accepted");
        assert_eq!(upstream_answer("127.0.0.1", port), UpstreamAnswer::Answered);
        // Nothing connects to the listener's port + 1 from here (or if it
        // does, it was answered): never unanswered on loopback.
        assert_ne!(
            upstream_answer("127.0.0.1", port.wrapping_add(1)),
            UpstreamAnswer::Unanswered
        );
        assert_eq!(
            upstream_answer("vip.example", port),
            UpstreamAnswer::Unknown
        );
        assert_eq!(upstream_answer("", port), UpstreamAnswer::Unknown);
    }
}
