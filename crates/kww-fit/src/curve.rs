//! One relaxation curve to one `kww_fits` row: checks, fits of the requested variants, selection
//! by BIC, derived quantities, flags and optional bootstrap intervals.

use fit::{Fit, Options, least_squares};
use physics::kww::mean_tau_s;
use tables::{KwwFit, RelaxationClean};

use crate::model::{KwwModel, Variant, initial_guess};

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
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            variants: Variant::ALL.to_vec(),
            bootstrap: 0,
            seed: 7,
            ill_conditioned_corr: 0.95,
        }
    }
}

fn flagged(c: &RelaxationClean, status: &str, n: usize) -> KwwFit {
    KwwFit {
        test_id: c.test_id.clone(),
        material: c.material.clone(),
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
    v: Variant,
    prior: Option<&Fit>,
) -> Option<Fit> {
    let model = KwwModel {
        t,
        ln_t,
        variant: v,
    };
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
        if let Ok(f) = least_squares(&model, phi, None, &p0, &opts) {
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

/// Fits every requested variant of one curve and returns its row.
pub fn fit_curve(c: &RelaxationClean, opts: &FitOptions) -> KwwFit {
    let (t, phi) = (&c.time_s, &c.phi);
    if let Some(why) = check(t, phi) {
        return flagged(c, why, t.len());
    }
    let ln_t: Vec<f64> = t.iter().map(|x| x.ln()).collect();
    // Each richer variant starts from the previous one's solution when both are requested.
    let mut candidates: Vec<(Variant, Fit)> = Vec::new();
    let mut prior: Option<Fit> = None;
    for v in Variant::ALL
        .into_iter()
        .filter(|v| opts.variants.contains(v))
    {
        if let Some(f) = fit_variant(t, &ln_t, phi, v, prior.as_ref()) {
            prior = Some(f.clone());
            candidates.push((v, f));
        }
    }
    let Some((variant, f)) = candidates
        .into_iter()
        .min_by(|a, b| a.1.bic().total_cmp(&b.1.bic()))
    else {
        return flagged(c, "fit_failed", t.len());
    };
    let q = variant.params(&f.params);
    let tau = q.ln_tau.exp();
    let se = |j: usize| f.se.get(j).copied().filter(|x| x.is_finite());
    let corr = f.correlation(1, 2);
    let mean_phi = phi.iter().sum::<f64>() / phi.len() as f64;
    let sst: f64 = phi.iter().map(|p| (p - mean_phi).powi(2)).sum();
    let t_max = t.last().copied().unwrap_or(0.0);
    let mut flags = Vec::new();
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
    let mut row = KwwFit {
        test_id: c.test_id.clone(),
        material: c.material.clone(),
        temperature_k: c.temperature_k,
        aging_time_s: c.aging_time_s,
        model: variant.name().to_owned(),
        beta: Some(q.beta),
        beta_se: se(2),
        tau_s: Some(tau),
        tau_se_s: se(1).map(|s| s * tau),
        amplitude: Some(q.amplitude),
        offset: (variant != Variant::Kww).then_some(q.offset),
        t0_s: (variant == Variant::KwwOffsetT0).then_some(q.t0_s),
        corr_ln_tau_beta: Some(corr).filter(|c| c.is_finite()),
        mean_tau_s: Some(mean_tau_s(tau, q.beta)),
        rss: Some(f.rss),
        r_squared: Some(1.0 - f.rss / sst),
        aic: Some(f.aic()),
        bic: Some(f.bic()),
        n_points: t.len() as i64,
        time_min_s: t.first().copied(),
        time_max_s: Some(t_max),
        tg_k: c.tg_k,
        n_iterations: f.iterations as i64,
        status: if f.converged {
            "ok".into()
        } else {
            "not_converged".into()
        },
        flags: flags.join(","),
        ..Default::default()
    };
    if opts.bootstrap > 0 {
        let model = KwwModel {
            t,
            ln_t: &ln_t,
            variant,
        };
        let fopts = Options {
            bounds: variant.bounds(),
            max_iters: 200,
            ftol: 1e-10,
            xtol: 1e-8,
            gtol: 1e-10,
        };
        // One stream per (seed, test): the same test gets the same replicates in any order.
        let seed = opts.seed
            ^ c.test_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        let reps =
            fit::bootstrap::residual_bootstrap(&model, phi, None, &f, &fopts, opts.bootstrap, seed);
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
