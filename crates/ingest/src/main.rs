//! agingflow-ingest: the thin binary over the `ingest` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use stage_cli::{CommonArgs, StageError};

/// Read a campaign's raw instrument files into Parquet tables.
///
/// Reads the campaign manifest (materials, and for every relaxation test and indent its file,
/// material, temperature, aging time) and every file it names: TA Universal Analysis text
/// (UTF-16 or 8-bit), TRIOS text, LIMS, Excel and JSON exports, Hysitron TriboScan text (classic
/// and TI 990), Hysitron .hld, Keysight G200 NanoSuite Excel (one indent per `Test NNN` sheet),
/// and CSV/TSV with a column mapping. `agingflow init DIR` writes a manifest for a folder. Writes relaxation_raw (time s, stress MPa,
/// temperature K, strain as a fraction) and indentation_raw (depth nm, load µN, time s, segment),
/// and, for the manifest's `dsc:` and `dma_sweeps:` sections, dsc_raw and dma_sweeps_raw.
/// Any file that cannot be read is reported with its file and line; by default the run then fails.
#[derive(Parser, Debug)]
#[command(name = "agingflow-ingest", version)]
struct Args {
    /// The campaign manifest (YAML)
    #[arg(long, value_name = "PATH")]
    manifest: PathBuf,
    /// Output: the relaxation_raw table (Parquet)
    #[arg(long, value_name = "PATH")]
    relaxation_raw: PathBuf,
    /// Output: the indentation_raw table (Parquet)
    #[arg(long, value_name = "PATH")]
    indentation_raw: PathBuf,
    /// Output: the dsc_raw table (Parquet): temperature K, heat flow W/g (or W without a mass),
    /// time s. Without it a `dsc:` section is not read (a warning); empty when the manifest has none
    #[arg(long, value_name = "PATH")]
    dsc_raw: Option<PathBuf>,
    /// Output: the dma_sweeps_raw table (Parquet): temperature K, frequency Hz, E' and E'' MPa,
    /// tan delta. Without it a `dma_sweeps:` section is not read (a warning)
    #[arg(long, value_name = "PATH")]
    dma_sweeps_raw: Option<PathBuf>,
    /// Skip files that cannot be read, with a warning, instead of failing the run
    #[arg(long)]
    skip_bad_files: bool,
    /// Write relaxation_raw and indentation_raw as table folders: part files
    /// part-000000.parquet, ... (one per group of about 16 raw files, in row order), read by every
    /// stage as one table. A campaign that grows by a file then rewrites one part, not the table
    #[arg(long)]
    parts: bool,
    /// Accept raw files outside the manifest's folder (`../`, absolute paths); refused
    /// otherwise, so that a manifest cannot make agingflow read any file on the machine
    #[arg(long)]
    allow_outside: bool,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let params = ingest::Params {
        manifest: a.manifest,
        relaxation_raw: a.relaxation_raw,
        indentation_raw: a.indentation_raw,
        dsc_raw: a.dsc_raw,
        dma_sweeps_raw: a.dma_sweeps_raw,
        skip_bad_files: a.skip_bad_files,
        parts: a.parts,
        allow_outside: a.allow_outside,
    };
    stage_cli::run(&a.common, || {
        let s = ingest::run(&params).map_err(StageError::data)?;
        tracing::info!(
            "read {:.1} MB: {} relaxation tests ({} points), {} indents ({} points), {} DSC scans, {} DMA sweeps{}",
            s.bytes_read as f64 / 1e6,
            s.relaxation_tests,
            s.relaxation_points,
            s.indents,
            s.indentation_points,
            s.dsc_scans,
            s.dma_sweeps,
            if s.files_skipped > 0 {
                format!(", {} files skipped", s.files_skipped)
            } else {
                String::new()
            }
        );
        Ok(())
    })
}
