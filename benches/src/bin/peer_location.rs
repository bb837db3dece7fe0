//! The Stemma side of the Dagster comparison (`benches/peers/dagster/`): a code location whose
//! assets are generated at start-up, the same graphs `dagster_location.py` defines.
//!
//! * `PEER_SHAPE=layered` (default): `PEER_ASSETS` no-op assets in layers of 100, each after
//!   the first layer depending on two or three of the layer before.
//! * `PEER_SHAPE=daily`: one no-op asset partitioned by day, `PEER_PARTITIONS` days up to
//!   2026-01-01.

fn main() -> std::process::ExitCode {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let definitions = match std::env::var("PEER_SHAPE").as_deref() {
        Ok("daily") => {
            let days = env("PEER_PARTITIONS", 30);
            let end = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
            let start = end - chrono::Duration::days(days as i64);
            stemma::Definitions::new().asset(
                stemma::AssetDef::builder("daily_noop")
                    .partitions(
                        stemma::TimeWindows::daily(&start.to_string()).end(&end.to_string()),
                    )
                    .compute(|_, _| async { Ok::<_, std::io::Error>(()) })
                    .build(),
            )
        }
        _ => stemma_benches::layered(env("PEER_ASSETS", 1_000), 100),
    };
    stemma_server::cli::run(definitions)
}
