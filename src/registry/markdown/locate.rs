//! Where things are in a line — headings, list items, parenthesised items, keywords, a
//! grant's target and role — and which listed project a grant names.

use std::borrow::Cow;

use crate::error::{RegistryError, Result};
use crate::ids::Map;
use crate::roles::ProjectRole;
use crate::time::Instant;

/// How a date is written, for error messages.
pub(super) const DATE_HINT: &str =
    "an ISO-8601 date such as `2024-06-01` or `2024-06-01T12:00:00Z`";

/// One line of the document, for error positions.
pub(super) struct Ln<'a> {
    pub(super) no: usize,
    pub(super) text: &'a str,
}

impl Ln<'_> {
    /// An error at `at`, which must be a sub-slice of this line.
    pub(super) fn err(&self, at: &str, message: impl Into<String>) -> RegistryError {
        RegistryError {
            line: self.no,
            column: column(self.text, at),
            message: message.into(),
        }
    }
}

/// A space or a tab: the only characters `CommonMark` counts as indentation, as a blank
/// line's content, or as the separator after a list marker, a heading's `#` or a code
/// fence. U+00A0 and the other Unicode spaces are text to it, so a line such as
/// `\u{a0}- x` is shown as text and must not be read as a list item.
pub(super) fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `text` without its indentation (leading spaces and tabs).
pub(super) fn unindent(text: &str) -> &str {
    text.trim_start_matches([' ', '\t'])
}

/// True when `text` holds nothing but spaces and tabs: a blank line to `CommonMark`.
pub(super) fn is_blank(text: &str) -> bool {
    text.chars().all(is_space)
}

/// Byte offset of the sub-slice `inner` in `outer`.
pub(super) fn offset(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize)
        .saturating_sub(outer.as_ptr() as usize)
        .min(outer.len())
}

/// 1-based character column of the sub-slice `at` in `line`.
pub(super) fn column(line: &str, at: &str) -> usize {
    line.get(..offset(line, at))
        .map_or(1, |s| s.chars().count() + 1)
}

/// A heading's level and text, if `body` is an ATX heading.
pub(super) fn heading(body: &str) -> Option<(usize, &str)> {
    let level = body.chars().take_while(|&c| c == '#').count();
    let rest = body.get(level..)?;
    if level == 0 || !(rest.is_empty() || rest.starts_with(is_space)) {
        return None;
    }
    let text = rest.trim();
    let text = text.trim_end_matches('#').trim_end();
    Some((level, text))
}

/// `body` without the block-quote markers (`>`) in front of it, and whether it had any.
pub(super) fn unquote(body: &str) -> (bool, &str) {
    let mut rest = body;
    while let Some(inner) = rest.strip_prefix('>') {
        rest = unindent(inner);
    }
    (rest.len() != body.len(), rest)
}

/// True when `body` opens an HTML heading (`<h1>` to `<h6>`), which renders as one.
pub(super) fn html_heading(body: &str) -> bool {
    let Some(tag) = body.strip_prefix('<') else {
        return false;
    };
    let mut chars = tag.chars();
    matches!(chars.next(), Some('h' | 'H'))
        && matches!(chars.next(), Some('1'..='6'))
        && chars
            .next()
            .is_none_or(|c| c == '>' || c == '/' || c.is_whitespace())
}

/// The underline of a setext heading (a run of `=` or of `-` alone on its line), if
/// `body` can be one: it makes the paragraph line above it a heading.
pub(super) fn underline(body: &str) -> Option<&str> {
    let u = body.trim_end_matches(is_space);
    let first = u.chars().next()?;
    ((first == '=' || first == '-') && u.chars().all(|c| c == first)).then_some(u)
}

