//! Who may do what: bearer tokens with roles, the cross-site guard, and the access log.
//!
//! Tokens live in `stemma.toml` as hashes only (`assets token create --role R` prints a new one
//! once). With no tokens configured the server is open, which it allows only on a loopback
//! address (see [`check_bind`]). Whatever the tokens, a mutation whose request a browser
//! marked as cross-site is refused, so a page on the web cannot launch runs on a developer's
//! `localhost:3000`; and on loopback, a `Host` that is not loopback is refused, so a DNS
//! rebinding cannot make another site's page same-origin with the server.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::problem::ApiError;
pub use crate::project::tokens::{Role, TOKEN_PREFIX, TokenConfig, hash_token, new_token};

/// The tokens the server accepts.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    tokens: Vec<TokenConfig>,
}

/// Who made a request: a token's name, or `anonymous` on an open server.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

impl Tokens {
    pub fn new(tokens: Vec<TokenConfig>) -> Self {
        Tokens { tokens }
    }

    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The caller a request's `Authorization` header names.
    fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        if self.is_open() {
            return Ok(Caller {
                name: "anonymous".into(),
                role: Role::Admin,
            });
        }
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "this server needs a token: send `Authorization: Bearer <token>` \
                 (`assets token create --role viewer` makes one)",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        let hash = hash_token(token);
        self.tokens
            .iter()
            .find(|t| t.hash == hash)
            .map(|t| Caller {
                name: t.name.clone(),
                role: t.role,
            })
            .ok_or_else(|| ApiError::unauthorized("unknown token"))
    }
}

/// Refuses an open server on a non-loopback address, unless `insecure`.
pub fn check_bind(host: IpAddr, tokens: &Tokens, insecure: bool) -> stemma::Result<()> {
    if host.is_loopback() || !tokens.is_open() || insecure {
        return Ok(());
    }
    Err(stemma::Error::Config(format!(
        "refusing to serve on {host} with no tokens: anyone who can reach it could launch runs \
         and wipe assets. Create a token (`assets token create --role admin --name me`), bind \
         to 127.0.0.1, or pass --insecure if something in front of the server authenticates"
    )))
}

/// What the guard of a group of routes knows: the tokens, the role the routes need, and
/// whether the server listens on loopback only.
#[derive(Clone)]
pub struct Guard {
    pub tokens: Arc<Tokens>,
    pub role: Role,
    pub loopback: bool,
    pub metrics: Arc<super::metrics::Metrics>,
}

/// The middleware of every API route: host, cross-site and role checks, then the access log.
pub async fn guard(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let checked = check(&guard, request.headers(), &method);
    let (caller, response) = match checked {
        Ok(caller) => {
            request.extensions_mut().insert(caller.clone());
            (caller.name, next.run(request).await)
        }
        Err((who, e)) => (who, e.into_response()),
    };
    let elapsed = started.elapsed();
    guard.metrics.observe_request(elapsed);
    tracing::info!(
        target: "stemma_server::access",
        "{method} {path} {} {:.1}ms token={caller}",
        response.status().as_u16(),
        elapsed.as_secs_f64() * 1000.0,
    );
    response
}

/// The caller, or the refusal (with who was refused, for the log).
fn check(
    guard: &Guard,
    headers: &HeaderMap,
    method: &Method,
) -> Result<Caller, (String, ApiError)> {
    let refuse = |e: ApiError| ("-".to_owned(), e);
    if guard.loopback && !host_is_loopback(headers) {
        return Err(refuse(ApiError::forbidden(
            "this server listens on loopback only: the Host header must be localhost, \
             127.0.0.1 or [::1] (a DNS-rebound page is refused)",
        )));
    }
    let mutation = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if mutation && let Some(why) = cross_site(headers) {
        return Err(refuse(ApiError::forbidden(why)));
    }
    let caller = guard.tokens.caller(headers).map_err(refuse)?;
    if caller.role < guard.role {
        let name = caller.name.clone();
        return Err((
            name,
            ApiError::forbidden(format!(
                "token `{}` has the role {}; this needs {}",
                caller.name,
                caller.role.as_str(),
                guard.role.as_str()
            )),
        ));
    }
    Ok(caller)
}

/// Why a mutation looks like it came from another site's page, if it does. Browsers send
/// `Sec-Fetch-Site` (and `Origin` on POST); scripts and curl send neither and are not browsers
/// to be tricked.
fn cross_site(headers: &HeaderMap) -> Option<String> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Some(format!(
            "cross-site request refused (Sec-Fetch-Site: {site}): mutations must come from \
             this server's own pages or from a client that is not a browser"
        ));
    }
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok())?;
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    (origin == "null" || !origin_host.eq_ignore_ascii_case(host))
        .then(|| format!("cross-site request refused: Origin {origin} is not this server ({host})"))
}

/// Whether the `Host` header names a loopback address (or is absent: HTTP/1.0 clients).
fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_page_on_another_site_is_cross_site() {
        let evil = headers(&[
            ("origin", "https://evil.example"),
            ("host", "localhost:3000"),
        ]);
        assert!(cross_site(&evil).is_some());
        let fetch = headers(&[("sec-fetch-site", "cross-site"), ("host", "localhost:3000")]);
        assert!(cross_site(&fetch).is_some());
        let same = headers(&[
            ("origin", "http://localhost:3000"),
            ("host", "localhost:3000"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(cross_site(&same).is_none());
        assert!(cross_site(&headers(&[("host", "localhost:3000")])).is_none());
    }

    #[test]
    fn loopback_hosts() {
        for ok in ["localhost:3000", "127.0.0.1:80", "[::1]:3000", "127.0.0.1"] {
            let h = headers(&[("host", ok)]);
            assert!(host_is_loopback(&h), "{ok}");
        }
        for bad in ["evil.example:3000", "10.0.0.1:3000"] {
            let h = headers(&[("host", bad)]);
            assert!(!host_is_loopback(&h), "{bad}");
        }
    }

    #[test]
    fn tokens_are_stored_as_hashes_and_found_by_them() {
        let token = new_token();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() == 4 + 64);
        let tokens = Tokens::new(vec![TokenConfig {
            name: "ci".into(),
            role: Role::Operator,
            hash: hash_token(&token),
        }]);
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        let caller = tokens.caller(&h).unwrap();
        assert_eq!((caller.name.as_str(), caller.role), ("ci", Role::Operator));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer stm_x"),
        );
        assert_eq!(tokens.caller(&h).unwrap_err().problem().status, 401);
    }
}
