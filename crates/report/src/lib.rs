//! agingflow-report: every table of a campaign's analysis to one self-contained HTML page (figures
//! inline as SVG, no script, no network), `summary.json` and `summary.md`, and each figure as its
//! own SVG and PNG. Any input may be absent: a figure that cannot be drawn is replaced by a
//! sentence saying what is missing. Output is byte-identical for identical inputs.
//!
//! `figures` and `summary` are pure (tables in, figures and JSON out); `page` writes the HTML;
//! `io` reads the tables and writes the directory.

pub mod figures;
mod io;
pub mod page;
pub mod plot;
pub mod summary;

use std::path::PathBuf;

pub use io::run;
use tables::{
    ActivationEnergy, AgingLaw, DmaSweep, DscRaw, FileMeta, Indent, IndentationRaw, KwwFit,
    ModelCurve, ModelFit, RelaxationClean, Spectrum, SpectrumMoments, SpectrumSeries, TauCStats,
    Transition,
};

/// Every input table that was given (None: not given, or given but absent on disk).
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub kww_fits: Option<Vec<KwwFit>>,
    /// Every relaxation test with its cleaning status: the tests dropped before the fit are
    /// listed from it.
    pub relaxation_tests: Option<Vec<tables::RelaxationTest>>,
    pub aging_law: Option<Vec<AgingLaw>>,
    pub relaxation_clean: Option<Vec<RelaxationClean>>,
    pub indentation_raw: Option<Vec<IndentationRaw>>,
    pub indents: Option<Vec<Indent>>,
    pub tau_c_stats: Option<Vec<TauCStats>>,
    pub activation_energy: Option<Vec<ActivationEnergy>>,
    pub model_curves: Option<Vec<ModelCurve>>,
    pub model_fits: Option<Vec<ModelFit>>,
    pub transitions: Option<Vec<Transition>>,
    pub dma_sweeps: Option<Vec<DmaSweep>>,
    pub dsc_raw: Option<Vec<DscRaw>>,
    pub spectra: Option<Vec<Spectrum>>,
    /// The aging times of every curve of the spectra table, where only the curves drawn were
    /// read (`spectra` then holds those).
    pub spectra_aging_times: Option<Vec<f64>>,
    pub spectrum_moments: Option<Vec<SpectrumMoments>>,
    pub spectrum_series: Option<Vec<SpectrumSeries>>,
    /// Per input table: (table name, path as given, BLAKE3 of the file, its metadata).
    pub provenance: Vec<(String, String, String, FileMeta)>,
}

/// Every input is a list of paths: empty when absent, several when a pipeline gathers the
/// tables of several campaigns (a `foreach` reduce); their rows are read in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub kww_fits: Vec<PathBuf>,
    pub relaxation_tests: Vec<PathBuf>,
    pub aging_law: Vec<PathBuf>,
    pub relaxation_clean: Vec<PathBuf>,
    pub indentation_raw: Vec<PathBuf>,
    pub indents: Vec<PathBuf>,
    pub tau_c_stats: Vec<PathBuf>,
    pub activation_energy: Vec<PathBuf>,
    pub model_curves: Vec<PathBuf>,
    pub model_fits: Vec<PathBuf>,
    pub transitions: Vec<PathBuf>,
    pub dma_sweeps: Vec<PathBuf>,
    pub dsc_raw: Vec<PathBuf>,
    pub spectra: Vec<PathBuf>,
    pub spectrum_moments: Vec<PathBuf>,
    pub spectrum_series: Vec<PathBuf>,
    /// The pipeline file and lock file, for the provenance section (optional).
    pub pipeline: Option<PathBuf>,
    pub lock: Option<PathBuf>,
    pub report_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Table(#[from] tables::TableError),
    #[error("{path}: {source}", path = .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("nothing to report: no input table was given or found")]
    NoInput,
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
}
