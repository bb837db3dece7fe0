//! The IoManager conformance suite, run against every backend this crate ships: local files,
//! memory, and a real S3-compatible server.

use std::collections::BTreeMap;

use stemma::ValueKind;
use stemma::io::IoManager;
use stemma_io::ObjectStoreIoManager;
use stemma_io::conformance::{self, load, sample_table, store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_files_conform() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().join("storage").display());
    let io = ObjectStoreIoManager::from_url(&url, &BTreeMap::new()).unwrap();
    conformance::run(&io).await;
    conformance::atomic_writes(io.store().clone(), io.prefix().clone(), &io.describe()).await;
    // Nothing but committed objects is left behind, in Hive-style partition directories.
    let files = walk(dir.path());
    for p in &files {
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        assert!(
            matches!(ext, "parquet" | "json" | "bin"),
            "stray file {}",
            p.display()
        );
    }
    let partition_dirs: std::collections::BTreeSet<_> = files
        .iter()
        .filter_map(|p| p.parent())
        .filter(|d| {
            d.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("partition="))
        })
        .collect();
    assert!(partition_dirs.len() >= 4, "{partition_dirs:?}");
    assert!(io.describe().starts_with("file:///"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_conforms() {
    let io = ObjectStoreIoManager::from_url("memory://", &BTreeMap::new()).unwrap();
    conformance::run(&io).await;
    conformance::atomic_writes(io.store().clone(), io.prefix().clone(), "memory://").await;
    assert_eq!(io.describe(), "memory://");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_conforms() {
    let Some(moto) = stemma_io::testing::Moto::start() else {
        return;
    };
    moto.bucket("stemma-conformance");
    let io = ObjectStoreIoManager::from_url("s3://stemma-conformance/lake/dev", &moto.options())
        .unwrap();
    assert_eq!(io.describe(), "s3://stemma-conformance/lake/dev");
    conformance::run(&io).await;

    let (stored, _) = store(&io, "raw/sales", Some("eu"), &sample_table(0, 3))
        .await
        .unwrap();
    let location = stored.location.unwrap();
    assert!(
        location.starts_with("lake/dev/v1/raw/sales/partition=eu/"),
        "{location}"
    );
    assert!(
        io.object_url(&location)
            .starts_with("s3://stemma-conformance/lake/dev/v1/raw/sales/partition=eu/")
    );

    moto.bucket("stemma-atomic");
    let atomic = ObjectStoreIoManager::from_url("s3://stemma-atomic/x", &moto.options()).unwrap();
    conformance::atomic_writes(
        atomic.store().clone(),
        atomic.prefix().clone(),
        "s3://stemma-atomic",
    )
    .await;
}

#[test]
fn storage_urls_are_checked() {
    let none = BTreeMap::new();
    let err = |url: &str, options: &BTreeMap<String, String>| {
        ObjectStoreIoManager::from_url(url, options)
            .unwrap_err()
            .to_string()
    };
    assert!(err("gs://bucket", &none).contains("unsupported scheme gs://"));
    assert!(err("not a url", &none).contains("is not a URL"));
    assert!(err("s3://", &none).contains("names no bucket"));
    let bad: BTreeMap<String, String> = [("endpoit".to_owned(), "x".to_owned())].into();
    let e = err("s3://b/p", &bad);
    assert!(e.contains("unknown S3 storage option \"endpoit\""), "{e}");
    assert!(err("memory://", &bad).contains("does not apply to memory://"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_object_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let io = ObjectStoreIoManager::local(dir.path()).unwrap();
    let (stored, dv) = store(&io, "t", None, &sample_table(0, 3)).await.unwrap();
    let path = dir.path().join(stored.location.as_deref().unwrap());
    std::fs::write(&path, b"not parquet at all").unwrap();
    let err = load(&io, "t", ValueKind::Table, &stored, &dv)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("decoding") && err.contains(&path.display().to_string()),
        "{err}"
    );
}

/// The size of the object a killed writer is writing: large enough that it is still being
/// written when the kill lands (the kill follows the first sign of the write within ~1 ms).
const KILLED_OBJECT: usize = 256 << 20;

/// A process killed (SIGKILL) while it writes an object leaves nothing visible — no object,
/// no partial file — on local files and on a real S3-compatible server. The kill lands at a
/// barrier, not after a sleep: for files once the writer's staging file exists, for S3 once
/// the first megabyte of the upload has passed through a byte-counting TCP relay to moto.
#[test]
fn a_write_killed_midway_leaves_nothing_visible() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let url = format!("file://{}", storage.display());
    let (staged, mut child) = killed_writer(&url, &BTreeMap::new(), |_| {
        // The writer's staging file, next to where the object will be.
        walk(&storage).into_iter().next()
    });
    kill(&mut child);
    let written = std::fs::metadata(&staged).map_or(0, |m| m.len());
    assert!(
        written < KILLED_OBJECT as u64,
        "the kill came after the write ended ({written} bytes)"
    );
    let io = ObjectStoreIoManager::from_url(&url, &BTreeMap::new()).unwrap();
    let visible = runtime().block_on(io.list_objects()).unwrap();
    assert!(visible.is_empty(), "a killed write is visible: {visible:?}");
    // What the killed process left is a staging file, never a file with an object's name.
    for f in walk(&storage) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.contains('#'), "a partial object: {}", f.display());
    }

    let Some(moto) = stemma_io::testing::Moto::start() else {
        return;
    };
    moto.bucket("killed");
    let relay = Relay::to(&moto.endpoint);
    let mut options = moto.options();
    options.insert("endpoint".into(), relay.endpoint());
    let (_, mut child) = killed_writer("s3://killed/lake", &options, |_| {
        (relay.forwarded() > 1 << 20).then_some(())
    });
    kill(&mut child);
    let forwarded = relay.forwarded();
    assert!(
        forwarded < KILLED_OBJECT as u64,
        "the kill came after the upload ended ({forwarded} bytes)"
    );
    let io = ObjectStoreIoManager::from_url("s3://killed/lake", &moto.options()).unwrap();
    let visible = runtime().block_on(io.list_objects()).unwrap();
    assert!(
        visible.is_empty(),
        "a killed upload is visible: {visible:?}"
    );
}

/// The child process of [`a_write_killed_midway_leaves_nothing_visible`]: writes one large
/// object to `STEMMA_KILLED_URL` (with `STEMMA_KILLED_OPTIONS`) and is killed doing it. As a
/// test of its own (without the variable) it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_writer_child() {
    let Ok(url) = std::env::var("STEMMA_KILLED_URL") else {
        return;
    };
    let options: BTreeMap<String, String> =
        serde_json::from_str(&std::env::var("STEMMA_KILLED_OPTIONS").unwrap()).unwrap();
    let io = ObjectStoreIoManager::from_url(&url, &options).unwrap();
    let value = stemma::Value::Bytes(vec![7u8; KILLED_OBJECT].into());
    store(&io, "killed", None, &value).await.unwrap();
    // Reaching this line means the kill came too late; the parent says so.
    println!("stored");
}

