//! A graph's history read where it is kept, for a graph that does not hold it in memory.
//!
//! A store that keeps the events itself and can answer queries (PostgreSQL,
//! `super::postgres::PgHistory`) offers a [`HistorySource`]; the graph's in-memory log then
//! keeps only where the chain ends (the last `seq` and hash, what a new event chains to:
//! [`keep_tail`]), and the audit log's queries, verification, exports and time travel read
//! from the source, in pages, through the functions below. So a process's resident memory
//! does not grow with the history. A graph without a source (a file journal, memory) uses
//! its [`Log`] as before.
//!
//! The seam is small on purpose: a source only has to stream the events a [`Filter`]
//! selects, in `seq` order, after the chain's base, in one consistent view; everything
//! else (the chain and seal checks, the replay of `as_of`, the export's trailer) is
//! written once here, over that stream.

use std::sync::Arc;

use serde_json::Value;

use super::checkpoint::mac;
use super::event::Event;
use super::log::{check_seals, Filter, Log, Trailer};
use super::replay;
use crate::error::{AuditError, Error};
use crate::progress::{Hook, Meter, Stop};
use crate::state::State;
use crate::time::Instant;

/// Where the stored chain starts (retention moves it).
#[derive(Debug, Clone)]
pub struct Base {
    /// `seq` of the event before the first one kept.
    pub seq: u64,
    /// `prev_hash` of the first event kept.
    pub anchor: String,
    /// The state after event `seq` (a JSON snapshot), when retention cut the chain.
    pub state: Option<Value>,
}

/// What a scan delivers: the base first (when the span asks for the chain), then the
/// events.
#[derive(Debug)]
pub enum Scanned {
    /// Where the chain starts, read in the same view as the events.
    Base(Base),
    /// One event, in `seq` order, its own hash checked by the source.
    Event(Event),
}

/// Which events a scan reads: those `filter` selects with `after < seq <= upto`.
#[derive(Debug, Clone, Copy)]
pub struct Span<'a> {
    /// The criteria (its `limit` included).
    pub filter: &'a Filter,
    /// Only events after this `seq`.
    pub after: u64,
    /// Only events up to this `seq` (the graph's revision: what it has applied).
    pub upto: u64,
    /// The whole chain is read: the base comes first, read in the same view as the
    /// events. Otherwise (a filter, a page) the base may be skipped.
    pub chain: bool,
}

/// A store that answers the audit log's reads itself.
pub trait HistorySource: Send + Sync {
    /// Streams the base (for a read of the chain), then the events `span` selects, in
    /// `seq` order, read in pages from one consistent view of the store, until `visit`
    /// returns `false`. Each event's own hash is checked; with a key, so is what the key
    /// vouches for.
    fn scan(
        &self,
        span: Span<'_>,
        visit: &mut dyn FnMut(Scanned) -> Result<bool, AuditError>,
    ) -> Result<(), AuditError>;

    /// `seq` of the event before the first one kept, as last read (for `len`).
    fn base_seq(&self) -> u64;

    /// The key that signs what the store holds (`hmac_key`), which signs exports too.
    fn key(&self) -> Option<&[u8]>;
}

/// A graph's source, if its store offers one.
pub type Source = Arc<dyn HistorySource>;

/// Replaces `log` by its tail: no events, the last `seq` and hash as its base, which is
/// all a new event needs to chain on.
pub fn keep_tail(log: &mut Log) {
    if log.is_empty() && log.base_state.is_none() && log.pending.is_none() {
        return;
    }
    let mut tail = Log::new(log.last_hash());
    tail.base_seq = log.last_seq();
    *log = tail;
}

fn integrity(seq: u64, reason: impl Into<String>) -> AuditError {
    AuditError::Integrity {
        seq,
        reason: reason.into(),
    }
}

/// Checks a stream of events as `Log::verify` checks a log: numbered and chained from the
/// base, each hash, and (at the end) the seals against the erasures.
struct Chain {
    base: u64,
    seq: u64,
    prev: String,
    /// The events the seal rule looks at: those with a sealed field, and erasures.
    sealing: Vec<Event>,
}

impl Chain {
    fn new(base: &Base) -> Self {
        Chain {
            base: base.seq,
            seq: base.seq,
            prev: base.anchor.clone(),
            sealing: Vec::new(),
        }
    }

