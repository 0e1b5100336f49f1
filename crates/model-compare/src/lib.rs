//! agingflow-model-compare: why beta rises and then falls. Three scenarios of the model of
//! docs/physics.md, each fitted to the measured beta(t_a) and tau(t_a) of one material and
//! temperature, and ranked by AICc:
//!
//! - `transient`: a log-normal distribution of width sigma0 whose modes age during the test,
//!   tau(t) = tau0 + A t^(1/2) (params ln tau0, A, sigma0);
//! - `broadening`: the distribution does not age during the test; its centre is tau0 + A t_a^(1/2)
//!   and its width sigma0 + c ln(1 + t_a / t_span) grows with aging once the aging time passes
//!   the test's own span t_span (the longest t' measured), with no further parameter (params
//!   ln tau0, A, sigma0, c);
//! - `combined`: both (params ln tau0, A, sigma0, c).
//!
//! Each model curve is refitted with plain KWW over the experiment's own window (t'_min to t'_max)
//! and number of points, log-spaced as clean resamples them, which gives the model's beta and tau.
//! Residuals: (beta_model - beta) / max(SE_beta, 0.005) and (ln tau_model - ln tau) /
//! max(SE_ln tau, 0.05); the floors keep a scenario from being judged on fit noise alone.

mod io;

use std::collections::BTreeMap;
use std::path::PathBuf;

use fit::{Bound, Model, Options, least_squares};
use physics::kww_models::{refit_plain, refit_plain_sensitivity_from};
use physics::relaxation_model::{
    lognormal, lognormal_phi_gradient, phi_transient, transient_integral_sqrt,
};
use rayon::prelude::*;
use tables::{KwwFit, ModelCurve, ModelFit, SeriesKey};

pub use io::run;

/// Floors of the uncertainties the residuals are divided by: beta is what the scenarios explain;
/// tau only anchors their time scale, loosely (a factor e costs as much as 0.005 in beta).
pub const BETA_FLOOR: f64 = 0.005;
pub const LN_TAU_FLOOR: f64 = 1.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub kww_fits: PathBuf,
    pub model_curves: PathBuf,
    pub model_fits: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Table(#[from] tables::TableError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Transient,
    Broadening,
    Combined,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [
        Scenario::Transient,
        Scenario::Broadening,
        Scenario::Combined,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Transient => "transient",
            Scenario::Broadening => "broadening",
            Scenario::Combined => "combined",
        }
    }

    fn n_params(self) -> usize {
        if self == Scenario::Transient { 3 } else { 4 }
    }

    /// The solver's bounds: [ln tau0, A, sigma0, width growth]. A >= 0 is kept by the model
    /// (`clamped`), not by a bound transform.
    fn bounds(self) -> Vec<Bound> {
        let mut b = vec![Bound::Free, Bound::Free, Bound::Both(0.05, 6.0)];
        if self != Scenario::Transient {
            b.push(Bound::Both(0.0, 5.0));
        }
        b
    }
}

/// The experiment's window at one aging time: where and how densely the model curve is refitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub t_min_s: f64,
    pub t_max_s: f64,
    pub n_points: usize,
}

impl Window {
    fn times(&self) -> Vec<f64> {
        let n = self.n_points.max(8);
        let (a, b) = (
            self.t_min_s.max(1e-6).ln(),
            self.t_max_s.max(self.t_min_s * 1.01).ln(),
        );
        (0..n)
            .map(|k| (a + (b - a) * k as f64 / (n - 1) as f64).exp())
            .collect()
    }
}

/// The distribution's width at aging time `t_a` and d sigma / d(width growth).
fn width(s: Scenario, p: &[f64], aging_time_s: f64, w: &Window) -> (f64, f64) {
    match s {
        Scenario::Transient => (p[2], 0.0),
        _ => {
            let growth = (aging_time_s / w.t_max_s).ln_1p();
            (p[2] + p[3] * growth, growth)
        }
    }
}

