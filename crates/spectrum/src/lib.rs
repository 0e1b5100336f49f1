//! agingflow-spectrum: the relaxation-time spectrum h(ln tau) of every cleaned relaxation curve
//! (`invert`: regularised nonnegative least squares, the weight by GCV, bootstrap bands,
//! moments and peaks), and per series how its centre and width move with the aging time next to
//! what the KWW fits and the model scenarios imply (`series`). `io` reads the tables and writes
//! `spectra`, `spectrum_moments` and optionally `spectrum_series` and `spectrum_trends`.

pub mod invert;
mod io;
pub mod series;

use std::path::PathBuf;

pub use invert::{Bands, Criterion, CurveInput, InvertError, Spectrum, SpectrumOptions, invert};
pub use io::run;
pub use series::{TrendOptions, summarise};

use physics::kww::{distribution_ln_tau_grid, distribution_mean_ln_tau, distribution_sd_ln_tau};
use tables::{KwwFit, RelaxationClean, SpectrumMoments};

/// Validated options of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub relaxation_clean: PathBuf,
    pub kww_fits: Option<PathBuf>,
    pub model_fits: Option<PathBuf>,
    pub spectra: PathBuf,
    pub spectrum_moments: PathBuf,
    pub spectrum_series: Option<PathBuf>,
    pub spectrum_trends: Option<PathBuf>,
    pub spectrum: SpectrumOptions,
    pub trends: TrendOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum SpectrumError {
    #[error(transparent)]
    Table(#[from] tables::TableError),
    #[error("no curve could be inverted ({0} curves, all flagged)")]
    NothingInverted(usize),
}

/// One curve to its `spectra` curve (None when it could not be inverted) and its
/// `spectrum_moments` row. `fit` is the curve's KWW fit when kww-fits was given: its offset and
/// step time enter the inversion, its beta and tau the comparison columns. `strain` is the
/// curve's nominal strain.
pub fn analyse(
    c: &RelaxationClean,
    fit: Option<&KwwFit>,
    strain: Option<f64>,
    o: &SpectrumOptions,
) -> (Option<tables::Spectrum>, SpectrumMoments) {
    let fit_ok = fit.filter(|f| f.status == tables::Status::Ok);
    let offset = fit_ok.is_some_and(|f| f.model.contains("offset"));
    let t0 = fit_ok
        .and_then(|f| f.t0_s)
        .filter(|t| t.is_finite())
        .unwrap_or(0.0);
    let input = CurveInput {
        time_s: &c.time_s,
        phi: &c.phi,
        n_samples: &c.n_samples,
        offset,
        t0_s: t0,
        stream: rng::stream_of(&c.test_id),
    };
    // The KWW fit's beta and ln tau, where it has a distribution (0 < beta < 1).
    let kww = fit_ok.and_then(|f| {
        let (b, t) = (f.beta?, f.tau_s?);
        (b > 0.0 && b < 1.0 && t > 0.0).then_some((b, t.ln(), f.amplitude.unwrap_or(1.0)))
    });
    let mut row = SpectrumMoments {
        test_id: c.test_id.clone(),
        material: c.material.clone(),
        series: c.series.clone(),
        strain,
        temperature_k: c.temperature_k,
        aging_time_s: c.aging_time_s,
        kww_mean_ln_tau: kww.map(|(b, lt, _)| distribution_mean_ln_tau(lt, b)),
        kww_sd_ln_tau: kww.map(|(b, _, _)| distribution_sd_ln_tau(b)),
        n_points: c.time_s.len() as i64,
        n_grid: o.n_grid as i64,
        criterion: if o.lambda.is_some() {
            "fixed"
        } else {
            o.criterion.name()
        }
        .into(),
        ..Default::default()
    };
    let mut flags: Vec<&str> = Vec::new();
    if fit.is_some() && fit_ok.is_none() {
        flags.push("kww_fit_not_ok");
    }
    match invert(&input, o) {
        Err(e) => {
            row.status = e.status().into();
            row.flags = flags.join(",");
            (None, row)
        }
        Ok(s) => {
            flags.extend(s.flags.iter().copied());
            flags.sort_unstable();
            row.mean_ln_tau = Some(s.moments.mean);
            row.mean_ln_tau_se = s.mean_se;
            row.sd_ln_tau = Some(s.moments.sd);
            row.sd_ln_tau_se = s.sd_se;
            row.skewness = Some(s.moments.skewness).filter(|v| v.is_finite());
            row.n_peaks = s.n_peaks.map(|n| n as i64);
            row.mass = Some(s.moments.mass);
            row.offset = s.offset;
            row.beyond_window_fraction = Some(s.beyond_window_fraction);
            row.lambda = Some(s.lambda);
            row.criterion = s.criterion.into();
            row.dof = Some(s.dof);
            row.rss = Some(s.rms);
            row.n_points = s.n_points as i64;
            row.time_min_s = Some(s.time_min_s);
            row.time_max_s = Some(s.time_max_s);
            row.flags = flags.join(",");
            // `ok` unless a flag voids it (tables::status: beyond_window).
            row.status = tables::status::settled(tables::status::OK, &row.flags);
            let h_kww: Vec<Option<f64>> = match kww {
                Some((b, lt, a)) => distribution_ln_tau_grid(&s.ln_tau, lt, b)
                    .into_iter()
                    .map(|d| Some(a * d))
                    .collect(),
                None => vec![None; s.ln_tau.len()],
            };
            let curve = tables::Spectrum {
                test_id: c.test_id.clone(),
                material: c.material.clone(),
                series: c.series.clone(),
                strain,
                temperature_k: c.temperature_k,
                aging_time_s: c.aging_time_s,
                h_low: column(&s.h_low, s.h.len()),
                h_high: column(&s.h_high, s.h.len()),
                h_kww,
                ln_tau: s.ln_tau,
                h: s.h,
            };
            (Some(curve), row)
        }
    }
}

/// A band as a nullable column (all null without bands).
fn column(band: &Option<Vec<f64>>, n: usize) -> Vec<Option<f64>> {
    match band {
        Some(v) => v.iter().copied().map(Some).collect(),
        None => vec![None; n],
    }
}
