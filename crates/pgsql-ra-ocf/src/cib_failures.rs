//! Pacemaker's failure record of a resource on a node
//! ([`FailureRecord`]), from the whole CIB (`cibadmin --query`), for
//! `explain` (issue 10: whether Pacemaker calls `start` on a crashed old
//! primary again):
//!
//! * the fail-count: the sum of the node's transient attributes
//!   `fail-count-<rsc>#<op>_<interval>` (also `<rsc>:<N>` and the older
//!   `fail-count-<rsc>`), INFINITY absorbing; the last failure: the greatest
//!   `last-failure-<rsc>…` (seconds since the epoch). crm_mon prints neither
//!   as attributes, and its `last-failure` is a local-time text;
//! * `migration-threshold` and `failure-timeout`: the primitive's meta
//!   attribute, else its clone's, else `rsc_defaults` (rules ignored);
//!   `migration-threshold` absent is Pacemaker's default, INFINITY
//!   (Pacemaker Explained, "Resource Meta-Attributes").

use pgsql_ra_core::ports::FailureRecord;

/// Pacemaker's INFINITY as a number (`+INFINITY` and above).
const PCMK_INFINITY: u64 = 1_000_000;

/// The record of `resource` (the primitive id) on `node` (case-insensitive)
/// in the CIB `xml`.
///
/// # Errors
/// The XML does not parse, or a `failure-timeout` is not a duration this
/// reader knows (then nothing is said rather than "no failure-timeout").
pub fn failure_record(xml: &str, resource: &str, node: &str) -> Result<FailureRecord, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("CIB XML: {e}"))?;
    let mut fail_count: u64 = 0;
    let mut last_failure: Option<u64> = None;
    let states = doc.descendants().filter(|n| {
        n.has_tag_name("node_state")
            && n.attribute("uname")
                .is_some_and(|u| u.eq_ignore_ascii_case(node))
    });
    for state in states {
        let pairs = state
            .descendants()
            .filter(|n| n.has_tag_name("transient_attributes"))
            .flat_map(|t| t.descendants().filter(|n| n.has_tag_name("nvpair")));
        for nv in pairs {
            let (Some(name), Some(value)) = (nv.attribute("name"), nv.attribute("value")) else {
                continue;
            };
            if let Some(rest) = name.strip_prefix("fail-count-") {
                if names_resource(rest, resource) {
                    fail_count = fail_count.saturating_add(score(value)).min(PCMK_INFINITY);
                }
            } else if let Some(rest) = name.strip_prefix("last-failure-") {
                if names_resource(rest, resource) {
                    if let Ok(t) = value.trim().parse::<u64>() {
                        last_failure = Some(last_failure.map_or(t, |l| l.max(t)));
                    }
                }
            }
        }
    }
    let meta = |name: &str| meta_attribute(&doc, resource, name);
    let migration_threshold = match meta("migration-threshold") {
        None => FailureRecord::INFINITY,
        Some(v) => as_count(score(&v)),
    };
    let failure_timeout_s = match meta("failure-timeout") {
        None => None,
        Some(v) => Some(seconds(&v).ok_or_else(|| {
            format!(
                "failure-timeout {} is not a duration this reader knows",
                pgsql_ra_core::quote::quoted(&v)
            )
        })?),
    };
    Ok(FailureRecord {
        fail_count: as_count(fail_count),
        last_failure_epoch_s: last_failure,
        migration_threshold: Some(migration_threshold),
        failure_timeout_s,
    })
}

/// `rest` (after `fail-count-`/`last-failure-`) names `resource`:
/// `<rsc>`, `<rsc>#<op>_<interval>`, `<rsc>:<N>[#…]`.
fn names_resource(rest: &str, resource: &str) -> bool {
    let base = rest.split('#').next().unwrap_or("");
    let base = base.split(':').next().unwrap_or("");
    base == resource
}

/// A Pacemaker score as a non-negative count: `INFINITY`/`+INFINITY` and
/// anything at or above 1000000 are INFINITY, negatives and text are 0.
fn score(value: &str) -> u64 {
    let v = value.trim();
    if matches!(v, "INFINITY" | "+INFINITY" | "infinity" | "+infinity") {
        return PCMK_INFINITY;
    }
    v.trim_start_matches('+')
        .parse::<u64>()
        .map_or(0, |n| n.min(PCMK_INFINITY))
}

fn as_count(n: u64) -> u32 {
    if n >= PCMK_INFINITY {
        FailureRecord::INFINITY
    } else {
        u32::try_from(n).unwrap_or(FailureRecord::INFINITY)
    }
}

/// The first meta attribute `name` of the primitive `resource`, else of
/// the clone (or group, or legacy master) holding it, else of
/// `rsc_defaults`; nvpairs under a `rule` are not read.
fn meta_attribute(doc: &roxmltree::Document<'_>, resource: &str, name: &str) -> Option<String> {
    let plain = |el: roxmltree::Node<'_, '_>| -> Option<String> {
        el.children()
            .filter(|c| c.has_tag_name("meta_attributes"))
            .filter(|set| !set.children().any(|c| c.has_tag_name("rule")))
            .flat_map(|set| set.children().filter(|c| c.has_tag_name("nvpair")))
            .find(|nv| nv.attribute("name") == Some(name))
            .and_then(|nv| nv.attribute("value").map(str::to_string))
    };
    let primitive = doc
        .descendants()
        .find(|n| n.has_tag_name("primitive") && n.attribute("id") == Some(resource));
    if let Some(p) = primitive {
        for el in p.ancestors().filter(|a| a.is_element()) {
            if el.has_tag_name("resources") {
                break;
            }
            if let Some(v) = plain(el) {
                return Some(v);
            }
        }
    }
    doc.descendants()
        .filter(|n| n.has_tag_name("rsc_defaults"))
        .find_map(plain)
}