/// The log-normal distribution of width `sigma` the model's sums run over: +- 5 sigma (the mass
/// left out, 5.7e-7, is below the refit's resolution), in steps of ln s of at most 0.4 and at
/// most sigma / 2.
///
/// The sums are trapezoid rules over ln s of a Gaussian times exp(-y e^(-ln s)), a function
/// analytic and bounded in the strip |Im ln s| < pi/2: the rule's error falls as exp(-pi^2 /
/// step) for the kernel (2e-11 at 0.4) and as exp(-2 pi^2 sigma^2 / step^2) for the Gaussian
/// (e^-79 at sigma / 2). What is left is the truncation's end effect (each end's weight counts
/// whole), which a finer step does not remove: phi is within 1.9e-7 of a grid 50 times finer for
/// sigma from 0.05 to 6, closer than the step of 0.1 used before (5.6e-5, coarse against small
/// sigmas), with 39 modes at sigma = 1.5 instead of 151 (`a_coarser_grid_gives_the_same_phi`).
/// The point count is a step function of sigma, so d phi/d sigma with it held fixed is the sums'
/// derivative.
pub fn model_grid(sigma: f64) -> physics::relaxation_model::Grid {
    lognormal(sigma, 5.0, (0.5 * sigma).min(0.4))
}

/// The model's refitted (beta, tau) at aging time `t_a` for a scenario's parameters.
pub fn predict(s: Scenario, p: &[f64], aging_time_s: f64, w: &Window) -> Option<(f64, f64)> {
    let tau0 = p[0].exp();
    let a = p[1];
    let (sigma, _) = width(s, p, aging_time_s, w);
    let grid = model_grid(sigma.max(1e-6));
    let t = w.times();
    let phi = match s {
        Scenario::Broadening => {
            let centre = tau0 + a * aging_time_s.sqrt();
            physics::relaxation_model::phi_static(&t, centre, &grid)
        }
        _ => phi_transient(&t, aging_time_s, tau0, a, 0.5, &grid),
    };
    refit_plain(&t, &phi)
}

/// `predict` with the derivatives of (beta, ln tau) with respect to each parameter, analytic:
/// phi's sums give d phi/d I and d phi/d sigma from the same exp calls (the grid's point count
/// held fixed), I(t') is differentiated in ln tau0 and A by central differences of its closed form
/// (a scalar, cheap), and the refit's own sensitivity carries them to beta and ln tau. The value
/// is `predict`'s, bit for bit.
pub fn predict_gradient(
    s: Scenario,
    p: &[f64],
    aging_time_s: f64,
    w: &Window,
) -> Option<physics::kww_models::Refit> {
    predict_gradient_from(s, p, aging_time_s, w, None).map(|r| r.0)
}

