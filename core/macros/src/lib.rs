//! `#[asset]` and `#[asset_check]`: turn a function into an asset or check definition.
//!
//! ```ignore
//! /// Chunks of every document, with overlap.
//! #[asset(group = "rag", kinds = ["parquet"])]
//! fn chunks(ctx: &AssetContext, raw_documents: Rows<Document>) -> AssetResult<Rows<Chunk>> {
//!     …
//! }
//! ```
//!
//! becomes `fn chunks() -> stemma::AssetDef`: the asset `chunks`, reading the asset
//! `raw_documents` (parameter names are data dependencies), described by the doc comment, with a
//! code version hashed from the function's own tokens — so editing the body changes it, and
//! editing the description or tags does not.

mod asset;
mod check;
mod options;
mod versions;

use proc_macro::TokenStream;

/// Declares a software-defined asset. See the crate documentation.
///
/// Options: `name`, `key_prefix`, `group`, `description`, `owners`, `tags(k = "v")`, `kinds`,
/// `code_version`, `deps`, `ins(param = "key/path")`, `io_manager`, `pool`, `partitions`,
/// `retry`, `timeout` (a `Duration`), `metadata(k = value)`, `volatile`.
#[proc_macro_attribute]
pub fn asset(attr: TokenStream, item: TokenStream) -> TokenStream {
    asset::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares a check on an asset: `#[asset_check(asset = embeddings, blocking)]`.
///
/// Options: `asset` (required), `name`, `description`, `blocking`.
#[proc_macro_attribute]
pub fn asset_check(attr: TokenStream, item: TokenStream) -> TokenStream {
    check::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
