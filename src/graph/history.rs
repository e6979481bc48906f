//! The audit log seen from the graph: its events, verification, application events,
//! time travel (`as_of`), retention (`prune`) and erasure.

use parking_lot::RwLockUpgradableReadGuard;
use serde_json::{Map, Value};

use super::front::Graph;
use super::journaled::{default_snapshot, state_from_json, state_to_json};
use crate::audit::columns::{Columns, Heads, Text};
use crate::audit::erase::{self, Redaction};
use crate::audit::event::SYSTEM;
use crate::audit::journal::Header;
use crate::audit::log::check_seals;
use crate::audit::{files, personal, replay, source, Audit, Event, Filter, Log, Session};
use crate::error::AuditError;
use crate::error::{Error, NotFoundError, Result};
use crate::ids;
use crate::progress::{Hook, Meter, Passes, Progress};
use crate::state::Change;
use crate::time::{At, Instant};

impl Graph {
    /// A read-only graph as it was at `when`, rebuilt from the audit log; its clock is
    /// frozen at `when`.
    pub fn as_of(&self, when: Instant) -> Result<Graph> {
        self.as_of_reporting(when, None)
    }

    /// [`Graph::as_of`], telling `progress` how many events are replayed, of those the
    /// log holds (events after `when` are not read: the end jumps to the total). With a
    /// hook, a log in memory is replayed from a copy taken under its lock, so the hook
    /// runs with no lock held. A hook that stops it stops the replay ([`Error::Stopped`]).
    pub fn as_of_reporting(&self, when: Instant, progress: Hook<'_>) -> Result<Graph> {
        if let Some(src) = self.audit.history_source() {
            let mut meter = Meter::later(progress);
            let state = match source::state_at_metered(src, when, self.revision(), &mut meter)
                .map_err(|e| stopped_or(&meter, e))?
            {
                source::AsOf::State(state) => *state,
                source::AsOf::Pruned(first) => return Err(pruned_before(first)),
            };
            meter.finish()?;
            return Ok(view_at(state, when));
        }
        let replay = |log: &Log, hook: Hook<'_>| -> Result<Graph> {
            if let Some(first) = log.iter().next() {
                if log.base_seq > 0 && when < first.at {
                    return Err(pruned_before(first.at));
                }
            }
            let mut meter = Meter::later(hook);
            let state = log
                .state_at_metered(when, &mut meter)
                .map_err(|e| stopped_or(&meter, e))?;
            meter.finish()?;
            Ok(view_at(state, when))
        };
        match progress {
            None => replay(&*self.full_log()?, None),
            Some(hook) => self.with_log_copy(hook, replay),
        }
    }

    /// The events `filter` selects.
    pub fn audit_events(&self, filter: &Filter) -> Result<Vec<Event>> {
        if let Some(src) = self.audit.history_source() {
            return Ok(source::select(src, filter, self.revision())?);
        }
        if let Some(found) = self.select_early(filter)? {
            return Ok(found);
        }
        Ok(self.full_log()?.select(filter))
    }

    /// Calls `f` on each event `filter` selects, in `seq` order (read from the store in
    /// pages when the graph does not hold its history).
    pub fn audit_each(&self, filter: &Filter, f: &mut dyn FnMut(Event)) -> Result<()> {
        if let Some(src) = self.audit.history_source() {
            return Ok(source::each(src, filter, self.revision(), f)?);
        }
        if let Some(found) = self.select_early(filter)? {
            found.into_iter().for_each(f);
            return Ok(());
        }
        self.full_log()?.matching(filter).for_each(f);
        Ok(())
    }

    /// The events `filter` selects as a table, in parts (see [`crate::audit::columns`]):
    /// written from the log in memory without rebuilding events, or read from the store.
    pub fn audit_columns(&self, filter: &Filter) -> Result<Vec<Columns>> {
        if let Some(src) = self.audit.history_source() {
            let mut cols = Columns::default();
            source::each(src, filter, self.revision(), &mut |e| cols.push_event(&e))?;
            return Ok(vec![cols]);
        }
        Ok(self.full_log()?.columns(filter))
    }

    /// [`Graph::audit_columns`] in the two halves of [`Log::columns_with`], each handed to
    /// `heads` or `details` on the thread that wrote it (a store's table: one after the
    /// other).
    ///
    /// [`Log::columns_with`]: crate::audit::log::Log::columns_with
    pub fn audit_columns_with<H: Send, D: Send>(
        &self,
        filter: &Filter,
        heads: impl Fn(Heads) -> H + Sync,
        details: impl Fn(Text, Text) -> D + Sync,
    ) -> Result<(H, D)> {
        if self.audit.history_source().is_some() {
            let mut parts = self.audit_columns(filter)?.into_iter().map(Columns::split);
            let (h, d, u) = parts.next().unwrap_or_default();
            return Ok((heads(h), details(d, u)));
        }
        Ok(self.full_log()?.columns_with(filter, heads, details))
    }

    /// Up to `n` events after `after`, when the graph reads its history from its store
    /// (an iteration page by page); `None` for a graph that holds it.
    pub fn audit_page(&self, after: u64, n: usize) -> Result<Option<Vec<Event>>> {
        let Some(src) = self.audit.history_source() else {
            return Ok(None);
        };
        Ok(Some(source::page(src, after, self.revision(), n)?))
    }

    /// The first `filter.limit` matches, when the events a snapshot let `open` skip hold
    /// them: only as much of those is read as the query needs ([`Log::select_early`]).
    fn select_early(&self, filter: &Filter) -> Result<Option<Vec<Event>>> {
        if filter.limit.is_none() {
            return Ok(None);
        }
        self.need_log()?;
        Ok(self.audit.log.read().select_early(filter)?)
    }

    /// Number of events held.
    pub fn audit_len(&self) -> usize {
        if let Some(src) = self.audit.history_source() {
            return usize::try_from(source::len(src, self.revision())).unwrap_or(usize::MAX);
        }
        let log = self.audit.log.read();
        usize::try_from(log.last_seq() - log.true_base_seq()).unwrap_or(usize::MAX)
    }

    /// The chain's end as this graph applied it: the last `seq` and hash.
    fn tail(&self) -> (u64, String) {
        let log = self.audit.log.read();
        (log.last_seq(), log.last_hash())
    }

    /// Recomputes the chain.
    pub fn audit_verify(&self) -> Result<()> {
        self.audit_verify_reporting(None)
    }

    /// [`Graph::audit_verify`], reporting the events checked to `hook` (see
    /// [`crate::progress`]).
    pub fn audit_verify_reporting(&self, hook: Hook<'_>) -> Result<()> {
        if let Some(src) = self.audit.history_source() {
            let (seq, hash) = self.tail();
            return source::verify_reporting(src, (seq, &hash), hook);
        }
        match hook {
            None => Ok(self.full_log()?.verify()?),
            Some(h) => self.with_log_copy(h, Log::verify_reporting),
        }
    }

    /// Runs `pass` with `hook` on the log in memory, copied out of its lock, so the hook
    /// (which may wait for a caller's lock, such as Python's GIL) is never called holding
    /// the log's lock. Events a snapshot let `open` skip are read first, also without the
    /// lock, as a first pass over them that the hook hears: it hears one call of the
    /// prefix's events and then `pass`'s units.
    fn with_log_copy<R>(
        &self,
        hook: &mut dyn Progress,
        pass: impl FnOnce(&Log, Hook<'_>) -> Result<R>,
    ) -> Result<R> {
        self.need_log()?;
        let pending = self.audit.log.read().pending_prefix();
        let Some((loader, first)) = pending else {
            let copy = self.full_log()?.clone();
            return pass(&copy, Some(hook));
        };
        let second = first + self.audit.log.read().events.len() as u64;
        let mut passes = Passes::new(hook, first, second);
        let mut meter = Meter::start(Some(&mut passes), first)?;
        let prefix = loader.read(&mut meter).map_err(|e| stopped_or(&meter, e))?;
        meter.finish()?;
        self.audit.log.write().install_prefix(prefix)?;
        let copy = self.full_log()?.clone();
        passes.next();
        pass(&copy, Some(&mut passes))
    }

    /// The whole log as JSON Lines with its trailer, signed with the journal's key when
    /// it has one.
    pub fn audit_jsonl(&self) -> Result<String> {
        self.audit_jsonl_reporting(None)
    }

    /// [`Graph::audit_jsonl`], reporting the events written to `hook`.
    pub fn audit_jsonl_reporting(&self, hook: Hook<'_>) -> Result<String> {
        if let Some(src) = self.audit.history_source() {
            let rev = self.revision();
            return source::to_jsonl_reporting(src, &self.audit.graph_id, rev, hook);
        }
        let key = self.audit.source.as_ref().and_then(|(_, k)| k.clone());
        let graph_id = &self.audit.graph_id;
        match hook {
            None => self.with_audit_log(|log| log.to_jsonl(graph_id, key.as_deref())),
            Some(h) => self.with_log_copy(h, |log, hook| {
                Ok(log.to_jsonl_reporting(graph_id, key.as_deref(), hook)?)
            }),
        }
    }

    /// The whole log as CSV.
    pub fn audit_csv(&self) -> Result<String> {
        self.audit_csv_reporting(None)
    }

    /// [`Graph::audit_csv`], reporting the events written to `hook`.
    pub fn audit_csv_reporting(&self, hook: Hook<'_>) -> Result<String> {
        if let Some(src) = self.audit.history_source() {
            return source::to_csv_reporting(src, self.revision(), hook);
        }
        match hook {
            None => Ok(self.with_audit_log(Log::to_csv)??),
            Some(h) => self.with_log_copy(h, Log::to_csv_reporting),
        }
    }

    /// Runs `f` on the whole log (read whole from the store, for a graph that does not
    /// hold it: prefer the methods above, which stream).
    pub fn with_audit_log<R>(&self, f: impl FnOnce(&Log) -> R) -> Result<R> {
        if self.audit.history_source().is_some() {
            return Ok(f(&self.whole_log()?));
        }
        let log = self.full_log()?;
        Ok(f(&log))
    }

    /// The whole log, owned: read from the store (verified) when the graph does not hold
    /// it, else the log in memory (with any events a snapshot skipped loaded).
    fn whole_log(&self) -> Result<Log> {
        if let Some(src) = self.audit.history_source() {
            let (seq, hash) = self.tail();
            return Ok(source::whole(src, (seq, &hash))?);
        }
        drop(self.full_log()?);
        Ok(self.audit.log.read().clone())
    }

    /// Records an application event (`data.exported`, `feature_flag.changed` …).
    pub fn record(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        details: Map<String, Value>,
    ) -> Result<u64> {
        let actor = if actor == SYSTEM || actor.starts_with("key:") {
            actor.to_owned()
        } else {
            ids::email("actor", actor)?
        };
        let dotted = action.split('.').count() >= 2
            && action.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        if !dotted {
            return Err(Error::invalid(
                "action",
                action,
                "a dotted lower-case name such as `data.exported` or `feature_flag.changed`",
            ));
        }
        if personal::is_builtin(action) {
            return Err(Error::invalid(
                "action",
                action,
                "an application action: built-in actions are recorded by the graph itself",
            ));
        }
        if target.trim().is_empty() {
            return Err(Error::invalid("target", target, "a non-empty identifier"));
        }
        // PostgreSQL's text cannot hold U+0000 (the row's columns and its query
        // parameters): refused for every journal, so a file journal stays importable.
        if target.contains('\0') {
            return Err(Error::invalid("target", target, NO_NUL));
        }
        if let Some(path) = nul_in(&details, "details") {
            return Err(Error::invalid("details", &path, NO_NUL));
        }
        if let Some(key) = email_as_key(&details) {
            return Err(Error::invalid(
                "details key",
                &key,
                "not an email address: keys are hashed as written and cannot be erased; put the person in a value (`{\"user\": …}`), which erase_user seals",
            ));
        }
        if let Some(why) = &self.read_only {
            return Err(crate::error::ConflictError::ReadOnly(why.clone()).into());
        }
        self.need_log()?;
        self.audit.admit()?;
        let guard = self.state.upgradable_read();
        let mut session = self.audit.begin()?;
        let guard = self.catch_up(guard, &mut session)?;
        let now = self.clock.now();
        let who = (actor != SYSTEM).then_some(actor.as_str());
        let events = self.audit.prepare(
            vec![(action.to_owned(), target.to_owned(), details)],
            who,
            now,
        )?;
        let seq = events.last().map_or(0, |e| e.seq);
        self.append_only(guard, session, events)?;
        Ok(seq)
    }

    /// Drops events before `before` (retention), keeping the rest verifiable; a journal
    /// is rewritten with the state they leave as its base. Returns how many went.
    pub fn audit_prune(&self, before: Instant) -> Result<usize> {
        if let Some(why) = &self.read_only {
            return Err(crate::error::ConflictError::ReadOnly(why.clone()).into());
        }
        self.audit.admit()?;
        let guard = self.state.upgradable_read();
        let mut session = self.audit.begin()?;
        let guard = self.catch_up(guard, &mut session)?;
        let mut log = self.whole_log()?;
        let n = log.prune(before)?;
        if n > 0 {
            self.rewrite(&mut session, &log, 0)?;
            *self.audit.log.write() = log;
            self.audit.forget_held();
        }
        drop(guard);
        Ok(n)
    }

    /// Rewrites the journal to hold `log` (header with its base), `extra_erasures` more.
    /// Atomic: a crash leaves the old journal or the new one. A failure changes nothing
    /// but the snapshot files, removed first (a cache: opening replays the journal).
    fn rewrite(&self, session: &mut Session<'_>, log: &Log, extra_erasures: u64) -> Result<()> {
        if !session.is_journaled() {
            return Ok(());
        }
        // A database store adds the erasures it already counts itself.
        let earlier = match self.audit.source {
            Some(_) => self.header()?.erasures,
            None => 0,
        };
        let header = Header {
            accessgraph_journal: crate::audit::journal::FORMAT,
            graph_id: self.audit.graph_id.clone(),
            base_seq: log.base_seq,
            anchor: log.anchor.clone(),
            base_state: log.base_state.as_ref().map(state_to_json).transpose()?,
            erasures: earlier + extra_erasures,
            // A rewrite keeps the record of the upgrade (a database store has none).
            upgraded_from: self.header().ok().and_then(|h| h.upgraded_from),
        };
        let events: Vec<Event> = log.iter().collect();
        // Snapshots hold the state before the rewrite (an erased user in clear): they go
        // before the new journal takes the path, so no crash leaves one beside it. Under
        // the writers' lock no snapshot is being written (`snapshot` holds the readers').
        self.forget_cleartext()?;
        session.replace(&header, &events).map_err(|e| {
            Error::from(AuditError::Io(format!(
                "rewriting the journal failed (the journal was left as it was): {e}"
            )))
        })?;
        Ok(())
    }

    /// Erases a user (GDPR, SPEC 3.4 and 9): offboards them (memberships, grants and
    /// personal keys go; resources they own pass to `transfer_to`; the offboarding
    /// events), records `user.erased` listing every field it seals, and seals their
    /// email, name and title — and any personal field naming them — behind a pseudonym,
    /// which it returns. The chain still verifies. The journal is rewritten in one atomic
    /// step (the new events never reach the disk in clear); snapshot files and temporary
    /// files beside it are removed before that step. The actor must be an owner of every
    /// org the user belongs to (or the system); nothing changes otherwise.
    #[expect(
        clippy::too_many_lines,
        reason = "one atomic step: plan, list the seals, seal, rebuild, rewrite, in that order"
    )]
    pub fn erase_user(
        &self,
        email: &str,
        actor: Option<&str>,
        reason: Option<&str>,
        transfer_to: Option<&str>,
    ) -> Result<String> {
        let email = ids::email("user", email)?;
        let transfer_to = transfer_to
            .map(|t| ids::email("transfer_to", t))
            .transpose()?;
        self.admit(actor)?;
        let guard = self.state.upgradable_read();
        let mut session = self.audit.begin()?;
        let guard = self.catch_up(guard, &mut session)?;
        let whole = if self.audit.keeps_log() {
            Some(self.whole_log()?)
        } else {
            None
        };
        let now = self.clock.now();
        let key = actor.map(ids::email_key);
        let actor = key.as_deref();
        let current = {
            let uid = guard
                .user_id(&email)
                .ok_or_else(|| NotFoundError::User(email.clone()))?;
            let rec = guard
                .user(uid)
                .ok_or_else(|| NotFoundError::User(email.clone()))?;
            vec![rec.name.clone(), rec.title.clone()]
        };
        let mut at = At::new(Some(now), &self.clock);
        let planned = super::offboard::plan_erasure(
            &guard,
            &mut at,
            actor,
            &email,
            transfer_to.as_deref(),
            reason.map(str::to_owned),
        );
        let mut changes = match planned {
            Ok(changes) => changes,
            Err(Error::Permission(p)) => return Err(self.refuse(guard, session, p, actor, now)),
            Err(e) => return Err(e),
        };
        super::keys::complete(&guard, &mut changes)?;
        let pseudonym = erase::pseudonym(&email)
            .map_err(|e| AuditError::Io(format!("cannot draw a pseudonym's salt: {e}")))?;
        let erased = |sealed: Vec<(u64, String)>| Change::UserErased {
            user: email.clone(),
            pseudonym: pseudonym.clone(),
            reason: reason.map(str::to_owned),
            sealed,
        };
        if !self.audit.keeps_log() {
            // No history to seal: the removals and the pseudonym are the whole job.
            changes.push(erased(Vec::new()));
            let events = self.audit.events_of(&changes, actor, now)?;
            let stamp = crate::state::Stamp { at: now, actor };
            self.commit(guard, session, events, |st| {
                changes.iter().try_for_each(|c| st.apply(c, stamp))
            })?;
            return Ok(pseudonym);
        }
        let mut log = whole.unwrap_or_else(|| self.audit.log.read().clone());
        let mut history: Vec<Event> = log.iter().collect();
        let redaction = Redaction::new(&email, &current, history.iter(), pseudonym.clone());
        // What the erasure seals: fields of the history, of the offboarding's events (their
        // seqs follow the log's), and of the `user.erased` event itself.
        let who = actor.unwrap_or(SYSTEM);
        let mut sealed: Vec<(u64, String)> = history
            .iter()
            .flat_map(|e| redaction.fields(e).into_iter().map(|p| (e.seq, p)))
            .collect();
        let mut next = log.last_seq();
        for (action, target, details) in Audit::describe(&changes) {
            next += 1;
            sealed.extend(
                redaction
                    .fields_of(&action, who, &target, &details)
                    .into_iter()
                    .map(|p| (next, p)),
            );
        }
        let draft = Audit::describe(&[erased(Vec::new())]);
        for (action, target, details) in draft {
            sealed.extend(
                redaction
                    .fields_of(&action, who, &target, &details)
                    .into_iter()
                    .map(|p| (next + 1, p)),
            );
        }
        sealed.sort();
        changes.push(erased(sealed));
        let events = self.audit.prepare(Audit::describe(&changes), actor, now)?;
        history.extend(events);
        for e in &mut history {
            let paths = redaction.fields(e);
            redaction.seal(e, &paths);
        }
        check_seals(log.base_seq, &history)?;
        if let Some(base) = &log.base_state {
            let mut v = state_to_json(base)?;
            redaction.json(&mut v);
            log.base_state = Some(state_from_json(&v, "redacted base state")?);
        }
        // The state is rebuilt from the sealed log, so it holds exactly what a replay of
        // the journal gives.
        let mut state = log.base_state.clone().unwrap_or_default();
        for e in &history {
            replay::apply(&mut state, e)
                .map_err(|reason| AuditError::Integrity { seq: e.seq, reason })?;
        }
        log.events = crate::audit::store::EventStore::default();
        log.extend(history);
        self.rewrite(&mut session, &log, 1)?;
        let mut st = RwLockUpgradableReadGuard::upgrade(guard);
        *st = state;
        *self.audit.log.write() = log;
        self.audit.forget_held();
        drop(st);
        drop(session);
        Ok(pseudonym)
    }

    /// Before a rewrite: snapshot files (they hold the state before it, and will not fit
    /// the new journal) and temporary files a crash may have left beside the journal go,
    /// each removal synced.
    fn forget_cleartext(&self) -> Result<()> {
        let Some((path, _)) = &self.audit.source else {
            return Ok(());
        };
        let io = |p: &std::path::Path, e: std::io::Error| {
            Error::from(AuditError::Io(format!("{}: {e}", p.display())))
        };
        let mut snaps = self.audit.snapshot_paths();
        let default = default_snapshot(path);
        if !snaps.contains(&default) {
            // Another process may have written the default one.
            snaps.push(default);
        }
        for snap in snaps {
            files::remove(&snap).map_err(|e| io(&snap, e))?;
        }
        files::remove_leftovers(path).map_err(|e| io(path, e))?;
        Ok(())
    }
}

