//! Pages of lists, with opaque cursors: a client passes back the `next` it was given and
//! never builds one. Inside, a cursor is where the last page stopped (an asset key, an event
//! id, a run's start and id), so pages stay right while the list grows.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problem::ApiError;

/// Items per page unless `limit` says otherwise, and the most `limit` may say.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// `?cursor=&limit=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    /// Items per page (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

impl PageParams {
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::bad_request(format!(
                "limit {n}: give 1 to {MAX_LIMIT}"
            ))),
        }
    }

    /// Where the previous page stopped, if a cursor was given.
    pub fn after<T: DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        self.cursor.as_deref().map(decode).transpose()
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// `items` (one more than the limit was read, if there is more), and the cursor after the
    /// last kept item, made by `position`.
    pub fn of<P: Serialize>(mut items: Vec<T>, limit: usize, position: impl Fn(&T) -> P) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next = more
            .then(|| items.last().map(|last| encode(&position(last))))
            .flatten();
        Page { items, next }
    }
}

/// A position as a cursor: its JSON, as hex (opaque, and safe in a URL).
pub fn encode<P: Serialize>(position: &P) -> String {
    let json = serde_json::to_vec(position).unwrap_or_default();
    json.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode<T: DeserializeOwned>(cursor: &str) -> Result<T, ApiError> {
    let bad =
        || ApiError::bad_request("cursor: not one this server gave (pass `next` back as it is)");
    if !cursor.len().is_multiple_of(2) || !cursor.is_ascii() {
        return Err(bad());
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&cursor[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_comes_back_as_the_position_it_was_made_from() {
        let cursor = encode(&("2026-01-01", 42_i64));
        let params = PageParams {
            cursor: Some(cursor),
            limit: None,
        };
        assert_eq!(
            params.after::<(String, i64)>().unwrap(),
            Some(("2026-01-01".into(), 42))
        );
        for bad in ["zz", "abc", "7b"] {
            let params = PageParams {
                cursor: Some(bad.into()),
                limit: None,
            };
            assert_eq!(
                params
                    .after::<(String, i64)>()
                    .unwrap_err()
                    .problem()
                    .status,
                400
            );
        }
    }

    #[test]
    fn a_page_has_a_next_only_when_more_was_read() {
        let page = Page::of(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next, Some(encode(&2)));
        assert!(Page::of(vec![1, 2], 2, |n| *n).next.is_none());
    }
}
