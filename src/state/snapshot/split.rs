//! Reading a large snapshot in sections: its `grants` array parsed on a second thread
//! while this one reads and builds the head (orgs, projects, users, memberships).
//!
//! [`super::write`] puts `grants` after `memberships`, on a line of its own at an indent
//! of two; no string holds a raw line break, so that line is found by a plain search. The
//! second thread parses the array from there in batches of at least [`BATCH`] grants, each
//! ending where the user (as written) changes, so that a user's run of grants in an org,
//! which [`Builder::grants`] sizes at once, is never split. This thread reads the head key
//! by key, builds it, applies the batches in order, then reads what follows the array.
//! A grant laid out exactly as `write` lays it out is read by hand (the same codecs check
//! its values); any other grant is read by serde.
//!
//! Only a document shaped as `write` writes it is read here: the head keys (`format` and
//! `version` among them) before `grants`, the other keys after it, each once. Anything
//! else, and any value or rule that does not hold, gives `None`, and the caller reads the
//! document whole, which reports the error with its type, message and path as before.
//!
//! The other shape read here is compact JSON with `memberships` right after `grants`, as
//! in the keys-sorted text a journal's snapshot holds (`Graph::snapshot`), where `grants`
//! comes before the records it names. This thread then finds the array's end by searching
//! for `],"memberships":` (in a valid document that text can only be its end: a grant is a
//! flat object, and no string holds a raw quote), reads every other key before the first
//! batch arrives, and checks, once the parser has read the array to its end, that the end
//! is the one it found; a grant laid out compact, keys sorted, is read by hand too.

use std::borrow::Cow;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use serde::de::{Deserialize, Deserializer};

use crate::state::State;

use super::doc::{de_format, de_version, parse_date, parse_instant, project_role, Doc, GrantJson};
use super::read::Builder;

/// Below this many bytes from the `grants` line on, the document is read whole.
pub(super) const PARALLEL_MIN: usize = 1 << 20;

/// The least number of grants in a batch.
const BATCH: usize = 1024;

/// How many batches the parsing thread may run ahead of the builder.
const AHEAD: usize = 16;

/// How `write`'s text begins: its first key on a line of its own.
const HEAD_LINE: &str = "{\n  \"";

/// The line of the `grants` key as `write` writes it, up to its `[`.
const GRANTS_LINE: &[u8] = b"\n  \"grants\": [";

/// The `grants` key in compact text, up to its `[`.
const COMPACT_GRANTS: &[u8] = b",\"grants\":[";

/// The end of the `grants` array in compact text with keys sorted, from its `]`.
const COMPACT_GRANTS_END: &[u8] = b"],\"memberships\":";

/// A message from the parsing thread: a batch of grants, or the offset just past the
/// array once it has been read whole.
enum Msg<'t> {
    Batch(Vec<GrantJson<'t>>),
    End(usize),
}

/// The state `text` describes, read in sections, when `text` is shaped as `write` writes
/// it, its grants start at least `min` bytes before its end, and it reads without error;
/// `None` otherwise (read it whole then).
pub(super) fn read(text: &str, min: usize) -> Option<State> {
    // Neither pretty-printed nor compact from its first key: no search through it.
    let compact = is_compact(text);
    let key = match (text.starts_with(HEAD_LINE), compact) {
        (true, _) => GRANTS_LINE,
        (false, true) => COMPACT_GRANTS,
        (false, false) => return None,
    };
    let at = memchr::memmem::find(text.as_bytes(), key)? + key.len() - 1;
    let grants = text.get(at..)?;
    if grants.len() < min {
        return None;
    }
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel(AHEAD);
        let (spare_tx, spare_rx) = mpsc::channel();
        // A thread that cannot be made leaves the document to the whole reading.
        let parser = std::thread::Builder::new()
            .name("snapshot-grants".to_owned())
            .spawn_scoped(s, move || parse_grants(grants, &tx, &spare_rx))
            .ok()?;
        // Returning drops `rx`: a parser still running stops at its next batch.
        let state = assemble(text, at, compact, rx, &spare_tx);
        parser.join().ok()?;
        state
    })
}

