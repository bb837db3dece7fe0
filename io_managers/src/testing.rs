//! Test support: a real S3-compatible server, moto in server mode (PyPI `moto[s3]`; `.ci/tools`
//! installs it into `~/.cache/stemma/venv`, or point `STEMMA_TEST_MOTO` at a `moto_server`),
//! started on a free 127.0.0.1 port and stopped by its PID when dropped; and the Python that
//! reads Stemma's files with pyarrow and DuckDB.
//!
//! A missing tool fails the test that needs it, saying how to install it: a suite that quietly
//! skips its storage tests gives false confidence. `STEMMA_ALLOW_SKIP=1` skips them instead
//! (never under `CI=true`).
//!
//! ```no_run
//! let Some(s3) = stemma_io::testing::Moto::start() else { return };  // STEMMA_ALLOW_SKIP=1
//! s3.bucket("lake");
//! let io = stemma_io::ObjectStoreIoManager::from_url("s3://lake/dev", &s3.options()).unwrap();
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto. When it is not installed the test fails, or — with `STEMMA_ALLOW_SKIP=1`
    /// — is skipped (`None`).
    pub fn start() -> Option<Moto> {
        let Some(binary) = moto_binary() else {
            skip_or_fail(
                "moto_server is not installed: `bash .ci/tools` installs moto[s3] into \
                 ~/.cache/stemma/venv (or set STEMMA_TEST_MOTO, or STEMMA_TEST_PYTHON to a \
                 venv's python that has it)",
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while http(port, "GET", "/").is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto did not answer on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    /// Creates a bucket (object_store does not create buckets).
    pub fn bucket(&self, name: &str) {
        let port: u16 = self.endpoint.rsplit(':').next().unwrap().parse().unwrap();
        let status = http(port, "PUT", &format!("/{name}")).expect("moto answers");
        assert!(
            status.starts_with("HTTP/1.1 200"),
            "creating bucket {name}: {status}"
        );
    }

    /// The storage options that reach this server.
    pub fn options(&self) -> BTreeMap<String, String> {
        [
            ("endpoint", self.endpoint.as_str()),
            ("region", "us-east-1"),
            ("access_key_id", "stemma-test"),
            ("secret_access_key", "stemma-test"),
            ("allow_http", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("STEMMA_TEST_MOTO") {
        return Some(PathBuf::from(p));
    }
    let candidate = python()?.parent()?.join("moto_server");
    candidate.exists().then_some(candidate)
}

/// `STEMMA_TEST_PYTHON`, else the venv `.ci/tools` installs, if it exists.
fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("STEMMA_TEST_PYTHON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")?;
    let venv = PathBuf::from(home).join(".cache/stemma/venv/bin/python");
    venv.exists().then_some(venv)
}

/// The Python with pyarrow and DuckDB that tests read Stemma's files with:
/// `STEMMA_TEST_PYTHON`, else `~/.cache/stemma/venv/bin/python` (what `.ci/tools` installs).
/// When there is none the test fails, or — with `STEMMA_ALLOW_SKIP=1` — is skipped (`None`).
pub fn test_python() -> Option<PathBuf> {
    let python = python();
    if python.is_none() {
        skip_or_fail(
            "no Python with pyarrow and duckdb: `bash .ci/tools` installs them into \
             ~/.cache/stemma/venv (or set STEMMA_TEST_PYTHON)",
        );
    }
    python
}

/// A running chromedriver (Debian's `chromium-driver`), on a free 127.0.0.1 port, stopped by
/// its PID when dropped; it drives Debian's `chromium`.
pub struct Chromedriver {
    child: Child,
    /// The WebDriver URL.
    pub url: String,
    /// The Chromium it drives.
    pub chromium: PathBuf,
}

impl Chromedriver {
    /// Starts chromedriver. When it or Chromium is not installed the test fails, or — with
    /// `STEMMA_ALLOW_SKIP=1` — is skipped (`None`).
    pub fn start() -> Option<Chromedriver> {
        let find = |name: &str| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        };
        let (Some(driver), Some(chromium)) = (find("chromedriver"), find("chromium")) else {
            skip_or_fail(
                "chromium and chromedriver are not installed: `bash .ci/tools` installs \
                 Debian's chromium and chromium-driver",
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&driver)
            .args([&format!("--port={port}"), "--allowed-ips=127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", driver.display()));
        // Owned before waiting, so a driver that never answers is stopped too.
        let started_driver = Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
        };
        let started = Instant::now();
        while http(port, "GET", "/status").is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(started_driver)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test's tool is missing: fails the test saying how to install it, unless skips are
/// allowed (`STEMMA_ALLOW_SKIP=1`, and not under `CI=true`).
#[track_caller]
fn skip_or_fail(missing: &str) {
    let allowed = std::env::var("STEMMA_ALLOW_SKIP").as_deref() == Ok("1")
        && std::env::var("CI").as_deref() != Ok("true");
    assert!(allowed, "{missing}; STEMMA_ALLOW_SKIP=1 skips this test");
    eprintln!("skipping (STEMMA_ALLOW_SKIP=1): {missing}");
}

/// One bodiless HTTP/1.1 request; the status line, or `None` if nothing answers.
fn http(port: u16, method: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    // The status line only: some servers (chromedriver) keep the connection open anyway.
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut line).ok()?;
    (!line.is_empty()).then(|| line.trim_end().to_owned())
}
