//! The audit log held in memory: events in `seq` order, queries, verification, exports and
//! retention.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::checkpoint::{mac, mac_ok};
use super::columns::{Columns, Heads, Text};
use super::event::{parse_event, Event};
use super::store::EventStore;
use crate::error::{AuditError, Error};
use crate::progress::{Hook, Meter, Stop};
use crate::state::State;
use crate::time::Instant;

/// The events of a graph since its chain's anchor.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// `prev_hash` of the first event held: the genesis hash, or the hash of the last
    /// event pruned.
    pub anchor: String,
    /// `seq` of the event before the first held (0 when nothing was pruned).
    pub base_seq: u64,
    /// The graph's state after event `base_seq` (`None`: empty), for time travel and
    /// for rebuilding the state after an erasure.
    pub base_state: Option<State>,
    /// The events, `base_seq + 1` onwards.
    pub events: EventStore,
    /// Events a snapshot let `Graph::open` skip, loaded on first use.
    pub pending: Option<Pending>,
}

/// The part of a journal before a snapshot's resume point, not yet read.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Reads the events `base_seq + 1 ..= end` of the journal, checking their chain.
    pub loader: PrefixLoader,
    /// The journal's own base.
    pub base_seq: u64,
    /// The journal's own anchor.
    pub anchor: String,
    /// The journal's own base state.
    pub base_state: Option<State>,
}

/// The events of a journal up to a snapshot's resume point, as read.
#[derive(Debug)]
pub struct Prefix {
    /// The events, from the journal's base on.
    pub events: EventStore,
    /// The last one's `seq` and hash (the journal's base and anchor when there is none).
    pub end: (u64, String),
}

/// Reads the events of a journal up to the snapshot's resume point, each checked
/// against its hash and the chain from the journal's anchor, and their seals against the
/// erasures among them, a part at a time on demand (`super::prefix::PrefixCursor`).
pub trait ReadPrefix: Send + Sync {
    /// Reads the rest (telling `meter`, begun with the prefix's events, how many are
    /// read) and returns the whole prefix; `only`: no one else holds the reader, which
    /// may give its events away instead of copying them.
    fn read(&self, meter: &mut Meter<'_>, only: bool) -> Result<Prefix, AuditError>;
    /// The first `filter.limit` events `filter` selects, read only as far as needed;
    /// `None` when the prefix holds fewer (or `filter` has no limit).
    fn select(&self, filter: &Filter) -> Result<Option<Vec<Event>>, AuditError>;
}

/// The reader of the events a snapshot let `open` skip.
#[derive(Clone)]
pub struct PrefixLoader(pub std::sync::Arc<dyn ReadPrefix>);

impl std::fmt::Debug for PrefixLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrefixLoader")
    }
}

impl PrefixLoader {
    /// Reads the rest of the prefix and returns it whole (see [`ReadPrefix::read`]).
    pub fn read(&self, meter: &mut Meter<'_>) -> Result<Prefix, AuditError> {
        // Given away only when no one else can see the reader (a copy of the log, a pass
        // reading it outside the log's lock): they would find it empty.
        let only = std::sync::Arc::strong_count(&self.0) == 1;
        self.0.read(meter, only)
    }
}

/// What `events()` selects; every given criterion must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// The actor or `details["user"]`.
    pub user: Option<String>,
    /// Exactly this action, or a prefix ending in `.*` (`member.*`).
    pub action: Option<String>,
    /// Exactly this target.
    pub target: Option<String>,
    /// At or after.
    pub since: Option<Instant>,
    /// Before.
    pub until: Option<Instant>,
    /// The first N matches.
    pub limit: Option<usize>,
}

impl Filter {
    /// Does `ev` match?
    pub fn matches(&self, ev: &Event) -> bool {
        let lower = |s: &str| s.to_ascii_lowercase();
        self.actor.as_deref().is_none_or(|a| ev.actor == lower(a))
            && self.user.as_deref().is_none_or(|u| {
                let u = lower(u);
                ev.actor == u || ev.user() == Some(u.as_str())
            })
            && self
                .action
                .as_deref()
                .is_none_or(|a| match a.strip_suffix('*') {
                    Some(prefix) => ev.action.starts_with(prefix),
                    None => ev.action == a,
                })
            && self.target.as_deref().is_none_or(|t| ev.target == t)
            && self.since.is_none_or(|s| ev.at >= s)
            && self.until.is_none_or(|u| ev.at < u)
    }
}

