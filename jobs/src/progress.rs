//! Progress: a bar on a terminal, plain log lines otherwise.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use vigil::ingest::ProgressFn;

/// Sets up `tracing` log lines on stderr at the given level.
pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Byte progress over a known total.
pub struct ByteProgress {
    bar: Option<ProgressBar>,
    done: Arc<AtomicU64>,
    total: u64,
}

impl ByteProgress {
    /// A bar if stderr is a terminal, else a logger that reports every ten seconds.
    pub fn new(label: &str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message(label.to_owned());
            bar
        });
        ByteProgress { bar, done: Arc::new(AtomicU64::new(0)), total }
    }

    /// The callback to hand to the library.
    pub fn callback(&self) -> ProgressFn {
        let done = self.done.clone();
        let total = self.total;
        match &self.bar {
            Some(bar) => {
                let bar = bar.clone();
                Arc::new(move |n| {
                    done.fetch_add(n, Ordering::Relaxed);
                    bar.inc(n);
                })
            }
            None => {
                let last = Mutex::new(Instant::now());
                Arc::new(move |n| {
                    let now_done = done.fetch_add(n, Ordering::Relaxed) + n;
                    if let Ok(mut last) = last.try_lock()
                        && last.elapsed() >= Duration::from_secs(10) {
                            *last = Instant::now();
                            let pct = if total > 0 { 100.0 * now_done as f64 / total as f64 } else { 0.0 };
                            tracing::info!("read {} of {} input bytes ({pct:.0}%)", now_done, total);
                        }
                })
            }
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
