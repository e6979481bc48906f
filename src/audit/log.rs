//! The audit log held in memory: events in `seq` order, queries, verification, exports and
//! retention.

use serde_json::Value;

use super::event::{parse_event, strip_crc, Event, LineError};
use crate::error::AuditError;
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
    pub events: Vec<Event>,
    /// Events a snapshot let `Graph::open` skip, loaded on first use.
    pub pending: Option<Pending>,
}

/// The part of a journal before a snapshot's resume point, not yet read.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The journal.
    pub path: std::path::PathBuf,
    /// Byte offset just past the snapshot's event.
    pub end: u64,
    /// The journal's own base.
    pub base_seq: u64,
    /// The journal's own anchor.
    pub anchor: String,
    /// The journal's own base state.
    pub base_state: Option<State>,
    /// Reads the events when the journal is not the file at `path` (PostgreSQL); `end`
    /// is then the snapshot's `seq`, not a byte offset.
    pub loader: Option<PrefixLoader>,
}

/// Reads the events `base_seq + 1 ..= end` of a journal that is not a file.
#[derive(Clone)]
pub struct PrefixLoader(
    pub std::sync::Arc<dyn Fn(u64) -> Result<Vec<Event>, AuditError> + Send + Sync>,
);

impl std::fmt::Debug for PrefixLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrefixLoader")
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

impl Log {
    /// A log for a new chain.
    pub fn new(anchor: String) -> Self {
        Log {
            anchor,
            ..Log::default()
        }
    }

    /// The `seq` before the first event, counting events not loaded yet.
    pub fn true_base_seq(&self) -> u64 {
        self.pending.as_ref().map_or(self.base_seq, |p| p.base_seq)
    }

