//! The nightly example through its real command line: a backfill killed with SIGKILL and
//! resumed without running any partition twice, the weekly rollup reading its seven days, and
//! the daemon firing the nightly schedule at a replayed instant.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Self {
        Home(tempfile::tempdir().unwrap())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = stemma_server::testing::command(env!("CARGO_BIN_EXE_nightly"), self.0.path());
        c.args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "nightly {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// (asset, partition) pairs materialized more than once, straight from the event log.
    fn materialized_twice(&self) -> Vec<(String, String)> {
        let db = rusqlite::Connection::open(self.0.path().join("stemma.db")).unwrap();
        let mut stmt = db
            .prepare(
                "SELECT asset_key, COALESCE(partition, '') FROM event_log
                 WHERE kind = 'materialization' GROUP BY 1, 2 HAVING count(*) > 1",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

/// A named pipe that each day of events reads one byte from (the example's `step_gate`): the
/// test decides how many days get through, so a run is held at a chosen day — a barrier, not
/// a delay that a slow machine could outrun.
struct Gate {
    path: std::path::PathBuf,
    pipe: std::fs::File,
}

impl Gate {
    fn new(home: &Home) -> Gate {
        let path = home.0.path().join("gate");
        let made = Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(made.success(), "mkfifo");
        // Read and write: on Linux this open does not wait for a reader, and the pipe keeps
        // what is written until a day reads it.
        let pipe = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        Gate { path, pipe }
    }

    /// Lets `days` more days of events through.
    fn let_through(&mut self, days: usize) {
        std::io::Write::write_all(&mut self.pipe, &vec![b'.'; days]).unwrap();
    }

    fn config(&self) -> String {
        format!("step_gate={}", self.path.display())
    }
}

#[test]
fn a_killed_backfill_resumes_without_running_a_partition_twice() {
    let home = Home::new();
    let args = [
        "backfill",
        "--select",
        "group:nightly",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "-j",
        "1",
    ];
    // The dry run plans 31 days of events, aggregates and models; newest first.
    let dry = home.ok(&[&args[..], &["--dry-run"]].concat());
    assert!(dry.contains("would run 93 steps of 93 targets"), "{dry}");
    let first_step = dry
        .lines()
        .skip_while(|l| !l.starts_with("First steps"))
        .nth(1)
        .unwrap();
    assert_eq!(first_step.trim(), "events[2026-10-31]");

    // Kill it once four days are committed: it is held at the fifth.
    let mut gate = Gate::new(&home);
    let mut child = start_held(&home, &mut gate, &args, 4);
    child.kill().unwrap();
    child.wait().unwrap();

    let list = home.json(&["backfill", "list"]);
    let id = list[0]["backfill"].as_str().unwrap().to_owned();
    assert_eq!(list[0]["status"], "running", "{list}");
    let done = home.json(&["partitions", "events"])["materialized"]["count"]
        .as_u64()
        .unwrap();
    assert_eq!(done, 4, "held at the fifth day");

    // Resume with the same config (the gate lets every day through now): only what the
    // killed run did not commit runs.
    gate.let_through(100);
    let out = home.ok(&["backfill", "resume", &id[..8]]);
    assert!(out.contains("Succeeded"), "{out}");
    let show = home.json(&["backfill", "show", &id]);
    assert_eq!(show["status"], "completed", "{show}");
    assert_eq!(show["runs"].as_array().unwrap().len(), 2);
    assert_eq!(
        show["runs"][1]["status"], "failure",
        "the killed run is reaped: {show}"
    );
    let events = home.json(&["partitions", "events"]);
    assert_eq!(events["materialized"]["count"], 31);
    assert_eq!(
        events["missing"]["count"],
        events["total"].as_u64().unwrap() - 31
    );
    assert!(
        home.materialized_twice().is_empty(),
        "{:?}",
        home.materialized_twice()
    );
}

#[test]
fn the_weekly_rollup_reads_its_seven_days_and_the_daemon_fires_the_nightly_tick() {
    let home = Home::new();
    home.ok(&[
        "backfill",
        "--select",
        "*",
        "--from",
        "2026-10-01",
        "--to",
        "2026-11-15",
    ]);
    let weeks = home.json(&["query", "SELECT week, sum(events) AS events, min(days) AS days FROM weekly_rollup GROUP BY week ORDER BY week"]);
    let weeks = weeks.as_array().unwrap();
    assert!(weeks.len() >= 6, "{weeks:?}");
    assert!(weeks.iter().all(|w| w["days"] == 7), "{weeks:?}");
    let days = home.json(&["query", "SELECT sum(events) AS n FROM daily_aggregates WHERE day >= '2026-10-05' AND day <= '2026-10-11'"]);
    assert_eq!(days[0]["n"], weeks[0]["events"]);

    let schedules = home.json(&["schedules", "list"]);
    assert_eq!(schedules[0]["name"], "nightly");
    assert_eq!(schedules[0]["running"], true);
    assert_eq!(schedules[1]["running"], false);

    // The daemon's first evaluation owes nothing; a day later it fires 02:00 Berlin once,
    // for the day before.
    let at = |now: &str, args: &[&str]| {
        let out = home.command(args).env("STEMMA_NOW", now).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    at("2026-11-16T12:00:00Z", &["daemon", "--once"]);
    let out = at("2026-11-17T12:00:00Z", &["daemon", "--once"]);
    assert!(out.contains("1 run launched"), "{out}");
    let out = at("2026-11-17T12:00:00Z", &["daemon", "--once"]);
    assert!(out.contains("0 runs launched"), "{out}");
    let ticks = home.json(&["schedules", "ticks", "nightly"]);
    let ticks = ticks.as_array().unwrap();
    assert_eq!(ticks.len(), 1, "{ticks:?}");
    assert_eq!(ticks[0]["state"], "succeeded");
    assert_eq!(ticks[0]["partition"], "2026-11-16");
    assert_eq!(ticks[0]["tick"], "2026-11-17T01:00:00+00:00");
    let run = ticks[0]["run_id"].as_str().unwrap();
    let shown = home.json(&["runs", "show", &run[..8]]);
    assert_eq!(shown["status"], "success", "{shown}");
}

/// Starts the example with `args` behind `gate`, lets `n` days of events through and waits
/// until they are committed: the process is then held at the next day. The caller waits for
/// the child.
#[allow(clippy::zombie_processes)]
fn start_held(home: &Home, gate: &mut Gate, args: &[&str], n: u64) -> std::process::Child {
    let config = gate.config();
    let mut child = home
        .command(&[args, &["-c", &config]].concat())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    gate.let_through(n as usize);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = home.json(&["partitions", "events"]);
        if status["materialized"]["count"].as_u64().unwrap() >= n {
            return child;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{args:?} made no progress");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `materialize` of 20 days of events behind `gate`, and waits until `n` are
/// committed.
fn start_held_run(home: &Home, gate: &mut Gate, n: u64) -> std::process::Child {
    let args = [
        "materialize",
        "--select",
        "events",
        "--partition-range",
        "2026-10-01...2026-10-20",
        "-j",
        "1",
    ];
    start_held(home, gate, &args, n)
}

/// `kill -9` mid-run, then `runs resume`: the dead run is reaped as failed, the resumed run
/// plans only what was not committed, and every day ends materialized exactly once.
#[test]
fn a_killed_run_resumes_without_recomputing_what_it_committed() {
    let home = Home::new();
    let mut gate = Gate::new(&home);
    let mut child = start_held_run(&home, &mut gate, 4);
    child.kill().unwrap();
    child.wait().unwrap();
    let done = home.json(&["partitions", "events"])["materialized"]["count"]
        .as_u64()
        .unwrap();
    assert_eq!(done, 4, "held at the fifth day");
    gate.let_through(100);

    let runs = home.json(&["runs", "list"]);
    let killed = runs[0]["run_id"].as_str().unwrap().to_owned();
    assert_eq!(runs[0]["status"], "failure", "reaped: {runs}");
    let out = home.ok(&["runs", "resume", &killed[..8]]);
    assert!(out.contains("Succeeded"), "{out}");

    let runs = home.json(&["runs", "list"]);
    assert_eq!(runs[0]["status"], "success", "{runs}");
    assert_eq!(
        runs[0]["planned_steps"].as_u64().unwrap(),
        20 - done,
        "only the days the killed run did not commit: {runs}"
    );
    let events = home.json(&["partitions", "events"]);
    assert_eq!(events["materialized"]["count"], 20);
    assert!(
        home.materialized_twice().is_empty(),
        "{:?}",
        home.materialized_twice()
    );
    // A run that succeeded has nothing to resume.
    let again = home.run(&["runs", "resume", &runs[0]["run_id"].as_str().unwrap()[..8]]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to resume"));
}

/// `runs cancel` from another terminal stops a running run: it ends `canceled`, its process
/// exits soon after, and what it committed stays while nothing else appears.
#[test]
fn a_run_is_canceled_from_another_terminal() {
    let home = Home::new();
    let mut gate = Gate::new(&home);
    let mut child = start_held_run(&home, &mut gate, 2);
    let runs = home.json(&["runs", "list"]);
    let id = runs[0]["run_id"].as_str().unwrap().to_owned();
    let out = home.ok(&["runs", "cancel", &id[..8]]);
    assert!(out.contains("Asked run"), "{out}");
    let asked = Instant::now();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    let run = home.json(&["runs", "show", &id[..8]]);
    assert_eq!(run["status"], "canceled", "{run}");
    let done = home.json(&["partitions", "events"])["materialized"]["count"]
        .as_u64()
        .unwrap();
    assert_eq!(done, 2, "{done}");
    // Canceling an ended run says so.
    let again = home.run(&["runs", "cancel", &id[..8]]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("has already ended (canceled)"));
    // The rest is picked up by a resume.
    gate.let_through(100);
    home.ok(&["runs", "resume", &id[..8]]);
    assert_eq!(
        home.json(&["partitions", "events"])["materialized"]["count"],
        20
    );
    assert!(home.materialized_twice().is_empty());
}

/// Ctrl-C (SIGINT) mid-run: the run ends `canceled`, the process exits on its own, and every
/// committed day points at a complete Parquet object (nothing half-written is visible).
#[test]
fn ctrl_c_cancels_the_run_and_leaves_the_instance_consistent() {
    let home = Home::new();
    let mut gate = Gate::new(&home);
    let mut child = start_held_run(&home, &mut gate, 2);
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert!(!status.success());
    let runs = home.json(&["runs", "list"]);
    assert_eq!(runs[0]["status"], "canceled", "{runs}");
    let status = home.json(&["partitions", "events"]);
    assert_eq!(status["in_progress"]["count"], 0, "{status}");
    let done = status["materialized"]["count"].as_u64().unwrap();
    // Every committed materialization reads back.
    let db = rusqlite::Connection::open(home.0.path().join("stemma.db")).unwrap();
    let locations: Vec<String> = db
        .prepare("SELECT location FROM asset_latest WHERE asset_key = 'events'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(locations.len() as u64, done);
    for l in locations {
        let bytes = std::fs::read(home.0.path().join("storage").join(&l)).unwrap();
        assert_eq!(&bytes[..4], b"PAR1", "{l}");
        assert_eq!(&bytes[bytes.len() - 4..], b"PAR1", "{l}");
    }
}
