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
        .map(|(c, d)| format!("{c}: {d}"))
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
