//! Reading a journal's batch lines in parallel stretches: parsing and hashing are most of
//! the cost of opening a journal, and every line can be read knowing only the `seq` and
//! hash the line before it ends with.
//!
//! Each stretch after the first starts from the end its previous line *claims* (its
//! `seq` and its `hash` field, read without hashing). Once all are read, each stretch's
//! start is checked against what the stretch before it actually computed; a stretch that
//! started from a false claim is read again from the true end. So the result — the
//! batches up to the first fault, and that fault — is exactly what reading the lines one
//! after the other gives.

use std::path::Path;

use super::event::Event;
use super::journal::{batch_end, decode_batch, Batch, BatchError, Header};
use crate::error::AuditError;

/// Below this many lines per thread, the lines are read on one thread.
const PARALLEL_FROM: usize = 4_000;

/// Splits `buf` into complete lines (each ending in `\n`) and a trailing partial line.
pub fn complete_lines(buf: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut lines = Vec::new();
    let mut rest = buf;
    while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
        let (line, after) = rest.split_at(pos);
        lines.push(line);
        rest = after.get(1..).unwrap_or_default();
    }
    (lines, rest)
}

/// Why a line does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Not UTF-8.
    NotUtf8,
    /// Not a batch that chains (see [`decode_batch`]).
    Batch(BatchError),
}

/// The batches of `lines` chained after `start` (`seq`, hash), up to the first line that
/// does not read, and that line's index and fault.
pub type Decoded = (Vec<Batch>, Option<(usize, Fault)>);

/// Reads `lines` one after the other.
fn sequential(lines: &[&[u8]], start: &(u64, String)) -> Decoded {
    let mut out = Vec::with_capacity(lines.len());
    let (mut seq, mut prev) = (start.0, start.1.clone());
    for (i, raw) in lines.iter().enumerate() {
        let Ok(text) = std::str::from_utf8(raw) else {
            return (out, Some((i, Fault::NotUtf8)));
        };
        match decode_batch(text, seq, &prev) {
            Ok(batch) => {
                if let Some(e) = batch.events.last() {
                    seq = e.seq;
                    prev.clone_from(&e.hash);
                }
                out.push(batch);
            }
            Err(e) => return (out, Some((i, Fault::Batch(e)))),
        }
    }
    (out, None)
}

/// Where the last batch of `batches` ends, or `start` when there is none.
fn end_of(batches: &[Batch], start: &(u64, String)) -> (u64, String) {
    batches
        .last()
        .and_then(|b| b.events.last())
        .map_or_else(|| start.clone(), |e| (e.seq, e.hash.clone()))
}

/// Reads `lines` chained after `start`, in parallel stretches when there are many.
pub fn lines(lines: &[&[u8]], start: &(u64, String)) -> Decoded {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let parts = threads.min(lines.len() / PARALLEL_FROM).clamp(1, 8);
    split(lines, start, parts)
}

/// [`lines`] in `parts` stretches.
fn split(lines: &[&[u8]], start: &(u64, String), parts: usize) -> Decoded {
    if parts <= 1 {
        return sequential(lines, start);
    }
    let n = lines.len();
    let bounds: Vec<usize> = (0..=parts).map(|k| n * k / parts).collect();
    // The start each stretch claims: the end its previous line says it has.
    let claimed: Vec<(u64, String)> = bounds
        .windows(2)
        .map(|w| {
            let first = w.first().copied().unwrap_or(0);
            first
                .checked_sub(1)
                .and_then(|j| lines.get(j))
                .and_then(|raw| std::str::from_utf8(raw).ok())
                .and_then(batch_end)
                .unwrap_or_else(|| start.clone())
        })
        .collect();
    let results: Vec<Decoded> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .zip(&claimed)
            .map(|(w, from)| {
                let (a, b) = (
                    w.first().copied().unwrap_or(0),
                    w.last().copied().unwrap_or(0),
                );
                let part = lines.get(a..b).unwrap_or_default();
                scope.spawn(move || sequential(part, from))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| (Vec::new(), Some((0, Fault::NotUtf8))))
            })
            .collect()
    });
    let mut out: Vec<Batch> = Vec::with_capacity(n);
    let mut end = start.clone();
    for ((w, from), (mut batches, mut fault)) in bounds.windows(2).zip(&claimed).zip(results) {
        let a = w.first().copied().unwrap_or(0);
        if *from != end {
            // Started from a false claim: read it again from the true end.
            let b = w.last().copied().unwrap_or(0);
            (batches, fault) = sequential(lines.get(a..b).unwrap_or_default(), &end);
        }
        end = end_of(&batches, &end);
        out.append(&mut batches);
        if let Some((i, f)) = fault {
            return (out, Some((a + i, f)));
        }
    }
    (out, None)
}

