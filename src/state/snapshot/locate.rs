//! The JSON path (`$.grants[3].role`) of the place a parse error was raised.

use std::fmt::Write as _;

use crate::error::JsonPathError;

// ---------------------------------------------------------------------------------------
// Error paths

/// A `serde_json` error with the JSON path of the place it was raised.
pub(super) fn located(text: &str, e: &serde_json::Error) -> JsonPathError {
    let offset = byte_offset(text, e.line(), e.column());
    let frames = frames_at(text, offset);
    let mut message = e.to_string();
    if e.is_data() {
        // The path says where; drop serde_json's " at line L column C".
        if let Some(cut) = message.rfind(" at line ") {
            message.truncate(cut);
        }
    }
    JsonPathError::new(render(&frames), message)
}

/// The byte offset of `serde_json`'s 1-based line and 0-based byte column.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column).min(text.len())
}

/// Where the parser is inside the document: the open containers, each with the key or
/// index being read.
#[derive(Debug)]
enum Frame {
    Obj(Option<String>),
    Arr(usize),
}

fn frames_at(text: &str, end: usize) -> Vec<Frame> {
    let bytes = text.as_bytes();
    let end = end.min(bytes.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < end {
        let Some(&c) = bytes.get(i) else { break };
        match c {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while let Some(&b) = bytes.get(j) {
                    match b {
                        b'\\' => j += 2,
                        b'"' => break,
                        _ => j += 1,
                    }
                }
                if expect_key {
                    if let Some(Frame::Obj(key)) = stack.last_mut() {
                        *key = Some(
                            serde_json::from_str::<String>(text.get(i..=j).unwrap_or_default())
                                .unwrap_or_else(|_| {
                                    text.get(start..j).unwrap_or_default().to_owned()
                                }),
                        );
                    }
                    expect_key = false;
                }
                i = j + 1;
                continue;
            }
            b'{' => {
                stack.push(Frame::Obj(None));
                expect_key = true;
            }
            b'[' => {
                stack.push(Frame::Arr(0));
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => match stack.last_mut() {
                Some(Frame::Obj(key)) => {
                    *key = None;
                    expect_key = true;
                }
                Some(Frame::Arr(n)) => *n += 1,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    stack
}

fn render(frames: &[Frame]) -> String {
    let mut out = String::from("$");
    for f in frames {
        match f {
            Frame::Arr(n) => {
                let _ = write!(out, "[{n}]");
            }
            Frame::Obj(Some(key)) => {
                let plain = key
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if plain {
                    out.push('.');
                    out.push_str(key);
                } else {
                    let quoted = serde_json::to_string(key).unwrap_or_default();
                    let _ = write!(out, "[{quoted}]");
                }
            }
            Frame::Obj(None) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_parser() {
        let text = r#"{"a": [1, {"b c": 2, "d": [3, 4]}], "e": {}}"#;
        let at = |needle: &str| {
            render(&frames_at(
                text,
                text.find(needle).unwrap_or(0) + needle.len(),
            ))
        };
        assert_eq!(at("[1"), "$.a[0]");
        assert_eq!(at("\"b c\""), "$.a[1][\"b c\"]");
        assert_eq!(at("[3, 4"), "$.a[1].d[1]");
        assert_eq!(at("\"e\""), "$.e");
        assert_eq!(render(&frames_at(text, text.len())), "$");
    }
}
