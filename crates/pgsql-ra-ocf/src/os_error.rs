//! Operating-system errors as operators read them: the C library's message
//! ("No such file or directory") without Rust's " (os error 2)" suffix
//! (issue 12, attack finding 16).

/// `e`'s text without a trailing " (os error N)".
pub fn message(e: &std::io::Error) -> String {
    without_os_error(&e.to_string()).to_string()
}

/// `text` without a trailing " (os error N)" (N: digits); other text is
/// returned unchanged.
pub fn without_os_error(text: &str) -> &str {
    let Some(open) = text.rfind(" (os error ") else {
        return text;
    };
    let tail = &text[open + " (os error ".len()..];
    match tail.strip_suffix(')') {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => &text[..open],
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suffix_goes_and_nothing_else() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(message(&e), "No such file or directory");
        let e = std::io::Error::from_raw_os_error(30);
        assert_eq!(message(&e), "Read-only file system");
        assert_eq!(
            without_os_error("Connection refused (os error 111)"),
            "Connection refused"
        );
        assert_eq!(without_os_error("x (os error )"), "x (os error )");
        assert_eq!(without_os_error("x (os error 1a)"), "x (os error 1a)");
        assert_eq!(without_os_error("plain"), "plain");
    }
}