/// True when `body` is a thematic break (`***`, `- - -`, `___`): a rule, not text.
pub(super) fn thematic_break(body: &str) -> bool {
    let mut marks = body.chars().filter(|&c| !is_space(c));
    let Some(first) = marks.next() else {
        return false;
    };
    matches!(first, '*' | '-' | '_') && marks.clone().all(|c| c == first) && marks.count() >= 2
}

/// Why a line of text in a section reads as a heading of the list under it, though Markdown
/// does not make it one (`**Members**`, `Members:`, a caption above a list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Label {
    /// It names a section or a role (`**Members**`, `Admin:`): the heading it stands for.
    Names(&'static str),
    /// It is all emphasis (`**Contractors**`, `_On call_`).
    Emphasis,
    /// It starts with `#` (`##Members`, or a heading Markdown puts in the item above).
    Hash,
    /// It ends with `:`, as a line that introduces a list does.
    Colon,
    /// It ends a paragraph but no sentence, as a caption does.
    Unended,
}

/// The words a line of text may name a section by (singular or plural, any case), and the
/// section heading each stands for.
const SECTION_WORDS: [(&str, &str); 12] = [
    ("projects", "Projects"),
    ("project", "Projects"),
    ("owners", "Owners"),
    ("owner", "Owners"),
    ("admins", "Admins"),
    ("admin", "Admins"),
    ("members", "Members"),
    ("member", "Members"),
    ("viewers", "Viewers"),
    ("viewer", "Viewers"),
    ("external access", "External Access"),
    ("external", "External Access"),
];

/// Whether a line of text (`text`, without indentation or block-quote markers) reads as a
/// heading wherever it is: it names a section once its markup (emphasis, `#`, `:`, HTML
/// tags, other punctuation) is taken off its ends, or it is marked up as a label is.
pub(super) fn label(text: &str) -> Option<Label> {
    let text = text.trim();
    if !text.chars().any(char::is_alphanumeric) {
        return None; // a line of marks alone (`===`, `**`) names nothing
    }
    let bare = without_tags(text);
    let name = name_key(bare.trim_matches(|c: char| !c.is_alphanumeric()));
    if let Some((_, heading)) = SECTION_WORDS.iter().find(|(word, _)| *word == name) {
        return Some(Label::Names(heading));
    }
    let emphasis = |c: char| c == '*' || c == '_';
    if text.starts_with('#') {
        Some(Label::Hash)
    } else if text.ends_with(':') {
        Some(Label::Colon)
    } else if text.starts_with(emphasis) && text.ends_with(emphasis) {
        Some(Label::Emphasis)
    } else {
        None
    }
}

/// True when a line of text, the last of its paragraph, reads as the caption of the list
/// under it: it has a word, and ends no sentence (`.`, `!`, `?` or `…`, perhaps before
/// closing brackets or quotes).
pub(super) fn caption(text: &str) -> bool {
    let ends_sentence = text
        .trim_end()
        .trim_end_matches([')', ']', '"', '\'', '\u{201d}', '\u{2019}', '\u{bb}'])
        .ends_with(['.', '!', '?', '\u{2026}']);
    !ends_sentence && text.chars().any(char::is_alphanumeric)
}

