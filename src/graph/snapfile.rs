//! Snapshot files (format 2): their layout, their MAC, and reading one for opening.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::audit::checkpoint::{mac, mac_ok};
use crate::audit::event::sha256_hex;
use crate::error::AuditError;
use crate::error::{Error, Result};
use crate::state::State;

/// The state the snapshot `text` holds; errors say `what` was read.
pub(super) fn state_from_text(text: &str, what: &str) -> Result<State> {
    crate::state::snapshot::read(text).map_err(|e| AuditError::Io(format!("{what}: {e}")).into())
}

/// A snapshot file: the state at one batch of one journal (format 2).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SnapshotFile<'a> {
    pub(super) accessgraph_snapshot: u32,
    pub(super) graph_id: String,
    pub(super) seq: u64,
    pub(super) hash: String,
    pub(super) offset: u64,
    pub(super) lines: u64,
    pub(super) erasures: u64,
    /// SHA-256 of the journal's header line when the snapshot was taken.
    pub(super) header: String,
    /// The state's text as it stands in the file: read as it is, without building a JSON
    /// tree of it first or copying it (the engine writes it canonical: compact, keys
    /// sorted).
    #[serde(borrow)]
    pub(super) state: &'a RawValue,
    /// With `hmac_key`: an HMAC over everything above (the state by its SHA-256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) mac: Option<String>,
}

impl SnapshotFile<'_> {
    pub(super) fn sign(&mut self, key: &[u8]) {
        let f = Snapshot::from(&*self).signed_fields(self.state.get());
        let parts: Vec<&str> = f.iter().map(String::as_str).collect();
        self.mac = Some(mac(key, "accessgraph/snapshot/v2", &parts));
    }

    fn verifies(&self, key: &[u8]) -> bool {
        let Some(tag) = self.mac.as_deref() else {
            return false;
        };
        let snap = Snapshot::from(self);
        // The engine writes the state canonical, so its text as it stands is what was
        // signed; a file written otherwise (spaces, keys in another order) is signed over
        // the canonical JSON, as `docs/journal-format.md` says: build it then.
        snap.mac_ok(key, self.state.get(), tag)
            || serde_json::from_str::<Value>(self.state.get())
                .is_ok_and(|v| snap.mac_ok(key, &v.to_string(), tag))
    }
}

/// A snapshot file as opening uses it: its fields and its state's text.
pub(super) struct Snapshot<'a> {
    pub(super) graph_id: String,
    pub(super) seq: u64,
    pub(super) hash: String,
    pub(super) offset: u64,
    pub(super) lines: u64,
    pub(super) erasures: u64,
    pub(super) header: String,
    pub(super) state: &'a str,
}

impl<'a> From<&SnapshotFile<'a>> for Snapshot<'a> {
    fn from(f: &SnapshotFile<'a>) -> Self {
        Snapshot {
            graph_id: f.graph_id.clone(),
            seq: f.seq,
            hash: f.hash.clone(),
            offset: f.offset,
            lines: f.lines,
            erasures: f.erasures,
            header: f.header.clone(),
            state: f.state.get(),
        }
    }
}

impl Snapshot<'_> {
    /// What the MAC covers, the state by the SHA-256 of `state_text`: its canonical JSON.
    fn signed_fields(&self, state_text: &str) -> Vec<String> {
        vec![
            self.graph_id.clone(),
            self.seq.to_string(),
            self.hash.clone(),
            self.offset.to_string(),
            self.lines.to_string(),
            self.erasures.to_string(),
            self.header.clone(),
            sha256_hex(state_text.as_bytes()),
        ]
    }

    /// `tag` is the MAC with `key` of these fields and `state_text`.
    fn mac_ok(&self, key: &[u8], state_text: &str, tag: &str) -> bool {
        let f = self.signed_fields(state_text);
        let parts: Vec<&str> = f.iter().map(String::as_str).collect();
        mac_ok(key, "accessgraph/snapshot/v2", &parts, tag)
    }
}

/// The fields of a snapshot file before its state, in the order the engine writes them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotHead {
    accessgraph_snapshot: u32,
    graph_id: String,
    seq: u64,
    hash: String,
    offset: u64,
    lines: u64,
    erasures: u64,
    header: String,
}

