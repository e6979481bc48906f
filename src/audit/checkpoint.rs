//! The signed checkpoint (with `hmac_key`): where the journal was when the last change was
//! acknowledged — its graph, last `seq` and hash, the digest of its header (base state,
//! anchor, base seq, erasures) and the `seq` from which every batch carries a MAC — and
//! an HMAC-SHA-256 over all of it.
//!
//! The file `<journal>.checkpoint` has two slots of 512 bytes; each write goes to the
//! slot not holding the newest checkpoint and is synced before the mutation is
//! acknowledged, so a crash mid-write spoils at most the slot being written and the
//! other still holds the previous checkpoint.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::files;

/// Bytes per slot.
const SLOT: usize = 512;

/// One checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Format (2).
    pub accessgraph_checkpoint: u32,
    /// The graph.
    pub graph_id: String,
    /// The last acknowledged event.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// SHA-256 (hex) of the journal's header line.
    pub header: String,
    /// Batches ending after this `seq` carry a MAC (before it: written without a key,
    /// trusted on first use).
    pub trusted_from: u64,
    /// HMAC-SHA-256 (hex) over the fields above.
    #[serde(default)]
    pub mac: String,
}

/// An HMAC-SHA-256 of `parts`, joined by NUL bytes after `domain`.
pub fn mac(key: &[u8], domain: &str, parts: &[&str]) -> String {
    let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    m.update(domain.as_bytes());
    for p in parts {
        m.update(b"\0");
        m.update(p.as_bytes());
    }
    hex::encode(m.finalize().into_bytes())
}

/// Checks an HMAC made by [`mac`], in constant time.
pub fn mac_ok(key: &[u8], domain: &str, parts: &[&str], tag: &str) -> bool {
    let Ok(tag) = hex::decode(tag) else {
        return false;
    };
    let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return false;
    };
    m.update(domain.as_bytes());
    for p in parts {
        m.update(b"\0");
        m.update(p.as_bytes());
    }
    m.verify_slice(&tag).is_ok()
}

impl Checkpoint {
    fn fields(&self) -> [String; 5] {
        [
            self.graph_id.clone(),
            self.seq.to_string(),
            self.hash.clone(),
            self.header.clone(),
            self.trusted_from.to_string(),
        ]
    }

    /// Signs the checkpoint with `key`.
    #[must_use]
    pub fn signed(mut self, key: &[u8]) -> Self {
        let f = self.fields();
        let parts: Vec<&str> = f.iter().map(String::as_str).collect();
        self.mac = mac(key, "accessgraph/checkpoint/v2", &parts);
        self
    }

    /// Does the MAC verify with `key`?
    pub fn verifies(&self, key: &[u8]) -> bool {
        let f = self.fields();
        let parts: Vec<&str> = f.iter().map(String::as_str).collect();
        self.accessgraph_checkpoint == 2
            && mac_ok(key, "accessgraph/checkpoint/v2", &parts, &self.mac)
    }
}

/// What reading the checkpoint file found.
#[derive(Debug, Default)]
pub struct Slots {
    /// The slots whose MAC verifies, newest first, each with its slot number.
    pub valid: Vec<(u64, Checkpoint)>,
    /// Slots that hold something but do not verify (a torn write, another key, a forgery).
    pub invalid: usize,
    /// The file existed.
    pub exists: bool,
}

/// The checkpoint file of a journal.
#[derive(Debug)]
pub struct CheckpointFile {
    path: PathBuf,
    file: Option<File>,
    key: Vec<u8>,
    /// The slot the next write goes to.
    next: u64,
}

/// `<journal>.checkpoint`.
pub fn path_of(journal: &Path) -> PathBuf {
    files::sidecar(journal, ".checkpoint")
}

