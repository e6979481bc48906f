//! The events of a log held in memory.

use super::event::Event;

/// A log's events, in `seq` order.
#[derive(Debug, Clone, Default)]
pub struct EventStore {
    events: Vec<Event>,
}

impl EventStore {
    /// Appends an event.
    pub fn push(&mut self, e: Event) {
        self.events.push(e);
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// No events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The events, in order.
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.events.iter().cloned()
    }

    /// The last event's hash.
    pub fn last_hash(&self) -> Option<String> {
        self.events.last().map(|e| e.hash.clone())
    }
}
