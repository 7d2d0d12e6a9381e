//! How operator-facing messages show a value: in double quotes, the value
//! as typed, never Rust's debug escaping (issue 12 item 4: no `\u{1}`,
//! no doubled backslashes in an exit reason). Control characters, which a
//! log line or an exit reason cannot carry, are shown in caret notation
//! (`^A` for U+0001, `^?` for DEL), as `cat -v` shows them.

/// `value` in double quotes, control characters in caret notation.
///
/// ```
/// use pgsql_ra_core::quote::quoted;
/// assert_eq!(quoted("sync"), "\"sync\"");
/// assert_eq!(quoted("t\u{1}mp"), "\"t^Amp\"");
/// assert_eq!(quoted("data\\é"), "\"data\\é\"");
/// ```
pub fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\u{7f}' => out.push_str("^?"),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push(char::from(b'@' + c as u8));
            }
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How long a path may be before [`short_path`] shortens it, in characters.
pub const SHORT_PATH_MAX: usize = 32;

/// A path short enough for an exit reason (Pacemaker keeps 128 bytes):
/// unchanged up to [`SHORT_PATH_MAX`] characters, else `…/` and its last
/// two components, which tell most paths apart (the last one only when
/// two are still longer than that) (issue 12, attack finding
/// 9). The full path stays in the log line.
///
/// ```
/// use pgsql_ra_core::quote::short_path;
/// assert_eq!(short_path("/tmp/pg.log"), "/tmp/pg.log");
/// assert_eq!(
///     short_path("/srv/a-rather-long-directory-name/below/emptydir"),
///     "…/below/emptydir"
/// );
/// assert_eq!(
///     short_path("/srv/x/a-rather-long-directory-name-indeed/emptydir"),
///     "…/emptydir"
/// );
/// assert_eq!(
///     short_path("/var/lib/postgresql/15/main/postgresql.conf"),
///     "…/main/postgresql.conf"
/// );
/// ```
///
/// A last component that is itself longer than that keeps its first and
/// last characters around a `…` (issue 12, re-attack item 6: a 200-byte
/// component pushed the cause out of the exit reason).
///
/// ```
/// use pgsql_ra_core::quote::short_path;
/// let long = format!("/srv/{}", "x".repeat(200));
/// assert_eq!(short_path(&long), format!("…/{}…{}", "x".repeat(15), "x".repeat(14)));
/// ```
pub fn short_path(path: &str) -> String {
    if path.chars().count() <= SHORT_PATH_MAX {
        return path.to_string();
    }
    let parts: Vec<&str> = path.trim_end_matches('/').rsplitn(3, '/').collect();
    match parts.as_slice() {
        [last, dir, _] if dir.chars().count() + last.chars().count() + 3 <= SHORT_PATH_MAX => {
            format!("…/{dir}/{last}")
        }
        [last, ..] if last.chars().count() + 2 > SHORT_PATH_MAX => {
            format!("…/{}", abbreviated(last, SHORT_PATH_MAX - 2))
        }
        [last, _, _] => format!("…/{last}"),
        _ => path.to_string(),
    }
}

/// `text` when it has at most `max` characters, else its first and last
/// characters around `…`, `max` characters in all.
pub fn abbreviated(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(1);
    let head: String = text.chars().take(keep - keep / 2).collect();
    let tail: String = text.chars().skip(n - keep / 2).collect();
    format!("{head}…{tail}")
}

/// `param="path"` for the start of a message, shortened by [`short_path`],
/// and the suffix that gives the full path at its end (empty when nothing
/// was shortened): the cause stays within the 128 bytes of an exit reason,
/// the log line has everything.
///
/// ```
/// use pgsql_ra_core::quote::param_path;
/// let (head, tail) = param_path("config", "/var/lib/postgresql/15/main/postgresql.conf");
/// assert_eq!(head, "config=\"…/main/postgresql.conf\"");
/// assert_eq!(tail, " (config=\"/var/lib/postgresql/15/main/postgresql.conf\")");
/// assert_eq!(param_path("pgdata", "/srv/pg").1, "");
/// ```
pub fn param_path(param: &str, path: &str) -> (String, String) {
    let short = short_path(path);
    let head = format!("{param}={}", quoted(&short));
    let tail = if short == path {
        String::new()
    } else {
        format!(" ({param}={})", quoted(path))
    };
    (head, tail)
}

/// `text` with every occurrence of each of `paths` (longer than
/// [`SHORT_PATH_MAX`]) replaced by its [`short_path`]: a program's own
/// message (`pg_ctl: directory "…" is not a database cluster directory`)
/// made to fit an exit reason. The log keeps the original.
pub fn shorten_paths_in(text: &str, paths: &[&str]) -> String {
    let mut out = text.to_string();
    let mut paths: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| p.chars().count() > SHORT_PATH_MAX)
        .collect();
    // Longest first, so that a path is not cut inside a longer one.
    paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in paths {
        out = out.replace(p, &short_path(p));
    }
    out
}

/// A duration as operators read it: seconds with one decimal, `"10.0 s"`
/// (issue 12, re-attack item 8: no `10s`/`1.5s` debug text in messages).
pub fn seconds(d: std::time::Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::{quoted, seconds};

    #[test]
    fn durations_read_in_seconds() {
        use std::time::Duration;
        assert_eq!(seconds(Duration::from_secs(10)), "10.0 s");
        assert_eq!(seconds(Duration::from_millis(1250)), "1.2 s");
        assert_eq!(seconds(Duration::ZERO), "0.0 s");
    }

    #[test]
    fn shows_values_as_typed_and_controls_in_caret_notation() {
        assert_eq!(quoted(""), "\"\"");
        assert_eq!(quoted("a\"b"), "\"a\"b\"");
        assert_eq!(quoted("\t\n\u{7f}"), "\"^I^J^?\"");
        assert_eq!(quoted("\u{85}é"), "\"?é\"");
    }
}
