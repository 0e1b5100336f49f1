//! One relaxation curve to one `kww_fits` row: checks, fits of the requested variants (each with
//! the step time as a bounded nuisance parameter), selection by BIC, derived quantities, flags
//! and optional bootstrap intervals.
//!
//! Statistics, and why:
//! - Weights. A bin mean of m recorded samples has variance sigma^2 / m (white instrument noise),
//!   so the residuals are weighted by sqrt(m): the fit is then the maximum-likelihood fit of every
//!   recorded sample, and s^2 (J^T W J)^-1 is its covariance. Equal weights would let the many
//!   short early bins of one sample each look as precise as the late bins averaging hundreds,
//!   and the covariance would be wrong by that ratio.
//! - Step time. t' = 0 is where clean located the end of the strain step, to within its SE.
//!   Every variant carries t0 (phi = A exp(-((t' - t0)/tau)^beta) [+ c]) with a Gaussian prior
//!   N(0, SE^2), added to the least squares as one pseudo-observation sigma t0 / SE, and hard
//!   bounds of 5 SE: what the data say about t0 is used, what they do not is held by the prior,
//!   and the step's uncertainty enters the covariance of beta and tau through the same matrix.
//!   sigma comes from a preliminary fit with t0 = 0. Model selection (BIC) decides only whether a
//!   residual-stress offset c is present.
//! - Autocorrelation. The weighted residuals (in time order) of a right model with white noise
//!   are uncorrelated. A Ljung-Box test over lags 1 to 10 at p < 0.01 (slow drift, a wrong
//!   model) flags the curve `autocorrelated_residuals` and widens the standard errors by
//!   sqrt(1 + 2 sum rho_k), the long-run variance factor. A drift the fit absorbs into its
//!   parameters leaves little structure behind: the flag marks what it can see, it does not make
//!   a drifting instrument's interval right (see bench/coverage.md and docs/drift.md).

use fit::{Fit, Model, Options, least_squares};
use std::sync::Mutex;

use physics::kww::{KwwParams, ShiftedTerms, mean_tau_s};
use tables::{KwwFit, RelaxationClean};

use crate::model::{KwwModel, Variant, initial_guess};

/// The stress drift a DMA's signal may show, MPa per hour: the prior's SD of the drift check,
/// and the value to state (`--drift-mpa-per-h`) for an instrument that drifts that much.
pub const DEFAULT_DRIFT_MPA_PER_H: f64 = 0.5;

/// How the residuals of a resampled curve are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weighting {
    /// Every recorded sample alike: a bin mean of m samples weighs sqrt(m) (the
    /// maximum-likelihood fit under white noise; the default).
    Samples,
    /// Every log-time interval alike: each log-spaced bin weighs the same, as a fit to a curve
    /// resampled in log time does; errors from a sandwich covariance (the weights are not the
    /// inverse variances).
    LogTime,
}

impl Weighting {
    pub fn name(self) -> &'static str {
        match self {
            Weighting::Samples => "samples",
            Weighting::LogTime => "log-time",
        }
    }
    pub fn parse(s: &str) -> Option<Weighting> {
        [Weighting::Samples, Weighting::LogTime]
            .into_iter()
            .find(|w| w.name() == s)
    }
}

/// How curves are fitted.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// The variants to fit; with more than one, BIC chooses.
    pub variants: Vec<Variant>,
    /// Residual-bootstrap replicates for intervals of beta and tau (0: none).
    pub bootstrap: usize,
    pub seed: u64,
    /// |corr(ln tau, beta)| above this flags `ill_conditioned`.
    pub ill_conditioned_corr: f64,
    /// The instrument's stress drift (MPa/h, one SD) that every fit carries as a nuisance
    /// parameter with a Gaussian prior, linear in t' (default [`DEFAULT_DRIFT_MPA_PER_H`]).
    /// None: no drift term in the reported fit, but a curve whose data show a drift (the term
    /// fitted with the default prior, beyond 3 SE) is `drift_not_modelled`, not `ok`.
    pub drift_mpa_per_h: Option<f64>,
    /// How the residuals are weighted (see [`Weighting`]); the other weighting is fitted too, as
    /// a check: `beta_weighting_shift`, and flag `not_kww` where the residuals are autocorrelated
    /// and the shift exceeds twice beta's SE.
    pub weighting: Weighting,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            variants: vec![Variant::Kww, Variant::KwwOffset],
            bootstrap: 0,
            seed: 7,
            ill_conditioned_corr: 0.95,
            drift_mpa_per_h: Some(DEFAULT_DRIFT_MPA_PER_H),
            weighting: Weighting::Samples,
        }
    }
}

