//! The README's two-minute tour, run top to bottom as written: every command exits as the
//! README says (0, unless its comment says "exits N").

use crate::Home;

/// The command lines of the tour's shell block (the `alias` line left out).
fn tour_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .join("README.md"),
    )
    .unwrap();
    let tour = readme
        .split("## A two-minute tour")
        .nth(1)
        .expect("the README has a tour");
    let block = tour
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the tour has a shell block");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("alias "))
        .map(str::to_owned)
        .collect()
}

/// The exit code a tour line's comment promises.
fn expected_exit(line: &str) -> i32 {
    let comment = line.split_once(" # ").map_or("", |(_, c)| c);
    comment
        .split_once("exits ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_readme_tour_runs_as_written() {
    let commands = tour_commands();
    assert!(commands.len() >= 20, "{commands:?}");
    let home = Home::new();
    for line in &commands {
        let script = format!(
            "assets() {{ '{}' \"$@\"; }}\n{line}",
            env!("CARGO_BIN_EXE_assets")
        );
        let output = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("STEMMA_HOME", home.path())
            .env("NO_COLOR", "1")
            .env_remove("STEMMA_LOG")
            .env_remove("STEMMA_NOW")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(expected_exit(line)),
            "{line}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // What the tour says happened, happened.
    let status = home.json(&["status"]);
    let state = |key: &str| {
        status
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state("topic_model"), "missing", "wiped last");
    assert_eq!(state("chunks"), "fresh");
    let days = home.json(&["partitions", "daily_quality"]);
    assert!(
        days["materialized"]["count"].as_u64().unwrap() >= 7,
        "{days}"
    );
    let ticks = home.json(&["schedules", "ticks"]);
    assert_eq!(ticks[0]["state"], "succeeded", "{ticks}");
}

#[test]
fn tour_lines_say_their_exit_codes() {
    assert_eq!(expected_exit("assets status   # each asset"), 0);
    assert_eq!(
        expected_exit("assets materialize -s '*' -c x=1   # exits 1: the gate"),
        1
    );
}
