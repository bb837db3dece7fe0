//! The lineage browser: the files under `ui/`, embedded in the binary at compile time (no
//! Node, no build step, nothing fetched at run time), served at `/ui/…`; every route of the
//! browser (`/`, `/assets/…`, `/runs/…`, `/schedules`) answers with its `index.html`.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "../ui"]
#[exclude = "README.md"]
pub struct Files;

/// What the pages may load: only this server (the UI works offline, and a page cannot be
/// made to talk to anything else).
const POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                      script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `index.html`, for every route of the browser.
pub async fn page(headers: HeaderMap) -> Response {
    file("index.html", &headers)
}

/// A file under `/ui/`.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    file(&path, &headers)
}

fn file(path: &str, headers: &HeaderMap) -> Response {
    let Some(found) = Files::get(path) else {
        return (StatusCode::NOT_FOUND, "no such file in the UI\n").into_response();
    };
    let etag = format!("\"{}\"", hex(&found.metadata.sha256_hash()[..12]));
    let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let common = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if headers.get(header::IF_NONE_MATCH) == Some(&etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(path)),
        )],
        found.data.into_owned(),
    )
        .into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
