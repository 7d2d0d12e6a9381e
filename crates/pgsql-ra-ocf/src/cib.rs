//! The resource's parameters from the live CIB, for the operator
//! subcommands (`pgsql-ra status|explain|history`, issue 13):
//! `cibadmin --query --scope resources` (bounded in time), then the
//! promotable clones whose primitive is `ocf:pgsql-ra:pgsql` and their
//! `instance_attributes`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::command::{self, Invocation};

/// One promotable clone of this agent found in the CIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentResource {
    /// The clone's id (e.g. `pgsql-clone`).
    pub clone_id: String,
    /// The primitive's id: the resource name behind every attribute name.
    pub primitive_id: String,
    /// Its `instance_attributes` (parameter → value).
    pub params: BTreeMap<String, String>,
}

/// The primitives of `ocf:pgsql-ra:pgsql` inside a promotable clone
/// (`<clone>` with meta `promotable=true`, or the older `<master>`) in the
/// `resources` section XML.
///
/// # Errors
/// The XML does not parse.
pub fn agent_resources(xml: &str) -> Result<Vec<AgentResource>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("CIB XML: {e}"))?;
    let mut out = Vec::new();
    for clone in doc
        .descendants()
        .filter(|n| n.has_tag_name("clone") || n.has_tag_name("master"))
    {
        let promotable = clone.has_tag_name("master")
            || nvpairs(clone, "meta_attributes")
                .get("promotable")
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "1"));
        if !promotable {
            continue;
        }
        for p in clone.descendants().filter(|n| n.has_tag_name("primitive")) {
            let ours = p.attribute("class") == Some("ocf")
                && p.attribute("provider") == Some("pgsql-ra")
                && p.attribute("type") == Some("pgsql");
            if ours {
                out.push(AgentResource {
                    clone_id: clone.attribute("id").unwrap_or_default().to_string(),
                    primitive_id: p.attribute("id").unwrap_or_default().to_string(),
                    params: nvpairs(p, "instance_attributes"),
                });
            }
        }
    }
    Ok(out)
}

fn nvpairs(node: roxmltree::Node<'_, '_>, set: &str) -> BTreeMap<String, String> {
    node.children()
        .filter(|c| c.has_tag_name(set))
        .flat_map(|s| s.children().filter(|c| c.has_tag_name("nvpair")))
        .filter_map(|nv| {
            Some((
                nv.attribute("name")?.to_string(),
                nv.attribute("value")?.to_string(),
            ))
        })
        .collect()
}

/// Picks the resource: `wanted` (a primitive or clone id) or, without it,
/// the only one.
///
/// # Errors
/// None found, several without `wanted`, or `wanted` not among them.
pub fn pick(found: Vec<AgentResource>, wanted: Option<&str>) -> Result<AgentResource, String> {
    match wanted {
        Some(w) => found
            .into_iter()
            .find(|r| r.primitive_id == w || r.clone_id == w)
            .ok_or_else(|| {
                format!(
                    "no promotable ocf:pgsql-ra:pgsql resource named {} in the CIB",
                    pgsql_ra_core::quote::quoted(w)
                )
            }),
        None => {
            let mut it = found.into_iter();
            match (it.next(), it.next()) {
                (Some(one), None) => Ok(one),
                (None, _) => Err("no promotable clone of ocf:pgsql-ra:pgsql in the CIB (use --resource)".into()),
                (Some(a), Some(b)) => Err(format!(
                    "several promotable clones of ocf:pgsql-ra:pgsql ({}, {}, …): choose one with --resource",
                    a.primitive_id, b.primitive_id
                )),
            }
        }
    }
}

/// Runs `cibadmin --query --scope resources` (killed after `timeout`).
///
/// # Errors
/// The program cannot run, fails or times out, in words.
pub fn query_resources(sbin_dir: Option<&str>, timeout: Duration) -> Result<String, String> {
    // cibadmin signs on to the CIB manager's read-write channel (reviews of
    // issue 16's IPC read); a listener bound between this check and
    // cibadmin's connection is not seen.
    crate::cib_ipc::refuse_impostors(&["cib_rw"]).map_err(|e| e.to_string())?;
    let program = match sbin_dir.filter(|d| !d.is_empty()) {
        Some(d) => format!("{}/cibadmin", d.trim_end_matches('/')),
        None => "cibadmin".to_string(),
    };
    let inv = Invocation::new(&program, &["--query", "--scope", "resources"], timeout);
    let done = command::run(&inv).map_err(|e| e.to_string())?;
    if !done.success() {
        return Err(format!(
            "{} failed ({}): {}",
            inv.display(),
            done.status_text(),
            done.output_line()
        ));
    }
    Ok(done.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIB: &str = r#"<resources>
  <clone id="pgsql-clone">
    <primitive id="pgsql" class="ocf" provider="pgsql-ra" type="pgsql">
      <instance_attributes id="pgsql-ia">
        <nvpair id="a" name="rep_mode" value="sync"/>
        <nvpair id="b" name="node_list" value="node1 node2"/>
      </instance_attributes>
    </primitive>
    <meta_attributes id="m"><nvpair id="p" name="promotable" value="true"/></meta_attributes>
  </clone>
  <clone id="other-clone">
    <primitive id="other" class="ocf" provider="pgsql-ra" type="pgsql"/>
  </clone>
  <master id="old-ms">
    <primitive id="stock" class="ocf" provider="heartbeat" type="pgsql"/>
  </master>
</resources>"#;

    #[test]
    fn finds_the_only_promotable_clone_of_this_agent() {
        let found = agent_resources(CIB).expect("parses");
        assert_eq!(found.len(), 1, "{found:?}");
        let r = pick(found, None).expect("one");
        assert_eq!(r.primitive_id, "pgsql");
        assert_eq!(r.clone_id, "pgsql-clone");
        assert_eq!(r.params["node_list"], "node1 node2");
        assert_eq!(r.params["rep_mode"], "sync");
    }

    #[test]
    fn a_named_resource_must_exist_and_two_need_a_name() {
        let found = agent_resources(CIB).expect("parses");
        assert!(pick(found.clone(), Some("pgsql-clone")).is_ok());
        assert!(pick(found.clone(), Some("nope")).is_err());
        let mut two = found.clone();
        two.push(AgentResource {
            primitive_id: "pg2".into(),
            ..found[0].clone()
        });
        assert!(pick(two, None).unwrap_err().contains("--resource"));
        assert!(pick(Vec::new(), None).is_err());
        assert!(agent_resources("<oops").is_err());
    }
}
