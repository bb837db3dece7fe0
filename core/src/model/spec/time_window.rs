//! Time-window partitions: one partition per hour, day, week, month or cron interval in an
//! IANA time zone.
//!
//! Keys are computed, never listed: the position of a key, the key at a position and the
//! number of partitions are arithmetic on the calendar, so a definition with a million hourly
//! partitions costs nothing to hold or to ask about a range.
//!
//! * Days, weeks and months are counted on the local calendar, so a window is one day long
//!   even on the 23- and 25-hour days of a daylight-saving change.
//! * Hours are counted in absolute time: the autumn night has 25 hourly windows and the spring
//!   night 23. In a zone with daylight saving the default hourly key carries its UTC offset
//!   (`2026-10-25-02:00+01:00`), so the repeated hour gets two distinct keys.
//! * Without an end, the last partition is the last *completed* window as of when the
//!   definition was made (or [`TimeWindows::as_of`] another instant); `end_offset(n)` adds `n`
//!   windows beyond it (`1`: include the window in progress) or removes them (negative).
//! * A cron cadence (`TimeWindows::cron("0 6 * * MON-FRI", start)`) has one window from each
//!   tick to the next, on the local wall clock. Its positions are arithmetic too: every day the
//!   expression fires on, it fires at the same times of day, so a position is a count of
//!   matching days (a prefix table with one entry per calendar day, built once) times the ticks
//!   per day. A tick in the spring gap starts at the first valid time after it; a repeated
//!   autumn time starts at its first occurrence.

use std::fmt;
use std::sync::Arc;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{
    DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;

use super::PartitionKey;

/// How long a window is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cadence {
    Hourly,
    Daily,
    /// Weeks start on `week_start` (Monday unless changed).
    Weekly,
    /// Months start on day 1 (or `day_offset`).
    Monthly,
    /// From each tick of a cron expression to the next.
    Cron,
}

impl Cadence {
    fn name(self) -> &'static str {
        match self {
            Cadence::Hourly => "hourly",
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
            Cadence::Monthly => "monthly",
            Cadence::Cron => "cron",
        }
    }
}

/// Where the partitions end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// At a fixed local time (exclusive).
    At(NaiveDateTime),
    /// At the last window completed at an instant, plus an offset in windows.
    AsOf { now: DateTime<Utc>, offset: i64 },
}

/// Partitions by time window: `TimeWindows::daily("2026-01-01").timezone("Europe/Berlin")`.
#[derive(Clone, Debug)]
pub struct TimeWindows {
    cadence: Cadence,
    tz: Tz,
    /// What the user wrote, kept for messages.
    start_text: String,
    /// The first window's start, local.
    start: NaiveDateTime,
    /// The first window's start as an instant (hourly windows count from it).
    start_utc: DateTime<Utc>,
    end: End,
    format: Option<String>,
    /// The key format parsed once (computed when the definition changes): placing a million
    /// keys would otherwise parse the format a million times each way.
    items: Arc<[Item<'static>]>,
    /// Whether keys carry their UTC offset (`%z`, `%:z`).
    offset_in_key: bool,
    minute_offset: u32,
    hour_offset: u32,
    week_start: Weekday,
    day_offset: u32,
    /// Whether the zone observes daylight saving (computed when the zone changes).
    dst: bool,
    /// How many windows there are (computed when the definition changes).
    count: usize,
    /// The expression of a cron cadence.
    cron: Option<Arc<CronGrid>>,
    /// For a cron cadence: `days[k]` is how many of the first `k` calendar days from the
    /// start's date the expression fires on (`days[0] = 0`), far enough past the end to place
    /// every window's end.
    days: Arc<[u32]>,
    /// For a cron cadence: which of the day's ticks the first window starts at.
    first_slot: usize,
    /// Bad arguments (a time zone, an end), kept across changes.
    input_errors: Vec<String>,
    /// Everything wrong with the definition, recomputed on every change.
    errors: Vec<String>,
}

/// Two definitions are equal when they define the same windows: the instant an open-ended
/// definition was evaluated at does not count (the graph evaluates all of them at once).
impl PartialEq for TimeWindows {
    fn eq(&self, other: &Self) -> bool {
        let end = |e: &End| match *e {
            End::At(t) => (Some(t), 0),
            End::AsOf { offset, .. } => (None, offset),
        };
        self.cadence == other.cadence
            && self.tz == other.tz
            && self.start == other.start
            && end(&self.end) == end(&other.end)
            && self.format() == other.format()
            && self.minute_offset == other.minute_offset
            && self.hour_offset == other.hour_offset
            && self.week_start == other.week_start
            && self.day_offset == other.day_offset
            && self.cron.as_ref().map(|c| &c.expression)
                == other.cron.as_ref().map(|c| &c.expression)
    }
}

/// A cron expression and the times of day it fires at.
#[derive(Debug)]
struct CronGrid {
    expression: String,
    cron: croner::Cron,
    /// Every local time of day the expression fires at, in order (the same on every day it
    /// fires on: minutes and hours do not depend on the date).
    times: Vec<NaiveTime>,
}

impl CronGrid {
    fn new(expression: &str) -> Result<Self, String> {
        let cron: croner::Cron = expression
            .parse()
            .map_err(|e| format!("cron expression {expression:?}: {e}"))?;
        let p = &cron.pattern;
        let matches = |f: Result<bool, croner::errors::CronError>| f.unwrap_or(false);
        if (1..60).any(|s| matches(p.second_match(s))) || !matches(p.second_match(0)) {
            return Err(format!(
                "cron expression {expression:?}: a partition cadence fires on whole minutes \
                 (no seconds field)"
            ));
        }
        let times: Vec<NaiveTime> = (0..24)
            .filter(|&h| matches(p.hour_match(h)))
            .flat_map(|h| (0..60).map(move |m| (h, m)))
            .filter(|&(_, m)| matches(p.minute_match(m)))
            .filter_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0))
            .collect();
        if times.is_empty() {
            return Err(format!("cron expression {expression:?} never fires"));
        }
        Ok(CronGrid {
            expression: expression.to_owned(),
            cron,
            times,
        })
    }

    /// Whether the expression fires on `date` (at its first time of day, which every matching
    /// day has).
    fn fires_on(&self, date: NaiveDate) -> bool {
        self.cron
            .is_time_matching(&date.and_time(self.times[0]))
            .unwrap_or(false)
    }
}

