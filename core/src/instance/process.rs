//! Telling a live run from a dead one: the pid, the host and the process's start time.
//!
//! A pid alone is not enough, because the OS reuses pids; the start time (from
//! `/proc/<pid>/stat`) tells a reused pid from the original process. Where `/proc` does not
//! exist, liveness is unknown and nothing is reaped.

use std::path::Path;

/// Who is running a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    pub pid: u32,
    pub host: String,
    pub start: Option<u64>,
}

impl ProcessIdentity {
    pub fn current() -> Self {
        let pid = std::process::id();
        ProcessIdentity {
            pid,
            host: hostname(),
            start: start_time(pid),
        }
    }

    /// `Some(true)` if the process is still running, `Some(false)` if it is gone, `None` when
    /// this platform cannot tell.
    pub fn is_alive(&self) -> Option<bool> {
        if !Path::new("/proc/self/stat").exists() {
            return None;
        }
        match (start_time(self.pid), self.start) {
            (None, _) => Some(false),
            (Some(now), Some(then)) => Some(now == then),
            (Some(_), None) => Some(true),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Field 22 of `/proc/<pid>/stat`: the start time in clock ticks since boot.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses; fields after it follow
    // the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_process_is_alive_and_a_child_that_exited_is_not() {
        let me = ProcessIdentity::current();
        if me.start.is_none() {
            return; // no /proc here
        }
        assert_eq!(me.is_alive(), Some(true));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid);
        child.wait().unwrap();
        let gone = ProcessIdentity {
            pid,
            host: me.host.clone(),
            start: start.or(Some(0)),
        };
        assert_eq!(gone.is_alive(), Some(false));
        let reused = ProcessIdentity {
            start: me.start.map(|s| s + 1),
            ..me
        };
        assert_eq!(reused.is_alive(), Some(false));
    }
}
