//! `#[asset]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Expr, ItemFn};

use crate::options::{
    Options, analyse, code_version, doc_comment, key_of, passthrough_attrs, validate_key,
};

const OPTIONS: &[&str] = &[
    "name",
    "key_prefix",
    "group",
    "description",
    "owners",
    "tags",
    "kinds",
    "code_version",
    "deps",
    "ins",
    "io_manager",
    "pool",
    "partitions",
    "retry",
    "timeout",
    "metadata",
    "volatile",
];

/// Dagster's limit, checked at compile time so the error points at the attribute.
const MAX_KINDS: usize = 10;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let func: ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[asset] goes on a function: `#[asset] fn name(...) -> ... { ... }`",
        )
    })?;
    let opts = Options::parse(attr, OPTIONS, "asset")?;
    let sig = analyse(&func, "asset", "AssetContext")?;

    let fn_name = &func.sig.ident;
    let vis = &func.vis;
    let name = match opts.string("name")? {
        Some((n, span)) => {
            validate_key(&n, span)?;
            if n.contains('/') {
                return Err(syn::Error::new(
                    span,
                    "`name` is one key component; put the rest in `key_prefix`",
                ));
            }
            n
        }
        None => fn_name.to_string(),
    };

    let mut builder = quote!(::stemma::AssetDef::builder(#name));
    let prefix = opts.strings("key_prefix")?;
    for (p, span) in &prefix {
        validate_key(p, *span)?;
    }
    if !prefix.is_empty() {
        let parts: Vec<String> = prefix
            .iter()
            .flat_map(|(p, _)| p.split('/').map(str::to_owned).collect::<Vec<_>>())
            .collect();
        builder = quote!(#builder.key_prefix([#(#parts),*]));
    }
    let description = match opts.string("description")? {
        Some((d, _)) => Some(d),
        None => doc_comment(&func.attrs),
    };
    if let Some(d) = description {
        builder = quote!(#builder.description(#d));
    }
    if let Some((g, span)) = opts.string("group")? {
        if g.is_empty() || !g.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(syn::Error::new(
                span,
                "a group name is letters, digits and _",
            ));
        }
        builder = quote!(#builder.group(#g));
    }
    for (owner, _) in opts.strings("owners")? {
        builder = quote!(#builder.owner(#owner));
    }
    for (k, v) in opts.pairs("tags")? {
        builder = quote!(#builder.tag(#k, #v));
    }
    let kinds = opts.strings("kinds")?;
    if kinds.len() > MAX_KINDS {
        return Err(syn::Error::new(
            kinds[MAX_KINDS].1,
            format!(
                "an asset has at most {MAX_KINDS} kinds; this one lists {}",
                kinds.len()
            ),
        ));
    }
    for (kind, _) in &kinds {
        builder = quote!(#builder.kind(#kind));
    }
    builder = match opts.string("code_version")? {
        Some((v, _)) => quote!(#builder.code_version(#v)),
        None => match crate::versions::lookup(&func.sig.ident) {
            crate::versions::Lookup::Found(c) => {
                let version = c.code_version;
                let (labels, hashes): (Vec<String>, Vec<String>) = c.items.into_iter().unzip();
                quote!(#builder.code_closure(#version, [#((#labels, #hashes)),*]))
            }
            crate::versions::Lookup::NoTable => {
                let version = code_version(&func);
                quote!(#builder.code_version_of_body(#version))
            }
        },
    };

    // Data dependencies: one per parameter, named by the parameter unless `ins` maps it.
    let ins = opts.pairs("ins")?;
    for (param, _) in &ins {
        if !sig.params.iter().any(|p| p.name == param) {
            return Err(syn::Error::new(
                opts.get("ins")
                    .map_or_else(proc_macro2::Span::call_site, |m| m.span()),
                format!("`ins` maps `{param}`, but the function has no parameter of that name"),
            ));
        }
    }
    for p in &sig.params {
        let key = match ins.iter().find(|(k, _)| p.name == k) {
            Some((_, e)) => key_of(e, "an `ins` value")?,
            None => p.name.to_string(),
        };
        builder = quote!(#builder.input(#key));
    }
    if let Some(deps) = opts.expr("deps")? {
        let items: Vec<&Expr> = match deps {
            Expr::Array(a) => a.elems.iter().collect(),
            other => vec![other],
        };
        for d in items {
            let key = key_of(d, "a `deps` entry")?;
            builder = quote!(#builder.dep(#key));
        }
    }
    if let Some((io, _)) = opts.string("io_manager")? {
        builder = quote!(#builder.io_manager(#io));
    }
    if let Some((pool, _)) = opts.string("pool")? {
        builder = quote!(#builder.pool(#pool));
    }
    if let Some(p) = opts.expr("partitions")? {
        builder = quote!(#builder.partitions(#p));
    }
    if let Some(r) = opts.expr("retry")? {
        builder = quote!(#builder.retry(#r));
    }
    if let Some(t) = opts.expr("timeout")? {
        builder = quote!(#builder.timeout(#t));
    }
    for (k, v) in opts.pairs("metadata")? {
        builder = quote!(#builder.metadata(#k, #v));
    }
    if opts.flag("volatile")? {
        builder = quote!(#builder.volatile(true));
    }

    // The body, kept as written in an inner function.
    let attrs = passthrough_attrs(&func.attrs);
    let asyncness = &func.sig.asyncness;
    let inputs = &func.sig.inputs;
    let output = &func.sig.output;
    let block = &func.block;
    let body_fn = format_ident!("__stemma_{}", fn_name);
    let vars: Vec<syn::Ident> = (0..sig.params.len())
        .map(|i| format_ident!("__input{}", i))
        .collect();
    let loads = sig.params.iter().enumerate().map(|(i, p)| {
        let ty = &p.ty;
        let var = &vars[i];
        quote! {
            let #var = match __inputs.at::<#ty>(#i) {
                ::std::result::Result::Ok(v) => v,
                ::std::result::Result::Err(e) => {
                    return ::std::result::Result::Err(::std::boxed::Box::new(e) as ::stemma::BoxError)
                }
            };
        }
    });
    let ctx_arg = sig.has_ctx.then(|| quote!(&__ctx,));
    let call = quote!(#body_fn(#ctx_arg #(#vars),*));
    let call = if asyncness.is_some() {
        quote!(#call.await)
    } else {
        call
    };
    let wrapped = if sig.returns_result {
        call
    } else {
        quote!(::stemma::__private::ok(#call))
    };
    let compute = if asyncness.is_some() {
        quote! {
            .compute(|__ctx: ::stemma::AssetContext, __inputs: ::stemma::Inputs| async move {
                #(#loads)*
                ::stemma::__private::IntoOutput::<::stemma::Value>::into_output(#wrapped)
            })
        }
    } else {
        quote! {
            .compute_blocking(|__ctx: &::stemma::AssetContext, __inputs: ::stemma::Inputs|
                -> ::std::result::Result<::stemma::Value, ::stemma::BoxError> {
                #(#loads)*
                ::stemma::__private::IntoOutput::<::stemma::Value>::into_output(#wrapped)
            })
        }
    };
    let fn_span = func.sig.ident.span();
    Ok(quote::quote_spanned! {fn_span=>
        #[doc = concat!("The asset `", #name, "` (defined with `#[asset]`).")]
        #vis fn #fn_name() -> ::stemma::AssetDef {
            #(#attrs)*
            #[allow(clippy::needless_pass_by_value, clippy::unnecessary_wraps)]
            #asyncness fn #body_fn(#inputs) #output #block
            #builder #compute .build()
        }
    })
}