/// The fields of a snapshot file after its state, as the engine writes them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotTail {
    mac: Option<String>,
}

/// What JSON counts as whitespace (`str::trim` takes more).
const JSON_SPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// Where the engine writes a snapshot's state in its file: the byte after the first
/// `,"state":` (no string before it can hold that text: its quote would end the string)
/// and the `,"mac":` before the closing brace, else that brace.
fn state_span(text: &str) -> Option<(usize, usize)> {
    const KEY: &str = ",\"state\":";
    let start = text.find(KEY)? + KEY.len();
    let body = text.trim_end_matches(JSON_SPACE).strip_suffix('}')?;
    let end = if body.ends_with('}') {
        body.len()
    } else {
        body.rfind(",\"mac\":")?
    };
    (start <= end).then_some((start, end))
}

/// The snapshot `text` read the quick way, when it is laid out as the engine writes it:
/// the fields before and after the state (found by [`state_span`]) read strictly, the MAC
/// checked over the state's text as it stands (with a key), then the state read from that
/// text. The state reader reads its text whole and strictly, so a file that passes is one
/// [`read_snapshot`] reads the same, and its state is not scanned a first time (as a
/// `RawValue`) before it is read. `None` when anything does not fit, and the file is then
/// read as before (its errors, and the MAC over the canonical JSON, are that path's).
pub(super) fn read_snapshot_quick<'a>(
    text: &'a str,
    key: Option<&[u8]>,
) -> Option<(Snapshot<'a>, State)> {
    let (start, end) = state_span(text)?;
    let state_text = text.get(start..end)?;
    // The state reader skips a byte-order mark; JSON has none inside a document.
    if state_text.starts_with('\u{feff}') {
        return None;
    }
    let head_text = format!("{}}}", text.get(..start - ",\"state\":".len())?);
    let head: SnapshotHead = serde_json::from_str(&head_text).ok()?;
    if head.accessgraph_snapshot != 2 {
        return None;
    }
    let tail = text.get(end..)?;
    let mac = match tail.strip_prefix(',') {
        Some(rest) => {
            serde_json::from_str::<SnapshotTail>(&format!("{{{rest}"))
                .ok()?
                .mac
        }
        None => None,
    };
    let snap = Snapshot {
        graph_id: head.graph_id,
        seq: head.seq,
        hash: head.hash,
        offset: head.offset,
        lines: head.lines,
        erasures: head.erasures,
        header: head.header,
        state: state_text,
    };
    if let Some(key) = key {
        // Checked before the state is read, let alone trusted.
        if !snap.mac_ok(key, state_text, mac.as_deref()?) {
            return None;
        }
    }
    let state = state_from_text(state_text, "snapshot state").ok()?;
    Some((snap, state))
}

/// The text of the snapshot at `snap_path`, if there is one.
pub(super) fn read_snapshot_text(snap_path: &Path, required: bool) -> Result<Option<String>> {
    match std::fs::read_to_string(snap_path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
        Err(e) => Err(AuditError::Io(format!("snapshot {}: {e}", snap_path.display())).into()),
    }
}

/// Reads the snapshot `text` (of the file at `snap_path`); with a key it must be signed.
pub(super) fn read_snapshot<'a>(
    snap_path: &Path,
    text: &'a str,
    key: Option<&[u8]>,
) -> Result<SnapshotFile<'a>> {
    let refuse = |why: &str| {
        Error::from(AuditError::Journal {
            path: snap_path.display().to_string(),
            line: 1,
            reason: why.to_owned(),
        })
    };
    let snap: SnapshotFile<'a> = serde_json::from_str(text)
        .map_err(|e| refuse(&format!("not an accessgraph snapshot (format 2): {e}")))?;
    if snap.accessgraph_snapshot != 2 {
        return Err(refuse("snapshot format not supported (expected 2)"));
    }
    if let Some(key) = key {
        if !snap.verifies(key) {
            return Err(refuse(
                "the snapshot does not verify with this key: altered, unsigned or another key's; delete it to replay the journal",
            ));
        }
    }
    Ok(snap)
}
