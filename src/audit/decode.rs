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

use super::journal::{batch_end, read_batch, Batch, BatchError};

/// Below this many lines per thread, the lines are read on one thread.
const PARALLEL_FROM: usize = 4_000;

/// Splits `buf` into complete lines (each ending in `\n`) and a trailing partial line.
pub fn complete_lines(buf: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut lines = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', buf) {
        lines.push(buf.get(start..end).unwrap_or_default());
        start = end + 1;
    }
    (lines, buf.get(start..).unwrap_or_default())
}

/// Why a line does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Not UTF-8.
    NotUtf8,
    /// Not a batch that chains (see [`read_batch`]).
    Batch(BatchError),
}

/// The batches of `lines` chained after `start` (`seq`, hash), up to the first line that
/// does not read, and that line's index and fault.
pub type Decoded = (Vec<Batch>, Option<(usize, Fault)>);

/// What the thread that read some lines hands on: what `shape` made of their batches,
/// how many batches, the first event's `seq` and `prev_hash`, and where the last ends.
#[derive(Debug)]
pub struct Piece<T> {
    /// What the decoding thread made of the batches.
    pub made: T,
    /// How many batches (lines) it holds.
    pub batches: usize,
    /// The first event's `seq` and `prev_hash`, if any.
    pub first: Option<(u64, String)>,
    /// The `seq` and hash the last batch ends with (the start when there is none).
    pub end: (u64, String),
}

/// The pieces of some lines, in order, and the first line that does not read, if any.
pub type Shaped<T> = (Vec<Piece<T>>, Option<(usize, Fault)>);

/// One piece and the first line in it that does not read, if any.
type Read<T> = (Piece<T>, Option<(usize, Fault)>);

/// What a decoding thread makes of the lines it reads: `shape(made, line, end)` reads
/// `line` (valid UTF-8) chained after `end` (`seq`, hash) into what the thread hands on
/// (`T::default()` to begin with) and moves `end` on to the line's last event; when the
/// line does not read, it says why and leaves both as they were. So the events are made
/// and dropped on that thread, one line at a time: collecting a stretch's events first
/// and converting them after had the allocator hand out and take back every event's
/// memory cold, a third of opening's time.
pub type Shaper<T> = dyn Fn(&mut T, &str, &mut (u64, String)) -> Result<(), BatchError> + Sync;

/// Reads `lines` one after the other and hands them to `shape` on this thread.
fn sequential_with<T: Default>(
    lines: &[&[u8]],
    start: &(u64, String),
    shape: &Shaper<T>,
) -> Read<T> {
    let mut made = T::default();
    let mut batches = 0;
    let mut end = start.clone();
    let mut fault = None;
    for (i, raw) in lines.iter().enumerate() {
        let Ok(text) = std::str::from_utf8(raw) else {
            fault = Some((i, Fault::NotUtf8));
            break;
        };
        if let Err(e) = shape(&mut made, text, &mut end) {
            fault = Some((i, Fault::Batch(e)));
            break;
        }
        batches += 1;
    }
    // A batch that reads starts with the event after `start`, chained after it.
    let first = (batches > 0).then(|| (start.0 + 1, start.1.clone()));
    (
        Piece {
            made,
            batches,
            first,
            end,
        },
        fault,
    )
}

/// Reads `lines` one after the other.
#[cfg(test)]
fn sequential(lines: &[&[u8]], start: &(u64, String)) -> Decoded {
    let (piece, fault) = sequential_with(lines, start, &keep);
    (piece.made, fault)
}

/// The batches of shaped pieces (`shape` the identity), in one list.
fn flat((pieces, fault): Shaped<Vec<Batch>>) -> Decoded {
    (pieces.into_iter().flat_map(|p| p.made).collect(), fault)
}

/// The plain shaper: the batches, their events built.
fn keep(batches: &mut Vec<Batch>, line: &str, end: &mut (u64, String)) -> Result<(), BatchError> {
    let prev = end.1.clone();
    batches.push(read_batch(line, end)?.into_batch(&prev));
    Ok(())
}

/// Reads `lines` chained after `start`, in parallel stretches when there are many.
pub fn lines(lines: &[&[u8]], start: &(u64, String)) -> Decoded {
    flat(lines_with(lines, start, &keep))
}

/// [`lines`], each thread handing what it read to `shape`.
fn lines_with<T: Send + Default>(
    lines: &[&[u8]],
    start: &(u64, String),
    shape: &Shaper<T>,
) -> Shaped<T> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let parts = threads.min(lines.len() / PARALLEL_FROM).clamp(1, 8);
    split_with(lines, start, parts, shape)
}

/// [`lines`] in `parts` stretches.
#[cfg(test)]
fn split(lines: &[&[u8]], start: &(u64, String), parts: usize) -> Decoded {
    flat(split_with(lines, start, parts, &keep))
}

