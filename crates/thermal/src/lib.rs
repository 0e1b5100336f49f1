//! agingflow-thermal: DSC scans and DMA temperature sweeps to transition temperatures
//! (`transitions`) and resampled sweeps (`dma_sweeps`).
//!
//! `curve` holds the grid, smoothing, line fits and the tangent construction; `dsc` and `dma` the
//! analysis of one scan (pure), `rows` the table rows they share; `io` reads the raw tables, analyses the scans in parallel and
//! writes both tables in key order.

pub mod curve;
pub mod dma;
pub mod dsc;
mod io;
pub mod rows;

use std::path::PathBuf;

pub use io::run;

/// Validated options of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub dsc_raw: Option<PathBuf>,
    pub dma_sweeps_raw: Option<PathBuf>,
    pub transitions: PathBuf,
    pub dma_sweeps: PathBuf,
    pub dsc: dsc::DscOptions,
    pub dma: dma::DmaOptions,
}

/// What a run found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub dsc_scans: usize,
    pub dma_sweeps: usize,
    pub transitions_ok: usize,
    pub transitions_failed: usize,
}

/// Why the stage failed.
#[derive(Debug, thiserror::Error)]
pub enum ThermalError {
    #[error(transparent)]
    Table(#[from] tables::TableError),
    #[error("no input: give --dsc-raw, --dma-sweeps-raw or both")]
    NoInput,
}
