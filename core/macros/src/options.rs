//! Parsing `#[asset(...)]`-style option lists and analysing the annotated function.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, FnArg, ItemFn, Lit, Meta, Pat, ReturnType, Token, Type};

/// The options of one attribute, in the order written.
pub(crate) struct Options {
    items: Vec<Meta>,
    allowed: &'static [&'static str],
    macro_name: &'static str,
}

impl Options {
    pub(crate) fn parse(
        attr: TokenStream,
        allowed: &'static [&'static str],
        macro_name: &'static str,
    ) -> syn::Result<Self> {
        let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
        let items: Vec<Meta> = syn::parse::Parser::parse2(parser, attr)?
            .into_iter()
            .collect();
        let mut seen: Vec<String> = Vec::new();
        for item in &items {
            let name = meta_name(item);
            if !allowed.contains(&name.as_str()) {
                let hint = allowed
                    .iter()
                    .filter(|a| strsim::jaro_winkler(a, &name) > 0.8)
                    .max_by(|a, b| {
                        strsim::jaro_winkler(a, &name).total_cmp(&strsim::jaro_winkler(b, &name))
                    })
                    .map(|a| format!("did you mean `{a}`? "))
                    .unwrap_or_default();
                return Err(syn::Error::new(
                    item.path().span(),
                    format!(
                        "unknown #[{macro_name}] option `{name}`; {hint}expected one of: {}",
                        allowed.join(", ")
                    ),
                ));
            }
            if seen.contains(&name) {
                return Err(syn::Error::new(
                    item.path().span(),
                    format!("#[{macro_name}] option `{name}` is given twice"),
                ));
            }
            seen.push(name);
        }
        Ok(Options {
            items,
            allowed,
            macro_name,
        })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Meta> {
        debug_assert!(self.allowed.contains(&name));
        self.items.iter().find(|m| meta_name(m) == name)
    }

    /// `name = "text"`.
    pub(crate) fn string(&self, name: &str) -> syn::Result<Option<(String, Span)>> {
        let Some(meta) = self.get(name) else {
            return Ok(None);
        };
        let expr = self.value(meta)?;
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok(Some((s.value(), s.span()))),
            other => Err(syn::Error::new(
                other.span(),
                format!(
                    "`{name}` takes a string: #[{}({name} = \"...\")]",
                    self.macro_name
                ),
            )),
        }
    }

    /// `name = ["a", "b"]` (a single string is accepted too).
    pub(crate) fn strings(&self, name: &str) -> syn::Result<Vec<(String, Span)>> {
        let Some(meta) = self.get(name) else {
            return Ok(Vec::new());
        };
        let expr = self.value(meta)?;
        let items: Vec<&Expr> = match expr {
            Expr::Array(a) => a.elems.iter().collect(),
            single @ Expr::Lit(_) => vec![single],
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    format!(
                        "`{name}` takes a list of strings: #[{}({name} = [\"a\", \"b\"])]",
                        self.macro_name
                    ),
                ));
            }
        };
        items
            .into_iter()
            .map(|e| match e {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Ok((s.value(), s.span())),
                other => Err(syn::Error::new(
                    other.span(),
                    format!("`{name}` takes strings, e.g. [\"a\", \"b\"]"),
                )),
            })
            .collect()
    }

    /// `name = expr`.
    pub(crate) fn expr(&self, name: &str) -> syn::Result<Option<&Expr>> {
        self.get(name).map(|m| self.value(m)).transpose()
    }

    /// `name(k = v, ...)`: the pairs.
    pub(crate) fn pairs(&self, name: &str) -> syn::Result<Vec<(String, Expr)>> {
        let Some(meta) = self.get(name) else {
            return Ok(Vec::new());
        };
        let Meta::List(list) = meta else {
            return Err(syn::Error::new(
                meta.span(),
                format!(
                    "`{name}` takes key = value pairs: #[{}({name}(key = \"value\"))]",
                    self.macro_name
                ),
            ));
        };
        let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
        let nested = list.parse_args_with(parser)?;
        nested
            .into_iter()
            .map(|m| match m {
                Meta::NameValue(nv) => {
                    let key = nv.path.to_token_stream().to_string().replace(' ', "");
                    Ok((key, nv.value))
                }
                other => Err(syn::Error::new(
                    other.span(),
                    format!("write `{name}(key = \"value\")`"),
                )),
            })
            .collect()
    }

    /// A bare flag (`blocking`) or `name = true|false`.
    pub(crate) fn flag(&self, name: &str) -> syn::Result<bool> {
        match self.get(name) {
            None => Ok(false),
            Some(Meta::Path(_)) => Ok(true),
            Some(Meta::NameValue(nv)) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(b), ..
                }) => Ok(b.value),
                other => Err(syn::Error::new(
                    other.span(),
                    format!("`{name}` is a flag: write `{name}` or `{name} = false`"),
                )),
            },
            Some(other) => Err(syn::Error::new(
                other.span(),
                format!("`{name}` is a flag: write `{name}`"),
            )),
        }
    }

    fn value<'m>(&self, meta: &'m Meta) -> syn::Result<&'m Expr> {
        match meta {
            Meta::NameValue(nv) => Ok(&nv.value),
            other => {
                let name = meta_name(other);
                Err(syn::Error::new(
                    other.span(),
                    format!("write `{name} = ...` in #[{}(...)]", self.macro_name),
                ))
            }
        }
    }
}

