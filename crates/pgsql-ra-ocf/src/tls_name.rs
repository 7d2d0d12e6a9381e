//! `sslmode=verify-full`: does the server's certificate name the host the
//! agent connected to? libpq's rules (PostgreSQL documentation, "SSL
//! Support", 34.19.1 "Client Verification of Server Certificates"; PG 15's
//! `fe-secure-openssl.c`), which OpenSSL's own host check does not follow
//! for an IP address (no fallback to the Common Name; issue 12, re-attack
//! item 4):
//!
//! * Every subjectAltName (SAN) of type dNSName is compared with the host
//!   as text (case-insensitive; `*.example.com` matches one leading label);
//!   of type iPAddress, with the host's address when the host is one.
//! * A SAN of the host's own type (dNSName for a name, iPAddress for an
//!   address), or any matching SAN, rules out the Common Name; otherwise the
//!   Common Name is compared with the host as text, like a dNSName.

use std::net::IpAddr;

/// What the leaf certificate says about its names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    /// SANs of type dNSName (raw bytes: a name with a NUL never matches).
    pub dns: Vec<Vec<u8>>,
    /// SANs of type iPAddress (4 or 16 bytes).
    pub ip: Vec<Vec<u8>>,
    /// The subject's first Common Name, if any.
    pub common_name: Option<Vec<u8>>,
}

/// libpq's comparison of one certificate name with the host: exact
/// (ASCII case-insensitive), or `*.` + suffix matching a host whose first
/// label is not empty and has no dot. A name holding a NUL never matches.
pub fn name_matches(name: &[u8], host: &str) -> bool {
    if name.contains(&0) {
        return false;
    }
    let Ok(name) = std::str::from_utf8(name) else {
        return false;
    };
    if name.eq_ignore_ascii_case(host) {
        return true;
    }
    let Some(suffix) = name.strip_prefix('*') else {
        return false;
    };
    if !suffix.starts_with('.') || host.len() <= suffix.len() {
        return false;
    }
    let (label, rest) = host.split_at(host.len() - suffix.len());
    rest.eq_ignore_ascii_case(suffix) && !label.contains('.')
}

/// True when the certificate `names` name `host` (module rules).
pub fn host_matches(names: &CertNames, host: &str) -> bool {
    let host_ip: Option<IpAddr> = host.parse().ok();
    let host_ip_bytes: Option<Vec<u8>> = host_ip.map(|ip| match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    });
    let mut check_cn = true;
    for dns in &names.dns {
        if host_ip.is_none() {
            check_cn = false;
        }
        if name_matches(dns, host) {
            return true;
        }
    }
    for ip in &names.ip {
        if host_ip.is_some() {
            check_cn = false;
        }
        if host_ip_bytes.as_deref() == Some(ip.as_slice()) {
            return true;
        }
    }
    check_cn
        && names
            .common_name
            .as_deref()
            .is_some_and(|cn| name_matches(cn, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dns: &[&str], ip: &[&[u8]], cn: Option<&str>) -> CertNames {
        CertNames {
            dns: dns.iter().map(|d| d.as_bytes().to_vec()).collect(),
            ip: ip.iter().map(|i| i.to_vec()).collect(),
            common_name: cn.map(|c| c.as_bytes().to_vec()),
        }
    }

    #[test]
    fn the_common_name_counts_only_without_a_san_of_the_hosts_type() {
        // No SAN at all: the CN, for a name and for an address.
        assert!(host_matches(
            &names(&[], &[], Some("db1.example.com")),
            "DB1.example.com"
        ));
        assert!(host_matches(
            &names(&[], &[], Some("127.0.0.2")),
            "127.0.0.2"
        ));
        assert!(!host_matches(
            &names(&[], &[], Some("127.0.0.3")),
            "127.0.0.2"
        ));
        assert!(!host_matches(&names(&[], &[], None), "127.0.0.2"));
        // A dNSName SAN rules out the CN for a host name…
        assert!(!host_matches(
            &names(&["other.example.com"], &[], Some("db1.example.com")),
            "db1.example.com"
        ));
        // …but not for an address (libpq: only a SAN of the host's type).
        assert!(host_matches(
            &names(&["other.example.com"], &[], Some("127.0.0.2")),
            "127.0.0.2"
        ));
        // An iPAddress SAN rules out the CN for an address.
        assert!(!host_matches(
            &names(&[], &[&[127, 0, 0, 9]], Some("127.0.0.2")),
            "127.0.0.2"
        ));
        // …and not for a name.
        assert!(host_matches(
            &names(&[], &[&[127, 0, 0, 9]], Some("db1.example.com")),
            "db1.example.com"
        ));
    }

    #[test]
    fn sans_match_names_and_addresses() {
        assert!(host_matches(
            &names(&["db1.example.com"], &[], None),
            "db1.example.com"
        ));
        assert!(host_matches(
            &names(&[], &[&[127, 0, 0, 2]], None),
            "127.0.0.2"
        ));
        let v6 = "::1".parse::<std::net::Ipv6Addr>().expect("v6").octets();
        assert!(host_matches(&names(&[], &[&v6], None), "::1"));
        // A dNSName SAN holding the address as text matches too (libpq).
        assert!(host_matches(&names(&["127.0.0.2"], &[], None), "127.0.0.2"));
    }

    #[test]
    fn wildcards_cover_one_label_and_nul_never_matches() {
        assert!(name_matches(b"*.example.com", "db1.example.com"));
        assert!(name_matches(b"*.EXAMPLE.com", "db1.example.COM"));
        assert!(!name_matches(b"*.example.com", "a.b.example.com"));
        assert!(!name_matches(b"*.example.com", ".example.com"));
        assert!(!name_matches(b"*.example.com", "example.com"));
        assert!(!name_matches(b"db*.example.com", "db1.example.com"));
        assert!(!name_matches(b"db1.example.com\0.evil", "db1.example.com"));
    }
}