fn flagged(c: &RelaxationClean, status: &str, n: usize) -> KwwFit {
    KwwFit {
        test_id: c.test_id.clone(),
        material: c.material.clone(),
        series: c.series.clone(),
        strain: c.strain,
        temperature_k: c.temperature_k,
        aging_time_s: c.aging_time_s,
        tg_k: c.tg_k,
        model: String::new(),
        n_points: n as i64,
        status: status.to_owned(),
        ..Default::default()
    }
}

/// Why a curve cannot be fitted, checked before any fit.
fn check(t: &[f64], phi: &[f64]) -> Option<&'static str> {
    if t.len() != phi.len() || t.iter().chain(phi).any(|v| !v.is_finite()) {
        return Some("non_finite_values");
    }
    if t.len() < 8 {
        return Some("too_few_points");
    }
    if t.windows(2).any(|w| w[1] <= w[0]) {
        return Some("non_monotone_time");
    }
    if t[0] < 0.0 {
        return Some("negative_time");
    }
    let mean = phi.iter().sum::<f64>() / phi.len() as f64;
    let sd = (phi.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / phi.len() as f64).sqrt();
    if sd < 1e-9 {
        return Some("constant");
    }
    if phi[0] <= 0.0 || mean <= 0.0 {
        return Some("negative_stress");
    }
    None
}

/// Fits one variant from the previous variant's solution when there is one, else from the
/// Kohlrausch guess (t0 starting at -10 s: a kink started among the first points can trap the
/// solver); the other starts are tried only when a fit fails or does not converge, and the lowest
/// RSS wins.
fn fit_variant(
    t: &[f64],
    ln_t: &[f64],
    phi: &[f64],
    w: Option<&[f64]>,
    v: Variant,
    prior: Option<&Fit>,
) -> Option<Fit> {
    let model = KwwModel::new(t, ln_t, v);
    let opts = Options {
        bounds: v.bounds(),
        max_iters: 300,
        ftol: 1e-11,
        xtol: 1e-9,
        gtol: 1e-12,
    };
    let mut bases: Vec<Vec<f64>> = Vec::new();
    if let Some(p) = prior {
        bases.push(p.params[..3].to_vec());
    }
    bases.push(initial_guess(t, phi).to_vec());
    let mut starts = Vec::new();
    for base in bases {
        match v {
            Variant::Kww => starts.push(base),
            Variant::KwwOffset => starts.push([base, vec![0.0]].concat()),
            Variant::KwwOffsetT0 => {
                starts.push([base.clone(), vec![0.0, -10.0]].concat());
                starts.push([base, vec![0.0, 0.0]].concat());
            }
        }
    }
    let mut best: Option<Fit> = None;
    for p0 in starts {
        if let Ok(f) = least_squares(&model, phi, w, &p0, &opts) {
            let done = f.converged;
            if f.rss.is_finite() && best.as_ref().is_none_or(|b| f.rss < b.rss) {
                best = Some(f);
            }
            if done {
                break;
            }
        }
    }
    best
}

/// A KWW variant without t0 plus the nuisance step time t0 (last parameter) and its prior as
/// one extra observation `prior * t0` (observed 0). Parameters [A, ln tau, beta, (c), t0].
struct StepModel<'a> {
    t: &'a [f64],
    offset: bool,
    /// sigma / SE(step end).
    prior: f64,
    /// The last evaluation's per-point terms, for the Jacobian at the same parameters.
    terms: Mutex<ShiftedTerms>,
}

impl<'a> StepModel<'a> {
    fn new(t: &'a [f64], offset: bool, prior: f64) -> Self {
        StepModel {
            t,
            offset,
            prior,
            terms: Mutex::default(),
        }
    }
}