/// A [`Filter`] read against a store's rows, without rebuilding the events.
pub(super) struct RowFilter<'a> {
    filter: &'a Filter,
    actor: Option<String>,
    user: Option<String>,
}

impl<'a> RowFilter<'a> {
    pub(super) fn new(filter: &'a Filter) -> Self {
        let lower = |s: &Option<String>| s.as_deref().map(str::to_ascii_lowercase);
        RowFilter {
            filter,
            actor: lower(&filter.actor),
            user: lower(&filter.user),
        }
    }

    /// True when every event matches (no criterion; `limit` apart).
    pub(super) fn takes_all(&self) -> bool {
        // Every field named, so that a new criterion cannot be forgotten here.
        let Filter {
            actor,
            user,
            action,
            target,
            since,
            until,
            limit: _,
        } = self.filter;
        [actor, user, action, target].iter().all(|c| c.is_none())
            && since.is_none()
            && until.is_none()
    }

    /// Does event `i` of `events` match (its `limit` apart)?
    pub(super) fn matches(&self, events: &EventStore, i: usize) -> bool {
        let filter = self.filter;
        let Some((at, a, action, target)) = events.head(i) else {
            return false;
        };
        self.actor.as_deref().is_none_or(|x| a == x)
            && self
                .user
                .as_deref()
                .is_none_or(|u| a == u || events.user(i) == Some(u))
            && filter
                .action
                .as_deref()
                .is_none_or(|x| match x.strip_suffix('*') {
                    Some(prefix) => action.starts_with(prefix),
                    None => action == x,
                })
            && filter.target.as_deref().is_none_or(|t| target == t)
            && filter.since.is_none_or(|s| at >= s)
            && filter.until.is_none_or(|u| at < u)
    }
}

/// The last line of a JSON Lines export: what the events before it must add up to, so a
/// missing first or last event is noticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    /// Format (2).
    pub accessgraph_export: u32,
    /// The graph.
    pub graph_id: String,
    /// `prev_hash` of the first event.
    pub anchor: String,
    /// `seq` before the first event.
    pub base_seq: u64,
    /// How many events.
    pub count: u64,
    /// The last event's hash (the anchor when there are none).
    pub last_hash: String,
    /// With a key: an HMAC-SHA-256 over the fields above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl Trailer {
    fn fields(&self) -> [String; 5] {
        [
            self.graph_id.clone(),
            self.anchor.clone(),
            self.base_seq.to_string(),
            self.count.to_string(),
            self.last_hash.clone(),
        ]
    }
}

impl Log {
    /// A log for a new chain.
    pub fn new(anchor: String) -> Self {
        Log {
            anchor,
            ..Log::default()
        }
    }

    /// How many events are held.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// No events held.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Appends events (already chained after the last one).
    pub fn extend(&mut self, events: impl IntoIterator<Item = Event>) {
        for e in events {
            self.events.push(&e);
        }
    }

    /// The `seq` before the first event, counting events not loaded yet.
    pub fn true_base_seq(&self) -> u64 {
        self.pending.as_ref().map_or(self.base_seq, |p| p.base_seq)
    }

    /// Reads and verifies the events a snapshot let `open` skip, and puts them first.
    pub fn load_pending(&mut self) -> Result<(), AuditError> {
        let Some(p) = &self.pending else {
            return Ok(());
        };
        // Read before it is taken: a read that fails leaves the events still to load (the
        // log never passes for whole without them).
        let prefix = p.loader.read(&mut Meter::none())?;
        self.install_prefix(prefix)
    }

    /// The events before the snapshot still to be read: `(loader, how many)`.
    pub fn pending_prefix(&self) -> Option<(PrefixLoader, u64)> {
        self.pending
            .as_ref()
            .map(|p| (p.loader.clone(), self.base_seq.saturating_sub(p.base_seq)))
    }

    /// Puts `prefix`, read by the pending loader, in front of the events (nothing to do
    /// when another call did it meanwhile).
    pub fn install_prefix(&mut self, prefix: Prefix) -> Result<(), AuditError> {
        if self.pending.is_none() {
            return Ok(());
        }
        // The loader read the prefix as opening reads a journal: each event's hash and
        // its chain from the journal's anchor checked, and the seals among them. What is
        // left: that the prefix leads to the snapshot.
        let Prefix { mut events, end } = prefix;
        if end != (self.base_seq, self.anchor.clone()) {
            return Err(AuditError::Integrity {
                seq: self.base_seq,
                reason: "the journal no longer leads to the snapshot it was opened from".into(),
            });
        }
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        for e in self.events.iter(self.base_seq, &self.anchor) {
            events.push(&e);
        }
        self.events = events;
        self.base_seq = p.base_seq;
        self.anchor = p.anchor;
        self.base_state = p.base_state;
        Ok(())
    }