/// `text` without its HTML tags (`<b>`, `</summary>`), which a reader does not see.
fn without_tags(text: &str) -> Cow<'_, str> {
    if !text.contains('<') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, from)) = rest.find('<').and_then(|i| rest.split_at_checked(i)) {
        out.push_str(before);
        let tag = from.get(1..).unwrap_or_default();
        let name = tag.strip_prefix('/').unwrap_or(tag);
        match tag.find('>') {
            Some(end) if name.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                rest = tag.get(end + 1..).unwrap_or_default();
            }
            _ => {
                out.push('<');
                rest = tag;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The text of a list item (`- `, `* ` or `+ `), if `body` is one.
pub(super) fn list_item(body: &str) -> Option<&str> {
    let rest = body
        .strip_prefix('-')
        .or_else(|| body.strip_prefix('*'))
        .or_else(|| body.strip_prefix('+'))?;
    if rest.is_empty() || rest.starts_with(is_space) {
        Some(rest.trim_start())
    } else {
        None
    }
}

/// The text after an ordered list item's marker (one to nine digits, then `.` or `)`),
/// if `body` is one.
pub(super) fn ordered_item(body: &str) -> Option<&str> {
    let digits = body.chars().take_while(char::is_ascii_digit).count();
    if !(1..=9).contains(&digits) {
        return None;
    }
    let rest = body.get(digits..)?;
    let rest = rest.strip_prefix('.').or_else(|| rest.strip_prefix(')'))?;
    (rest.is_empty() || rest.starts_with(is_space)).then(|| rest.trim_start())
}

/// Why `body`, a list item GitHub shows in a section's list, is not read as an entry of
/// it: it is numbered, or in a block quote. `None` for any other line.
pub(super) fn unread_item(body: &str) -> Option<String> {
    let (quoted, inner) = unquote(body);
    let body = body.trim_end();
    if let Some(text) = ordered_item(body).filter(|_| !quoted) {
        return Some(format!(
            "`{body}` is a numbered list item: GitHub shows it in the list, yet entries are read only from `- ` items; write it as `- {}`",
            text.trim_end()
        ));
    }
    (quoted && (list_item(inner).is_some() || ordered_item(inner).is_some())).then(|| {
        format!(
            "`{body}` is a list item in a block quote: GitHub shows it under the section, yet entries are not read from a quote; remove the `>` to list it, or write it as a sentence"
        )
    })
}

pub(super) fn strip_suffix_ci<'t>(text: &'t str, suffix: &str) -> Option<&'t str> {
    let cut = text.len().checked_sub(suffix.len())?;
    let (head, tail) = text.split_at_checked(cut)?;
    (tail.eq_ignore_ascii_case(suffix) && (head.is_empty() || head.ends_with(char::is_whitespace)))
        .then_some(head)
}

/// The byte index of the `(` matching a `)` just after the end of `before`.
pub(super) fn matching_open(before: &str) -> Option<usize> {
    let mut depth = 1usize;
    for (i, c) in before.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The comma-separated items of parentheses, trimmed (sub-slices of `inner`); with
/// `reason`, an item starting with the keyword `reason` takes the rest, commas included.
/// The keywords of a person's items (besides `external`, a whole item).
pub(super) const PERSON_KEYWORDS: [&str; 3] = ["expires", "reviewed", "reason"];

pub(super) fn items(inner: &str, reason: bool) -> Vec<&str> {
    let mut out = Vec::new();
    if inner.trim().is_empty() {
        return out;
    }
    let mut rest = inner;
    loop {
        let start = rest.trim_start();
        if reason && keyword(start, "reason").is_some() {
            out.push(start.trim_end());
            break;
        }
        // A comma escaped in a title (`\,`) separates nothing.
        if let Some((item, tail)) =
            next_comma(rest).and_then(|i| Some((rest.get(..i)?, rest.get(i + 1..)?)))
        {
            out.push(item.trim());
            rest = tail;
        } else {
            out.push(rest.trim());
            break;
        }
    }
    out
}

/// If `item` starts with the keyword `kw` as a whole word (any case), its value: the rest
/// of the item, trimmed, with an optional `:` after the keyword.
pub(super) fn keyword<'t>(item: &'t str, kw: &str) -> Option<&'t str> {
    let head = item.get(..kw.len())?;
    if !head.eq_ignore_ascii_case(kw) {
        return None;
    }
    let tail = item.get(kw.len()..)?;
    match tail.chars().next() {
        None => Some(tail),
        Some(c) if c.is_whitespace() || c == ':' => {
            let t = tail.trim_start();
            Some(t.strip_prefix(':').unwrap_or(t).trim())
        }
        Some(_) => None,
    }
}

