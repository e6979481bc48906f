//! A piece of a journal as a decoding thread leaves it for opening: its events as rows of
//! a small [`EventStore`], the change each records, the few events the seal check reads,
//! and each batch's MAC. The thread that decodes the lines builds this, a line at a time
//! ([`Part::add_line`]), storing each event from its journal form as read without
//! building an [`Event`], so opening only appends stores and applies changes: an owned
//! [`Event`] per record, allocated on one thread and freed on another, was a third of
//! opening's time.

use super::event::{to_hex, Event, SYSTEM};
#[cfg(test)]
use super::journal::Batch;
use super::journal::{read_batch, BatchError};
use super::log::SealCheck;
#[cfg(test)]
use super::replay::change_of;
use super::replay::change_of_fields;
use super::store::EventStore;
use crate::error::AuditError;
use crate::state::{Change, Stamp, State};
use crate::time::Instant;

/// Some chained batches, shaped for opening (see the module docs).
#[derive(Debug, Default)]
pub struct Part {
    /// The events, in order.
    store: EventStore,
    /// The first event's `seq`.
    first_seq: u64,
    /// The first event's `prev_hash`.
    prev_hash: String,
    /// Each batch: how many events, and its MAC.
    batches: Vec<(usize, Option<String>)>,
    /// The change of each event that records one, or why it does not read, by row.
    changes: Vec<(usize, Result<Change, String>)>,
    /// The events the seal check reads (sealed fields, erasures), by row.
    sealing: Vec<(usize, Event)>,
}

/// How [`Part::replay`] ended: the first error of the chain or of a change (its line and
/// reason), and the first seal that does not check.
pub type Replayed = (Result<(), (u64, String)>, Option<AuditError>);

impl Part {
    /// The part of `batches` (chained: each batch was checked against the one before):
    /// what [`Part::add_line`] makes of their lines, the events built first.
    #[cfg(test)]
    pub fn of(batches: Vec<Batch>) -> Part {
        let mut part = Part::default();
        part.store.reserve(batches.len());
        for batch in batches {
            part.add(batch);
        }
        part
    }

    /// Adds `batch` (chained after the last one added: the decoder checked it), its
    /// events dropped here but for the few the seal check reads.
    #[cfg(test)]
    fn add(&mut self, batch: Batch) {
        if self.store.is_empty() {
            if let Some(e) = batch.events.first() {
                self.first_seq = e.seq;
                self.prev_hash.clone_from(&e.prev_hash);
            }
        }
        self.batches.push((batch.events.len(), batch.mac));
        for ev in batch.events {
            let row = self.store.len();
            self.store.push(&ev);
            match change_of(&ev) {
                Ok(None) => {}
                Ok(Some(c)) => self.changes.push((row, Ok(c))),
                Err(m) => self.changes.push((row, Err(m))),
            }
            if !ev.sealed.is_empty() || ev.action == "user.erased" {
                self.sealing.push((row, ev));
            }
        }
    }