/// A Pacemaker duration in seconds: a bare number (seconds), a number with
/// `ms`, `s`/`sec`, `m`/`min`, `h`/`hr`, or ISO 8601 `PT…H…M…S`.
fn seconds(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    if let Some(iso) = t.strip_prefix("pt") {
        let mut total = 0u64;
        let mut digits = String::new();
        for c in iso.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let n: u64 = digits.parse().ok()?;
            digits.clear();
            total += n * match c {
                'h' => 3600,
                'm' => 60,
                's' => 1,
                _ => return None,
            };
        }
        return digits.is_empty().then_some(total);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().ok()?;
    match unit.trim() {
        "" | "s" | "sec" => Some(n),
        "ms" | "msec" => Some(n / 1000),
        "m" | "min" => Some(n * 60),
        "h" | "hr" => Some(n * 3600),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIB: &str = r#"<cib><configuration>
  <rsc_defaults><meta_attributes id="d"><nvpair id="d1" name="failure-timeout" value="5min"/></meta_attributes></rsc_defaults>
  <resources>
    <clone id="pgsql-clone">
      <meta_attributes id="c"><nvpair id="c1" name="promotable" value="true"/>
        <nvpair id="c2" name="failure-timeout" value="10s"/>
        <nvpair id="c3" name="migration-threshold" value="1"/></meta_attributes>
      <primitive id="pgsql" class="ocf" provider="pgsql-ra" type="pgsql"/>
    </clone>
    <primitive id="other" class="ocf" provider="heartbeat" type="IPaddr2"/>
  </resources></configuration>
  <status>
    <node_state id="1" uname="Node1"><transient_attributes id="1"><instance_attributes id="s1">
      <nvpair id="a" name="fail-count-pgsql#monitor_3000" value="1"/>
      <nvpair id="b" name="last-failure-pgsql#monitor_3000" value="1764550800"/>
      <nvpair id="e" name="fail-count-pgsqlx#monitor_3000" value="7"/>
      <nvpair id="f" name="pgsql-status" value="STOP"/>
    </instance_attributes></transient_attributes></node_state>
    <node_state id="2" uname="node2"><transient_attributes id="2"><instance_attributes id="s2">
      <nvpair id="g" name="fail-count-pgsql:1#start_0" value="INFINITY"/>
      <nvpair id="h" name="fail-count-pgsql#monitor_3000" value="2"/>
      <nvpair id="i" name="last-failure-pgsql:1#start_0" value="1764550900"/>
      <nvpair id="j" name="last-failure-pgsql#monitor_3000" value="1764550000"/>
    </instance_attributes></transient_attributes></node_state>
  </status></cib>"#;

    #[test]
    fn the_clone_meta_and_the_node_failures_are_read() {
        let r = failure_record(CIB, "pgsql", "node1").unwrap();
        assert_eq!(
            r,
            FailureRecord {
                fail_count: 1,
                last_failure_epoch_s: Some(1_764_550_800),
                migration_threshold: Some(1),
                failure_timeout_s: Some(10),
            }
        );
        assert!(r.blocks());
    }

    #[test]
    fn counts_add_up_to_infinity_and_the_last_failure_is_the_latest() {
        let r = failure_record(CIB, "pgsql", "NODE2").unwrap();
        assert_eq!(r.fail_count, FailureRecord::INFINITY);
        assert_eq!(r.last_failure_epoch_s, Some(1_764_550_900));
        let none = failure_record(CIB, "pgsql", "node3").unwrap();
        assert_eq!((none.fail_count, none.last_failure_epoch_s), (0, None));
    }

    #[test]
    fn defaults_apply_when_the_resource_sets_nothing() {
        let r = failure_record(CIB, "other", "node1").unwrap();
        assert_eq!(r.failure_timeout_s, Some(300));
        assert_eq!(r.migration_threshold, Some(FailureRecord::INFINITY));
        assert_eq!(r.fail_count, 0);
        let bare = "<cib><configuration><resources><primitive id=\"pgsql\"/></resources></configuration><status/></cib>";
        assert_eq!(
            failure_record(bare, "pgsql", "n")
                .unwrap()
                .failure_timeout_s,
            None
        );
        assert!(failure_record("<cib", "pgsql", "n").is_err());
    }

    #[test]
    fn durations() {
        for (t, s) in [
            ("10", Some(10)),
            ("10s", Some(10)),
            ("2min", Some(120)),
            ("1h", Some(3600)),
            ("1500ms", Some(1)),
            ("PT1M30S", Some(90)),
            ("PT2H", Some(7200)),
            ("soon", None),
            ("PT5", None),
            ("", None),
        ] {
            assert_eq!(seconds(t), s, "{t}");
        }
        let weird = CIB.replace("value=\"10s\"", "value=\"10 fortnights\"");
        assert!(failure_record(&weird, "pgsql", "node1").is_err());
    }
}
