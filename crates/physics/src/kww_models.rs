//! The three KWW variants as least-squares models (analytic Jacobian), their bounds, automatic
//! initial guesses (Kohlrausch linearisation, else the 1/e crossing with beta = 0.6) and a plain refit.

use crate::kww::{KwwParams, ShiftedTerms};
use fit::{Bound, Model};

/// Which terms a fit frees: parameters are [A, ln tau, beta] + [c] + [t0].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Kww,
    KwwOffset,
    KwwOffsetT0,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::Kww, Variant::KwwOffset, Variant::KwwOffsetT0];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Kww => "kww",
            Variant::KwwOffset => "kww_offset",
            Variant::KwwOffsetT0 => "kww_offset_t0",
        }
    }

    pub fn parse(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }

    pub fn n_params(self) -> usize {
        match self {
            Variant::Kww => 3,
            Variant::KwwOffset => 4,
            Variant::KwwOffsetT0 => 5,
        }
    }

    /// Bounds: A in [0.05, 5], beta in [0.05, 2], c in [-1, 1], t0 in [-30 s, 60 s].
    pub fn bounds(self) -> Vec<Bound> {
        let mut b = vec![Bound::Both(0.05, 5.0), Bound::Free, Bound::Both(0.05, 2.0)];
        if self != Variant::Kww {
            b.push(Bound::Both(-1.0, 1.0));
        }
        if self == Variant::KwwOffsetT0 {
            b.push(Bound::Both(-30.0, 60.0));
        }
        b
    }

    /// The full parameter set of a parameter vector of this variant.
    pub fn params(self, p: &[f64]) -> KwwParams {
        KwwParams {
            amplitude: p[0],
            ln_tau: p[1],
            beta: p[2],
            offset: if self == Variant::Kww { 0.0 } else { p[3] },
            t0_s: if self == Variant::KwwOffsetT0 {
                p[4]
            } else {
                0.0
            },
        }
    }
}

/// A KWW variant at fixed times (`ln_t` = ln t, precomputed: without t0 the model needs only it).
pub struct KwwModel<'a> {
    pub t: &'a [f64],
    pub ln_t: &'a [f64],
    pub variant: Variant,
    /// The last evaluation's parameters and its z = (t/tau)^beta and exp(-z) per point: the
    /// solver asks for the Jacobian where it last evaluated (an accepted step), and the same
    /// values are not computed twice. Exactly the values a fresh computation gives.
    cache: std::sync::Mutex<EvalCache>,
    /// The same for the variant with t0 (terms of the shifted time).
    shifted: std::sync::Mutex<ShiftedTerms>,
}

#[derive(Default)]
struct EvalCache {
    params: Vec<f64>,
    z: Vec<f64>,
    e: Vec<f64>,
}

impl<'a> KwwModel<'a> {
    pub fn new(t: &'a [f64], ln_t: &'a [f64], variant: Variant) -> Self {
        KwwModel {
            t,
            ln_t,
            variant,
            cache: Default::default(),
            shifted: Default::default(),
        }
    }
}

impl Model for KwwModel<'_> {
    fn n_params(&self) -> usize {
        self.variant.n_params()
    }
    fn n_obs(&self) -> usize {
        self.t.len()
    }
    fn eval(&self, p: &[f64], out: &mut [f64]) {
        let q = self.variant.params(p);
        if self.variant == Variant::KwwOffsetT0 {
            self.shifted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .eval(&q, self.t, out);
        } else {
            let mut guard = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let c = &mut *guard;
            c.z.resize(self.ln_t.len(), 0.0);
            c.e.resize(self.ln_t.len(), 0.0);
            terms_of(&q, self.ln_t, &mut c.z, &mut c.e);
            for (o, e) in out.iter_mut().zip(&c.e) {
                *o = q.amplitude * *e + q.offset;
            }
            c.params.clear();
            c.params.extend_from_slice(p);
        }
    }
    fn jacobian(&self, p: &[f64], jac: &mut [f64]) -> bool {
        let q = self.variant.params(p);
        let k = self.variant.n_params();
        if self.variant == Variant::KwwOffsetT0 {
            let mut shifted = self.shifted.lock().unwrap_or_else(|e| e.into_inner());
            shifted.gradient(&q, self.t, |i, g| {
                jac[i * k..i * k + k].copy_from_slice(&g[..k]);
            });
        } else {
            // t0 = 0: the derivatives of `phi_and_gradient`, from ln t (z and exp(-z) from the
            // last evaluation when it was at these parameters).
            let mut guard = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let c = &mut *guard;
            if !(c.params == p && c.z.len() == self.ln_t.len()) {
                terms_of(&q, self.ln_t, &mut c.z, &mut c.e);
                c.params.clear();
                c.params.extend_from_slice(p);
            }
            for (i, &lt) in self.ln_t.iter().enumerate() {
                let ln_s = lt - q.ln_tau;
                let (z, e) = (c.z[i], c.e[i]);
                let row = &mut jac[i * k..i * k + k];
                row[0] = e;
                row[1] = q.amplitude * e * q.beta * z;
                row[2] = -q.amplitude * e * z * ln_s;
                if k > 3 {
                    row[3] = 1.0;
                }
            }
        }
        true
    }
}

