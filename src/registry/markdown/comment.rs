//! HTML comments (`<!-- … -->`), which GitHub does not render, and fenced code: what of
//! each line a reader sees, and the list items a comment would hide from them.
//!
//! Fenced code opens at a line of three or more backticks or tildes and closes only at a
//! line of the same character, at least as long and with nothing after it, as GitHub
//! closes it (else to the end of the document): what a reader sees as code is never read.
//! As in `CommonMark`, a fence is indented by at most three spaces, and a backtick fence's
//! info string holds no backtick (```` ```a`b ```` is text). Where a renderer's reading
//! turns on the list around a fence — a fence indented four spaces or more (a fence in a
//! list item, or an indented code block, or text), a closing fence so indented under a
//! fence indented two or three (which may belong to a list item), a line indented less
//! than such a fence (which ends the list item, and the code with it, or is code) — the
//! line is refused: a closing fence the parser took where the renderer sees code let an
//! entry be read that readers saw as code, and a fence the renderer does not see hid the
//! rest of the document from the parser.
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
    /// The fence of the fenced code the line is in.
    fence: Option<Fence>,
}

/// An open fence: its character, its length, its indentation (columns) and its line.
#[derive(Debug, Clone, Copy)]
struct Fence {
    mark: char,
    len: usize,
    indent: usize,
    line: usize,
}

impl Fence {
    /// Whether the fence may belong to a list item (indented as far as the narrowest
    /// item's text, `- `), so that a renderer ends it with the item.
    fn may_be_in_item(self) -> bool {
        self.indent >= 2
    }
}

impl Comments {
    /// What a reader sees of `ln`; its comments open or close the one carried over, its
    /// fence opens or closes fenced code.
    pub(super) fn line(&mut self, ln: &Ln<'_>) -> Seen {
        let text = ln.text;
        if self.open.is_none() {
            if let Some(seen) = self.fenced(ln) {
                return seen;
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

impl Comments {
    /// What `ln` is to fenced code: a fence, a line of code, or refused; `None` for a
    /// line outside fenced code that opens none.
    fn fenced(&mut self, ln: &Ln<'_>) -> Option<Seen> {
        let text = ln.text;
        let body = text.trim_start_matches([' ', '\t']);
        let indent = columns(text.get(..text.len() - body.len()).unwrap_or_default());
        let marks = fence(body);
        let refuse = |message: String| Some(Seen::Refused(ln.err(body, message)));
        let Some(open) = self.fence else {
            let (mark, len, rest) = marks?;
            if mark == '`' && rest.contains('`') {
                return None; // text with a code span, as CommonMark reads it
            }
            if indent >= 4 {
                return refuse(format!(
                    "`{}` is indented {indent} columns: Markdown reads it as a code fence inside a list item, and as code or text elsewhere; indent it by at most three spaces, or delete it",
                    body.trim_end()
                ));
            }
            self.fence = Some(Fence {
                mark,
                len,
                indent,
                line: ln.no,
            });
            return Some(Seen::Fence);
        };
        if open.may_be_in_item() && indent < open.indent && !body.trim().is_empty() {
            return refuse(format!(
                "this line is indented less than the code fence opened on line {}: Markdown ends that code here if the fence is in a list item, and not otherwise; indent the fence and its code alike, at most three spaces",
                open.line
            ));
        }
        // Only a fence of the same character, at least as long, with nothing after it,
        // closes fenced code (```` ``` ```` or `~~~` does not close ```` ```` ````): the
        // lines before it are code to a reader.
        match marks {
            Some((m, k, rest)) if m == open.mark && k >= open.len && rest.trim().is_empty() => {
                if indent < 4 {
                    self.fence = None;
                    return Some(Seen::Fence);
                }
                if open.may_be_in_item() {
                    return refuse(format!(
                        "`{}` is indented {indent} columns: Markdown closes the code fence opened on line {} here if that fence is in a list item, and reads it as code otherwise; indent it as the fence is",
                        body.trim_end(),
                        open.line
                    ));
                }
                Some(Seen::Code)
            }
            _ => Some(Seen::Code),
        }
    }
}

/// How many columns `indentation` (spaces and tabs) takes, tabs stopping at multiples of
/// four as in `CommonMark`.
fn columns(indentation: &str) -> usize {
    indentation
        .chars()
        .fold(0, |at, c| if c == '\t' { at + 4 - at % 4 } else { at + 1 })
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
