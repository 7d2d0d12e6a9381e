//! Reading PostgreSQL configuration the way the server does, for the
//! simulator: `name = 'value'` lines, comments, and `include` directives
//! (relative to the including file), last setting wins.

use std::collections::BTreeMap;

use super::fs::MemFs;

/// Parses one configuration line into (name, value); `None` for blanks and comments.
pub fn parse_line(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line
        .find(|c: char| c == '=' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = line[..name_end].to_ascii_lowercase();
    let rest = line[name_end..]
        .trim_start()
        .trim_start_matches('=')
        .trim_start();
    let value = if let Some(quoted) = rest.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = quoted.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    out.push('\'');
                }
                '\'' => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
                c => out.push(c),
            }
        }
        out
    } else {
        rest.split('#').next().unwrap_or("").trim().to_string()
    };
    Some((name, value))
}

fn resolve(base_file: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        let dir = base_file.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        format!("{dir}/{path}")
    }
}

fn load_into(
    fs: &MemFs,
    path: &str,
    depth: u32,
    out: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    if depth > 10 {
        return Err(format!(
            "could not open configuration file \"{path}\": maximum nesting depth exceeded"
        ));
    }
    let text = fs.file(path).ok_or_else(|| {
        format!("could not open configuration file \"{path}\": No such file or directory")
    })?;
    for line in text.lines() {
        let Some((name, value)) = parse_line(line) else {
            continue;
        };
        match name.as_str() {
            "include" => load_into(fs, &resolve(path, &value), depth + 1, out)?,
            "include_if_exists" => {
                let p = resolve(path, &value);
                if fs.file(&p).is_some() {
                    load_into(fs, &p, depth + 1, out)?;
                }
            }
            "include_dir" => {}
            _ => {
                out.insert(name, value);
            }
        }
    }
    Ok(())
}

/// The settings of `config` (following includes), then `<pgdata>/postgresql.auto.conf`.
/// A missing main or included file is an error, as for the server.
pub fn load(fs: &MemFs, config: &str, pgdata: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    load_into(fs, config, 0, &mut out)?;
    let auto = format!("{}/postgresql.auto.conf", pgdata.trim_end_matches('/'));
    if fs.file(&auto).is_some() {
        load_into(fs, &auto, 0, &mut out)?;
    }
    Ok(out)
}

/// The `key=value` pairs of a libpq connection string (unquoted values only).
pub fn conninfo(text: &str) -> BTreeMap<String, String> {
    text.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_includes_and_last_setting_wins() {
        let fs = MemFs::new("postgres");
        fs.put(
            "/pg/postgresql.conf",
            "port = 5432 # c\nsynchronous_standby_names = 'x'\ninclude '/tmp/rep_mode.conf' # added by pgsql RA\n",
            "postgres",
            0o600,
        );
        fs.put(
            "/tmp/rep_mode.conf",
            "synchronous_standby_names = '\"node2\"'\n",
            "postgres",
            0o600,
        );
        let conf = load(&fs, "/pg/postgresql.conf", "/pg").unwrap();
        assert_eq!(conf["port"], "5432");
        assert_eq!(conf["synchronous_standby_names"], "\"node2\"");
        fs.remove_tree("/tmp/rep_mode.conf");
        assert!(load(&fs, "/pg/postgresql.conf", "/pg").is_err());
    }

    #[test]
    fn reads_quoted_values_and_conninfo() {
        let (k, v) =
            parse_line("primary_conninfo = 'host=vip port=5432 application_name=node2 '").unwrap();
        assert_eq!(k, "primary_conninfo");
        assert_eq!(conninfo(&v)["application_name"], "node2");
        assert_eq!(parse_line("  # x"), None);
        assert_eq!(parse_line("a='it''s'").unwrap().1, "it's");
    }
}
