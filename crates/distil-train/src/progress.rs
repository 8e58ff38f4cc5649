//! The terminal progress bar: optimizer steps, last logged loss, tokens per second and ETA.

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar over optimizer steps; hidden when quiet.
pub struct TrainProgress {
    bar: ProgressBar,
}

impl TrainProgress {
    /// `start_step` is where a resumed run picks up.
    pub fn new(total_steps: u64, start_step: u64, quiet: bool) -> Self {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total_steps)
        };
        let style = ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} steps | {msg} | ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_position(start_step);
        bar.reset_eta();
        Self { bar }
    }

    pub fn set_step(&self, step: u64) {
        self.bar.set_position(step);
    }

    /// Shows the latest logged loss and throughput.
    pub fn show(&self, loss: f64, tokens_per_s: f64) {
        self.bar
            .set_message(format!("loss {loss:.4} | {tokens_per_s:.0} tok/s"));
    }

    /// Prints a line above the bar without breaking it.
    pub fn println(&self, line: impl AsRef<str>) {
        self.bar.println(line);
    }

    pub fn finish(&self) {
        self.bar.finish();
    }
}
