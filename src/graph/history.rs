//! The audit log seen from the graph: its events, verification, application events,
//! time travel (`as_of`), retention (`prune`) and erasure.

use parking_lot::RwLockUpgradableReadGuard;
use serde_json::{Map, Value};

use super::front::Graph;
use super::journaled::{state_from_json, state_to_json};
use crate::audit::erase::{self, Redaction};
use crate::audit::journal::Header;
use crate::audit::{replay, Audit, Event, Filter, Log, Session};
use crate::error::AuditError;
use crate::error::{Error, NotFoundError, Result};
use crate::ids;
use crate::state::Change;
use crate::time::{At, Instant};

impl Graph {
    /// A read-only graph as it was at `when`, rebuilt from the audit log; its clock is
    /// frozen at `when`.
    pub fn as_of(&self, when: Instant) -> Result<Graph> {
        let log = self.full_log()?;
        if let Some(first) = log.events.first() {
            if log.base_seq > 0 && when < first.at {
                return Err(Error::rule(format!(
                    "the audit log was pruned: history before {} is gone",
                    first.at.to_iso()
                )));
            }
        }
        let state = log.state_at(when)?;
        drop(log);
        Ok(Graph::read_only(
            state,
            Some(when),
            format!("a view of the past (as_of {})", when.to_iso()),
        ))
    }

    /// The events `filter` selects.
    pub fn audit_events(&self, filter: &Filter) -> Result<Vec<Event>> {
        Ok(self.full_log()?.select(filter))
    }

    /// Number of events held.
    pub fn audit_len(&self) -> usize {
        let log = self.audit.log.read();
        usize::try_from(log.last_seq() - log.true_base_seq()).unwrap_or(usize::MAX)
    }

    /// Recomputes the chain.
    pub fn audit_verify(&self) -> Result<()> {
        Ok(self.full_log()?.verify()?)
    }

    /// Runs `f` on the whole log.
    pub fn with_audit_log<R>(&self, f: impl FnOnce(&Log) -> R) -> Result<R> {
        let log = self.full_log()?;
        Ok(f(&log))
    }

    /// Records an application event (`data.exported`, `feature_flag.changed` …).
    pub fn record(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        details: Map<String, Value>,
    ) -> Result<u64> {
        let actor = if actor == crate::audit::event::SYSTEM || actor.starts_with("key:") {
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
        if crate::audit::replay::is_builtin(action) {
            return Err(Error::invalid(
                "action",
                action,
                "an application action: built-in actions are recorded by the graph itself",
            ));
        }
        if target.trim().is_empty() {
            return Err(Error::invalid("target", target, "a non-empty identifier"));
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
        let who = (actor != crate::audit::event::SYSTEM).then_some(actor.as_str());
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
        drop(self.full_log()?);
        let mut log = self.audit.log.read().clone();
        let n = log.prune(before)?;
        if n > 0 {
            self.rewrite(&mut session, &log, 0)?;
            *self.audit.log.write() = log;
        }
        drop(guard);
        Ok(n)
    }

    /// Rewrites the journal to hold `log` (header with its base), `extra_erasures` more.
    fn rewrite(&self, session: &mut Session<'_>, log: &Log, extra_erasures: u64) -> Result<()> {
        if !session.is_journaled() {
            return Ok(());
        }
        let header = Header {
            accessgraph_journal: 1,
            graph_id: self.audit.graph_id.clone(),
            base_seq: log.base_seq,
            anchor: log.anchor.clone(),
            base_state: log.base_state.as_ref().map(state_to_json).transpose()?,
            erasures: self.erasures()? + extra_erasures,
        };
        let mut text = header.to_line();
        for e in &log.events {
            text.push_str(&e.to_line());
        }
        session.replace(&text).map_err(|e| {
            Error::from(AuditError::Failed(format!(
                "rewriting the journal failed: {e}"
            )))
        })?;
        if let Some(last) = log.events.last() {
            session
                .checkpoint(last.seq, &last.hash)
                .map_err(|e| AuditError::Io(e.to_string()))?;
        }
        Ok(())
    }

    /// Erases a user (GDPR, SPEC 3.4 and 9): offboards them (memberships, grants and
    /// personal keys go; resources they own pass to `transfer_to`; the offboarding
    /// events), records `user.erased`, then redacts their email, name and title — and any
    /// text naming them — from the audit log and the journal behind a pseudonym, which it
    /// returns. The chain still verifies. The actor must be an owner of every org the user
    /// belongs to (or the system); nothing changes otherwise.
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
        if self.audit.keeps_log() {
            drop(self.full_log()?);
        }
        let now = self.clock.now();
        let key = actor.map(ids::email_key);
        let actor = key.as_deref();
        let current_name = {
            let uid = guard
                .user_id(&email)
                .ok_or_else(|| NotFoundError::User(email.clone()))?;
            let rec = guard
                .user(uid)
                .ok_or_else(|| NotFoundError::User(email.clone()))?;
            vec![rec.name.clone()]
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
        let pseudonym = erase::pseudonym(&email);
        changes.push(Change::UserErased {
            user: email.clone(),
            pseudonym: pseudonym.clone(),
            reason: reason.map(str::to_owned),
        });
        if !self.audit.keeps_log() {
            // No history to redact: the removals and the pseudonym are the whole job.
            let events = self.audit.events_of(&changes, actor, now)?;
            let stamp = crate::state::Stamp { at: now, actor };
            self.commit(guard, session, events, |st| {
                changes.iter().try_for_each(|c| st.apply(c, stamp))
            })?;
            return Ok(pseudonym);
        }
        let events = self.audit.prepare(Audit::describe(&changes), actor, now)?;
        let mut log = self.audit.log.read().clone();
        log.events.extend(events);
        let redaction = Redaction::new(&email, &current_name, &log.events, pseudonym.clone());
        for e in &mut log.events {
            redaction.event(e);
        }
        if let Some(base) = &log.base_state {
            let mut v = state_to_json(base)?;
            redaction.json(&mut v);
            log.base_state = Some(state_from_json(&v, "redacted base state")?);
        }
        // The state is rebuilt from the redacted log, so it holds exactly what a replay
        // of the journal gives.
        let mut state = log.base_state.clone().unwrap_or_default();
        for e in &log.events {
            replay::apply(&mut state, e)
                .map_err(|reason| AuditError::Integrity { seq: e.seq, reason })?;
        }
        self.rewrite(&mut session, &log, 1)?;
        let mut st = RwLockUpgradableReadGuard::upgrade(guard);
        *st = state;
        *self.audit.log.write() = log;
        Ok(pseudonym)
    }
}