/// z = (t/tau)^beta and exp(-z) at every ln t, by the vectorised exp (`fit::vexp`): the same
/// bits for an evaluation and for a Jacobian computed afresh.
fn terms_of(q: &KwwParams, ln_t: &[f64], z: &mut Vec<f64>, e: &mut Vec<f64>) {
    z.clear();
    z.extend(ln_t.iter().map(|lt| q.beta * (lt - q.ln_tau)));
    fit::vexp::exp_in_place(z);
    e.clear();
    e.extend(z.iter().map(|z| -z));
    fit::vexp::exp_in_place(e);
}

/// Initial [A, ln tau, beta] from the data: the Kohlrausch linearisation
/// ln(-ln phi) = beta ln t - beta ln tau over 0.02 < phi < 0.98, else tau from the 1/e crossing
/// (or beyond the window) and beta = 0.6.
pub fn initial_guess(t: &[f64], phi: &[f64]) -> [f64; 3] {
    let pts: Vec<(f64, f64)> = t
        .iter()
        .zip(phi)
        .filter(|(t, p)| **t > 0.0 && **p > 0.02 && **p < 0.98)
        .map(|(t, p)| (t.ln(), (-p.ln()).ln()))
        .collect();
    if pts.len() >= 3 {
        let n = pts.len() as f64;
        let (sx, sy) = pts.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
        let (mx, my) = (sx / n, sy / n);
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if sxx > 0.0 {
            let beta = sxy / sxx;
            if beta > 0.06 && beta < 1.9 {
                let ln_tau = mx - my / beta;
                if ln_tau.is_finite() {
                    return [1.0, ln_tau, beta];
                }
            }
        }
    }
    let crossing = t
        .iter()
        .zip(phi)
        .find(|(_, p)| **p < (-1.0f64).exp())
        .map(|(t, _)| *t);
    let t_max = t.iter().copied().fold(1.0f64, f64::max);
    [1.0, crossing.unwrap_or(3.0 * t_max).max(1e-3).ln(), 0.6]
}

/// Refits plain KWW (A, tau, beta) to a curve from the automatic guess: (beta, tau) or None.
pub fn refit_plain(t: &[f64], phi: &[f64]) -> Option<(f64, f64)> {
    let ln_t: Vec<f64> = t.iter().map(|x| x.ln()).collect();
    let p = refit_plain_params(t, &ln_t, phi)?;
    Some((p[2], p[1].exp()))
}

/// The plain refit's [A, ln tau, beta].
fn refit_plain_params(t: &[f64], ln_t: &[f64], phi: &[f64]) -> Option<[f64; 3]> {
    refit_plain_params_from(t, ln_t, phi, initial_guess(t, phi))
}

/// The plain refit's [A, ln tau, beta] from a given start.
fn refit_plain_params_from(
    t: &[f64],
    ln_t: &[f64],
    phi: &[f64],
    start: [f64; 3],
) -> Option<[f64; 3]> {
    let model = KwwModel::new(t, ln_t, Variant::Kww);
    let opts = fit::Options {
        bounds: Variant::Kww.bounds(),
        max_iters: 300,
        ftol: 1e-13,
        xtol: 1e-11,
        gtol: 1e-13,
    };
    let f = fit::least_squares(&model, phi, None, &start, &opts).ok()?;
    Some([f.params[0], f.params[1], f.params[2]])
}