impl StepModel<'_> {
    fn params(&self, p: &[f64]) -> KwwParams {
        KwwParams {
            amplitude: p[0],
            ln_tau: p[1],
            beta: p[2],
            offset: if self.offset { p[3] } else { 0.0 },
            t0_s: p[p.len() - 1],
        }
    }
}

impl Model for StepModel<'_> {
    fn n_params(&self) -> usize {
        4 + usize::from(self.offset)
    }
    fn n_obs(&self) -> usize {
        self.t.len() + 1
    }
    fn eval(&self, p: &[f64], out: &mut [f64]) {
        let q = self.params(p);
        let n = self.t.len();
        self.terms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .eval(&q, self.t, &mut out[..n]);
        out[n] = self.prior * q.t0_s;
    }
    fn jacobian(&self, p: &[f64], jac: &mut [f64]) -> bool {
        let q = self.params(p);
        let k = self.n_params();
        let mut terms = self.terms.lock().unwrap_or_else(|e| e.into_inner());
        terms.gradient(&q, self.t, |i, g| {
            let row = &mut jac[i * k..i * k + k];
            row[..3].copy_from_slice(&g[..3]);
            if self.offset {
                row[3] = g[3];
            }
            row[k - 1] = g[4];
        });
        let last = &mut jac[self.t.len() * k..self.t.len() * k + k];
        last.fill(0.0);
        last[k - 1] = self.prior;
        true
    }
}

/// The variant `v` (kww or kww_offset) refitted with the nuisance t0 (prior SD `sd_s`) from the
/// fit `f` with t0 = 0.
fn fit_with_step(
    t: &[f64],
    phi: &[f64],
    w: Option<&[f64]>,
    v: Variant,
    f: &Fit,
    sd_s: f64,
) -> Option<(Fit, f64)> {
    let sigma = (f.rss / (f.n.saturating_sub(f.k)).max(1) as f64).sqrt();
    let prior = sigma.max(1e-12) / sd_s;
    let model = StepModel::new(t, v != Variant::Kww, prior);
    let mut bounds = v.bounds();
    bounds.push(fit::Bound::Both(-5.0 * sd_s, 5.0 * sd_s));
    let opts = Options {
        bounds,
        max_iters: 300,
        ftol: 1e-11,
        xtol: 1e-9,
        gtol: 1e-12,
    };
    let y: Vec<f64> = phi.iter().copied().chain([0.0]).collect();
    let wy: Option<Vec<f64>> = w.map(|w| w.iter().copied().chain([1.0]).collect());
    let p0: Vec<f64> = f.params.iter().copied().chain([0.0]).collect();
    least_squares(&model, &y, wy.as_deref(), &p0, &opts)
        .ok()
        .filter(|g| g.rss.is_finite())
        .map(|g| (g, prior))
}

/// A model plus a linear drift of the signal: `d t' / t_max` added to each data point (the
/// extra observations of the base, such as the step prior, untouched), and the drift's Gaussian
/// prior as one more observation `prior * d` (observed 0). `d` is the last parameter: the drift
/// over the whole window in units of phi.
struct Drift<'a> {
    base: &'a dyn Model,
    t: &'a [f64],
    t_max: f64,
    /// sigma / (prior SD of d).
    prior: f64,
    /// The base model's Jacobian, kept across calls.
    scratch: Mutex<Vec<f64>>,
}

impl Model for Drift<'_> {
    fn n_params(&self) -> usize {
        self.base.n_params() + 1
    }
    fn n_obs(&self) -> usize {
        self.base.n_obs() + 1
    }
    fn eval(&self, p: &[f64], out: &mut [f64]) {
        let k = self.base.n_params();
        let n = self.base.n_obs();
        self.base.eval(&p[..k], &mut out[..n]);
        for (o, &t) in out.iter_mut().zip(self.t) {
            *o += p[k] * t / self.t_max;
        }
        out[n] = self.prior * p[k];
    }
    fn jacobian(&self, p: &[f64], jac: &mut [f64]) -> bool {
        let k = self.base.n_params();
        let n = self.base.n_obs();
        // The base's n x k block into a kept buffer, then laid out in rows of k + 1.
        let mut guard = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let base = &mut *guard;
        base.clear();
        base.resize(n * k, 0.0);
        if !self.base.jacobian(&p[..k], base) {
            return false;
        }
        for (i, (row, b)) in jac
            .chunks_exact_mut(k + 1)
            .zip(base.chunks_exact(k))
            .enumerate()
        {
            row[..k].copy_from_slice(b);
            row[k] = self.t.get(i).map_or(0.0, |&t| t / self.t_max);
        }
        let last = &mut jac[n * (k + 1)..(n + 1) * (k + 1)];
        last.fill(0.0);
        last[k] = self.prior;
        true
    }
}