    fn push(&mut self, e: &Event) -> Result<(), AuditError> {
        let expect = self.seq + 1;
        if e.seq != expect {
            return Err(integrity(
                expect,
                format!("expected event {expect}, found event {}", e.seq),
            ));
        }
        if e.prev_hash != self.prev {
            return Err(integrity(
                e.seq,
                "its prev_hash is not the hash of the event before it",
            ));
        }
        e.check().map_err(|b| integrity(e.seq, b.to_string()))?;
        if !e.sealed.is_empty() || e.action == "user.erased" {
            self.sealing.push(e.clone());
        }
        self.seq = e.seq;
        self.prev.clone_from(&e.hash);
        Ok(())
    }

    /// The seal rule over the whole stream: only the events kept above take part in it.
    fn finish(self) -> Result<(u64, String), AuditError> {
        check_seals(self.base, &self.sealing)?;
        Ok((self.seq, self.prev))
    }
}

/// One step of a checked stream of the whole chain.
enum Step<'a> {
    /// Where the chain starts.
    Base(&'a Base),
    /// The next event, chained and its hash checked.
    Event(&'a Event),
}

/// Every event (`seq <= upto`) of the whole chain, checked as it streams; `visit` sees the
/// base, then the events in order, and may stop the stream (returning `false`): the seal
/// rule, which needs the erasures after a sealed field, is then not applied. Returns the
/// last event's `seq` and hash.
fn chain(
    src: &dyn HistorySource,
    upto: u64,
    mut visit: impl FnMut(Step<'_>) -> Result<bool, AuditError>,
) -> Result<(u64, String), AuditError> {
    let all = Filter::default();
    let mut checker: Option<Chain> = None;
    let mut stopped = false;
    src.scan(
        Span {
            filter: &all,
            after: 0,
            upto,
            chain: true,
        },
        &mut |item| match item {
            Scanned::Base(b) => {
                checker = Some(Chain::new(&b));
                visit(Step::Base(&b))
            }
            Scanned::Event(e) => {
                let c = checker
                    .as_mut()
                    .ok_or_else(|| integrity(e.seq, "the store gave events before its base"))?;
                c.push(&e)?;
                let go_on = visit(Step::Event(&e))?;
                stopped = !go_on;
                Ok(go_on)
            }
        },
    )?;
    let c = checker.ok_or_else(|| integrity(0, "the store gave no base"))?;
    if stopped {
        return Ok((c.seq, c.prev));
    }
    c.finish()
}

/// The events `filter` selects (`seq <= upto`), in `seq` order.
pub fn select(
    src: &dyn HistorySource,
    filter: &Filter,
    upto: u64,
) -> Result<Vec<Event>, AuditError> {
    let mut out = Vec::new();
    each(src, filter, upto, &mut |e| out.push(e))?;
    Ok(out)
}

/// Calls `f` on each event `filter` selects (`seq <= upto`), in `seq` order.
pub fn each(
    src: &dyn HistorySource,
    filter: &Filter,
    upto: u64,
    f: &mut dyn FnMut(Event),
) -> Result<(), AuditError> {
    src.scan(
        Span {
            filter,
            after: 0,
            upto,
            chain: false,
        },
        &mut |item| {
            if let Scanned::Event(e) = item {
                f(e);
            }
            Ok(true)
        },
    )
}

/// Up to `n` events after `after` (`seq <= upto`): one page of an iteration.
pub fn page(
    src: &dyn HistorySource,
    after: u64,
    upto: u64,
    n: usize,
) -> Result<Vec<Event>, AuditError> {
    let filter = Filter {
        limit: Some(n),
        ..Filter::default()
    };
    let mut out = Vec::with_capacity(n.min(10_000));
    src.scan(
        Span {
            filter: &filter,
            after,
            upto,
            chain: false,
        },
        &mut |item| {
            if let Scanned::Event(e) = item {
                out.push(e);
            }
            Ok(true)
        },
    )?;
    Ok(out)
}

/// How many events the graph's history holds up to `upto`.
pub fn len(src: &dyn HistorySource, upto: u64) -> u64 {
    upto.saturating_sub(src.base_seq())
}

/// Verifies the whole stored chain up to `upto`, and that it ends where the graph's own
/// chain does (`tail`: its last `seq` and hash), so rows rewritten under a running graph
/// are noticed too.
pub fn verify(src: &dyn HistorySource, tail: (u64, &str)) -> Result<(), AuditError> {
    verify_reporting(src, tail, None).map_err(audit_only)
}

/// The error of a call made without a hook, which nothing stops.
fn audit_only(e: Error) -> AuditError {
    match e {
        Error::Audit(e) => e,
        other => AuditError::Io(other.to_string()),
    }
}

/// A visitor of [`chain`] that may stop the scan.
type Visit<'m> = Box<dyn FnMut(Step<'_>) -> Result<bool, AuditError> + 'm>;

/// Counts `visit`'s events on `meter`; a stop ends the scan (kept in `stopped`).
fn metered<'m, 'a: 'm>(
    meter: &'m mut Meter<'a>,
    stopped: &'m mut Option<Stop>,
    mut visit: impl FnMut(Step<'_>) -> Result<(), AuditError> + 'm,
) -> Visit<'m> {
    let mut done = 0_u64;
    Box::new(move |step| {
        let event = matches!(step, Step::Event(_));
        visit(step)?;
        if event {
            done += 1;
            if let Err(stop) = meter.at(done) {
                *stopped = Some(stop);
                return Ok(false);
            }
        }
        Ok(true)
    })
}