/// Does `text` start as compact JSON (`{"key":` with no space after the colon, as
/// `json.dumps` puts one)? A key is a field name, short and with no quote in it.
fn is_compact(text: &str) -> bool {
    let head = text.as_bytes().get(..64).unwrap_or(text.as_bytes());
    head.starts_with(b"{\"")
        && memchr::memmem::find(head, b"\":")
            .and_then(|i| head.get(i + 2))
            .is_some_and(|b| !b.is_ascii_whitespace())
}

/// Reads and builds the head, applies the batches `rx` brings (handing their emptied
/// vectors back on `spare`), then reads and builds the rest. In `compact` text every key
/// but `grants` is read before the first batch is applied (the records the grants name
/// come after them), the array's end found by a search and checked against the parser's.
#[expect(
    clippy::needless_pass_by_value,
    reason = "owned, so that returning early drops it and the parser stops"
)]
fn assemble<'t>(
    text: &'t str,
    at: usize,
    compact: bool,
    rx: Receiver<Msg<'t>>,
    spare: &Sender<Vec<GrantJson<'t>>>,
) -> Option<State> {
    let mut w = Walker {
        text,
        pos: 0,
        seen: 0,
    };
    let mut head = Doc::default();
    w.head(&mut head, if compact { ALL_KEYS } else { HEAD_KEYS })?;
    if w.pos != at {
        return None;
    }
    let jump = if compact {
        let found = memchr::memmem::find(text.as_bytes().get(at..)?, COMPACT_GRANTS_END)?;
        w.pos = at + found + 1;
        w.tail(&mut head, ALL_KEYS)?;
        Some(found + 1)
    } else {
        None
    };
    if w.seen & (FORMAT | VERSION) != FORMAT | VERSION {
        return None;
    }
    let mut b = Builder::new(&head);
    b.orgs_projects(&head).ok()?;
    b.people(&head).ok()?;
    let mut first = 0;
    let end = loop {
        match rx.recv().ok()? {
            Msg::Batch(mut batch) => {
                b.grants(first, &batch).ok()?;
                first += batch.len();
                batch.clear();
                let _ = spare.send(batch);
            }
            Msg::End(len) => break len,
        }
    };
    let tail_doc;
    let tail = if let Some(found) = jump {
        // The end searched for must be the array's.
        (found == end).then_some(())?;
        &head
    } else {
        w.pos = at + end;
        let mut tail = Doc::default();
        w.tail(&mut tail, REST_KEYS)?;
        tail_doc = tail;
        &tail_doc
    };
    b.actions(&tail.actions).ok()?;
    b.rest(tail).ok()?;
    Some(b.finish())
}

/// Parses the array at the start of `text` in batches sent on `tx`, then its end offset.
/// A parse error, or a builder that stopped listening, ends it without the offset.
fn parse_grants<'t>(text: &'t str, tx: &SyncSender<Msg<'t>>, spare: &Receiver<Vec<GrantJson<'t>>>) {
    let fresh = || Vec::with_capacity(2 * BATCH);
    let mut batch: Vec<GrantJson<'t>> = fresh();
    let mut c = Cursor { s: text, p: 0 };
    if !c.lit("[") {
        return;
    }
    c.skip_ws();
    if c.lit("]") {
        let _ = tx.send(Msg::End(c.p));
        return;
    }
    loop {
        let Some(g) = c.grant() else { return };
        if batch.len() >= BATCH && batch.last().is_some_and(|l| l.user != g.user) {
            let next = spare.try_recv().unwrap_or_else(|_| fresh());
            if tx
                .send(Msg::Batch(std::mem::replace(&mut batch, next)))
                .is_err()
            {
                return;
            }
        }
        batch.push(g);
        c.skip_ws();
        if c.lit("]") {
            break;
        }
        if !c.lit(",") {
            return;
        }
    }
    if tx.send(Msg::Batch(batch)).is_ok() {
        let _ = tx.send(Msg::End(c.p));
    }
}

