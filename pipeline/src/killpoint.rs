//! Named points in a run where a crash test can stop the process, so that "killed at any
//! moment" is tested at every boundary that matters (each stage, each staged file, the commit
//! marker, each rename of a publish) rather than only at random times.
//!
//! Two environment variables, read once, control it; with neither set a point costs one
//! atomic load:
//! - `VIGIL_KILL_POINTS=trace` prints `vigil: kill point NAME#N` to stderr at every point
//!   reached (N counts visits of NAME), so a test can learn the points of a clean run;
//! - `VIGIL_PAUSE_AT=NAME#N` stops the process at the N-th visit of NAME: it prints
//!   `vigil: paused at kill point NAME#N` and sleeps until killed, so the test can send the
//!   real `SIGKILL` at exactly that point.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

enum Mode {
    Off,
    Trace,
    PauseAt(String),
}

fn mode() -> &'static Mode {
    static MODE: OnceLock<Mode> = OnceLock::new();
    MODE.get_or_init(|| {
        if let Ok(target) = std::env::var("VIGIL_PAUSE_AT") {
            Mode::PauseAt(target)
        } else if std::env::var("VIGIL_KILL_POINTS").is_ok_and(|v| v == "trace") {
            Mode::Trace
        } else {
            Mode::Off
        }
    })
}

/// Marks that the run reached the point `name` (a static, dotted name such as
/// `nightly.stage.facets` or `publish.renamed`).
pub fn reached(name: &str) {
    let mode = mode();
    if matches!(mode, Mode::Off) {
        return;
    }
    static VISITS: OnceLock<Mutex<HashMap<String, u32>>> = OnceLock::new();
    let visit = {
        let mut visits = VISITS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        let n = visits.entry(name.to_owned()).or_default();
        *n += 1;
        *n
    };
    let label = format!("{name}#{visit}");
    match mode {
        Mode::Off => {}
        Mode::Trace => eprintln!("vigil: kill point {label}"),
        Mode::PauseAt(target) if *target == label => {
            eprintln!("vigil: paused at kill point {label}");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        Mode::PauseAt(_) => {}
    }
}
