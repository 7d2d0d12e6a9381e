//! Parses `crm_mon -1 --output-as=xml -A` into the cluster snapshot the
//! Pacemaker port caches for one invocation: nodes, promoted instances and
//! node attributes. crm_mon lists the attributes of online nodes only, and
//! merges permanent (`forever`) and transient (`reboot`) ones.

use std::collections::BTreeMap;

use pgsql_ra_core::ports::{InstanceState, NodeState};

/// The cluster as one crm_mon call saw it (node names lower-cased).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Every configured node ([`NodeState::instance`] unknown here: it
    /// depends on the resource, see [`Snapshot::nodes_for`]).
    pub nodes: Vec<NodeState>,
    /// `(resource id, node)` for every instance in the Promoted (or Master) role.
    pub promoted: Vec<(String, String)>,
    /// `(resource id, node)` for every instance Pacemaker shows active
    /// (any role but Stopped), sorted (issue 11).
    pub active: Vec<(String, String)>,
    /// `(resource id, node)` for every instance with an operation pending
    /// (crm_mon's `pending` attribute), sorted: its state is unknown.
    pub pending: Vec<(String, String)>,
    /// Node attributes by node, then name.
    pub attrs: BTreeMap<String, BTreeMap<String, String>>,
}

impl Snapshot {
    /// True when crm_mon listed the node's attributes (it does for online nodes).
    pub fn has_attrs_of(&self, node: &str) -> bool {
        self.nodes.iter().any(|n| n.name == node && n.online)
    }