/// The sandwich covariance of an unweighted fit `f` of `model` whose first `m.len()`
/// observations are bin means of `m` samples each (variance sigma^2 / m) and whose other
/// observations (priors) have the fit's unit scale: (cov, se, corr), None when J^T J is singular.
fn sandwich(
    model: &dyn Model,
    f: &Fit,
    m: &[f64],
    y: &[f64],
) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let (n, k) = (model.n_obs(), model.n_params());
    let mut jac = vec![0.0; n * k];
    if !model.jacobian(&f.params, &mut jac) || f.fitted.len() < m.len() || y.len() < m.len() {
        return None;
    }
    let (bread, _) = fit::linalg::inverse_normal(&jac, n, k);
    if bread.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let nd = m.len();
    let dof = nd.saturating_sub(k).max(1) as f64;
    // sigma^2 of one sample: sum m r^2 / (n - k) over the bins (r = y - fitted).
    let mut meat = vec![0.0; k * k];
    let unit = f.rss / (f.n.saturating_sub(f.k)).max(1) as f64;
    let s2: f64 = (0..nd)
        .map(|i| m[i] * (y[i] - f.fitted[i]).powi(2))
        .sum::<f64>()
        / dof;
    for i in 0..n {
        let var = if i < nd { s2 / m[i] } else { unit };
        let row = &jac[i * k..(i + 1) * k];
        for a in 0..k {
            for b in 0..k {
                meat[a * k + b] += var * row[a] * row[b];
            }
        }
    }
    let mul = |x: &[f64], y: &[f64]| {
        let mut out = vec![0.0; k * k];
        for a in 0..k {
            for b in 0..k {
                out[a * k + b] = (0..k).map(|c| x[a * k + c] * y[c * k + b]).sum();
            }
        }
        out
    };
    let cov = mul(&mul(&bread, &meat), &bread);
    let se: Vec<f64> = (0..k).map(|a| cov[a * k + a].max(0.0).sqrt()).collect();
    let corr: Vec<f64> = (0..k * k)
        .map(|ab| {
            let (a, b) = (ab / k, ab % k);
            cov[ab] / (se[a] * se[b])
        })
        .collect();
    Some((cov, se, corr))
}

/// Autocorrelations at lags 1..=`lags` of the weighted residuals of the data points (time
/// order).
fn autocorrelations(phi: &[f64], fitted: &[f64], w: Option<&[f64]>, lags: usize) -> Vec<f64> {
    let r: Vec<f64> = phi
        .iter()
        .zip(fitted)
        .enumerate()
        .map(|(i, (y, f))| (y - f) * w.map_or(1.0, |w| w[i]))
        .collect();
    let ss: f64 = r.iter().map(|x| x * x).sum();
    (1..=lags)
        .map(|k| {
            if ss > 0.0 && k < r.len() {
                r.iter().zip(&r[k..]).map(|(a, b)| a * b).sum::<f64>() / ss
            } else {
                0.0
            }
        })
        .collect()
}

/// Lags of the Ljung-Box test on the residuals.
const AUTOCORR_LAGS: usize = 10;

/// |corr(c, beta)| above which the offset is not identifiable by model selection.
const OFFSET_CONFOUNDED: f64 = 0.9;

