//! The Markdown access registry (SPEC 5.1): parse and write.
//!
//! - [`types`]: the parsed document; [`parse`], [`locate`] and [`comment`]: reading it;
//!   [`load`]: into a graph; [`write`]: an org back to a document.
//!
//! [`parse`] reads the whole document into a plain [`Registry`] value, validating every
//! token and reporting the first problem with its 1-based line and column; nothing touches
//! a graph until the whole document parsed, so a bad document imports nothing. [`import`]
//! then creates the org, its projects, memberships and grants through the public mutation
//! API (`actor=None`), and [`export`] writes an org back in the same grammar.
//!
//! Decisions beyond SPEC 5.1 and 9:
//! - Errors of form (sections, emails, roles, dates, attributes, duplicate people) are
//!   reported in document order; project references in grants are resolved once the whole
//!   document is read (a `## Projects` section may come after the people), so an unknown
//!   project is reported after every error of form.
//! - Only `## <Section>` opens a section. Any other heading (`###` and deeper, the title,
//!   one in a block quote, a setext heading, an HTML `<h1>`-`<h6>`) ends the section it is
//!   in, so that a list item after it (before the next section heading) is an error naming
//!   the heading, never a person, grant or project of the section above it: a reader sees
//!   them under that heading. Prose may follow it.
//! - A line of text in a section that a reader takes for a heading ends the section the
//!   same way (`locate::label`, `locate::caption`): it names a section or role
//!   once its markup is taken off its ends (`**Members**`, `Members:`, `<b>Admins</b>`), it
//!   is all emphasis, starts with `#` or ends with `:`, or it ends a paragraph without
//!   ending a sentence (a caption of the list under it). Refusing is the safe side: read as
//!   prose, `**Members**` under `## Owners` left the people under it owners while a
//!   reader saw members. Text in a section is written as sentences; export writes no line
//!   of text, only headings and list items.
//! - Nothing in an HTML comment is read, and a list item there is an error ([`comment`]):
//!   GitHub does not render a comment, so a person, grant or project written in one
//!   (`<!--` opened at a line's start or mid-line, closed by the first `-->`, or never) was
//!   imported while every reviewer saw none. A comment of prose alone is allowed, and a
//!   line holding only comments is read as a blank line (no caption of the list under it)
//!   unless it names a section (`<!-- Members -->`), which ends the section as a label
//!   does. Export escapes a `<!--` in free text (`\<!--`), so it never writes a comment.
//!   Fenced code is not read, and closes only at a fence of its own character, at least
//!   as long, with nothing after it, as a reader's renderer closes it; a fence whose
//!   reading turns on the list around it (indented four columns or more, or code less
//!   indented than a fence that may be in a list item) is an error ([`comment`]).
//!   Nor is an HTML block (`<pre>` to `</pre>`, `<div>` to a blank line …): a list item
//!   or heading on a line after its first is an error naming the line it opened on.
//! - A grant is nested as `CommonMark` nests list items: less indented than the person's
//!   text (an item of the outer list to a reader), or four columns or more past the text
//!   of the item above it (code or that item's text), it is an error; and a
//!   less indented line after a blank one (or a fence, quote or rule) ends the person's
//!   item, so a grant after it belongs to no one. A numbered item, or one in a block
//!   quote, in a section is an error (a reader sees it listed; it was read as prose).
//! - Only a space or a tab is whitespace to a line's structure (indentation, a blank
//!   line, the space after `-`, `#` or a closing fence), as in `CommonMark`: a line
//!   `\u{a0}- x` is text, and a line holding only U+00A0 does not end an HTML block.
//! - A grant target is matched first as a project slug, then as a project name (any case);
//!   `*` and `All projects` mean every project (`org/*`). A name that several listed
//!   projects share is ambiguous: use the slug. Granting twice on the same project to the
//!   same person is an error that names the first line.
//! - A person's title may contain commas: it runs until the first item that starts with a
//!   keyword (`expires`, `reviewed`, `reason`). An item that is exactly `external` marks an
//!   external member outside `## External Access` (export writes it for external owners and
//!   admins, who cannot be listed there).
//! - Free text the grammar cannot carry as it is is written with backslash escapes
//!   ([`escape`]), which the parser undoes, so that export never writes a document that
//!   reads back differently or not at all: in a title a line break, a piece that starts
//!   with a keyword or is empty (`R\eason Lead`, `Lead\, reason: budget`, `Two\nlines`);
//!   in the org's name, a project's name, an environment or a reason, a control character
//!   or spaces at either end (`\u{20}`), a leading `:` after `env` or `reason` (`reason
//!   \:x`, else read as `reason: x`), an environment's commas (`\,`) and unbalanced
//!   parentheses (`\u{29}`); a backslash anywhere (`\\`). So in free text, grant targets
//!   included, `\` escapes the next character. Only empty text (possible through a JSON
//!   snapshot or an org created with `name=""`) has no place in the grammar: export raises
//!   `ValidationError` for it.
//! - Export: `## Viewers` holds the org members (not external) whose only grant is a plain
//!   viewer grant on `org/*` (no expiry, no reason), written without nested grants; every
//!   other member is under `## Members` with their grants nested (`All projects: viewer`
//!   included). External members go to `## External Access`, with their grants. Empty
//!   sections are left out; `## Projects` is written when the org has projects.
//! - Import restores the recorded state, expired entries included: it is one batch of
//!   elementary changes applied atomically by the system (`Graph::apply_batch`), not a
//!   sequence of mutation calls, so the mutation API's refusal to grant to an expired
//!   membership does not apply and a failing import changes nothing.

mod comment;
mod ended;
mod escape;
mod load;
mod locate;
mod parse;
mod types;
mod write;

pub use load::{changes, import, load};
pub use parse::parse;
pub use types::{
    slugify, GrantScope, Registry, RegistryGrant, RegistryPerson, RegistryProject, Section,
};
pub use write::export;
