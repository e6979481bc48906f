//! What a section heading is, and what ends a section: a heading of another form, or a
//! line of text that a reader takes for one (see the module docs of `markdown`).

use super::locate::Label;
use super::types::Section;
use crate::error::RegistryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Heading<'t> {
    Projects,
    People(Section),
    /// A heading that is not a section heading, or a line of text that reads as one, met
    /// in a section: it ends the section, so that no one listed under it is read as part of
    /// the section above it.
    Other(Other<'t>),
}

/// What ended a section: a heading of another form, or a line of text read as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form<'t> {
    /// An ATX heading other than `## <Section>`, one in a block quote, or an HTML one.
    Heading,
    /// A setext heading, with its underline.
    Underlined(&'t str),
    /// A line of text that a reader takes for a heading, and why.
    Label(Label),
}

/// A heading that ended a section, and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Other<'t> {
    pub(super) line: usize,
    pub(super) column: usize,
    /// The heading as written; for a setext heading, its first line of text.
    pub(super) text: &'t str,
    /// What kind of heading it is, to a reader.
    pub(super) form: Form<'t>,
    /// The section it ended, as `## <Section>` names it.
    pub(super) ended: &'static str,
}

impl Other<'_> {
    /// The error for the list item at `item_line`, at the heading.
    pub(super) fn error(&self, item_line: usize) -> RegistryError {
        let (text, ended) = (self.text, self.ended);
        let message = match self.form {
            Form::Heading => format!("`{text}` is not a section heading ({SECTIONS}): it ends `## {ended}`, so the list item at line {item_line} is in no section"),
            Form::Underlined(u) => format!("`{text}` underlined with `{u}` is not a section heading ({SECTIONS}): it ends `## {ended}`, so the list item at line {item_line} is in no section"),
            Form::Label(label) => {
                let (why, heading) = match label {
                    Label::Names(heading) => ("names a section", heading),
                    Label::Emphasis => ("is all emphasis", "<Section>"),
                    Label::Hash => ("starts with `#`", "<Section>"),
                    Label::Colon => ("ends with `:`", "<Section>"),
                    Label::Unended => ("ends a paragraph but no sentence", "<Section>"),
                };
                format!("`{text}` reads as a heading (it {why}) but only `## <Section>` opens a section ({SECTIONS}): it ends `## {ended}`, so the list item at line {item_line} is in no section; list it under a `## {heading}` heading")
            }
        };
        RegistryError {
            line: self.line,
            column: self.column,
            message,
        }
    }
}

/// How an error that names a non-section heading lists the sections.
const SECTIONS: &str = "sections are `## Projects`, `## Owners`, `## Admins`, `## Members`, `## Viewers` and `## External Access`";
