//! agingflow-indentation-stats: the thin binary over the `indentation_stats` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use stage_cli::{CommonArgs, StageError};

/// Reduced modulus, first pop-in and critical shear stress of every indent, and their
/// distribution per aging time.
///
/// Per indent: the loading part (up to 98 % of the maximum load), the first pop-in (a depth burst
/// above a robust noise level and a minimum size at nearly constant load; P_popin is the load
/// just before it), a Hertz fit h = h0 + (3P/(4 E_r sqrt R))^(2/3) on the loading points above the
/// contact load and before the pop-in, and tau_c = 0.31 (6 E_r^2 P / (pi^3 R^2))^(1/3). An indent
/// without a pop-in is censored: counted, kept out of the statistics. Per material, temperature
/// and aging time: counts, mean and standard deviation of tau_c, the FWHM of a maximum-likelihood
/// Gaussian of tau_c/mean with its SE, and the Weibull modulus and scale by maximum likelihood.
#[derive(Parser, Debug)]
#[command(name = "agingflow-indentation-stats", version)]
struct Args {
    /// Input: the indentation_raw table
    #[arg(long, value_name = "PATH")]
    indentation_raw: PathBuf,
    /// Output: the indents table
    #[arg(long, value_name = "PATH")]
    indents: PathBuf,
    /// Output: the tau_c_stats table
    #[arg(long, value_name = "PATH")]
    tau_c_stats: PathBuf,
    /// Loads below this (uN) are not in contact
    #[arg(long, default_value_t = 10.0, value_parser = stage_cli::positive_f64)]
    contact_load_un: f64,
    /// A pop-in exceeds this many robust noise sigmas of the depth increments
    #[arg(long, default_value_t = 5.0, value_parser = stage_cli::positive_f64)]
    burst_sigmas: f64,
    /// A pop-in is at least this large (nm)
    #[arg(long, default_value_t = 1.0, value_parser = stage_cli::positive_f64)]
    min_burst_nm: f64,
    /// Fewer Hertz points than this fails the indent's fit
    #[arg(long, default_value_t = 8)]
    min_hertz_points: usize,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let p = indentation_stats::Params {
        indentation_raw: a.indentation_raw,
        indents: a.indents,
        tau_c_stats: a.tau_c_stats,
        options: indentation_stats::IndentOptions {
            contact_load_un: a.contact_load_un,
            burst_sigmas: a.burst_sigmas,
            min_burst_nm: a.min_burst_nm,
            min_hertz_points: a.min_hertz_points,
        },
    };
    stage_cli::run(&a.common, || {
        let (ok, censored, failed) = indentation_stats::run(&p).map_err(StageError::data)?;
        tracing::info!("{ok} indents with a pop-in, {censored} censored, {failed} not analysed");
        Ok(())
    })
}
