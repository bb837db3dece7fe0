//! Test support: a real S3-compatible server, moto in server mode (PyPI `moto[s3]`; `.ci/run`
//! installs it into the venv beside `STEMMA_TEST_PYTHON`, or point `STEMMA_TEST_MOTO` at a
//! `moto_server`), started on a free 127.0.0.1 port and stopped by its PID when dropped.
//!
//! ```no_run
//! let Some(s3) = stemma_io::testing::Moto::start() else { return };  // skipped outside CI
//! s3.bucket("lake");
//! let io = stemma_io::ObjectStoreIoManager::from_url("s3://lake/dev", &s3.options()).unwrap();
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Write};
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
    /// Starts moto, or returns `None` (the test is skipped) when it is not installed and this
    /// is not CI. Under `CI=true` a missing server fails the test.
    pub fn start() -> Option<Moto> {
        let Some(binary) = moto_binary() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "moto_server is not installed; .ci/run installs moto[s3] into the venv of \
                 STEMMA_TEST_PYTHON (or set STEMMA_TEST_MOTO)"
            );
            eprintln!("skipping: no moto_server (set STEMMA_TEST_PYTHON or STEMMA_TEST_MOTO)");
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
    let python = PathBuf::from(std::env::var("STEMMA_TEST_PYTHON").ok()?);
    let candidate = python.parent()?.join("moto_server");
    candidate.exists().then_some(candidate)
}

/// The Python with pyarrow and DuckDB that tests read Stemma's files with: `STEMMA_TEST_PYTHON`
/// (`.ci/run` sets it). `None` — skip — when it is unset outside CI; under `CI=true` a missing
/// interpreter fails the test.
pub fn test_python() -> Option<PathBuf> {
    match std::env::var("STEMMA_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "STEMMA_TEST_PYTHON is not set; .ci/run installs pyarrow and duckdb and sets it"
            );
            eprintln!("skipping: set STEMMA_TEST_PYTHON to a python with pyarrow and duckdb");
            None
        }
    }
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
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.lines().next().map(str::to_owned)
}
