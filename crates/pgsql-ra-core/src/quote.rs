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

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn shows_values_as_typed_and_controls_in_caret_notation() {
        assert_eq!(quoted(""), "\"\"");
        assert_eq!(quoted("a\"b"), "\"a\"b\"");
        assert_eq!(quoted("\t\n\u{7f}"), "\"^I^J^?\"");
        assert_eq!(quoted("\u{85}é"), "\"?é\"");
    }
}
