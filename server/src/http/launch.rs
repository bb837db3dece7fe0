//! Runs launched from the API run in child processes of this binary (`materialize`,
//! `runs resume`, `backfill` with `--run-id`): a crash of a run never takes the server down,
//! and stopping the server never stops a run (each child leads its own process group, so the
//! terminal's Ctrl-C reaches the server only). The instance's run limit bounds them: a child
//! waits for its slot as any run does.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use stemma::{Error, Result, RunId};

/// How to start this binary again: its path and the global arguments the server was given
/// (`--home`, `--project`, `--storage`, `--config`).
#[derive(Debug, Clone)]
pub struct ChildCommand {
    pub exe: PathBuf,
    pub global: Vec<OsString>,
}

impl ChildCommand {
    /// This process's own binary, with `global` arguments.
    pub fn this_binary(global: Vec<OsString>) -> Result<ChildCommand> {
        let exe = std::env::current_exe()
            .map_err(|e| Error::io("finding this binary to launch runs with", e))?;
        Ok(ChildCommand { exe, global })
    }
}

/// Starts run processes and knows which are alive.
#[derive(Debug)]
pub struct Launcher {
    child: ChildCommand,
    /// Where each child's output goes: `<home>/logs/launched/<run id>.log`.
    logs: PathBuf,
    /// The live children by name (a run id, or a backfill's).
    alive: Mutex<HashMap<String, u32>>,
}

impl Launcher {
    pub fn new(child: ChildCommand, home: &Path) -> Self {
        Launcher {
            child,
            logs: home.join("logs").join("launched"),
            alive: Mutex::new(HashMap::new()),
        }
    }

    /// The processes launched by this server that are alive, by name (a run's is its id).
    pub fn alive(&self) -> Vec<String> {
        self.alive
            .lock()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Starts `args` (a subcommand and its arguments) as run `run` (`--run-id`); returns its
    /// pid.
    pub fn launch(self: &Arc<Self>, run: &RunId, mut args: Vec<String>) -> Result<u32> {
        args.extend(["--run-id".to_owned(), run.to_string()]);
        self.launch_as(run.as_str(), args)
    }

    /// Starts `args` as a process named `name` (its log is `<name>.log`); returns its pid.
    pub fn launch_as(self: &Arc<Self>, name: &str, args: Vec<String>) -> Result<u32> {
        std::fs::create_dir_all(&self.logs)
            .map_err(|e| Error::io(format!("creating {}", self.logs.display()), e))?;
        let path = self.logs.join(format!("{name}.log"));
        let log = std::fs::File::create(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        let err = log
            .try_clone()
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let mut command = tokio::process::Command::new(&self.child.exe);
        command
            .args(&self.child.global)
            .args(&args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(false);
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command.spawn().map_err(|e| {
            Error::io(
                format!("starting {} for {name}", self.child.exe.display()),
                e,
            )
        })?;
        let pid = child.id().unwrap_or_default();
        if let Ok(mut alive) = self.alive.lock() {
            alive.insert(name.to_owned(), pid);
        }
        // Reap it (no zombie), and forget it when it exits.
        let launcher = Arc::clone(self);
        let run = name.to_owned();
        tokio::spawn(async move {
            let status = child.wait().await;
            if let Ok(mut alive) = launcher.alive.lock() {
                alive.remove(&run);
            }
            match status {
                Ok(s) if !s.success() && s.code().is_none() => {
                    tracing::warn!("run {run} (pid {pid}) was killed: {s}")
                }
                Err(e) => tracing::warn!("run {run} (pid {pid}): {e}"),
                _ => {}
            }
        });
        Ok(pid)
    }
}
