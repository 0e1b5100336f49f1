//! The budget every fuzz target runs on: `make fuzz` sets AGINGFLOW_FUZZ_SECONDS and each target
//! runs that long; otherwise AGINGFLOW_FUZZ_INPUTS cases, or the target's own default (what
//! `make test` runs). Inputs come from [`crate::Rng`], seeded per target.

use std::time::{Duration, Instant};

/// How many cases a fuzz target runs, or until when.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// The most cases (unbounded under a deadline).
    pub cases: usize,
    pub deadline: Option<Instant>,
}

impl Budget {
    /// From the environment (see the module), `default` cases otherwise.
    pub fn from_env(default: usize) -> Self {
        let seconds = std::env::var("AGINGFLOW_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        match seconds {
            Some(s) => Budget {
                cases: usize::MAX,
                deadline: Some(Instant::now() + Duration::from_secs(s)),
            },
            None => Budget {
                cases: std::env::var("AGINGFLOW_FUZZ_INPUTS")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(default),
                deadline: None,
            },
        }
    }

    /// Whether the time is up (never without a deadline).
    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Whether case number `done` (from 0) is to run.
    pub fn more(&self, done: usize) -> bool {
        done < self.cases && !self.expired()
    }
}
