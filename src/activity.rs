//! Activity over time (pure): listing entries counted into fixed intervals, the account's own
//! baseline, the intervals far above it ("bursts"), and the last quiet moment before the first one.
//!
//! Memory is one small counter per interval, never per key: entries are counted as they stream by
//! in S3's order (keys ascending), which says nothing about time, so everything that depends on
//! time order (the last entry before the burst) is kept per interval and combined at the end.
//!
//! The burst rule, the one documented in `s3central activity --help`: an interval's *changes* are
//! its object versions plus its delete markers. The baseline is taken over the NON-EMPTY intervals
//! (an account that is busy only at night is judged by its nights): `m` = their median count and
//! `MAD` = the median of `|count - m|`. An interval is a burst when its changes are at least
//! [`MIN_BURST`], more than `3 × m` and more than `m + 5 × MAD`. With fewer than
//! [`MIN_BASELINE_INTERVALS`] non-empty intervals there is no baseline to speak of and the first
//! condition alone decides. The median and MAD ignore a minority of outliers, so an attack does
//! not raise its own bar (as a mean and standard deviation would) unless it fills at least half of
//! the non-empty intervals; a longer `--since` window then gives it a baseline.

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use crate::version::ObjectVersion;

/// An interval needs at least this many changes to be a burst, whatever the baseline.
pub const MIN_BURST: u64 = 10;
/// A burst has more than this many times the median changes of the non-empty intervals.
pub const MEDIAN_FACTOR: u64 = 3;
/// A burst has more than the median plus this many median absolute deviations.
pub const MAD_FACTOR: u64 = 5;
/// Fewer non-empty intervals than this give no baseline: [`MIN_BURST`] alone decides.
pub const MIN_BASELINE_INTERVALS: usize = 4;
/// The most intervals one run may draw (memory and screen stay small).
pub const MAX_INTERVALS: u64 = 10_000;
/// The longest interval, in seconds (366 days).
pub const MAX_STEP: i64 = 366 * 86_400;
/// The default `--every` is the shortest of [`NICE_STEPS`] that gives at most this many intervals.
pub const TARGET_INTERVALS: i64 = 200;
/// Interval lengths (seconds) people read easily, shortest first.
pub const NICE_STEPS: [i64; 16] = [
    1,
    5,
    10,
    30,
    60,
    5 * 60,
    10 * 60,
    15 * 60,
    30 * 60,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86_400,
    7 * 86_400,
    30 * 86_400,
];

/// Why an activity window was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ActivityError {
    /// `--since` is not before `--until`.
    #[error("--since {since} is not before --until {until}: give an earlier --since")]
    EmptyWindow {
        /// The start, RFC 3339.
        since: String,
        /// The end, RFC 3339.
        until: String,
    },
    /// `--every` is not a whole number of seconds of at least one second.
    #[error("--every {given} is not a whole number of seconds (at least 1s): try 1m, 1h, 1d")]
    BadStep {
        /// The step as given.
        given: String,
    },
    /// `--every` is longer than [`MAX_STEP`].
    #[error("--every {given} is longer than a year: use at most 366d")]
    StepTooLong {
        /// The step as given.
        given: String,
    },
    /// `--every` cuts the window into more intervals than [`MAX_INTERVALS`].
    #[error(
        "--every {every} makes {count} intervals between --since and --until (at most \
         {MAX_INTERVALS}): use --every {suggest} or longer, or a shorter window"
    )]
    TooManyIntervals {
        /// The step as given.
        every: String,
        /// How many intervals it would make.
        count: u64,
        /// The shortest nice step within the limit.
        suggest: String,
    },
}

/// Renders a number of seconds as a short duration (`90s` stays `1m30s`; `3600` is `1h`).
pub fn format_step(seconds: i64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(seconds.max(0) as u64))
        .to_string()
        .replace(' ', "")
}

