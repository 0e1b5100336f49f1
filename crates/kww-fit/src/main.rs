//! agingflow-kww-fit: the thin binary over the `kww_fit` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kww_fit::{FitOptions, Params, Variant};
use stage_cli::{CommonArgs, StageError};

/// Fit KWW stretched exponentials to every relaxation curve, and the aging law.
///
/// For each test in relaxation_clean: phi(t') = A exp(-((t' - t0)/tau)^beta) [+ c], by
/// Levenberg-Marquardt from automatic initial guesses, bin means weighted by the samples they
/// average. t0 is a nuisance parameter of every fit, not a model choice: clean locates the step
/// end to within step_end_se_s, and t0 carries a Gaussian prior of that SD (bounds 5 SD), so a
/// coarsely sampled step neither biases beta nor hides from its standard error. BIC decides only
/// whether the residual-stress offset c is present (kept when it is confounded with the tail).
/// An instrument's slow stress drift (linear in t', either sign) is a nuisance parameter of
/// every fit, with a Gaussian prior of SD --drift-mpa-per-h (default 0.5 MPa/h): a drift the fit
/// would otherwise absorb into its offset and slow tail, biasing beta and tau by many standard
/// errors while the residuals barely show it, widens the intervals instead (flag `drift` where
/// the data show one beyond 2 SE). With 0 the term is left out and a curve whose data show a
/// drift is `drift_not_modelled`, not ok (docs/drift.md). Reported: beta, tau, <tau>, their standard errors and correlation, RSS, R^2, AIC, BIC and flags
/// (tau_extrapolated, ill_conditioned, at_bound, autocorrelated_residuals). Per series (material,
/// series, strain, temperature): tau = A t_a^mu in two stages with a fitted breakpoint, the aging
/// time where beta peaks with a profile interval, and the p-value of an interior maximum against
/// a monotone trend.
#[derive(Parser, Debug)]
#[command(name = "agingflow-kww-fit", version)]
struct Args {
    /// Input: the relaxation_clean table
    #[arg(long, value_name = "PATH")]
    relaxation_clean: PathBuf,
    /// Output: the kww_fits table
    #[arg(long, value_name = "PATH")]
    kww_fits: PathBuf,
    /// Output: the aging_law table
    #[arg(long, value_name = "PATH")]
    aging_law: PathBuf,
    /// Model: auto (kww or kww_offset, whichever BIC prefers; both with the nuisance t0), kww,
    /// kww_offset, or kww_offset_t0 (t0 free in -30..60 s, for curves without step information)
    #[arg(long, default_value = "auto")]
    model: String,
    /// Residual-bootstrap replicates for intervals of beta and tau (0: none)
    #[arg(long, default_value_t = 0)]
    bootstrap: usize,
    /// Seed of the bootstraps (results do not depend on the thread count)
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The instrument's stress drift, MPa per hour (one SD of the drift term's prior: what a DMA
    /// may drift, 0.05-0.5 MPa/h); 0 leaves the drift term out (tighter intervals that hold only
    /// on an instrument that does not drift; curves that show a drift are `drift_not_modelled`)
    #[arg(long, default_value_t = kww_fit::DEFAULT_DRIFT_MPA_PER_H, value_parser = stage_cli::non_negative_f64)]
    drift_mpa_per_h: f64,
    /// How residuals are weighted: samples (every recorded sample alike: the maximum-likelihood
    /// fit under white noise) or log-time (every log-time bin alike, as a fit to a curve
    /// resampled in log time; errors from a sandwich covariance). The other is fitted as a check
    /// (beta_weighting_shift; flag not_kww where the residuals are autocorrelated and the shift
    /// exceeds twice beta's SE)
    #[arg(long, default_value = "samples", value_parser = ["samples", "log-time"])]
    weighting: String,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    stage_cli::run(&a.common, || {
        let variants = match a.model.as_str() {
            "auto" => vec![Variant::Kww, Variant::KwwOffset],
            m => vec![Variant::parse(m).ok_or_else(|| {
                StageError::usage(anyhow::anyhow!(
                    "--model {m}: use auto, kww, kww_offset or kww_offset_t0"
                ))
            })?],
        };
        let p = Params {
            relaxation_clean: a.relaxation_clean.clone(),
            kww_fits: a.kww_fits.clone(),
            aging_law: a.aging_law.clone(),
            fit: FitOptions {
                variants,
                bootstrap: a.bootstrap,
                seed: a.seed,
                drift_mpa_per_h: (a.drift_mpa_per_h > 0.0).then_some(a.drift_mpa_per_h),
                weighting: kww_fit::Weighting::parse(&a.weighting)
                    .unwrap_or(kww_fit::Weighting::Samples),
                ..FitOptions::default()
            },
        };
        let (ok, flagged) = kww_fit::run(&p).map_err(StageError::data)?;
        tracing::info!("{ok} curves fitted, {flagged} flagged");
        Ok(())
    })
}
