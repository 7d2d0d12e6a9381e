//! Reading one setting from postgresql.conf text with the stock agent's
//! semantics (`get_pgsql_param`): no include files, no `ALTER SYSTEM` file.

/// The value of `name` in the configuration text, if a line sets it.
///
/// A matching line starts (after blanks) with `name`, followed by at least one
/// of blank or `=`, then the value. A trailing `# comment` is removed and a
/// value of the form `'nospaces'` is unquoted. Commented-out lines never
/// match. The first matching line wins.
pub fn config_value(text: &str, name: &str) -> Option<String> {
    config_values(text, name).into_iter().next()
}

/// Every value set for `name`, in file order (same line rules as
/// [`config_value`]). The stock agent prints them all concatenated, so its
/// "is it set" test is true when any of them is non-empty.
pub fn config_values(text: &str, name: &str) -> Vec<String> {
    if name.is_empty() {
        return Vec::new();
    }
    text.lines()
        .filter_map(|line| value_on_line(line, name))
        .collect()
}

fn value_on_line(line: &str, name: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix(name)?;
    let value = rest.trim_start_matches(|c: char| c == '=' || c.is_whitespace());
    if value.len() == rest.len() {
        // The name is only a prefix of a longer word (e.g. `port` of `portal`).
        return None;
    }
    let value = match value.find('#') {
        Some(hash) => value[..hash].trim_end(),
        None => value.trim_end(),
    };
    Some(unquote(value).to_string())
}

/// `'abc'` → `abc` when the quoted part has no blanks; anything else unchanged.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('\'')
        .and_then(|v| v.split_once('\''))
        .filter(|(inner, _)| !inner.chars().any(char::is_whitespace))
        .map(|(inner, _)| inner)
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_like_the_stock_parser() {
        let conf = "\
# unix_socket_directories = '/commented'
port = 5433
unix_socket_directories = '/var/run/postgresql'\t# comment here
listen_addresses='*'
portal_name x
empty = ''
spaced = 'a b'
";
        assert_eq!(
            config_value(conf, "unix_socket_directories").as_deref(),
            Some("/var/run/postgresql")
        );
        assert_eq!(config_value(conf, "port").as_deref(), Some("5433"));
        assert_eq!(config_value(conf, "listen_addresses").as_deref(), Some("*"));
        assert_eq!(config_value(conf, "empty").as_deref(), Some(""));
        assert_eq!(config_value(conf, "spaced").as_deref(), Some("'a b'"));
        assert_eq!(config_value(conf, "portal"), None);
        assert_eq!(config_value(conf, "missing"), None);
        assert_eq!(config_value(conf, ""), None);
        let twice = "x = ''\nx = '/tmp'\n";
        assert_eq!(
            config_values(twice, "x"),
            vec!["".to_string(), "/tmp".to_string()]
        );
    }
}