/// The default interval length for a window: the shortest nice step giving at most
/// [`TARGET_INTERVALS`] intervals (whole days beyond the longest nice step).
pub fn default_step(span: Duration) -> i64 {
    let secs = span.num_seconds().max(1);
    NICE_STEPS
        .iter()
        .copied()
        .find(|step| ceil_div(secs, *step) <= TARGET_INTERVALS)
        .unwrap_or_else(|| ceil_div(ceil_div(secs, TARGET_INTERVALS), 86_400) * 86_400)
}

/// `a / b` rounded up, for a positive `b` and a non-negative `a`.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// Intervals of equal length, aligned to whole multiples of the length since the Unix epoch (so
/// hours start on the hour), covering `since..=until` rounded out to whole intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// The first interval's index: its start is `first * step` seconds after the epoch.
    first: i64,
    /// The interval length in seconds (at least 1).
    step: i64,
    /// How many intervals.
    count: usize,
}

impl Grid {
    /// The grid for a window; `every` is the interval length as given (for error messages).
    pub fn new(
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        step: i64,
        every: &str,
    ) -> Result<Grid, ActivityError> {
        if since >= until {
            return Err(ActivityError::EmptyWindow {
                since: crate::time::format_time(since),
                until: crate::time::format_time(until),
            });
        }
        if step < 1 {
            return Err(ActivityError::BadStep {
                given: every.to_owned(),
            });
        }
        if step > MAX_STEP {
            return Err(ActivityError::StepTooLong {
                given: every.to_owned(),
            });
        }
        let first = since.timestamp().div_euclid(step);
        let last = until.timestamp().div_euclid(step);
        let count = (last - first + 1) as u64;
        if count > MAX_INTERVALS {
            let span = until.timestamp() - since.timestamp();
            let suggest = NICE_STEPS
                .iter()
                .copied()
                .find(|s| span / s + 2 <= MAX_INTERVALS as i64)
                .unwrap_or_else(|| (span / (MAX_INTERVALS as i64 - 2) / 86_400 + 1) * 86_400);
            return Err(ActivityError::TooManyIntervals {
                every: every.to_owned(),
                count,
                suggest: format_step(suggest),
            });
        }
        Ok(Grid {
            first,
            step,
            count: count as usize,
        })
    }

    /// How many intervals.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the grid has no interval (never true for a grid from [`Grid::new`]).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The interval length in seconds.
    pub fn step(&self) -> i64 {
        self.step
    }

    /// The start of interval `i` (`i == len()` gives the end of the last one).
    pub fn start(&self, i: usize) -> DateTime<Utc> {
        let secs = (self.first + i as i64) * self.step;
        DateTime::from_timestamp(secs, 0).unwrap_or_default()
    }

    /// Where an instant falls: before the grid, in interval `i`, or after it.
    pub fn locate(&self, t: DateTime<Utc>) -> Place {
        let index = t.timestamp().div_euclid(self.step) - self.first;
        if index < 0 {
            Place::Before
        } else if index as u64 >= self.count as u64 {
            Place::After
        } else {
            Place::In(index as usize)
        }
    }
}

/// Where an instant lies relative to a [`Grid`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Before the first interval.
    Before,
    /// In this interval.
    In(usize),
    /// After the last interval.
    After,
}

/// The counts of one interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Object versions written in the interval.
    pub versions: u64,
    /// Delete markers written in the interval.
    pub delete_markers: u64,
    /// Bytes of the object versions written in the interval.
    pub bytes: u64,
    /// The latest LastModified of any entry in the interval.
    pub latest: Option<DateTime<Utc>>,
}

impl Bucket {
    /// Versions plus delete markers: what the burst rule counts.
    pub fn changes(&self) -> u64 {
        self.versions + self.delete_markers
    }
}

/// Counts entries into a grid as they stream by, in any order.
#[derive(Debug, Clone)]
pub struct Tally {
    grid: Grid,
    buckets: Vec<Bucket>,
    /// The latest LastModified of the entries before the grid.
    latest_before: Option<DateTime<Utc>>,
}

impl Tally {
    /// An empty tally over the grid.
    pub fn new(grid: Grid) -> Tally {
        Tally {
            grid,
            buckets: vec![Bucket::default(); grid.len()],
            latest_before: None,
        }
    }

