//! Password files with libpq's rules (PostgreSQL documentation, "The
//! Password File"), for the connections the agent opens itself (the driver
//! does not read them): the stock agent's `psql`, run as `pgdba`, found its
//! passwords there.
//!
//! * Which file: `PGPASSFILE` when set and not empty, else `.pgpass` in the
//!   home directory of `pgdba` (the stock agent ran `psql` through `su`,
//!   which sets `HOME` to that user's home).
//! * The file is read as `pgdba` (so a file that user cannot read is not
//!   used); a missing or unreadable file is silently ignored; a file that
//!   is not a plain file, or that the group or others may access
//!   (`mode & 077`), is ignored with a warning.
//! * Lines `hostname:port:database:username:password`; `#` starts a
//!   comment line; `*` as a whole field matches anything; `\` escapes the
//!   next character (`\:`, `\\`), in the password too. The password ends
//!   at the first unescaped `:` and a lone `\` at the end of the line is
//!   kept (libpq's `passwordFromFile`). The first matching line wins; a
//!   line with fewer fields never matches.
//! * The host of a Unix-socket connection is `localhost` when the socket
//!   directory is the compiled-in default ([`DEFAULT_SOCKET_DIR`]),
//!   otherwise the directory's path itself.
//!
//! The password is returned to the caller only: it is never logged, put in
//! an argument list or in an environment.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::bytes_path;
use crate::users::{Account, EffectiveIdentity};

/// libpq's compiled-in default socket directory on Debian
/// (`DEFAULT_PGSOCKET_DIR`).
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// What a connection looks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key<'a> {
    /// Host name or address, or the socket directory (absolute path).
    pub host: &'a str,
    /// Port.
    pub port: u16,
    /// Database.
    pub dbname: &'a str,
    /// Role.
    pub user: &'a str,
}

/// The host as a password-file line is matched against it.
pub fn host_for_matching(host: &str) -> &str {
    if host.is_empty() || host == DEFAULT_SOCKET_DIR {
        "localhost"
    } else {
        host
    }
}

/// Matches one field at the start of `rest` against `value`. `Some(the
/// text after the field's ':')` on a match.
fn match_field<'a>(rest: &'a str, value: &str) -> Option<&'a str> {
    if let Some(after) = rest.strip_prefix("*:") {
        return Some(after);
    }
    let mut want = value.chars();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        let (c, escaped) = if c == '\\' {
            match chars.next() {
                Some((_, n)) => (n, true),
                None => return None,
            }
        } else {
            (c, false)
        };
        if c == ':' && !escaped {
            return match want.next() {
                None => Some(&rest[i + 1..]),
                Some(_) => None,
            };
        }
        if want.next() != Some(c) {
            return None;
        }
    }
    None
}

/// The password field as libpq reads it (`passwordFromFile` in
/// PostgreSQL's `src/interfaces/libpq/fe-connect.c`): it ends at the first
/// unescaped `:` (anything after it is ignored), `\` escapes the next
/// character, and a lone `\` at the end of the line is kept as it is.
fn password_field(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        match c {
            ':' => break,
            '\\' => match chars.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// The password of the first line of `text` that matches `key` (`None`:
/// no line matches, or the matching password is empty).
pub fn lookup(text: &str, key: &Key<'_>) -> Option<String> {
    let host = host_for_matching(key.host);
    let port = key.port.to_string();
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let found = match_field(line, host)
            .and_then(|r| match_field(r, &port))
            .and_then(|r| match_field(r, key.dbname))
            .and_then(|r| match_field(r, key.user));
        if let Some(password) = found {
            let password = password_field(password);
            return (!password.is_empty()).then_some(password);
        }
    }
    None
}

/// The password file to use: `PGPASSFILE` (when set and not empty), else
/// `<home of pgdba>/.pgpass`.
pub fn file_path(pgpassfile: Option<&str>, pgdba: Option<&Account>) -> Option<PathBuf> {
    match pgpassfile.filter(|p| !p.is_empty()) {
        Some(p) => Some(bytes_path::path(p)),
        None => pgdba
            .filter(|a| !a.home.is_empty())
            .map(|a| bytes_path::path(&a.home).join(".pgpass")),
    }
}

/// Why a password file was not used (the warning libpq prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// Not a plain file.
    NotAPlainFile(String),
    /// The group or others may access it.
    GroupOrWorldAccess(String),
}

impl std::fmt::Display for Ignored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ignored::NotAPlainFile(p) => {
                write!(f, "password file {p} is not a plain file; it is ignored")
            }
            Ignored::GroupOrWorldAccess(p) => write!(
                f,
                "password file {p} has group or world access; permissions should be u=rw (0600) or less; it is ignored"
            ),
        }
    }
}