    /// Reads `line` chained after `end` and adds its batch, moving `end` on: a
    /// [`super::decode::Shaper`], run by the thread that decodes the line. Each event is
    /// checked as [`read_batch`] checks it and stored from its journal form, without
    /// being built (but for the few the seal check reads). When the line does not read,
    /// the part and `end` are left as they were.
    pub fn add_line(&mut self, line: &str, end: &mut (u64, String)) -> Result<(), BatchError> {
        let start = self.store.is_empty().then(|| end.clone());
        let read = read_batch(line, end)?;
        if let Some((seq, prev)) = start {
            self.first_seq = seq + 1;
            self.prev_hash = prev;
        }
        self.batches.push((read.events.len(), read.mac));
        for (v, hash) in read.events.into_iter().zip(read.hashes) {
            let row = self.store.len();
            let fields = v.fields();
            self.store.push_fields(&fields, hash);
            match change_of_fields(&fields) {
                Ok(None) => {}
                Ok(Some(c)) => self.changes.push((row, Ok(c))),
                Err(m) => self.changes.push((row, Err(m))),
            }
            if !fields.sealed.is_empty() || fields.action == "user.erased" {
                let prev = match row.checked_sub(1) {
                    Some(before) => self.hash(before),
                    None => self.prev_hash.clone(),
                };
                self.sealing.push((row, v.into_event(prev, to_hex(&hash))));
            }
        }
        Ok(())
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// No events.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// The batches: how many events each holds, and its MAC.
    pub fn batches(&self) -> &[(usize, Option<String>)] {
        &self.batches
    }

    /// The `seq` of event `row`.
    pub fn seq(&self, row: usize) -> u64 {
        self.first_seq + row as u64
    }

    /// The hash of event `row`, hex.
    pub fn hash(&self, row: usize) -> String {
        self.store
            .rows
            .get(row)
            .map(|r| to_hex(&r.hash))
            .unwrap_or_default()
    }

    /// Keeps the first `batches` batches only.
    pub fn keep_batches(&mut self, batches: usize) {
        self.batches.truncate(batches);
        let events = self.batches.iter().map(|b| b.0).sum();
        self.store.truncate(events);
        self.changes.retain(|(row, _)| *row < events);
        self.sealing.retain(|(row, _)| *row < events);
    }

    /// Line of event `row`, the part's first batch on line `first_line`.
    fn line_of(&self, first_line: u64, row: usize) -> u64 {
        let mut seen = 0;
        for (i, (n, _)) in self.batches.iter().enumerate() {
            seen += n;
            if row < seen {
                return first_line + i as u64;
            }
        }
        first_line + self.batches.len().saturating_sub(1) as u64
    }

    /// Replays the part (its first batch on line `first_line`) onto `state` and appends
    /// it to `events`, chained after `next`, which it moves on: what replaying its events
    /// one at a time does — each event checked to follow the one before, its change
    /// applied, then (with `seals`, until one does not check) its seals checked, then
    /// appended — stopping at the first event that does not follow or apply (the events
    /// before it are appended).
    pub fn replay(
        mut self,
        first_line: u64,
        state: &mut State,
        events: &mut EventStore,
        next: &mut (u64, String),
        mut seals: Option<&mut SealCheck>,
    ) -> Replayed {
        if self.is_empty() {
            return (Ok(()), None);
        }
        // Inside the part, the decoder checked each event against the one before.
        if self.first_seq != next.0 + 1 || self.prev_hash != next.1 {
            return (
                Err((
                    self.line_of(first_line, 0),
                    format!("event {} does not follow event {}", self.first_seq, next.0),
                )),
                None,
            );
        }
        let mut sealed = None;
        let mut error = None;
        let mut sealing = std::mem::take(&mut self.sealing).into_iter().peekable();
        let changes = std::mem::take(&mut self.changes);
        let mut check_seals_to = |row: usize, sealed: &mut Option<AuditError>| {
            while let Some((_, ev)) = sealing.next_if(|(r, _)| *r < row) {
                if let (Some(check), None) = (seals.as_deref_mut(), sealed.as_ref()) {
                    if let Err(e) = check.push(&ev) {
                        *sealed = Some(e);
                    }
                }
            }
        };
        for (row, change) in changes {
            check_seals_to(row, &mut sealed);
            let applied = change.and_then(|c| {
                let (at, actor, action) = self
                    .store
                    .head(row)
                    .map_or((Instant(0), "", ""), |(at, actor, action, _)| {
                        (at, actor, action)
                    });
                let stamp = Stamp {
                    at,
                    actor: (actor != SYSTEM && !actor.starts_with("key:")).then_some(actor),
                };
                state.apply(&c, stamp).map_err(|e| {
                    format!(
                        "event {} (`{action}`) does not apply: {e}",
                        self.first_seq + row as u64
                    )
                })
            });
            if let Err(m) = applied {
                error = Some((row, m));
                break;
            }
        }
        let kept = error.as_ref().map_or(self.len(), |(row, _)| *row);
        check_seals_to(kept, &mut sealed);
        self.store.truncate(kept);
        events.append_from(&self.store);
        if kept > 0 {
            *next = (self.seq(kept - 1), self.hash(kept - 1));
        }
        match error {
            Some((row, m)) => (Err((self.line_of(first_line, row), m)), sealed),
            None => (Ok(()), sealed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::genesis;
    use crate::audit::replay::{apply, describe};
    use crate::state::OrgAttrs;
    use serde_json::{json, Value};

    fn chained(specs: &[(&str, &str, Value)]) -> (Vec<Event>, String) {
        let anchor = genesis("g");
        let mut prev = anchor.clone();
        let mut out = Vec::new();
        for (seq, (action, target, details)) in (1..).zip(specs) {
            let e = Event::new(
                seq,
                Instant(seq.cast_signed()),
                "o@x.io".into(),
                (*action).into(),
                (*target).into(),
                details.as_object().cloned().unwrap_or_default(),
                prev.clone(),
            )
            .unwrap_or_else(|e| unreachable!("{e}"));
            prev.clone_from(&e.hash);
            out.push(e);
        }
        (out, anchor)
    }

    /// Replays `events` one at a time, as opening did before parts.
    fn one_by_one(
        events: &[Event],
        state: &mut State,
        store: &mut EventStore,
        seals: &mut SealCheck,
    ) -> (Result<(), (usize, String)>, Option<AuditError>) {
        let mut sealed = None;
        for (i, ev) in events.iter().enumerate() {
            if let Err(m) = apply(state, ev) {
                return (Err((i, m)), sealed);
            }
            if sealed.is_none() {
                if let Err(e) = seals.push(ev) {
                    sealed = Some(e);
                }
            }
            store.push(ev);
        }
        (Ok(()), sealed)
    }

    #[test]
    fn a_part_replays_as_its_events_do_one_by_one() {
        let (org_target, org) = describe(&Change::OrgCreated {
            org: "acme".into(),
            attrs: OrgAttrs {
                name: "Acmé".into(),
                settings: crate::model::Settings::default(),
            },
        });
        let member = json!({"user": "zoë@x.io", "role": "member", "external": false});
        let grant = json!({"user": "zoë@x.io", "role": "viewer"});
        for fail in [false, true] {
            let mut specs = vec![
                (
                    "org.created",
                    org_target.as_str(),
                    Value::Object(org.clone()),
                ),
                ("member.added", "acme", member.clone()),
                ("note.added", "x", json!({"text": "東京"})),
            ];
            if fail {
                // A grant on a project that does not exist: the change does not apply.
                specs.push(("grant.added", "acme/none", grant.clone()));
            }
            specs.push(("note.added", "y", json!({"user": "zoë@x.io"})));
            specs.push(("note.added", "z", json!({})));
            let (mut events, anchor) = chained(&specs);
            // The next to last sealed, as an erasure seals, with no erasure after it.
            let sealed_at = events.len() - 2;
            if let Some(e) = events.get_mut(sealed_at) {
                assert!(e.seal("/details/user", "erased:0123456789abcdef"));
            }
            let (mut state, mut store, mut seals) =
                (State::default(), EventStore::default(), SealCheck::new(0));
            let (want, want_sealed) = one_by_one(&events, &mut state, &mut store, &mut seals);
            // Two events in the first batch, one in each after.
            let mut batches = vec![Batch {
                events: events.iter().take(2).cloned().collect(),
                mac: None,
            }];
            for e in events.iter().skip(2) {
                batches.push(Batch {
                    events: vec![e.clone()],
                    mac: Some("m".into()),
                });
            }
            let part = Part::of(batches);
            assert_eq!(part.batches().len(), events.len() - 1);
            let (mut got_state, mut got_store, mut got_seals) =
                (State::default(), EventStore::default(), SealCheck::new(0));
            let mut next = (0, anchor.clone());
            let (got, got_sealed) = part.replay(
                10,
                &mut got_state,
                &mut got_store,
                &mut next,
                Some(&mut got_seals),
            );
            // The event `one_by_one` stopped at, on its batch's line.
            let line = |row: usize| 10 + row.saturating_sub(1) as u64;
            assert_eq!(got, want.map_err(|(row, m)| (line(row), m)), "{fail}");
            assert_eq!(fail, got.is_err(), "{got:?}");
            assert_eq!(got_sealed, want_sealed);
            assert_eq!(
                got_store.iter(0, &anchor).collect::<Vec<_>>(),
                store.iter(0, &anchor).collect::<Vec<_>>()
            );
            assert_eq!(got_store.len(), if fail { 3 } else { events.len() });
            assert_eq!(
                crate::state::snapshot::write(&got_state).ok(),
                crate::state::snapshot::write(&state).ok()
            );
            // The seal, with no erasure naming it, fails the check at the end.
            assert_eq!(got_store.has_seals(sealed_at), !fail);
            let finished = got_seals.finish();
            assert_eq!(finished.is_err(), !fail);
            assert_eq!(finished, seals.finish());
            let last = got_store.len() - 1;
            assert_eq!(
                next,
                (last as u64 + 1, got_store.last_hash().unwrap_or_default())
            );
        }
        // A part that does not follow: refused on its first line, nothing taken.
        let (events, _) = chained(&[("note.added", "x", json!({}))]);
        let part = Part::of(vec![Batch { events, mac: None }]);
        let mut next = (0, "0".repeat(64));
        let mut store = EventStore::default();
        let (got, _) = part.replay(4, &mut State::default(), &mut store, &mut next, None);
        assert_eq!(got, Err((4, "event 1 does not follow event 0".to_owned())));
        assert!(store.is_empty());
    }

    /// What a part holds, to compare two.
    fn summary(p: &Part) -> String {
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?}",
            p.first_seq,
            p.prev_hash,
            p.batches,
            p.changes,
            p.sealing,
            p.store
                .iter(p.first_seq.saturating_sub(1), &p.prev_hash)
                .collect::<Vec<_>>()
        )
    }

    #[test]
    fn parts_added_to_as_batches_are_decoded_are_parts_of_the_batches() {
        let specs = [
            ("org.created", "acme", json!({"name": "Acmé"})),
            ("note.added", "x", json!({"text": "東京 \"q\"\n"})),
            ("note.added", "y", json!({"user": "zoë@x.io"})),
            ("note.added", "z", json!({})),
            (
                "grant.added",
                "acme/none",
                json!({"user": "a@x.io", "role": "viewer"}),
            ),
            ("note.added", "w", json!({"n": [1, -2, 1.5, null, true]})),
        ];
        let (mut events, anchor) = chained(&specs);
        if let Some(e) = events.get_mut(2) {
            assert!(e.seal("/details/user", "erased:0123456789abcdef"));
        }
        // Two events on the first line, one on each after; a MAC on some.
        let mut lines = vec![crate::audit::journal::encode_batch(
            events.get(..2).unwrap_or_default(),
            None,
            "g",
        )];
        for e in events.iter().skip(2) {
            lines.push(crate::audit::journal::encode_batch(
                std::slice::from_ref(e),
                Some(b"k"),
                "g",
            ));
        }
        let mut raw: Vec<Vec<u8>> = lines
            .iter()
            .map(|l| l.trim_end_matches('\n').as_bytes().to_vec())
            .collect();
        let start = (0, anchor);
        for broken in [false, true] {
            if broken {
                // A line that does not read: pieces end before it, as the batches do.
                if let Some(l) = raw.get_mut(3) {
                    l.push(b' ');
                }
            }
            let view: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
            for stretch in [1, 2, 3, 100] {
                // Each piece: its first line, its batches, what it holds.
                let mut got = Vec::new();
                let mut fault = None;
                crate::audit::decode::stretches_with(
                    &view,
                    &start,
                    stretch,
                    &Part::add_line,
                    |at, (pieces, f)| {
                        let mut line = at;
                        for piece in pieces {
                            got.push((line, piece.batches, summary(&piece.made)));
                            line += piece.batches;
                        }
                        fault = f.map(|(i, f)| (at + i, f));
                        true
                    },
                );
                // The same lines decoded into batches first, then made parts piece by
                // piece.
                let (batches, want_fault) = crate::audit::decode::lines(&view, &start);
                let mut batches = batches.into_iter();
                let mut line = 0;
                let want: Vec<(usize, usize, String)> = got
                    .iter()
                    .map(|&(_, n, _)| {
                        let part = Part::of(batches.by_ref().take(n).collect());
                        line += n;
                        (line - n, n, summary(&part))
                    })
                    .collect();
                assert_eq!(got, want, "{stretch} {broken}");
                assert_eq!(fault, want_fault, "{stretch} {broken}");
                assert_eq!(fault.is_some(), broken);
                assert!(batches.next().is_none());
            }
        }
    }
}
