//! A person's title on its registry line: written as it is when the grammar reads it
//! back so, else with backslash escapes that [`read_title`] undoes — so that no title
//! (a line break, a keyword, a comma-separated piece that is empty) makes an org's export
//! fail.
//!
//! The escapes: `\\` a backslash, `\,` a comma that does not separate items, `\n`, `\r`,
//! `\t`, `\u{1F}` any character by its hex code (other control characters, and spaces at
//! either end, which the grammar trims). A backslash before any other character stands
//! for that character: `R\eason Lead` is a title, not the `reason` attribute.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::locate::{keyword, PERSON_KEYWORDS};

/// True when `piece` would be read as an attribute rather than as (part of) a title.
fn attribute(piece: &str) -> bool {
    piece.is_empty()
        || piece.eq_ignore_ascii_case("external")
        || PERSON_KEYWORDS.iter().any(|k| keyword(piece, k).is_some())
}

/// How `title` is written: as it is when that reads back the same, else escaped.
pub(super) fn write_title(title: &str) -> Cow<'_, str> {
    let plain = title == title.trim()
        && !title.contains('\\')
        && !title.chars().any(char::is_control)
        && !title.split(',').map(str::trim).any(attribute);
    if plain {
        return Cow::Borrowed(title);
    }
    let lead = title.len() - title.trim_start().len();
    let trail = title.trim_end().len().max(lead);
    let mut out = String::with_capacity(title.len() + 8);
    for (i, c) in title.char_indices() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || (c.is_whitespace() && (i < lead || i >= trail)) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    if attribute(&out) {
        // Break the keyword after its first letter (`R\eason Lead`): a backslash before
        // the first letter would read as `\r` for `reason` and `reviewed`.
        let second = out.chars().next().map_or(0, char::len_utf8);
        out.insert(second, '\\');
    }
    Cow::Owned(out)
}

/// The title a written one stands for: escapes undone. An error says what is wrong and
/// where (a byte offset in `written`).
pub(super) fn read_title(written: &str) -> Result<Cow<'_, str>, (usize, String)> {
    if !written.contains('\\') {
        return Ok(Cow::Borrowed(written));
    }
    let mut out = String::with_capacity(written.len());
    let mut chars = written.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => out.push('\\'),
            Some((_, 'n')) => out.push('\n'),
            Some((_, 'r')) => out.push('\r'),
            Some((_, 't')) => out.push('\t'),
            Some((_, 'u')) if chars.peek().is_some_and(|&(_, c)| c == '{') => {
                let rest = written.get(i + 3..).unwrap_or_default();
                let code = rest
                    .find('}')
                    .and_then(|end| rest.get(..end))
                    .filter(|hex| (1..=6).contains(&hex.len()));
                let Some(ch) = code
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .and_then(char::from_u32)
                else {
                    return Err((
                        i,
                        "invalid escape in a title (expected `\\u{<1 to 6 hex digits>}`)"
                            .to_owned(),
                    ));
                };
                out.push(ch);
                for _ in 0..code.map_or(0, str::len) + 2 {
                    chars.next();
                }
            }
            Some((_, other)) => out.push(other),
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_titles_are_written_as_they_are() {
        for t in [
            "CTO",
            "Founder, CEO",
            "VP,Engineering",
            "R&D (EU)",
            "Reasonable",
        ] {
            assert_eq!(write_title(t), t);
            assert_eq!(read_title(t).ok().as_deref(), Some(t));
        }
    }

    #[test]
    fn other_titles_are_escaped_and_read_back() {
        for (title, written) in [
            ("Reason Lead", "R\\eason Lead"),
            ("reviewed", "r\\eviewed"),
            ("external", "e\\xternal"),
            ("Lead, reason: budget", "Lead\\, reason: budget"),
            ("a,,b", "a\\,\\,b"),
            ("Two\nlines", "Two\\nlines"),
            ("C:\\Users", "C:\\\\Users"),
            ("  padded ", "\\u{20}\\u{20}padded\\u{20}"),
            ("bell\u{7}", "bell\\u{7}"),
            (",", "\\,"),
        ] {
            assert_eq!(write_title(title), written, "{title:?}");
            assert_eq!(
                read_title(written).ok().as_deref(),
                Some(title),
                "{written:?}"
            );
        }
    }

    #[test]
    fn a_bad_code_is_an_error_and_a_lone_backslash_is_itself() {
        assert!(read_title("x\\u{zz}").is_err());
        assert!(read_title("x\\u{110000}").is_err());
        assert_eq!(read_title("x\\u").ok().as_deref(), Some("xu"));
        assert_eq!(read_title("x\\").ok().as_deref(), Some("x\\"));
    }
}