/// Reads the password for `key` from `path`, as `pgdba` when running as
/// root. `Ok(None)`: no file, unreadable, or no matching line.
pub fn read(
    path: &Path,
    key: &Key<'_>,
    pgdba: Option<&Account>,
) -> Result<Option<String>, Ignored> {
    let _identity = EffectiveIdentity::assume(pgdba);
    let shown = bytes_path::display(&bytes_path::decode(path.as_os_str())).into_owned();
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Err(Ignored::NotAPlainFile(shown));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(Ignored::GroupOrWorldAccess(shown));
    }
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(None);
    };
    Ok(lookup(&bytes_path::decode_bytes(&bytes), key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(host: &'a str, port: u16, dbname: &'a str, user: &'a str) -> Key<'a> {
        Key {
            host,
            port,
            dbname,
            user,
        }
    }

    #[test]
    fn fields_wildcards_and_the_first_match() {
        let text = "# a comment\n\
                    \n\
                    db1.example:5432:postgres:postgres:one\n\
                    *:5432:*:monitor:two\n\
                    10.0.0.1:*:app:*:three\n\
                    *:*:*:*:four\n";
        assert_eq!(
            lookup(text, &key("db1.example", 5432, "postgres", "postgres")).as_deref(),
            Some("one")
        );
        assert_eq!(
            lookup(text, &key("db2", 5432, "x", "monitor")).as_deref(),
            Some("two")
        );
        assert_eq!(
            lookup(text, &key("10.0.0.1", 6000, "app", "u")).as_deref(),
            Some("three")
        );
        assert_eq!(
            lookup(text, &key("db1.example", 5433, "postgres", "postgres")).as_deref(),
            Some("four")
        );
        assert_eq!(lookup("h:1:d:u:p\n", &key("h", 1, "d", "v")), None);
        // A prefix is not a match; nor is a longer value.
        assert_eq!(lookup("host:1:d:u:p\n", &key("hos", 1, "d", "u")), None);
        assert_eq!(lookup("hos:1:d:u:p\n", &key("host", 1, "d", "u")), None);
        // Too few fields never match.
        assert_eq!(lookup("h:1:d:u\n", &key("h", 1, "d", "u")), None);
        // A '*' inside a field is a literal.
        assert_eq!(lookup("h*:1:d:u:p\n", &key("hx", 1, "d", "u")), None);
        assert_eq!(
            lookup("h*:1:d:u:p\n", &key("h*", 1, "d", "u")).as_deref(),
            Some("p")
        );
    }

    #[test]
    fn escapes_in_fields_and_password_and_crlf() {
        let text = "h:1:my\\:db:u\\\\x:pa\\:ss\\\\word\r\n";
        assert_eq!(
            lookup(text, &key("h", 1, "my:db", "u\\x")).as_deref(),
            Some("pa:ss\\word")
        );
        // The password ends at the first unescaped ':', like libpq
        // (passwordFromFile): what follows is ignored.
        assert_eq!(
            lookup("h:1:d:u:a:b\n", &key("h", 1, "d", "u")).as_deref(),
            Some("a")
        );
        assert_eq!(
            lookup("h:1:d:u:Sup3r\\:Secr\\\\et:extra\n", &key("h", 1, "d", "u")).as_deref(),
            Some("Sup3r:Secr\\et")
        );
        assert_eq!(
            lookup("h:1:d:u:m0n:it\\\\or\n", &key("h", 1, "d", "u")).as_deref(),
            Some("m0n")
        );
        // A lone '\' at the end of the line is kept (libpq copies it).
        assert_eq!(
            lookup("h:1:d:u:endsin\\\n", &key("h", 1, "d", "u")).as_deref(),
            Some("endsin\\")
        );
        assert_eq!(
            lookup("h:1:d:u:endsin\\\r\n", &key("h", 1, "d", "u")).as_deref(),
            Some("endsin\\")
        );
        // An empty password is no password.
        assert_eq!(lookup("h:1:d:u:\n", &key("h", 1, "d", "u")), None);
        // A comment line is never a match, even when it would be one.
        assert_eq!(lookup("#h:1:d:u:p\n", &key("#h", 1, "d", "u")), None);
    }

    #[test]
    fn localhost_is_the_default_socket_directory_only() {
        let text = "localhost:5432:*:postgres:local\n\
                    /srv/pg/sock:5432:*:postgres:other-dir\n";
        assert_eq!(
            lookup(text, &key("/var/run/postgresql", 5432, "d", "postgres")).as_deref(),
            Some("local")
        );
        assert_eq!(
            lookup(text, &key("localhost", 5432, "d", "postgres")).as_deref(),
            Some("local")
        );
        assert_eq!(
            lookup(text, &key("/srv/pg/sock", 5432, "d", "postgres")).as_deref(),
            Some("other-dir")
        );
        assert_eq!(lookup(text, &key("/tmp", 5432, "d", "postgres")), None);
    }

    #[test]
    fn which_file() {
        let acc = Account {
            name: "postgres".into(),
            uid: 1,
            gid: 1,
            home: "/var/lib/postgresql".into(),
        };
        assert_eq!(
            file_path(Some("/etc/pgpass"), Some(&acc)),
            Some(PathBuf::from("/etc/pgpass"))
        );
        assert_eq!(
            file_path(Some(""), Some(&acc)),
            Some(PathBuf::from("/var/lib/postgresql/.pgpass"))
        );
        assert_eq!(
            file_path(None, Some(&acc)),
            Some(PathBuf::from("/var/lib/postgresql/.pgpass"))
        );
        assert_eq!(file_path(None, None), None);
    }

    #[test]
    fn permissions_and_kinds() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("pgpass-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("pgpass");
        std::fs::write(&f, "*:*:*:*:secret\n").expect("write");
        let k = key("h", 1, "d", "u");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(read(&f, &k, None), Ok(Some("secret".into())));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o400)).expect("chmod");
        assert_eq!(read(&f, &k, None), Ok(Some("secret".into())));
        for mode in [0o640, 0o604, 0o610] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let e = read(&f, &k, None).expect_err("ignored");
            assert!(e.to_string().contains("group or world access"), "{e}");
            assert!(!e.to_string().contains("secret"));
        }
        assert!(matches!(
            read(&dir, &k, None),
            Err(Ignored::NotAPlainFile(_))
        ));
        assert_eq!(read(&dir.join("missing"), &k, None), Ok(None));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