/// Fits every requested variant of one curve and returns its row.
pub fn fit_curve(c: &RelaxationClean, opts: &FitOptions) -> KwwFit {
    let mut row = fit_once(c, opts, opts.weighting, true);
    row.weighting = opts.weighting.name().to_owned();
    // The other weighting, as a check on the shape: on a curve that is KWW both estimate the same
    // beta; on one that is not, beta depends on how the fit weights time.
    let varying = c.n_samples.len() == c.time_s.len() && c.n_samples.iter().any(|m| *m != 1);
    if varying && row.beta.is_some() {
        let other_w = match opts.weighting {
            Weighting::Samples => Weighting::LogTime,
            Weighting::LogTime => Weighting::Samples,
        };
        // Only the variant chosen, no bootstrap and no drift check: what is compared is beta.
        let other = fit_once(
            c,
            &FitOptions {
                bootstrap: 0,
                variants: Variant::parse(&row.model)
                    .map_or_else(|| opts.variants.clone(), |v| vec![v]),
                ..opts.clone()
            },
            other_w,
            false,
        );
        if let (Some(b), Some(bo), Some(s), Some(_)) =
            (row.beta, other.beta, row.beta_se, other.beta_se)
        {
            // beta(log-time) - beta(samples).
            let shift = match opts.weighting {
                Weighting::Samples => bo - b,
                Weighting::LogTime => b - bo,
            };
            row.beta_weighting_shift = Some(shift);
            // A misfit: the residuals run in structure (autocorrelated) and beta moves with the
            // weighting by more than twice its SE. (A Hausman contrast on the two SEs has no
            // power here: the structure itself widens both.)
            let structured = row
                .flags
                .split(',')
                .any(|f| f == "autocorrelated_residuals");
            if structured && shift.abs() > 2.0 * s {
                tables::add_flag(&mut row.flags, "not_kww");
            }
        }
    }
    row
}

