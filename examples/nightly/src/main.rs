//! Nightly partitioned schedules: daily-partitioned events → daily aggregates → a weekly
//! rollup → a model retrained every night on the 28 days up to that night.
//!
//! ```text
//! cargo run -p nightly -- backfill --select '*' --partition '*'     # history first
//! cargo run -p nightly -- schedules list
//! cargo run -p nightly -- daemon                                   # fires 02:00 Berlin nightly
//! cargo run -p nightly -- partitions events
//! ```
//!
//! * `nightly`, 02:00 Europe/Berlin every day: yesterday's `events` and `daily_aggregates`,
//!   then `model`. Running by default.
//! * `weekly`, 03:00 Europe/Berlin on Mondays: last week's `weekly_rollup` (it reads its seven
//!   days through the time-window mapping). Stopped until `assets schedules start weekly`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use stemma::prelude::*;

/// One partition per day in Berlin since 1 October 2026, up to yesterday.
fn days() -> TimeWindows {
    TimeWindows::daily("2026-10-01").timezone("Europe/Berlin")
}

/// One partition per week (Monday to Sunday) in Berlin.
fn weeks() -> TimeWindows {
    TimeWindows::weekly("2026-10-01").timezone("Europe/Berlin")
}

/// An event as the product's tracker records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackedEvent {
    pub user_id: i64,
    pub kind: String,
    pub at: String,
}

/// Events of one kind on one day.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DailyCount {
    pub day: String,
    pub kind: String,
    pub events: i64,
    pub users: i64,
}

/// Events of one kind in one week.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeeklyCount {
    pub week: String,
    pub kind: String,
    pub events: i64,
    pub days: i64,
}

/// A linear trend of daily events, fitted by least squares.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrendModel {
    pub days: usize,
    pub slope: f64,
    pub intercept: f64,
    pub forecast_next_day: f64,
}

/// One day of tracked events (generated here, deterministically per day: more on weekdays, a
/// slow upward trend). `step_delay_ms` slows each day down, to watch a backfill; `step_gate`
/// (a named pipe) lets each day through only when a byte arrives on it, to hold a run at a
/// chosen day (the tests kill it there).
#[asset(partitions = days(), group = "nightly", kinds = ["parquet"])]
fn events(ctx: &AssetContext) -> AssetResult<Rows<TrackedEvent>> {
    let day = ctx.partition_key().ok_or("events is partitioned by day")?;
    let delay: u64 = ctx.config().get("step_delay_ms")?;
    if delay > 0 {
        std::thread::sleep(std::time::Duration::from_millis(delay));
    }
    let gate: String = ctx.config().get("step_gate")?;
    if !gate.is_empty() {
        let mut byte = [0u8];
        std::io::Read::read_exact(&mut std::fs::File::open(&gate)?, &mut byte)?;
    }
    let seed: i64 = day.bytes().map(i64::from).sum::<i64>() + day[8..].parse::<i64>()? * 31;
    let n = 200 + seed % 50 + day[5..7].parse::<i64>()? * 10;
    let kinds = ["view", "click", "purchase"];
    let rows = (0..n)
        .map(|i| TrackedEvent {
            user_id: (i * 7919 + seed) % 97,
            // Mostly views, some clicks, few purchases.
            kind: kinds[match (i * 13 + seed) % 10 {
                0..=6 => 0,
                7 | 8 => 1,
                _ => 2,
            }]
            .to_owned(),
            at: format!("{day}T{:02}:{:02}:00", i % 24, (i * 7) % 60),
        })
        .collect::<Vec<_>>();
    ctx.log.info(format!("{} events on {day}", rows.len()));
    Ok(Rows(rows))
}

/// Events and distinct users per kind, per day.
#[asset(partitions = days(), group = "nightly", kinds = ["parquet"])]
fn daily_aggregates(
    ctx: &AssetContext,
    events: Rows<TrackedEvent>,
) -> AssetResult<Rows<DailyCount>> {
    let day = ctx.partition_key().unwrap_or_default().to_owned();
    let mut by_kind: BTreeMap<String, (i64, BTreeSet<i64>)> = BTreeMap::new();
    for e in events.0 {
        let entry = by_kind.entry(e.kind).or_default();
        entry.0 += 1;
        entry.1.insert(e.user_id);
    }
    Ok(Rows(
        by_kind
            .into_iter()
            .map(|(kind, (n, users))| DailyCount {
                day: day.clone(),
                kind,
                events: n,
                users: users.len() as i64,
            })
            .collect(),
    ))
}