/// A position in the grants array's text.
struct Cursor<'t> {
    s: &'t str,
    p: usize,
}

/// The lines of a grant as `write` writes it, up to each value.
const USER: &str = "{\n      \"user\": ";
const TARGET: &str = ",\n      \"target\": ";
const ROLE: &str = ",\n      \"role\": ";
const NEXT_KEY: &str = ",\n      \"";
const END: &str = "\n    }";

impl<'t> Cursor<'t> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.s.as_bytes().get(self.p) {
            self.p += 1;
        }
    }

    /// Moves past `l` if the text goes on with it.
    fn lit(&mut self, l: &str) -> bool {
        let found = self
            .s
            .as_bytes()
            .get(self.p..)
            .is_some_and(|rest| rest.starts_with(l.as_bytes()));
        if found {
            self.p += l.len();
        }
        found
    }

    /// A string without escapes or control characters (which `serde_json` refuses raw),
    /// its text borrowed as `serde_json` would borrow it.
    fn string(&mut self) -> Option<&'t str> {
        if !self.lit("\"") {
            return None;
        }
        let rest = self.s.as_bytes().get(self.p..)?;
        let len = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        let v = self.s.get(self.p..self.p + len)?;
        self.p += len + 1;
        Some(v)
    }

    /// The next grant (after white space): read by hand when laid out as `write` lays it
    /// out, by serde otherwise.
    fn grant(&mut self) -> Option<GrantJson<'t>> {
        self.skip_ws();
        let start = self.p;
        if let Some(g) = self.written() {
            return Some(g);
        }
        self.p = start;
        if let Some(g) = self.sorted() {
            return Some(g);
        }
        self.p = start;
        let rest = self.s.get(start..)?;
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<GrantJson<'t>>();
        let g = values.next()?.ok()?;
        self.p = start + values.byte_offset();
        Some(g)
    }

    /// A grant exactly as `write` writes it: its keys in the struct's order, each once, on
    /// lines of their own, string values without escapes, each value checked by the codec
    /// serde applies. Anything else is `None`, and serde reads the grant.
    fn written(&mut self) -> Option<GrantJson<'t>> {
        if !self.lit(USER) {
            return None;
        }
        let user = self.string()?;
        self.lit(TARGET).then_some(())?;
        let target = self.string()?;
        self.lit(ROLE).then_some(())?;
        let role = project_role(self.string()?).ok()?;
        let (mut expires, mut reason, mut granted_by, mut granted_at, mut review_by) =
            (None, None, None, None, None);
        let mut rank = 0;
        while self.lit(NEXT_KEY) {
            let rest = self.s.get(self.p..)?;
            let len = rest.find('"')?;
            let key = rest.get(..len)?;
            self.p += len + 1;
            self.lit(": ").then_some(())?;
            let value = self.string()?;
            let this = match key {
                "expires" => 1,
                "reason" => 2,
                "granted_by" => 3,
                "granted_at" => 4,
                "review_by" => 5,
                _ => return None,
            };
            if this <= rank {
                return None;
            }
            rank = this;
            match this {
                1 => expires = Some(parse_instant(value).ok()?),
                2 => reason = Some(Cow::Borrowed(value)),
                3 => granted_by = Some(Cow::Borrowed(value)),
                4 => granted_at = Some(parse_instant(value).ok()?),
                _ => review_by = Some(parse_date(value).ok()?),
            }
        }
        self.lit(END).then_some(())?;
        Some(GrantJson {
            user: Cow::Borrowed(user),
            target: Cow::Borrowed(target),
            role,
            expires,
            reason,
            granted_by,
            granted_at: granted_at?,
            review_by,
        })
    }

    /// A grant as compact JSON with its keys sorted writes it (a journal snapshot's
    /// state): each key once, in that order, string values without escapes, each value
    /// checked by the codec serde applies. Anything else is `None`, and serde reads it.
    fn sorted(&mut self) -> Option<GrantJson<'t>> {
        const KEYS: [&str; 8] = [
            "expires",
            "granted_at",
            "granted_by",
            "reason",
            "review_by",
            "role",
            "target",
            "user",
        ];
        if !self.lit("{") {
            return None;
        }
        let mut v: [Option<&'t str>; 8] = [None; 8];
        let mut next = 0;
        loop {
            let key = self.string()?;
            let rank = next + KEYS.get(next..)?.iter().position(|k| *k == key)?;
            next = rank + 1;
            self.lit(":").then_some(())?;
            *v.get_mut(rank)? = Some(self.string()?);
            if self.lit("}") {
                break;
            }
            self.lit(",").then_some(())?;
        }
        let [expires, granted_at, granted_by, reason, review_by, role, target, user] = v;
        Some(GrantJson {
            user: Cow::Borrowed(user?),
            target: Cow::Borrowed(target?),
            role: project_role(role?).ok()?,
            expires: expires.map(parse_instant).transpose().ok()?,
            reason: reason.map(Cow::Borrowed),
            granted_by: granted_by.map(Cow::Borrowed),
            granted_at: parse_instant(granted_at?).ok()?,
            review_by: review_by.map(parse_date).transpose().ok()?,
        })
    }
}