/// The row of one curve fitted with one weighting; `drift_check` runs the drift check where no
/// drift is stated.
fn fit_once(
    c: &RelaxationClean,
    opts: &FitOptions,
    weighting: Weighting,
    drift_check: bool,
) -> KwwFit {
    let (t, phi) = (&c.time_s, &c.phi);
    if let Some(why) = check(t, phi) {
        return flagged(c, why, t.len());
    }
    let ln_t: Vec<f64> = t.iter().map(|x| x.ln()).collect();
    // Samples per bin, when the curve says how many and they differ.
    let counts: Option<Vec<f64>> = (c.n_samples.len() == t.len()
        && c.n_samples.iter().any(|m| *m != 1))
    .then(|| c.n_samples.iter().map(|m| (*m).max(1) as f64).collect());
    // Weights sqrt(samples per bin) when every sample counts alike.
    let weights: Option<Vec<f64>> = match weighting {
        Weighting::Samples => counts
            .as_ref()
            .map(|m| m.iter().copied().map(f64::sqrt).collect()),
        Weighting::LogTime => None,
    };
    let w = weights.as_deref();
    // The prior SD of the nuisance step time: the located step's SE (at least 1 ms).
    let step_sd = c
        .step_end_se_s
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| s.max(1e-3));
    // Each richer variant starts from the previous one's solution when both are requested.
    // (variant, fit, the prior scale when t0 is a nuisance parameter)
    let mut candidates: Vec<(Variant, Fit, Option<f64>)> = Vec::new();
    let mut prior: Option<Fit> = None;
    for v in Variant::ALL
        .into_iter()
        .filter(|v| opts.variants.contains(v))
    {
        if let Some(f) = fit_variant(t, &ln_t, phi, w, v, prior.as_ref()) {
            prior = Some(f.clone());
            let stepped = match step_sd {
                Some(sd) if v != Variant::KwwOffsetT0 => fit_with_step(t, phi, w, v, &f, sd),
                _ => None,
            };
            match stepped {
                Some((g, prior)) => candidates.push((v, g, Some(prior))),
                None => candidates.push((v, f, None)),
            }
        }
    }
    // BIC decides whether the residual-stress offset is present, but only where the data can
    // tell: when the offset is confounded with the slow tail (|corr(c, beta)| above
    // OFFSET_CONFOUNDED in the offset fit), dropping it would bias beta by many of the plain
    // fit's standard errors, so the offset fit (with its wider, honest interval) is kept.
    let identifiable = |f: &Fit| f.k < 4 || f.correlation(2, 3).abs() <= OFFSET_CONFOUNDED;
    let keep_offset = candidates
        .iter()
        .any(|(v, f, _)| *v == Variant::KwwOffset && !identifiable(f));
    let Some((variant, mut f, step_prior)) = candidates
        .into_iter()
        .filter(|(v, _, _)| !keep_offset || *v != Variant::Kww)
        .min_by(|a, b| a.1.bic().total_cmp(&b.1.bic()))
    else {
        return flagged(c, "fit_failed", t.len());
    };
    let stepped = step_prior.is_some();
    let step_model = |prior: f64| StepModel::new(t, variant != Variant::Kww, prior);
    // The chosen model as fitted (with the step prior where there is one), its bounds and data.
    let plain = KwwModel::new(t, &ln_t, variant);
    let with_step = step_prior.map(step_model);
    let base: &dyn Model = match &with_step {
        Some(m) => m,
        None => &plain,
    };
    let mut base_bounds = variant.bounds();
    if let Some(sd) = step_sd.filter(|_| stepped) {
        base_bounds.push(fit::Bound::Both(-5.0 * sd, 5.0 * sd));
    }
    let y: Vec<f64> = phi.iter().copied().chain(stepped.then_some(0.0)).collect();
    let wy: Option<Vec<f64>> = w.map(|w| w.iter().copied().chain(stepped.then_some(1.0)).collect());
    let k_base = f.params.len();
    // Drift: the same model plus a linear drift of the signal, kept when the likelihood ratio
    // says the data call for it (p < 0.01). Its parameter's uncertainty then enters beta's and
    // tau's through the covariance (the drift is confounded with the offset and the slow tail).
    let t_max = t.last().copied().unwrap_or(1.0).max(1e-9);
    // The drift's prior SD over the window, in phi: the instrument's drift (MPa/h) over the
    // window's hours, over sigma0 (the stress at phi = 1, read off the curve).
    let sigma0 = c
        .stress_mpa
        .iter()
        .zip(phi)
        .find(|(_, p)| p.abs() > 1e-9)
        .map(|(s, p)| s / p)
        .filter(|s| s.is_finite() && *s > 0.0);
    // Without a stated drift the same term is still fitted, with the default prior, as a check
    // (see below): the row is not `ok` when the data show a drift the fit did not model.
    let modelled = opts.drift_mpa_per_h.is_some_and(|d| d > 0.0);
    let drift_sd = match (opts.drift_mpa_per_h, sigma0) {
        (Some(d), Some(s0)) if d > 0.0 => Some(d * t_max / 3600.0 / s0),
        (None, Some(s0)) if drift_check => Some(DEFAULT_DRIFT_MPA_PER_H * t_max / 3600.0 / s0),
        _ => None,
    };
    let sigma = (f.rss / (f.n.saturating_sub(f.k)).max(1) as f64)
        .sqrt()
        .max(1e-12);
    let drift_model = Drift {
        base,
        t,
        t_max,
        prior: drift_sd.map_or(0.0, |sd| sigma / sd),
        scratch: Mutex::default(),
    };
    let mut drift_bounds = base_bounds.clone();
    drift_bounds.push(fit::Bound::Free);
    let drift_opts = Options {
        bounds: drift_bounds,
        max_iters: 300,
        ftol: 1e-11,
        xtol: 1e-9,
        gtol: 1e-12,
    };
    let y_drift: Vec<f64> = y.iter().copied().chain([0.0]).collect();
    let wy_drift: Option<Vec<f64>> = wy
        .as_ref()
        .map(|w| w.iter().copied().chain([1.0]).collect());
    let mut drift_per_window: Option<f64> = None;
    let mut unmodelled_drift = false;
    if drift_sd.is_some() {
        let p0: Vec<f64> = f.params.iter().copied().chain([0.0]).collect();
        if let Ok(g) = least_squares(
            &drift_model,
            &y_drift,
            wy_drift.as_deref(),
            &p0,
            &drift_opts,
        ) && g.rss.is_finite()
        {
            let d = g.params[k_base];
            // Beyond 3 SE: a check on every curve of a campaign must seldom void a good one.
            let seen = g.se.get(k_base).is_some_and(|se| d.abs() > 3.0 * se);
            if modelled {
                drift_per_window = Some(d);
                f = g;
            } else {
                unmodelled_drift = seen;
            }
        }
    }
    // Log-time weights are not the inverse variances (a bin of m samples has variance
    // sigma^2 / m): the covariance is the sandwich (J^T J)^-1 J^T S J (J^T J)^-1, S the bins'
    // variances (sigma^2 from the samples-weighted residuals) and the pseudo-observations' unit
    // scale.
    if weighting == Weighting::LogTime
        && let Some(m) = counts.as_deref()
    {
        let model: &dyn Model = if drift_per_window.is_some() {
            &drift_model
        } else {
            base
        };
        if let Some((cov, se, corr)) = sandwich(model, &f, m, phi) {
            f.cov = cov;
            f.se = se;
            f.corr = corr;
        }
    }
    let base_params = f.params[..k_base].to_vec();
    let q = if stepped {
        step_model(0.0).params(&base_params)
    } else {
        variant.params(&base_params)
    };
    let mut flags = Vec::new();
    // A drift the data show (beyond twice its SE) is flagged: `drift` where the fit models it,
    // `drift_not_modelled` (and the row not `ok`) where it does not.
    if let Some(d) = drift_per_window
        && f.se.get(k_base).is_some_and(|se| d.abs() > 2.0 * se)
    {
        flags.push("drift");
    }
    if unmodelled_drift {
        flags.push("drift_not_modelled");
    }
    // Residual autocorrelation widens the errors (see the header).
    let n_data = t.len();
    // On residuals standardised to one sample's variance (sqrt(m) r for a bin of m samples)
    // whatever the weighting: under log-time weights the raw bin residuals are heteroscedastic,
    // and the late bins' small variances would hide a misfit from the test.
    let standard: Option<Vec<f64>> = counts
        .as_ref()
        .map(|m| m.iter().copied().map(f64::sqrt).collect());
    let rho = autocorrelations(
        phi,
        &f.fitted[..n_data],
        standard.as_deref().or(w),
        AUTOCORR_LAGS,
    );
    // Ljung-Box Q over the first lags: chi-square with that many degrees of freedom when the
    // residuals are white.
    let nf = n_data as f64;
    let q_lb: f64 = rho
        .iter()
        .enumerate()
        .map(|(k, r)| r * r / (nf - (k + 1) as f64).max(1.0))
        .sum::<f64>()
        * nf
        * (nf + 2.0);
    if fit::stats::chi2_sf(q_lb, AUTOCORR_LAGS as f64) < 0.01 {
        flags.push("autocorrelated_residuals");
        // Long-run variance factor 1 + 2 sum rho_k (at least 1): the errors widen by its root.
        let factor = (1.0 + 2.0 * rho.iter().sum::<f64>()).max(1.0);
        for s in &mut f.se {
            *s *= factor.sqrt();
        }
    }
    let tau = q.ln_tau.exp();
    let se = |j: usize| f.se.get(j).copied().filter(|x| x.is_finite());
    let corr = f.correlation(1, 2);
    let mean_phi = phi.iter().sum::<f64>() / phi.len() as f64;
    let sst: f64 = phi.iter().map(|p| (p - mean_phi).powi(2)).sum();
    let t_max = t.last().copied().unwrap_or(0.0);
    if t_max - q.t0_s < tau {
        flags.push("tau_extrapolated");
    }
    if corr.abs() > opts.ill_conditioned_corr || !corr.is_finite() {
        flags.push("ill_conditioned");
    }
    if f.at_bound.iter().any(|b| *b) {
        flags.push("at_bound");
    }
    if !f.converged {
        flags.push("not_converged");
    }
    flags.sort_unstable();
    // R^2 and RSS on the data points alone (the prior's pseudo-observation left out).
    let rss_data: f64 = phi
        .iter()
        .zip(&f.fitted)
        .enumerate()
        .map(|(i, (y, m))| ((y - m) * w.map_or(1.0, |w| w[i])).powi(2))
        .sum();
    let sst = match w {
        Some(w) => {
            let sw: f64 = w.iter().map(|x| x * x).sum();
            let mw = phi.iter().zip(w).map(|(p, x)| p * x * x).sum::<f64>() / sw;
            phi.iter().zip(w).map(|(p, x)| ((p - mw) * x).powi(2)).sum()
        }
        None => sst,
    };
    let mut row = KwwFit {
        test_id: c.test_id.clone(),
        material: c.material.clone(),
        series: c.series.clone(),
        strain: c.strain,
        temperature_k: c.temperature_k,
        aging_time_s: c.aging_time_s,
        model: variant.name().to_owned(),
        beta: Some(q.beta),
        beta_se: se(2),
        tau_s: Some(tau),
        tau_se_s: se(1).map(|s| s * tau),
        amplitude: Some(q.amplitude),
        offset: (variant != Variant::Kww).then_some(q.offset),
        drift_per_h: drift_per_window.map(|d| d * 3600.0 / t_max),
        t0_s: (stepped || variant == Variant::KwwOffsetT0).then_some(q.t0_s),
        corr_ln_tau_beta: Some(corr).filter(|c| c.is_finite()),
        mean_tau_s: Some(mean_tau_s(tau, q.beta)),
        mean_tau_se_s: match (se(1), se(2)) {
            (Some(s_lt), Some(s_b)) if corr.is_finite() => {
                // d ln<tau>/d ln tau = 1, d ln<tau>/d beta = -1/beta - psi(1/beta)/beta^2.
                let g = -1.0 / q.beta - fit::stats::digamma(1.0 / q.beta) / (q.beta * q.beta);
                let var = s_lt * s_lt + 2.0 * g * corr * s_lt * s_b + g * g * s_b * s_b;
                Some(mean_tau_s(tau, q.beta) * var.max(0.0).sqrt())
            }
            _ => None,
        },
        rss: Some(rss_data),
        r_squared: Some(1.0 - rss_data / sst),
        aic: Some(f.aic()),
        bic: Some(f.bic()),
        n_points: t.len() as i64,
        time_min_s: t.first().copied(),
        time_max_s: Some(t_max),
        tg_k: c.tg_k,
        n_iterations: f.iterations as i64,
        // What the flags say (tables::status: not_converged, drift_not_modelled), then A, tau,
        // beta or the offset held by its bound: their standard errors describe the bound, not
        // the data, and an offset of +-1 (a residual stress of the whole initial stress, or its
        // negative) is no physical state but the floor of the valley a tau far beyond the window
        // leaves (the flag `at_bound` alone also marks the step time at its bound of 5 SE).
        status: match tables::status::settled(tables::status::OK, &flags.join(",")) {
            s if s == tables::status::OK
                && (f.at_bound[..3].iter().any(|b| *b)
                    || (variant != Variant::Kww
                        && f.at_bound.get(3).copied().unwrap_or(false))) =>
            {
                "at_bound".into()
            }
            s => s,
        },
        flags: flags.join(","),
        ..Default::default()
    };
    if opts.bootstrap > 0 {
        // The model as chosen: with the nuisance t0's pseudo-observation (resampled with the
        // residuals) and the drift where they are part of it.
        let model: &dyn Model = if drift_per_window.is_some() {
            &drift_model
        } else {
            base
        };
        let bounds = if drift_per_window.is_some() {
            drift_opts.bounds.clone()
        } else {
            base_bounds.clone()
        };
        let fopts = Options {
            bounds,
            max_iters: 200,
            ftol: 1e-10,
            xtol: 1e-8,
            gtol: 1e-10,
        };
        // One stream per (seed, test): the same test gets the same replicates in any order.
        let seed = opts.seed ^ rng::stream_of(&c.test_id);
        let reps = fit::bootstrap::residual_bootstrap(
            model,
            if drift_per_window.is_some() {
                &y_drift
            } else {
                &y
            },
            if drift_per_window.is_some() {
                wy_drift.as_deref()
            } else {
                wy.as_deref()
            },
            &f,
            &fopts,
            opts.bootstrap,
            seed,
        );
        let betas: Vec<f64> = reps.iter().flatten().map(|p| p[2]).collect();
        let taus: Vec<f64> = reps.iter().flatten().map(|p| p[1].exp()).collect();
        if betas.len() >= opts.bootstrap / 2 {
            row.beta_ci_low = Some(fit::stats::quantile(&betas, 0.025));
            row.beta_ci_high = Some(fit::stats::quantile(&betas, 0.975));
            row.tau_ci_low_s = Some(fit::stats::quantile(&taus, 0.025));
            row.tau_ci_high_s = Some(fit::stats::quantile(&taus, 0.975));
        }
    }
    row
}
