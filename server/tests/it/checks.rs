//! Asset checks: which failures stop downstream and which only warn.

use stemma::{
    AssetDef, CheckDef, CheckResult, Definitions, Json, Materialize, RunStatus, Severity,
};

use crate::{Fixture, of};

fn asset(key: &str, inputs: &[&str]) -> AssetDef {
    let mut b = AssetDef::builder(key);
    for i in inputs {
        b = b.input(i);
    }
    b.compute_blocking(|_, _| Ok::<_, std::io::Error>(Json(7)))
        .build()
}

fn check(name: &str, asset: &str, blocking: bool, result: CheckResult) -> CheckDef {
    let key = asset.to_owned();
    CheckDef::builder(name, asset)
        .blocking(blocking)
        .run_blocking(true, move |_, inputs| {
            let value: Json<i64> = inputs.get(&key)?;
            assert_eq!(value.0, 7, "the check sees the asset's value");
            Ok::<_, stemma::Error>(result.clone())
        })
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_failed_blocking_error_check_stops_downstream() {
    let fx = Fixture::new(
        Definitions::new()
            .assets([
                asset("gated", &[]),
                asset("after_gate", &["gated"]),
                asset("warned", &[]),
                asset("after_warning", &["warned"]),
                asset("plain", &[]),
                asset("after_plain", &["plain"]),
            ])
            .checks([
                check("gate", "gated", true, CheckResult::fail("recall too low")),
                check(
                    "soft_gate",
                    "warned",
                    true,
                    CheckResult::fail("meh").severity(Severity::Warn),
                ),
                check("non_blocking", "plain", false, CheckResult::fail("noted")),
                check(
                    "passing",
                    "plain",
                    false,
                    CheckResult::pass().metadata("score", 0.9),
                ),
            ]),
    );
    let (outcome, events) = fx.run(Materialize::new("*")).await;
    assert_eq!(outcome.status, RunStatus::Failure);
    assert_eq!(outcome.succeeded, 5);
    assert_eq!(outcome.skipped, 1);
    assert_eq!(outcome.checks_passed, 1);
    assert_eq!(outcome.checks_failed.len(), 3);
    assert!(
        fx.latest("gated", None).is_some(),
        "the gated asset itself is materialized"
    );
    assert!(fx.latest("after_gate", None).is_none());
    assert!(fx.latest("after_warning", None).is_some());
    assert!(fx.latest("after_plain", None).is_some());
    let skipped = of(&events, "after_gate", "step_skipped");
    assert!(matches!(&skipped[0].kind,
        stemma::EventKind::StepSkipped { reason } if reason == "blocking check gated:gate failed"));

    let checks = fx.engine.instance().latest_checks().unwrap();
    let plain: Vec<(&str, bool)> = checks
        .iter()
        .filter(|c| c.asset.as_str() == "plain")
        .map(|c| (c.check.as_str(), c.passed))
        .collect();
    assert_eq!(plain, [("non_blocking", false), ("passing", true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_errors_or_panics_counts_as_failed() {
    let fx = Fixture::new(
        Definitions::new()
            .asset(asset("a", &[]))
            .asset(asset("b", &["a"]))
            .check(
                CheckDef::builder("explodes", "a")
                    .blocking(true)
                    .run_blocking(false, |_, _| -> Result<CheckResult, std::io::Error> {
                        Err(std::io::Error::other("cannot reach the validator"))
                    })
                    .build(),
            )
            .check(
                CheckDef::builder("panics", "a")
                    .run_blocking(false, |_, _| -> Result<CheckResult, std::io::Error> {
                        panic!("bad check")
                    })
                    .build(),
            ),
    );
    let (outcome, _) = fx.run(Materialize::new("*")).await;
    assert_eq!(outcome.skipped, 1);
    let mut failed: Vec<String> = outcome
        .checks_failed
        .iter()
        .map(|c| format!("{}: {}", c.check, c.description))
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        [
            "a:explodes: the check failed to run: cannot reach the validator",
            "a:panics: the check failed to run: panicked: bad check"
        ]
    );
}

/// An edited check (a new version) runs again on the asset's stored value even when the asset
/// itself is up to date; an unchanged one does not, and neither does the asset's body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_check_runs_again_on_the_stored_value() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let (bodies, checks) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let defs = |version: &str, passes: bool| {
        let (bodies, checks) = (Arc::clone(&bodies), Arc::clone(&checks));
        Definitions::new()
            .assets([AssetDef::builder("a")
                .code_version("1")
                .compute_blocking(move |_, _| {
                    bodies.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(Json(7))
                })
                .build()])
            .check(
                CheckDef::builder("small", "a")
                    .code_version(version)
                    .run_blocking(true, move |_, inputs| {
                        checks.fetch_add(1, Ordering::SeqCst);
                        let value: Json<i64> = inputs.get("a")?;
                        Ok::<_, stemma::Error>(CheckResult::from_bool(
                            passes && value.0 == 7,
                            format!("a is {}", value.0),
                        ))
                    })
                    .build(),
            )
    };
    let run = |defs: Definitions| {
        let engine =
            stemma_server::open_engine(stemma::AssetGraph::new(defs).unwrap(), dir.path()).unwrap();
        async move {
            engine
                .materialize(Materialize::new("a"), Arc::new(stemma::NoObserver))
                .await
                .unwrap()
        }
    };
    let first = run(defs("1", true)).await;
    assert_eq!((first.succeeded, first.checks_passed), (1, 1));
    let again = run(defs("1", true)).await;
    assert_eq!((again.up_to_date, again.checks_passed), (1, 0));
    assert_eq!(
        checks.load(Ordering::SeqCst),
        1,
        "an unchanged check is not run again"
    );
    let edited = run(defs("2", false)).await;
    assert_eq!(edited.up_to_date, 1, "the asset is still up to date");
    assert_eq!(bodies.load(Ordering::SeqCst), 1, "its body did not run");
    assert_eq!(
        checks.load(Ordering::SeqCst),
        2,
        "the edited check ran on the stored value"
    );
    assert_eq!(edited.checks_failed.len(), 1, "{edited:?}");
    let instance = stemma::Instance::open(dir.path()).unwrap();
    let latest = instance.latest_checks().unwrap();
    assert_eq!(latest.len(), 1);
    assert!(!latest[0].passed);
    assert_eq!(
        instance
            .check_code_version(&stemma::AssetKey::parse("a").unwrap(), None, "small")
            .unwrap(),
        Some(Some("2".to_owned()))
    );
}