/// The byte offset of the first `,` in `text` that is not escaped (`\\,` in a title,
/// see `escape`).
pub(super) fn next_comma(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => return Some(i),
            _ => {}
        }
    }
    None
}

pub(super) struct GrantParts<'t> {
    pub(super) target: &'t str,
    pub(super) role: &'t str,
    pub(super) inner: Option<&'t str>,
}

/// Splits `<target>: <role> [(<items>)]` at the first `:` that is followed by a single
/// word and optional parentheses (so project names may contain `:`).
pub(super) fn split_grant(item: &str) -> Option<GrantParts<'_>> {
    for (i, _) in item.match_indices(':') {
        let target = item.get(..i)?.trim();
        let after = item.get(i + 1..)?.trim_start();
        let word_len = after
            .find(|c: char| !c.is_alphanumeric() && c != '_' && c != '-')
            .unwrap_or(after.len());
        let (role, rest) = after.split_at_checked(word_len)?;
        if role.is_empty() {
            continue;
        }
        let rest = rest.trim();
        if rest.is_empty() {
            return Some(GrantParts {
                target,
                role,
                inner: None,
            });
        }
        if let Some(inner) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
            return Some(GrantParts {
                target,
                role,
                inner: Some(inner),
            });
        }
    }
    None
}

pub(super) fn project_role(ln: &Ln<'_>, text: &str) -> Result<ProjectRole, RegistryError> {
    ProjectRole::ALL
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            ln.err(
                text,
                format!("unknown role `{text}` (expected viewer, member or admin)"),
            )
        })
}

pub(super) fn date_time(ln: &Ln<'_>, text: &str) -> Result<Instant, RegistryError> {
    Instant::parse("expires", text).map_err(|_| {
        ln.err(
            text,
            format!("invalid date `{text}` (expected {DATE_HINT})"),
        )
    })
}

pub(super) enum Resolved {
    All,
    Project(usize),
    Ambiguous,
    Unknown,
}

/// Projects by slug and by name (any case), for resolving grant targets.
#[derive(Default)]
pub(super) struct ProjectIndex {
    pub(super) by_slug: Map<String, usize>,
    pub(super) by_name: Map<String, Vec<usize>>,
}

impl ProjectIndex {
    pub(super) fn add(&mut self, i: usize, slug: &str, name: &str) {
        self.by_slug.insert(slug.to_owned(), i);
        self.by_name.entry(name_key(name)).or_default().push(i);
    }

    /// `*` or `All projects`, then a slug, then a name in any case.
    pub(super) fn resolve(&self, target: &str) -> Resolved {
        let t = target.trim();
        if t == "*" || name_key(t) == "all projects" {
            return Resolved::All;
        }
        if let Some(&i) = self.by_slug.get(t) {
            return Resolved::Project(i);
        }
        match self.by_name.get(&name_key(t)).map(Vec::as_slice) {
            Some([i]) => Resolved::Project(*i),
            Some([_, _, ..]) => Resolved::Ambiguous,
            _ => Resolved::Unknown,
        }
    }
}

/// How names are compared: lower-case, runs of whitespace as one space.
pub(super) fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The columns of `line`'s indentation (a tab to the next multiple of four).
pub(super) fn columns(line: &str) -> usize {
    line.chars().take_while(|&c| is_space(c)).fold(0, |at, c| {
        if c == '\t' {
            at + 4 - at % 4
        } else {
            at + 1
        }
    })
}

/// Whether `line` ends the list item whose text starts at column `text`: when `ends`
/// (it follows a blank line, or is not a line of text) and it is indented less, as
/// `CommonMark` 5.2 ends an item. Blank lines end none.
pub(super) fn ends_item(line: &str, ends: bool, text: usize) -> bool {
    ends && !is_blank(line) && columns(line) < text
}