/// [`verify`], reporting the events checked to `hook` (see [`crate::progress`]).
pub fn verify_reporting(
    src: &dyn HistorySource,
    tail: (u64, &str),
    hook: Hook<'_>,
) -> Result<(), Error> {
    let mut meter = Meter::start(hook, len(src, tail.0))?;
    let mut stopped = None;
    let (seq, hash) = chain(src, tail.0, metered(&mut meter, &mut stopped, |_| Ok(())))?;
    if let Some(stop) = stopped {
        return Err(stop.into());
    }
    if seq != tail.0 {
        return Err(integrity(
            seq + 1,
            format!(
                "the stored chain ends at event {seq} but this graph has applied events up to {}: events were removed",
                tail.0
            ),
        )
        .into());
    }
    if hash != tail.1 {
        return Err(integrity(
            seq,
            "the stored event differs from the one this graph applied: the chain was rewritten",
        )
        .into());
    }
    Ok(meter.finish()?)
}

/// What replaying the stored chain up to an instant gives.
#[derive(Debug)]
pub enum AsOf {
    /// The state after every event at or before the instant.
    State(Box<State>),
    /// Retention dropped the history before the instant: the first event kept is at this
    /// instant.
    Pruned(Instant),
}

fn state_of(v: Option<&Value>) -> Result<State, AuditError> {
    v.map_or_else(
        || Ok(State::default()),
        |v| {
            crate::state::snapshot::read(&v.to_string())
                .map_err(|e| integrity(0, format!("the stored base state: {e}")))
        },
    )
}

/// The state after every event with `at <= when` (the longest such prefix, as
/// `Log::state_at`), replayed from the stored base, the chain checked on the way.
pub fn state_at(src: &dyn HistorySource, when: Instant, upto: u64) -> Result<AsOf, AuditError> {
    state_at_metered(src, when, upto, &mut Meter::none())
}

/// [`state_at`], telling `meter` how many events are replayed (of those after the
/// store's base when the read begins); a hook that stops it stops the replay with
/// [`crate::progress::STOPPED`] (the stop is the meter's: [`Meter::stopped`]).
pub fn state_at_metered(
    src: &dyn HistorySource,
    when: Instant,
    upto: u64,
    meter: &mut Meter<'_>,
) -> Result<AsOf, AuditError> {
    let stopped = |_| AuditError::Io(crate::progress::STOPPED.to_owned());
    let mut state = State::default();
    let mut pruned_at: Option<Instant> = None;
    let mut base_seq = 0;
    let mut first = true;
    chain(src, upto, |step| match step {
        Step::Base(b) => {
            base_seq = b.seq;
            state = state_of(b.state.as_ref())?;
            meter
                .begin(upto.saturating_sub(base_seq))
                .map_err(stopped)?;
            Ok(true)
        }
        Step::Event(e) => {
            if std::mem::take(&mut first) && base_seq > 0 && when < e.at {
                pruned_at = Some(e.at);
                return Ok(false);
            }
            if e.at > when {
                return Ok(false);
            }
            replay::apply(&mut state, e).map_err(|reason| integrity(e.seq, reason))?;
            meter.at(e.seq.saturating_sub(base_seq)).map_err(stopped)?;
            Ok(true)
        }
    })?;
    Ok(match pruned_at {
        Some(at) => AsOf::Pruned(at),
        None => AsOf::State(Box::new(state)),
    })
}

/// The whole stored history up to `upto`, verified, as a [`Log`] in memory: for erasure
/// and retention, which rewrite it.
pub fn whole(src: &dyn HistorySource, tail: (u64, &str)) -> Result<Log, AuditError> {
    let mut log = Log::default();
    let mut events = Vec::new();
    let (seq, hash) = chain(src, tail.0, |step| {
        match step {
            Step::Base(b) => {
                log = Log::new(b.anchor.clone());
                log.base_seq = b.seq;
                log.base_state = b.state.as_ref().map(|v| state_of(Some(v))).transpose()?;
            }
            Step::Event(e) => events.push(e.clone()),
        }
        Ok(true)
    })?;
    if (seq, hash.as_str()) != tail {
        return Err(integrity(
            seq,
            "the stored chain does not end where this graph's does: refresh() and try again",
        ));
    }
    log.extend(events);
    Ok(log)
}

