//! The quickstart through its real command line, and its own IO manager held to the
//! conformance suite every IO manager passes.

use std::path::Path;
use std::process::Output;

use quickstart::text_files::TextFiles;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_files_pass_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let io = TextFiles::new(dir.path().join("text")).unwrap();
    stemma_io::conformance::run(&io).await;
}

fn run(home: &Path, args: &[&str]) -> Output {
    stemma_server::testing::command(env!("CARGO_BIN_EXE_quickstart"), home)
        .args(args)
        .output()
        .unwrap()
}

fn ok(home: &Path, args: &[&str]) -> String {
    let out = run(home, args);
    assert!(
        out.status.success(),
        "quickstart {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_quickstart_runs_and_keeps_its_reports_as_readable_files() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ok(
        home,
        &["materialize", "--select", "sales", "--partition", "eu"],
    );
    ok(
        home,
        &["materialize", "--select", "sales", "--partition", "us,apac"],
    );
    ok(home, &["materialize", "--select", "total_sales*"]);

    // Stored through TextFiles (the command runs in `home`): one JSON file per report.
    let reports = stemma_server::testing::files_with_extension(&home.join("reports"), "json");
    assert_eq!(reports.len(), 2, "{reports:?}");
    let total: f64 = {
        let status: Value = serde_json::from_str(&ok(home, &["status", "--json"])).unwrap();
        let total = status
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "total_sales")
            .unwrap();
        assert_eq!(total["state"], "fresh", "{total}");
        let text = std::fs::read_to_string(
            stemma_server::testing::files_with_extension(&home.join("storage"), "json")
                .into_iter()
                .find(|p| p.to_string_lossy().contains("/v1/total_sales/"))
                .expect("total_sales is stored by the default manager"),
        )
        .unwrap();
        text.trim().parse().unwrap()
    };
    let finance: String = serde_json::from_str(
        &std::fs::read_to_string(
            reports
                .iter()
                .find(|p| p.to_string_lossy().contains("finance"))
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(finance, format!("finance: total sales {total:.2}"));

    // Every stored object, the report files among them, reads back to its recorded version.
    let verify: Value = serde_json::from_str(&ok(home, &["verify", "--json"])).unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(
        verify["checked"], 6,
        "3 sales partitions, the total, 2 reports: {verify}"
    );

    // A second run has nothing to do; a report file deleted by hand is a clear error.
    let again = ok(home, &["materialize", "--select", "total_sales*"]);
    assert!(again.contains("all 3 steps up to date"), "{again}");
    std::fs::remove_file(&reports[0]).unwrap();
    let verify = run(home, &["verify"]);
    assert_eq!(verify.status.code(), Some(1));
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(out.contains("missing"), "{out}");
}
