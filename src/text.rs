//! Text made safe to show or to hand on: a message clipped to a readable length, an API
//! secret masked, a spreadsheet cell that cannot run as a formula, a character a reader
//! cannot see written out. Plain functions on
//! `str` that every floor may call (errors build their messages with them).

use std::borrow::Cow;

/// The most characters of user input a message repeats (a path, a value): enough for
/// any identifier (an email is at most 254), never the hundreds of kilobytes a deeply
/// nested document or a pasted file would make.
pub const SHOWN: usize = 256;

/// The most characters of a whole message (which may quote a few values).
pub const MESSAGE: usize = 1024;

/// `text` cut to about `max` characters: its head and its tail, with the number of
/// characters left out between them (`$.a.a.a…(199744 characters)….a.a`).
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    let count = text.chars().count();
    if count <= max {
        return Cow::Borrowed(text);
    }
    let keep = max / 2;
    let head_end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let tail_start = text
        .char_indices()
        .nth(count - keep)
        .map_or(text.len(), |(i, _)| i);
    let head = text.get(..head_end).unwrap_or_default();
    let tail = text.get(tail_start..).unwrap_or_default();
    Cow::Owned(format!("{head}…({} characters)…{tail}", count - 2 * keep))
}

/// The prefix of a personal API key's secret.
pub const SECRET_PREFIX: &str = "agp_";

/// The mask of a personal key's secret: its prefix and its last four characters
/// (`agp_...9f3a`), enough for a person to recognise it, never enough to use it (a
/// text too short to be a real secret shows no tail).
pub fn mask_secret(secret: &str) -> String {
    let tail = secret
        .len()
        .checked_sub(4)
        .filter(|&i| i >= SECRET_PREFIX.len() + 8)
        .and_then(|i| secret.get(i..))
        .unwrap_or_default();
    format!("{SECRET_PREFIX}...{tail}")
}

/// `text` with every API secret in it (`agp_` and the letters, digits, `-` and `_`
/// after it) replaced by its [`mask_secret`]: for a message or a decision that repeats
/// what a caller passed where a user was expected.
pub fn mask_secrets(text: &str) -> Cow<'_, str> {
    if !text.contains(SECRET_PREFIX) {
        return Cow::Borrowed(text);
    }
    let token = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(SECRET_PREFIX) {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let body = from.get(SECRET_PREFIX.len()..).unwrap_or_default();
        let len = body.find(|c| !token(c)).unwrap_or(body.len());
        let secret = from.get(..SECRET_PREFIX.len() + len).unwrap_or(from);
        if len == 0 {
            // The prefix alone (or a mask already: `agp_...9f3a`) hides nothing.
            out.push_str(SECRET_PREFIX);
        } else {
            out.push_str(&mask_secret(secret));
        }
        rest = from.get(secret.len()..).unwrap_or_default();
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The characters that make a spreadsheet read a cell as a formula (or, TAB and CR,
/// that some spreadsheets strip before doing so): CWE-1236.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// True when `cell` is one [`spreadsheet_safe`] prefixes: formula characters, possibly
/// behind quotes (so that a value which starts with a quote reads back as well).
fn needs_quote(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(FORMULA_START)
}

/// A CSV cell a spreadsheet shows as text (CWE-1236, "CSV injection"): a value that
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return — after any number of
/// `'` — gets one more `'` in front, which spreadsheets read as "this is text" and do
/// not show. [`spreadsheet_value`] gives the value back.
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    if needs_quote(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A CSV record whose every cell is [`spreadsheet_safe`].
pub fn spreadsheet_row<S: AsRef<str>, const N: usize>(cells: [S; N]) -> [String; N] {
    cells.map(|cell| spreadsheet_safe(cell.as_ref()).into_owned())
}

/// The value a [`spreadsheet_safe`] cell holds: the quote it added taken off again.
pub fn spreadsheet_value(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(value) if needs_quote(value) => value,
        _ => cell,
    }
}

/// True for a character a reader does not see, or that changes the direction of the text
/// around it: Unicode's default-ignorable code points (zero-width characters, the soft
/// hyphen, variation selectors, tags …), which include every bidirectional control
/// (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069).
pub fn invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0xAD | 0x34F
            | 0x61C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// `text` for people: each [`invisible`] character written as `\u{202e}`. A terminal
/// or a browser that obeyed U+202E would draw `admin@` U+202E `oi.emca` as
/// `admin@acme.io`; the review, the report and the command line show it this way.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(invisible) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if invisible(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_writes_out_what_a_reader_cannot_see_and_nothing_else() {
        assert_eq!(shown("admin@acme.io"), "admin@acme.io");
        assert_eq!(
            shown("jos\u{e9}@m\u{fc}ller.de"),
            "jos\u{e9}@m\u{fc}ller.de"
        );
        assert_eq!(shown("admin@\u{202e}oi.emca"), "admin@\\u{202e}oi.emca");
        assert_eq!(
            shown("a\u{200b}b\u{ad}c\u{feff}"),
            "a\\u{200b}b\\u{ad}c\\u{feff}"
        );
        assert!(matches!(shown("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn clip_keeps_short_text_and_both_ends_of_long_text() {
        assert_eq!(clip("acme", SHOWN), "acme");
        let long = format!("$.{}b", "a.".repeat(100_000));
        let clipped = clip(&long, SHOWN);
        assert!(clipped.chars().count() < SHOWN + 40, "{clipped}");
        assert!(clipped.starts_with("$.a.a."));
        assert!(clipped.ends_with("a.a.b"));
        assert!(clipped.contains("(199747 characters)"), "{clipped}");
        // Never cut inside a character.
        let wide = "é".repeat(SHOWN + 1);
        assert!(clip(&wide, SHOWN).contains("(1 characters)"));
        assert_eq!(clip(&wide, SHOWN + 1), wide);
    }

    #[test]
    fn secrets_are_masked_wherever_they_appear() {
        let secret = "agp_731291cb116e14000602a6dd5b8b86a2f76577f4d3c309e8";
        assert_eq!(mask_secret(secret), "agp_...09e8");
        assert_eq!(
            mask_secrets(&format!("invalid user `{secret}`: an email address")),
            "invalid user `agp_...09e8`: an email address"
        );
        assert_eq!(
            mask_secrets(&format!("{secret} and {secret}x-y_z!")),
            "agp_...09e8 and agp_...-y_z!"
        );
        assert_eq!(mask_secrets("agp_"), "agp_");
        assert_eq!(mask_secrets("agp_12345"), "agp_...");
        // Masking twice changes nothing.
        let once = mask_secrets(secret).into_owned();
        assert_eq!(mask_secrets(&once), once);
        assert_eq!(mask_secrets("agp_..."), "agp_...");
        assert!(matches!(mask_secrets("jane@example.com"), Cow::Borrowed(_)));
    }

    #[test]
    fn spreadsheet_cells_never_start_a_formula_and_read_back() {
        for (value, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'=x", "''=x"),
            ("''-x", "'''-x"),
            ("'quoted", "'quoted"),
            ("plain = text", "plain = text"),
            ("", ""),
            ("'", "'"),
        ] {
            assert_eq!(spreadsheet_safe(value), written, "{value:?}");
            assert_eq!(spreadsheet_value(written), value, "{written:?}");
            let first = spreadsheet_safe(value).chars().next();
            assert!(
                !first.is_some_and(|c| FORMULA_START.contains(&c)),
                "{value:?}"
            );
        }
    }
}
