//! PostHog's listings — a page `{"count", "next", "previous", "results"}`, a list of
//! pages, or a bare list — and what their envelopes say about completeness: a `next` page
//! that was not given, a `count` that disagrees with what was read.

use serde_json::Value;

use super::report::Notes;
use crate::error::JsonPathError;

/// One item of a listing and its JSON path.
pub(super) struct Item<'v> {
    /// `$.results[3]`, `$[1].results[0]`, `$[4]` …
    pub path: String,
    /// The item.
    pub value: &'v Value,
}

/// The items of a listing and what its pages say about the whole.
pub(super) struct Listing<'v> {
    /// Every item of every page, in order.
    pub items: Vec<Item<'v>>,
    /// The largest `count` a page gives, and its path.
    count: Option<(u64, String)>,
    /// The `next` of the last page given when it is set: `(url, path)`.
    unfollowed: Option<(String, String)>,
}

/// The items of `value`, a page, a list of pages or a bare list of `what`.
pub(super) fn listing<'v>(
    value: &'v Value,
    path: &str,
    what: &str,
) -> Result<Listing<'v>, JsonPathError> {
    let mut out = Listing {
        items: Vec::new(),
        count: None,
        unfollowed: None,
    };
    match value {
        Value::Object(_) => page(&mut out, value, path, what)?,
        Value::Array(items)
            if !items.is_empty() && items.iter().all(|v| v.get("results").is_some()) =>
        {
            for (i, p) in items.iter().enumerate() {
                page(&mut out, p, &format!("{path}[{i}]"), what)?;
            }
        }
        Value::Array(items) => {
            out.items = items
                .iter()
                .enumerate()
                .map(|(i, value)| Item {
                    path: format!("{path}[{i}]"),
                    value,
                })
                .collect();
        }
        _ => {
            return Err(JsonPathError::new(
                path,
                format!("expected a page of {what} (`{{\"count\", \"next\", \"results\"}}`), a list of pages or a list of {what}"),
            ))
        }
    }
    Ok(out)
}

fn page<'v>(
    out: &mut Listing<'v>,
    value: &'v Value,
    path: &str,
    what: &str,
) -> Result<(), JsonPathError> {
    let items = match value.get("results") {
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(JsonPathError::new(
                format!("{path}.results"),
                format!("expected a list of {what}"),
            ))
        }
        None => {
            return Err(JsonPathError::new(
                path,
                format!("expected a page with `results`, a list of pages or a list of {what}"),
            ))
        }
    };
    out.items
        .extend(items.iter().enumerate().map(|(i, value)| Item {
            path: format!("{path}.results[{i}]"),
            value,
        }));
    match value.get("count") {
        None | Some(Value::Null) => {}
        Some(c) => {
            let Some(c) = c.as_u64() else {
                return Err(JsonPathError::new(
                    format!("{path}.count"),
                    "expected a whole number",
                ));
            };
            if out.count.as_ref().is_none_or(|(seen, _)| c > *seen) {
                out.count = Some((c, format!("{path}.count")));
            }
        }
    }
    // Only the last page given may leave its `next` unfollowed.
    out.unfollowed = match value.get("next") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) => Some((url.clone(), format!("{path}.next"))),
        Some(_) => {
            return Err(JsonPathError::new(
                format!("{path}.next"),
                "expected the URL of the next page or null",
            ))
        }
    };
    Ok(())
}

impl Listing<'_> {
    /// Notes (or, strict, an error) when the pages say that `read` distinct `what` are
    /// not all there is.
    pub(super) fn check_complete(
        &self,
        read: usize,
        what: &str,
        source: &'static str,
        notes: &mut Notes,
    ) -> Result<(), JsonPathError> {
        if let Some((url, path)) = &self.unfollowed {
            let of = self
                .count
                .as_ref()
                .map(|(c, _)| format!(" ({read} of {c} read)"))
                .unwrap_or_default();
            notes.incomplete(
                path,
                None,
                format!(
                    "the listing goes on at `next` = `{}`, a page that was not given: {what} are missing{of}",
                    url.escape_debug()
                ),
                source,
            )?;
        }
        if let Some((count, path)) = &self.count {
            if u64::try_from(read).ok() != Some(*count) {
                notes.incomplete(
                    path,
                    None,
                    format!("`count` says {count} {what} but {read} distinct ones were read ({read} of {count})"),
                    source,
                )?;
            }
        }
        Ok(())
    }
}
