//! Progress on stderr, drawn only when stderr is a terminal and the user did not ask for quiet.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Whether progress may be drawn: a terminal on stderr, no `--no-progress`, no `--quiet`.
pub fn wanted(no_progress: bool, quiet: bool) -> bool {
    !no_progress && !quiet && std::io::stderr().is_terminal()
}

/// A spinner counting items while a listing streams (hidden when progress is not wanted).
pub fn spinner(enabled: bool, what: &'static str) -> ProgressBar {
    if !enabled {
        return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {{human_pos}} {what} listed ({{per_sec}}) {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    activate(&bar);
    bar
}

/// A bar counting finished items out of a known total (hidden when progress is not wanted).
pub fn counter(enabled: bool, total: u64, what: &'static str) -> ProgressBar {
    if !enabled {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {what} (eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    activate(&bar);
    bar
}

/// The bar that is on screen now, so that anything printed meanwhile clears it first.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Makes `bar` the one that [`suspend_active`] clears around printed lines.
fn activate(bar: &ProgressBar) {
    if let Ok(mut active) = ACTIVE.lock() {
        *active = Some(bar.clone());
    }
}

/// Runs `f` (which prints) with the visible bar, if any, cleared and redrawn afterwards; every
/// write to stdout and every log line goes through here, so no bar line is left between them.
pub fn suspend_active<R>(f: impl FnOnce() -> R) -> R {
    let bar = ACTIVE
        .lock()
        .ok()
        .and_then(|active| active.clone())
        .filter(|bar| !bar.is_finished() && !bar.is_hidden());
    match bar {
        Some(bar) => bar.suspend(f),
        None => f(),
    }
}

/// Log lines (tracing) on stderr, printed around the visible bar.
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrAroundBar;

impl Write for StderrAroundBar {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Log lines name keys others chose: their invisible characters are escaped too.
        let escaped = std::str::from_utf8(buf).map(crate::text::escape_invisible);
        let bytes = match &escaped {
            Ok(text) => text.as_bytes(),
            Err(_) => buf,
        };
        suspend_active(|| std::io::stderr().write_all(bytes)).map(|()| buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for StderrAroundBar {
    type Writer = StderrAroundBar;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// What a restore has done so far, updated by the engine and read by its progress line.
#[derive(Debug, Default)]
pub struct RestoreCounters {
    /// Versions and delete markers listed in central.
    pub listed: AtomicU64,
    /// Whether both listings have ended (the totals below are then final).
    pub listing_done: AtomicBool,
    /// Keys present at TIME found so far (each is copied, unchanged or failed in the end).
    pub keys: AtomicU64,
    /// Keys the listings could not show to be in place: copied unless their metadata says so.
    pub to_copy: AtomicU64,
    /// Bytes of the keys to copy.
    pub bytes_to_copy: AtomicU64,
    /// Keys copied (dry run: that would be copied).
    pub copied: AtomicU64,
    /// Keys already in place.
    pub unchanged: AtomicU64,
    /// Keys that failed.
    pub failed: AtomicU64,
    /// Bytes copied (dry run: that would be copied).
    pub bytes_copied: AtomicU64,
    /// Archived versions (GLACIER, DEEP_ARCHIVE) to copy, whose restores were requested.
    pub archived: AtomicU64,
    /// Archived versions whose readable copy is ready.
    pub archive_ready: AtomicU64,
    /// Archived versions copied.
    pub archive_copied: AtomicU64,
}

/// A consistent-enough copy of [`RestoreCounters`] for drawing one line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreSnapshot {
    /// See [`RestoreCounters::listed`].
    pub listed: u64,
    /// See [`RestoreCounters::listing_done`].
    pub listing_done: bool,
    /// See [`RestoreCounters::keys`].
    pub keys: u64,
    /// See [`RestoreCounters::to_copy`].
    pub to_copy: u64,
    /// See [`RestoreCounters::bytes_to_copy`].
    pub bytes_to_copy: u64,
    /// See [`RestoreCounters::copied`].
    pub copied: u64,
    /// See [`RestoreCounters::unchanged`].
    pub unchanged: u64,
    /// See [`RestoreCounters::failed`].
    pub failed: u64,
    /// See [`RestoreCounters::bytes_copied`].
    pub bytes_copied: u64,
    /// See [`RestoreCounters::archived`].
    pub archived: u64,
    /// See [`RestoreCounters::archive_ready`].
    pub archive_ready: u64,
    /// See [`RestoreCounters::archive_copied`].
    pub archive_copied: u64,
}

impl RestoreCounters {
    /// Reads every counter.
    pub fn snapshot(&self) -> RestoreSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RestoreSnapshot {
            listed: get(&self.listed),
            listing_done: self.listing_done.load(Ordering::Relaxed),
            keys: get(&self.keys),
            to_copy: get(&self.to_copy),
            bytes_to_copy: get(&self.bytes_to_copy),
            copied: get(&self.copied),
            unchanged: get(&self.unchanged),
            failed: get(&self.failed),
            bytes_copied: get(&self.bytes_copied),
            archived: get(&self.archived),
            archive_ready: get(&self.archive_ready),
            archive_copied: get(&self.archive_copied),
        }
    }
}

/// A restore's progress: counters the engine updates, and a line on stderr that draws them.
#[derive(Debug, Clone)]
pub struct RestoreProgress {
    bar: ProgressBar,
    counters: Arc<RestoreCounters>,
}

impl RestoreProgress {
    /// A progress line on stderr (hidden unless `enabled`); a dry run says "would copy".
    pub fn new(enabled: bool, dry_run: bool) -> Self {
        if !enabled {
            return Self::with_target(ProgressDrawTarget::hidden(), dry_run);
        }
        let progress = Self::drawn(ProgressDrawTarget::stderr(), dry_run, true);
        progress.bar.enable_steady_tick(Duration::from_millis(200));
        activate(&progress.bar);
        progress
    }

    /// A progress line drawn to `target` (tests draw to an in-memory terminal), never cut.
    pub fn with_target(target: ProgressDrawTarget, dry_run: bool) -> Self {
        Self::drawn(target, dry_run, false)
    }

    /// A progress line drawn to `target`; with `fit`, cut to stderr's terminal width.
    fn drawn(target: ProgressDrawTarget, dry_run: bool, fit: bool) -> Self {
        let counters = Arc::new(RestoreCounters::default());
        let bar = ProgressBar::with_draw_target(None, target);
        let line = {
            let counters = counters.clone();
            move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                // The spinner and its space take 2 columns; 3 more stay free for the `^C` a
                // terminal echoes, so the line never reaches the last column and wraps.
                let width = match fit {
                    true => usize::from(console::Term::stderr().size().1).saturating_sub(5),
                    false => usize::MAX,
                };
                let snapshot = counters.snapshot();
                let _ = w.write_str(&render_within(&snapshot, state.elapsed(), dry_run, width));
            }
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {restore}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner())
                .with_key("restore", line),
        );
        RestoreProgress { bar, counters }
    }

    /// The counters, for the engine to update.
    pub fn counters(&self) -> &RestoreCounters {
        &self.counters
    }

    /// The counters, shared (for streams that must own what they touch).
    pub fn shared(&self) -> Arc<RestoreCounters> {
        self.counters.clone()
    }

    /// The bar (for suspending it around output, and for tests to redraw it).
    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }

    /// Clears the line for good (before the summary is printed).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Adds one to a counter.
pub fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// One progress line: what is listed, found, copied, unchanged and failed, the byte rate, and an
/// estimate of the time left; while the listing goes on, totals are marked as lower bounds.
pub fn render(s: &RestoreSnapshot, elapsed: Duration, dry_run: bool) -> String {
    render_within(s, elapsed, dry_run, usize::MAX)
}

/// [`render`] in at most `width` columns: the least needed parts are left out first (the listing
/// count, then the rates, the archive counts and unchanged, then the estimate), and what still
/// does not fit is cut. A line that wraps cannot be cleared in place, so it would stay on the
/// screen half drawn (after Ctrl-C, under the summary).
pub fn render_within(
    s: &RestoreSnapshot,
    elapsed: Duration,
    dry_run: bool,
    width: usize,
) -> String {
    // (priority: higher is left out first, the text); 0 is never left out.
    let mut parts: Vec<(u8, String)> = Vec::new();
    let more = if s.listing_done { "" } else { "+" };
    let done = s.copied + s.unchanged + s.failed;
    let copied = if dry_run { "would copy" } else { "copied" };
    parts.push((
        6,
        format!(
            "{} listed{}",
            s.listed,
            if s.listing_done { "" } else { " (listing)" }
        ),
    ));
    parts.push((0, format!("{done}/{}{more} keys", s.keys)));
    parts.push((
        0,
        format!(
            "{copied} {}/{}{more} ({}/{}{more})",
            s.copied,
            s.to_copy,
            HumanBytes(s.bytes_copied),
            HumanBytes(s.bytes_to_copy),
        ),
    ));
    parts.push((3, format!("unchanged {}", s.unchanged)));
    parts.push((1, format!("failed {}", s.failed)));
    if s.archived > 0 {
        parts.push((
            4,
            format!(
                "archived {} requested / {} ready / {} copied",
                s.archived, s.archive_ready, s.archive_copied
            ),
        ));
    }
    let secs = elapsed.as_secs_f64();
    if !dry_run && secs > 0.0 && s.copied > 0 {
        parts.push((5, mib_per_second(s.bytes_copied as f64 / secs)));
        parts.push((5, per_second(s.copied as f64 / secs)));
    }
    if !dry_run {
        parts.push((2, format!("eta {}", eta(s, elapsed))));
    }
    let line = |parts: &[(u8, String)]| {
        parts
            .iter()
            .map(|(_, text)| text.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let mut text = line(&parts);
    while text.chars().count() > width {
        let Some(least) = parts.iter().map(|(p, _)| *p).max().filter(|p| *p > 0) else {
            break;
        };
        if let Some(at) = parts.iter().rposition(|(p, _)| *p == least) {
            parts.remove(at);
        }
        text = line(&parts);
    }
    if text.chars().count() > width {
        text = text.chars().take(width.saturating_sub(1)).collect();
        text.push('…');
    }
    text
}

/// A byte rate in MiB/s, rounded for people: one decimal below 10, none above; below 1 MiB/s in
/// KiB/s, so that a slow rate never reads as a flat 0.
pub fn mib_per_second(bytes_per_second: f64) -> String {
    let mib = bytes_per_second / (1024.0 * 1024.0);
    if mib < 1.0 {
        let kib = bytes_per_second / 1024.0;
        if kib < 10.0 {
            format!("{kib:.1} KiB/s")
        } else {
            format!("{kib:.0} KiB/s")
        }
    } else if mib < 10.0 {
        format!("{mib:.1} MiB/s")
    } else {
        format!("{mib:.0} MiB/s")
    }
}

/// An object rate, rounded for people: one decimal below 10, none above.
pub fn per_second(objects_per_second: f64) -> String {
    if objects_per_second < 10.0 {
        format!("{objects_per_second:.1} obj/s")
    } else {
        format!("{objects_per_second:.0} obj/s")
    }
}

/// The time left, estimated from the rates so far (objects and bytes, whichever is slower);
/// `estimating` before anything was copied, `>` while the listing may still add keys.
pub fn eta(s: &RestoreSnapshot, elapsed: Duration) -> String {
    let left_keys = s.to_copy.saturating_sub(s.copied + s.failed);
    if left_keys == 0 {
        return if s.listing_done {
            "done".into()
        } else {
            "listing".into()
        };
    }
    let secs = elapsed.as_secs_f64();
    if s.copied + s.failed == 0 || secs <= 0.0 {
        return "estimating".into();
    }
    let by_keys = left_keys as f64 * secs / (s.copied + s.failed) as f64;
    let left_bytes = s.bytes_to_copy.saturating_sub(s.bytes_copied);
    let by_bytes = if s.bytes_copied > 0 {
        left_bytes as f64 * secs / s.bytes_copied as f64
    } else {
        0.0
    };
    let estimate = humane_duration(by_keys.max(by_bytes));
    if s.listing_done {
        format!("~{estimate}")
    } else {
        format!(">{estimate}")
    }
}

/// A duration rounded for people: 5 s steps under a minute, 10 s under 10 minutes, then minutes.
pub fn humane_duration(secs: f64) -> String {
    let secs = secs.max(0.0).ceil() as u64;
    if secs < 60 {
        format!("{}s", secs.div_ceil(5).max(1) * 5)
    } else if secs < 600 {
        let s = secs.div_ceil(10) * 10;
        match s % 60 {
            0 => format!("{}m", s / 60),
            r => format!("{}m {r:02}s", s / 60),
        }
    } else if secs < 3600 {
        format!("{}m", secs.div_ceil(60))
    } else {
        let m = secs.div_ceil(60);
        format!("{}h {:02}m", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::TermLike;

    /// A terminal that keeps what was drawn on its one line, and every line it ever showed.
    #[derive(Debug, Clone, Default)]
    struct Screen {
        line: Arc<Mutex<String>>,
        drawn: Arc<Mutex<Vec<String>>>,
    }

    impl Screen {
        /// The line on screen now, without the padding to the terminal's width.
        fn current(&self) -> String {
            self.line.lock().unwrap().trim_end().to_owned()
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            200
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.line.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            let mut line = self.line.lock().unwrap();
            if !line.is_empty() {
                self.drawn.lock().unwrap().push(line.clone());
            }
            line.clear();
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn snapshot() -> RestoreSnapshot {
        RestoreSnapshot {
            listed: 1500,
            listing_done: false,
            keys: 1000,
            to_copy: 800,
            bytes_to_copy: 800 << 20,
            copied: 200,
            unchanged: 150,
            failed: 2,
            bytes_copied: 200 << 20,
            ..RestoreSnapshot::default()
        }
    }

    #[test]
    fn archived_versions_show_requested_ready_and_copied() {
        let plain = render(&snapshot(), Duration::from_secs(10), false);
        assert!(!plain.contains("archived"), "{plain}");
        let s = RestoreSnapshot {
            archived: 3,
            archive_ready: 2,
            archive_copied: 1,
            ..snapshot()
        };
        let line = render(&s, Duration::from_secs(10), false);
        assert!(
            line.contains("archived 3 requested / 2 ready / 1 copied"),
            "{line}"
        );
    }

    #[test]
    fn line_shows_listed_found_copied_unchanged_failed_bytes_rate_and_eta() {
        let line = render(&snapshot(), Duration::from_secs(10), false);
        assert_eq!(
            line,
            "1500 listed (listing) | 352/1000+ keys | copied 200/800+ (200.00 MiB/800.00 MiB+) \
             | unchanged 150 | failed 2 | 20 MiB/s | 20 obj/s | eta >30s"
        );
        let done = RestoreSnapshot {
            listing_done: true,
            ..snapshot()
        };
        let line = render(&done, Duration::from_secs(10), false);
        assert!(
            line.starts_with("1500 listed | 352/1000 keys | copied 200/800 ("),
            "{line}"
        );
        assert!(line.ends_with("| eta ~30s"), "{line}");
    }

    #[test]
    fn the_line_fits_the_width_leaving_out_the_least_needed_parts_first() {
        let s = RestoreSnapshot {
            archived: 3,
            ..snapshot()
        };
        let full = render(&s, Duration::from_secs(10), false);
        assert!(full.chars().count() > 150, "{full}");
        for width in [75, 60, 40, 20, 5, 1] {
            let line = render_within(&s, Duration::from_secs(10), false, width);
            assert!(line.chars().count() <= width, "{width}: {line}");
        }
        // 80 columns: the keys, the copies and failed stay; 90: the estimate too.
        assert_eq!(
            render_within(&s, Duration::from_secs(10), false, 75),
            "352/1000+ keys | copied 200/800+ (200.00 MiB/800.00 MiB+) | failed 2"
        );
        assert_eq!(
            render_within(&s, Duration::from_secs(10), false, 85),
            "352/1000+ keys | copied 200/800+ (200.00 MiB/800.00 MiB+) | failed 2 | eta >30s"
        );
        assert_eq!(
            render_within(&s, Duration::from_secs(10), false, 100),
            "352/1000+ keys | copied 200/800+ (200.00 MiB/800.00 MiB+) | unchanged 150 | failed 2 | eta >30s"
        );
        // Narrower than the parts that always stay: cut, and said to be cut.
        let cut = render_within(&s, Duration::from_secs(10), false, 20);
        assert_eq!(cut, "352/1000+ keys | co…");
        assert_eq!(
            render_within(&s, Duration::from_secs(10), false, usize::MAX),
            full
        );
    }

    #[test]
    fn eta_is_an_estimate_never_a_fixed_zero() {
        let mut s = RestoreSnapshot {
            listing_done: true,
            keys: 10,
            to_copy: 10,
            ..RestoreSnapshot::default()
        };
        assert_eq!(eta(&s, Duration::from_secs(3)), "estimating");
        s.copied = 5;
        s.bytes_to_copy = 10 << 20;
        s.bytes_copied = 1 << 20;
        // Half the objects in 10 s, but a tenth of the bytes: the bytes decide (90 s).
        assert_eq!(eta(&s, Duration::from_secs(10)), "~1m 30s");
        s.copied = 10;
        s.bytes_copied = 10 << 20;
        assert_eq!(eta(&s, Duration::from_secs(10)), "done");
        s.listing_done = false;
        assert_eq!(eta(&s, Duration::from_secs(10)), "listing");
    }

    #[test]
    fn durations_and_rates_are_rounded_for_people() {
        assert_eq!(humane_duration(0.2), "5s");
        assert_eq!(humane_duration(31.0), "35s");
        assert_eq!(humane_duration(60.0), "1m");
        assert_eq!(humane_duration(61.0), "1m 10s");
        assert_eq!(humane_duration(599.0), "10m");
        assert_eq!(humane_duration(1234.0), "21m");
        assert_eq!(humane_duration(7300.0), "2h 02m");
        assert_eq!(mib_per_second(1.26 * 1048576.0), "1.3 MiB/s");
        assert_eq!(mib_per_second(123.4 * 1048576.0), "123 MiB/s");
        assert_eq!(mib_per_second(80.0 * 1024.0), "80 KiB/s");
        assert_eq!(mib_per_second(512.0), "0.5 KiB/s");
        assert_eq!(per_second(3.04), "3.0 obj/s");
        assert_eq!(per_second(1234.4), "1234 obj/s");
    }

    #[test]
    fn dry_run_line_says_would_copy_and_has_no_eta() {
        let line = render(&snapshot(), Duration::from_secs(10), true);
        assert!(line.contains("would copy 200/800+"), "{line}");
        assert!(!line.contains("eta") && !line.contains("MiB/s"), "{line}");
    }

    #[test]
    fn the_bar_draws_the_counters_as_they_change() {
        let screen = Screen::default();
        let progress = RestoreProgress::with_target(
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
            false,
        );
        let c = progress.counters();
        bump(&c.listed, 3);
        bump(&c.keys, 2);
        bump(&c.to_copy, 2);
        bump(&c.bytes_to_copy, 2048);
        progress.bar().tick();
        let first = screen.current();
        assert!(
            first.contains("3 listed (listing) | 0/2+ keys | copied 0/2+ (0 B/2.00 KiB+)"),
            "{first:?}"
        );
        assert!(first.ends_with("| eta estimating"), "{first:?}");
        bump(&c.copied, 2);
        bump(&c.bytes_copied, 2048);
        c.listing_done.store(true, Ordering::Relaxed);
        progress.bar().tick();
        let second = screen.current();
        assert!(
            second.contains("3 listed | 2/2 keys | copied 2/2 (2.00 KiB/2.00 KiB)"),
            "{second:?}"
        );
        assert!(second.ends_with("| eta done"), "{second:?}");
        progress.finish();
        assert_eq!(screen.current(), "", "finish clears the line");
        assert!(screen
            .drawn
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.trim_end() == first));
    }
}