/// Why the nested item `body`, indented `indent` columns, is no item of the person's to
/// a reader, when the person's text starts at column `person` and the text of the item
/// above it at `above`: less indented than the person's text, it is an item of the outer
/// list; four columns past the text above, `CommonMark` reads it as code (after a blank
/// line) or as more of that item's text — a grant GitHub showed as code was imported.
pub(super) fn too_deep(
    body: &str,
    indent: usize,
    (person, above): (usize, usize),
) -> Option<String> {
    let body = body.trim_end();
    if indent < person {
        return Some(format!(
            "`{body}` is indented {indent} columns, less than the text of the person above it: GitHub shows it as an item of the outer list, not one of theirs; indent it by {person} to {} columns",
            above + 3
        ));
    }
    // The item it would nest in: the one above, or (less indented than its text) the
    // person's.
    let base = if indent >= above { above } else { person };
    (indent >= base + 4).then(|| {
        format!(
            "`{body}` is indented {indent} columns, four or more past the text of the list item above it: GitHub shows it as code or as that item's text, not as a grant; indent it by at most {} columns",
            base + 3
        )
    })
}

/// The column (0-based) where the text of the list item `line` starts: after its
/// indentation, its marker and one to four spaces (`CommonMark` 5.2: with five or more, or
/// none before the end of the line, the text starts one space after the marker).
pub(super) fn item_text(line: &str) -> usize {
    let marker = columns(line) + 1;
    let rest = unindent(line).get(1..).unwrap_or_default();
    let spaces = rest.chars().take_while(|c| *c == ' ').count();
    if (1..=4).contains(&spaces) && rest.len() > spaces {
        marker + spaces
    } else {
        marker + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn keywords_are_whole_words() {
        assert_eq!(keyword("Expires 2024-06-01", "expires"), Some("2024-06-01"));
        assert_eq!(
            keyword("expires: 2024-06-01", "expires"),
            Some("2024-06-01")
        );
        assert_eq!(keyword("pii", "pii"), Some(""));
        assert_eq!(keyword("reasonable", "reason"), None);
        assert_eq!(keyword("env", "environment"), None);
    }

    #[test]
    pub(super) fn items_give_reason_the_rest() {
        assert_eq!(
            items("CTO, expires 2024-06-01, reason a, b (c)", true),
            vec!["CTO", "expires 2024-06-01", "reason a, b (c)"]
        );
        assert_eq!(items(" ", true), Vec::<&str>::new());
    }

    #[test]
    fn commas_split_unless_escaped() {
        assert_eq!(next_comma("a\\, b, c"), Some(5));
        assert_eq!(next_comma("a\\\\, b"), Some(3));
        assert_eq!(next_comma("a\\,"), None);
    }

    #[test]
    fn labels_are_told_from_prose() {
        assert_eq!(label("**Members:**"), Some(Label::Names("Members")));
        assert_eq!(
            label("<b>External   access</b>"),
            Some(Label::Names("External Access"))
        );
        assert_eq!(label("<!-- viewer -->"), Some(Label::Names("Viewers")));
        assert_eq!(label("#on-call"), Some(Label::Hash));
        assert_eq!(label("On call:"), Some(Label::Colon));
        assert_eq!(label("_On call_"), Some(Label::Emphasis));
        assert_eq!(label("**Note**: owners are reviewed."), None);
        assert_eq!(label("Members of the board, 3 < 4 > 2"), None);
        assert_eq!(label("**"), None);
        assert!(!caption("(Reviewed by the \"CTO.\")"));
        assert!(!caption("==="));
        assert!(caption("Read-only staff"));
        assert!(caption("<!-- keep sorted -->"));
    }

    #[test]
    pub(super) fn grant_lines_split_at_the_role() {
        let p = split_grant("Ops: EU: admin (reason x: y)").map(|p| (p.target, p.role, p.inner));
        assert_eq!(p, Some(("Ops: EU", "admin", Some("reason x: y"))));
        assert!(split_grant("Production admin").is_none());
    }
}