/// Events per kind per week: each week reads its seven days of `daily_aggregates` (daily
/// and weekly windows map onto each other by time).
#[asset(partitions = weeks(), group = "weekly", kinds = ["parquet"])]
fn weekly_rollup(
    ctx: &AssetContext,
    daily_aggregates: Rows<DailyCount>,
) -> AssetResult<Rows<WeeklyCount>> {
    let week = ctx.partition_key().unwrap_or_default().to_owned();
    let mut by_kind: BTreeMap<String, (i64, BTreeSet<String>)> = BTreeMap::new();
    for d in daily_aggregates.0 {
        let entry = by_kind.entry(d.kind).or_default();
        entry.0 += d.events;
        entry.1.insert(d.day);
    }
    Ok(Rows(
        by_kind
            .into_iter()
            .map(|(kind, (events, days))| WeeklyCount {
                week: week.clone(),
                kind,
                events,
                days: days.len() as i64,
            })
            .collect(),
    ))
}

/// Days of history each night's model is trained on.
const TRAINING_DAYS: i64 = 28;

/// A trend model of daily events, retrained every night on the 28 days up to that night:
/// partitioned by day, each partition reads a trailing window of `daily_aggregates`.
fn model() -> AssetDef {
    AssetDef::builder("model")
        .partitions(days())
        .group("nightly")
        .description("a linear trend of daily events, trained nightly on the last 28 days")
        .input_mapped(
            "daily_aggregates",
            PartitionMapping::TimeWindow {
                start_offset: 1 - TRAINING_DAYS,
                end_offset: 0,
            },
        )
        .code_version("1")
        .compute_blocking(|_, inputs| {
            let days: Rows<DailyCount> = inputs.get("daily_aggregates")?;
            Ok::<_, stemma::Error>(Json(fit(&days.0)?))
        })
        .build()
}

/// Least squares over the daily totals, in day order.
fn fit(days: &[DailyCount]) -> Result<TrendModel, stemma::Error> {
    let mut per_day: BTreeMap<&str, i64> = BTreeMap::new();
    for d in days {
        *per_day.entry(&d.day).or_default() += d.events;
    }
    let ys: Vec<f64> = per_day.values().map(|&v| v as f64).collect();
    if ys.is_empty() {
        return Err(stemma::Error::Value("no days to train on".into()));
    }
    let n = ys.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = ys.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, y) in ys.iter().enumerate() {
        let dx = x as f64 - mean_x;
        sxy += dx * (y - mean_y);
        sxx += dx * dx;
    }
    let slope = if sxx == 0.0 { 0.0 } else { sxy / sxx };
    let intercept = mean_y - slope * mean_x;
    Ok(TrendModel {
        days: ys.len(),
        slope,
        intercept,
        forecast_next_day: intercept + slope * n,
    })
}

fn definitions() -> Definitions {
    Definitions::new()
        .assets([events(), daily_aggregates(), weekly_rollup(), model()])
        .config(
            ConfigField::int("step_delay_ms", 0)
                .description("sleep this long in each day of events"),
        )
        .config(ConfigField::string("step_gate").default("").description(
            "a named pipe: each day of events waits for one byte on it (empty: no gate)",
        ))
        .schedule(
            ScheduleDef::new("nightly", "0 2 * * *", "Europe/Berlin")
                .select("group:nightly")
                .latest_completed_partition()
                .catch_up(CatchUp::UpTo(3))
                .running_by_default()
                .description("yesterday's events and aggregates, then the model"),
        )
        .schedule(
            ScheduleDef::new("weekly", "0 3 * * 1", "Europe/Berlin")
                .select("weekly_rollup")
                .latest_completed_partition()
                .description("last week's rollup"),
        )
}

fn main() -> std::process::ExitCode {
    stemma_server::cli::run(definitions())
}
