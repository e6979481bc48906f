//! Reading a journal's batch lines, on open and on catch-up: each batch's MAC checked
//! (with `hmac_key`), the records handed on a stretch of lines at a time to a
//! [`RecordSink`] — opening replays them as they come, so a journal of a year is never
//! held as full events all at once.

use std::path::Path;

use super::decode::{Decoded, Fault, Shaped};
use super::journal::{batch_mac_ok, batch_mac_ok_at, BatchError, Header, Record};
use super::part::Part;
use crate::error::AuditError;

/// Where opening a journal hands the records it reads, a stretch of lines at a time, so
/// that no more than one stretch of full events is held at once (a journal of a year is
/// replayed into the compact store and the state as it is read).
pub trait RecordSink {
    /// Line 1 and its digest, before any record; `resumed`: reading starts at the
    /// snapshot's resume point. `false` stops the reading as [`RecordSink::records`]
    /// does.
    fn start(&mut self, header: &Header, header_digest: &str, resumed: bool) -> bool;
    /// The next records, in order, read from `bytes` bytes of the file (their lines,
    /// newlines included: what a progress report counts). Reading goes on whatever the
    /// sink makes of them (a fault found later in the file is what opening reports): a
    /// sink keeps its own first error. `false` stops the reading at once, before the
    /// file is touched: the reader fails with [`STOPPED`], and the sink says why.
    fn records(&mut self, records: Vec<Record>, bytes: u64) -> bool;
    /// True when the sink takes the records as [`Part`]s ([`RecordSink::part`]) instead
    /// of events: each built on the thread that decoded its lines.
    fn wants_parts(&self) -> bool {
        false
    }
    /// The next records as a [`Part`] (its first batch on line `first_line`), when
    /// [`RecordSink::wants_parts`]: as [`RecordSink::records`] otherwise; `bytes` of the
    /// file, counted with the part's last piece.
    fn part(&mut self, part: Part, first_line: u64, bytes: u64) -> bool {
        let _ = (part, first_line);
        self.records(Vec::new(), bytes)
    }
}

/// The reason of the error a reader fails with when its sink stopped it; the sink holds
/// the true reason (a progress callback's) and reports that one instead.
pub const STOPPED: &str = "reading the journal was stopped";

/// Collects every record (the whole journal in memory: for an import or a short read).
impl RecordSink for Vec<Record> {
    fn start(&mut self, _: &Header, _: &str, _: bool) -> bool {
        true
    }
    fn records(&mut self, mut records: Vec<Record>, _: u64) -> bool {
        self.append(&mut records);
        true
    }
}

/// Lines per stretch read and handed on at once: large enough for the parallel decoding
/// to pay, small enough that a stretch's full events are a few megabytes.
const STRETCH: usize = 16_384;

/// What the reader noted of the records it handed on: the last one's line, and the line
/// and hash of the event at the signed checkpoint's `seq`.
#[derive(Debug, Default)]
pub(super) struct Seen {
    pub(super) end_line: Option<u64>,
    pub(super) at_checkpoint: Option<(u64, String)>,
}

pub(super) fn journal_err(path: &Path, line: u64, reason: impl Into<String>) -> AuditError {
    AuditError::Journal {
        path: path.display().to_string(),
        line,
        reason: reason.into(),
    }
}

fn batch_err(path: &Path, line: u64, e: BatchError) -> AuditError {
    journal_err(
        path,
        line,
        match e {
            BatchError::Checksum => {
                "the record's checksum does not match (altered or damaged)".to_owned()
            }
            BatchError::Format(m) | BatchError::Chain(m) | BatchError::Event(_, m) => m,
        },
    )
}

/// The chain read so far and what reading the batches needs to check them.
pub(super) struct Reader<'a> {
    pub(super) path: &'a Path,
    pub(super) graph_id: &'a str,
    pub(super) key: Option<&'a [u8]>,
    pub(super) trusted_from: u64,
}

