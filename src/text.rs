//! Text that others chose (keys, bucket names, AWS messages) made safe to print to a terminal.

/// Escapes what a terminal would not show as it is: control characters (a row stays one line,
/// no escape sequence reaches the terminal) and invisible format characters, bidi overrides and
/// isolates among them (U+202E can make `gpj.exe` read `exe.jpg`), so a key an attacker named
/// reads as what it is. Every line written for people passes through here; JSON keeps data exact.
pub fn printable(text: &str) -> String {
    escape(text, true).into_owned()
}

/// [`printable`] for log lines: only the invisible characters (format characters, separators)
/// are escaped, since the log formatter's own colour codes are control characters (and it
/// escapes control characters in logged values itself).
pub fn escape_invisible(text: &str) -> std::borrow::Cow<'_, str> {
    escape(text, false)
}

/// Escapes the invisible characters of [`is_invisible`] as `\u{...}`, and with `controls` the
/// control characters too (as Rust's `escape_default` writes them); borrows when nothing needs it.
fn escape(text: &str, controls: bool) -> std::borrow::Cow<'_, str> {
    let control = |c: char| controls && c.is_control();
    if !text.chars().any(|c| control(c) || is_invisible(c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if control(c) {
            out.extend(c.escape_default());
        } else if is_invisible(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Unicode's format characters (general category Cf: bidi overrides and isolates, zero-width
/// characters, ...) and the line and paragraph separators.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061c}'
            | '\u{06dd}'
            | '\u{070f}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters() {
        assert_eq!(printable("a\tb\nc"), "a\\tb\\nc");
        assert_eq!(printable("plain é"), "plain é");
        // Bidi override and isolates, zero-width and line separator characters.
        assert_eq!(
            printable("invoice\u{202e}fdp.exe"),
            "invoice\\u{202e}fdp.exe"
        );
        assert_eq!(
            printable("a\u{2066}b\u{2069}\u{200b}\u{2028}\u{feff}"),
            "a\\u{2066}b\\u{2069}\\u{200b}\\u{2028}\\u{feff}"
        );
        assert_eq!(printable("\u{1b}[31mred"), "\\u{1b}[31mred");
        // Log lines keep their colour codes and lose their invisible characters.
        assert_eq!(
            escape_invisible("\u{1b}[33mWARN\u{1b}[0m key=a\u{202e}b"),
            "\u{1b}[33mWARN\u{1b}[0m key=a\\u{202e}b"
        );
    }
}
