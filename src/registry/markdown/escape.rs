//! Free text on its registry line — a person's title, the org's name, a project's name
//! and environment, a reason: written as it is when the grammar reads it back so, else
//! with backslash escapes that [`unescape`] undoes, so that whatever text the graph holds
//! reads back as it was and no text makes an org's export fail.
//!
//! The escapes: `\\` a backslash, `\,` a comma that does not separate items, `\:` a colon
//! that is not punctuation after a keyword (`reason \:x`), `\<` the `<` of a `<!--`, which
//! would open an HTML comment, `\n`, `\r`, `\t`, `\u{1F}` any
//! character by its hex code (other control characters, spaces at either end, which the
//! grammar trims, and an environment's unbalanced parentheses). A backslash before any
//! other character stands for that character: `R\eason Lead` is a title, not the `reason`
//! attribute.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::locate::{keyword, PERSON_KEYWORDS};

/// True when `piece` would be read as an attribute rather than as (part of) a title.
fn attribute(piece: &str) -> bool {
    piece.is_empty()
        || piece.eq_ignore_ascii_case("external")
        || PERSON_KEYWORDS.iter().any(|k| keyword(piece, k).is_some())
}

/// Which free text a line holds, for what the grammar around it would misread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    /// The org's name, in the title.
    OrgName,
    /// A project's name, first on its line.
    ProjectName,
    /// A project's `env` item: between commas, in parentheses the line's end closes.
    Environment,
    /// A `reason` item: the rest of the parentheses.
    Reason,
}

/// How `text` is written as `field`: as it is when that reads back the same, else with
/// the escapes the grammar needs there (a title has its own, [`write_title`]).
pub(super) fn write_text(text: &str, field: Field) -> Cow<'_, str> {
    let lead = text.len() - text.trim_start().len();
    let trail = text.trim_end().len().max(lead);
    // `env: x` and `reason: x` read `x`: a value's own leading colon is escaped.
    let after_keyword = matches!(field, Field::Environment | Field::Reason);
    // The parentheses of a project line are matched from its end: an environment's
    // own must be balanced there.
    let parens = field == Field::Environment && !balanced(text);
    let escaped = |i: usize, c: char| match c {
        '\\' => true,
        ',' => field == Field::Environment,
        ':' => after_keyword && i == 0,
        '(' | ')' => parens,
        '<' => opens_comment(text, i),
        c => c.is_control() || (c.is_whitespace() && (i < lead || i >= trail)),
    };
    if !text.char_indices().any(|(i, c)| escaped(i, c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, c) in text.char_indices() {
        match c {
            _ if !escaped(i, c) => out.push(c),
            '\\' | ',' | ':' | '<' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

/// True when the `<` at `i` in `text` starts `<!--`, which would open an HTML comment that
/// hides the rest of the document from a reader (and that the parser refuses list items
/// in): written `\<!--`, it is text.
fn opens_comment(text: &str, i: usize) -> bool {
    text.get(i..).is_some_and(|t| t.starts_with("<!--"))
}

/// True when `text`'s parentheses pair up, each `)` after its `(`.
fn balanced(text: &str) -> bool {
    text.chars().try_fold(0usize, |depth, c| match c {
        '(' => Some(depth + 1),
        ')' => depth.checked_sub(1),
        _ => Some(depth),
    }) == Some(0)
}

/// How `title` is written: as it is when that reads back the same, else escaped.
pub(super) fn write_title(title: &str) -> Cow<'_, str> {
    let plain = title == title.trim()
        && !title.contains('\\')
        && !title.chars().any(char::is_control)
        && !title.contains("<!--")
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
            '<' if opens_comment(title, i) => out.push_str("\\<"),
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

/// The text a written one stands for: escapes undone. An error says what is wrong and
/// where (a byte offset in `written`); `what` names the text (`a title`, `a reason`).
pub(super) fn unescape<'w>(written: &'w str, what: &str) -> Result<Cow<'w, str>, (usize, String)> {
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
                        format!("invalid escape in {what} (expected `\\u{{<1 to 6 hex digits>}}`)"),
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
            assert_eq!(unescape(t, "a title").ok().as_deref(), Some(t));
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
                unescape(written, "a title").ok().as_deref(),
                Some(title),
                "{written:?}"
            );
        }
    }

    #[test]
    fn other_text_is_escaped_where_its_line_would_misread_it() {
        for (text, field, written) in [
            ("Ops: EU (west)", Field::ProjectName, "Ops: EU (west)"),
            ("eu (west)", Field::Environment, "eu (west)"),
            (":", Field::Reason, "\\:"),
            ("::x", Field::Environment, "\\::x"),
            (":x", Field::ProjectName, ":x"),
            ("a, b", Field::Environment, "a\\, b"),
            ("a, b", Field::Reason, "a, b"),
            ("x)", Field::Environment, "x\\u{29}"),
            ("x)", Field::Reason, "x)"),
            (" on call ", Field::Reason, "\\u{20}on call\\u{20}"),
            ("C:\\new", Field::OrgName, "C:\\\\new"),
            ("two\nlines\u{7}", Field::Reason, "two\\nlines\\u{7}"),
        ] {
            assert_eq!(write_text(text, field), written, "{text:?}");
            assert_eq!(
                unescape(written, "text").ok().as_deref(),
                Some(text),
                "{written:?}"
            );
        }
    }

    #[test]
    fn a_bad_code_is_an_error_and_a_lone_backslash_is_itself() {
        assert!(unescape("x\\u{zz}", "a title").is_err());
        assert!(unescape("x\\u{110000}", "a title").is_err());
        assert_eq!(unescape("x\\u", "a title").ok().as_deref(), Some("xu"));
        assert_eq!(unescape("x\\", "a title").ok().as_deref(), Some("x\\"));
    }
}
