//! Issue 16: the link layer's answer for an IPv4 address
//! ([`LinkNeighbour`]), read from the kernel's routing table
//! (`/proc/net/route`) and neighbour table (`/proc/net/arp`) of the agent's
//! network namespace: no program is run, three small reads and one
//! `bind(2)`.
//!
//! The early election (docs/decision-logic.md "Early election") counts a
//! WAL receiver that is still connecting to `master_ip` as delivering
//! nothing only when the answer is [`LinkNeighbour::Unanswered`]: the
//! address is on a directly attached network, not one of this node's own
//! addresses, and every neighbour entry for it is incomplete or failed (the
//! kernel sent ARP requests and no host answered, so no TCP connection to
//! it can be made). Anything else — a complete entry, no entry, a route
//! through a gateway, an IPv6 address, an unreadable file — is not that
//! answer.

use std::net::{Ipv4Addr, UdpSocket};

use pgsql_ra_core::ports::LinkNeighbour;

/// `ATF_COM` in `/proc/net/arp`'s flags: the entry is complete (a host
/// answered; `NUD_VALID` states: reachable, stale, delay, probe, permanent).
const ATF_COM: u32 = 0x2;
/// `RTF_UP` in `/proc/net/route`'s flags.
const RTF_UP: u32 = 0x1;
/// `RTF_GATEWAY` in `/proc/net/route`'s flags.
const RTF_GATEWAY: u32 = 0x2;

/// The link layer's answer for `ip` in this network namespace.
pub fn link_neighbour(ip: &str) -> LinkNeighbour {
    let Ok(addr) = ip.trim().parse::<Ipv4Addr>() else {
        return LinkNeighbour::Unknown;
    };
    // One of our own addresses (this node holds it): the connection stays
    // on this host.
    if UdpSocket::bind((addr, 0)).is_ok() {
        return LinkNeighbour::Unknown;
    }
    let (Ok(route), Ok(arp)) = (
        std::fs::read_to_string("/proc/net/route"),
        std::fs::read_to_string("/proc/net/arp"),
    ) else {
        return LinkNeighbour::Unknown;
    };
    answer(&route, &arp, addr)
}

/// The answer for `addr` from the texts of `/proc/net/route` and
/// `/proc/net/arp` (pure, for tests).
pub fn answer(route: &str, arp: &str, addr: Ipv4Addr) -> LinkNeighbour {
    let entries = arp_entries(arp, addr);
    if entries.iter().any(|(flags, _)| flags & ATF_COM != 0) {
        return LinkNeighbour::Answered;
    }
    match direct_route_device(route, addr) {
        Some(dev) if entries.iter().any(|(_, d)| *d == dev) => LinkNeighbour::Unanswered,
        _ => LinkNeighbour::Unknown,
    }
}

/// `(flags, device)` of every `/proc/net/arp` entry for `addr`; a line not
/// of the expected form is skipped.
fn arp_entries(arp: &str, addr: Ipv4Addr) -> Vec<(u32, String)> {
    arp.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 || f[0].parse::<Ipv4Addr>().ok()? != addr {
                return None;
            }
            let flags = u32::from_str_radix(f[2].trim_start_matches("0x"), 16).ok()?;
            Some((flags, f[5].to_string()))
        })
        .collect()
}

/// The device of the longest-prefix route of the main table that covers
/// `addr`, when that route is up and has no gateway (the address is on
/// that link); `None` otherwise (no route, a gateway, an unreadable line).
fn direct_route_device(route: &str, addr: Ipv4Addr) -> Option<String> {
    let target = u32::from(addr);
    let mut best: Option<(u32, u32, String)> = None; // (prefix length, flags, device)
    for line in route.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let dest = hex_addr(f[1])?;
        let flags = u32::from_str_radix(f[3], 16).ok()?;
        let mask = hex_addr(f[7])?;
        if flags & RTF_UP == 0 || target & mask != dest & mask {
            continue;
        }
        let len = mask.count_ones();
        if best.as_ref().is_none_or(|(l, _, _)| len > *l) {
            best = Some((len, flags, f[0].to_string()));
        }
    }
    let (_, flags, dev) = best?;
    (flags & RTF_GATEWAY == 0).then_some(dev)
}