// The keys read, one bit each: a key met twice sends the document to the whole reading.
const FORMAT: u16 = 1;
const VERSION: u16 = 1 << 1;
const ORGS: u16 = 1 << 2;
const PROJECTS: u16 = 1 << 3;
const USERS: u16 = 1 << 4;
const MEMBERSHIPS: u16 = 1 << 5;
const RESOURCES: u16 = 1 << 6;
const ACTIONS: u16 = 1 << 7;
const API_KEYS: u16 = 1 << 8;
const TEMPLATES: u16 = 1 << 9;
const ACCESS_REQUESTS: u16 = 1 << 10;
const CAMPAIGNS: u16 = 1 << 11;

/// The keys `write` puts before `grants`: what the grants name.
const HEAD_KEYS: u16 = FORMAT | VERSION | ORGS | PROJECTS | USERS | MEMBERSHIPS;
/// The keys `write` puts after `grants`.
const REST_KEYS: u16 = RESOURCES | ACTIONS | API_KEYS | TEMPLATES | ACCESS_REQUESTS | CAMPAIGNS;
/// Every key but `grants`.
const ALL_KEYS: u16 = HEAD_KEYS | REST_KEYS;

/// Settings nested deeper than this send the document to the whole reading, where the
/// parser's nesting limit (128, counted from the document's top) decides.
const SETTINGS_DEPTH: usize = 64;

/// The top-level object, read one key at a time, each value by its serde type.
struct Walker<'t> {
    text: &'t str,
    pos: usize,
    seen: u16,
}

