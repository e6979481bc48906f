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

use super::locate::{
    column, columns, heading, html_heading, is_blank, list_item, ordered_item, unindent, unquote,
    Ln,
};
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
    /// The HTML block the line is in.
    html: Option<Html>,
}

/// An HTML block (`CommonMark` 4.6) that lines after its first belong to: what ends it and
/// the line it opened on.
#[derive(Debug, Clone, Copy)]
struct Html {
    end: HtmlEnd,
    line: usize,
}

/// What ends an HTML block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HtmlEnd {
    /// A blank line (which is not part of it): a block-level tag (`<div>`, `<details>`,
    /// `<table>` …), or any other tag alone on its line.
    Blank,
    /// The line holding `</pre>`, `</script>`, `</style>` or `</textarea>`: raw text.
    Raw,
    /// The line holding this text (`?>`, `]]>`, `>`).
    Text(&'static str),
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
        // A carriage return alone ends a line to CommonMark, not to `str::lines`: the
        // line after one (`\r## Admins` after a closing fence) was hidden, or read
        // as part of this one.
        if let Some(at) = ln.text.find('\r') {
            return Seen::Refused(ln.err(
                ln.text.get(at..).unwrap_or_default(),
                "a carriage return not followed by a line feed: end lines with `\\n` or `\\r\\n`",
            ));
        }
        let mut html = None;
        if self.open.is_none() {
            if self.html.is_some() {
                html = self.in_html(ln);
            } else {
                if let Some(seen) = self.fenced(ln) {
                    return seen;
                }
                self.open_html(ln);
            }
        }
        match (html, self.comments(ln)) {
            (_, refused @ Seen::Refused(_)) => refused,
            (Some(seen), _) | (None, seen) => seen,
        }
    }

    /// [`Comments::line`] for a line outside fenced code: its comments.
    fn comments(&mut self, ln: &Ln<'_>) -> Seen {
        let text = ln.text;
        let (_, inner) = unquote(unindent(text));
        let indent = columns(text);
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
            let lead = visible.len() - unindent(&visible).len();
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
        if is_blank(&visible) {
            Seen::Hidden
        } else {
            Seen::Part(visible)
        }
    }
}

impl Comments {
    /// Opens the HTML block `ln` starts, if it starts one and does not end it too. The
    /// line itself is read as before (an HTML heading ends the section, other text is
    /// prose); what follows it in the block is not.
    fn open_html(&mut self, ln: &Ln<'_>) {
        let body = unindent(ln.text);
        if let Some(end) = html_start(body) {
            if end == HtmlEnd::Blank || !html_ends(end, body) {
                self.html = Some(Html { end, line: ln.no });
            }
        }
    }

    /// What a reader sees of `ln`, in the HTML block opened above it: raw HTML, not
    /// Markdown. `None` when `ln` is the blank line that ends the block.
    fn in_html(&mut self, ln: &Ln<'_>) -> Option<Seen> {
        let block = self.html?;
        let body = unindent(ln.text);
        if block.end == HtmlEnd::Blank && is_blank(body) {
            self.html = None;
            return None;
        }
        if html_ends(block.end, body) {
            self.html = None;
        }
        let inner = unquote(body).1;
        let item = list_item(inner).is_some() || ordered_item(inner).is_some();
        if !item && heading(inner).is_none() && !html_heading(inner) {
            return Some(Seen::Hidden);
        }
        let ends = match block.end {
            HtmlEnd::Blank => "a blank line ends it".to_owned(),
            HtmlEnd::Raw => "it ends at the line holding its closing tag".to_owned(),
            HtmlEnd::Text(t) => format!("it ends at the line holding `{t}`"),
        };
        Some(Seen::Refused(ln.err(
            inner,
            format!(
                "`{}` is in the HTML block opened on line {}, which GitHub shows as HTML, not as a list item or heading, yet would be read as one: end the block before it ({ends}), or delete it",
                inner.trim_end(),
                block.line
            ),
        )))
    }

