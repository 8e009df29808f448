//! Progress on stderr, drawn only when stderr is a terminal and the user did not ask for quiet.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
    bar
}
