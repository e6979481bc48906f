//! The JSON snapshot (SPEC 5.2) of a whole graph: the graph-level entry points over the
//! state's snapshot format (`crate::state::snapshot`, where the format is described).

use crate::error::Result;
use crate::graph::Graph;
use crate::state::snapshot;

/// A snapshot that cannot be read: where (a JSON path such as `$.grants[3].role`) and why.
pub type JsonError = crate::error::JsonPathError;

/// The whole graph as a JSON snapshot: deterministic, pretty-printed, newline-terminated.
/// Written under the graph's read lock (the document borrows its strings).
pub fn to_json(graph: &Graph) -> Result<String> {
    graph.read(snapshot::write)
}

/// Reads a snapshot into a new graph (on the wall clock). Nothing is partly restored:
/// the first problem raises [`JsonError`] naming its JSON path.
pub fn from_json(text: &str) -> Result<Graph, JsonError> {
    Ok(Graph::from_state(snapshot::read(text)?))
}
