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
    // Not pretty-printed (a snapshot file's state is compact): no search through it.
    if !text.starts_with(HEAD_LINE) {
        return None;
    }
    let at = memchr::memmem::find(text.as_bytes(), GRANTS_LINE)? + GRANTS_LINE.len() - 1;
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
        let state = assemble(text, at, rx, &spare_tx);
        parser.join().ok()?;
        state
    })
}

/// Reads and builds the head, applies the batches `rx` brings (handing their emptied
/// vectors back on `spare`), then reads and builds the rest.
#[expect(
    clippy::needless_pass_by_value,
    reason = "owned, so that returning early drops it and the parser stops"
)]
fn assemble<'t>(
    text: &'t str,
    at: usize,
    rx: Receiver<Msg<'t>>,
    spare: &Sender<Vec<GrantJson<'t>>>,
) -> Option<State> {
    let mut w = Walker {
        text,
        pos: 0,
        seen: 0,
    };
    let mut head = Doc::default();
    w.head(&mut head)?;
    if w.pos != at || w.seen & (FORMAT | VERSION) != FORMAT | VERSION {
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
    w.pos = at + end;
    let mut tail = Doc::default();
    w.tail(&mut tail)?;
    b.actions(&tail.actions).ok()?;
    b.rest(&tail).ok()?;
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

    /// From `{` through the head keys to the `grants` key, the cursor left on its value.
    fn head(&mut self, doc: &mut Doc<'t>) -> Option<()> {
        self.eat(b'{')?;
        loop {
            match self.key()? {
                "grants" => {
                    self.skip_ws();
                    return Some(());
                }
                "format" => {
                    self.mark(FORMAT)?;
                    doc.format = self.value::<Format>()?.0;
                }
                "version" => {
                    self.mark(VERSION)?;
                    doc.version = self.value::<Version>()?.0;
                }
                "orgs" => {
                    self.field(ORGS, &mut doc.orgs)?;
                    let deep = doc.orgs.iter().any(|o| too_deep(&o.settings));
                    (!deep).then_some(())?;
                }
                "projects" => {
                    self.field(PROJECTS, &mut doc.projects)?;
                    let deep = doc.projects.iter().any(|p| too_deep(&p.settings));
                    (!deep).then_some(())?;
                }
                "users" => self.field(USERS, &mut doc.users)?,
                "memberships" => self.field(MEMBERSHIPS, &mut doc.memberships)?,
                _ => return None,
            }
            self.eat(b',')?;
        }
    }

    /// From the end of the `grants` array through the remaining keys to the end of text.
    fn tail(&mut self, doc: &mut Doc<'t>) -> Option<()> {
        loop {
            self.skip_ws();
            match self.text.as_bytes().get(self.pos) {
                Some(b'}') => break,
                Some(b',') => self.pos += 1,
                _ => return None,
            }
            match self.key()? {
                "resources" => self.field(RESOURCES, &mut doc.resources)?,
                "actions" => self.field(ACTIONS, &mut doc.actions)?,
                "api_keys" => self.field(API_KEYS, &mut doc.api_keys)?,
                "templates" => self.field(TEMPLATES, &mut doc.templates)?,
                "access_requests" => self.field(ACCESS_REQUESTS, &mut doc.access_requests)?,
                "campaigns" => self.field(CAMPAIGNS, &mut doc.campaigns)?,
                _ => return None,
            }
        }
        self.pos += 1;
        self.skip_ws();
        (self.pos == self.text.len()).then_some(())
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
#[expect(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; it slices documents it wrote"
)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::state::snapshot::read::read_whole;
    use crate::state::snapshot::write;

    /// A document in `write`'s shape: one org of `projects` projects, `users` members
    /// (the first the owner), user `i` holding `per_user(i)` project grants, every
    /// seventh an `acme/*` grant too; names, reasons and emails with escapes and
    /// non-ASCII text.
    fn doc(users: usize, projects: usize, per_user: impl Fn(usize) -> usize) -> String {
        let mut t = String::from(
            r#"{"format":"accessgraph","version":1,"orgs":[{"slug":"acme","name":"Acmé \"Inc\"","settings":{"members_can_invite":true,"x":[[1]]}}],"projects":["#,
        );
        for p in 0..projects {
            let sep = if p == 0 { "" } else { "," };
            let _ = write!(
                t,
                r#"{sep}{{"id":"acme/p{p:04}","name":"P\t{p} ☃","api_key":"agc_{p:032x}"}}"#
            );
        }
        t.push_str(r#"],"users":["#);
        for i in 0..users {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(
                t,
                r#"{sep}{{"email":"U{i:05}@example.com","name":"Ünï \"{i}\"\n","title":"\u00e9"}}"#
            );
        }
        t.push_str(r#"],"memberships":["#);
        for i in 0..users {
            let sep = if i == 0 { "" } else { "," };
            let role = if i == 0 { "owner" } else { "member" };
            let _ = write!(
                t,
                r#"{sep}{{"user":"u{i:05}@example.com","org":"acme","role":"{role}","granted_at":"2024-01-01T00:00:00Z"}}"#
            );
        }
        t.push_str(r#"],"grants":["#);
        let mut first = true;
        for i in 0..users {
            let mut targets: Vec<String> = (0..per_user(i).min(projects))
                .map(|k| format!("acme/p{:04}", (i + k) % projects))
                .collect();
            if i % 7 == 3 {
                targets.push("acme/*".to_owned());
            }
            for (k, target) in targets.iter().enumerate() {
                let sep = if first { "" } else { "," };
                first = false;
                let role = ["viewer", "member", "admin"][(i + k) % 3];
                let extra = match (i + k) % 4 {
                    0 => r#","expires":"2030-01-01T00:00:00.5Z","reason":"on \"call\"\n ☎""#,
                    1 => r#","granted_by":"u00000@example.com","review_by":"2025-02-03""#,
                    _ => "",
                };
                let _ = write!(
                    t,
                    r#"{sep}{{"user":"u{i:05}@example.com","target":"{target}","role":"{role}"{extra},"granted_at":"2024-01-02T03:04:05Z"}}"#
                );
            }
        }
        t.push_str(r#"],"resources":[{"id":"acme/p0000/dashboard/1","owner":"u00000@example.com"}],"actions":[{"name":"release:deploy","scope":"project","min_role":"member"}]}"#);
        let st = read_whole(&t).unwrap_or_else(|e| panic!("the test document: {e}"));
        write(&st).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The same records under the same ids, and the same snapshot. (The whole `Debug`
    /// would differ: hash maps with random seeds, a global epoch.)
    fn assert_same(a: &State, b: &State) {
        let records = |s: &State| format!("{:?}", (&s.users, &s.orgs, &s.projects, &s.resources));
        assert_eq!(records(a), records(b));
        let text = |s: &State| write(s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text(a), text(b));
    }

    /// Reading `text` in sections gives the state the whole reading gives, or nothing
    /// when that reading fails; and `read` answers as the whole reading does.
    fn same(text: &str) -> Option<State> {
        let whole = read_whole(text);
        let split = read(text, 0);
        match (&whole, &split) {
            (Ok(w), Some(s)) => assert_same(w, s),
            (Err(_), Some(_)) => panic!("read in sections a document the whole reading refuses"),
            _ => {}
        }
        let public = super::super::read(text);
        match (&whole, &public) {
            (Ok(w), Ok(p)) => assert_same(w, p),
            (Err(w), Err(p)) => assert_eq!(w.to_string(), p.to_string()),
            _ => panic!("`read` and the whole reading disagree"),
        }
        split
    }

    #[test]
    fn sections_read_as_the_whole_document() {
        // Batches of 1024 and more, ending at a change of user.
        let text = doc(3000, 40, |i| i % 9);
        assert!(same(&text).is_some());
        // Users with more grants than a batch holds.
        let text = doc(5, 1500, |i| [1500, 20, 1100, 1023, 1025][i]);
        assert!(same(&text).is_some());
        // A batch of exactly 1024, then a change of user.
        let text = doc(3, 1100, |i| [1024, 1, 1024][i]);
        assert!(same(&text).is_some());
    }

    #[test]
    fn small_and_empty_documents() {
        let one = doc(1, 3, |_| 3);
        assert!(same(&one).is_some());
        let none = doc(3, 3, |_| 0);
        assert!(none.contains("\n  \"grants\": []"));
        assert!(same(&none).is_some());
        // Too small to be worth a thread.
        assert!(read(&one, PARALLEL_MIN).is_none());
    }

    #[test]
    fn grants_read_by_hand_are_serdes() {
        let text = doc(300, 6, |i| i % 6);
        // Grants laid out otherwise (read by serde): an explicit null, spaces, an escaped
        // key, a one-line grant; and escapes in values (the generator writes some).
        let variants = text
            .replacen(
                "\"role\": \"viewer\",\n      \"granted_at\"",
                "\"role\": \"viewer\",\n      \"expires\": null,\n      \"granted_at\"",
                1,
            )
            .replacen("\"role\": \"member\"", "\"role\" :  \"member\"", 1)
            .replacen("\"granted_at\": ", "\"granted\\u005fat\": ", 1)
            .replacen(
                "{\n      \"user\": \"u00299@example.com\",\n      \"target\": ",
                "{\"user\":\"u00299@example.com\",\"target\":",
                1,
            );
        for text in [&text, &variants] {
            let at = text.find("\n  \"grants\": [").unwrap_or(0) + GRANTS_LINE.len() - 1;
            let (tx, rx) = mpsc::sync_channel(10_000);
            let (_spare_tx, spare_rx) = mpsc::channel();
            parse_grants(&text[at..], &tx, &spare_rx);
            drop(tx);
            let got: Vec<String> = rx
                .iter()
                .flat_map(|m| match m {
                    Msg::Batch(b) => b,
                    Msg::End(_) => Vec::new(),
                })
                .map(|g| serde_json::to_string(&g).unwrap_or_default())
                .collect();
            let whole: Doc<'_> =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("the document: {e}"));
            let want: Vec<String> = whole
                .grants
                .iter()
                .map(|g| serde_json::to_string(g).unwrap_or_default())
                .collect();
            assert_eq!(got.len(), want.len());
            assert_eq!(got, want);
            assert!(same(text).is_some());
        }
        assert_ne!(variants, text);
        assert!(variants.contains("\"expires\": null") && variants.contains("\"role\" :  "));
        assert!(variants.contains("\\u005f") && variants.contains("{\"user\":\"u00299"));
    }

    #[test]
    fn batches_end_where_the_user_changes() {
        let text = doc(700, 10, |i| 1 + i % 5);
        let at =
            memchr::memmem::find(text.as_bytes(), GRANTS_LINE).unwrap_or(0) + GRANTS_LINE.len() - 1;
        let (tx, rx) = mpsc::sync_channel(10_000);
        let (_spare_tx, spare_rx) = mpsc::channel();
        parse_grants(text.get(at..).unwrap_or_default(), &tx, &spare_rx);
        drop(tx);
        let msgs: Vec<Msg<'_>> = rx.iter().collect();
        let batches: Vec<&Vec<GrantJson<'_>>> = msgs
            .iter()
            .filter_map(|m| match m {
                Msg::Batch(b) => Some(b),
                Msg::End(_) => None,
            })
            .collect();
        assert!(batches.len() > 1);
        for pair in batches.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert!(a.len() >= BATCH);
            assert_ne!(a.last().map(|g| &g.user), b.first().map(|g| &g.user));
        }
        let Some(Msg::End(end)) = msgs.last() else {
            panic!("no end offset")
        };
        assert!(text[at + end..].starts_with(",\n  \"resources\""));
    }

    #[test]
    fn other_shapes_are_read_whole() {
        let text = doc(50, 5, |i| i % 4);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        // Key order changed (memberships after grants; format last): read whole.
        let moved = text
            .replacen("\n  \"format\": \"accessgraph\",", "", 1)
            .replacen("\n}", ",\n  \"format\": \"accessgraph\"\n}", 1);
        assert!(same(&moved).is_none());
        let find = |key: &str| text.find(&format!("\n  \"{key}\": [")).unwrap_or(0);
        let (m, g, r) = (find("memberships"), find("grants"), find("resources"));
        let swapped = format!("{}{}{}{}", &text[..m], &text[g..r], &text[m..g], &text[r..]);
        assert_ne!(swapped, text);
        assert!(same(&swapped).is_none());
        // A key twice, an unknown key, compact text, text after the end: read whole.
        let twice = text.replacen("\n}", ",\n  \"orgs\": []\n}", 1);
        assert!(same(&twice).is_none());
        let grants_twice = text.replacen("\n}", ",\n  \"grants\": []\n}", 1);
        assert!(same(&grants_twice).is_none());
        let unknown = text.replacen("\n}", ",\n  \"extra\": 1\n}", 1);
        assert!(same(&unknown).is_none());
        let after = format!("{text}{{}}");
        assert!(same(&after).is_none());
        let compact = serde_json::to_string(&v).unwrap_or_default();
        assert!(same(&compact).is_none());
        let indented = format!("{{\n    \"grants\": [],{}", &text[2..]);
        assert!(same(&indented).is_none());
        // Key order as written, a line like the grants' inside a value: read whole.
        let nested = text.replacen(
            "\"name\": \"Acmé \\\"Inc\\\"\",",
            "\"name\": \"Acmé \\\"Inc\\\"\",\n  \"grants\": [],",
            1,
        );
        assert_ne!(nested, text);
        assert!(same(&nested).is_none());
        // With a byte-order mark.
        let bom = format!("\u{feff}{text}");
        assert!(super::super::read(&bom).is_ok());
    }

    #[test]
    fn errors_are_the_whole_readings() {
        let text = doc(200, 5, |i| i % 5);
        let cases = [
            text.replacen("\"role\": \"admin\"", "\"role\": \"root\"", 1),
            text.replacen("\"version\": 1", "\"version\": 2", 1),
            text.replacen("\"format\": \"accessgraph\"", "\"format\": \"other\"", 1),
            text.replacen(
                "\"target\": \"acme/p0003\"",
                "\"target\": \"acme/p9999\"",
                1,
            ),
            text.replacen("\"target\": \"acme/p0003\"", "\"target\": \"nope/*\"", 1),
            text.replacen("2024-01-02T03:04:05Z", "2024-13-02T03:04:05Z", 1),
            text.replacen("\"min_role\": \"member\"", "\"min_role\": \"boss\"", 1),
            text.replacen(
                "\"owner\": \"u00000@example.com\"",
                "\"owner\": \"x@y.z\"",
                1,
            ),
            text.replacen(
                "\"user\": \"u00101@example.com\",\n      \"target\"",
                "\"user\": \"u00101@example.com\",\n      \"bogus\": 1,\n      \"target\"",
                1,
            ),
            // A grant repeated: a duplicate within a batch.
            {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                let g = serde_json::to_string_pretty(&v["grants"][5]).unwrap_or_default();
                text.replacen("\"grants\": [", &format!("\"grants\": [\n{g},"), 1)
            },
            text.get(..text.len() / 2).unwrap_or_default().to_owned(),
            text.get(..text.len() - 3).unwrap_or_default().to_owned(),
            text.replacen("\"role\": \"owner\"", "\"role\": \"member\"", 1),
        ];
        for (n, bad) in cases.iter().enumerate() {
            assert_ne!(bad, &text, "case {n} changed nothing");
            assert!(read_whole(bad).is_err(), "case {n} reads");
            assert!(same(bad).is_none(), "case {n}");
        }
    }
}