fn meta_name(meta: &Meta) -> String {
    meta.path().to_token_stream().to_string().replace(' ', "")
}

/// A key given as an identifier (`chunks`) or a string (`"raw/documents"`).
pub(crate) fn key_of(expr: &Expr, what: &str) -> syn::Result<String> {
    match expr {
        Expr::Path(p) if p.path.get_ident().is_some() => Ok(p
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            let key = s.value();
            validate_key(&key, s.span())?;
            Ok(key)
        }
        other => Err(syn::Error::new(
            other.span(),
            format!("{what} is an asset name (`chunks`) or a key path string (\"raw/documents\")"),
        )),
    }
}

pub(crate) fn validate_key(key: &str, span: Span) -> syn::Result<()> {
    let ok = !key.is_empty()
        && key
            .split('/')
            .all(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_'));
    if ok {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!("invalid asset key {key:?}: components of letters, digits and _, joined by /"),
        ))
    }
}

/// The doc comment of an item, trimmed, or `None`.
pub(crate) fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|l| l.strip_prefix(' ').unwrap_or(&l).to_owned())
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// One parameter of the function.
pub(crate) struct Param {
    pub(crate) name: syn::Ident,
    pub(crate) ty: Type,
}

/// The analysed signature: an optional leading context parameter, then data parameters.
pub(crate) struct Signature {
    pub(crate) has_ctx: bool,
    pub(crate) params: Vec<Param>,
    /// Whether the function returns a `Result` (otherwise its value is wrapped in `Ok`).
    pub(crate) returns_result: bool,
}

pub(crate) fn analyse(func: &ItemFn, macro_name: &str, context: &str) -> syn::Result<Signature> {
    let sig = &func.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            format!(
                "#[{macro_name}] functions cannot be generic: Stemma calls them with concrete types; \
                 write a concrete input type such as `Rows<MyRow>`"
            ),
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(
            v.span(),
            "variadic functions cannot be assets",
        ));
    }
    let mut has_ctx = false;
    let mut params = Vec::new();
    for (i, arg) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = arg else {
            return Err(syn::Error::new(
                arg.span(),
                format!("#[{macro_name}] goes on a free function, not a method: remove `self`"),
            ));
        };
        if is_context(&pt.ty) {
            if i != 0 {
                return Err(syn::Error::new(
                    pt.span(),
                    format!(
                        "the context must be the first parameter: `fn name(ctx: &{context}, ...)`"
                    ),
                ));
            }
            has_ctx = true;
            continue;
        }
        let Pat::Ident(pi) = &*pt.pat else {
            return Err(syn::Error::new(
                pt.pat.span(),
                "name this parameter plainly (`chunks: Rows<Chunk>`): the name is the upstream asset it reads",
            ));
        };
        if pi.by_ref.is_some() || pi.subpat.is_some() {
            return Err(syn::Error::new(
                pt.pat.span(),
                "name this parameter plainly (`chunks: Rows<Chunk>`)",
            ));
        }
        match &*pt.ty {
            Type::Reference(r) => {
                return Err(syn::Error::new(
                    r.span(),
                    format!(
                        "inputs are passed by value: write `{}: {}` instead of a reference",
                        pi.ident,
                        type_text(&r.elem)
                    ),
                ));
            }
            Type::ImplTrait(t) => {
                return Err(syn::Error::new(
                    t.span(),
                    "inputs need a concrete type such as `Rows<MyRow>`, `Table` or `Json<T>`",
                ));
            }
            _ => {}
        }
        params.push(Param {
            name: pi.ident.clone(),
            ty: (*pt.ty).clone(),
        });
    }
    let returns_result = match &sig.output {
        ReturnType::Default => false,
        ReturnType::Type(_, ty) => match &**ty {
            Type::Path(p) => p
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "Result" || s.ident == "AssetResult"),
            _ => false,
        },
    };
    Ok(Signature {
        has_ctx,
        params,
        returns_result,
    })
}

/// A type as a person writes it (`Json<Vec<String>>`, not `Json < Vec < String > >`).
fn type_text(ty: &Type) -> String {
    let mut text = ty.to_token_stream().to_string();
    for (from, to) in [
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        (" :: ", "::"),
        ("& ", "&"),
    ] {
        text = text.replace(from, to);
    }
    text
}

fn is_context(ty: &Type) -> bool {
    let inner = match ty {
        Type::Reference(r) => &*r.elem,
        other => other,
    };
    matches!(inner, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "AssetContext"))
}

/// The automatic code version: blake3 of the function's signature and body tokens (not its
/// attributes, so doc comments, tags and owners do not change it).
pub(crate) fn code_version(func: &ItemFn) -> String {
    let sig = &func.sig;
    let block = &func.block;
    let tokens = quote!(#sig #block).to_string();
    let mut h = blake3::Hasher::new();
    h.update(b"stemma.code.v1\0");
    h.update(tokens.as_bytes());
    h.finalize().to_hex()[..16].to_owned()
}

/// Attributes to keep on the inner body function: everything but doc comments.
pub(crate) fn passthrough_attrs(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs.iter().filter(|a| !a.path().is_ident("doc")).collect()
}
