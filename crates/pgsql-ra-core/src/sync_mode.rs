//! `<tmpdir>/rep_mode.conf`: the one-line file through which the primary sets
//! `synchronous_standby_names` (sync mode). Rendering and parsing follow the
//! stock agent's three forms exactly, because operators grep this file.

/// The file's name inside `tmpdir`.
pub const FILE_NAME: &str = "rep_mode.conf";

/// Renders the line (with a trailing newline) for the given synchronous
/// standbys, in order:
/// - none: `synchronous_standby_names = ''`
/// - one: `synchronous_standby_names = '"node2"'`
/// - several: `synchronous_standby_names = 'FIRST 2 ("a", "b")'` (every listed
///   standby must confirm, as in the stock agent).
pub fn render(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let value = match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("FIRST {n} ({})", quoted.join(", ")),
    };
    format!("synchronous_standby_names = '{value}'\n")
}

/// Issue 11: the quorum commit line `synchronous_standby_names = 'ANY k
/// ("a", "b")'` (any k of the names acknowledge each commit).
pub fn render_quorum(k: u32, names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        "synchronous_standby_names = 'ANY {k} ({})'\n",
        quoted.join(", ")
    )
}

/// Parses the names the file currently makes synchronous. Like the stock
/// agent: the names inside `(…)` when the quoted value starts with `FIRST `
/// (or, issue 11, `ANY `: the members of a quorum commit set),
/// otherwise everything inside the single quotes; quotes and commas separate
/// names. A missing or empty file means no name.
pub fn parse(text: &str) -> Vec<String> {
    let quoted = text.split('\'').nth(1).unwrap_or("");
    let inner = if quoted.starts_with("FIRST ") || quoted.starts_with("ANY ") {
        match (quoted.find('('), quoted.rfind(')')) {
            (Some(a), Some(b)) if a < b => &quoted[a + 1..b],
            _ => "",
        }
    } else {
        quoted
    };
    inner
        .split(|c: char| c == '"' || c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

/// The `k` of a quorum commit line (`ANY k (...)`), `None` for any other form.
pub fn parse_quorum(text: &str) -> Option<u32> {
    let quoted = text.split('\'').nth(1)?;
    let rest = quoted.strip_prefix("ANY ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// True when `node` is one of the names the file makes synchronous (exact
/// match, unlike the stock agent's regular expression; bug J).
pub fn mentions(text: &str, node: &str) -> bool {
    parse(text).iter().any(|n| n == node)
}

/// True when two name lists hold the same names in any order.
pub fn same_names(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn renders_the_three_stock_forms() {
        assert_eq!(render(&[]), "synchronous_standby_names = ''\n");
        assert_eq!(
            render(&v(&["node2"])),
            "synchronous_standby_names = '\"node2\"'\n"
        );
        assert_eq!(
            render(&v(&["a", "b-2"])),
            "synchronous_standby_names = 'FIRST 2 (\"a\", \"b-2\")'\n"
        );
    }

    #[test]
    fn parses_what_it_renders() {
        for names in [v(&[]), v(&["node2"]), v(&["a", "b.c", "3d"])] {
            assert_eq!(parse(&render(&names)), names);
        }
    }

    #[test]
    fn parses_hand_written_and_legacy_forms() {
        assert_eq!(parse("synchronous_standby_names = 'node2'"), v(&["node2"]));
        assert_eq!(
            parse("synchronous_standby_names = 'FIRST 2 (\"a\",\"b\")'\n"),
            v(&["a", "b"])
        );
        assert_eq!(parse(""), v(&[]));
        assert_eq!(
            parse("synchronous_standby_names = 'FIRST 1 (broken'"),
            v(&[])
        );
    }

    #[test]
    fn mentions_matches_whole_names_only() {
        let text = render(&v(&["node10"]));
        assert!(mentions(&text, "node10"));
        assert!(!mentions(&text, "node1"));
        assert!(!mentions(&render(&v(&["nodeX1"])), "node.1"));
    }

    #[test]
    fn quorum_lines_are_understood() {
        let line = "synchronous_standby_names = 'ANY 1 (\"node2\", \"node3\")'\n";
        assert_eq!(parse(line), v(&["node2", "node3"]));
        assert_eq!(parse_quorum(line), Some(1));
        assert_eq!(parse_quorum(&render(&v(&["node2"]))), None);
        let q = render_quorum(1, &v(&["node2", "node3"]));
        assert_eq!(q, line);
        assert_eq!(parse(&q), v(&["node2", "node3"]));
        assert_eq!(
            parse_quorum("synchronous_standby_names = 'ANY x (a)'"),
            None
        );
    }

    #[test]
    fn same_names_ignores_order() {
        assert!(same_names(&v(&["b", "a"]), &v(&["a", "b"])));
        assert!(!same_names(&v(&["a"]), &v(&["a", "b"])));
    }
}
