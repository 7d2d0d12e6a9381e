//! A lossless escape between arbitrary bytes and the core's `String`s.
//!
//! The core takes `String` parameters; a Unix path (or any environment value)
//! is bytes and need not be UTF-8: `OCF_RESKEY_pgdata=$'/srv/pg\xff'` is a
//! legal data directory. The shim therefore decodes every value it reads
//! ([`decode`]) and encodes every string it hands back to the OS
//! ([`encode`], [`path`]), so the core carries any bytes through its `String`s
//! unchanged:
//!
//! - **decode**: valid UTF-8 stays as it is, except the reserved characters;
//!   every byte that is not part of valid UTF-8 (always ≥ 0x80) becomes the
//!   private-use character U+10FF00 + byte ([`escape`], U+10FF80..=U+10FFFF,
//!   the end of plane 16). A value that already contains a reserved
//!   character (its UTF-8 is `F4 8F BE..BF xx`) is escaped too: each of its
//!   four bytes becomes a reserved character. Nothing is refused.
//! - **encode**: every reserved character becomes its single byte, every
//!   other character its UTF-8.
//!
//! So `encode(decode(x)) == x` for all bytes `x`, and `decode(encode(s)) ==
//! s` for every string without reserved characters (and for every string
//! `decode` returns). The reserved characters are only the 128 code points
//! U+10FF80..=U+10FFFF; U+10FF00..=U+10FF7F are ordinary characters.
//!
//! Log lines and exit reasons show an escaped byte visibly as `\xff`
//! ([`display`]).

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// Byte `b` (≥ 0x80) is carried as the character `BASE + b`.
pub const BASE: u32 = 0x10FF00;

/// True for a reserved character: U+10FF80..=U+10FFFF, the escape of a byte.
pub fn is_escape(c: char) -> bool {
    (BASE + 0x80..=BASE + 0xFF).contains(&u32::from(c))
}

/// The character that carries byte `b` (≥ 0x80; an ASCII byte is itself).
pub fn escape(b: u8) -> char {
    if b < 0x80 {
        return char::from(b);
    }
    char::from_u32(BASE + u32::from(b)).unwrap_or(char::REPLACEMENT_CHARACTER)
}

fn push_valid(out: &mut String, text: &str) {
    for c in text.chars() {
        if is_escape(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push(escape(b));
            }
        } else {
            out.push(c);
        }
    }
}

/// Bytes as a `String` that [`encode_bytes`] turns back into exactly them.
pub fn decode_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                push_valid(&mut out, text);
                return out;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                push_valid(&mut out, std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(after.len()).min(after.len());
                for b in &after[..bad] {
                    out.push(escape(*b));
                }
                rest = &after[bad..];
            }
        }
    }
}

/// An OS string (environment value, file name, path) as a `String`.
pub fn decode(value: &OsStr) -> String {
    decode_bytes(value.as_bytes())
}

