//! agingflow-clean: the thin binary over the `clean` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use stage_cli::{CommonArgs, StageError};

/// Prepare relaxation curves for fitting.
///
/// For each test in relaxation_raw: finds the end of the strain step (first sample at 98 % of the
/// applied strain, else the stress peak), sets t' = t - t_step, takes sigma0 = stress there,
/// drops the pre-step part, averages the points into bins evenly spaced in log t', and computes
/// phi = stress / sigma0. Writes relaxation_clean and relaxation_tests (sigma0, step end, point
/// counts, status and flags: too_short, non_decaying, noisy, missing_values, ...).
#[derive(Parser, Debug)]
#[command(name = "agingflow-clean", version)]
struct Args {
    /// Input: the relaxation_raw table
    #[arg(long, value_name = "PATH")]
    relaxation_raw: PathBuf,
    /// Output: the relaxation_clean table
    #[arg(long, value_name = "PATH")]
    relaxation_clean: PathBuf,
    /// Output: the relaxation_tests table
    #[arg(long, value_name = "PATH")]
    relaxation_tests: PathBuf,
    /// Points evenly spaced in log t' (0 keeps every point)
    #[arg(long, default_value_t = 200)]
    resample: usize,
    /// Fewer kept points than this flags a test too_short
    #[arg(long, default_value_t = 20)]
    min_points: usize,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let p = clean::Params {
        relaxation_raw: a.relaxation_raw,
        relaxation_clean: a.relaxation_clean,
        relaxation_tests: a.relaxation_tests,
        options: clean::Options {
            resample: a.resample,
            min_points: a.min_points,
        },
    };
    stage_cli::run(&a.common, || {
        let (ok, flagged) = clean::run(&p).map_err(StageError::data)?;
        tracing::info!("{ok} tests clean, {flagged} flagged");
        Ok(())
    })
}