    /// Reads and verifies the events a snapshot let `open` skip, and puts them first.
    pub fn load_pending(&mut self) -> Result<(), AuditError> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let bytes = match &p.loader {
            Some(_) => Vec::new(),
            None => std::fs::read(&p.path)
                .map_err(|e| AuditError::Io(format!("{}: {e}", p.path.display())))?,
        };
        let end = usize::try_from(p.end)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let text = String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned();
        let mut prefix = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let line_no = i as u64 + 1;
            let json = strip_crc(line).map_err(|e| bad_line(line_no, &e))?;
            prefix.push(parse_event(&json).map_err(|e| bad_line(line_no, &e))?);
        }
        if let Some(load) = &p.loader {
            prefix = (load.0)(p.end)?;
        }
        verify_chain(&p.anchor, p.base_seq, &prefix)?;
        let reaches = prefix.last().map_or((p.base_seq, p.anchor.as_str()), |e| {
            (e.seq, e.hash.as_str())
        });
        if reaches != (self.base_seq, self.anchor.as_str()) {
            return Err(AuditError::Integrity {
                seq: self.base_seq,
                reason: "the journal no longer leads to the snapshot it was opened from".into(),
            });
        }
        prefix.append(&mut self.events);
        self.events = prefix;
        self.base_seq = p.base_seq;
        self.anchor = p.anchor;
        self.base_state = p.base_state;
        Ok(())
    }

    /// The `seq` of the last event (the graph's revision).
    pub fn last_seq(&self) -> u64 {
        self.events.last().map_or(self.base_seq, |e| e.seq)
    }

    /// The hash the next event chains to.
    pub fn last_hash(&self) -> &str {
        self.events.last().map_or(self.anchor.as_str(), |e| &e.hash)
    }

    /// The events `filter` selects, in `seq` order.
    pub fn select(&self, filter: &Filter) -> Vec<Event> {
        self.matching(filter).cloned().collect()
    }

    /// The events `filter` selects, in `seq` order, borrowed.
    pub fn matching<'a>(&'a self, filter: &'a Filter) -> impl Iterator<Item = &'a Event> + 'a {
        self.events
            .iter()
            .filter(|e| filter.matches(e))
            .take(filter.limit.unwrap_or(usize::MAX))
    }

    /// Recomputes the chain from the anchor; the error names the first bad `seq`.
    pub fn verify(&self) -> Result<(), AuditError> {
        verify_chain(&self.anchor, self.base_seq, &self.events)
    }

    /// JSON Lines, one event per line (the form `AuditLog.load` reads back).
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for e in &self.events {
            out.push_str(&e.to_json());
            out.push('\n');
        }
        out
    }

    /// CSV: `seq,at,actor,action,target,user,details,prev_hash,hash` (details as JSON).
    pub fn to_csv(&self) -> Result<String, AuditError> {
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
        for e in &self.events {
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
        String::from_utf8(bytes).map_err(|e| AuditError::Io(e.to_string()))
    }

    /// Reads a JSON Lines export (lines with or without a journal checksum); the chain is
    /// anchored at the first event's `prev_hash`. Malformed lines name their number.
    pub fn from_jsonl(text: &str) -> Result<Self, AuditError> {
        let mut events = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            let json = if line.contains(",\"crc\":\"") {
                strip_crc(line).map_err(|e| bad_line(line_no, &e))?
            } else {
                line.to_owned()
            };
            let ev = parse_event(&json).map_err(|e| bad_line(line_no, &e))?;
            events.push(ev);
        }
        let (anchor, base_seq) = events
            .first()
            .map(|e| (e.prev_hash.clone(), e.seq.saturating_sub(1)))
            .unwrap_or_default();
        Ok(Log {
            anchor,
            base_seq,
            base_state: None,
            events,
            pending: None,
        })
    }

    /// Drops the events before `before` (a prefix of the log), advancing the anchor and
    /// the base state so the rest still verifies and replays. Returns how many went.
    pub fn prune(&mut self, before: Instant) -> Result<usize, AuditError> {
        let n = self.events.iter().take_while(|e| e.at < before).count();
        if n == 0 {
            return Ok(0);
        }
        let mut state = self.base_state.take().unwrap_or_default();
        let dropped: Vec<Event> = self.events.drain(..n).collect();
        for e in &dropped {
            super::replay::apply(&mut state, e)
                .map_err(|reason| AuditError::Integrity { seq: e.seq, reason })?;
        }
        if let Some(last) = dropped.last() {
            self.anchor.clone_from(&last.hash);
            self.base_seq = last.seq;
        }
        self.base_state = Some(state);
        Ok(n)
    }

    /// The state after every event with `at <= when` (the longest such prefix).
    pub fn state_at(&self, when: Instant) -> Result<State, AuditError> {
        let mut state = self.base_state.clone().unwrap_or_default();
        for e in self.events.iter().take_while(|e| e.at <= when) {
            super::replay::apply(&mut state, e)
                .map_err(|reason| AuditError::Integrity { seq: e.seq, reason })?;
        }
        Ok(state)
    }
}

fn bad_line(line: u64, e: &LineError) -> AuditError {
    AuditError::Integrity {
        seq: 0,
        reason: match e {
            LineError::Checksum => format!("line {line}: checksum does not match"),
            LineError::Format(m) => format!("line {line}: not an audit event: {m}"),
        },
    }
}

/// Checks `events` chain from `anchor`, numbered from `base_seq + 1`.
pub fn verify_chain(anchor: &str, base_seq: u64, events: &[Event]) -> Result<(), AuditError> {
    let mut prev = anchor;
    for (expect, e) in (base_seq + 1..).zip(events) {
        let fail = |reason: String| AuditError::Integrity { seq: e.seq, reason };
        if e.seq != expect {
            return Err(AuditError::Integrity {
                seq: expect,
                reason: format!("expected event {expect}, found event {}", e.seq),
            });
        }
        if e.prev_hash != prev {
            return Err(fail(
                "its prev_hash is not the hash of the event before it".into(),
            ));
        }
        e.check().map_err(|b| fail(b.to_string()))?;
        prev = &e.hash;
    }
    Ok(())
}