/// Starts the child writer and waits (up to a minute) until `started` sees its write.
fn killed_writer<T>(
    url: &str,
    options: &BTreeMap<String, String>,
    started: impl Fn(&std::process::Child) -> Option<T>,
) -> (T, std::process::Child) {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["killed_writer_child", "--exact", "--nocapture"])
        .env("STEMMA_KILLED_URL", url)
        .env(
            "STEMMA_KILLED_OPTIONS",
            serde_json::to_string(options).unwrap(),
        )
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(seen) = started(&child) {
            return (seen, child);
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the writer ended before it was killed: {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the writer did not start writing within a minute"
        );
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

fn kill(child: &mut std::process::Child) {
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the writer finished: {status}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A TCP relay on 127.0.0.1 in front of a server, counting the bytes clients send through it.
struct Relay {
    port: u16,
    forwarded: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Relay {
    fn to(endpoint: &str) -> Relay {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let upstream = endpoint.trim_start_matches("http://").to_owned();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let forwarded = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let count = std::sync::Arc::clone(&forwarded);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut server) = std::net::TcpStream::connect(&upstream) else {
                    return;
                };
                let (mut client_r, mut server_w) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let count = std::sync::Arc::clone(&count);
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 << 10];
                    while let Ok(n) = client_r.read(&mut buf) {
                        if n == 0 || server_w.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        count.fetch_add(n as u64, Ordering::SeqCst);
                    }
                    let _ = server_w.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server, &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Relay { port, forwarded }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn forwarded(&self) -> u64 {
        self.forwarded.load(std::sync::atomic::Ordering::SeqCst)
    }
}
