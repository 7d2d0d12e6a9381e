//! Our meta-data against the installed stock agent's: every stock parameter
//! exists with the same type and default, and ours is well-formed OCF 1.1.
//! Needs resource-agents (`/usr/lib/ocf/resource.d/heartbeat/pgsql`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const STOCK_AGENT: &str = "/usr/lib/ocf/resource.d/heartbeat/pgsql";
const OCF_ROOT: &str = "/usr/lib/ocf";
const PGDATA: &str = "/srv/pg/15/data";

/// One `<parameter>`: type and default of its `<content>`, and its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parameter {
    kind: String,
    default: String,
    reloadable: bool,
    private: bool,
    has_descriptions: bool,
}

/// One `<action>`'s attributes.
type ActionAttrs = BTreeMap<String, String>;

struct MetaData {
    ocf_version: String,
    parameters: Vec<(String, Parameter)>,
    actions: Vec<ActionAttrs>,
}

fn meta_data_of(program: &str, pgdata: &str) -> String {
    let out = Command::new(program)
        .arg("meta-data")
        .env("OCF_ROOT", OCF_ROOT)
        .env("OCF_FUNCTIONS_DIR", format!("{OCF_ROOT}/lib/heartbeat"))
        .env("OCF_RESKEY_pgdata", pgdata)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} meta-data: {e}"));
    // The stock agent prints crm_node errors on stderr outside a cluster: ignored.
    assert!(
        out.status.success(),
        "{program} meta-data exited with {}",
        out.status
    );
    String::from_utf8(out.stdout).expect("meta-data is UTF-8")
}

fn child<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    node.children().find(|c| c.has_tag_name(name))
}

fn parse(xml: &str) -> MetaData {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, options)
        .expect("meta-data is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "resource-agent");
    assert_eq!(root.attribute("name"), Some("pgsql"));
    let ocf_version = child(root, "version")
        .and_then(|v| v.text())
        .unwrap_or("")
        .trim()
        .to_string();
    let parameters = child(root, "parameters")
        .expect("<parameters>")
        .children()
        .filter(|c| c.has_tag_name("parameter"))
        .map(|p| {
            let content = child(p, "content").expect("<content>");
            let text_of = |name| {
                child(p, name)
                    .and_then(|d| d.text())
                    .is_some_and(|t| !t.trim().is_empty())
            };
            (
                p.attribute("name").expect("parameter name").to_string(),
                Parameter {
                    kind: content.attribute("type").unwrap_or("").to_string(),
                    default: content.attribute("default").unwrap_or("").to_string(),
                    reloadable: p.attribute("reloadable") == Some("1"),
                    private: p.attribute("private") == Some("1"),
                    has_descriptions: text_of("longdesc") && text_of("shortdesc"),
                },
            )
        })
        .collect();
    let actions = child(root, "actions")
        .expect("<actions>")
        .children()
        .filter(|c| c.has_tag_name("action"))
        .map(|a| {
            a.attributes()
                .map(|at| (at.name().to_string(), at.value().to_string()))
                .collect()
        })
        .collect();
    MetaData {
        ocf_version,
        parameters,
        actions,
    }
}

fn stock() -> MetaData {
    assert!(
        Path::new(STOCK_AGENT).exists(),
        "{STOCK_AGENT} is missing: install the resource-agents package (apt-get install resource-agents) to compare meta-data"
    );
    parse(&meta_data_of(STOCK_AGENT, PGDATA))
}

fn ours() -> MetaData {
    parse(&meta_data_of(env!("CARGO_BIN_EXE_pgsql-ra"), PGDATA))
}

#[test]
fn every_stock_parameter_has_the_same_type_and_default() {
    let stock = stock();
    let ours: BTreeMap<String, Parameter> = ours().parameters.into_iter().collect();
    assert!(
        stock.parameters.len() >= 32,
        "the stock agent lists {} parameters",
        stock.parameters.len()
    );
    for (name, theirs) in &stock.parameters {
        let mine = ours
            .get(name)
            .unwrap_or_else(|| panic!("stock parameter {name} is missing from ours"));
        assert_eq!(mine.kind, theirs.kind, "type of {name}");
        if name == "config" {
            assert_eq!(
                mine.default,
                format!("{PGDATA}/postgresql.conf"),
                "config follows pgdata"
            );
            assert_eq!(
                theirs.default, mine.default,
                "the stock agent computes config the same way"
            );
        } else {
            assert_eq!(mine.default, theirs.default, "default of {name}");
        }
    }
}