    /// Nodes where an instance of `resource` (`rsc` or `rsc:N`) is promoted.
    pub fn promoted_nodes(&self, resource: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .promoted
            .iter()
            .filter(|(id, _)| is_instance_of(id, resource))
            .map(|(_, node)| node.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// What Pacemaker shows of `resource`'s instance on `node` (issue 11):
    /// Unknown with an operation pending there (a start in progress is not
    /// a stopped instance), Active when an instance runs there, else
    /// Stopped (crm_mon lists a stopped clone instance without a node).
    pub fn instance_state(&self, resource: &str, node: &str) -> InstanceState {
        let on = |list: &[(String, String)]| {
            list.iter()
                .any(|(id, n)| n == node && is_instance_of(id, resource))
        };
        if on(&self.pending) {
            InstanceState::Unknown
        } else if on(&self.active) {
            InstanceState::Active
        } else {
            InstanceState::Stopped
        }
    }

    /// The nodes with the state of `resource`'s instance on each. Unknown
    /// everywhere without a resource, or when no instance of it is active
    /// on any node (the agent asking runs one, so the snapshot does not
    /// know the resource under that name: fail safe, nothing is dropped).
    pub fn nodes_for(&self, resource: Option<&str>) -> Vec<NodeState> {
        let known = resource.filter(|r| self.active.iter().any(|(id, _)| is_instance_of(id, r)));
        self.nodes
            .iter()
            .map(|n| NodeState {
                instance: known.map_or(InstanceState::Unknown, |r| self.instance_state(r, &n.name)),
                ..n.clone()
            })
            .collect()
    }
}

/// True when `id` is `resource` or one of its numbered instances (`rsc:N`).
fn is_instance_of(id: &str, resource: &str) -> bool {
    id == resource || id.split_once(':').is_some_and(|(base, _)| base == resource)
}

/// A crm_mon output that is not the expected XML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable crm_mon XML: {0}")]
pub struct ParseError(pub String);

/// Parses crm_mon's XML.
pub fn parse(xml: &str) -> Result<Snapshot, ParseError> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| ParseError(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "pacemaker-result" && root.tag_name().name() != "crm_mon" {
        return Err(ParseError(format!(
            "unexpected root element <{}>",
            root.tag_name().name()
        )));
    }
    let mut snap = Snapshot::default();
    let section = |name: &str| root.children().find(|n| n.has_tag_name(name));
    if let Some(nodes) = section("nodes") {
        for n in nodes.children().filter(|n| n.has_tag_name("node")) {
            if let Some(name) = n.attribute("name") {
                snap.nodes.push(NodeState::new(
                    &name.to_lowercase(),
                    n.attribute("online") == Some("true"),
                ));
            }
        }
    }
    if let Some(resources) = section("resources") {
        for r in resources
            .descendants()
            .filter(|n| n.has_tag_name("resource"))
        {
            let role = r.attribute("role").unwrap_or("");
            let promoted = role == "Promoted" || role == "Master";
            // A node listed under a resource runs it; only an explicit
            // `active="false"` says otherwise (fail safe for outputs
            // without the attribute).
            let active = r.attribute("active") != Some("false") || promoted;
            let pending = r.attribute("pending").is_some_and(|p| !p.is_empty());
            let id = r.attribute("id").unwrap_or("").to_string();
            for node in r.children().filter(|n| n.has_tag_name("node")) {
                if let Some(name) = node.attribute("name") {
                    let key = (id.clone(), name.to_lowercase());
                    if promoted {
                        snap.promoted.push(key.clone());
                    }
                    if pending {
                        snap.pending.push(key.clone());
                    }
                    if active {
                        snap.active.push(key);
                    }
                }
            }
        }
        snap.active.sort();
        snap.active.dedup();
        snap.pending.sort();
        snap.pending.dedup();
    }
    if let Some(attrs) = section("node_attributes") {
        for n in attrs.children().filter(|n| n.has_tag_name("node")) {
            let Some(node) = n.attribute("name") else {
                continue;
            };
            let entry = snap.attrs.entry(node.to_lowercase()).or_default();
            for a in n.children().filter(|a| a.has_tag_name("attribute")) {
                if let (Some(k), Some(v)) = (a.attribute("name"), a.attribute("value")) {
                    entry.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<pacemaker-result api-version="2.25" request="crm_mon -1 --output-as=xml -A">
  <nodes>
    <node name="Node1" id="1" online="true" type="member"/>
    <node name="node2" id="2" online="true" type="member"/>
    <node name="node3" id="3" online="false" type="member"/>
  </nodes>
  <resources>
    <clone id="pgsql-clone" multi_state="true">
      <resource id="pgsql" resource_agent="ocf:pgsql-ra:pgsql" role="Promoted" active="true">
        <node name="Node1" id="1" cached="true"/>
      </resource>
      <resource id="pgsql" resource_agent="ocf:pgsql-ra:pgsql" role="Unpromoted" active="true">
        <node name="node2" id="2" cached="true"/>
      </resource>
      <resource id="pgsqlx" role="Promoted"><node name="node2" id="2"/></resource>
    </clone>
  </resources>
  <node_attributes>
    <node name="Node1">
      <attribute name="master-pgsql" value="1000"/>
      <attribute name="pgsql-data-status" value="LATEST"/>
    </node>
    <node name="node2">
      <attribute name="pgsql-status" value="HS:sync"/>
    </node>
  </node_attributes>
  <status code="0" message="OK"/>
</pacemaker-result>"#;

    #[test]
    fn reads_nodes_roles_and_attributes() {
        let s = parse(SAMPLE).expect("parses");
        assert_eq!(s.nodes.len(), 3);
        assert_eq!(s.nodes[0], NodeState::new("node1", true));
        assert!(!s.nodes[2].online);
        assert_eq!(s.promoted_nodes("pgsql"), vec!["node1"]);
        assert_eq!(s.promoted_nodes("pgsqlx"), vec!["node2"]);
        assert_eq!(s.attrs["node1"]["pgsql-data-status"], "LATEST");
        assert_eq!(s.attrs["node2"]["pgsql-status"], "HS:sync");
        assert!(s.has_attrs_of("node2"));
        assert!(!s.has_attrs_of("node3"));
    }

    #[test]
    fn legacy_master_role_and_numbered_instances_count() {
        let xml = r#"<crm_mon><resources><resource id="pgsql:1" role="Master"><node name="n2"/></resource></resources></crm_mon>"#;
        assert_eq!(
            parse(xml).expect("parses").promoted_nodes("pgsql"),
            vec!["n2"]
        );
    }

    /// Issue 11: an instance crm_mon lists without a node is stopped on
    /// every node where no instance runs; a pending one is unknown.
    #[test]
    fn instance_states_stopped_active_and_pending() {
        let s = parse(SAMPLE).expect("parses");
        assert_eq!(s.instance_state("pgsql", "node1"), InstanceState::Active);
        assert_eq!(s.instance_state("pgsql", "node2"), InstanceState::Active);
        assert_eq!(s.instance_state("pgsql", "node3"), InstanceState::Stopped);
        let nodes = s.nodes_for(Some("pgsql"));
        assert_eq!(nodes[2].instance, InstanceState::Stopped);
        assert!(s
            .nodes_for(None)
            .iter()
            .all(|n| n.instance == InstanceState::Unknown));
        let xml = r#"<pacemaker-result><nodes><node name="n1" online="true"/><node name="n2" online="true"/><node name="n3" online="true"/></nodes><resources><clone id="c">
            <resource id="pgsql" role="Promoted" active="true"><node name="n1"/></resource>
            <resource id="pgsql" role="Starting" active="true" pending="Starting"><node name="n2"/></resource>
            <resource id="pgsql" role="Stopped" active="false"/>
            <resource id="vip" role="Started" active="true"><node name="n3"/></resource>
        </clone></resources></pacemaker-result>"#;
        let s = parse(xml).expect("parses");
        assert_eq!(s.instance_state("pgsql", "n1"), InstanceState::Active);
        assert_eq!(s.instance_state("pgsql", "n2"), InstanceState::Unknown);
        assert_eq!(s.instance_state("pgsql", "n3"), InstanceState::Stopped);
        assert_eq!(s.instance_state("vip", "n3"), InstanceState::Active);
        // A resource the snapshot does not run anywhere: unknown, not stopped.
        assert!(s
            .nodes_for(Some("other"))
            .iter()
            .all(|n| n.instance == InstanceState::Unknown));
        // Without the `active` attribute a listed node still runs it.
        let bare = r#"<crm_mon><nodes><node name="n1" online="true"/></nodes><resources><resource id="pgsql:0" role="Slave"><node name="n1"/></resource></resources></crm_mon>"#;
        let s = parse(bare).expect("parses");
        assert_eq!(
            s.nodes_for(Some("pgsql"))[0].instance,
            InstanceState::Active
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse("not xml").is_err());
        assert!(parse("<other/>").is_err());
    }
}
