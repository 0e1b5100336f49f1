//! agingflow-kww-fit: beta_KWW and tau_KWW for every relaxation curve (`curve`), the models and
//! initial guesses (`model`), and per material and temperature the two-stage aging law and the
//! turning point of beta (`law`). `io` reads `relaxation_clean` curve by curve and writes
//! `kww_fits` and `aging_law`.

pub mod curve;
mod io;
pub mod law;
pub use physics::kww_models as model;

use std::path::PathBuf;

pub use curve::{DEFAULT_DRIFT_MPA_PER_H, FitOptions, Weighting, fit_curve};
pub use io::run;
pub use model::Variant;

/// Validated options of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub relaxation_clean: PathBuf,
    pub kww_fits: PathBuf,
    pub aging_law: PathBuf,
    pub fit: FitOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum KwwError {
    #[error(transparent)]
    Table(#[from] tables::TableError),
    #[error("no curve could be fitted ({0} curves, all flagged)")]
    NothingFitted(usize),
}
