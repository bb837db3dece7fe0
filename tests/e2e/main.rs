//! End-to-end tests: the real `assets` binary against a temporary `STEMMA_HOME` — real SQLite,
//! real Parquet files, real processes (killed for real when a test says so).

mod browser;
mod cli;
mod code_versions;
mod crash;
mod newcomer;
mod openlineage;
mod pipeline;
mod selection;
mod serve;
mod snapshots;
mod tour;
mod versions;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The assets of the demo pipeline, upstream first.
pub const ASSETS: [&str; 6] = [
    "raw_documents",
    "chunks",
    "embeddings",
    "retrieval_eval",
    "topic_model",
    "predictions",
];

/// The latest materialization of `asset` in the output of `status --json`.
pub fn materialization_in(status: &Value, asset: &str) -> Option<Value> {
    status
        .as_array()?
        .iter()
        .find(|a| a["key"] == asset)
        .and_then(|a| {
            a["materializations"]
                .as_array()
                .and_then(|m| m.first().cloned())
        })
}

/// A fresh instance directory for one test.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Home {
    pub fn new() -> Self {
        Home {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `assets` command with this home, in it, with nothing of the developer's
    /// environment that could send it elsewhere (`STEMMA_STORAGE`, `STEMMA_PROJECT`,
    /// `STEMMA_NOW`, `CARGO_MANIFEST_DIR`, log settings, colour).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = stemma_server::testing::command(env!("CARGO_BIN_EXE_assets"), self.path());
        cmd.args(args);
        cmd
    }

    /// Runs `assets args…` to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("the assets binary runs");
        Run { output }
    }

    /// Runs `assets args… --json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let run = self.run(&all);
        assert!(run.ok(), "assets {args:?} failed:\n{}", run.stderr());
        serde_json::from_str(&run.stdout()).unwrap_or_else(|e| {
            panic!(
                "assets {args:?} printed invalid JSON ({e}):\n{}",
                run.stdout()
            )
        })
    }

    /// The latest materialization of `asset` as `status --json` reports it.
    pub fn latest(&self, asset: &str) -> Option<Value> {
        let status = self.json(&["status"]);
        status
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == asset)
            .and_then(|a| {
                a["materializations"]
                    .as_array()
                    .and_then(|m| m.first().cloned())
            })
    }

    pub fn storage(&self) -> PathBuf {
        self.path().join("storage")
    }
}

/// A finished process.
pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.output.status.success()
    }

    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Everything printed, for assertions about messages wherever they went.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.ok(),
            "expected success, got exit {}:\nstdout:\n{}\nstderr:\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// Exits with `code` and says `says` on stderr.
    #[track_caller]
    pub fn assert_error(&self, code: i32, says: &str) -> &Self {
        self.assert_code(code);
        assert!(
            self.stderr().contains(says),
            "expected {says:?} on stderr:\n{}",
            self.stderr()
        );
        self
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code:\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// Reads a Parquet file with the parquet crate alone: the row count.
pub fn parquet_rows(path: &Path) -> usize {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    reader.map(|b| b.unwrap().num_rows()).sum()
}

pub use stemma_server::testing::files_with_extension;

/// A private mount namespace kept alive by a holder process, in which a test mounts what a
/// user's machine may have (a full disk, a read-only directory) without touching the host's
/// mounts: commands run inside it with `nsenter`. Needs root (CI runs as root); elsewhere
/// `None`, and the test says it was skipped — under `CI=true` it fails instead.
pub struct MountNamespace {
    holder: std::process::Child,
}

impl MountNamespace {
    /// Runs `setup` (shell) in a new mount namespace, then keeps the namespace alive.
    pub fn new(setup: &str) -> Option<Self> {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if !root {
            assert!(
                std::env::var("CI").is_err(),
                "this test needs root (a private mount namespace) and CI runs as root"
            );
            eprintln!("skipped: needs root for a private mount namespace");
            return None;
        }
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!("{setup} && echo ready && exec sleep 600"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unshare runs");
        let mut line = String::new();
        let stdout = holder.stdout.take().expect("piped");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the mount namespace was not set up");
        Some(MountNamespace { holder })
    }

    /// `assets args…` for `home`, run inside the namespace.
    pub fn run(&self, home: &Home, args: &[&str]) -> Run {
        let mut cmd = Command::new("nsenter");
        cmd.arg("--target")
            .arg(self.holder.id().to_string())
            .arg("--mount")
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_assets"))
            .args(args)
            .env("STEMMA_HOME", home.path())
            .env("NO_COLOR", "1")
            .env_remove("STEMMA_LOG")
            .stdin(Stdio::null());
        Run {
            output: cmd.output().expect("nsenter runs"),
        }
    }

    /// A shell command run inside the namespace.
    pub fn shell(&self, script: &str) -> Run {
        let output = Command::new("nsenter")
            .arg("--target")
            .arg(self.holder.id().to_string())
            .args(["--mount", "--", "sh", "-c", script])
            .output()
            .expect("nsenter runs");
        Run { output }
    }
}

impl Drop for MountNamespace {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