impl<'t> Walker<'t> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.text.as_bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.skip_ws();
        (self.text.as_bytes().get(self.pos) == Some(&c)).then(|| self.pos += 1)
    }

    /// The value at the cursor (after white space), the cursor moved past it.
    fn value<T: Deserialize<'t>>(&mut self) -> Option<T> {
        let rest = self.text.get(self.pos..)?;
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<T>();
        let v = values.next()?.ok()?;
        self.pos += values.byte_offset();
        Some(v)
    }

    /// A key (without escapes) and its colon.
    fn key(&mut self) -> Option<&'t str> {
        let key = self.value::<&'t str>()?;
        self.eat(b':')?;
        Some(key)
    }

    fn mark(&mut self, bit: u16) -> Option<()> {
        (self.seen & bit == 0).then(|| self.seen |= bit)
    }

    /// The value of the key `bit` stands for into `slot`: `None` when the key was met
    /// before or its value does not read.
    fn field<T: Deserialize<'t>>(&mut self, bit: u16, slot: &mut T) -> Option<()> {
        self.mark(bit)?;
        *slot = self.value()?;
        Some(())
    }

    /// From `{` through the keys `allowed` to the `grants` key, the cursor left on its
    /// value.
    fn head(&mut self, doc: &mut Doc<'t>, allowed: u16) -> Option<()> {
        self.eat(b'{')?;
        loop {
            match self.key()? {
                "grants" => {
                    self.skip_ws();
                    return Some(());
                }
                key => self.entry(key, doc, allowed)?,
            }
            self.eat(b',')?;
        }
    }

    /// From the end of the `grants` array through the keys `allowed` to the end of text.
    fn tail(&mut self, doc: &mut Doc<'t>, allowed: u16) -> Option<()> {
        loop {
            self.skip_ws();
            match self.text.as_bytes().get(self.pos) {
                Some(b'}') => break,
                Some(b',') => self.pos += 1,
                _ => return None,
            }
            let key = self.key()?;
            self.entry(key, doc, allowed)?;
        }
        self.pos += 1;
        self.skip_ws();
        (self.pos == self.text.len()).then_some(())
    }

    /// The value of the top-level `key` into `doc`: `None` when the key is not one of
    /// those `allowed` here, was met before, or its value does not read.
    fn entry(&mut self, key: &str, doc: &mut Doc<'t>, allowed: u16) -> Option<()> {
        let bit = match key {
            "format" => FORMAT,
            "version" => VERSION,
            "orgs" => ORGS,
            "projects" => PROJECTS,
            "users" => USERS,
            "memberships" => MEMBERSHIPS,
            "resources" => RESOURCES,
            "actions" => ACTIONS,
            "api_keys" => API_KEYS,
            "templates" => TEMPLATES,
            "access_requests" => ACCESS_REQUESTS,
            "campaigns" => CAMPAIGNS,
            _ => return None,
        };
        (allowed & bit != 0).then_some(())?;
        match bit {
            FORMAT => {
                self.mark(FORMAT)?;
                doc.format = self.value::<Format>()?.0;
            }
            VERSION => {
                self.mark(VERSION)?;
                doc.version = self.value::<Version>()?.0;
            }
            ORGS => {
                self.field(ORGS, &mut doc.orgs)?;
                let deep = doc.orgs.iter().any(|o| too_deep(&o.settings));
                (!deep).then_some(())?;
            }
            PROJECTS => {
                self.field(PROJECTS, &mut doc.projects)?;
                let deep = doc.projects.iter().any(|p| too_deep(&p.settings));
                (!deep).then_some(())?;
            }
            USERS => self.field(USERS, &mut doc.users)?,
            MEMBERSHIPS => self.field(MEMBERSHIPS, &mut doc.memberships)?,
            RESOURCES => self.field(RESOURCES, &mut doc.resources)?,
            ACTIONS => self.field(ACTIONS, &mut doc.actions)?,
            API_KEYS => self.field(API_KEYS, &mut doc.api_keys)?,
            TEMPLATES => self.field(TEMPLATES, &mut doc.templates)?,
            ACCESS_REQUESTS => self.field(ACCESS_REQUESTS, &mut doc.access_requests)?,
            _ => self.field(CAMPAIGNS, &mut doc.campaigns)?,
        }
        Some(())
    }
}

/// Whether settings nest deeper than [`SETTINGS_DEPTH`].
fn too_deep(settings: &crate::model::Settings) -> bool {
    fn depth(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    settings.values().any(|v| depth(v) >= SETTINGS_DEPTH)
}

/// `format`, checked as the whole reading checks it.
struct Format(String);

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_format(d).map(Format)
    }
}

/// `version`, checked as the whole reading checks it.
struct Version(u64);

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_version(d).map(Version)
    }
}

#[cfg(test)]
mod tests;
