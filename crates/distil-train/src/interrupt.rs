//! Ctrl-C handling: the first press asks the loop to checkpoint and stop at the next step
//! boundary; a second press exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::error::TrainError;

static REQUESTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// A flag set by Ctrl-C (SIGINT/SIGTERM), checked by the loop.
#[derive(Debug, Clone)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
}

impl Interrupt {
    /// Installs the process-wide handler once; later calls share the same flag.
    pub fn install() -> Result<Self, TrainError> {
        if let Some(flag) = REQUESTED.get() {
            return Ok(Self { flag: flag.clone() });
        }
        let flag = Arc::new(AtomicBool::new(false));
        let seen = flag.clone();
        ctrlc::set_handler(move || {
            if seen.swap(true, Ordering::SeqCst) {
                eprintln!("second interrupt: exiting without a checkpoint");
                std::process::exit(130);
            }
            eprintln!(
                "interrupt: saving a checkpoint at the end of this step (Ctrl-C again to quit now)"
            );
        })
        .map_err(|e| TrainError::Interrupt(e.to_string()))?;
        let flag = REQUESTED.get_or_init(|| flag).clone();
        Ok(Self { flag })
    }

    /// A flag no signal sets, for library callers and tests that drive it themselves.
    pub fn manual() -> Self {
        Self {
            flag: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    pub fn request(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }
}