#[test]
fn our_parameters_keep_the_stock_order() {
    let stock_names: Vec<String> = stock().parameters.into_iter().map(|(n, _)| n).collect();
    let our_names: Vec<String> = ours().parameters.into_iter().map(|(n, _)| n).collect();
    let ours_in_stock: Vec<&String> = our_names
        .iter()
        .filter(|n| stock_names.contains(n))
        .collect();
    assert_eq!(ours_in_stock, stock_names.iter().collect::<Vec<_>>());
    // The stock agent's 33, then ours after its last (issues 10 and 11).
    assert_eq!(our_names.len(), 37);
    assert_eq!(
        our_names[32..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        [
            "external_standby_node_list",
            "crash_rejoin",
            "rewind_user",
            "standby_reply_timeout",
            "sync_quorum"
        ]
    );
}

#[test]
fn ours_is_well_formed_ocf_1_1() {
    let xml = meta_data_of(env!("CARGO_BIN_EXE_pgsql-ra"), PGDATA);
    assert!(xml.starts_with(&format!(
        "<?xml version=\"1.0\"?>\n{}",
        pgsql_ra_core::metadata::DOCTYPE
    )));
    assert!(
        !xml.contains("Master") && !xml.contains("Slave\""),
        "OCF 1.1 role names only"
    );
    let md = parse(&xml);
    assert_eq!(md.ocf_version, "1.1");
    for (name, p) in &md.parameters {
        assert!(p.has_descriptions, "{name} lacks a description");
        assert!(
            ["string", "integer", "boolean"].contains(&p.kind.as_str()),
            "{name}: type {}",
            p.kind
        );
    }
    let flag = |name: &str| {
        md.parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .unwrap()
    };
    // No `private`: pcs 0.11's OCF 1.1 schema refuses it (issue 12).
    assert!(!flag("monitor_password").private);
    assert!(
        flag("monitor_sql").reloadable
            && !flag("pgdata").reloadable
            && !flag("rep_mode").reloadable
    );
    let names: Vec<&str> = md.actions.iter().map(|a| a["name"].as_str()).collect();
    for wanted in [
        "start",
        "stop",
        "status",
        "monitor",
        "promote",
        "demote",
        "notify",
        "reload-agent",
        "meta-data",
        "validate-all",
        "methods",
    ] {
        assert!(
            names.contains(&wanted),
            "action {wanted} missing from {names:?}"
        );
    }
    let monitors: Vec<&ActionAttrs> = md
        .actions
        .iter()
        .filter(|a| a["name"] == "monitor")
        .collect();
    assert_eq!(monitors.len(), 2);
    assert!(monitors
        .iter()
        .all(|m| m.get("depth").map(String::as_str) == Some("0")));
    let promoted: Vec<_> = monitors
        .iter()
        .filter(|m| m.get("role").map(String::as_str) == Some("Promoted"))
        .collect();
    assert_eq!(promoted.len(), 1, "one monitor for the Promoted role");
    assert_ne!(
        monitors[0].get("interval"),
        monitors[1].get("interval"),
        "monitor intervals must differ"
    );
    for a in &md.actions {
        assert!(
            a.contains_key("timeout"),
            "action {} has no timeout",
            a["name"]
        );
        if let Some(role) = a.get("role") {
            assert!(role == "Promoted" || role == "Unpromoted", "role {role}");
        }
    }
}

#[test]
fn the_stock_actions_keep_their_timeouts() {
    let stock = stock();
    let ours = ours();
    for theirs in &stock.actions {
        let same = ours
            .actions
            .iter()
            .find(|a| a["name"] == theirs["name"] && a.get("role") == theirs.get("role"));
        let mine = same.unwrap_or_else(|| panic!("stock action {theirs:?} missing"));
        assert_eq!(mine.get("timeout"), theirs.get("timeout"), "{theirs:?}");
        assert_eq!(mine.get("interval"), theirs.get("interval"), "{theirs:?}");
    }
}

/// `ocf-tester` checks meta-data with `xmllint --valid` against the installed
/// OCF 1.0 DTD; ours declares its OCF 1.1 additions in an internal subset and
/// must pass that check.
#[test]
fn our_meta_data_is_valid_against_the_installed_ra_api_dtd() {
    let dtd_dir = "/usr/share/resource-agents";
    assert!(
        Path::new(dtd_dir).join("ra-api-1.dtd").exists(),
        "{dtd_dir}/ra-api-1.dtd is missing: install Debian's resource-agents"
    );
    let xml = meta_data_of(env!("CARGO_BIN_EXE_pgsql-ra"), PGDATA);
    let mut lint = Command::new("xmllint")
        .args(["--noout", "--valid", "-"])
        .current_dir(dtd_dir)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("xmllint is missing: install Debian's libxml2-utils");
    use std::io::Write;
    lint.stdin
        .take()
        .expect("stdin")
        .write_all(xml.as_bytes())
        .expect("write meta-data to xmllint");
    let out = lint.wait_with_output().expect("xmllint runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "xmllint --valid rejects our meta-data: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