/// `refit_plain` with its sensitivity to the curve: for each column of `d_phi` (d phi/d p_j at
/// every time) the pair (d beta/d p_j, d ln tau/d p_j), by the implicit function theorem at the
/// least-squares optimum q: dq/dp = H^-1 sum_i grad K_i d phi_i/dp with the full Hessian
/// H = sum_i grad K_i grad K_i^T + r_i hess K_i (the refit of a curve that is not KWW has
/// residuals, so the second-order term matters). The derivatives are `None` where H is not
/// positive definite (an optimum on a bound, or a degenerate curve).
pub type Refit = ((f64, f64), Option<Vec<[f64; 2]>>);
pub fn refit_plain_sensitivity(t: &[f64], phi: &[f64], d_phi: &[Vec<f64>]) -> Option<Refit> {
    refit_plain_sensitivity_from(t, phi, d_phi, None).map(|r| r.0)
}

/// Whether plain KWW parameters [A, ln tau, beta] lie strictly inside the refit's bounds: a start
/// on a bound of A or beta cannot leave it through the bound transform (its derivative is 0
/// there), so such a warm start is not used.
fn inside_bounds(w: &[f64; 3]) -> bool {
    Variant::Kww
        .bounds()
        .iter()
        .enumerate()
        .all(|(i, b)| match b {
            Bound::Both(lo, hi) => {
                let margin = 1e-6 * (hi - lo);
                w[i] > lo + margin && w[i] < hi - margin
            }
            _ => w[i].is_finite(),
        })
}