impl TimeWindows {
    /// One partition per hour from `start` (`2026-01-01` or `2026-01-01 06:00`).
    pub fn hourly(start: &str) -> Self {
        Self::new(Cadence::Hourly, start)
    }

    /// One partition per day from `start`.
    pub fn daily(start: &str) -> Self {
        Self::new(Cadence::Daily, start)
    }

    /// One partition per week from the first week start at or after `start`.
    pub fn weekly(start: &str) -> Self {
        Self::new(Cadence::Weekly, start)
    }

    /// One partition per month from the first month start at or after `start`.
    pub fn monthly(start: &str) -> Self {
        Self::new(Cadence::Monthly, start)
    }

    /// One partition per interval between consecutive ticks of a cron expression, from the
    /// first tick at or after `start` (`0 6 * * MON-FRI`: from 06:00 each weekday to 06:00 the
    /// next weekday). Keys are the local start times (`2026-01-05-06:00`).
    pub fn cron(expression: &str, start: &str) -> Self {
        let mut tw = Self::unrefreshed(Cadence::Cron, start);
        match CronGrid::new(expression) {
            Ok(grid) => tw.cron = Some(Arc::new(grid)),
            Err(e) => tw.input_errors.push(e),
        }
        tw.refresh();
        tw
    }

    /// Windows of `cadence` from `start` (`2026-01-01` or `2026-01-01 06:00`), in UTC, up to the
    /// last completed one now. (A cron cadence needs its expression: [`TimeWindows::cron`].)
    pub fn new(cadence: Cadence, start: &str) -> Self {
        let mut tw = Self::unrefreshed(cadence, start);
        if cadence == Cadence::Cron {
            tw.input_errors
                .push("a cron cadence needs an expression (TimeWindows::cron)".into());
        }
        tw.refresh();
        tw
    }

