//! Cron schedules in an IANA time zone: which ticks are due, across daylight-saving changes and
//! after downtime.
//!
//! Expressions are parsed and evaluated by croner (Vixie-cron semantics), which treats the two
//! daylight-saving edge cases the way people expect:
//!
//! * a tick at a local time that does not exist (the spring gap) fires at the first valid time
//!   after it, the same day;
//! * a tick at a local time that happens twice (the autumn overlap) fires once.
//!
//! After downtime, [`CatchUp`] decides what happens to the ticks that were missed.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

use crate::model::error::{Error, Result};
use crate::model::spec::{PartitionKey, TimeWindows};

/// A cron expression in a time zone.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    expression: String,
    cron: Cron,
    tz: Tz,
}

/// What to do with ticks missed while nothing was evaluating the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatchUp {
    /// Fire only the most recent missed tick; record the others as skipped.
    Latest,
    /// Fire up to this many of the most recent missed ticks, oldest first; skip the rest.
    UpTo(usize),
}

/// The ticks due when a schedule is evaluated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DueTicks {
    /// To fire, oldest first.
    pub fire: Vec<DateTime<Utc>>,
    /// Missed and not fired, oldest first.
    pub skipped: Vec<DateTime<Utc>>,
}

/// At most this many missed ticks are looked at (a minutely schedule down for a week).
const MAX_MISSED: usize = 10_080;

impl CronSchedule {
    /// `expression` (five fields, or six with seconds) in time zone `tz` (`Europe/Berlin`).
    pub fn new(expression: &str, tz: &str) -> Result<Self> {
        let cron = Cron::from_str(expression)
            .map_err(|e| Error::Config(format!("cron expression {expression:?}: {e}")))?;
        let tz: Tz = tz.parse().map_err(|_| {
            Error::Config(format!(
                "unknown time zone {tz:?} (an IANA name such as Europe/Berlin)"
            ))
        })?;
        Ok(CronSchedule {
            expression: expression.to_owned(),
            cron,
            tz,
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The first tick strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The ticks in `(after, until]`, oldest first, at most `limit` of the most recent ones.
    pub fn ticks_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = std::collections::VecDeque::new();
        let mut t = after;
        while let Some(next) = self.next_after(t) {
            if next > until {
                break;
            }
            out.push_back(next);
            if out.len() > limit {
                out.pop_front();
            }
            t = next;
        }
        out.into()
    }

    /// The ticks due at `now`, given the last tick already handled (`None`: the schedule has
    /// just started, and nothing before `now` is owed).
    pub fn due(
        &self,
        last: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        catch_up: CatchUp,
    ) -> DueTicks {
        let Some(last) = last else {
            return DueTicks::default();
        };
        let missed = self.ticks_between(last, now, MAX_MISSED);
        let keep = match catch_up {
            CatchUp::Latest => 1,
            CatchUp::UpTo(n) => n.max(1),
        };
        let split = missed.len().saturating_sub(keep);
        DueTicks {
            skipped: missed[..split].to_vec(),
            fire: missed[split..].to_vec(),
        }
    }
}

/// Which partitions a schedule's runs materialize.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickPartitions {
    /// The selection is unpartitioned.
    None,
    /// The newest window of the selected time-window assets completed at the tick
    /// ("every night at 02:00, yesterday").
    LatestCompleted,
}

/// A schedule: a cron expression in a time zone that materializes a selection.
///
/// ```ignore
/// ScheduleDef::new("nightly", "0 2 * * *", "Europe/Berlin")
///     .select("group:rag")
///     .latest_completed_partition()
///     .catch_up(CatchUp::UpTo(3))
/// ```
#[derive(Clone, Debug)]
pub struct ScheduleDef {
    name: String,
    cron: std::result::Result<CronSchedule, String>,
    selection: String,
    partitions: TickPartitions,
    catch_up: CatchUp,
    running_by_default: bool,
    description: Option<String>,
}

impl ScheduleDef {
    /// Ticks at `cron` (five fields, or six with seconds) in time zone `tz`.
    pub fn new(name: &str, cron: &str, tz: &str) -> Self {
        ScheduleDef {
            name: name.to_owned(),
            cron: CronSchedule::new(cron, tz).map_err(|e| e.to_string()),
            selection: "*".into(),
            partitions: TickPartitions::None,
            catch_up: CatchUp::Latest,
            running_by_default: false,
            description: None,
        }
    }

    /// What each tick materializes (default `*`).
    pub fn select(mut self, selection: &str) -> Self {
        self.selection = selection.to_owned();
        self
    }

    /// Each tick materializes the newest partition completed at the tick time of the selected
    /// time-window assets (which must share one definition).
    pub fn latest_completed_partition(mut self) -> Self {
        self.partitions = TickPartitions::LatestCompleted;
        self
    }

    /// What to do with ticks missed while no daemon ran (default: fire only the latest).
    pub fn catch_up(mut self, catch_up: CatchUp) -> Self {
        self.catch_up = catch_up;
        self
    }

    /// Runs without `assets schedules start` (default: stopped until started).
    pub fn running_by_default(mut self) -> Self {
        self.running_by_default = true;
        self
    }