/// `refit_plain_sensitivity` that may start from `warm`, the [A, ln tau, beta] of a refit of a
/// nearby curve (a solver's previous evaluation), where its RSS is lower than the automatic
/// guess's: near the optimum the refit then takes a few iterations instead of some thirty. The
/// optimum is the same to the refit's tolerance (ftol 1e-13), not to the bit; a warm start that
/// is worse than the guess, or on a bound of A or beta (where the bound transform would hold it),
/// is not used, so a far or degenerate previous curve cannot lead the refit astray. Also returns the refit's [A, ln tau, beta], the next call's `warm`.
pub fn refit_plain_sensitivity_from(
    t: &[f64],
    phi: &[f64],
    d_phi: &[Vec<f64>],
    warm: Option<[f64; 3]>,
) -> Option<(Refit, [f64; 3])> {
    let ln_t: Vec<f64> = t.iter().map(|x| x.ln()).collect();
    let guess = initial_guess(t, phi);
    let rss = |p: &[f64; 3]| -> f64 {
        ln_t.iter()
            .zip(phi)
            .map(|(lt, y)| (p[0] * (-(p[2] * (lt - p[1])).exp()).exp() - y).powi(2))
            .sum()
    };
    let start = match warm {
        Some(w) if inside_bounds(&w) && rss(&w) < rss(&guess) => w,
        _ => guess,
    };
    let [a, ln_tau, beta] = refit_plain_params_from(t, &ln_t, phi, start)?;
    let mut h = [0.0; 9];
    let mut rhs = vec![[0.0; 3]; d_phi.len()];
    for (i, &lt) in ln_t.iter().enumerate() {
        let u = lt - ln_tau;
        let z = (beta * u).exp();
        let e = (-z).exp();
        let r = a * e - phi[i];
        let g = [e, a * e * beta * z, -a * e * z * u];
        // Second derivatives of K = A exp(-z), z = exp(beta (ln t - ln tau)), order [A, ln tau, beta].
        let ez = e * z;
        let hk = [
            0.0,
            ez * beta,
            -ez * u,
            ez * beta,
            a * beta * beta * ez * (z - 1.0),
            a * ez * (1.0 + beta * u * (1.0 - z)),
            -ez * u,
            a * ez * (1.0 + beta * u * (1.0 - z)),
            a * ez * u * u * (z - 1.0),
        ];
        for r_ in 0..3 {
            for c in 0..3 {
                h[r_ * 3 + c] += g[r_] * g[c] + r * hk[r_ * 3 + c];
            }
        }
        for (acc, d) in rhs.iter_mut().zip(d_phi) {
            for c in 0..3 {
                acc[c] += g[c] * d[i];
            }
        }
    }
    let sens = rhs
        .iter()
        .map(|b| fit::linalg::spd_solve(&h, 3, b).map(|x| [x[2], x[1]]))
        .collect::<Option<Vec<_>>>();
    Some((((beta, ln_tau.exp()), sens), [a, ln_tau, beta]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A curve that is not KWW (two exponentials), moved by one parameter p: the sensitivity of
    /// the refit against central differences of the refit itself.
    #[test]
    fn the_refit_sensitivity_matches_refitting() {
        let t: Vec<f64> = (0..120)
            .map(|k| 10f64.powf(-1.0 + 0.035 * k as f64))
            .collect();
        let curve = |p: f64| -> Vec<f64> {
            t.iter()
                .map(|s| 0.6 * (-s / (30.0 * p)).exp() + 0.4 * (-s / 900.0).exp())
                .collect()
        };
        let d_curve = |p: f64| -> Vec<f64> {
            t.iter()
                .map(|s| 0.6 * (-s / (30.0 * p)).exp() * s / (30.0 * p * p))
                .collect()
        };
        for p in [0.7, 1.0, 2.5] {
            let ((beta, tau), sens) =
                refit_plain_sensitivity(&t, &curve(p), &[d_curve(p)]).unwrap();
            assert_eq!(Some((beta, tau)), refit_plain(&t, &curve(p)));
            let [d_beta, d_ln_tau] = sens.unwrap()[0];
            let h = 1e-5 * p;
            let (bu, tu) = refit_plain(&t, &curve(p + h)).unwrap();
            let (bd, td) = refit_plain(&t, &curve(p - h)).unwrap();
            let fd_beta = (bu - bd) / (2.0 * h);
            let fd_ln_tau = (tu.ln() - td.ln()) / (2.0 * h);
            assert!(
                (d_beta - fd_beta).abs() < 1e-5 * (1.0 + fd_beta.abs()),
                "p {p}: {d_beta} vs {fd_beta}"
            );
            assert!(
                (d_ln_tau - fd_ln_tau).abs() < 1e-5 * (1.0 + fd_ln_tau.abs()),
                "p {p}: {d_ln_tau} vs {fd_ln_tau}"
            );
            // Without the second-order term the sensitivity would be visibly off on this curve.
            assert!(fd_beta.abs() > 1e-3, "the test curve moves beta: {fd_beta}");
        }
    }

    /// A warm start near the optimum gives the cold refit's answer to its tolerance; a warm start
    /// worse than the automatic guess is not used (the answer is the cold one, bit for bit).
    #[test]
    fn a_warm_start_reaches_the_same_refit() {
        let t: Vec<f64> = (0..144)
            .map(|k| 10f64.powf(0.5 + 0.025 * k as f64))
            .collect();
        let phi: Vec<f64> = t
            .iter()
            .map(|s| 0.55 * (-s / 40.0).exp() + 0.45 * (-s / 700.0).exp())
            .collect();
        let d = vec![vec![1.0; t.len()]];
        let (cold, p) = refit_plain_sensitivity_from(&t, &phi, &d, None).unwrap();
        assert_eq!(Some(cold.0), refit_plain(&t, &phi));
        let near = [p[0] * 1.01, p[1] + 0.05, p[2] * 0.98];
        let (warm, q) = refit_plain_sensitivity_from(&t, &phi, &d, Some(near)).unwrap();
        assert!(
            (warm.0.0 - cold.0.0).abs() < 1e-6 * cold.0.0,
            "{warm:?} {cold:?}"
        );
        assert!(
            (warm.0.1 / cold.0.1 - 1.0).abs() < 1e-6,
            "{warm:?} {cold:?}"
        );
        assert!((q[2] - p[2]).abs() < 1e-6);
        let far = [0.05, 30.0, 1.9];
        let (bad, _) = refit_plain_sensitivity_from(&t, &phi, &d, Some(far)).unwrap();
        assert_eq!(bad.0, cold.0);
        // A start on a bound of A or beta is never used; inside them it may be.
        assert!(inside_bounds(&p) && inside_bounds(&near));
        for on_bound in [
            [0.05, p[1], p[2]],
            [5.0, p[1], p[2]],
            [p[0], p[1], 2.0],
            [p[0], p[1], 0.05],
        ] {
            assert!(!inside_bounds(&on_bound), "{on_bound:?}");
        }
        assert!(!inside_bounds(&[p[0], f64::NAN, p[2]]));
    }
}