    /// The `seq` of the last event (the graph's revision).
    pub fn last_seq(&self) -> u64 {
        self.base_seq + self.events.len() as u64
    }

    /// The hash the next event chains to.
    pub fn last_hash(&self) -> String {
        self.events
            .last_hash()
            .unwrap_or_else(|| self.anchor.clone())
    }

    /// Every event, in `seq` order.
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.events.iter(self.base_seq, &self.anchor)
    }

    /// The events `filter` selects, in `seq` order.
    pub fn select(&self, filter: &Filter) -> Vec<Event> {
        self.matching(filter).collect()
    }

    /// The events `filter` selects, in `seq` order: the fields a filter reads are read
    /// from the rows, and only the events it keeps are rebuilt.
    pub fn matching<'a>(&'a self, filter: &'a Filter) -> impl Iterator<Item = Event> + 'a {
        self.matching_rows(filter)
            .filter_map(move |i| self.events.get(i, self.base_seq, &self.anchor))
    }

    /// The indexes (0-based) of the events `filter` selects, read from the rows.
    fn matching_rows<'a>(&'a self, filter: &'a Filter) -> impl Iterator<Item = usize> + 'a {
        let rows = RowFilter::new(filter);
        // No criterion (a limit apart): every row, none read (a whole table's export).
        let all = rows.takes_all();
        (0..self.events.len())
            .filter(move |&i| all || rows.matches(&self.events, i))
            .take(filter.limit.unwrap_or(usize::MAX))
    }

    /// The first `filter.limit` events it selects, when the events a snapshot let `open`
    /// skip hold them: read only as far as needed to find them (and on from there the
    /// next time), each handed out once chained from the journal's anchor (see
    /// [`super::prefix`]). `None`: the query needs the whole log (no limit, or fewer
    /// matches before the snapshot, or nothing is pending).
    pub fn select_early(&self, filter: &Filter) -> Result<Option<Vec<Event>>, AuditError> {
        match (&self.pending, filter.limit) {
            (Some(p), Some(_)) => p.loader.0.select(filter),
            _ => Ok(None),
        }
    }

    /// The events `filter` selects as a table, written from the rows without rebuilding
    /// an event, in `seq` order. One part: written on several threads, the fresh buffers'
    /// page faults contend and it was slower (250k events: 0.10 s against 0.053 s); the
    /// part's columns are written on two threads instead ([`EventStore::columns_of`]).
    pub fn columns(&self, filter: &Filter) -> Vec<Columns> {
        let rows: Vec<usize> = self.matching_rows(filter).collect();
        self.columns_in(&rows, 1)
    }

    /// The events `filter` selects as a table in two halves, each handed to `heads` or
    /// `details` on the thread that wrote it ([`EventStore::columns_with`]).
    pub fn columns_with<H: Send, D: Send>(
        &self,
        filter: &Filter,
        heads: impl Fn(Heads) -> H + Sync,
        details: impl Fn(Text, Text) -> D + Sync,
    ) -> (H, D) {
        let rows: Vec<usize> = self.matching_rows(filter).collect();
        let (base_seq, anchor) = (self.base_seq, &self.anchor);
        self.events
            .columns_with(&rows, base_seq, anchor, heads, details)
    }

    /// The table of events `rows` (indexes, in order) in `parts` parts, one thread each.
    pub fn columns_in(&self, rows: &[usize], parts: usize) -> Vec<Columns> {
        let part = |rows: &[usize]| self.events.columns_of(rows, self.base_seq, &self.anchor);
        if parts <= 1 {
            return vec![part(rows)];
        }
        let size = rows.len().div_ceil(parts);
        std::thread::scope(|scope| {
            let handles: Vec<_> = rows
                .chunks(size)
                .map(|chunk| scope.spawn(move || part(chunk)))
                .collect();
            handles
                .into_iter()
                .zip(rows.chunks(size))
                .map(|(h, chunk)| h.join().unwrap_or_else(|_| part(chunk)))
                .collect()
        })
    }

    /// Recomputes the chain from the anchor and checks every seal against the erasures;
    /// the error names the first bad `seq`.
    pub fn verify(&self) -> Result<(), AuditError> {
        self.events
            .verify(self.base_seq, &self.anchor)
            .map_err(|(seq, b)| integrity(seq, b.to_string()))?;
        self.verify_seals()
    }

    /// [`Log::verify`], reporting the events checked to `hook` (see [`crate::progress`]).
    pub fn verify_reporting(&self, hook: Hook<'_>) -> Result<(), Error> {
        let mut meter = Meter::start(hook, self.events.len() as u64)?;
        self.events
            .verify_metered(self.base_seq, &self.anchor, &mut meter)?
            .map_err(|(seq, b)| integrity(seq, b.to_string()))?;
        self.verify_seals()?;
        Ok(meter.finish()?)
    }

    /// The seal rule of [`Log::verify`].
    fn verify_seals(&self) -> Result<(), AuditError> {
        // The seal rule reads only erasures and sealed events: rebuild just those.
        let sealed: Vec<Event> = (0..self.events.len())
            .filter(|&i| {
                self.events.has_seals(i)
                    || self.events.head(i).is_some_and(|h| h.2 == "user.erased")
            })
            .filter_map(|i| self.events.get(i, self.base_seq, &self.anchor))
            .collect();
        check_seals(self.base_seq, &sealed)
    }

    /// JSON Lines, one event per line, then the [`Trailer`] (signed with `key`): the form
    /// `AuditLog.load` reads back.
    pub fn to_jsonl(&self, graph_id: &str, key: Option<&[u8]>) -> String {
        // Without a hook nothing stops the export.
        self.to_jsonl_reporting(graph_id, key, None)
            .unwrap_or_default()
    }

    /// [`Log::to_jsonl`], reporting the events written to `hook`.
    pub fn to_jsonl_reporting(
        &self,
        graph_id: &str,
        key: Option<&[u8]>,
        hook: Hook<'_>,
    ) -> Result<String, Stop> {
        let mut meter = Meter::start(hook, self.events.len() as u64)?;
        let mut out = String::new();
        for (done, e) in (1..).zip(self.iter()) {
            out.push_str(&e.to_json());
            out.push('\n');
            meter.at(done)?;
        }
        let mut trailer = Trailer {
            accessgraph_export: 2,
            graph_id: graph_id.to_owned(),
            anchor: self.anchor.clone(),
            base_seq: self.base_seq,
            count: self.events.len() as u64,
            last_hash: self.last_hash(),
            mac: None,
        };
        if let Some(key) = key {
            let f = trailer.fields();
            let parts: Vec<&str> = f.iter().map(String::as_str).collect();
            trailer.mac = Some(mac(key, "accessgraph/export/v2", &parts));
        }
        out.push_str(&serde_json::to_string(&trailer).unwrap_or_default());
        out.push('\n');
        meter.finish()?;
        Ok(out)
    }

    /// CSV: `seq,at,actor,action,target,user,details,prev_hash,hash` (details as JSON).
    pub fn to_csv(&self) -> Result<String, AuditError> {
        self.to_csv_reporting(None).map_err(|e| match e {
            Error::Audit(e) => e,
            other => AuditError::Io(other.to_string()),
        })
    }

    /// [`Log::to_csv`], reporting the events written to `hook`.
    pub fn to_csv_reporting(&self, hook: Hook<'_>) -> Result<String, Error> {
        let mut meter = Meter::start(hook, self.events.len() as u64)?;
        let mut w = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| AuditError::Io(e.to_string());
        w.write_record([
            "seq",
            "at",
            "actor",
            "action",
            "target",
            "user",
            "details",
            "prev_hash",
            "hash",
        ])
        .map_err(io)?;
        for (done, e) in (1..).zip(self.iter()) {
            meter.at(done)?;
            let details = Value::Object(e.details.clone()).to_string();
            w.write_record(crate::text::spreadsheet_row([
                e.seq.to_string().as_str(),
                &e.at.to_iso(),
                &e.actor,
                &e.action,
                &e.target,
                e.user().unwrap_or_default(),
                &details,
                &e.prev_hash,
                &e.hash,
            ]))
            .map_err(io)?;
        }
        let bytes = w.into_inner().map_err(|e| AuditError::Io(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|e| AuditError::Io(e.to_string()))?;
        meter.finish()?;
        Ok(text)
    }

    /// Reads a JSON Lines export: the events, then its trailer, which must account for
    /// the first and the last event (and, with `key`, verify). Malformed lines name
    /// their number; an export without its trailer is refused (cut short).
    pub fn from_jsonl(text: &str, key: Option<&[u8]>) -> Result<(Self, Trailer), AuditError> {
        let lines: Vec<(u64, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i as u64 + 1, l))
            .collect();
        let trailer: Trailer = match lines.last() {
            Some((_, l)) if l.contains("\"accessgraph_export\"") => serde_json::from_str(l)
                .map_err(|e| integrity(0, format!("the export's trailer is unreadable: {e}")))?,
            _ => {
                return Err(integrity(
                    0,
                    "the export has no trailer: it was cut short (its last events may be missing) or is not an accessgraph export",
                ))
            }
        };
        if trailer.accessgraph_export != 2 {
            return Err(integrity(
                0,
                format!(
                    "export format {} is not supported",
                    trailer.accessgraph_export
                ),
            ));
        }
        if let Some(key) = key {
            let f = trailer.fields();
            let parts: Vec<&str> = f.iter().map(String::as_str).collect();
            let ok = trailer
                .mac
                .as_deref()
                .is_some_and(|t| mac_ok(key, "accessgraph/export/v2", &parts, t));
            if !ok {
                return Err(integrity(
                    0,
                    "the export's trailer does not verify with this key (unsigned, another key, or altered)",
                ));
            }
        }
        let mut events = EventStore::default();
        for (line_no, line) in lines.iter().take(lines.len().saturating_sub(1)) {
            let ev = parse_event(line)
                .map_err(|m| integrity(0, format!("line {line_no}: not an audit event: {m}")))?;
            // The store numbers events by position: a seq out of place is an edit.
            let expected = trailer.base_seq + events.len() as u64 + 1;
            if ev.seq != expected {
                return Err(integrity(
                    expected,
                    format!(
                        "line {line_no}: expected event {expected}, found event {}: events were removed, added, reordered or renumbered",
                        ev.seq
                    ),
                ));
            }
            // Nor is `prev_hash` kept: it must be what the chain says it is.
            let prev = events.last_hash().unwrap_or_else(|| trailer.anchor.clone());
            if ev.prev_hash != prev {
                return Err(integrity(
                    expected,
                    format!("line {line_no}: its prev_hash is not the hash of the event before it"),
                ));
            }
            events.push(&ev);
        }
        let log = Log {
            anchor: trailer.anchor.clone(),
            base_seq: trailer.base_seq,
            base_state: None,
            events,
            pending: None,
        };
        if log.events.len() as u64 != trailer.count {
            return Err(integrity(
                log.last_seq() + 1,
                format!(
                    "the export holds {} events but its trailer counts {}: events were removed or added",
                    log.events.len(),
                    trailer.count
                ),
            ));
        }
        if log.last_hash() != trailer.last_hash {
            return Err(integrity(
                log.last_seq(),
                "the last event is not the one the export's trailer records: events were cut or altered",
            ));
        }
        Ok((log, trailer))
    }

    /// Drops the events before `before` (a prefix of the log), advancing the anchor and
    /// the base state so the rest still verifies and replays. Returns how many went.
    pub fn prune(&mut self, before: Instant) -> Result<usize, AuditError> {
        let all: Vec<Event> = self.iter().collect();
        let n = all.iter().take_while(|e| e.at < before).count();
        if n == 0 {
            return Ok(0);
        }
        let mut state = self.base_state.take().unwrap_or_default();
        for e in all.iter().take(n) {
            super::replay::apply(&mut state, e)
                .map_err(|reason| AuditError::Integrity { seq: e.seq, reason })?;
        }
        if let Some(last) = n.checked_sub(1).and_then(|i| all.get(i)) {
            self.anchor.clone_from(&last.hash);
            self.base_seq = last.seq;
        }
        let mut kept = EventStore::default();
        for e in all.into_iter().skip(n) {
            kept.push(&e);
        }
        self.events = kept;
        self.base_state = Some(state);
        Ok(n)
    }

    /// The state after every event with `at <= when` (the longest such prefix).
    pub fn state_at(&self, when: Instant) -> Result<State, AuditError> {
        self.state_at_metered(when, &mut Meter::none())
    }

    /// [`Log::state_at`], telling `meter` (begun with the events held) how many are
    /// replayed; a hook that stops it stops the replay with
    /// [`crate::progress::STOPPED`] (the stop is the meter's: [`Meter::stopped`]).
    pub fn state_at_metered(
        &self,
        when: Instant,
        meter: &mut Meter<'_>,
    ) -> Result<State, AuditError> {
        let stopped = |_| AuditError::Io(crate::progress::STOPPED.to_owned());
        meter.begin(self.events.len() as u64).map_err(stopped)?;
        let mut state = self.base_state.clone().unwrap_or_default();
        for (done, e) in (1u64..).zip(self.iter().take_while(|e| e.at <= when)) {
            super::replay::apply(&mut state, &e)
                .map_err(|reason| AuditError::Integrity { seq: e.seq, reason })?;
            meter.at(done).map_err(stopped)?;
        }
        Ok(state)
    }
}