/// `predict_gradient` whose refit may start from `warm`, the [A, ln tau, beta] this returned for
/// the same aging time at the solver's previous parameters (see
/// `physics::kww_models::refit_plain_sensitivity_from`); also returns the next `warm`.
pub fn predict_gradient_from(
    s: Scenario,
    p: &[f64],
    aging_time_s: f64,
    w: &Window,
    warm: Option<[f64; 3]>,
) -> Option<(physics::kww_models::Refit, [f64; 3])> {
    let tau0 = p[0].exp();
    let a = p[1];
    let (sigma, d_sigma_d_growth) = width(s, p, aging_time_s, w);
    let sigma = sigma.max(1e-6);
    let grid = model_grid(sigma);
    let t = w.times();
    // I(t') and [d I/d ln tau0, d I/d A] at each time.
    let (y, d_y): (Vec<f64>, Vec<[f64; 2]>) = match s {
        Scenario::Broadening => {
            let root = aging_time_s.sqrt();
            let centre = tau0 + a * root;
            t.iter()
                .map(|&ti| {
                    let y = transient_integral_sqrt(ti, 0.0, centre, 0.0);
                    (y, [-y * tau0 / centre, -y * root / centre])
                })
                .unzip()
        }
        _ => t
            .iter()
            .map(|&ti| {
                let i = |tau0: f64, a: f64| transient_integral_sqrt(ti, aging_time_s, tau0, a);
                let h = 1e-5_f64;
                let d_ln_tau0 = (i(tau0 * h.exp(), a) - i(tau0 * (-h).exp(), a)) / (2.0 * h);
                // A's natural scale is tau0 / sqrt(t_a + t'), where A sqrt(t) matches tau0.
                let h_a = 1e-5 * a.abs().max(tau0 / (aging_time_s + ti).sqrt());
                let d_a = (i(tau0, a + h_a) - i(tau0, a - h_a)) / (2.0 * h_a);
                (i(tau0, a), [d_ln_tau0, d_a])
            })
            .unzip(),
    };
    let sums = lognormal_phi_gradient(&y, &grid, sigma);
    let phi: Vec<f64> = sums.iter().map(|g| g[0]).collect();
    let mut d_phi: Vec<Vec<f64>> = vec![
        sums.iter().zip(&d_y).map(|(g, d)| g[1] * d[0]).collect(),
        sums.iter().zip(&d_y).map(|(g, d)| g[1] * d[1]).collect(),
        sums.iter().map(|g| g[2]).collect(),
    ];
    if s != Scenario::Transient {
        d_phi.push(sums.iter().map(|g| g[2] * d_sigma_d_growth).collect());
    }
    refit_plain_sensitivity_from(&t, &phi, &d_phi, warm)
}

/// The measured points of one material and temperature.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    pub aging_time_s: Vec<f64>,
    pub beta: Vec<f64>,
    pub beta_se: Vec<f64>,
    pub ln_tau: Vec<f64>,
    pub ln_tau_se: Vec<f64>,
    pub windows: Vec<Window>,
}

/// A scenario as a least-squares model. The solver moves A freely and the model uses max(A, 0):
/// where the best A is its bound 0, the fit steps past it and stops there (the model is flat in
/// A beyond), instead of creeping towards it for many iterations as a bound transform makes it.
struct ScenarioModel<'a> {
    s: Scenario,
    m: &'a Measured,
    /// The last evaluation's parameters and its Jacobian (`None` where a refit's sensitivity was
    /// not available: the solver then differences): the solver asks for the Jacobian where it
    /// last evaluated, and the derivatives come from the same exp calls as the values.
    last: std::sync::Mutex<(Vec<f64>, Option<Vec<f64>>)>,
    /// Per aging time, the refit's [A, ln tau, beta] at the last evaluation: the next
    /// evaluation's refits start there where that is better than their own guess. A model
    /// belongs to one solver run, whose sequence of evaluations is fixed, so the results are the
    /// same for any thread count.
    warm: std::sync::Mutex<Vec<Option<[f64; 3]>>>,
}

/// The scenario's parameters from the solver's: A clamped at its bound 0.
fn clamped(p: &[f64]) -> Vec<f64> {
    let mut q = p.to_vec();
    q[1] = q[1].max(0.0);
    q
}