    /// What `ln` is to fenced code: a fence, a line of code, or refused; `None` for a
    /// line outside fenced code that opens none.
    fn fenced(&mut self, ln: &Ln<'_>) -> Option<Seen> {
        let text = ln.text;
        let body = unindent(text);
        let indent = columns(text);
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
        if open.may_be_in_item() && indent < open.indent && !is_blank(body) {
            return refuse(format!(
                "this line is indented less than the code fence opened on line {}: Markdown ends that code here if the fence is in a list item, and not otherwise; indent the fence and its code alike, at most three spaces",
                open.line
            ));
        }
        // Only a fence of the same character, at least as long, with nothing after it,
        // closes fenced code (```` ``` ```` or `~~~` does not close ```` ```` ````): the
        // lines before it are code to a reader.
        match marks {
            Some((m, k, rest)) if m == open.mark && k >= open.len && is_blank(rest) => {
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

/// The block-level tag names of `CommonMark`'s HTML blocks of type 6.
const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "base",
    "basefont",
    "blockquote",
    "body",
    "caption",
    "center",
    "col",
    "colgroup",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hr",
    "html",
    "iframe",
    "legend",
    "li",
    "link",
    "main",
    "menu",
    "menuitem",
    "nav",
    "noframes",
    "ol",
    "optgroup",
    "option",
    "p",
    "param",
    "search",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "track",
    "ul",
];

/// What ends the HTML block `body` (a line without its indentation) starts, if it starts
/// one (`CommonMark` 4.6, types 1 and 3 to 7; a comment, type 2, is handled apart). A tag
/// alone on its line (type 7) starts one here even after a paragraph, where `CommonMark`
/// reads it as text: that only refuses more.
fn html_start(body: &str) -> Option<HtmlEnd> {
    let rest = body.strip_prefix('<')?;
    if rest.starts_with("!--") {
        return None;
    }
    if rest.starts_with('?') {
        return Some(HtmlEnd::Text("?>"));
    }
    if rest.starts_with("![CDATA[") {
        return Some(HtmlEnd::Text("]]>"));
    }
    if rest
        .strip_prefix('!')
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_alphabetic()))
    {
        return Some(HtmlEnd::Text(">"));
    }
    let (closing, rest) = match rest.strip_prefix('/') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(rest.len());
    let (name, after) = rest.split_at(len);
    let name = name.to_ascii_lowercase();
    let bounded =
        after.is_empty() || after.starts_with(['>', ' ', '\t']) || after.starts_with("/>");
    if !closing && bounded && ["pre", "script", "style", "textarea"].contains(&name.as_str()) {
        return Some(HtmlEnd::Raw);
    }
    if bounded && BLOCK_TAGS.contains(&name.as_str()) {
        return Some(HtmlEnd::Blank);
    }
    // Any other tag alone on its line.
    let line = body.trim_end();
    (bounded && line.ends_with('>') && !line.get(1..).unwrap_or_default().contains('<'))
        .then_some(HtmlEnd::Blank)
}

/// Whether `body` ends an HTML block that `end` ends.
fn html_ends(end: HtmlEnd, body: &str) -> bool {
    match end {
        HtmlEnd::Blank => is_blank(body),
        HtmlEnd::Raw => {
            let lower = body.to_ascii_lowercase();
            ["</pre>", "</script>", "</style>", "</textarea>"]
                .iter()
                .any(|t| lower.contains(t))
        }
        HtmlEnd::Text(t) => body.contains(t),
    }
}

/// The error for a list item in `hidden`, the part of `ln` in the comment opened on line
/// `opened`, if it holds one.
fn hidden_item(ln: &Ln<'_>, hidden: &str, opened: usize) -> Option<RegistryError> {
    let (_, inner) = unquote(unindent(hidden));
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
