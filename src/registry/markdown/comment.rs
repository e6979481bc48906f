//! HTML comments (`<!-- … -->`), which GitHub does not render, and fenced code: what of
//! each line a reader sees, and the list items a comment would hide from them.
//!
//! Fenced code opens at a line of three or more backticks or tildes and closes only at a
//! line of the same character, at least as long and with nothing after it, as GitHub
//! closes it (else to the end of the document): what a reader sees as code is never read.
//!
//! A comment opens at any unescaped `<!--` outside fenced code (at the start of a line, an
//! HTML block; mid-line, inline HTML) and closes at the first `-->` after it, on its line
//! or a later one; one never closed runs to the end of the document. This errs towards
//! hiding (a `<!--` in a code span opens one here), and hiding refuses rather than drops:
//! a list item in a comment is an error, never imported unseen.

use super::locate::{column, list_item, unquote, Ln};
use crate::error::RegistryError;

/// What a reader sees of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seen {
    /// All of it: it holds no comment.
    Whole,
    /// Only this text: the line without its comments (a comment at its start or carried
    /// over from above makes it an HTML block line, of which the text after `-->` is seen).
    Part(String),
    /// Nothing: the line is in a comment, or holds only comments.
    Hidden,
    /// A list item is in a comment, or follows one on an HTML block line.
    Refused(RegistryError),
    /// A fence that opens or closes fenced code.
    Fence,
    /// A line of fenced code, seen as code.
    Code,
}

/// The comment state carried from line to line.
#[derive(Debug, Default)]
pub(super) struct Comments {
    /// The line the comment still open was opened on.
    open: Option<usize>,
    /// The fence of the fenced code the line is in: its character and length.
    fence: Option<(char, usize)>,
}

impl Comments {
    /// What a reader sees of `ln`; its comments open or close the one carried over, its
    /// fence opens or closes fenced code.
    pub(super) fn line(&mut self, ln: &Ln<'_>) -> Seen {
        let text = ln.text;
        if self.open.is_none() {
            let marks = fence(text.trim_start());
            match (self.fence, marks) {
                // Only a fence of the same character, at least as long, with nothing
                // after it, closes fenced code (```` ``` ```` or `~~~` does not close
                // ```` ```` ````): the lines before it are code to a reader.
                (Some((c, n)), Some((m, k, rest)))
                    if m == c && k >= n && rest.trim().is_empty() =>
                {
                    self.fence = None;
                    return Seen::Fence;
                }
                (Some(_), _) => return Seen::Code,
                (None, Some((m, k, _))) => {
                    self.fence = Some((m, k));
                    return Seen::Fence;
                }
                (None, None) => {}
            }
        }
        let (_, inner) = unquote(text.trim_start());
        let indent = text.len() - text.trim_start().len();
        let block = self.open.is_some() || (indent < 4 && inner.starts_with("<!--"));
        let mut visible = String::new();
        let mut rest = text;
        let mut commented = false;
        loop {
            if let Some(opened) = self.open {
                commented = true;
                let (hidden, after) = match rest.find("-->") {
                    Some(end) => (rest.get(..end), rest.get(end + 3..)),
                    None => (Some(rest), None),
                };
                if let Some(e) = hidden.and_then(|h| hidden_item(ln, h, opened)) {
                    return Seen::Refused(e);
                }
                let Some(after) = after else { break };
                self.open = None;
                rest = after;
            } else if let Some(at) = opening(rest) {
                commented = true;
                visible.push_str(rest.get(..at).unwrap_or_default());
                let after = rest.get(at + 4..).unwrap_or_default();
                // `<!-->` and `<!--->` are whole (empty) comments, as CommonMark reads them.
                if let Some(after) = after.strip_prefix('>').or_else(|| after.strip_prefix("->")) {
                    rest = after;
                } else {
                    self.open = Some(ln.no);
                    rest = after;
                }
            } else {
                visible.push_str(rest);
                break;
            }
        }
        if !commented {
            return Seen::Whole;
        }
        if block {
            // The text after `-->` on an HTML block line is raw HTML: a reader does not
            // see a list item there, so none is read.
            let lead = visible.len() - visible.trim_start().len();
            visible.drain(..lead);
            let after = visible.as_str();
            if list_item(unquote(after).1).is_some() {
                let at = text
                    .rfind(after.trim_end())
                    .map_or(text, |i| text.get(i..).unwrap_or(text));
                return Seen::Refused(RegistryError {
                    line: ln.no,
                    column: column(text, at),
                    message: format!(
                        "`{}` follows an HTML comment on its line, so it is not shown as a list item: put it on a line of its own",
                        after.trim_end()
                    ),
                });
            }
        }
        if visible.trim().is_empty() {
            Seen::Hidden
        } else {
            Seen::Part(visible)
        }
    }
}

/// The error for a list item in `hidden`, the part of `ln` in the comment opened on line
/// `opened`, if it holds one.
fn hidden_item(ln: &Ln<'_>, hidden: &str, opened: usize) -> Option<RegistryError> {
    let (_, inner) = unquote(hidden.trim_start());
    list_item(inner)?;
    Some(RegistryError {
        line: ln.no,
        column: column(ln.text, inner),
        message: format!(
            "list item `{}` is hidden from readers by the HTML comment opened on line {opened}, yet would be imported: delete it or move it out of the comment",
            inner.trim_end()
        ),
    })
}

/// The character and length of the fence `body` starts with (three or more backticks or
/// tildes), and what follows it.
fn fence(body: &str) -> Option<(char, usize, &str)> {
    let c = body.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let n = body.chars().take_while(|&m| m == c).count();
    (n >= 3).then(|| (c, n, body.get(n..).unwrap_or_default()))
}

/// Where the first `<!--` that is not backslash-escaped starts in `text`.
fn opening(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if c == '<' && !escaped && text.get(i..).is_some_and(|t| t.starts_with("<!--")) {
            return Some(i);
        }
        escaped = c == '\\' && !escaped;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(lines: &[&str]) -> Vec<Seen> {
        let mut c = Comments::default();
        lines
            .iter()
            .enumerate()
            .map(|(i, text)| c.line(&Ln { no: i + 1, text }))
            .collect()
    }

    #[test]
    fn comments_are_taken_out_of_lines() {
        assert_eq!(
            seen(&[
                "a <!-- b --> c",
                "<!-- x -->",
                "<!--",
                "x",
                "--> y",
                "\\<!-- z",
                "<!-->w"
            ]),
            [
                Seen::Part("a  c".to_owned()),
                Seen::Hidden,
                Seen::Hidden,
                Seen::Hidden,
                Seen::Part("y".to_owned()),
                Seen::Whole,
                Seen::Part("w".to_owned()),
            ]
        );
        assert!(matches!(seen(&["<!--", "> - x"]).get(1), Some(Seen::Refused(e)) if e.column == 3));
        assert!(
            matches!(seen(&["<!-- -->  - x"]).first(), Some(Seen::Refused(e)) if e.column == 11)
        );
    }
}