impl Model for ScenarioModel<'_> {
    fn n_params(&self) -> usize {
        self.s.n_params()
    }
    fn n_obs(&self) -> usize {
        2 * self.m.aging_time_s.len()
    }
    fn eval(&self, p: &[f64], out: &mut [f64]) {
        let (n, k) = (self.m.aging_time_s.len(), self.n_params());
        let q = clamped(p);
        let warm = self.warm.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let pred: Vec<_> = (0..n)
            .into_par_iter()
            .map(|i| {
                let w = warm.get(i).copied().flatten();
                predict_gradient_from(self.s, &q, self.m.aging_time_s[i], &self.m.windows[i], w)
            })
            .collect();
        *self.warm.lock().unwrap_or_else(|e| e.into_inner()) =
            pred.iter().map(|r| r.as_ref().map(|r| r.1)).collect();
        let pred: Vec<_> = pred.into_iter().map(|r| r.map(|r| r.0)).collect();
        let mut jac = Some(vec![0.0; 2 * n * k]);
        for (i, pr) in pred.into_iter().enumerate() {
            let (se_b, se_t) = (self.m.beta_se[i], self.m.ln_tau_se[i]);
            // A failed refit is a large, finite miss (and flat: its derivatives are 0).
            let ((b, tau), sens) = pr.unwrap_or(((0.0, 1e-30), Some(vec![[0.0; 2]; q.len()])));
            out[i] = b / se_b;
            out[n + i] = tau.ln() / se_t;
            match (sens, jac.as_mut()) {
                (Some(d), Some(jac)) => {
                    for (j, [d_beta, d_ln_tau]) in d.into_iter().enumerate() {
                        // Beyond A's bound the model does not move with it.
                        let flat = j == 1 && p[1] < 0.0;
                        jac[i * k + j] = if flat { 0.0 } else { d_beta / se_b };
                        jac[(n + i) * k + j] = if flat { 0.0 } else { d_ln_tau / se_t };
                    }
                }
                _ => jac = None,
            }
        }
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = (p.to_vec(), jac);
    }
    fn jacobian(&self, p: &[f64], jac: &mut [f64]) -> bool {
        let hit = |last: &(Vec<f64>, Option<Vec<f64>>), jac: &mut [f64]| match last {
            (q, Some(j)) if q == p => {
                jac.copy_from_slice(j);
                true
            }
            _ => false,
        };
        if hit(&self.last.lock().unwrap_or_else(|e| e.into_inner()), jac) {
            return true;
        }
        let mut out = vec![0.0; self.n_obs()];
        self.eval(p, &mut out);
        hit(&self.last.lock().unwrap_or_else(|e| e.into_inner()), jac)
    }
}

/// A fitted scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioFit {
    pub scenario: Scenario,
    pub params: Vec<f64>,
    /// Standard errors from the curvature, for residuals in units of the measured SEs:
    /// sqrt(diag (J^T J)^-1), scaled by chi^2/df where that exceeds 1.
    pub se: Vec<f64>,
    pub rss: f64,
    pub n: usize,
    pub k: usize,
    pub converged: bool,
}

/// Starting values from the data: tau0 and A from tau against sqrt(t_a), sigma0 from the largest
/// beta (Var ln tau = (pi^2/6)(1/beta^2 - 1) for KWW), width growth 0.1.
fn start(s: Scenario, m: &Measured) -> Vec<f64> {
    let x: Vec<f64> = m.aging_time_s.iter().map(|t| t.sqrt()).collect();
    let y: Vec<f64> = m.ln_tau.iter().map(|l| l.exp()).collect();
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    let slope = if sxx > 0.0 {
        x.iter()
            .zip(&y)
            .map(|(a, b)| (a - mx) * (b - my))
            .sum::<f64>()
            / sxx
    } else {
        0.0
    };
    let a = slope.max(1e-3);
    let tau0 = (my - a * mx)
        .max(0.05 * y.iter().copied().fold(f64::INFINITY, f64::min))
        .max(1e-3);
    let bmax = m.beta.iter().copied().fold(0.1, f64::max).min(0.99);
    let sigma = ((std::f64::consts::PI.powi(2) / 6.0) * (1.0 / (bmax * bmax) - 1.0)).sqrt();
    let mut p = vec![tau0.ln(), a, sigma];
    if s != Scenario::Transient {
        p.push(0.1);
    }
    p
}

