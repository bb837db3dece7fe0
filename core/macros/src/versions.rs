//! Code versions from the build-time analysis (`stemma-build`), when the code location's
//! `build.rs` runs it: the compiler then has `STEMMA_CODE_VERSIONS`, the path of a table of
//! every asset's and check's closure version and per-item hashes, which the macros look their
//! function up in. Without it (or for a function the table does not have), code versions cover
//! the function's own tokens, as they always did.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One function's entry in the table.
pub(crate) struct Closure {
    pub(crate) code_version: String,
    /// Item label → hash (a crate's version for `crate …`).
    pub(crate) items: BTreeMap<String, String>,
}

/// What the table says of a function.
pub(crate) enum Lookup {
    /// No build step: body-only versions.
    NoTable,
    Found(Closure),
}

struct Entry {
    function: String,
    file: PathBuf,
    closure: Closure,
}

fn table() -> Option<&'static [Entry]> {
    static TABLE: OnceLock<Option<Vec<Entry>>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let path = std::env::var_os("STEMMA_CODE_VERSIONS")?;
            let text = std::fs::read_to_string(path).ok()?;
            let json: serde_json::Value = serde_json::from_str(&text).ok()?;
            let roots = json.get("roots")?.as_array()?;
            Some(
                roots
                    .iter()
                    .filter_map(|r| {
                        Some(Entry {
                            function: r.get("function")?.as_str()?.to_owned(),
                            file: PathBuf::from(r.get("file")?.as_str()?),
                            closure: Closure {
                                code_version: r.get("code_version")?.as_str()?.to_owned(),
                                items: r
                                    .get("items")?
                                    .as_object()?
                                    .iter()
                                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                                    .collect(),
                            },
                        })
                    })
                    .collect(),
            )
        })
        .as_deref()
}

/// The analysis's closure version of function `name` (whose name token is `span`).
pub(crate) fn lookup(name: &syn::Ident) -> Lookup {
    let Some(table) = table() else {
        return Lookup::NoTable;
    };
    let file = name
        .span()
        .unwrap()
        .local_file()
        .and_then(|f| f.canonicalize().ok());
    let function = name.to_string();
    let mut matches = table.iter().filter(|e| e.function == function);
    let found = match &file {
        Some(f) => table
            .iter()
            .find(|e| e.function == function && &e.file == f),
        // Where the compiler cannot say the file, a name the table has once will do.
        None => matches.next().filter(|_| matches.next().is_none()),
    };
    match found {
        Some(e) => Lookup::Found(Closure {
            code_version: e.closure.code_version.clone(),
            items: e.closure.items.clone(),
        }),
        // A function the analysis did not see (made by another macro): its body only.
        None => Lookup::NoTable,
    }
}
