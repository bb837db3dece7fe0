//! `assets serve` (the HTTP API with the daemon in-process) and `assets token`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;
use stemma::{Engine, Error};

use super::CliResult;
use super::args::TokenCommand;
use super::printer::Printer;
use crate::http::auth::{Role, Tokens, hash_token, new_token};
use crate::http::launch::ChildCommand;
use crate::http::{ServeOptions, serve as serve_http};

/// What `serve`'s flags ask.
pub(crate) struct Options {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) daemon: bool,
    pub(crate) daemon_interval: std::time::Duration,
    pub(crate) insecure: bool,
    pub(crate) read_threads: Option<usize>,
}

/// The global arguments a child run process is given again: the instance, the project, the
/// storage and the config this process was started with.
pub(crate) fn child_globals(
    home: &Path,
    project: &Option<PathBuf>,
    storage: &Option<String>,
    config: &[String],
) -> Vec<OsString> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut args: Vec<OsString> = vec!["--home".into(), absolute(home).into()];
    if let Some(p) = project {
        args.extend(["--project".into(), absolute(p).into()]);
    }
    if let Some(s) = storage {
        args.extend(["--storage".into(), s.into()]);
    }
    for c in config {
        args.push(format!("--config={c}").into());
    }
    args
}

pub(crate) async fn serve(
    engine: &Engine,
    project: &crate::ProjectConfig,
    options: Options,
    global: Vec<OsString>,
) -> CliResult {
    let options = ServeOptions {
        addr: options.addr,
        tokens: Tokens::new(project.server.tokens.clone()),
        insecure: options.insecure,
        daemon: options.daemon,
        daemon_interval: options.daemon_interval,
        feed_interval: std::time::Duration::from_millis(10),
        read_threads: options.read_threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
        }),
        child: ChildCommand::this_binary(global)?,
    };
    serve_http(engine.clone(), options).await?;
    Ok(ExitCode::SUCCESS)
}

/// `assets token create|list`.
pub(crate) fn token(command: TokenCommand, project: Option<&Path>, printer: Printer) -> CliResult {
    let path = project_file(project);
    match command {
        TokenCommand::Create { role, name } => {
            let role = Role::parse(&role).ok_or_else(|| {
                Error::Config(format!("role {role:?}: viewer, operator or admin"))
            })?;
            let config = crate::ProjectConfig::load(Some(&path)).or_else(|e| {
                if path.exists() {
                    Err(e)
                } else {
                    Ok(crate::ProjectConfig::default())
                }
            })?;
            if config.server.tokens.iter().any(|t| t.name == name) {
                return Err(Error::Conflict(format!(
                    "{} already has a token named {name:?}: choose another name, or remove \
                     that one's [[server.tokens]] entry first",
                    path.display()
                ))
                .into());
            }
            let token = new_token();
            append_token(&path, &name, role, &hash_token(&token))?;
            if printer.json {
                printer.json_line(&json!({
                    "name": name, "role": role.as_str(), "token": token,
                    "project": path.display().to_string(),
                }));
            } else {
                printer.out(token);
                printer.err(format!(
                    "Token {name:?} ({}) added to {} as a hash; this is the only time it is shown.",
                    role.as_str(),
                    path.display()
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List => {
            let config = crate::ProjectConfig::load(Some(&path))?;
            if printer.json {
                let tokens: Vec<_> = config
                    .server
                    .tokens
                    .iter()
                    .map(|t| json!({"name": t.name, "role": t.role.as_str()}))
                    .collect();
                printer.json_line(&json!(tokens));
            } else if config.server.tokens.is_empty() {
                printer.out(format!(
                    "No tokens in {}: `assets serve` is open on loopback only",
                    path.display()
                ));
            } else {
                for t in &config.server.tokens {
                    printer.out(format!("{:<24} {}", t.name, t.role.as_str()));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The project file tokens go to: `--project`/`$STEMMA_PROJECT`, else `./stemma.toml`.
fn project_file(project: Option<&Path>) -> PathBuf {
    project.map_or_else(|| PathBuf::from("stemma.toml"), Path::to_path_buf)
}

/// Appends one `[[server.tokens]]` entry, keeping the rest of the file as it is.
fn append_token(path: &Path, name: &str, role: Role, hash: &str) -> stemma::Result<()> {
    let mut text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let name = toml::Value::String(name.to_owned());
    text.push_str(&format!(
        "\n[[server.tokens]]\nname = {name}\nrole = \"{}\"\nhash = \"{hash}\"\n",
        role.as_str()
    ));
    // The file must still parse with the entry (a hand-written `[server]` table with inline
    // `tokens = [...]` would not take an appended array of tables): refuse, change nothing.
    toml::from_str::<crate::ProjectConfig>(&text).map_err(|e| {
        Error::Config(format!(
            "{}: cannot add a [[server.tokens]] entry to it ({e}); add the token by hand: \
             name = {name}, role = \"{}\", hash = \"{hash}\"",
            path.display(),
            role.as_str()
        ))
    })?;
    // Written whole to a temporary file, then renamed: a crash never leaves half a file.
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, &text).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("replacing {}", path.display()), e))
}