/// Standard errors when the curvature matrix is singular because some parameters no longer
/// move the model at all (ln tau0 run off to minus infinity where A sqrt(t) carries the time
/// scale, or a width growth that changes nothing): those get NaN and the others their errors
/// with them held fixed, instead of NaN for all. Scaled like the solver's, by RSS/(n - k).
fn conditional_se(model: &ScenarioModel, p: &[f64], rss: f64) -> Vec<f64> {
    let (n, k) = (model.n_obs(), model.n_params());
    let mut jac = vec![0.0; n * k];
    if !model.jacobian(p, &mut jac) {
        return vec![f64::NAN; k];
    }
    let norms: Vec<f64> = (0..k)
        .map(|j| (0..n).map(|i| jac[i * k + j].powi(2)).sum::<f64>().sqrt())
        .collect();
    let largest = norms.iter().copied().fold(0.0, f64::max);
    let kept: Vec<usize> = (0..k).filter(|&j| norms[j] > 1e-10 * largest).collect();
    let m = kept.len();
    if m == 0 || n <= k {
        return vec![f64::NAN; k];
    }
    let reduced: Vec<f64> = (0..n)
        .flat_map(|i| kept.iter().map(move |&j| (i, j)))
        .map(|(i, j)| jac[i * k + j])
        .collect();
    let (inv, _) = fit::linalg::inverse_normal(&reduced, n, m);
    let s2 = rss / (n - k) as f64;
    let mut se = vec![f64::NAN; k];
    for (a, &j) in kept.iter().enumerate() {
        se[j] = (inv[a * m + a] * s2).sqrt();
    }
    se
}

/// Fits one scenario to the measured points from several starts (the data-driven one, and pure
/// sqrt(t) laws through the most-aged tau with two widths and growths); the lowest RSS wins. A is
/// bounded below by 0 through `clamped`; a fit that ends beyond it reports A = 0, and its
/// standard error is NaN there (the model does not move with it).
pub fn fit_scenario(s: Scenario, m: &Measured) -> Option<ScenarioFit> {
    let n = m.aging_time_s.len();
    let mut y = vec![0.0; 2 * n];
    for i in 0..n {
        y[i] = m.beta[i] / m.beta_se[i];
        y[n + i] = m.ln_tau[i] / m.ln_tau_se[i];
    }
    let first = start(s, m);
    let last = n - 1;
    let a_sqrt = m.ln_tau[last].exp() / m.aging_time_s[last].sqrt();
    let mut starts = vec![first.clone()];
    for (scale, growth) in [(1.0, 0.1), (0.8, 0.2)] {
        let mut p = vec![0.0, a_sqrt, first[2] * scale];
        if s != Scenario::Transient {
            p.push(growth);
        }
        starts.push(p);
    }
    let opts = Options {
        bounds: s.bounds(),
        max_iters: 80,
        ftol: 1e-9,
        xtol: 1e-7,
        gtol: 1e-10,
    };
    // The starts run in parallel; the choice among them is made in their order.
    let tried: Vec<_> = starts
        .par_iter()
        .map(|p0| {
            // One model per start: its remembered Jacobian is its own.
            let model = ScenarioModel {
                s,
                m,
                last: Default::default(),
                warm: Default::default(),
            };
            least_squares(&model, &y, None, p0, &opts).map(|mut f| {
                if f.se.iter().any(|e| !e.is_finite()) || f.params[1] < 0.0 {
                    f.se = conditional_se(&model, &f.params, f.rss);
                }
                f.params = clamped(&f.params);
                f
            })
        })
        .collect();
    let mut best: Option<ScenarioFit> = None;
    for f in tried {
        if let Ok(f) = f
            && best.as_ref().is_none_or(|b| f.rss < b.rss)
        {
            let dof = (2 * n).saturating_sub(s.n_params()).max(1) as f64;
            let s2 = f.rss / dof;
            // f.se carries s^2 = chi^2/df; undo it below 1 (the measured SEs are the scale).
            let scale = if s2 > 0.0 && s2 < 1.0 {
                1.0 / s2.sqrt()
            } else {
                1.0
            };
            best = Some(ScenarioFit {
                scenario: s,
                se: f.se.iter().map(|e| e * scale).collect(),
                params: f.params,
                rss: f.rss,
                n: 2 * n,
                k: s.n_params(),
                converged: f.converged,
            });
        }
    }
    best
}