/// The events of the journal at `path` up to byte `end` (a snapshot's resume point),
/// chained from its header; errors are `AuditError::Integrity` (this runs when the audit
/// log is first used, not on open).
pub fn read_prefix(path: &Path, end: u64) -> Result<Vec<Event>, AuditError> {
    let bytes =
        std::fs::read(path).map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
    let end = usize::try_from(end).unwrap_or(usize::MAX).min(bytes.len());
    let (lines, _) = complete_lines(bytes.get(..end).unwrap_or_default());
    let bad = |line: u64, seq: u64, reason: String| AuditError::Integrity {
        seq,
        reason: format!("{}, line {line}: {reason}", path.display()),
    };
    let mut lines = lines.into_iter();
    let head = lines
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .and_then(|l| super::journal::strip_crc(l).ok())
        .and_then(|j| serde_json::from_str::<Header>(&j).ok())
        .ok_or_else(|| bad(1, 0, "unreadable header".into()))?;
    let rest: Vec<&[u8]> = lines.collect();
    let (batches, fault) = super::decode::lines(&rest, &(head.base_seq, head.anchor));
    let mut out: Vec<Event> = Vec::with_capacity(batches.iter().map(|b| b.events.len()).sum());
    for b in batches {
        out.extend(b.events);
    }
    if let Some((i, fault)) = fault {
        let line = i as u64 + 2;
        let first = out.last().map_or(head.base_seq, |e| e.seq) + 1;
        return Err(match fault {
            Fault::NotUtf8 => bad(line, first, "not UTF-8".into()),
            Fault::Batch(BatchError::Checksum) => {
                bad(line, first, "checksum does not match".into())
            }
            Fault::Batch(BatchError::Event(seq, m)) => bad(line, seq, m),
            Fault::Batch(BatchError::Format(m) | BatchError::Chain(m)) => bad(line, first, m),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::{genesis, Event};
    use crate::audit::journal::encode_batch;
    use crate::time::Instant;

    fn journal_lines(n: u64) -> (String, Vec<String>) {
        let anchor = genesis("g");
        let mut prev = anchor.clone();
        let mut out = Vec::new();
        for seq in 1..=n {
            let mut d = serde_json::Map::new();
            d.insert("name".into(), serde_json::Value::from(format!("Org {seq}")));
            let e = Event::new(
                seq,
                Instant(0),
                "system".into(),
                "org.created".into(),
                format!("org{seq}"),
                d,
                prev.clone(),
            )
            .unwrap_or_else(|e| unreachable!("{e}"));
            prev.clone_from(&e.hash);
            let line = encode_batch(std::slice::from_ref(&e), None, "g");
            out.push(line.trim_end_matches('\n').to_owned());
        }
        (anchor, out)
    }

    fn view(l: &[Vec<u8>]) -> Vec<&[u8]> {
        l.iter().map(Vec::as_slice).collect()
    }

    fn seqs(d: &Decoded) -> (Vec<u64>, Option<usize>) {
        (
            d.0.iter()
                .flat_map(|b| b.events.iter().map(|e| e.seq))
                .collect(),
            d.1.as_ref().map(|(i, _)| *i),
        )
    }

    #[test]
    fn stretches_read_as_one_pass_does() {
        let (anchor, text) = journal_lines(40);
        let start = (0, anchor);
        let mut lines: Vec<Vec<u8>> = text.iter().map(|l| l.clone().into_bytes()).collect();
        let one = sequential(&view(&lines), &start);
        assert_eq!(seqs(&one), ((1..=40).collect(), None));
        for parts in [2, 3, 7] {
            assert_eq!(seqs(&split(&view(&lines), &start, parts)), seqs(&one));
        }
        // A line whose claimed end is false (its hash field edited, CRC redone) and a
        // line not UTF-8 later: both readings name the same first fault.
        let line20 = text.get(19).map_or("", String::as_str);
        let mut doc: serde_json::Value =
            serde_json::from_str(&crate::audit::journal::strip_crc(line20).unwrap_or_default())
                .unwrap_or_default();
        if let Some(h) = doc.get_mut("hash") {
            *h = serde_json::Value::from("f".repeat(64));
        }
        let forged = crate::audit::journal::with_crc(doc.to_string());
        if let Some(l) = lines.get_mut(19) {
            *l = forged.trim_end_matches('\n').as_bytes().to_vec();
        }
        if let Some(l) = lines.get_mut(33) {
            *l = vec![0xff, 0xfe];
        }
        let one = sequential(&view(&lines), &start);
        assert_eq!(seqs(&one), ((1..=19).collect(), Some(19)));
        for parts in [2, 3, 7] {
            let many = split(&view(&lines), &start, parts);
            assert_eq!(seqs(&many), seqs(&one), "{parts}");
            assert_eq!(many.1, one.1);
        }
    }
}