fn integrity(seq: u64, reason: impl Into<String>) -> AuditError {
    AuditError::Integrity {
        seq,
        reason: reason.into(),
    }
}

/// Checks `events` chain from `anchor`, numbered from `base_seq + 1`, each one's hash,
/// and every seal against the erasures ([`check_seals`]).
pub fn verify_chain(anchor: &str, base_seq: u64, events: &[Event]) -> Result<(), AuditError> {
    let mut prev = anchor;
    for (expect, e) in (base_seq + 1..).zip(events) {
        if e.seq != expect {
            return Err(integrity(
                expect,
                format!("expected event {expect}, found event {}", e.seq),
            ));
        }
        if e.prev_hash != prev {
            return Err(integrity(
                e.seq,
                "its prev_hash is not the hash of the event before it",
            ));
        }
        e.check().map_err(|b| integrity(e.seq, b.to_string()))?;
        prev = &e.hash;
    }
    check_seals(base_seq, events)
}

/// The seals a `user.erased` event lists: `[[seq, path], …]` in its `sealed` detail.
fn listed_seals(ev: &Event) -> Option<Vec<(u64, String)>> {
    let list = ev.details.get("sealed")?.as_array()?;
    list.iter()
        .map(|item| {
            let pair = item.as_array()?;
            Some((pair.first()?.as_u64()?, pair.get(1)?.as_str()?.to_owned()))
        })
        .collect()
}