/// An address of `/proc/net/route`: 8 hex digits of the network-order
/// value as the host stores it, as a host-order `u32`.
fn hex_addr(text: &str) -> Option<u32> {
    let raw = u32::from_str_radix(text, 16).ok()?;
    Some(u32::from(Ipv4Addr::from(raw.to_ne_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/proc/net/route` as printed on a little-endian host: 10.231.0.0/24
    /// on eth0, 10.231.1.0/24 on eth1, a default route via 10.231.0.1.
    fn route() -> String {
        let line = |dev: &str, dest: [u8; 4], gw: [u8; 4], flags: u32, mask: [u8; 4]| {
            format!(
                "{dev}\t{:08X}\t{:08X}\t{flags:04X}\t0\t0\t0\t{:08X}\t0\t0\t0",
                u32::from_ne_bytes(dest),
                u32::from_ne_bytes(gw),
                u32::from_ne_bytes(mask)
            )
        };
        [
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"
                .to_string(),
            line("eth0", [0, 0, 0, 0], [10, 231, 0, 1], 0x3, [0, 0, 0, 0]),
            line("eth0", [10, 231, 0, 0], [0; 4], 0x1, [255, 255, 255, 0]),
            line("eth1", [10, 231, 1, 0], [0; 4], 0x1, [255, 255, 255, 0]),
        ]
        .join("\n")
    }

    const HEAD: &str =
        "IP address       HW type     Flags       HW address            Mask     Device";

    fn arp(lines: &[&str]) -> String {
        std::iter::once(HEAD)
            .chain(lines.iter().copied())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().expect("an address")
    }

    #[test]
    fn an_address_asked_for_and_never_answered_on_its_link_is_unanswered() {
        // As read in a network namespace while a connect to an address no
        // host holds waited for ARP (2026-12-02).
        let a =
            arp(&["10.231.0.100     0x1         0x0         00:00:00:00:00:00     *        eth0"]);
        assert_eq!(
            answer(&route(), &a, ip("10.231.0.100")),
            LinkNeighbour::Unanswered
        );
    }

    #[test]
    fn an_answer_a_gateway_a_missing_entry_or_another_link_is_not_unanswered() {
        let complete =
            arp(&["10.231.0.100     0x1         0x2         52:54:00:12:34:56     *        eth0"]);
        assert_eq!(
            answer(&route(), &complete, ip("10.231.0.100")),
            LinkNeighbour::Answered
        );
        // One complete entry among incomplete ones: answered.
        let mixed = arp(&[
            "10.231.0.100     0x1         0x0         00:00:00:00:00:00     *        eth1",
            "10.231.0.100     0x1         0x2         52:54:00:12:34:56     *        eth0",
        ]);
        assert_eq!(
            answer(&route(), &mixed, ip("10.231.0.100")),
            LinkNeighbour::Answered
        );
        // No entry: never asked (or forgotten): unknown.
        let other =
            arp(&["10.231.0.11      0x1         0x0         00:00:00:00:00:00     *        eth0"]);
        assert_eq!(
            answer(&route(), &other, ip("10.231.0.100")),
            LinkNeighbour::Unknown
        );
        // Routed through the gateway: an incomplete entry says nothing.
        let far =
            arp(&["192.0.2.7        0x1         0x0         00:00:00:00:00:00     *        eth0"]);
        assert_eq!(
            answer(&route(), &far, ip("192.0.2.7")),
            LinkNeighbour::Unknown
        );
        // Asked on a link that is not the address's route: unknown.
        let wrong_dev =
            arp(&["10.231.0.100     0x1         0x0         00:00:00:00:00:00     *        eth1"]);
        assert_eq!(
            answer(&route(), &wrong_dev, ip("10.231.0.100")),
            LinkNeighbour::Unknown
        );
        // No route at all, or an unreadable table: unknown.
        let a =
            arp(&["10.231.0.100     0x1         0x0         00:00:00:00:00:00     *        eth0"]);
        assert_eq!(
            answer("Iface\n", &a, ip("10.231.0.100")),
            LinkNeighbour::Unknown
        );
        assert_eq!(
            answer(
                "Iface\neth0\tZZ\t0\t1\t0\t0\t0\t0\t0\t0\t0",
                &a,
                ip("10.231.0.100")
            ),
            LinkNeighbour::Unknown
        );
    }

    #[test]
    fn the_longest_prefix_decides_and_routes_down_are_skipped() {
        // A host route through a gateway beats the on-link /24.
        let mut r = route();
        r.push_str(&format!(
            "\neth0\t{:08X}\t{:08X}\t0007\t0\t0\t0\tFFFFFFFF\t0\t0\t0",
            u32::from_ne_bytes([10, 231, 0, 100]),
            u32::from_ne_bytes([10, 231, 0, 1])
        ));
        let a =
            arp(&["10.231.0.100     0x1         0x0         00:00:00:00:00:00     *        eth0"]);
        assert_eq!(answer(&r, &a, ip("10.231.0.100")), LinkNeighbour::Unknown);
        // The same route down (no RTF_UP): the /24 decides.
        let down = r.replace("\t0007\t", "\t0006\t");
        assert_eq!(
            answer(&down, &a, ip("10.231.0.100")),
            LinkNeighbour::Unanswered
        );
    }

    #[test]
    fn not_an_ipv4_address_or_one_of_ours_is_unknown() {
        assert_eq!(link_neighbour("fe80::1"), LinkNeighbour::Unknown);
        assert_eq!(link_neighbour("vip.example"), LinkNeighbour::Unknown);
        assert_eq!(link_neighbour("127.0.0.1"), LinkNeighbour::Unknown);
    }
}