/// The measured points per (material, temperature), from fits with status `ok` and t_a > 0.
/// Replicates at one aging time are averaged (weights 1/SE^2, SEs floored first): the model
/// predicts the same beta and tau for all of them, so it is evaluated once per aging time.
pub fn measured(fits: &[KwwFit]) -> BTreeMap<SeriesKey, Measured> {
    // (material, T) -> aging time -> (sum w beta, sum w, sum v ln tau, sum v, window, the first
    // test's (beta, se, ln tau, se), count)
    type Acc = (f64, f64, f64, f64, Window, (f64, f64, f64, f64), usize);
    let mut acc: BTreeMap<SeriesKey, BTreeMap<u64, Acc>> = BTreeMap::new();
    for f in fits
        .iter()
        .filter(|f| f.status == tables::Status::Ok && f.aging_time_s > 0.0)
    {
        let (Some(beta), Some(tau)) = (f.beta, f.tau_s) else {
            continue;
        };
        let se_b = f.beta_se.unwrap_or(0.0).max(BETA_FLOOR);
        let se_t = (f.tau_se_s.unwrap_or(0.0) / tau).max(LN_TAU_FLOOR);
        let (w, v) = (1.0 / (se_b * se_b), 1.0 / (se_t * se_t));
        let window = Window {
            t_min_s: f.time_min_s.unwrap_or(1.0),
            t_max_s: f.time_max_s.unwrap_or(1e4),
            n_points: f.n_points.max(8) as usize,
        };
        let e = acc
            .entry(SeriesKey::new(
                &f.material,
                &f.series,
                f.strain,
                f.temperature_k,
            ))
            .or_default()
            .entry(f.aging_time_s.to_bits())
            .or_insert((0.0, 0.0, 0.0, 0.0, window, (beta, se_b, tau.ln(), se_t), 0));
        e.0 += w * beta;
        e.1 += w;
        e.2 += v * tau.ln();
        e.3 += v;
        e.6 += 1;
    }
    acc.into_iter()
        .map(|(k, by_age)| {
            let mut m = Measured::default();
            for (t, (wb, w, vt, v, window, first, count)) in by_age {
                m.aging_time_s.push(f64::from_bits(t));
                if count == 1 {
                    m.beta.push(first.0);
                    m.beta_se.push(first.1);
                    m.ln_tau.push(first.2);
                    m.ln_tau_se.push(first.3);
                } else {
                    m.beta.push(wb / w);
                    m.beta_se.push((1.0 / w).sqrt().max(BETA_FLOOR));
                    m.ln_tau.push(vt / v);
                    m.ln_tau_se.push((1.0 / v).sqrt().max(LN_TAU_FLOOR));
                }
                m.windows.push(window);
            }
            (k, m)
        })
        .collect()
}

/// The parameters and their standard errors (`NAME_se`; tau0's by the delta method from ln tau0).
fn json_params(s: Scenario, p: &[f64], se: &[f64]) -> String {
    let mut m = serde_json::Map::new();
    let e = |i: usize| se.get(i).copied().filter(|v| v.is_finite());
    let tau0 = p[0].exp();
    m.insert("tau0_s".into(), tau0.into());
    m.insert("tau0_s_se".into(), e(0).map(|v| v * tau0).into());
    m.insert("a_s_per_sqrt_s".into(), p[1].into());
    m.insert("a_s_per_sqrt_s_se".into(), e(1).into());
    m.insert("sigma0_ln".into(), p[2].into());
    m.insert("sigma0_ln_se".into(), e(2).into());
    if s != Scenario::Transient {
        m.insert("width_growth".into(), p[3].into());
        m.insert("width_growth_se".into(), e(3).into());
    }
    serde_json::Value::Object(m).to_string()
}

