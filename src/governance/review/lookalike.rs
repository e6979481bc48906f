//! Addresses that can pass for others in a review (the `lookalike-email` rule): one that
//! holds a character a reader does not see or that reorders the text around it, one
//! whose domain mixes Latin letters with Greek, Cyrillic, Armenian or Cherokee ones
//! (`admin@аcme.io`, its `а` Cyrillic), and one whose domain label is written wholly in
//! letters of one of those scripts that look Latin (`асе.io`, which reads as `ace.io`).
//! The email validator accepts all of these, as Django's does: an internationalised
//! domain is a real address, so this is a finding for a person to check, not an error.

use crate::text::invisible;

/// The script of a letter, among those whose letters can pass for Latin ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Greek,
    Cyrillic,
    Armenian,
    Cherokee,
    /// Any other letter (Han, Arabic, …): not mistaken for Latin.
    Other,
}

/// The script of `c` when it is a letter, by Unicode block.
fn script(c: char) -> Option<Script> {
    Some(match u32::from(c) {
        0x41..=0x5A
        | 0x61..=0x7A
        | 0xC0..=0xD6
        | 0xD8..=0xF6
        | 0xF8..=0x24F
        | 0x1E00..=0x1EFF
        | 0x2C60..=0x2C7F
        | 0xA720..=0xA7FF
        | 0xAB30..=0xAB6F => Script::Latin,
        0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Greek,
        0x400..=0x52F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Cyrillic,
        0x531..=0x58F => Script::Armenian,
        0x13A0..=0x13FF | 0xAB70..=0xABBF => Script::Cherokee,
        _ if c.is_alphabetic() => Script::Other,
        _ => return None,
    })
}

impl Script {
    fn name(self) -> &'static str {
        match self {
            Script::Latin => "Latin",
            Script::Greek => "Greek",
            Script::Cyrillic => "Cyrillic",
            Script::Armenian => "Armenian",
            Script::Cherokee => "Cherokee",
            Script::Other => "other",
        }
    }
}

/// Greek, Cyrillic and Armenian letters that pass for Latin ones, with the Latin letter
/// each passes for.
const LOOK_LATIN: [(char, char); 29] = [
    // Cyrillic
    ('а', 'a'),
    ('с', 'c'),
    ('ԁ', 'd'),
    ('е', 'e'),
    ('һ', 'h'),
    ('і', 'i'),
    ('ј', 'j'),
    ('ӏ', 'l'),
    ('о', 'o'),
    ('р', 'p'),
    ('ԛ', 'q'),
    ('ѕ', 's'),
    ('ԝ', 'w'),
    ('х', 'x'),
    ('у', 'y'),
    // Greek
    ('α', 'a'),
    ('ι', 'i'),
    ('κ', 'k'),
    ('ν', 'v'),
    ('ο', 'o'),
    ('ρ', 'p'),
    ('υ', 'u'),
    ('χ', 'x'),
    ('ϳ', 'j'),
    // Armenian
    ('ց', 'g'),
    ('հ', 'h'),
    ('ո', 'n'),
    ('ս', 'u'),
    ('օ', 'o'),
];

/// The Latin letter a non-Latin letter passes for, where it passes for one.
fn looks_latin(c: char) -> Option<char> {
    LOOK_LATIN.iter().find(|(x, _)| *x == c).map(|&(_, l)| l)
}

/// `c` named for a reviewer: `` `а` (U+0430, Cyrillic) ``.
fn named(c: char) -> String {
    let script = script(c).map_or(String::new(), |s| format!(", {}", s.name()));
    if invisible(c) {
        format!("U+{:04X}{script}", u32::from(c))
    } else {
        format!("`{c}` (U+{:04X}{script})", u32::from(c))
    }
}

/// Why `email` can pass for another address in a review, if it can.
pub(super) fn why(email: &str) -> Option<String> {
    if let Some(c) = email.chars().find(|&c| invisible(c)) {
        return Some(format!(
            "holds {}, a character a reader does not see or that reorders the text around it",
            named(c)
        ));
    }
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
    for label in domain.split('.') {
        let mut latin = None;
        let mut lookalike: Option<(char, Script)> = None;
        for c in label.chars() {
            match script(c) {
                Some(Script::Latin) => latin = latin.or(Some(c)),
                Some(Script::Other) | None => {}
                Some(s) => lookalike = lookalike.or(Some((c, s))),
            }
        }
        match (latin, lookalike) {
            (Some(l), Some((c, s))) => {
                return Some(format!(
                    "has a domain that mixes {} letters with Latin ones: {} beside `{l}` in `{label}`",
                    s.name(),
                    named(c),
                ));
            }
            (None, Some((c, s))) => {
                // Written wholly in one script's letters that pass for Latin ones.
                let skeleton: Option<String> = label
                    .chars()
                    .map(|x| {
                        if x.is_ascii_digit() || x == '-' {
                            Some(x)
                        } else {
                            looks_latin(x)
                        }
                    })
                    .collect();
                if let Some(reads) = skeleton {
                    return Some(format!(
                        "has a domain label, `{label}`, whose {} letters read as the Latin `{reads}` (the first is {})",
                        s.name(),
                        named(c),
                    ));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalikes_are_found_and_plain_addresses_are_not() {
        for plain in [
            "admin@acme.io",
            "a.b+c@sub.example.co.uk",
            "jose@müller.de",
            "x@例え.jp",
            "x@пример.рф",
        ] {
            assert_eq!(why(plain), None, "{plain}");
        }
        let mixed = why("admin@аcme.io").unwrap_or_default();
        assert!(
            mixed.contains("mixes Cyrillic letters with Latin ones"),
            "{mixed}"
        );
        assert!(mixed.contains("`а` (U+0430, Cyrillic)"), "{mixed}");
        let whole = why("admin@асе.io").unwrap_or_default();
        assert!(whole.contains("read as the Latin `ace`"), "{whole}");
        let greek = why("admin@gοοgle.com").unwrap_or_default();
        assert!(greek.contains("Greek"), "{greek}");
        for hidden in [
            "admin@acme.io\u{202e}",
            "ad\u{200b}min@acme.io",
            "a@ac\u{ad}me.io",
        ] {
            let w = why(hidden).unwrap_or_default();
            assert!(w.contains("a reader does not see"), "{w}");
            // Shown in a finding as `text::shown` writes it, the character is visible.
            assert!(
                !crate::text::shown(hidden).chars().any(invisible),
                "{hidden:?}"
            );
        }
    }
}
