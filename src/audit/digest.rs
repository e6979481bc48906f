//! The primitives of the format's hashes and canonical text (format 2,
//! `docs/journal-format.md`): commitments, salts, the chain hash, and the writers of the
//! canonical JSON's pieces. Both the events ([`super::canonical`]) and the compact store
//! ([`super::store`]) write their canonical form with these.

use std::cell::RefCell;

use sha2::{Digest, Sha256};

use crate::time::Instant;

/// The commitment to one personal string, as bytes.
pub fn commit_bytes(salt: &[u8], path: &str, value: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"accessgraph/commit/v2\0")
        .chain_update(salt)
        .chain_update(path.as_bytes())
        .chain_update([0_u8])
        .chain_update(value.as_bytes())
        .finalize()
        .into()
}

/// The salt of the personal field at `path` of an event with `seed`.
pub fn derive_salt(seed: &[u8; 16], path: &str) -> [u8; 16] {
    let digest = Sha256::new()
        .chain_update(b"accessgraph/salt/v2\0")
        .chain_update(seed)
        .chain_update(path.as_bytes())
        .finalize();
    let mut salt = [0_u8; 16];
    salt.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    salt
}

/// `hash` of an event whose canonical form is `canonical`, chained after `prev_hash`
/// (hex text).
pub fn chain_hash(prev_hash: &[u8], canonical: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"accessgraph/event/v2\n")
        .chain_update(prev_hash)
        .chain_update(b"\n")
        .chain_update(canonical)
        .finalize()
        .into()
}

/// True for a detail key whose strings a built-in event commits (one of
/// [`super::personal::PERSONAL_KEYS`]; a `match` rather than a scan of the list, since it
/// is asked of every detail key an event is hashed with — tested to agree with the list).
pub fn is_personal_key(key: &str) -> bool {
    matches!(
        key,
        "user"
            | "name"
            | "title"
            | "reason"
            | "owner"
            | "to"
            | "transfer_to"
            | "label"
            | "email"
            | "decision_reason"
            | "reviewer"
    )
}

/// Appends `/` and one JSON Pointer token (`~` → `~0`, `/` → `~1`) to `path`.
pub fn push_token(path: &mut String, key: &str) {
    path.push('/');
    if key.contains(['~', '/']) {
        for ch in key.chars() {
            match ch {
                '~' => path.push_str("~0"),
                '/' => path.push_str("~1"),
                c => path.push(c),
            }
        }
    } else {
        path.push_str(key);
    }
}

/// Appends `/` and an array index to `path`.
pub fn push_index(path: &mut String, i: u64) {
    use std::fmt::Write as _;
    let _ = write!(path, "/{i}");
}

/// True when `s` is its own JSON text between quotes: `serde_json` escapes only `"`, `\\`
/// and the control characters below U+0020, and `s` has none of them (nearly every
/// email, target and role).
#[inline]
pub fn is_plain(s: &str) -> bool {
    !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Writes `s` as a JSON string, the way `serde_json` does.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // A plain string is copied as it is.
    if is_plain(s) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Writes `"#<hex commitment>"`.
pub fn push_commitment(out: &mut Vec<u8>, c: &[u8; 32]) {
    out.extend_from_slice(b"\"#");
    push_hex(out, c);
    out.push(b'"');
}

thread_local! {
    /// The last instant written and its text: events come in runs of the same instant.
    static LAST_ISO: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
}

/// Writes an instant as the JSON string of its canonical text.
pub fn push_iso(out: &mut Vec<u8>, at: Instant) {
    LAST_ISO.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != at.0 || last.1.is_empty() {
            *last = (at.0, at.to_iso());
        }
        push_json_str(out, &last.1);
    });
}

/// Appends the lower-case hex of `bytes` to `out`.
pub fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    // const-hex encodes with SSSE3/AVX2 where the CPU has them (detected once): a 32-byte
    // hash in a few shuffles instead of 32 table lookups spilled to the stack (250k
    // hashes: 1.6 ms against 5.6 ms). Written on the stack 32 bytes at a time, then
    // appended at once.
    for chunk in bytes.chunks(32) {
        let mut text = [0_u8; 64];
        let digits = text.get_mut(..chunk.len() * 2).unwrap_or_default();
        // The output is exactly twice the input: encoding cannot fail.
        if const_hex::encode_to_slice(chunk, &mut *digits).is_ok() {
            out.extend_from_slice(digits);
        }
    }
}