    fn unrefreshed(cadence: Cadence, start: &str) -> Self {
        TimeWindows {
            cadence,
            tz: Tz::UTC,
            start_text: start.to_owned(),
            start: NaiveDateTime::MIN,
            start_utc: DateTime::<Utc>::MIN_UTC,
            // Up to now — or to the instant a replaying process acts at (`STEMMA_NOW`).
            end: End::AsOf {
                now: crate::model::clock::replayed_now().unwrap_or_else(Utc::now),
                offset: 0,
            },
            format: None,
            items: Arc::from(Vec::new()),
            offset_in_key: false,
            minute_offset: 0,
            hour_offset: 0,
            week_start: Weekday::Mon,
            day_offset: 1,
            dst: false,
            count: 0,
            cron: None,
            days: Arc::from(Vec::new()),
            first_slot: 0,
            input_errors: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The cron expression of a cron cadence.
    pub fn cron_expression(&self) -> Option<&str> {
        self.cron.as_ref().map(|c| c.expression.as_str())
    }

    /// The IANA time zone windows are aligned in (`Europe/Berlin`); UTC by default.
    pub fn timezone(mut self, tz: &str) -> Self {
        match tz.parse::<Tz>() {
            Ok(tz) => self.tz = tz,
            Err(_) => self.input_errors.push(format!(
                "unknown time zone {tz:?} (an IANA name such as Europe/Berlin)"
            )),
        }
        self.refresh();
        self
    }

    /// The key format (chrono's strftime); the default depends on the cadence.
    pub fn format(&self) -> &str {
        self.format.as_deref().unwrap_or(match self.cadence {
            Cadence::Hourly if self.dst => "%Y-%m-%d-%H:%M%:z",
            Cadence::Hourly => "%Y-%m-%d-%H:%M",
            Cadence::Daily | Cadence::Weekly => "%Y-%m-%d",
            Cadence::Monthly => "%Y-%m",
            Cadence::Cron => "%Y-%m-%d-%H:%M",
        })
    }

    pub fn with_format(mut self, format: &str) -> Self {
        self.format = Some(format.to_owned());
        self.refresh();
        self
    }

    /// Windows start this many minutes past the hour.
    pub fn minute_offset(mut self, minutes: u32) -> Self {
        self.minute_offset = minutes;
        self.refresh();
        self
    }

    /// Daily and longer windows start at this hour.
    pub fn hour_offset(mut self, hours: u32) -> Self {
        self.hour_offset = hours;
        self.refresh();
        self
    }

    /// Weekly windows start on this day.
    pub fn week_start(mut self, day: Weekday) -> Self {
        self.week_start = day;
        self.refresh();
        self
    }

    /// Monthly windows start on this day of the month (1–28).
    pub fn day_offset(mut self, day: u32) -> Self {
        self.day_offset = day;
        self.refresh();
        self
    }

    /// The partitions end at `end` (exclusive; `2027-01-01`) instead of at the present.
    pub fn end(mut self, end: &str) -> Self {
        match parse_local(end) {
            Some(t) => self.end = End::At(t),
            None => self.input_errors.push(format!(
                "end {end:?} is not a date (2026-12-31) or a local time (2026-12-31 06:00)"
            )),
        }
        self.refresh();
        self
    }

    /// `n` windows beyond the last completed one (`1`: include the one in progress).
    pub fn end_offset(mut self, n: i64) -> Self {
        if let End::AsOf { now, .. } = self.end {
            self.end = End::AsOf { now, offset: n };
        }
        self.refresh();
        self
    }

    /// The same windows as of `now` (the daemon and tests move time with this).
    pub fn as_of(mut self, now: DateTime<Utc>) -> Self {
        if let End::AsOf { offset, .. } = self.end {
            self.end = End::AsOf { now, offset };
        }
        self.refresh();
        self
    }

    pub fn cadence(&self) -> Cadence {
        self.cadence
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(crate) fn problems(&self) -> Vec<String> {
        self.errors.clone()
    }

    fn zone_has_dst(&self) -> bool {
        // A zone observes daylight saving if January and July differ in offset.
        let year = 2026;
        let offset = |m: u32| {
            self.tz
                .from_utc_datetime(
                    &NaiveDate::from_ymd_opt(year, m, 1)
                        .unwrap_or_default()
                        .and_time(NaiveTime::MIN),
                )
                .offset()
                .to_string()
        };
        offset(1) != offset(7)
    }

    /// Recomputes the aligned start and the count after a change.
    fn refresh(&mut self) {
        self.dst = self.zone_has_dst();
        let mut errors = self.input_errors.clone();
        if self.minute_offset > 59 || self.hour_offset > 23 || !(1..=28).contains(&self.day_offset)
        {
            errors.push("offsets out of range (minute 0–59, hour 0–23, day of month 1–28)".into());
        }
        match parse_local(&self.start_text) {
            Some(t) => {
                self.start = self.align_up(t);
                if self.start == NaiveDateTime::MAX {
                    errors.push(format!("the cron expression never fires after {t}"));
                }
            }
            None => errors.push(format!(
                "start {:?} is not a date (2026-01-01) or a local time (2026-01-01 06:00)",
                self.start_text
            )),
        }
        let format = self.format().to_owned();
        match StrftimeItems::new(&format).parse_to_owned() {
            Ok(items) => self.items = items.into(),
            Err(e) => errors.push(format!("format {format:?}: {e}")),
        }
        self.offset_in_key = format.contains("%z") || format.contains("%:z");
        if let Some(bad) = ['/', '\\', ',', '*', '[', ']', '{', '}']
            .iter()
            .find(|c| format.contains(**c))
        {
            errors.push(format!("format {format:?}: keys cannot contain {bad:?}"));
        } else if self.cadence == Cadence::Hourly
            && self.dst
            && !format.contains("%z")
            && !format.contains("%:z")
        {
            errors.push(format!(
                "format {format:?}: in {} an hour repeats when clocks go back; include the offset (%:z) so each hourly key is unique",
                self.tz
            ));
        }
        if errors.is_empty()
            && let Some(grid) = &self.cron
        {
            match self.cron_days(grid) {
                Ok(days) => {
                    self.days = days.into();
                    self.first_slot = grid.times.partition_point(|&t| t < self.start.time());
                }
                Err(e) => errors.push(e),
            }
        }
        self.start_utc = self.to_utc(self.start);
        self.errors = errors;
        self.count = if self.errors.is_empty() {
            self.compute_count()
        } else {
            0
        };
    }

    /// The prefix table of the days a cron cadence fires on, from the start's date to past the
    /// end: far enough that the window after the last (and `end_offset` more) can be placed.
    fn cron_days(&self, grid: &CronGrid) -> Result<Vec<u32>, String> {
        /// A Gregorian cycle: an expression that fires at all fires within one.
        const CYCLE: i64 = 146_097;
        let first = self.start.date();
        let last = match self.end {
            End::At(t) => t.date(),
            End::AsOf { now, .. } => now.with_timezone(&self.tz).date_naive(),
        };
        let per_day = grid.times.len() as i64;
        let ahead = match self.end {
            End::AsOf { offset, .. } if offset > 0 => offset.div_euclid(per_day) + 2,
            _ => 2,
        };
        let mut days = vec![0u32];
        let (mut fired, mut after_end) = (0u32, 0i64);
        let mut date = first;
        loop {
            if date > last && after_end >= ahead {
                return Ok(days);
            }
            if (date - first).num_days() > (last - first).num_days().max(0) + CYCLE {
                return Err(format!(
                    "cron expression {:?} does not fire again after {last}",
                    grid.expression
                ));
            }
            if grid.fires_on(date) {
                fired += 1;
                if date > last {
                    after_end += 1;
                }
            }
            days.push(fired);
            date = date.succ_opt().ok_or("the calendar ends")?;
        }
    }

    /// The start of cron window `i` (any `i` the day table reaches), local.
    fn cron_tick(&self, i: i64) -> Option<NaiveDateTime> {
        let grid = self.cron.as_ref()?;
        let per_day = grid.times.len() as i64;
        let j = i.checked_add(self.first_slot as i64).filter(|&j| j >= 0)?;
        let (day, slot) = (j / per_day, (j % per_day) as usize);
        // The first k whose count passes `day`: day number `day` is the k-th calendar day.
        let k = self.days.partition_point(|&c| i64::from(c) <= day);
        (k < self.days.len())
            .then(|| (self.start.date() + Duration::days(k as i64 - 1)).and_time(grid.times[slot]))
    }

    /// The position of the cron window containing local time `t` (`-1` before the first; past
    /// the day table, a position past the end).
    fn cron_floor_index(&self, t: NaiveDateTime) -> i64 {
        let Some(grid) = &self.cron else {
            return -1;
        };
        let k = (t.date() - self.start.date()).num_days();
        if k < 0 {
            return -1;
        }
        let k = k as usize;
        let per_day = grid.times.len() as i64;
        let Some(&before) = self.days.get(k) else {
            let total = i64::from(self.days.last().copied().unwrap_or(0));
            return total * per_day;
        };
        let today = match self.days.get(k + 1) {
            Some(&next) if next > before => grid.times.partition_point(|&x| x <= t.time()),
            _ => 0,
        };
        i64::from(before) * per_day + today as i64 - self.first_slot as i64 - 1
    }

    fn compute_count(&self) -> usize {
        let end_index = match self.end {
            End::At(t) => self.floor_index_local(t),
            End::AsOf { now, offset } => self.floor_index_utc(now) + offset,
        };
        end_index.max(0) as usize
    }

    /// The first window start at or after `t`.
    fn align_up(&self, t: NaiveDateTime) -> NaiveDateTime {
        if let Some(grid) = &self.cron {
            return grid
                .cron
                .find_next_occurrence(&t, true)
                .unwrap_or(NaiveDateTime::MAX);
        }
        let floor = self.window_floor(t);
        if floor == t {
            floor
        } else {
            self.step(floor, 1)
        }
    }

    /// The start of the window containing local time `t` (on the cadence's grid).
    fn window_floor(&self, t: NaiveDateTime) -> NaiveDateTime {
        let at = |d: NaiveDate| {
            d.and_hms_opt(self.hour_offset, self.minute_offset, 0)
                .unwrap_or(d.and_time(NaiveTime::MIN))
        };
        match self.cadence {
            Cadence::Hourly => {
                let candidate = t
                    .date()
                    .and_hms_opt(t.hour(), self.minute_offset, 0)
                    .unwrap_or(t);
                if candidate <= t {
                    candidate
                } else {
                    candidate - Duration::hours(1)
                }
            }
            Cadence::Daily => {
                let candidate = at(t.date());
                if candidate <= t {
                    candidate
                } else {
                    at(t.date() - Duration::days(1))
                }
            }
            Cadence::Weekly => {
                let back = (7 + t.weekday().num_days_from_monday() as i64
                    - self.week_start.num_days_from_monday() as i64)
                    % 7;
                let candidate = at(t.date() - Duration::days(back));
                if candidate <= t {
                    candidate
                } else {
                    at(t.date() - Duration::days(back + 7))
                }
            }
            Cadence::Monthly => {
                let this = NaiveDate::from_ymd_opt(t.year(), t.month(), self.day_offset).map(at);
                match this {
                    Some(c) if c <= t => c,
                    _ => {
                        let prev = t.date() - Months::new(1);
                        NaiveDate::from_ymd_opt(prev.year(), prev.month(), self.day_offset)
                            .map(at)
                            .unwrap_or(t)
                    }
                }
            }
            Cadence::Cron => self
                .cron
                .as_ref()
                .and_then(|g| g.cron.find_previous_occurrence(&t, true).ok())
                .unwrap_or(t),
        }
    }

    /// The window start `n` windows after window start `t` (local; hours in absolute time).
    fn step(&self, t: NaiveDateTime, n: i64) -> NaiveDateTime {
        match self.cadence {
            Cadence::Hourly => {
                let utc = self.to_utc(t) + Duration::hours(n);
                utc.with_timezone(&self.tz).naive_local()
            }
            Cadence::Daily => t + Duration::days(n),
            Cadence::Weekly => t + Duration::days(7 * n),
            Cadence::Monthly => {
                if n >= 0 {
                    t + Months::new(n as u32)
                } else {
                    t - Months::new((-n) as u32)
                }
            }
            // On the day table, which reaches past the end of the last window.
            Cadence::Cron => self
                .cron_tick(self.cron_floor_index(t) + n)
                .unwrap_or(NaiveDateTime::MAX),
        }
    }

    /// A local time as an instant: a time skipped by the spring change is read as the first
    /// valid time after it; a repeated autumn time as its first occurrence.
    fn to_utc(&self, t: NaiveDateTime) -> DateTime<Utc> {
        match self.tz.from_local_datetime(&t) {
            LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => d.with_timezone(&Utc),
            LocalResult::None => {
                // Spring forward: the first valid minute after the gap.
                let mut probe = t;
                for _ in 0..180 {
                    probe += Duration::minutes(1);
                    if let LocalResult::Single(d) | LocalResult::Ambiguous(d, _) =
                        self.tz.from_local_datetime(&probe)
                    {
                        return d.with_timezone(&Utc);
                    }
                }
                Utc.from_utc_datetime(&t)
            }
        }
    }

    /// The index of the window containing instant `now` (may be negative or ≥ len).
    fn floor_index_utc(&self, now: DateTime<Utc>) -> i64 {
        match self.cadence {
            Cadence::Hourly => (now - self.start_utc).num_seconds().div_euclid(3600),
            _ => self.floor_index_local(now.with_timezone(&self.tz).naive_local()),
        }
    }

    /// The index of the window containing local time `t`.
    fn floor_index_local(&self, t: NaiveDateTime) -> i64 {
        match self.cadence {
            Cadence::Hourly => self.floor_index_utc(self.to_utc(t)),
            Cadence::Daily => (self.window_floor(t).date() - self.start.date()).num_days(),
            Cadence::Weekly => (self.window_floor(t).date() - self.start.date())
                .num_days()
                .div_euclid(7),
            Cadence::Monthly => {
                let f = self.window_floor(t);
                (f.year() as i64 - self.start.year() as i64) * 12 + f.month() as i64
                    - self.start.month() as i64
            }
            Cadence::Cron => self.cron_floor_index(t),
        }
    }

    /// The start of window `i`, local.
    pub fn window_start(&self, i: usize) -> NaiveDateTime {
        match self.cadence {
            Cadence::Cron => self.cron_tick(i as i64).unwrap_or(NaiveDateTime::MAX),
            _ => self.step(self.start, i as i64),
        }
    }

    /// Window `i` as instants `[start, end)`.
    pub fn window(&self, i: usize) -> (DateTime<Utc>, DateTime<Utc>) {
        let start = self.window_start(i);
        let end = self.step(start, 1);
        (self.to_utc(start), self.to_utc(end))
    }

    /// The first and last positions (unclamped: negative or past the end are windows outside
    /// the definition) of the windows overlapping `[start, end)`; `None` for an empty span.
    pub fn overlapping(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Option<(i64, i64)> {
        if end <= start {
            return None;
        }
        let first = self.floor_index_utc(start);
        let last = self.floor_index_utc(end - Duration::microseconds(1));
        Some((first, last))
    }

    /// The key of window `i`.
    pub fn key_at(&self, i: usize) -> Option<PartitionKey> {
        if i >= self.count {
            return None;
        }
        let mut text = String::new();
        self.write_key(i, &mut text).ok()?;
        PartitionKey::new(&text).ok()
    }

    /// Writes the key of window `i` (any `i` the cadence can place, past the end too).
    fn write_key(&self, i: usize, out: &mut impl fmt::Write) -> fmt::Result {
        match self.cadence {
            // Hourly keys are formatted from the instant, so the offset is the right one.
            Cadence::Hourly => {
                let utc = self.start_utc + Duration::hours(i as i64);
                let local = utc.with_timezone(&self.tz);
                write!(out, "{}", local.format_with_items(self.items.iter()))
            }
            _ => {
                let start = self.window_start(i);
                write!(out, "{}", start.format_with_items(self.items.iter()))
            }
        }
    }

    /// The position of `key`, if it is one of these windows' keys.
    pub fn index_of(&self, key: &str) -> Option<usize> {
        self.position(key)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < self.count)
    }

    /// The position of `key` among the windows from the start on, past the end too (a cron
    /// cadence places only the windows its day table reaches): the instance keeps status by
    /// these positions, so a moved end keeps what it knows.
    pub fn position(&self, key: &str) -> Option<u64> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, key, self.items.iter()).ok()?;
        let i = if self.offset_in_key {
            self.floor_index_utc(parsed.to_datetime().ok()?.with_timezone(&Utc))
        } else {
            let at_offsets = |d: NaiveDate| {
                d.and_hms_opt(self.hour_offset, self.minute_offset, 0)
                    .unwrap_or_default()
            };
            let t = parsed
                .to_naive_datetime_with_offset(0)
                .ok()
                .or_else(|| parsed.to_naive_date().ok().map(at_offsets))
                .or_else(|| {
                    // Month formats (%Y-%m) have no day.
                    parsed.set_day(i64::from(self.day_offset)).ok()?;
                    parsed.to_naive_date().ok().map(at_offsets)
                })?;
            self.floor_index_local(t)
        };
        let i = usize::try_from(i).ok()?;
        if self.cadence == Cadence::Cron && i >= self.count {
            return None;
        }
        // Round trip: only the canonical key of a window is accepted.
        let mut same = SameAs { rest: key };
        (self.write_key(i, &mut same).is_ok() && same.rest.is_empty()).then_some(i as u64)
    }

    /// The positions of the windows overlapping `[from, to]` (keys), clamped to the range.
    pub fn range(&self, from: &str, to: &str) -> Option<std::ops::Range<usize>> {
        let a = self.index_of(from)?;
        let b = self.index_of(to)?;
        (a <= b).then_some(a..b + 1)
    }

    /// What fixes the position of every key ([`TimeWindows::position`]): equal fingerprints
    /// mean a key has the same position in both definitions. The end does not count (positions
    /// go past it), except for a cron cadence, which places keys only up to its last window:
    /// there the number of windows counts.
    pub fn fingerprint(&self) -> String {
        let cadence = match self.cron_expression() {
            Some(e) => format!("cron({e}) up to {}", self.count),
            None => self.cadence.name().to_owned(),
        };
        format!(
            "time-window v2 {cadence} {} {} {:?} {} {} {} {}",
            self.tz.name(),
            self.start,
            self.format(),
            self.minute_offset,
            self.hour_offset,
            self.week_start,
            self.day_offset
        )
    }

    pub fn describe(&self) -> String {
        let first = self
            .key_at(0)
            .map(|k| k.to_string())
            .unwrap_or_else(|| "–".into());
        let last = self
            .count
            .checked_sub(1)
            .and_then(|i| self.key_at(i))
            .map(|k| k.to_string())
            .unwrap_or_else(|| "–".into());
        let cadence = match self.cron_expression() {
            Some(e) => format!("cron `{e}`"),
            None => self.cadence.name().to_owned(),
        };
        format!(
            "{cadence} in {} ({}): {first} … {last}",
            self.tz, self.count
        )
    }
}

impl fmt::Display for TimeWindows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Compares what is written with a text as it is written (placing a key allocates nothing).
struct SameAs<'a> {
    rest: &'a str,
}

