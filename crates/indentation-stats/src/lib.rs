//! agingflow-indentation-stats: from each indent's load-displacement curve the reduced modulus
//! (Hertz), the first pop-in and the critical shear stress tau_c (`indent`); per material,
//! temperature and aging time the distribution of tau_c (`stats`). `io` streams the indents.

pub mod indent;
mod io;
pub mod stats;

use std::path::PathBuf;

pub use indent::{IndentOptions, analyze};
pub use io::run;

#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub indentation_raw: PathBuf,
    pub indents: PathBuf,
    pub tau_c_stats: PathBuf,
    pub options: IndentOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error(transparent)]
    Table(#[from] tables::TableError),
}
