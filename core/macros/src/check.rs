//! `#[asset_check]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ItemFn;

use crate::options::{Options, analyse, doc_comment, key_of, passthrough_attrs};

const OPTIONS: &[&str] = &["asset", "name", "description", "blocking"];

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let func: ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[asset_check] goes on a function: `#[asset_check(asset = name)] fn check(...) -> CheckResult { ... }`",
        )
    })?;
    let opts = Options::parse(attr, OPTIONS, "asset_check")?;
    let Some(asset) = opts.expr("asset")? else {
        return Err(syn::Error::new(
            func.sig.ident.span(),
            "#[asset_check] needs the asset it checks: #[asset_check(asset = embeddings)]",
        ));
    };
    let asset = key_of(asset, "`asset`")?;
    let asset_name = asset.rsplit('/').next().unwrap_or(&asset).to_owned();
    let sig = analyse(&func, "asset_check", "AssetContext")?;
    if sig.params.len() > 1 {
        return Err(syn::Error::new(
            sig.params[1].name.span(),
            format!("a check reads only the asset it checks: keep one parameter, `{asset_name}`"),
        ));
    }
    if let Some(p) = sig.params.first()
        && p.name != asset_name
    {
        return Err(syn::Error::new(
            p.name.span(),
            format!(
                "a check's parameter is the asset it checks: name it `{asset_name}` (not `{}`)",
                p.name
            ),
        ));
    }
    let fn_name = &func.sig.ident;
    let name = match opts.string("name")? {
        Some((n, _)) => n,
        None => fn_name.to_string(),
    };
    let mut builder = quote!(::stemma::CheckDef::builder(#name, #asset));
    let description = match opts.string("description")? {
        Some((d, _)) => Some(d),
        None => doc_comment(&func.attrs),
    };
    if let Some(d) = description {
        builder = quote!(#builder.description(#d));
    }
    if opts.flag("blocking")? {
        builder = quote!(#builder.blocking(true));
    }
    // The check's version: its closure with the build step, else its own tokens.
    let version = match crate::versions::lookup(&func.sig.ident) {
        crate::versions::Lookup::Found(c) => c.code_version,
        crate::versions::Lookup::NoTable => crate::options::code_version(&func),
    };
    builder = quote!(#builder.code_version(#version));

    let attrs = passthrough_attrs(&func.attrs);
    let asyncness = &func.sig.asyncness;
    let inputs = &func.sig.inputs;
    let output = &func.sig.output;
    let block = &func.block;
    let body_fn = format_ident!("__stemma_check_{}", fn_name);
    let reads_asset = !sig.params.is_empty();
    let load = sig.params.first().map(|p| {
        let ty = &p.ty;
        quote! {
            let __value = match __inputs.at::<#ty>(0) {
                ::std::result::Result::Ok(v) => v,
                ::std::result::Result::Err(e) => {
                    return ::std::result::Result::Err(::std::boxed::Box::new(e) as ::stemma::BoxError)
                }
            };
        }
    });
    let ctx_arg = sig.has_ctx.then(|| quote!(&__ctx,));
    let value_arg = reads_asset.then(|| quote!(__value));
    let call = quote!(#body_fn(#ctx_arg #value_arg));
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
    let run = if asyncness.is_some() {
        quote! {
            .run(#reads_asset, |__ctx: ::stemma::AssetContext, __inputs: ::stemma::Inputs| async move {
                #load
                ::stemma::__private::IntoOutput::<::stemma::CheckResult>::into_output(#wrapped)
            })
        }
    } else {
        quote! {
            .run_blocking(#reads_asset, |__ctx: &::stemma::AssetContext, __inputs: ::stemma::Inputs|
                -> ::std::result::Result<::stemma::CheckResult, ::stemma::BoxError> {
                #load
                ::stemma::__private::IntoOutput::<::stemma::CheckResult>::into_output(#wrapped)
            })
        }
    };
    let vis = &func.vis;
    let span = fn_name.span();
    Ok(quote::quote_spanned! {span=>
        #[doc = concat!("The check `", #name, "` on `", #asset, "` (defined with `#[asset_check]`).")]
        #vis fn #fn_name() -> ::stemma::CheckDef {
            #(#attrs)*
            #[allow(clippy::needless_pass_by_value, clippy::unnecessary_wraps)]
            #asyncness fn #body_fn(#inputs) #output #block
            #builder #run .build()
        }
    })
}