/// The error of an `as_of` before what retention kept.
fn pruned_before(first: Instant) -> Error {
    Error::rule(format!(
        "the audit log was pruned: history before {} is gone",
        first.to_iso()
    ))
}

/// The read-only view of the graph at `when`.
fn view_at(state: crate::state::State, when: Instant) -> Graph {
    Graph::read_only(
        state,
        Some(when),
        format!("a view of the past (as_of {})", when.to_iso()),
    )
}

/// The stop `meter`'s hook returned, if it stopped the work (the audit layer reports it
/// as [`crate::progress::STOPPED`]), else `e`.
fn stopped_or(meter: &Meter<'_>, e: AuditError) -> Error {
    meter.stopped().map_or_else(|| Error::from(e), Error::from)
}

/// The first key, at any depth of `details`, that is an email address: erasure seals
/// string values, never keys (an event's keys are hashed as written), so a person must
/// not be a key.
/// What a recorded event's text must be (see `Graph::record`).
const NO_NUL: &str = "text without a NUL byte (U+0000), which a journal in PostgreSQL cannot store";

/// The path (`details.user`, `details.rows[2]`) of the first key or string holding a NUL
/// byte.
fn nul_in(details: &Map<String, Value>, at: &str) -> Option<String> {
    fn within(v: &Value, at: String) -> Option<String> {
        match v {
            Value::String(s) => s.contains('\0').then_some(at),
            Value::Object(m) => nul_in(m, &at),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| within(v, format!("{at}[{i}]"))),
            _ => None,
        }
    }
    details.iter().find_map(|(k, v)| {
        let here = format!("{at}.{}", k.escape_debug());
        if k.contains('\0') {
            Some(here)
        } else {
            within(v, here)
        }
    })
}

fn email_as_key(details: &Map<String, Value>) -> Option<String> {
    fn within(v: &Value) -> Option<String> {
        match v {
            Value::Object(m) => email_as_key(m),
            Value::Array(items) => items.iter().find_map(within),
            _ => None,
        }
    }
    details.iter().find_map(|(k, v)| {
        if k.contains('@') && ids::email("details key", k).is_ok() {
            Some(k.clone())
        } else {
            within(v)
        }
    })
}