impl CheckpointFile {
    /// Reads the checkpoint of `journal` (without creating it).
    pub fn read(journal: &Path, key: &[u8]) -> std::io::Result<(Self, Slots)> {
        let path = path_of(journal);
        let mut slots = Slots::default();
        let mut next = 0;
        match std::fs::read(&path) {
            Ok(bytes) => {
                slots.exists = true;
                let mut found: Vec<(u64, Checkpoint)> = Vec::new();
                for (i, chunk) in bytes.chunks(SLOT).take(2).enumerate() {
                    let text = String::from_utf8_lossy(chunk);
                    let text = text.trim_matches(|c: char| c == ' ' || c == '\n' || c == '\0');
                    if text.is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Checkpoint>(text) {
                        Ok(cp) if cp.verifies(key) => found.push((i as u64, cp)),
                        _ => slots.invalid += 1,
                    }
                }
                found.sort_by_key(|(_, cp)| std::cmp::Reverse(cp.seq));
                // The next write goes to the slot that does not hold the newest (the
                // journal's opening then names the one that vouches: `keep`).
                next = found.first().map_or(0, |(i, _)| 1 - i);
                slots.valid = found;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok((
            CheckpointFile {
                path,
                file: None,
                key: key.to_vec(),
                next,
            },
            slots,
        ))
    }

    /// The checkpoint in `slot` vouches for the journal as opened: the next write goes
    /// to the other slot, so that a write torn by a crash leaves that one standing (the
    /// newest slot need not be it: after a retention rewrite both hold the same `seq`,
    /// and a crash between the new checkpoint and the rename leaves the old journal).
    pub fn keep(&mut self, slot: u64) {
        self.next = 1 - slot.min(1);
    }

    /// Writes `cp` (signed here) to the next slot and syncs it. A new file is written
    /// whole beside the journal and renamed into place, so a checkpoint file that exists
    /// always holds a complete slot.
    pub fn write(&mut self, cp: Checkpoint) -> std::io::Result<()> {
        let cp = cp.signed(&self.key);
        let mut text = serde_json::to_string(&cp).map_err(std::io::Error::other)?;
        if text.len() >= SLOT {
            return Err(std::io::Error::other("checkpoint larger than its slot"));
        }
        text.extend(std::iter::repeat_n(' ', SLOT - 1 - text.len()));
        text.push('\n');
        if self.file.is_none() && !self.path.exists() {
            let mut both = text.into_bytes();
            both.extend(std::iter::repeat_n(b' ', SLOT - 1));
            both.push(b'\n');
            files::replace(&self.path, &both)?;
            self.file = Some(files::open_rw(&self.path)?);
            self.next = 1;
            return Ok(());
        }
        let file = match &mut self.file {
            Some(f) => f,
            slot => slot.insert(files::open_rw(&self.path)?),
        };
        let at = self.next * SLOT as u64;
        file.write_all_at(text.as_bytes(), at)?;
        if let Err(e) = file.sync_data() {
            // The slot may be written but not durable: blank it (best effort), so that
            // it cannot vouch for a batch the caller is about to cut back; the other
            // slot still stands.
            let blank = [b' '; SLOT];
            let _ = file
                .write_all_at(&blank, at)
                .and_then(|()| file.sync_data());
            return Err(e);
        }
        self.next = 1 - self.next;
        Ok(())
    }

    /// Removes the file (the journal is being replaced by one it does not describe).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(seq: u64) -> Checkpoint {
        Checkpoint {
            accessgraph_checkpoint: 2,
            graph_id: "g".into(),
            seq,
            hash: "h".into(),
            header: "x".into(),
            trusted_from: 0,
            mac: String::new(),
        }
    }

    #[test]
    fn slots_alternate_and_a_torn_slot_leaves_the_other() -> std::io::Result<()> {
        let dir = crate::audit::files::TestDir::new("cp")?;
        let j = dir.join("j");
        let (mut f, s) = CheckpointFile::read(&j, b"k")?;
        assert!(!s.exists);
        f.write(cp(1))?;
        f.write(cp(2))?;
        f.write(cp(3))?;
        let (_, s) = CheckpointFile::read(&j, b"k")?;
        assert_eq!(s.valid.iter().map(|c| c.1.seq).collect::<Vec<_>>(), [3, 2]);
        // Tear the newest slot (slot 0 holds seq 3).
        let bytes = std::fs::read(path_of(&j))?;
        let mut torn = bytes.clone();
        if let Some(b) = torn.get_mut(40) {
            *b ^= 1;
        }
        std::fs::write(path_of(&j), &torn)?;
        let (_, s) = CheckpointFile::read(&j, b"k")?;
        assert_eq!(s.valid.iter().map(|c| c.1.seq).collect::<Vec<_>>(), [2]);
        assert_eq!(s.invalid, 1);
        // Another key verifies nothing.
        let (_, s) = CheckpointFile::read(&j, b"other")?;
        assert!(s.valid.is_empty() && s.invalid == 2);
        Ok(())
    }
}
