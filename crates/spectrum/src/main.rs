//! agingflow-spectrum: the thin binary over the `spectrum` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use spectrum::{Bands, Criterion, Params, SpectrumOptions, TrendOptions};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CriterionArg {
    /// Modified generalised cross-validation (dof x 1.4)
    Gcv,
    /// The marginal likelihood of lambda under the smoothness prior (Bayesian)
    Evidence,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BandsArg {
    /// The posterior covariance of the regularised solution at the chosen lambda (one
    /// factorisation per curve)
    Posterior,
    /// A seeded residual bootstrap, each replicate re-choosing lambda
    Bootstrap,
    /// No bands, no SEs of the moments
    None,
}
use stage_cli::{CommonArgs, StageError};

/// Relaxation-time spectra: D(ln tau) measured from every relaxation curve.
///
/// For each test in relaxation_clean: phi(t') = sum_k h_k exp(-t'/tau_k) d(ln tau) (+ c) on an
/// even grid of ln tau (--grid points, from --extend-low decades below the first t' to
/// --extend-high decades above the last), h >= 0, by Tikhonov-regularised nonnegative least squares with a second-difference
/// penalty; bins weighted by the samples they average. The weight lambda is chosen per curve by
/// modified generalised cross-validation (--criterion gcv, the default) or by its marginal
/// likelihood under the smoothness prior (--criterion evidence), or fixed by --lambda; the
/// choice is recorded. Peaks count as resolved where the band says the dip between them is real.
/// Pointwise 95 % bands of h and SEs of the moments (--bands): by default by a seeded residual
/// bootstrap, each replicate re-choosing lambda (--bootstrap replicates); or, about 4 times
/// faster per curve, from the regularised solution's posterior covariance at the chosen lambda
/// on the grid points where h > 0 (--bands posterior: its bands hold the true distribution more
/// often, its moments' SEs are less well calibrated, docs/physics.md); or none. With
/// --kww-fits, the fit's offset c and step time t0 enter the inversion, and each point carries the distribution the fitted KWW implies (h_kww; Var(ln tau) =
/// (pi^2/6)(1/beta^2 - 1)). Reported per curve: mean, SD and skewness of ln tau, peaks, lambda,
/// residual, status and flags (beyond_window, mass_at_grid_edge, lambda_at_scan_limit).
///
/// Per series (material, series, strain, temperature), with --spectrum-series and
/// --spectrum-trends: the centre and width of D per aging time from the spectra, the KWW fits
/// and (with --model-fits) each model scenario, and their weighted lines against ln t_a: a
/// quantity moves when its 95 % interval excludes zero and its change over the series exceeds
/// --centre-change (ln tau) or --width-change (relative); the pattern is shift, broadening,
/// narrowing, both, or no_change. A curve that cannot be inverted gives a flagged row.
#[derive(Parser, Debug)]
#[command(name = "agingflow-spectrum", version)]
struct Args {
    /// Input: the relaxation_clean table
    #[arg(long, value_name = "PATH")]
    relaxation_clean: PathBuf,
    /// Input (optional): the kww_fits table
    #[arg(long, value_name = "PATH")]
    kww_fits: Option<PathBuf>,
    /// Input (optional): the model_fits table of model-compare
    #[arg(long, value_name = "PATH")]
    model_fits: Option<PathBuf>,
    /// Output: the spectra table (one row per curve and grid point)
    #[arg(long, value_name = "PATH")]
    spectra: PathBuf,
    /// Output: the spectrum_moments table (one row per curve)
    #[arg(long, value_name = "PATH")]
    spectrum_moments: PathBuf,
    /// Output (optional): the spectrum_series table (centre and width per series, source and t_a)
    #[arg(long, value_name = "PATH")]
    spectrum_series: Option<PathBuf>,
    /// Output (optional): the spectrum_trends table (their lines against ln t_a)
    #[arg(long, value_name = "PATH")]
    spectrum_trends: Option<PathBuf>,
    /// Grid points in ln tau
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(10..=400))]
    grid: u64,
    /// Decades the grid extends below the first t' (faster modes have decayed before it)
    #[arg(long, default_value_t = 0.5, value_parser = stage_cli::positive_f64)]
    extend_low: f64,
    /// Decades the grid extends above the last t'
    #[arg(long, default_value_t = 0.5, value_parser = stage_cli::positive_f64)]
    extend_high: f64,
    /// How the regularisation weight is chosen per curve
    #[arg(long, value_enum, default_value = "gcv")]
    criterion: CriterionArg,
    /// A fixed regularisation weight instead of the criterion's choice
    #[arg(long, value_parser = stage_cli::positive_f64)]
    lambda: Option<f64>,
    /// How the bands of h and the moments' SEs are computed: bootstrap (residual bootstrap
    /// re-choosing lambda), posterior (the regularised solution's posterior covariance at the
    /// chosen lambda, ~4x faster), none
    #[arg(long, value_enum, default_value = "bootstrap")]
    bands: BandsArg,
    /// Bootstrap replicates under --bands bootstrap (0: no bands)
    #[arg(long, default_value_t = 100)]
    bootstrap: usize,
    /// Seed of the bootstraps (results do not depend on the thread count)
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Share of the mass outside the measured window above which a curve is flagged
    /// beyond_window
    #[arg(long, default_value_t = 0.2, value_parser = stage_cli::positive_f64)]
    beyond_window: f64,
    /// The least change of the centre over a series that counts as a move, in ln tau
    #[arg(long, default_value_t = 0.1, value_parser = stage_cli::positive_f64)]
    centre_change: f64,
    /// The least change of the width over a series that counts as a move, relative to its mean
    #[arg(long, default_value_t = 0.1, value_parser = stage_cli::positive_f64)]
    width_change: f64,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let p = Params {
        relaxation_clean: a.relaxation_clean,
        kww_fits: a.kww_fits,
        model_fits: a.model_fits,
        spectra: a.spectra,
        spectrum_moments: a.spectrum_moments,
        spectrum_series: a.spectrum_series,
        spectrum_trends: a.spectrum_trends,
        spectrum: SpectrumOptions {
            n_grid: a.grid as usize,
            extend_low_decades: a.extend_low,
            extend_high_decades: a.extend_high,
            lambda: a.lambda,
            criterion: match a.criterion {
                CriterionArg::Gcv => Criterion::Gcv,
                CriterionArg::Evidence => Criterion::Evidence,
            },
            bands: match a.bands {
                BandsArg::Posterior => Bands::Posterior,
                BandsArg::Bootstrap => Bands::Bootstrap,
                BandsArg::None => Bands::None,
            },
            bootstrap: a.bootstrap,
            seed: a.seed,
            beyond_window: a.beyond_window,
            ..SpectrumOptions::default()
        },
        trends: TrendOptions {
            centre_change: a.centre_change,
            width_change: a.width_change,
            ..TrendOptions::default()
        },
    };
    stage_cli::run(&a.common, || {
        let s = spectrum::run(&p).map_err(StageError::data)?;
        tracing::info!("{} curves inverted, {} flagged", s.inverted, s.flagged);
        Ok(())
    })
}
