//! Tokens for `assets serve`, as `stemma.toml` keeps them: a name, a role, and the hash of the
//! token (never the token itself).
//!
//! ```toml
//! [[server.tokens]]
//! name = "ci"
//! role = "operator"          # viewer < operator < admin
//! hash = "blake3:…"          # `assets token create --role operator --name ci` adds this
//! ```

use serde::{Deserialize, Serialize};

/// What a token may do; each role may do what the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Launches, cancels and resumes runs and backfills; reports external events.
    Operator,
    /// Wipes, sets pools, adds and removes dynamic partitions, starts and stops schedules.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// One token as `stemma.toml` keeps it (`[[server.tokens]]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who or what holds it: the name the access log shows.
    pub name: String,
    pub role: Role,
    /// `blake3:` and the hex digest of the token.
    pub hash: String,
}

/// The prefix of every token Stemma makes (so a leaked one is recognisable in logs and scans).
pub const TOKEN_PREFIX: &str = "stm_";

/// A new random token: `stm_` and 256 bits from the OS's generator, as hex.
pub fn new_token() -> String {
    let mut bytes = Vec::with_capacity(32);
    // Two v4 UUIDs are 244 random bits from the OS; hashing them with a third fills 256.
    let seed = [
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    ];
    for u in seed {
        bytes.extend_from_slice(u.as_bytes());
    }
    format!("{TOKEN_PREFIX}{}", blake3::hash(&bytes).to_hex())
}

/// How a token is stored: `blake3:<hex>`.
pub fn hash_token(token: &str) -> String {
    format!("blake3:{}", blake3::hash(token.as_bytes()).to_hex())
}