/// Compares the scenarios for one series (material, series, strain, temperature): curves and
/// fits. Goodness of fit: chi^2 = RSS of the residuals in units of the (floored) measured SEs,
/// on 2n - k degrees of freedom, and its p-value.
pub fn compare(key: &SeriesKey, m: &Measured) -> (Vec<ModelCurve>, Vec<ModelFit>) {
    let (material, temperature_k) = (key.material.as_str(), key.temperature_k());
    let (series, strain) = (key.series.clone(), key.strain());
    let mut curves = Vec::new();
    let mut fits = Vec::new();
    let results: Vec<Option<ScenarioFit>> = Scenario::ALL
        .par_iter()
        .map(|&s| fit_scenario(s, m))
        .collect();
    let aicc: Vec<f64> = results
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|f| fit::stats::aicc(f.rss, f.n, f.k))
                .unwrap_or(f64::INFINITY)
        })
        .collect();
    let mut order: Vec<usize> = (0..3).collect();
    order.sort_by(|a, b| aicc[*a].total_cmp(&aicc[*b]));
    let t_a_min = m.aging_time_s.iter().copied().fold(f64::INFINITY, f64::min);
    let t_a_max = m.aging_time_s.iter().copied().fold(0.0, f64::max);
    for (k, r) in results.iter().enumerate() {
        let s = Scenario::ALL[k];
        let rank = order.iter().position(|&o| o == k).unwrap_or(k) as i64 + 1;
        let Some(f) = r else {
            fits.push(ModelFit {
                scenario: s.name().into(),
                material: material.into(),
                series: series.clone(),
                strain,
                temperature_k,
                params: "{}".into(),
                n_points: 2 * m.aging_time_s.len() as i64,
                rank,
                status: "fit_failed".into(),
                ..Default::default()
            });
            continue;
        };
        let df = f.n.saturating_sub(f.k);
        let chi2_reduced = (df > 0).then(|| f.rss / df as f64);
        fits.push(ModelFit {
            scenario: s.name().into(),
            material: material.into(),
            series: series.clone(),
            strain,
            temperature_k,
            params: json_params(s, &f.params, &f.se),
            chi2_reduced,
            chi2_p_value: (df > 0).then(|| fit::stats::chi2_sf(f.rss, df as f64)),
            rss: Some(f.rss),
            aic: Some(fit::stats::aic(f.rss, f.n, f.k)),
            aicc: Some(aicc[k]).filter(|v| v.is_finite()),
            bic: Some(fit::stats::bic(f.rss, f.n, f.k)),
            n_points: f.n as i64,
            rank,
            status: if f.converged {
                tables::Status::Ok.into()
            } else {
                tables::Status::NotConverged.into()
            },
        });
        // Curves at the measured aging times and on a grid between them.
        let mut times: Vec<(f64, Option<usize>)> = m
            .aging_time_s
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, Some(i)))
            .collect();
        for g in 0..16 {
            let t = (t_a_min.ln() + (t_a_max / t_a_min).ln() * g as f64 / 15.0).exp();
            if !m.aging_time_s.iter().any(|x| (x / t - 1.0).abs() < 1e-6) {
                times.push((t, None));
            }
        }
        let rows: Vec<ModelCurve> = times
            .par_iter()
            .map(|&(t, idx)| {
                // The window of the nearest measured aging time.
                let near = m
                    .aging_time_s
                    .iter()
                    .enumerate()
                    .min_by(|a, b| {
                        (a.1.ln() - t.ln())
                            .abs()
                            .total_cmp(&(b.1.ln() - t.ln()).abs())
                    })
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                let pred = predict(s, &f.params, t, &m.windows[idx.unwrap_or(near)]);
                ModelCurve {
                    scenario: s.name().into(),
                    material: material.into(),
                    series: series.clone(),
                    strain,
                    temperature_k,
                    aging_time_s: t,
                    beta_model: pred.map(|p| p.0),
                    tau_model_s: pred.map(|p| p.1),
                    beta_measured: idx.map(|i| m.beta[i]),
                    tau_measured_s: idx.map(|i| m.ln_tau[i].exp()),
                }
            })
            .collect();
        curves.extend(rows);
    }
    (curves, fits)
}
