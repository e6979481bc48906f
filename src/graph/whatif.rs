//! What-if overlays: a private copy of a graph to try changes on.
//!
//! An overlay holds a copy of the state, its own in-memory audit log and the same clock
//! setting; it has no journal. Its mutations take the one mutation path, authority rules
//! included, and touch neither the graph it came from, nor that graph's journal or audit
//! log. Its checks read its own state with the same evaluator, so they cost what the
//! original's do, however many changes were made.
//!
//! The copy is the whole state (records and check-path indexes): making an overlay costs
//! about what a clone of the state costs (see `benchmarks/bench_whatif.py`).

use parking_lot::RwLock;

use super::front::Graph;
use crate::audit::Audit;
use crate::error::Result;
use crate::state::State;

impl Graph {
    /// An overlay of this graph: a writable copy with its own audit log and no journal,
    /// on the same clock setting (frozen at the same instant, or the wall clock).
    pub fn what_if(&self) -> Result<Graph> {
        let state = self.fresh()?.clone();
        let overlay = Graph {
            state: RwLock::new(state),
            audit: Audit::in_memory(),
            ..Graph::default()
        };
        overlay.clock.set(self.clock.frozen());
        Ok(overlay)
    }

    /// Empties the graph's state (an overlay discarded when its block ends frees its
    /// copy at once).
    pub fn discard_state(&self) {
        *self.state.write() = State::new();
    }
}