/// Each byte's value as a hex digit, either case; `0xff` for a byte that is none.
#[expect(
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "a const loop over 0..256 filling a 256-entry table"
)]
const HEX_VALUE: [u8; 256] = {
    let mut table = [0xff_u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'f' => c - b'a' + 10,
            c @ b'A'..=b'F' => c - b'A' + 10,
            _ => 0xff,
        };
        b += 1;
    }
    table
};

/// The `N` bytes of `2 * N` hex digits (either case, as `hex::decode_to_slice` reads
/// them), or `None` when `text` is not that.
pub fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    // A table lookup a digit and one test at the end: a branch on each digit's class
    // mispredicted often enough to be most of `EventStore::push`'s own time.
    let mut out = [0_u8; N];
    let mut bad = 0_u8;
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        if let [high, low] = pair {
            // Both indexes are below 256: the checks compile away.
            let value = |d: u8| HEX_VALUE.get(usize::from(d)).copied().unwrap_or(0xff);
            let (h, l) = (value(*high), value(*low));
            bad |= h | l;
            *byte = (h << 4) | (l & 0xf);
        }
    }
    (bad & 0xf0 == 0).then_some(out)
}

/// The `N` bytes of exactly `2 * N` lower-case hex digits, or `None`: what a salt, seed
/// or commitment must be.
pub fn decode_lower_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    decode_hex(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_written_as_serde_json_writes_them() {
        let mut all = String::new();
        for c in (0_u32..=255).filter_map(char::from_u32) {
            all.push(c);
            let alone = c.to_string();
            for s in [alone.as_str(), &format!("a{c}b"), &format!("{c}{c}")] {
                let mut out = b"x".to_vec();
                push_json_str(&mut out, s);
                let want = serde_json::to_string(s).unwrap_or_default();
                assert_eq!(out, format!("x{want}").as_bytes(), "{c:?}");
            }
        }
        for s in [
            all.as_str(),
            "",
            "jane@example.com",
            "é ü \u{2028} \u{1f600}",
        ] {
            let mut out = Vec::new();
            push_json_str(&mut out, s);
            assert_eq!(Some(out), serde_json::to_vec(s).ok());
        }
    }

    #[test]
    fn hex_decoding_agrees_with_the_hex_crate() {
        let mut cases: Vec<String> = vec![
            String::new(),
            "00".repeat(16),
            "ff".repeat(16),
            "FF".repeat(16),
            "aB".repeat(16),
            "0g".repeat(16),
            "0".repeat(31),
            "0".repeat(33),
            "é".repeat(16),
            format!("{}zz", "0".repeat(30)),
        ];
        let mut x: u32 = 7;
        for _ in 0..2000 {
            let s: String = (0..32)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    char::from(
                        b"0123456789abcdefABCDEFxg-"
                            .get((x >> 16) as usize % 25)
                            .copied()
                            .unwrap_or(b'0'),
                    )
                })
                .collect();
            cases.push(s);
        }
        for s in &cases {
            let mut want = [0_u8; 16];
            let want = hex::decode_to_slice(s, &mut want).ok().map(|()| want);
            assert_eq!(decode_hex::<16>(s), want, "{s:?}");
            let lower = want.filter(|_| !s.bytes().any(|b| b.is_ascii_uppercase()));
            assert_eq!(decode_lower_hex::<16>(s), lower, "{s:?}");
        }
        let bytes: Vec<u8> = (0..=255_u8).collect();
        for chunk in bytes.chunks_exact(32) {
            let text = hex::encode(chunk);
            assert_eq!(
                decode_hex::<32>(&text).map(|b| b.to_vec()),
                Some(chunk.to_vec())
            );
        }
    }

    #[test]
    fn hex_is_lower_case() {
        let mut out = Vec::new();
        push_hex(&mut out, &[0x00, 0xab, 0x7f]);
        assert_eq!(out, b"00ab7f");
        // Longer than one stack chunk (32 bytes), appended after what is there.
        let bytes: Vec<u8> = (0..=80_u8).map(|b| b.wrapping_mul(37)).collect();
        push_hex(&mut out, &bytes);
        assert_eq!(out, format!("00ab7f{}", hex::encode(&bytes)).as_bytes());
        // Every byte value, at every length up to three chunks and a half.
        let all: Vec<u8> = (0..=255_u8).rev().chain(0..=255).collect();
        for n in 0..=112 {
            let part = all.get(..n).unwrap_or_default();
            let mut out = Vec::new();
            push_hex(&mut out, part);
            assert_eq!(out, hex::encode(part).as_bytes(), "{n} bytes");
        }
        let mut out = Vec::new();
        push_hex(&mut out, &all);
        assert_eq!(out, hex::encode(&all).as_bytes());
    }
}
