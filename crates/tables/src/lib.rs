//! The Parquet contract of agingflow: every table's schema, column names and units, and the only
//! place where stages read and write table files.
//!
//! Two kinds of table exist. A [`RowTable`] has one row per item (a test, a fit, an indent) and is
//! read and written whole. A [`CurveTable`] has one row per sample point and is handled one curve
//! at a time ([`CurveWriter`], [`CurveReader`]), so a stage never needs a whole campaign of raw
//! points in memory.

mod coerce;
mod column;
mod defs;
mod io;
pub mod items;
pub mod reference;
pub mod segments;
mod series;
pub mod status;
pub mod table;

use std::path::PathBuf;

pub use column::{Col, repeat};
pub use defs::*;
pub use io::{
    AnyTable, CurveReader, CurveWriter, FileMeta, Provenance, is_agingflow_table, part_name,
    read_any, read_curves, read_rows, start_stage, table_parts, write_curves, write_rows,
};
pub use series::{SeriesKey, nominal_strains};
pub use status::Status;
pub use table::{ColumnDef, CurveTable, RowTable, schema_of};

/// Adds `flag` to a comma-separated `flags` column value, kept sorted and without duplicates.
pub fn add_flag(flags: &mut String, flag: &str) {
    let mut all: Vec<&str> = flags.split(',').filter(|f| !f.is_empty()).collect();
    all.push(flag);
    all.sort_unstable();
    all.dedup();
    *flags = all.join(",");
}

/// The version of the table layout, written into every file.
pub const SCHEMA_VERSION: u32 = 4;
/// The agingflow version, written into every file.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything that can go wrong reading or writing a table file.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{path}: {source}", path = .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable Parquet table: {source}", path = .path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{path}: table `{table}` has no column `{column}`", path = .path.display())]
    MissingColumn {
        path: PathBuf,
        table: String,
        column: String,
    },
    #[error("{path}: column `{column}` of table `{table}` is {found}, expected {expected}", path = .path.display())]
    WrongType {
        path: PathBuf,
        table: String,
        column: String,
        expected: String,
        found: String,
    },
    #[error("{path}: column `{column}` of table `{table}` holds nulls but may not", path = .path.display())]
    NullInColumn {
        path: PathBuf,
        table: String,
        column: String,
    },
    #[error("{path}: holds table `{found}`, expected `{expected}`", path = .path.display())]
    WrongTable {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{path}: curve `{id}` of table `{table}` written after `{previous}`: curves must come in key order, each once", path = .path.display())]
    OutOfOrder {
        path: PathBuf,
        table: String,
        previous: String,
        id: String,
    },
    #[error("table `{table}`, curve `{id}`: per-sample columns differ in length ({detail})")]
    Ragged {
        table: String,
        id: String,
        detail: String,
    },
    #[error("{path}: table `{table}` is not in the order agingflow reads by ({keys}): {detail}; each curve's rows must be together with its samples in order, and curves in key order (a table from elsewhere: sort it by these columns; one agingflow wrote: regenerate it with the stage that writes it)", path = .path.display())]
    Unsorted {
        path: PathBuf,
        table: String,
        keys: String,
        detail: String,
    },
    #[error("refusing to replace {path}: it is not a table agingflow wrote; choose another output path, or move it away yourself", path = .path.display())]
    NotOurs { path: PathBuf },
    #[error("{path}: cannot write table: {message}", path = .path.display())]
    Write { path: PathBuf, message: String },
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
    #[error("internal error in the table layer: {0}")]
    Internal(String),
}

impl TableError {
    /// A Parquet error while writing: says "the disk is full" where that is the cause.
    pub(crate) fn write(path: &std::path::Path, source: parquet::errors::ParquetError) -> Self {
        let mut message = source.to_string();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&source);
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<std::io::Error>()
                && io.raw_os_error() == Some(28)
            {
                message = "the disk is full (no space left on device)".into();
            }
            cause = c.source();
        }
        if message.contains("No space left on device") {
            message = "the disk is full (no space left on device)".into();
        }
        TableError::Write {
            path: path.to_owned(),
            message,
        }
    }
}