/// The exact bytes a (decoded) string stands for.
pub fn encode_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if is_escape(c) {
            out.push((u32::from(c) - BASE) as u8);
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

/// The exact OS string a (decoded) string stands for.
pub fn encode(text: &str) -> OsString {
    match text.chars().any(is_escape) {
        false => OsString::from(text),
        true => OsString::from_vec(encode_bytes(text)),
    }
}

/// The exact path a (decoded) string stands for.
pub fn path(text: &str) -> PathBuf {
    PathBuf::from(encode(text))
}

/// True when `text` carries bytes that are not UTF-8 (reserved characters).
pub fn has_escapes(text: &str) -> bool {
    text.chars().any(is_escape)
}

/// The byte of a reserved character as Rust's `{:?}` writes it
/// (`\u{10ffff}`) at the start of `text`.
fn debug_escape(text: &str) -> Option<u8> {
    let hex = text.get(..10)?.strip_prefix("\\u{10")?.strip_suffix('}')?;
    let code = u32::from_str_radix(hex, 16).ok()?;
    let c = char::from_u32(0x100000 + code)?;
    is_escape(c).then(|| (u32::from(c) - BASE) as u8)
}

/// `text` for humans: every escaped byte shown as `\xNN`, also where the
/// core quoted a value with `{:?}` (which writes the character as
/// `\u{10ffff}`).
pub fn display(text: &str) -> Cow<'_, str> {
    if !has_escapes(text) && !text.to_ascii_lowercase().contains("\\u{10ff") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if is_escape(c) {
            out.push_str(&format!("\\x{:02x}", u32::from(c) - BASE));
            rest = &rest[c.len_utf8()..];
        } else if let Some(b) = debug_escape(rest) {
            out.push_str(&format!("\\x{b:02x}"));
            rest = &rest[10..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn invalid_bytes_become_reserved_characters_and_come_back() {
        let raw = b"/srv/pg\xff/d\xc3\x28ata\xe2\x82";
        let text = decode_bytes(raw);
        assert_eq!(
            text,
            "/srv/pg\u{10FFFF}/d\u{10FFC3}(ata\u{10FFE2}\u{10FF82}"
        );
        assert_eq!(encode_bytes(&text), raw.to_vec());
        assert_eq!(display(&text), "/srv/pg\\xff/d\\xc3(ata\\xe2\\x82");
        assert!(has_escapes(&text));
        assert_eq!(path(&text).as_os_str().as_bytes(), raw);
        // As the core quotes values in its messages.
        assert_eq!(
            display(&format!("pgdata={text:?}")),
            "pgdata=\"/srv/pg\\xff/d\\xc3(ata\\xe2\\x82\""
        );
        assert_eq!(
            display("\\u{10ff7f} \\u{10FFAB} \\u{10ff}"),
            "\\u{10ff7f} \\xab \\u{10ff}"
        );
    }

    #[test]
    fn valid_utf8_is_unchanged() {
        for s in [
            "",
            "/var/lib/pgsql/data",
            "é ü 日本 🐘",
            "\u{10FF00}\u{10FF7F}",
        ] {
            assert_eq!(decode(OsStr::new(s)), s);
            assert_eq!(encode(s), OsString::from(s));
            assert!(!has_escapes(s));
            assert!(matches!(display(s), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn reserved_characters_in_the_input_are_escaped_too() {
        // U+10FFFF is F4 8F BF BF: four escapes, which encode back to it.
        let raw = "a\u{10FFFF}b\u{10FF80}".as_bytes().to_vec();
        let text = decode_bytes(&raw);
        assert_eq!(
            text,
            "a\u{10FFF4}\u{10FF8F}\u{10FFBF}\u{10FFBF}b\u{10FFF4}\u{10FF8F}\u{10FFBE}\u{10FF80}"
        );
        assert_eq!(encode_bytes(&text), raw);
        assert_eq!(decode_bytes(&encode_bytes(&text)), text);
    }

    #[test]
    fn escape_covers_exactly_the_high_bytes() {
        for b in 0x80..=0xFFu8 {
            assert!(is_escape(escape(b)));
            assert_eq!(encode_bytes(&escape(b).to_string()), vec![b]);
        }
        assert_eq!(escape(b'a'), 'a');
        assert!(!is_escape('\u{10FF7F}'));
        assert!(!is_escape(char::MAX) || char::MAX == '\u{10FFFF}');
    }

    fn string_without_reserved() -> impl Strategy<Value = String> {
        prop::collection::vec(any::<char>(), 0..64)
            .prop_map(|cs| cs.into_iter().filter(|c| !is_escape(*c)).collect())
    }

    /// Mostly high bytes, so invalid and truncated sequences are common,
    /// plus now and then a reserved character's UTF-8.
    fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                any::<u8>().prop_map(|b| vec![b]),
                (0x80u8..=0xFF).prop_map(|b| vec![b]),
                (0x80u32..=0xFF).prop_map(|b| {
                    char::from_u32(BASE + b)
                        .map(|c| c.to_string().into_bytes())
                        .unwrap_or_default()
                }),
                any::<char>().prop_map(|c| c.to_string().into_bytes()),
            ],
            0..48,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn encode_after_decode_gives_the_same_bytes(x in prop::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(encode_bytes(&decode_bytes(&x)), x.clone());
            prop_assert_eq!(encode(&decode(OsStr::from_bytes(&x))).into_vec(), x);
        }

        #[test]
        fn encode_after_decode_gives_the_same_tricky_bytes(x in tricky_bytes()) {
            let text = decode_bytes(&x);
            prop_assert_eq!(encode_bytes(&text), x);
            // The image of decode is stable.
            prop_assert_eq!(decode_bytes(&encode_bytes(&text)), text);
        }

        #[test]
        fn decode_after_encode_gives_the_same_string(s in string_without_reserved()) {
            prop_assert_eq!(decode(&encode(&s)), s.clone());
            prop_assert_eq!(decode_bytes(&encode_bytes(&s)), s.clone());
            prop_assert_eq!(encode_bytes(&s), s.as_bytes().to_vec());
        }
    }
}
