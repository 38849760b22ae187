//! Progress of long work (backup, verify, restore, drill): a bar on a terminal, JSON events on
//! stderr with `--format json`, nothing when output goes to a pipe or file.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keyward_service::backup::Progress;

use crate::cli::Format;

/// A running meter; call [`Meter::finish`] when the work is done.
pub struct Meter {
    bar: Option<ProgressBar>,
    events: Option<Arc<Events>>,
}

struct Events {
    task: &'static str,
    unit: &'static str,
    total: Option<u64>,
    done: AtomicU64,
    started: Instant,
    last: std::sync::Mutex<Instant>,
}

impl Events {
    fn emit(&self, event: &str) {
        let done = self.done.load(Ordering::Relaxed);
        let line = serde_json::json!({
            "event": event,
            "task": self.task,
            "unit": self.unit,
            "done": done,
            "total": self.total,
            "elapsed_s": (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        });
        eprintln!("{line}");
    }
}

impl Meter {
    pub fn new(format: Format, task: &'static str, total: Option<u64>, unit: &'static str) -> Self {
        if format == Format::Json {
            let events = Arc::new(Events {
                task,
                unit,
                total,
                done: AtomicU64::new(0),
                started: Instant::now(),
                last: std::sync::Mutex::new(Instant::now()),
            });
            events.emit("start");
            return Meter { bar: None, events: Some(events) };
        }
        if !std::io::stderr().is_terminal() {
            return Meter { bar: None, events: None };
        }
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template(&format!(
                    "{task:>9} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} (ETA {{eta}})"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template(&format!("{task:>9} {{spinner}} {{human_pos}} {unit} ({{elapsed}})"))
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.enable_steady_tick(Duration::from_millis(120));
        Meter { bar: Some(bar), events: None }
    }

    /// Adds `n` units of work done.
    pub fn add(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if let Some(e) = &self.events {
            e.done.fetch_add(n, Ordering::Relaxed);
            if let Ok(mut last) = e.last.try_lock()
                && last.elapsed() >= Duration::from_millis(250)
            {
                *last = Instant::now();
                e.emit("progress");
            }
        }
    }

    /// The callback form the service's long operations take.
    pub fn progress(&self) -> Progress {
        let bar = self.bar.clone();
        let events = self.events.clone();
        if bar.is_none() && events.is_none() {
            return Progress::default();
        }
        let meter = Meter { bar, events };
        Progress::new(move |n| meter.add(n))
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(e) = &self.events {
            e.emit("done");
        }
    }
}
