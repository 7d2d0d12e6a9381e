//! The OCF 1.1 meta-data XML of the agent: every parameter of
//! [`PARAMETERS`] in the stock order with its type and default, and the
//! actions with suggested timeouts.

mod text;

use std::fmt::Write as _;

use crate::params::{ParamKind, ParamSpec, PARAMETERS};

pub use text::describe;

/// The agent version advertised in `<resource-agent version=…>`.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Parameters whose values are secrets: `monitor_password`, and
/// `primary_conninfo_opt`, a libpq conninfo fragment that may carry
/// `password=…`. Never printed and never passed to a child's environment.
///
/// None is marked `private="1"` in the meta-data: pcs 0.11 checks meta-data
/// against its OCF 1.1 schema (`/usr/share/pcs/data/ocf-1.1.rng`), which
/// has no `private` attribute, and then refuses the agent (issue 12). The
/// cost is in `docs/parameters.md` ("Meta-data").
pub const SECRET_PARAMETERS: [&str; 2] = ["monitor_password", "primary_conninfo_opt"];

/// True for a parameter whose value must never be printed (messages, exit
/// reasons, logs) nor passed to a child's environment: any parameter whose
/// name contains `password` (any case) and the [`SECRET_PARAMETERS`].
pub fn is_secret_parameter(name: &str) -> bool {
    name.to_ascii_lowercase().contains("password") || SECRET_PARAMETERS.contains(&name)
}

/// One `<action>` line of the meta-data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionHint {
    /// The action name.
    pub name: &'static str,
    /// Suggested timeout.
    pub timeout: &'static str,
    /// Suggested interval (recurring monitors only).
    pub interval: Option<&'static str>,
    /// `depth` (monitors only).
    pub depth: Option<u32>,
    /// `role` the entry applies to (OCF 1.1 name).
    pub role: Option<&'static str>,
}

const fn hint(name: &'static str, timeout: &'static str) -> ActionHint {
    ActionHint {
        name,
        timeout,
        interval: None,
        depth: None,
        role: None,
    }
}

/// The advertised actions: the stock agent's timeouts and monitor intervals
/// (30 s unpromoted, 29 s promoted, so the two recurring monitors differ as
/// Pacemaker requires), plus OCF 1.1's `reload-agent`.
pub const ACTIONS: [ActionHint; 12] = [
    hint("start", "120s"),
    hint("stop", "120s"),
    hint("status", "60s"),
    ActionHint {
        interval: Some("30s"),
        depth: Some(0),
        ..hint("monitor", "30s")
    },
    ActionHint {
        interval: Some("29s"),
        depth: Some(0),
        role: Some("Promoted"),
        ..hint("monitor", "30s")
    },
    hint("promote", "120s"),
    hint("demote", "120s"),
    hint("notify", "90s"),
    hint("reload-agent", "20s"),
    hint("meta-data", "5s"),
    hint("validate-all", "5s"),
    hint("methods", "5s"),
];

/// Escapes text for an XML attribute value (quotes included).
pub fn escape_xml(text: &str) -> String {
    escape(text, true)
}

/// Escapes text for XML element content (quotes left readable).
pub fn escape_xml_text(text: &str) -> String {
    escape(text, false)
}

fn escape(text: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            '\'' if quotes => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// The default advertised for a parameter: `config` follows `pgdata`, as in
/// [`crate::params::Params::parse`].
pub fn advertised_default(spec: &ParamSpec, pgdata: &str) -> String {
    if spec.name == "config" {
        format!("{}/postgresql.conf", pgdata.trim_end_matches('/'))
    } else {
        spec.default.to_string()
    }
}

fn kind_name(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::String => "string",
        ParamKind::Integer => "integer",
        ParamKind::Boolean => "boolean",
    }
}