    /// Counts one listing entry (entries outside the grid only feed the last quiet moment).
    pub fn push(&mut self, entry: &ObjectVersion) {
        let t = entry.last_modified;
        match self.grid.locate(t) {
            Place::Before => self.latest_before = self.latest_before.max(Some(t)),
            Place::After => {}
            Place::In(i) => {
                let b = &mut self.buckets[i];
                if entry.is_delete_marker {
                    b.delete_markers += 1;
                } else {
                    b.versions += 1;
                    b.bytes += entry.size;
                }
                b.latest = b.latest.max(Some(t));
            }
        }
    }

    /// Ends the pass: the baseline, the bursts and the last quiet moment.
    pub fn finish(self) -> Report {
        let counts: Vec<u64> = self.buckets.iter().map(Bucket::changes).collect();
        let baseline = Baseline::of(&counts);
        let first_burst = counts.iter().position(|c| baseline.is_burst(*c));
        let last_quiet = first_burst.and_then(|b| {
            self.buckets[..b]
                .iter()
                .rev()
                .find_map(|bucket| bucket.latest)
                .or(self.latest_before)
        });
        Report {
            grid: self.grid,
            buckets: self.buckets,
            baseline,
            first_burst,
            last_quiet,
        }
    }
}

/// The account's own normal level of changes per interval, and the bar a burst must clear.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// Non-empty intervals the baseline was taken from.
    pub active: usize,
    /// Median changes of the non-empty intervals (0 with too few of them).
    pub median: f64,
    /// Median absolute deviation from that median (0 with too few of them).
    pub mad: f64,
    /// The fewest changes that make a burst.
    pub threshold: u64,
}

impl Baseline {
    /// The baseline of per-interval change counts, by the rule in the module documentation.
    pub fn of(counts: &[u64]) -> Baseline {
        let mut active: Vec<u64> = counts.iter().copied().filter(|c| *c > 0).collect();
        let n = active.len();
        if n < MIN_BASELINE_INTERVALS {
            return Baseline {
                active: n,
                median: 0.0,
                mad: 0.0,
                threshold: MIN_BURST,
            };
        }
        active.sort_unstable();
        let median = median_of_sorted(&active);
        let mut deviations: Vec<f64> = active.iter().map(|c| (*c as f64 - median).abs()).collect();
        deviations.sort_unstable_by(f64::total_cmp);
        let mad = median_of_sorted_f64(&deviations);
        // "more than x" as an integer bar: the smallest whole count strictly above x.
        let above = |x: f64| x.floor() as u64 + 1;
        let threshold = MIN_BURST
            .max(above(MEDIAN_FACTOR as f64 * median))
            .max(above(median + MAD_FACTOR as f64 * mad));
        Baseline {
            active: n,
            median,
            mad,
            threshold,
        }
    }

    /// Whether an interval with this many changes is a burst.
    pub fn is_burst(&self, changes: u64) -> bool {
        changes >= self.threshold
    }
}

/// The median of a sorted, non-empty slice of counts.
fn median_of_sorted(sorted: &[u64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    }
}

/// The median of a sorted, non-empty slice of numbers.
fn median_of_sorted_f64(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// What one pass found: the counts per interval, the baseline and the first burst.
#[derive(Debug, Clone)]
pub struct Report {
    /// The intervals.
    pub grid: Grid,
    /// One bucket per interval, in time order.
    pub buckets: Vec<Bucket>,
    /// The baseline and the burst bar.
    pub baseline: Baseline,
    /// The index of the first burst interval.
    pub first_burst: Option<usize>,
    /// The LastModified of the latest entry before the first burst interval (a ready `--at`);
    /// `None` when there is no burst or nothing before it.
    pub last_quiet: Option<DateTime<Utc>>,
}

impl Report {
    /// Whether interval `i` is a burst.
    pub fn is_burst(&self, i: usize) -> bool {
        self.buckets
            .get(i)
            .is_some_and(|b| self.baseline.is_burst(b.changes()))
    }

    /// How many intervals are bursts.
    pub fn bursts(&self) -> usize {
        (0..self.buckets.len())
            .filter(|i| self.is_burst(*i))
            .count()
    }

    /// The most changes in any interval (what bars are scaled to).
    pub fn max_changes(&self) -> u64 {
        self.buckets.iter().map(Bucket::changes).max().unwrap_or(0)
    }
}

/// A horizontal bar of block characters for `value` out of `max`, at most `width` cells; any
/// non-zero value shows at least a sliver.
pub fn bar(value: u64, max: u64, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    if value == 0 || max == 0 || width == 0 {
        return String::new();
    }
    let eighths = ((value.min(max) as u128 * width as u128 * 8) / max as u128).max(1) as usize;
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(PARTS[eighths % 8]);
    }
    s
}