/// Every sealed field must hold the pseudonym of a `user.erased` event at or after it,
/// and each `user.erased` event must list exactly the fields sealed with its pseudonym
/// (those of events before `base_seq + 1` are gone with retention and not checked).
pub fn check_seals(base_seq: u64, events: &[Event]) -> Result<(), AuditError> {
    let mut check = SealCheck::new(base_seq);
    for e in events {
        check.push(e)?;
    }
    check.finish()
}

/// [`check_seals`] one event at a time, for a log read as a stream: the first error is
/// the one `check_seals` gives over the same events.
#[derive(Debug, Default)]
pub struct SealCheck {
    base_seq: u64,
    seals: BTreeMap<String, Vec<(u64, String)>>,
}

impl SealCheck {
    /// A check of the events after `base_seq`.
    pub fn new(base_seq: u64) -> Self {
        SealCheck {
            base_seq,
            seals: BTreeMap::new(),
        }
    }

    /// The next event.
    pub fn push(&mut self, e: &Event) -> Result<(), AuditError> {
        if !e.sealed.is_empty() {
            for (path, pseudonym) in e.seals() {
                self.seals.entry(pseudonym).or_default().push((e.seq, path));
            }
        }
        if e.action == "user.erased" {
            let Some(p) = e.details.get("pseudonym").and_then(Value::as_str) else {
                return Err(integrity(
                    e.seq,
                    "a `user.erased` event without its pseudonym",
                ));
            };
            let mut listed = listed_seals(e).ok_or_else(|| {
                integrity(
                    e.seq,
                    "a `user.erased` event without the list of what it sealed",
                )
            })?;
            listed.retain(|(seq, _)| *seq > self.base_seq);
            listed.sort();
            let mut found = self.seals.remove(p).unwrap_or_default();
            found.sort();
            if listed != found {
                return Err(integrity(
                    e.seq,
                    format!(
                        "the fields sealed with `{p}` are not the ones this erasure lists: a field was sealed (or unsealed) after the fact"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A field sealed with `pseudonym` was read and no erasure naming it yet.
    pub fn is_open(&self, pseudonym: &str) -> bool {
        self.seals.contains_key(pseudonym)
    }

    /// After the last event: no seal is left that no erasure named.
    pub fn finish(self) -> Result<(), AuditError> {
        if let Some((p, places)) = self.seals.into_iter().next() {
            let seq = places.first().map_or(0, |(s, _)| *s);
            return Err(integrity(
                seq,
                format!(
                    "a field is sealed with `{p}`, which no later `user.erased` event names: its value was replaced"
                ),
            ));
        }
        Ok(())
    }
}