/// [`lines_with`] in `parts` stretches.
fn split_with<T: Send + Default>(
    lines: &[&[u8]],
    start: &(u64, String),
    parts: usize,
    shape: &Shaper<T>,
) -> Shaped<T> {
    if parts <= 1 {
        let (piece, fault) = sequential_with(lines, start, shape);
        return (vec![piece], fault);
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
    let results: Vec<Option<Read<T>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .zip(&claimed)
            .map(|(w, from)| {
                let (a, b) = (
                    w.first().copied().unwrap_or(0),
                    w.last().copied().unwrap_or(0),
                );
                let part = lines.get(a..b).unwrap_or_default();
                scope.spawn(move || sequential_with(part, from, shape))
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    });
    let mut out: Vec<Piece<T>> = Vec::with_capacity(parts);
    let mut end = start.clone();
    for ((w, from), result) in bounds.windows(2).zip(&claimed).zip(results) {
        let (a, b) = (
            w.first().copied().unwrap_or(0),
            w.last().copied().unwrap_or(0),
        );
        // Started from a false claim (or its thread failed): read it again from the
        // true end.
        let (piece, fault) = match result {
            Some(r) if *from == end => r,
            _ => sequential_with(lines.get(a..b).unwrap_or_default(), &end, shape),
        };
        end = piece.end.clone();
        out.push(piece);
        if let Some((i, f)) = fault {
            return (out, Some((a + i, f)));
        }
    }
    (out, None)
}

/// Reads `lines` chained after `start` a stretch of `stretch` lines at a time and hands
/// each stretch's result to `take` with the index of its first line, in order, until
/// `take` returns false or a stretch ends in a fault. The next stretch is read (on other
/// threads) while `take` works on the one before; each stretch starts from the end the
/// line before it claims, and one that turns out to have started from a false claim is
/// read again from the true end, so `take` sees what [`lines`] over the whole would give,
/// cut in stretches.
pub fn stretches(
    lines: &[&[u8]],
    start: &(u64, String),
    stretch: usize,
    mut take: impl FnMut(usize, Decoded) -> bool,
) {
    stretches_with(lines, start, stretch, &keep, |at, shaped| {
        take(at, flat(shaped))
    });
}

/// [`stretches`], each decoding thread handing the batches it read to `shape` (which
/// runs on that thread) and `take` getting the pieces `shape` made.
pub fn stretches_with<T: Send + Default>(
    lines: &[&[u8]],
    start: &(u64, String),
    stretch: usize,
    shape: &Shaper<T>,
    mut take: impl FnMut(usize, Shaped<T>) -> bool,
) {
    let stretch = stretch.max(1);
    if lines.len() <= stretch {
        take(0, lines_with(lines, start, shape));
        return;
    }
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Shaped<T>)>(1);
        let first = start.clone();
        let reader = scope.spawn(move || {
            let mut from = first;
            for (k, part) in lines.chunks(stretch).enumerate() {
                let decoded = lines_with(part, &from, shape);
                let stop = decoded.1.is_some();
                from = part
                    .last()
                    .and_then(|raw| std::str::from_utf8(raw).ok())
                    .and_then(batch_end)
                    .unwrap_or_else(|| from.clone());
                if tx.send((k * stretch, decoded)).is_err() || stop {
                    return;
                }
            }
        });
        let mut end = start.clone();
        for (at, decoded) in &rx {
            let part = lines
                .get(at..(at + stretch).min(lines.len()))
                .unwrap_or_default();
            // A batch read from another start fails its first event's check.
            let true_start = decoded
                .0
                .iter()
                .find_map(|p| p.first.as_ref())
                .is_some_and(|(seq, prev)| *seq == end.0 + 1 && *prev == end.1);
            let decoded = if true_start {
                decoded
            } else {
                lines_with(part, &end, shape)
            };
            let fault = decoded.1.is_some();
            if let Some(p) = decoded.0.last() {
                end = p.end.clone();
            }
            if !take(at, decoded) || fault {
                break;
            }
        }
        // Dropping the receiver ends the reader at its next stretch.
        drop(rx);
        let _ = reader.join();
    });
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
    fn complete_lines_keep_the_partial_tail_apart() {
        let (lines, tail) = complete_lines(b"a\nbc\n\nd");
        assert_eq!(lines, [&b"a"[..], b"bc", b""]);
        assert_eq!(tail, b"d");
        let (lines, tail) = complete_lines(b"a\n");
        assert_eq!((lines, tail), (vec![&b"a"[..]], &b""[..]));
        let (lines, tail) = complete_lines(b"");
        assert!(lines.is_empty() && tail.is_empty());
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
        // Read a stretch at a time (the forged claim ends stretch 19 for sizes 1, 4, 5 …),
        // the stretches add up to one pass and name the same fault.
        for stretch in [1, 2, 4, 5, 19, 20, 33, 40, 100] {
            let mut got: Vec<u64> = Vec::new();
            let mut fault = None;
            stretches(&view(&lines), &start, stretch, |at, (batches, f)| {
                got.extend(batches.iter().flat_map(|b| b.events.iter().map(|e| e.seq)));
                fault = f.map(|(i, f)| (at + i, f));
                true
            });
            assert_eq!((got, fault.as_ref().map(|f| f.0)), seqs(&one), "{stretch}");
            assert_eq!(fault, one.1, "{stretch}");
        }
        // A clean journal in stretches; and `take` stops the reading when it says so.
        let clean: Vec<Vec<u8>> = text.iter().map(|l| l.clone().into_bytes()).collect();
        for stretch in [1, 3, 40] {
            let mut got: Vec<u64> = Vec::new();
            stretches(&view(&clean), &start, stretch, |_, (batches, f)| {
                assert!(f.is_none());
                got.extend(batches.iter().flat_map(|b| b.events.iter().map(|e| e.seq)));
                got.len() < 10
            });
            assert_eq!(
                got.len(),
                10_usize.next_multiple_of(stretch).min(40),
                "{stretch}"
            );
        }
    }
}