/// Runs of at least this many empty intervals are one row of the chart for people.
pub const MIN_EMPTY_RUN: usize = 3;

/// The chart's rows for people: each interval with changes alone, and each run of at least
/// `min_run` empty intervals as one row (shorter runs stay one row per interval), so a week at
/// one-hour steps with a burst in it reads in a screen, not in 168 rows of zeros.
pub fn chart_rows(buckets: &[Bucket], min_run: usize) -> Vec<std::ops::RangeInclusive<usize>> {
    let mut rows = Vec::new();
    let mut i = 0;
    while i < buckets.len() {
        let run = buckets[i..].iter().take_while(|b| b.changes() == 0).count();
        if run >= min_run.max(2) {
            rows.push(i..=i + run - 1);
            i += run;
        } else {
            rows.push(i..=i);
            i += 1;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_of_empty_intervals_are_one_row() {
        let b = |n: u64| Bucket {
            versions: n,
            ..Bucket::default()
        };
        let buckets: Vec<Bucket> = [0, 0, 0, 0, 5, 0, 0, 7, 0, 0, 0]
            .into_iter()
            .map(b)
            .collect();
        assert_eq!(
            chart_rows(&buckets, 3),
            vec![0..=3, 4..=4, 5..=5, 6..=6, 7..=7, 8..=10]
        );
        assert_eq!(chart_rows(&buckets[4..5], 3), vec![0..=0]);
        assert!(chart_rows(&[], 3).is_empty());
        // Every interval is in exactly one row, in order.
        let all: Vec<usize> = chart_rows(&buckets, 2).into_iter().flatten().collect();
        assert_eq!(all, (0..buckets.len()).collect::<Vec<_>>());
    }

    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const BASE: i64 = 1_800_000_000; // 2027-01-15T08:00:00Z, a multiple of 3600.

    fn t(sec: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(BASE + sec, 0).unwrap()
    }

    fn entry(key: &str, sec: i64, marker: bool, size: u64) -> ObjectVersion {
        ObjectVersion {
            key: key.into(),
            version_id: format!("{key}@{sec}"),
            last_modified: t(sec),
            size: if marker { 0 } else { size },
            etag: None,
            storage_class: None,
            is_latest: false,
            is_delete_marker: marker,
        }
    }

    fn grid(since: i64, until: i64, step: i64) -> Grid {
        Grid::new(t(since), t(until), step, "test").unwrap()
    }

    #[test]
    fn grid_is_aligned_and_rounded_out() {
        let g = grid(90, 7300, 3600);
        assert_eq!(g.len(), 3);
        assert_eq!(g.start(0), t(0));
        assert_eq!(g.start(3), t(3 * 3600));
        assert_eq!(g.locate(t(-1)), Place::Before);
        assert_eq!(g.locate(t(0)), Place::In(0));
        assert_eq!(g.locate(t(3599)), Place::In(0));
        assert_eq!(g.locate(t(3600)), Place::In(1));
        assert_eq!(g.locate(t(10_799)), Place::In(2));
        assert_eq!(g.locate(t(10_800)), Place::After);
        // --until on a boundary is inclusive: it opens one more interval.
        assert_eq!(grid(0, 3600, 3600).len(), 2);
        assert_eq!(grid(0, 3599, 3600).len(), 1);
    }

    #[test]
    fn grid_refuses_empty_windows_bad_steps_and_too_many_intervals() {
        assert!(matches!(
            Grid::new(t(5), t(5), 1, "1s"),
            Err(ActivityError::EmptyWindow { .. })
        ));
        assert!(matches!(
            Grid::new(t(6), t(5), 1, "1s"),
            Err(ActivityError::EmptyWindow { .. })
        ));
        assert_eq!(
            Grid::new(t(0), t(5), 0, "500ms"),
            Err(ActivityError::BadStep {
                given: "500ms".into()
            })
        );
        let e = Grid::new(t(0), t(30 * 86_400), 1, "1s").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--every 1s makes 2592001 intervals between --since and --until (at most 10000): \
             use --every 5m or longer, or a shorter window"
        );
        assert_eq!(
            Grid::new(t(0), t(5), MAX_STEP + 1, "367d")
                .unwrap_err()
                .to_string(),
            "--every 367d is longer than a year: use at most 366d"
        );
        assert!(Grid::new(t(0), t(5), MAX_STEP, "366d").is_ok());
        // The suggestion itself is within the limit.
        assert!(Grid::new(t(0), t(30 * 86_400), 300, "5m").is_ok());
        assert!(Grid::new(t(0), t(9_999), 1, "1s").is_ok());
        assert!(Grid::new(t(0), t(10_000), 1, "1s").is_err());
    }

    #[test]
    fn default_step_fits_the_span() {
        let d = |secs| default_step(Duration::seconds(secs));
        assert_eq!(d(7 * 86_400), 3600);
        assert_eq!(d(86_400), 600);
        assert_eq!(d(3600), 30);
        assert_eq!(d(60), 1);
        assert_eq!(d(30 * 86_400), 6 * 3600);
        assert_eq!(d(365 * 86_400), 7 * 86_400);
        // Beyond the longest nice step: whole days.
        let long = d(100 * 365 * 86_400);
        assert_eq!(long % 86_400, 0);
        assert!(ceil_div(100 * 365 * 86_400, long) <= TARGET_INTERVALS);
        assert_eq!(format_step(3600), "1h");
        assert_eq!(format_step(90), "1m30s");
        assert_eq!(format_step(7 * 86_400), "7days");
    }

    #[test]
    fn counts_versions_markers_bytes_and_latest_per_interval() {
        let mut tally = Tally::new(grid(0, 29, 10));
        for e in [
            entry("a", 3, false, 100),
            entry("a", 1, false, 10),
            entry("b", 12, true, 0),
            entry("b", 9, false, 5),
            entry("c", -4, false, 1),
            entry("c", 30, false, 1),
        ] {
            tally.push(&e);
        }
        let r = tally.finish();
        assert_eq!(
            r.buckets,
            vec![
                Bucket {
                    versions: 3,
                    delete_markers: 0,
                    bytes: 115,
                    latest: Some(t(9))
                },
                Bucket {
                    versions: 0,
                    delete_markers: 1,
                    bytes: 0,
                    latest: Some(t(12))
                },
                Bucket::default(),
            ]
        );
        assert_eq!(r.first_burst, None);
        assert_eq!(r.last_quiet, None);
    }

    #[test]
    fn steady_baseline_and_one_spike() {
        let counts = [2, 1, 3, 2, 0, 2, 1, 40, 2, 0, 3];
        let b = Baseline::of(&counts);
        assert_eq!(b.active, 9);
        assert_eq!(b.median, 2.0);
        assert_eq!(b.mad, 1.0);
        assert_eq!(b.threshold, 10);
        let bursts: Vec<usize> = (0..counts.len())
            .filter(|i| b.is_burst(counts[*i]))
            .collect();
        assert_eq!(bursts, [7]);
    }

    #[test]
    fn busy_account_needs_three_times_its_median() {
        let counts = [100, 110, 90, 105, 95, 100, 250, 301, 1000];
        let b = Baseline::of(&counts);
        assert_eq!(b.median, 105.0);
        assert_eq!(b.threshold, 316);
        assert!(!b.is_burst(301));
        assert!(b.is_burst(316));
        assert!(!b.is_burst(315));
    }

    #[test]
    fn noisy_account_needs_median_plus_five_mads() {
        // Sorted 10 40 50 80 300 500: median 65; deviations 15 15 25 55 235 435: MAD 40.
        let counts = [10, 40, 50, 80, 500, 300];
        let b = Baseline::of(&counts);
        assert_eq!((b.median, b.mad), (65.0, 40.0));
        // 65 + 5 x 40 = 265 is above 3 x 65 = 195: the spread decides.
        assert_eq!(b.threshold, 266);
        assert!(b.is_burst(500));
        assert!(b.is_burst(300));
        assert!(!b.is_burst(265));
    }

    #[test]
    fn too_few_active_intervals_use_the_floor_alone() {
        let b = Baseline::of(&[0, 1, 0, 500, 0, 0]);
        assert_eq!((b.active, b.threshold), (2, MIN_BURST));
        assert!(b.is_burst(500));
        assert!(!b.is_burst(9));
        assert_eq!(Baseline::of(&[]).threshold, MIN_BURST);
        assert_eq!(Baseline::of(&[0, 0]).active, 0);
    }

    #[test]
    fn quiet_account_never_bursts_below_the_floor() {
        let b = Baseline::of(&[1, 1, 1, 1, 1, 9, 1]);
        assert_eq!(b.threshold, MIN_BURST);
        assert!(!b.is_burst(9));
    }

    #[test]
    fn last_quiet_is_the_latest_entry_before_the_first_burst() {
        let mut tally = Tally::new(grid(0, 99, 10));
        // Baseline: one change in each of intervals 0..=5, then nothing, then the burst in 8.
        for i in 0..6 {
            tally.push(&entry(&format!("k{i}"), i * 10 + 4, false, 1));
        }
        for j in 0..12 {
            tally.push(&entry(&format!("z{j}"), 81 + j % 5, j % 3 == 0, 1));
        }
        // A second burst later changes nothing about the first.
        for j in 0..12 {
            tally.push(&entry(&format!("y{j}"), 95, false, 1));
        }
        let r = tally.finish();
        assert_eq!(r.first_burst, Some(8));
        assert_eq!(r.bursts(), 2);
        assert_eq!(r.last_quiet, Some(t(54)));
    }

    #[test]
    fn last_quiet_falls_back_to_entries_before_the_window() {
        let mut tally = Tally::new(grid(0, 9, 10));
        tally.push(&entry("old", -100, false, 1));
        tally.push(&entry("older", -200, false, 1));
        for _ in 0..10 {
            tally.push(&entry("x", 5, false, 1));
        }
        let r = tally.finish();
        assert_eq!(r.first_burst, Some(0));
        assert_eq!(r.last_quiet, Some(t(-100)));
        // Nothing at all before the burst: no quiet moment.
        let mut tally = Tally::new(grid(0, 9, 10));
        for _ in 0..10 {
            tally.push(&entry("x", 5, false, 1));
        }
        assert_eq!(tally.finish().last_quiet, None);
    }

    #[test]
    fn bars_scale_to_the_max_in_eighths() {
        assert_eq!(bar(0, 10, 20), "");
        assert_eq!(bar(10, 10, 20), "█".repeat(20));
        assert_eq!(bar(5, 10, 20), "█".repeat(10));
        assert_eq!(bar(1, 16, 2), "▏");
        assert_eq!(bar(4, 16, 2), "▌");
        assert_eq!(bar(1, 1000, 20), "▏");
        assert_eq!(bar(12, 16, 2), "█▌");
        assert_eq!(bar(7, 0, 20), "");
    }

    // ---- property tests -------------------------------------------------------------------

    fn entries() -> impl Strategy<Value = Vec<ObjectVersion>> {
        prop::collection::vec(
            (
                0usize..6,
                -30i64..130,
                prop::bool::weighted(0.3),
                0u64..1000,
            ),
            0..80,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(k, sec, marker, size)| entry(&format!("k{k}"), sec, marker, size))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Each interval holds exactly the entries whose time falls in it, whatever their order.
        #[test]
        fn tally_matches_a_naive_count(
            list in entries(),
            since in -10i64..40,
            len in 1i64..100,
            step in 1i64..25,
            seed in any::<u64>(),
        ) {
            let g = grid(since, since + len, step);
            let mut tally = Tally::new(g);
            // Any order: a permutation derived from the seed.
            let mut shuffled = list.clone();
            let n = shuffled.len();
            for i in 0..n {
                let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % n as u64) as usize;
                shuffled.swap(i, j);
            }
            for e in &shuffled {
                tally.push(e);
            }
            let r = tally.finish();
            prop_assert_eq!(r.buckets.len(), g.len());
            for (i, b) in r.buckets.iter().enumerate() {
                let inside: Vec<&ObjectVersion> = list
                    .iter()
                    .filter(|e| e.last_modified >= g.start(i) && e.last_modified < g.start(i + 1))
                    .collect();
                prop_assert_eq!(b.versions, inside.iter().filter(|e| !e.is_delete_marker).count() as u64);
                prop_assert_eq!(b.delete_markers, inside.iter().filter(|e| e.is_delete_marker).count() as u64);
                prop_assert_eq!(b.bytes, inside.iter().map(|e| e.size).sum::<u64>());
                prop_assert_eq!(b.latest, inside.iter().map(|e| e.last_modified).max());
            }
            // The last quiet moment: the latest entry strictly before the first burst interval.
            match r.first_burst {
                None => prop_assert_eq!(r.last_quiet, None),
                Some(b) => {
                    prop_assert!(r.is_burst(b));
                    prop_assert!((0..b).all(|i| !r.is_burst(i)));
                    let want = list.iter().map(|e| e.last_modified).filter(|t| *t < g.start(b)).max();
                    prop_assert_eq!(r.last_quiet, want);
                }
            }
        }

        /// Bursts are exactly the intervals at or above one bar, which the floor bounds below.
        #[test]
        fn bursts_are_monotone_and_above_the_floor(counts in prop::collection::vec(0u64..200, 0..60)) {
            let b = Baseline::of(&counts);
            prop_assert!(b.threshold >= MIN_BURST);
            for c in &counts {
                prop_assert_eq!(b.is_burst(*c), *c >= b.threshold);
                if b.is_burst(*c) && b.active >= MIN_BASELINE_INTERVALS {
                    prop_assert!(*c as f64 > MEDIAN_FACTOR as f64 * b.median);
                    prop_assert!(*c as f64 > b.median + MAD_FACTOR as f64 * b.mad);
                }
            }
        }

        /// One spike far above a steady baseline is found, and nothing else is.
        #[test]
        fn a_spike_over_a_steady_baseline_is_the_only_burst(
            base in prop::collection::vec(1u64..6, 8..60),
            at in any::<prop::sample::Index>(),
            spike in 31u64..10_000,
        ) {
            let mut counts = base.clone();
            let i = at.index(counts.len() + 1);
            counts.insert(i, spike);
            let b = Baseline::of(&counts);
            let bursts: Vec<usize> = (0..counts.len()).filter(|j| b.is_burst(counts[*j])).collect();
            prop_assert_eq!(bursts, vec![i]);
        }

        /// A bar never exceeds its width, and a larger value never draws a shorter bar.
        #[test]
        fn bars_are_bounded_and_monotone(a in 0u64..1000, b in 0u64..1000, max in 1u64..1000, width in 1usize..40) {
            let (lo, hi) = (a.min(b).min(max), a.max(b).min(max));
            let cells = |s: &str| s.chars().count();
            prop_assert!(cells(&bar(hi, max, width)) <= width);
            let eighths = |s: &str| s.chars().map(|c| if c == '█' { 8 } else { 1 + "▏▎▍▌▋▊▉".chars().position(|p| p == c).unwrap_or(0) }).sum::<usize>();
            prop_assert!(eighths(&bar(lo, max, width)) <= eighths(&bar(hi, max, width)));
        }
    }
}