/// The export (`audit.to_jsonl`): one event per line, then the trailer
/// (`docs/journal-format.md`, "Exports"), signed with the store's key.
pub fn to_jsonl(src: &dyn HistorySource, graph_id: &str, upto: u64) -> Result<String, AuditError> {
    to_jsonl_reporting(src, graph_id, upto, None).map_err(audit_only)
}

/// [`to_jsonl`], reporting the events written to `hook`.
pub fn to_jsonl_reporting(
    src: &dyn HistorySource,
    graph_id: &str,
    upto: u64,
    hook: Hook<'_>,
) -> Result<String, Error> {
    let mut meter = Meter::start(hook, len(src, upto))?;
    let mut stopped = None;
    let mut out = String::new();
    let mut base: Option<Base> = None;
    let mut count = 0_u64;
    let visit = metered(&mut meter, &mut stopped, |step| {
        match step {
            Step::Base(b) => base = Some(b.clone()),
            Step::Event(e) => {
                out.push_str(&e.to_json());
                out.push('\n');
                count += 1;
            }
        }
        Ok(())
    });
    let (_, last_hash) = chain(src, upto, visit)?;
    if let Some(stop) = stopped {
        return Err(stop.into());
    }
    let base = base.ok_or_else(|| integrity(0, "the store gave no base"))?;
    let mut trailer = Trailer {
        accessgraph_export: 2,
        graph_id: graph_id.to_owned(),
        anchor: base.anchor,
        base_seq: base.seq,
        count,
        last_hash,
        mac: None,
    };
    if let Some(key) = src.key() {
        // The fields and their order are the format's (docs/journal-format.md).
        let base_seq = trailer.base_seq.to_string();
        let count = trailer.count.to_string();
        trailer.mac = Some(mac(
            key,
            "accessgraph/export/v2",
            &[
                &trailer.graph_id,
                &trailer.anchor,
                &base_seq,
                &count,
                &trailer.last_hash,
            ],
        ));
    }
    out.push_str(&serde_json::to_string(&trailer).map_err(|e| AuditError::Io(e.to_string()))?);
    out.push('\n');
    meter.finish()?;
    Ok(out)
}

/// Events per CSV chunk: each chunk is written by `Log::to_csv`, so the columns stay the
/// log's.
const CSV_CHUNK: usize = 4096;

/// The CSV export (`audit.to_csv`), written in chunks of events as they stream.
pub fn to_csv(src: &dyn HistorySource, upto: u64) -> Result<String, AuditError> {
    to_csv_reporting(src, upto, None).map_err(audit_only)
}

/// [`to_csv`], reporting the events written to `hook`.
pub fn to_csv_reporting(
    src: &dyn HistorySource,
    upto: u64,
    hook: Hook<'_>,
) -> Result<String, Error> {
    let mut meter = Meter::start(hook, len(src, upto))?;
    let mut stopped = None;
    let mut out = String::new();
    let mut chunk: Vec<Event> = Vec::with_capacity(CSV_CHUNK);
    let flush = |chunk: &mut Vec<Event>, out: &mut String| -> Result<(), AuditError> {
        // The store numbers events by position and keeps no `prev_hash`: the chunk's
        // log starts where its first event does.
        let mut part = chunk.first().map_or_else(Log::default, |e| Log {
            anchor: e.prev_hash.clone(),
            base_seq: e.seq.saturating_sub(1),
            ..Log::default()
        });
        part.extend(chunk.drain(..));
        let text = part.to_csv()?;
        if out.is_empty() {
            out.push_str(&text);
        } else {
            // Every chunk after the first without its header line.
            out.push_str(text.split_once('\n').map_or("", |(_, rows)| rows));
        }
        Ok(())
    };
    let visit = metered(&mut meter, &mut stopped, |step| {
        if let Step::Event(e) = step {
            chunk.push(e.clone());
            if chunk.len() == CSV_CHUNK {
                flush(&mut chunk, &mut out)?;
            }
        }
        Ok(())
    });
    chain(src, upto, visit)?;
    if let Some(stop) = stopped {
        return Err(stop.into());
    }
    flush(&mut chunk, &mut out)?;
    meter.finish()?;
    Ok(out)
}