impl fmt::Write for SameAs<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.rest = self.rest.strip_prefix(s).ok_or(fmt::Error)?;
        Ok(())
    }
}

fn parse_local(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_time(NaiveTime::MIN))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn daily_up_to_the_last_completed_day() {
        let d = TimeWindows::new(Cadence::Daily, "2026-01-01").as_of(utc("2026-01-10T12:00:00Z"));
        assert!(d.problems().is_empty(), "{:?}", d.problems());
        assert_eq!(d.len(), 9, "the 10th is in progress");
        assert_eq!(d.key_at(0).unwrap().as_str(), "2026-01-01");
        assert_eq!(d.key_at(8).unwrap().as_str(), "2026-01-09");
        assert_eq!(d.key_at(9), None);
        assert_eq!(d.index_of("2026-01-05"), Some(4));
        assert_eq!(d.index_of("2026-01-10"), None);
        assert_eq!(d.index_of("2025-12-31"), None);
        assert_eq!(d.index_of("2026-1-5"), None, "only canonical keys");
        assert_eq!(d.clone().end_offset(1).len(), 10);
        assert_eq!(d.clone().end_offset(-2).len(), 7);
        assert_eq!(d.range("2026-01-02", "2026-01-04"), Some(1..4));
        // Positions go past the end (status kept by position survives a moved end), never
        // before the start, and only for canonical keys.
        assert_eq!(d.position("2026-01-10"), Some(9));
        assert_eq!(d.position("2027-01-01"), Some(365));
        assert_eq!(d.position("2025-12-31"), None);
        assert_eq!(d.position("2026-01-10 "), None);
        let monthly = TimeWindows::monthly("2026-01-01").end("2026-03-01");
        assert_eq!(monthly.index_of("2026-02"), Some(1));
        assert_eq!(monthly.position("2026-07"), Some(6));
        assert_eq!(monthly.index_of("2026-2"), None);
    }

    #[test]
    fn a_million_hourly_partitions_cost_nothing() {
        let h = TimeWindows::new(Cadence::Hourly, "1910-01-01").end("2024-01-29 16:00");
        assert_eq!(h.len(), 1_000_000);
        assert_eq!(h.key_at(999_999).unwrap().as_str(), "2024-01-29-15:00");
        assert_eq!(h.index_of("2024-01-29-15:00"), Some(999_999));
    }

    #[test]
    fn days_in_berlin_span_the_daylight_saving_changes() {
        // Spring (29 March 2026: 23 hours) and autumn (25 October 2026: 25 hours).
        let d = TimeWindows::new(Cadence::Daily, "2026-03-28")
            .timezone("Europe/Berlin")
            .end("2026-10-27");
        let spring = d.index_of("2026-03-29").unwrap();
        let (a, b) = d.window(spring);
        assert_eq!((b - a).num_hours(), 23);
        let autumn = d.index_of("2026-10-25").unwrap();
        let (a, b) = d.window(autumn);
        assert_eq!((b - a).num_hours(), 25);
        assert_eq!(a, utc("2026-10-24T22:00:00Z"));
    }

    #[test]
    fn hourly_keys_in_new_york_are_unique_across_both_changes() {
        let h = TimeWindows::new(Cadence::Hourly, "2026-03-08")
            .timezone("America/New_York")
            .end("2026-03-09");
        assert_eq!(h.len(), 23, "spring forward: 02:00 does not exist");
        assert_eq!(h.key_at(2).unwrap().as_str(), "2026-03-08-03:00-04:00");
        let h = TimeWindows::new(Cadence::Hourly, "2026-11-01")
            .timezone("America/New_York")
            .end("2026-11-02");
        assert_eq!(h.len(), 25, "fall back: 01:00 happens twice");
        let first = h.key_at(1).unwrap();
        let second = h.key_at(2).unwrap();
        assert_eq!(first.as_str(), "2026-11-01-01:00-04:00");
        assert_eq!(second.as_str(), "2026-11-01-01:00-05:00");
        assert_eq!(h.index_of(second.as_str()), Some(2));
        let bad = TimeWindows::new(Cadence::Hourly, "2026-01-01")
            .timezone("America/New_York")
            .with_format("%Y-%m-%d-%H:%M");
        assert!(
            bad.problems()[0].contains("include the offset"),
            "{:?}",
            bad.problems()
        );
    }

    #[test]
    fn weeks_and_months_align_to_their_starts() {
        let w = TimeWindows::new(Cadence::Weekly, "2026-01-01").end("2026-02-01");
        // 1 January 2026 is a Thursday: the first week starts Monday 5 January.
        assert_eq!(w.key_at(0).unwrap().as_str(), "2026-01-05");
        assert_eq!(w.len(), 3);
        assert_eq!(w.index_of("2026-01-19"), Some(2));
        assert_eq!(w.index_of("2026-01-20"), None);
        let m = TimeWindows::new(Cadence::Monthly, "2025-11-01")
            .timezone("Australia/Sydney")
            .as_of(utc("2026-03-15T00:00:00Z"));
        assert_eq!(m.len(), 4);
        assert_eq!(m.key_at(3).unwrap().as_str(), "2026-02");
        assert_eq!(m.index_of("2026-01"), Some(2));
    }

    #[test]
    fn definitions_made_at_different_moments_are_equal() {
        let a = TimeWindows::daily("2026-01-01").as_of(utc("2026-03-01T00:00:00Z"));
        let b = TimeWindows::daily("2026-01-01").as_of(utc("2026-03-05T00:00:00Z"));
        assert_eq!(a, b);
        assert_ne!(a.len(), b.len());
        assert_ne!(
            a,
            TimeWindows::daily("2026-01-01").timezone("Europe/Berlin")
        );
        assert_ne!(a, TimeWindows::daily("2026-01-01").end("2026-02-01"));
    }

    #[test]
    fn cron_windows_run_from_tick_to_tick() {
        // Weekdays at 06:00 in Berlin; 1 January 2026 is a Thursday.
        let w = TimeWindows::cron("0 6 * * MON-FRI", "2026-01-01")
            .timezone("Europe/Berlin")
            .as_of(utc("2026-01-12T12:00:00Z"));
        assert!(w.problems().is_empty(), "{:?}", w.problems());
        assert_eq!(w.len(), 7, "1, 2, 5–9 January; the 12th is in progress");
        assert_eq!(w.key_at(0).unwrap().as_str(), "2026-01-01-06:00");
        assert_eq!(w.key_at(2).unwrap().as_str(), "2026-01-05-06:00");
        let (a, b) = w.window(1);
        assert_eq!(
            (a, b),
            (utc("2026-01-02T05:00:00Z"), utc("2026-01-05T05:00:00Z"))
        );
        assert_eq!(w.index_of("2026-01-09-06:00"), Some(6));
        assert_eq!(w.index_of("2026-01-03-06:00"), None, "a Saturday");
        assert_eq!(w.index_of("2026-01-12-06:00"), None, "not completed");
        assert_eq!(w.clone().end_offset(1).len(), 8);
        assert_eq!(
            w.overlapping(utc("2026-01-03T00:00:00Z"), utc("2026-01-06T00:00:00Z")),
            Some((1, 2))
        );
        assert!(
            w.describe()
                .starts_with("cron `0 6 * * MON-FRI` in Europe/Berlin (7)"),
            "{}",
            w.describe()
        );

        // Twice a day, and on chosen days of the month.
        let t = TimeWindows::cron("0 9,17 * * *", "2026-01-01 12:00").end("2026-01-03");
        let keys: Vec<String> = (0..t.len())
            .map(|i| t.key_at(i).unwrap().to_string())
            .collect();
        assert_eq!(
            keys,
            ["2026-01-01-17:00", "2026-01-02-09:00"],
            "the last ends at 17:00 on the 2nd"
        );
        let m = TimeWindows::cron("0 12 1,15 * *", "2026-01-01").end("2026-12-31");
        assert_eq!(
            m.len(),
            23,
            "the window from 15 December runs into next year"
        );
        assert_eq!(m.key_at(22).unwrap().as_str(), "2026-12-01-12:00");
        assert_eq!(m.index_of("2026-06-15-12:00"), Some(11));
    }

    #[test]
    fn cron_windows_across_daylight_saving() {
        let w = TimeWindows::cron("30 2 * * *", "2026-03-27")
            .timezone("Europe/Berlin")
            .end("2026-10-27");
        // 02:30 does not exist on 29 March: that window starts at 03:00 CEST.
        let spring = w.index_of("2026-03-29-02:30").unwrap();
        assert_eq!(w.window(spring).0, utc("2026-03-29T01:00:00Z"));
        let (a, b) = w.window(spring - 1);
        assert_eq!((b - a).num_minutes(), 23 * 60 + 30);
        // 02:30 happens twice on 25 October: the window starts at the first.
        let autumn = w.index_of("2026-10-25-02:30").unwrap();
        assert_eq!(w.window(autumn).0, utc("2026-10-25T00:30:00Z"));
        assert_eq!(autumn - spring, 210, "one window per day");
    }

    #[test]
    fn cron_positions_are_arithmetic_at_scale() {
        let q = TimeWindows::cron("*/15 * * * *", "2000-01-01").end("2026-01-01");
        assert_eq!(q.len(), 9497 * 96);
        let last = q.key_at(q.len() - 1).unwrap();
        assert_eq!(last.as_str(), "2025-12-31-23:45");
        assert_eq!(q.index_of(last.as_str()), Some(q.len() - 1));
        assert_eq!(q.index_of("2013-07-04-10:15"), Some(4933 * 96 + 41));
    }

    #[test]
    fn cron_mistakes_are_named() {
        let p = |w: TimeWindows| w.problems().join("; ");
        assert!(
            p(TimeWindows::cron("61 * * * *", "2026-01-01"))
                .contains("cron expression \"61 * * * *\"")
        );
        assert!(p(TimeWindows::cron("*/10 * * * * *", "2026-01-01")).contains("whole minutes"));
        assert!(p(TimeWindows::cron("0 0 30 2 *", "2026-01-01")).contains("never fires"));
        assert!(p(TimeWindows::new(Cadence::Cron, "2026-01-01")).contains("needs an expression"));
        assert_ne!(
            TimeWindows::cron("0 6 * * *", "2026-01-01"),
            TimeWindows::cron("0 7 * * *", "2026-01-01")
        );
        assert_eq!(
            TimeWindows::cron("0 6 * * *", "2026-01-01").fingerprint(),
            TimeWindows::cron("0 6 * * *", "2026-01-01").fingerprint()
        );
    }

    #[test]
    fn offsets_formats_and_mistakes() {
        let d = TimeWindows::new(Cadence::Daily, "2026-01-01")
            .hour_offset(6)
            .with_format("%Y%m%d")
            .as_of(utc("2026-01-03T05:00:00Z"));
        assert_eq!(d.len(), 1, "the window of the 2nd ends at 06:00 on the 3rd");
        assert_eq!(d.key_at(0).unwrap().as_str(), "20260101");
        assert_eq!(d.index_of("20260101"), Some(0));
        let bad = TimeWindows::new(Cadence::Daily, "yesterday").timezone("Mars/Olympus");
        let p = bad.problems().join("; ");
        assert!(
            p.contains("unknown time zone") && p.contains("start \"yesterday\""),
            "{p}"
        );
        let bad = TimeWindows::new(Cadence::Daily, "2026-01-01").with_format("%Y/%m/%d");
        assert!(bad.problems()[0].contains("cannot contain '/'"));
    }
}
