//! Test support for code locations: their command line in a scratch home, and reading an HTTP
//! request in the servers tests start on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The code location `binary` with `home` as `$STEMMA_HOME` and working directory, no colour,
/// and none of the developer's own `STEMMA_*` settings leaking into the test.
pub fn command(binary: impl AsRef<Path>, home: &Path) -> Command {
    let mut c = Command::new(binary.as_ref());
    c.env("STEMMA_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("STEMMA_LOG")
        .env_remove("STEMMA_PROJECT")
        .env_remove("STEMMA_STORAGE")
        .env_remove("STEMMA_NOW")
        // `stemma.toml` is also looked for beside `$CARGO_MANIFEST_DIR`, which a test inherits.
        .env_remove("CARGO_MANIFEST_DIR")
        .stdin(std::process::Stdio::null())
        .current_dir(home);
    c
}

/// Every file under `dir` (recursively), sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every file under `dir` (recursively) with extension `ext`, sorted.
pub fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = files(dir);
    out.retain(|p| p.extension().is_some_and(|x| x == ext));
    out
}

/// The body of an HTTP/1.1 request read so far into `buf`, once its headers and as many body
/// bytes as its `Content-Length` says have all arrived; `None` while more are to come.
pub fn http_request_body(buf: &[u8]) -> Option<Vec<u8>> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let headers = String::from_utf8_lossy(&buf[..end]);
    let len: usize = headers
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    buf.get(end + 4..end + 4 + len).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_body_is_there_once_content_length_bytes_are() {
        let request = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(http_request_body(request).as_deref(), Some(&b"hello"[..]));
        assert_eq!(http_request_body(&request[..request.len() - 1]), None);
        assert_eq!(http_request_body(b"POST /x HTTP/1.1\r\nHost: a"), None);
        assert_eq!(
            http_request_body(b"GET / HTTP/1.1\r\n\r\n").as_deref(),
            Some(&b""[..])
        );
    }
}
