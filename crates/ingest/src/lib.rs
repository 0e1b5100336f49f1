//! agingflow-ingest: a campaign manifest and its raw instrument files to the `relaxation_raw` and
//! `indentation_raw` tables, and (optional outputs) `dsc_raw` and `dma_sweeps_raw`.
//!
//! `extract` is pure (parsed file to curve); `io` reads the files (in parallel, a bounded batch at
//! a time), reports them to the runner and streams curves into the tables in key order.

pub mod extract;
pub mod init;
mod io;

use std::path::PathBuf;

pub use io::run;

/// Validated options of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub manifest: PathBuf,
    pub relaxation_raw: PathBuf,
    pub indentation_raw: PathBuf,
    /// The DSC scans' table; without it a `dsc:` section is not read (with a warning).
    pub dsc_raw: Option<PathBuf>,
    /// The DMA sweeps' table; without it a `dma_sweeps:` section is not read (with a warning).
    pub dma_sweeps_raw: Option<PathBuf>,
    /// Skip files that cannot be read (with a warning) instead of failing.
    pub skip_bad_files: bool,
    /// Write relaxation_raw and indentation_raw as table folders of parts, one per group of
    /// files (see [`tables::part_name`]).
    pub parts: bool,
    /// Accept raw files outside the manifest's folder.
    pub allow_outside: bool,
}

/// What a run read and wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub relaxation_tests: usize,
    pub relaxation_points: usize,
    pub indents: usize,
    pub indentation_points: usize,
    pub dsc_scans: usize,
    pub dma_sweeps: usize,
    pub files_skipped: usize,
    pub bytes_read: u64,
}

/// Why ingest failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Manifest(#[from] campaign::ManifestErrors),
    /// Every file that could not be read, one per line as `file:line: message`.
    #[error("{} file{} could not be read:\n{}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.join("\n"))]
    Files(Vec<String>),
    #[error(transparent)]
    Table(#[from] tables::TableError),
    #[error("nothing usable: every file was skipped")]
    NothingUsable,
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
}
