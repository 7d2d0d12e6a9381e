//! The environment as the shim reads it: byte-exact (`std::env::vars_os`),
//! every value decoded losslessly into the `String` the core takes.
//!
//! A value need not be UTF-8: `OCF_RESKEY_pgdata=$'/srv/pg\xff'` is a legal
//! data directory, and the stock agent handles it. Each byte that is not part
//! of valid UTF-8 is carried as a private-use character
//! ([`crate::bytes_path`]: byte `b` becomes U+10FF00 + `b`), and every place
//! the shim hands a string back to the OS (paths, arguments and environment
//! of children, file contents, the socket directory of the connection)
//! encodes it to exactly the original bytes. A value that already contains
//! one of those reserved characters is escaped too (each of its UTF-8 bytes),
//! so the mapping is a bijection and nothing is refused here.
//!
//! So no value is ever dropped or replaced by its parameter's default
//! (before issue 17 such a value was silently dropped: `pgdata=/srv/pg\xff`
//! made `stop` act on `/var/lib/pgsql/data`), every action works on the
//! exact bytes given, and a value that the agent cannot use (a `rep_mode`, a
//! number or a slot name with such bytes) is refused by the core's
//! validation like any other invalid value, naming the parameter. Log lines
//! and exit reasons show an escaped byte as `\xff`. Only variables whose
//! *name* is not UTF-8 are left out; no agent variable has such a name, and
//! the children still inherit them. See docs/parameters.md.

use std::collections::BTreeMap;
use std::ffi::OsString;

use crate::bytes_path;

/// The environment as the core's map: every variable whose name is UTF-8,
/// with its value decoded losslessly ([`bytes_path::decode`]).
pub fn env_map(vars: impl IntoIterator<Item = (OsString, OsString)>) -> BTreeMap<String, String> {
    vars.into_iter()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, bytes_path::decode(&v))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn every_value_is_kept_and_round_trips() {
        let bad = OsString::from_vec(b"/srv/pg\xff".to_vec());
        let env = env_map(vec![
            (OsString::from("OCF_RESKEY_pgdata"), bad.clone()),
            (OsString::from("OCF_RESKEY_pgport"), OsString::from("5433")),
            (OsString::from("LANG"), bad.clone()),
            (OsString::from_vec(b"X\xff".to_vec()), OsString::from("y")),
        ]);
        assert_eq!(
            env.get("OCF_RESKEY_pgport").map(String::as_str),
            Some("5433")
        );
        let pgdata = env.get("OCF_RESKEY_pgdata").expect("kept, never dropped");
        assert_eq!(pgdata, "/srv/pg\u{10FFFF}");
        assert_eq!(bytes_path::encode(pgdata), bad);
        assert_eq!(bytes_path::display(pgdata), "/srv/pg\\xff");
        assert!(env.contains_key("LANG"));
        assert_eq!(env.len(), 3);
    }
}