    pub fn description(mut self, text: &str) -> Self {
        self.description = Some(text.to_owned());
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn selection(&self) -> &str {
        &self.selection
    }

    pub fn partitions(&self) -> TickPartitions {
        self.partitions
    }

    pub fn catch_up_policy(&self) -> CatchUp {
        self.catch_up
    }

    pub fn is_running_by_default(&self) -> bool {
        self.running_by_default
    }

    pub fn description_text(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The cron schedule (an error for a bad expression or zone; the graph refuses those).
    pub fn cron(&self) -> Result<&CronSchedule> {
        self.cron
            .as_ref()
            .map_err(|e| Error::Definition(format!("schedule {}: {e}", self.name)))
    }
}

/// The partition a tick materializes: the newest window of `windows` completed at the tick
/// ("every night at 02:00, yesterday").
pub fn partition_for_tick(windows: &TimeWindows, tick: DateTime<Utc>) -> Option<PartitionKey> {
    let at = windows.clone().as_of(tick);
    at.len().checked_sub(1).and_then(|i| at.key_at(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn local(s: &CronSchedule, t: DateTime<Utc>) -> String {
        t.with_timezone(&s.tz())
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    #[test]
    fn berlin_spring_gap_fires_after_it_and_autumn_overlap_fires_once() {
        let s = CronSchedule::new("30 2 * * *", "Europe/Berlin").unwrap();
        // 29 March 2026: 02:00 jumps to 03:00, so 02:30 does not exist.
        let spring = s.ticks_between(utc("2026-03-28T00:00:00Z"), utc("2026-03-30T12:00:00Z"), 10);
        let shown: Vec<String> = spring.iter().map(|t| local(&s, *t)).collect();
        assert_eq!(
            shown,
            [
                "2026-03-28 02:30 CET",
                "2026-03-29 03:00 CEST",
                "2026-03-30 02:30 CEST"
            ]
        );
        // 25 October 2026: 02:00–03:00 happens twice; the tick fires once.
        let autumn = s.ticks_between(utc("2026-10-24T12:00:00Z"), utc("2026-10-26T12:00:00Z"), 10);
        let shown: Vec<String> = autumn.iter().map(|t| local(&s, *t)).collect();
        assert_eq!(shown, ["2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"]);
    }

    #[test]
    fn new_york_changes_too() {
        let s = CronSchedule::new("30 2 * * *", "America/New_York").unwrap();
        let spring = s.ticks_between(utc("2026-03-07T12:00:00Z"), utc("2026-03-09T12:00:00Z"), 10);
        let shown: Vec<String> = spring.iter().map(|t| local(&s, *t)).collect();
        assert_eq!(shown, ["2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"]);
        let s = CronSchedule::new("30 1 * * *", "America/New_York").unwrap();
        let autumn = s.ticks_between(utc("2026-10-31T12:00:00Z"), utc("2026-11-02T12:00:00Z"), 10);
        let shown: Vec<String> = autumn.iter().map(|t| local(&s, *t)).collect();
        assert_eq!(shown, ["2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"]);
    }

    #[test]
    fn catch_up_after_downtime() {
        let s = CronSchedule::new("0 2 * * *", "UTC").unwrap();
        let last = utc("2026-11-01T02:00:00Z");
        let now = utc("2026-11-05T09:00:00Z");
        let latest = s.due(Some(last), now, CatchUp::Latest);
        assert_eq!(latest.fire, [utc("2026-11-05T02:00:00Z")]);
        assert_eq!(latest.skipped.len(), 3);
        let two = s.due(Some(last), now, CatchUp::UpTo(2));
        assert_eq!(
            two.fire,
            [utc("2026-11-04T02:00:00Z"), utc("2026-11-05T02:00:00Z")]
        );
        assert_eq!(
            two.skipped,
            [utc("2026-11-02T02:00:00Z"), utc("2026-11-03T02:00:00Z")]
        );
        assert_eq!(s.due(None, now, CatchUp::Latest), DueTicks::default());
        let nothing = s.due(Some(utc("2026-11-05T02:00:00Z")), now, CatchUp::Latest);
        assert!(nothing.fire.is_empty() && nothing.skipped.is_empty());
    }

    #[test]
    fn a_nightly_tick_materializes_yesterday() {
        let days = TimeWindows::daily("2026-01-01").timezone("Europe/Berlin");
        let s = CronSchedule::new("0 2 * * *", "Europe/Berlin").unwrap();
        let tick = s.next_after(utc("2026-11-21T12:00:00Z")).unwrap();
        assert_eq!(local(&s, tick), "2026-11-22 02:00 CET");
        assert_eq!(
            partition_for_tick(&days, tick).unwrap().as_str(),
            "2026-11-21"
        );
    }

    #[test]
    fn mistakes_are_clear() {
        let e = CronSchedule::new("61 * * * *", "UTC")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cron expression \"61 * * * *\""), "{e}");
        let e = CronSchedule::new("0 2 * * *", "Europe/Berln")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown time zone"), "{e}");
    }
}