impl Reader<'_> {
    /// Reads complete batch lines numbered from `first_line`, chained after `last`.
    pub(super) fn batches(
        &self,
        first_line: u64,
        lines: &[&[u8]],
        last: &mut (u64, String),
    ) -> Result<Vec<Record>, AuditError> {
        let mut out = Vec::new();
        self.each(first_line, lines, last, &mut out, None)?;
        Ok(out)
    }

    /// Reads complete batch lines numbered from `first_line`, chained after `last`, and
    /// hands their records to `sink` a stretch at a time; `watch`: note the event with
    /// this `seq` in [`Seen`]. The next stretch is decoded (on other threads) while the
    /// sink takes the one before. The first fault — a line that does not read or a batch
    /// without its MAC — is the error, whatever the sink made of the records before it.
    pub(super) fn each(
        &self,
        first_line: u64,
        lines: &[&[u8]],
        last: &mut (u64, String),
        sink: &mut dyn RecordSink,
        watch: Option<u64>,
    ) -> Result<Seen, AuditError> {
        let mut seen = Seen::default();
        let mut result = Ok(());
        if sink.wants_parts() {
            super::decode::stretches_with(
                lines,
                &last.clone(),
                STRETCH,
                &Part::add_line,
                |at, shaped| {
                    let first = first_line + at as u64;
                    result = self.hand_on_parts(
                        first,
                        lines.get(at..).unwrap_or_default(),
                        shaped,
                        last,
                        sink,
                        watch,
                        &mut seen,
                    );
                    result.is_ok()
                },
            );
            return result.map(|()| seen);
        }
        super::decode::stretches(lines, &last.clone(), STRETCH, |at, decoded| {
            let first = first_line + at as u64;
            let read = lines
                .get(at..at + decoded.0.len())
                .unwrap_or_default()
                .iter()
                .map(|l| l.len() as u64 + 1)
                .sum();
            result = self.hand_on(first, decoded, read, last, sink, watch, &mut seen);
            result.is_ok()
        });
        result.map(|()| seen)
    }

    /// [`Reader::hand_on`] for a stretch shaped in [`Part`]s (its `lines` from
    /// `first_line` on): the same checks in the same order, each piece handed on whole
    /// (up to a batch without its MAC).
    #[expect(
        clippy::too_many_arguments,
        reason = "one stretch's lines, what they came from and where they go"
    )]
    fn hand_on_parts(
        &self,
        first_line: u64,
        lines: &[&[u8]],
        (pieces, fault): Shaped<Part>,
        last: &mut (u64, String),
        sink: &mut dyn RecordSink,
        watch: Option<u64>,
        seen: &mut Seen,
    ) -> Result<(), AuditError> {
        let mut line = first_line;
        let mut at = 0;
        let count = pieces.len();
        let mut mac_fault = None;
        for (k, piece) in pieces.into_iter().enumerate() {
            let mut part = piece.made;
            let part_line = line;
            let mut row = 0;
            let mut kept = part.batches().len();
            // The last batch kept's last row: `last` is set from it once the piece's
            // batches are checked (one hash written out as hex a piece, not a batch).
            let mut last_row = None;
            for (i, (n, mac)) in part.batches().iter().enumerate() {
                let end_row = row + n;
                let end = if *n > 0 { part.seq(end_row - 1) } else { 0 };
                if let Some(key) = self.key {
                    let ok = *n > 0
                        && mac.as_deref().is_some_and(|tag| {
                            batch_mac_ok_at(key, self.graph_id, end, &part.hash(end_row - 1), tag)
                        });
                    if end > self.trusted_from && !ok {
                        mac_fault = Some(self.no_mac(line, end));
                        kept = i;
                        break;
                    }
                }
                if *n > 0 {
                    last_row = Some(end_row - 1);
                    if let Some(w) = watch.filter(|w| (part.seq(row)..=end).contains(w)) {
                        seen.at_checkpoint = Some((
                            line,
                            part.hash(usize::try_from(w - part.seq(0)).unwrap_or(usize::MAX)),
                        ));
                    }
                }
                seen.end_line = Some(line);
                row = end_row;
                line += 1;
            }
            if let Some(r) = last_row {
                *last = (part.seq(r), part.hash(r));
            }
            part.keep_batches(kept);
            at += kept;
            // The bytes are counted with the last piece handed on.
            let bytes = if mac_fault.is_some() || k + 1 == count {
                lines
                    .get(..at)
                    .unwrap_or_default()
                    .iter()
                    .map(|l| l.len() as u64 + 1)
                    .sum()
            } else {
                0
            };
            if !sink.part(part, part_line, bytes) {
                return Err(AuditError::Io(STOPPED.to_owned()));
            }
            if mac_fault.is_some() {
                break;
            }
        }
        if let Some(e) = mac_fault {
            return Err(e);
        }
        self.stretch_fault(first_line, fault)
    }

    /// The error of a batch ending at event `end` (on `line`) without a valid MAC.
    fn no_mac(&self, line: u64, end: u64) -> AuditError {
        journal_err(
            self.path,
            line,
            format!(
                "the batch ending at event {end} carries no valid MAC for this key: written without the key, forged or from another journal"
            ),
        )
    }

    /// The error of a stretch's fault (its line counted from `first_line`), if it had one.
    fn stretch_fault(
        &self,
        first_line: u64,
        fault: Option<(usize, Fault)>,
    ) -> Result<(), AuditError> {
        match fault {
            None => Ok(()),
            Some((i, fault)) => {
                let line = first_line + i as u64;
                Err(match fault {
                    Fault::NotUtf8 => journal_err(self.path, line, "the record is not UTF-8"),
                    Fault::Batch(e) => batch_err(self.path, line, e),
                })
            }
        }
    }

    /// Checks the MACs of one decoded stretch (numbered from `first_line`, `bytes` of the
    /// file) and hands its records on; the stretch's fault, if any, is the error.
    #[expect(
        clippy::too_many_arguments,
        reason = "one stretch's lines, what they came from and where they go"
    )]
    fn hand_on(
        &self,
        first_line: u64,
        (batches, fault): Decoded,
        bytes: u64,
        last: &mut (u64, String),
        sink: &mut dyn RecordSink,
        watch: Option<u64>,
        seen: &mut Seen,
    ) -> Result<(), AuditError> {
        let mut out = Vec::with_capacity(batches.iter().map(|b| b.events.len()).sum());
        let mut mac_fault = None;
        for (i, batch) in batches.into_iter().enumerate() {
            let line = first_line + i as u64;
            if let Some(key) = self.key {
                let end = batch.events.last().map_or(0, |e| e.seq);
                if end > self.trusted_from && !batch_mac_ok(key, self.graph_id, &batch) {
                    mac_fault = Some(self.no_mac(line, end));
                    break;
                }
            }
            if let Some(e) = batch.events.last() {
                *last = (e.seq, e.hash.clone());
            }
            for event in batch.events {
                if watch == Some(event.seq) {
                    seen.at_checkpoint = Some((line, event.hash.clone()));
                }
                out.push(Record { line, event });
            }
            seen.end_line = Some(line);
        }
        if !sink.records(out, bytes) {
            return Err(AuditError::Io(STOPPED.to_owned()));
        }
        if let Some(e) = mac_fault {
            return Err(e);
        }
        self.stretch_fault(first_line, fault)
    }
}