fn render_parameter(out: &mut String, spec: &ParamSpec, pgdata: &str) {
    let (short, long) = describe(spec.name).unwrap_or(("", ""));
    let mut flags = String::from(r#" unique="0" required="0""#);
    if spec.reloadable {
        flags.push_str(r#" reloadable="1""#);
    }
    let _ = write!(
        out,
        "<parameter name=\"{name}\"{flags}>\n\
         <longdesc lang=\"en\">\n{long}\n</longdesc>\n\
         <shortdesc lang=\"en\">{short}</shortdesc>\n\
         <content type=\"{kind}\" default=\"{default}\" />\n\
         </parameter>\n\n",
        name = escape_xml(spec.name),
        long = escape_xml_text(long),
        short = escape_xml_text(short),
        kind = kind_name(spec.kind),
        default = escape_xml(&advertised_default(spec, pgdata)),
    );
}

fn render_action(out: &mut String, action: &ActionHint) {
    let _ = write!(out, "<action name=\"{}\"", action.name);
    if let Some(depth) = action.depth {
        let _ = write!(out, " depth=\"{depth}\"");
    }
    let _ = write!(out, " timeout=\"{}\"", action.timeout);
    if let Some(interval) = action.interval {
        let _ = write!(out, " interval=\"{interval}\"");
    }
    if let Some(role) = action.role {
        let _ = write!(out, " role=\"{role}\"");
    }
    out.push_str(" />\n");
}

/// The document type: the OCF 1.0 DTD (`ra-api-1.dtd`, what `ocf-tester`
/// and `xmllint --valid` check against) plus an internal subset declaring
/// the OCF 1.1 additions this meta-data uses: the `reloadable` parameter
/// attribute and the `reload-agent` action (pcs's OCF 1.1 schema accepts
/// the document too: no `private` attribute, see [`SECRET_PARAMETERS`]). In XML the internal
/// subset is read first and its attribute declarations bind, so validators
/// that only know OCF 1.0 accept the document, and OCF 1.1 readers see the
/// same elements as without it.
pub const DOCTYPE: &str = "<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\" [\n\
  <!ATTLIST parameter reloadable (1|0) \"0\">\n\
  <!ATTLIST action name (start|stop|recover|monitor|restart|migrate_to|migrate_from|promote|demote|notify|status|reload|reload-agent|meta-data|usage|methods|validate-all) #REQUIRED>\n\
]>\n";

/// Renders the meta-data. `pgdata` is the current `pgdata` parameter value, from
/// which the advertised default of `config` is computed (as the stock agent does).
pub fn render(pgdata: &str) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<?xml version=\"1.0\"?>\n");
    out.push_str(DOCTYPE);
    let _ = writeln!(
        out,
        "<resource-agent name=\"pgsql\" version=\"{}\">",
        escape_xml(AGENT_VERSION)
    );
    out.push_str("<version>1.1</version>\n\n");
    let _ = write!(
        out,
        "<longdesc lang=\"en\">\n{}\n</longdesc>\n<shortdesc lang=\"en\">{}</shortdesc>\n\n",
        escape_xml_text(text::AGENT_LONGDESC),
        escape_xml_text(text::AGENT_SHORTDESC)
    );
    out.push_str("<parameters>\n\n");
    for spec in PARAMETERS.iter() {
        render_parameter(&mut out, spec, pgdata);
    }
    out.push_str("</parameters>\n\n<actions>\n");
    for action in ACTIONS.iter() {
        render_action(&mut out, action);
    }
    out.push_str("</actions>\n</resource-agent>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_parameters() {
        for p in [
            "monitor_password",
            "primary_conninfo_opt",
            "repl_PASSWORD",
            "password",
        ] {
            assert!(is_secret_parameter(p), "{p}");
        }
        for p in ["monitor_user", "pgdata", "primary_conninfo", "repuser"] {
            assert!(!is_secret_parameter(p), "{p}");
        }
    }

    #[test]
    fn every_parameter_has_a_description() {
        for spec in PARAMETERS.iter() {
            let (short, long) = describe(spec.name).expect(spec.name);
            assert!(
                !short.is_empty() && long.len() > short.len(),
                "{}",
                spec.name
            );
        }
        assert_eq!(describe("no_such_parameter"), None);
    }

    #[test]
    fn escapes_markup_in_values() {
        assert_eq!(escape_xml(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape_xml_text(r#"it's <"x">"#), r#"it's &lt;"x"&gt;"#);
        assert_eq!(escape_xml("x\u{1}y\nz"), "xy\nz");
        let xml = render("/data/\"odd\" & <dir>");
        assert!(
            xml.contains(r#"default="/data/&quot;odd&quot; &amp; &lt;dir&gt;/postgresql.conf""#)
        );
    }

    #[test]
    fn declares_ocf_1_1_with_reloadable_flags_and_no_private() {
        let xml = render("/var/lib/pgsql/data");
        assert!(xml.starts_with(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\" ["
        ));
        assert!(xml.contains("<version>1.1</version>"));
        assert!(xml.contains(
            r#"<parameter name="monitor_password" unique="0" required="0" reloadable="1">"#
        ));
        // pcs 0.11's OCF 1.1 schema has no `private`: pcs refuses an agent using it.
        assert!(!xml.contains("private"));
        assert!(xml.contains(r#"<parameter name="pgdata" unique="0" required="0">"#));
        assert!(xml.contains(
            r#"<action name="monitor" depth="0" timeout="30s" interval="29s" role="Promoted" />"#
        ));
        assert!(xml.contains(r#"<action name="reload-agent" timeout="20s" />"#));
        assert!(!xml.contains("Master\""));
    }
}
