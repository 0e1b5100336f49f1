//! One relaxation curve to its relaxation-time spectrum: Tikhonov-regularised nonnegative least
//! squares on a log grid, the weight chosen by generalised cross-validation, pointwise bands by a
//! seeded residual bootstrap (or the posterior covariance), and the spectrum's moments and peaks.
//! Pure: no I/O.
//!
//! The problem, and why:
//! - Model. phi(t') = sum_k h_k exp(-t'/tau_k) dx (+ c), x = ln tau on an even grid that extends
//!   beyond the measured window (`extend_low_decades` below t'_min, `extend_high_decades` above
//!   t'_max; half a decade each by default), h >= 0 the density per unit ln tau. Further out,
//!   modes are invisible at noise 1e-3 (a mode ten times faster than the first point has decayed
//!   before it), and the weight GCV picks leaves bumps there that only move the moments (with
//!   one decade above, log-normals of SD 1 near the window's start lost their single peak).
//!   The offset c is present where the curve's KWW fit has one; it is eliminated exactly by
//!   projecting the weighted data and kernel on the complement of the constant (it is not
//!   penalised). Where the KWW fit located the step at t0 != 0, t' - t0 is used.
//! - Weights. A bin mean of m samples has variance sigma^2/m (as in kww-fit): residuals are
//!   weighted by m, normalised to sum 1, so `rss` is a weighted mean square.
//! - Objective. sum_i w_i (phi_i - model_i)^2 + lambda ||D2 h||^2, D2 the second difference on
//!   the grid: it prefers smooth spectra and leaves a straight line in ln tau unpenalised. The
//!   constrained solve is `fit::nnls` on the Gram matrix (its header says why that and not a
//!   general QP crate).
//! - The weight. Modified GCV(lambda) = n RSS / (n - 1.4 dof)^2 of the unconstrained problem
//!   (+1 dof for the offset), in closed form from one generalised eigendecomposition (`Gcv`): a
//!   scan over 18 decades at tenth-decade steps, then golden-section refinement. GCV needs no
//!   noise estimate and is what DRT tools use; the L-curve's corner is ill-defined for curves
//!   whose noise is far below the model's curvature scale. `Criterion::Evidence` (the marginal
//!   likelihood, a Bayesian choice) is the alternative: on the tests' log-normals it recovers
//!   widths of 1 to 1.5 slightly less well and KWW curves' bands hold the exact distribution
//!   less often, so GCV is the default.
//! - Bands. Residual bootstrap at the chosen lambda: weighted residuals resampled with
//!   replacement (seeded per curve, so identical whatever the thread count), each replicate
//!   re-choosing lambda and solved from the fit's zero set: where few grid points are held at 0
//!   (the usual case) through the GCV decomposition's inverse and a Schur complement on the
//!   zeros, refined and certified on the Gram matrix (`Gcv::nnls_few_zeros`), else by the
//!   Cholesky active-set solver (started from the zero set the first solver had reached when it
//!   outgrew its limit). The bands are its 2.5 % and 97.5 % quantiles per grid point:
//!   they hold the noise's effect at this lambda, not the regularisation's own bias (which
//!   smooths sharp features: a single exponential comes out as a narrow peak, not a spike). Or
//!   (`Bands::Posterior`, ~5x faster than 100 replicates) the posterior covariance of the
//!   regularised solution at the chosen lambda on its passive set: one factorisation, no
//!   replicates; its moments' SEs are less evenly calibrated across shapes (docs/physics.md).

use fit::nnls::{Tolerances, cholesky_envelope, cholesky_sub, nnls_gram};
use rayon::prelude::*;

/// How lambda is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// Modified generalised cross-validation (degrees of freedom times 1.4).
    Gcv,
    /// The marginal likelihood of lambda under the Gaussian smoothness prior (a Bayesian
    /// choice, as pyReSpect's), with the noise variance profiled out.
    Evidence,
}

impl Criterion {
    pub fn name(self) -> &'static str {
        match self {
            Criterion::Gcv => "gcv",
            Criterion::Evidence => "evidence",
        }
    }
}

/// How the bands and the moments' SEs are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bands {
    /// The posterior covariance of the regularised solution at the chosen lambda, on its
    /// passive set: sigma^2 (B + lambda R)_P^-1 (B = A^T A, sigma^2 from the residuals), the
    /// bands h +- 1.96 SD (clipped at 0), the moments' SEs by the delta method. One
    /// factorisation per curve.
    Posterior,
    /// A seeded residual bootstrap, each replicate re-choosing lambda (`bootstrap` replicates;
    /// 0: none; 100 by default, measured as good as 200). The default: its moments' intervals
    /// hold 95-97 % on KWW and log-normal truths alike (bench/coverage.md), the posterior's
    /// 89-90 % and 99-100 %.
    Bootstrap,
    /// No bands and no moments' SEs.
    None,
}

impl Bands {
    pub fn name(self) -> &'static str {
        match self {
            Bands::Posterior => "posterior",
            Bands::Bootstrap => "bootstrap",
            Bands::None => "none",
        }
    }
}

/// How a curve is inverted.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumOptions {
    /// Grid points in ln tau.
    pub n_grid: usize,
    /// How far the grid extends below t'_min and above t'_max, decades.
    pub extend_low_decades: f64,
    pub extend_high_decades: f64,
    /// A fixed lambda instead of the criterion's choice.
    pub lambda: Option<f64>,
    pub criterion: Criterion,
    /// How the bands and the moments' SEs are computed.
    pub bands: Bands,
    /// Bootstrap replicates under [`Bands::Bootstrap`] (0: no bands).
    pub bootstrap: usize,
    pub seed: u64,
    /// The share of the mass outside the window above which a curve is flagged
    /// `beyond_window`.
    pub beyond_window: f64,
    /// The relative dip between two maxima that makes them two peaks.
    pub peak_dip: f64,
}

impl Default for SpectrumOptions {
    fn default() -> Self {
        SpectrumOptions {
            n_grid: 100,
            extend_low_decades: 0.5,
            extend_high_decades: 0.5,
            lambda: None,
            criterion: Criterion::Gcv,
            bands: Bands::Bootstrap,
            bootstrap: 100,
            seed: 1,
            beyond_window: 0.2,
            peak_dip: 0.2,
        }
    }
}

/// One curve to invert.
#[derive(Debug, Clone, Copy)]
pub struct CurveInput<'a> {
    /// t' (s), increasing.
    pub time_s: &'a [f64],
    pub phi: &'a [f64],
    /// Samples per point (empty: all 1).
    pub n_samples: &'a [i64],
    /// Fit a constant offset.
    pub offset: bool,
    /// The step time the KWW fit located (s; 0 when none).
    pub t0_s: f64,
    /// Keys the bootstrap's random stream.
    pub stream: u64,
}

/// Mean, standard deviation and skewness of ln tau under a spectrum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub mass: f64,
    pub mean: f64,
    pub sd: f64,
    pub skewness: f64,
}

/// A curve's spectrum and what was measured of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    pub ln_tau: Vec<f64>,
    pub h: Vec<f64>,
    pub h_low: Option<Vec<f64>>,
    pub h_high: Option<Vec<f64>>,
    pub offset: Option<f64>,
    pub lambda: f64,
    pub criterion: &'static str,
    pub dof: f64,
    /// Root weighted mean square residual.
    pub rms: f64,
    pub moments: Moments,
    pub mean_se: Option<f64>,
    pub sd_se: Option<f64>,
    /// Peaks within the window; None when the window cuts the distribution (flag
    /// `peaks_not_resolved`).
    pub n_peaks: Option<usize>,
    pub beyond_window_fraction: f64,
    pub n_points: usize,
    pub time_min_s: f64,
    pub time_max_s: f64,
    pub flags: Vec<&'static str>,
}

/// Why a curve was not inverted (its `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvertError {
    #[error("too_few_points")]
    TooFewPoints,
    #[error("not_finite")]
    NotFinite,
    #[error("time_not_increasing")]
    TimeNotIncreasing,
    #[error("no_relaxation")]
    NoRelaxation,
    #[error("not_invertible")]
    NotInvertible,
}

impl InvertError {
    pub fn status(self) -> &'static str {
        match self {
            InvertError::TooFewPoints => "too_few_points",
            InvertError::NotFinite => "not_finite",
            InvertError::TimeNotIncreasing => "time_not_increasing",
            InvertError::NoRelaxation => "no_relaxation",
            InvertError::NotInvertible => "not_invertible",
        }
    }
}

/// The fewest points a curve needs.
pub const MIN_POINTS: usize = 12;

/// The weighted, projected problem of one curve on one grid.
struct Problem {
    n: usize,
    k: usize,
    /// sqrt(w) exp(-t/tau) dx, projected when there is an offset (n x k).
    a: Vec<f64>,
    /// The unprojected kernel, for the fitted values.
    kernel: Vec<f64>,
    sw: Vec<f64>,
    /// B = A^T A (k x k) and R = D2^T D2 (k x k).
    b: Vec<f64>,
    r: Vec<f64>,
    offset: bool,
}

impl Problem {
    fn new(t: &[f64], w: &[f64], ln_tau: &[f64], dx: f64, offset: bool) -> Problem {
        let (n, k) = (t.len(), ln_tau.len());
        let total: f64 = w.iter().sum();
        let sw: Vec<f64> = w.iter().map(|x| (x / total).sqrt()).collect();
        let mut kernel = vec![0.0; n * k];
        for i in 0..n {
            for j in 0..k {
                kernel[i * k + j] = (-t[i] * (-ln_tau[j]).exp()).exp() * dx;
            }
        }
        let mut a: Vec<f64> = (0..n * k).map(|p| kernel[p] * sw[p / k]).collect();
        if offset {
            project(&mut a, &sw, n, k);
        }
        let b = fit::linalg::gram(&a, n, k);
        // Second differences with h = 0 beyond both ends of the grid: the penalty is full rank
        // and holds mass away from the ends, where the window cannot place it.
        let mut r = vec![0.0; k * k];
        for m in 0..k {
            let c = [(m.wrapping_sub(1), 1.0), (m, -2.0), (m + 1, 1.0)];
            for &(p, x) in c.iter().filter(|(i, _)| *i < k) {
                for &(q, y) in c.iter().filter(|(i, _)| *i < k) {
                    r[p * k + q] += x * y;
                }
            }
        }
        Problem {
            n,
            k,
            a,
            kernel,
            sw,
            b,
            r,
            offset,
        }
    }

    /// sqrt(w) y, projected like the kernel.
    fn rhs(&self, y: &[f64]) -> Vec<f64> {
        let mut v: Vec<f64> = y.iter().zip(&self.sw).map(|(y, s)| y * s).collect();
        if self.offset {
            project(&mut v, &self.sw, self.n, 1);
        }
        v
    }

    fn gram(&self, lambda: f64) -> Vec<f64> {
        // A tiny ridge keeps the factorisation defined where the data and the penalty leave a
        // direction free (never active in practice: 1e-14 of the data's scale).
        let ridge =
            1e-14 * (0..self.k).map(|p| self.b[p * self.k + p]).sum::<f64>() / self.k as f64;
        let mut g: Vec<f64> = self
            .b
            .iter()
            .zip(&self.r)
            .map(|(b, r)| b + lambda * r)
            .collect();
        for p in 0..self.k {
            g[p * self.k + p] += ridge;
        }
        g
    }

    fn q(&self, ytil: &[f64]) -> Vec<f64> {
        let mut q = vec![0.0; self.k];
        for i in 0..self.n {
            let yi = ytil[i];
            for (qj, aij) in q.iter_mut().zip(&self.a[i * self.k..(i + 1) * self.k]) {
                *qj += aij * yi;
            }
        }
        q
    }

    /// The weighted residual sum of squares of h for projected data `ytil`.
    fn rss(&self, h: &[f64], ytil: &[f64]) -> f64 {
        (0..self.n)
            .map(|i| {
                let m: f64 = self.a[i * self.k..(i + 1) * self.k]
                    .iter()
                    .zip(h)
                    .map(|(a, h)| a * h)
                    .sum();
                (ytil[i] - m).powi(2)
            })
            .sum()
    }
}

/// Removes from each column of `a` (n x k) its sw-weighted projection on sw.
fn project(a: &mut [f64], sw: &[f64], n: usize, k: usize) {
    let norm: f64 = sw.iter().map(|s| s * s).sum();
    for j in 0..k {
        let dot: f64 = (0..n).map(|i| a[i * k + j] * sw[i]).sum();
        let c = dot / norm;
        for i in 0..n {
            a[i * k + j] -= c * sw[i];
        }
    }
}

/// The GCV function of the unconstrained problem in closed form, from the generalised
/// eigendecomposition of (B, R): with R = C C^T and C^-1 B C^-T = V diag(mu) V^T, the data enter
/// only through z = V^T C^-1 q, so that RSS(lambda) = y.y - sum z^2 (mu + 2 lambda)/(mu +
/// lambda)^2 and dof(lambda) = sum mu/(mu + lambda). Each evaluation costs O(k); a bootstrap
/// replicate chooses its own lambda at that price.
struct Gcv {
    criterion: Criterion,
    mu: Vec<f64>,
    /// C (lower Cholesky factor of R) and V (eigenvectors in columns), k x k.
    c: Vec<f64>,
    /// The first column of each row of C that is not 0.
    first: Vec<usize>,
    v: Vec<f64>,
    /// W = C^-T V (k x k): (B + lambda R)^-1 = W diag(1/(mu + lambda)) W^T.
    w: Vec<f64>,
    k: usize,
    n: usize,
    extra_dof: f64,
    /// lambda's scale, tr(B)/tr(R), and the scan's bounds in ln(lambda).
    ln_lo: f64,
    ln_hi: f64,
}

/// Forward substitution: solves L x = b in place (L lower, k x k).
fn forward(l: &[f64], k: usize, first: &[usize], b: &mut [f64]) {
    for i in 0..k {
        let row = &l[i * k..i * k + i];
        let mut s = b[i];
        for p in first[i]..i {
            s -= row[p] * b[p];
        }
        b[i] = s / l[i * k + i];
    }
}

/// The GCV scan's data-free part, per scan point: the weights of the projections in the fitted
/// sum of squares (k per point) and the degrees of freedom.
struct ScanTable {
    weights: Vec<f64>,
    dof: Vec<f64>,
}

/// The k x k matrix whose columns are those of `a` (k x k, row-major), each passed through
/// `solve` (a triangular solve in place).
fn solve_columns(a: &[f64], k: usize, solve: impl Fn(&mut [f64])) -> Vec<f64> {
    let mut out = vec![0.0; k * k];
    let mut col = vec![0.0; k];
    for j in 0..k {
        for i in 0..k {
            col[i] = a[i * k + j];
        }
        solve(&mut col);
        for i in 0..k {
            out[i * k + j] = col[i];
        }
    }
    out
}

/// GCV's score n RSS / (n - gamma dof)^2 (infinite where the denominator would not be positive).
fn gcv_score(n: f64, rss: f64, dof: f64) -> f64 {
    if GCV_GAMMA * dof < n - 0.5 {
        n * rss / (n - GCV_GAMMA * dof).powi(2)
    } else {
        f64::INFINITY
    }
}

/// Back substitution: solves L^T x = b in place (L lower, k x k, rows from `first`).
fn backward(l: &[f64], k: usize, first: &[usize], b: &mut [f64]) {
    for i in (0..k).rev() {
        let xi = b[i] / l[i * k + i];
        b[i] = xi;
        for p in first[i]..i {
            b[p] -= l[i * k + p] * xi;
        }
    }
}

/// Zero sets larger than this go to the Cholesky active-set solver (each zero costs an
/// application of the inverse here).
const MAX_ZEROS: usize = 24;

impl Gcv {
    /// (B + lambda R)^-1 v in place, from the decomposition: W diag(1/(mu + lambda)) W^T v with
    /// W = C^-T V; O(k^2), `tmp` of length k.
    fn apply_inverse(&self, lambda: f64, v: &mut [f64], tmp: &mut [f64]) {
        let k = self.k;
        tmp.fill(0.0);
        for (row, vi) in self.w.chunks_exact(k).zip(v.iter()) {
            for (t, r) in tmp.iter_mut().zip(row) {
                *t += r * vi;
            }
        }
        for (t, m) in tmp.iter_mut().zip(&self.mu) {
            *t /= m + lambda;
        }
        for (vi, row) in v.iter_mut().zip(self.w.chunks_exact(k)) {
            *vi = fit::linalg::dot(row, tmp);
        }
    }

    /// Columns `js` of (B + lambda R)^-1: W diag(1/(mu + lambda)) (row j of W), in one pass
    /// over W.
    fn inverse_columns(&self, lambda: f64, js: &[usize]) -> Vec<Vec<f64>> {
        let k = self.k;
        let scaled: Vec<Vec<f64>> = js
            .iter()
            .map(|&j| {
                self.w[j * k..(j + 1) * k]
                    .iter()
                    .zip(&self.mu)
                    .map(|(w, m)| w / (m + lambda))
                    .collect()
            })
            .collect();
        let mut cols = vec![vec![0.0; k]; js.len()];
        for (i, row) in self.w.chunks_exact(k).enumerate() {
            for (c, t) in cols.iter_mut().zip(&scaled) {
                c[i] = fit::linalg::dot(row, t);
            }
        }
        cols
    }

    /// The nonnegative solution of (B + lambda R) h = q (the Gram matrix `g` at that lambda)
    /// where few variables are held at 0, started from the zero set of `passive`: Lawson and
    /// Hanson's active-set method run on the zero set Z, each solution from the inverse through
    /// the decomposition, x = H q_P - H_Z (H_ZZ)^-1 (H q_P)_Z with H = (B + lambda R)^-1 (O(k^2)
    /// per variable entering Z, instead of a Cholesky factorisation of the passive set, O(k^3),
    /// at every lambda a bootstrap replicate chooses). The result is refined and certified by
    /// the KKT conditions on `g` (O(k^2) each). It gives up where they do not hold (the free
    /// variables' gradient within 32 ulps of a bound on |G x|, the held ones' below the entering
    /// tolerance), where Z outgrows [`MAX_ZEROS`] or the iterations run out: the caller then
    /// uses the Cholesky solver, started from the passive set returned as the error: where Z
    /// outgrew [`MAX_ZEROS`], the zero set it had reached (closer to the answer than `passive`,
    /// so the Cholesky solver has fewer variables to move), else `passive`.
    fn nnls_few_zeros(
        &self,
        lambda: f64,
        g: &[f64],
        q: &[f64],
        passive: &[bool],
    ) -> Result<Vec<f64>, Vec<bool>> {
        let overflow: std::cell::RefCell<Option<Vec<usize>>> = std::cell::RefCell::new(None);
        self.few_zeros(lambda, g, q, passive, &overflow)
            .ok_or_else(|| match overflow.into_inner() {
                Some(zeros) => {
                    let mut start = vec![true; self.k];
                    for j in zeros {
                        start[j] = false;
                    }
                    start
                }
                None => passive.to_vec(),
            })
    }

    /// The work of [`Gcv::nnls_few_zeros`]: None where it gives up, with the zero set reached in
    /// `overflow` where that was because Z outgrew [`MAX_ZEROS`].
    fn few_zeros(
        &self,
        lambda: f64,
        g: &[f64],
        q: &[f64],
        passive: &[bool],
        overflow: &std::cell::RefCell<Option<Vec<usize>>>,
    ) -> Option<Vec<f64>> {
        let k = self.k;
        let mut tmp = vec![0.0; k];
        // Holds variable j at 0: its inverse column joins Z's and H q_P loses j's share; None
        // when Z would outgrow MAX_ZEROS (the zero set reached, j included, kept in `overflow`).
        let hold = |j: usize,
                    zeros: &mut Vec<usize>,
                    cols: &mut Vec<Vec<f64>>,
                    y: &mut [f64]|
         -> Option<()> {
            if zeros.len() >= MAX_ZEROS {
                *overflow.borrow_mut() = Some(zeros.iter().copied().chain([j]).collect());
                return None;
            }
            let c = self.inverse_columns(lambda, &[j]).pop().unwrap_or_default();
            for (yi, ci) in y.iter_mut().zip(&c) {
                *yi -= q[j] * ci;
            }
            zeros.push(j);
            cols.push(c);
            Some(())
        };
        let mut zeros: Vec<usize> = (0..k).filter(|&j| !passive[j]).collect();
        if zeros.len() > MAX_ZEROS {
            return None;
        }
        let mut cols = self.inverse_columns(lambda, &zeros);
        // y = H q_P (q with Z's entries 0).
        let mut y: Vec<f64> = q.to_vec();
        for &j in &zeros {
            y[j] = 0.0;
        }
        self.apply_inverse(lambda, &mut y, &mut tmp);
        // The solution with Z held at 0, and eta = (H_ZZ)^-1 y_Z (the gradient on Z is q_Z + eta).
        let solve =
            |zeros: &[usize], cols: &[Vec<f64>], y: &[f64]| -> Option<(Vec<f64>, Vec<f64>)> {
                let m = zeros.len();
                let mut x = y.to_vec();
                if m == 0 {
                    return Some((x, Vec::new()));
                }
                let hzz: Vec<f64> = (0..m * m).map(|ab| cols[ab % m][zeros[ab / m]]).collect();
                let yz: Vec<f64> = zeros.iter().map(|&j| y[j]).collect();
                let eta = fit::linalg::spd_solve(&hzz, m, &yz)?;
                for (c, e) in cols.iter().zip(&eta) {
                    for (xi, ci) in x.iter_mut().zip(c) {
                        *xi -= ci * e;
                    }
                }
                for &j in zeros {
                    x[j] = 0.0;
                }
                Some((x, eta))
            };
        let Tolerances {
            scale,
            tol,
            max_iter,
        } = Tolerances::of(q);
        let mut iterations = 0;
        let is_zero = |zeros: &[usize], j: usize| zeros.contains(&j);
        // A feasible start: variables whose solution is not positive join Z until none is left.
        let (mut x, mut eta) = loop {
            let (s, e) = solve(&zeros, &cols, &y)?;
            let neg: Vec<usize> = (0..k)
                .filter(|&j| !is_zero(&zeros, j) && s[j] <= 0.0)
                .collect();
            if neg.is_empty() {
                break (s, e);
            }
            for j in neg {
                hold(j, &mut zeros, &mut cols, &mut y)?;
            }
            iterations += 1;
            if iterations > max_iter {
                return None;
            }
        };
        loop {
            // The zero whose gradient q_j + eta most favours entering.
            let enter = zeros
                .iter()
                .enumerate()
                .map(|(a, &j)| (a, q[j] + eta[a]))
                .filter(|(_, w)| *w > tol)
                .max_by(|a, b| a.1.total_cmp(&b.1).then(zeros[b.0].cmp(&zeros[a.0])));
            let Some((a, _)) = enter else { break };
            let j = zeros.swap_remove(a);
            let c = cols.swap_remove(a);
            for (yi, ci) in y.iter_mut().zip(&c) {
                *yi += q[j] * ci;
            }
            loop {
                iterations += 1;
                if iterations > max_iter {
                    return None;
                }
                let (s, e) = solve(&zeros, &cols, &y)?;
                if (0..k).all(|i| is_zero(&zeros, i) || s[i] > 0.0) {
                    (x, eta) = (s, e);
                    break;
                }
                // Step from x towards s as far as feasibility allows; the variables that reach
                // 0 join Z.
                let (mut alpha, mut block) = (1.0f64, usize::MAX);
                for i in (0..k).filter(|&i| !is_zero(&zeros, i) && s[i] <= 0.0) {
                    let t = x[i] / (x[i] - s[i]);
                    if t < alpha || block == usize::MAX {
                        (alpha, block) = (t.min(1.0), i);
                    }
                }
                let mut joined = Vec::new();
                for i in 0..k {
                    if is_zero(&zeros, i) {
                        continue;
                    }
                    x[i] += alpha * (s[i] - x[i]);
                    if i == block || x[i] <= 0.0 {
                        x[i] = 0.0;
                        joined.push(i);
                    }
                }
                for i in joined {
                    hold(i, &mut zeros, &mut cols, &mut y)?;
                }
            }
        }
        // Refine on G itself (the decomposition drops directions B cannot see at double
        // precision, and the Schur step loses digits where G is ill-conditioned): x += the same
        // solve of the residual on the free variables, until it reaches the rounding floor of
        // G x (a bound on its terms' size times 32 ulps) or 1e-13 of q.
        // |G x| is at most the largest row sum of |G| times max |x|.
        let g_norm = g
            .chunks_exact(k)
            .map(|row| row.iter().map(|a| a.abs()).sum::<f64>())
            .fold(0.0f64, f64::max);
        let residual = |x: &[f64]| -> (Vec<f64>, f64) {
            let r = (0..k)
                .map(|i| q[i] - fit::linalg::dot(&g[i * k..(i + 1) * k], x))
                .collect();
            let x_max = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            (r, 1e-13 * scale + 32.0 * f64::EPSILON * g_norm * x_max)
        };
        for _ in 0..4 {
            let (mut r, floor) = residual(&x);
            for &j in &zeros {
                r[j] = 0.0;
            }
            if r.iter().all(|v| v.abs() <= floor) {
                break;
            }
            self.apply_inverse(lambda, &mut r, &mut tmp);
            let (dx, _) = solve(&zeros, &cols, &r)?;
            for (xi, d) in x.iter_mut().zip(&dx) {
                *xi += d;
            }
        }
        // Certify: the gradient q - G x is 0 on the free variables (to the floor above), at most
        // tol on Z, and the free variables positive.
        let (w, floor) = residual(&x);
        for i in 0..k {
            let ok = if is_zero(&zeros, i) {
                w[i] <= tol
            } else {
                w[i].abs() <= floor && x[i] > 0.0
            };
            if !ok || !x[i].is_finite() {
                return None;
            }
        }
        Some(x)
    }

    fn new(p: &Problem, criterion: Criterion) -> Option<Gcv> {
        let k = p.k;
        let (c, first) = cholesky_envelope(&p.r, k)?;
        // X = C^-1 B column by column, then M = C^-1 X^T (= C^-1 B C^-T, symmetric).
        let x = solve_columns(&p.b, k, |col| forward(&c, k, &first, col));
        let mut col = vec![0.0; k];
        let mut m = vec![0.0; k * k];
        for j in 0..k {
            // Column j of X^T is row j of X.
            col.copy_from_slice(&x[j * k..(j + 1) * k]);
            forward(&c, k, &first, &mut col);
            for i in 0..k {
                m[i * k + j] = col[i];
            }
        }
        for i in 0..k {
            for j in 0..i {
                let avg = 0.5 * (m[i * k + j] + m[j * k + i]);
                m[i * k + j] = avg;
                m[j * k + i] = avg;
            }
        }
        let (mu, v) = fit::linalg::symmetric_eigen(&m, k)?;
        // Directions the data cannot see at double precision carry rounding, not signal.
        let top = mu.iter().fold(0.0f64, |a, m| a.max(*m));
        let mu: Vec<f64> = mu
            .into_iter()
            .map(|m| if m > MU_FLOOR * top { m } else { 0.0 })
            .collect();
        let trace = |a: &[f64]| (0..k).map(|j| a[j * k + j]).sum::<f64>();
        let scale = trace(&p.b) / trace(&p.r).max(f64::MIN_POSITIVE);
        let w = solve_columns(&v, k, |col| backward(&c, k, &first, col));
        Some(Gcv {
            criterion,
            mu,
            c,
            first,
            v,
            w,
            k,
            n: p.n,
            extra_dof: if p.offset { 1.0 } else { 0.0 },
            ln_lo: (LAMBDA_LO * scale).ln(),
            ln_hi: (LAMBDA_HI * scale).ln(),
        })
    }

    /// The squared projections of the data on the eigen-directions, z_j^2 / mu_j with
    /// z = V^T C^-1 q (each at most y.y; 0 where mu_j is 0): all that [`Gcv::eval`] needs of the
    /// data, computed once per right-hand side.
    fn projections(&self, q: &[f64], yy: f64) -> Vec<f64> {
        let mut u = q.to_vec();
        forward(&self.c, self.k, &self.first, &mut u);
        (0..self.k)
            .map(|j| {
                let z: f64 = (0..self.k).map(|i| self.v[i * self.k + j] * u[i]).sum();
                let m = self.mu[j];
                if m == 0.0 { 0.0 } else { (z * z / m).min(yy) }
            })
            .collect()
    }

    /// (GCV, RSS, dof) at lambda.
    fn eval(&self, projections: &[f64], yy: f64, lambda: f64) -> (f64, f64, f64) {
        let (mut fit, mut dof) = (0.0, self.extra_dof);
        for (m, &proj) in self.mu.iter().zip(projections) {
            if *m == 0.0 {
                continue;
            }
            let d = m + lambda;
            fit += proj * m * (m + 2.0 * lambda) / (d * d);
            dof += m / d;
        }
        let rss = (yy - fit).max(0.0);
        let n = self.n as f64;
        if self.criterion == Criterion::Evidence {
            // -2 ln p(y | lambda) with sigma^2 profiled: the prior h ~ N(0, sigma^2/lambda R^-1)
            // makes cov(y) = sigma^2 (I + F F^T / lambda), F = A C^-T.
            let (mut quad, mut logdet) = (yy, 0.0);
            for (m, &proj) in self.mu.iter().zip(projections) {
                if *m == 0.0 {
                    continue;
                }
                quad -= proj * m / (m + lambda);
                logdet += (m / lambda).ln_1p();
            }
            let n_eff = n - self.extra_dof;
            let score = n_eff * (quad.max(f64::MIN_POSITIVE) / n_eff).ln() + logdet;
            return (score, rss, dof);
        }
        (gcv_score(n, rss, dof), rss, dof)
    }

    /// The scan's steps in ln(lambda) (tenth-decade) and its m-th point.
    fn scan_steps(&self) -> usize {
        ((self.ln_hi - self.ln_lo) / (0.1 * std::f64::consts::LN_10)).round() as usize
    }
    fn scan_at(&self, m: usize) -> f64 {
        self.ln_lo + (self.ln_hi - self.ln_lo) * m as f64 / self.scan_steps() as f64
    }

    /// The lambda minimising GCV: a scan at tenth-decade steps, then golden-section refinement
    /// between the best point's neighbours. Returns (lambda, dof, whether it is at a scan end).
    fn choose(&self, projections: &[f64], yy: f64) -> (f64, f64, bool) {
        self.refine(
            |m| self.eval(projections, yy, self.scan_at(m).exp()).0,
            projections,
            yy,
        )
    }

    /// [`Gcv::choose`] with the scan's weights from `table` (a bootstrap replicate's: the scan
    /// costs one product per point instead of a division per eigenvalue; the same choice up to
    /// rounding). The evidence criterion scans directly.
    fn choose_tabled(&self, table: &ScanTable, projections: &[f64], yy: f64) -> (f64, f64, bool) {
        if self.criterion != Criterion::Gcv {
            return self.choose(projections, yy);
        }
        let n = self.n as f64;
        self.refine(
            |m| {
                let fit =
                    fit::linalg::dot(&table.weights[m * self.k..(m + 1) * self.k], projections);
                gcv_score(n, (yy - fit).max(0.0), table.dof[m])
            },
            projections,
            yy,
        )
    }

    /// The scan's GCV weights, mu (mu + 2 lambda) / (mu + lambda)^2 per point and eigenvalue,
    /// and its degrees of freedom: they do not depend on the data.
    fn scan_table(&self) -> ScanTable {
        let steps = self.scan_steps();
        let mut weights = vec![0.0; (steps + 1) * self.k];
        let mut dof = vec![self.extra_dof; steps + 1];
        for m in 0..=steps {
            let lambda = self.scan_at(m).exp();
            for (w, mu) in weights[m * self.k..(m + 1) * self.k]
                .iter_mut()
                .zip(&self.mu)
            {
                if *mu == 0.0 {
                    continue;
                }
                let d = mu + lambda;
                *w = mu * (mu + 2.0 * lambda) / (d * d);
                dof[m] += mu / d;
            }
        }
        ScanTable { weights, dof }
    }

    /// The scan (criterion of the m-th point from `score`), then golden-section refinement on
    /// the exact criterion between the best point's neighbours.
    fn refine(
        &self,
        score: impl Fn(usize) -> f64,
        projections: &[f64],
        yy: f64,
    ) -> (f64, f64, bool) {
        let steps = self.scan_steps();
        let at = |m: usize| self.scan_at(m);
        let best = (0..=steps)
            .map(|m| (m, score(m)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            .map(|(m, _)| m)
            .unwrap_or(0);
        let edge = best == 0 || best == steps;
        let (mut a, mut b) = (at(best.saturating_sub(1)), at((best + 1).min(steps)));
        let g = |x: f64| self.eval(projections, yy, x.exp()).0;
        let phi = (5f64.sqrt() - 1.0) / 2.0;
        let (mut c, mut d) = (b - phi * (b - a), a + phi * (b - a));
        let (mut fc, mut fd) = (g(c), g(d));
        for _ in 0..30 {
            if fc < fd {
                b = d;
                d = c;
                fd = fc;
                c = b - phi * (b - a);
                fc = g(c);
            } else {
                a = c;
                c = d;
                fc = fd;
                d = a + phi * (b - a);
                fd = g(d);
            }
        }
        let x = 0.5 * (a + b);
        let lambda = x.exp();
        (lambda, self.eval(projections, yy, lambda).2, edge)
    }
}

/// The modified GCV's inflation of the degrees of freedom (Kim and Gu 2004; mgcv's `gamma`):
/// plain GCV (1.0) now and then picks a far too small weight, which leaves invisible bumps of
/// mass outside the window that move the moments.
pub const GCV_GAMMA: f64 = 1.4;

/// Eigenvalues below this share of the largest are treated as zero.
const MU_FLOOR: f64 = 1e-13;

/// The scan of lambda, relative to tr(B)/tr(R).
const LAMBDA_LO: f64 = 1e-14;
const LAMBDA_HI: f64 = 1e4;

/// The moments of ln tau under h (grid step dx).
pub fn moments(ln_tau: &[f64], h: &[f64], dx: f64) -> Moments {
    let mass: f64 = h.iter().sum::<f64>() * dx;
    if mass <= 0.0 {
        return Moments {
            mass,
            mean: f64::NAN,
            sd: f64::NAN,
            skewness: f64::NAN,
        };
    }
    let tot: f64 = h.iter().sum();
    let mean = ln_tau.iter().zip(h).map(|(x, w)| x * w).sum::<f64>() / tot;
    let var = ln_tau
        .iter()
        .zip(h)
        .map(|(x, w)| (x - mean).powi(2) * w)
        .sum::<f64>()
        / tot;
    let m3 = ln_tau
        .iter()
        .zip(h)
        .map(|(x, w)| (x - mean).powi(3) * w)
        .sum::<f64>()
        / tot;
    let sd = var.sqrt();
    Moments {
        mass,
        mean,
        sd,
        skewness: if sd > 0.0 {
            m3 / (sd * sd * sd)
        } else {
            f64::NAN
        },
    }
}

/// Peaks of h: local maxima above 5 % of the highest, merged with a neighbour unless the
/// lowest point between them dips below (1 - `dip`) times the lower of the two and, where
/// bootstrap bands are given, the band's upper edge at that valley lies below its lower edge at
/// the lower peak (a dip the noise could fill is not two peaks), and unless the lower one holds
/// a tenth of the mass or more.
pub fn count_peaks(h: &[f64], dip: f64, bands: Option<(&[f64], &[f64])>) -> usize {
    count_peaks_within(h, dip, bands, 0..h.len())
}

/// [`count_peaks`] knowing the window: only maxima inside the resolvable range (grid indices
/// `window`, the measured t' range) count, and two peaks stay two only when the valley between
/// them lies inside it too. A maximum outside the window is where the regularisation put mass
/// the data cannot place, not a relaxation mode.
pub fn count_peaks_within(
    h: &[f64],
    dip: f64,
    bands: Option<(&[f64], &[f64])>,
    window: std::ops::Range<usize>,
) -> usize {
    let top = h.iter().fold(0.0f64, |m, v| m.max(*v));
    if top <= 0.0 {
        return 0;
    }
    // Maxima, plateaus counted once (their first point).
    let mut maxima: Vec<usize> = Vec::new();
    let n = h.len();
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && h[j + 1] == h[i] {
            j += 1;
        }
        let left = i == 0 || h[i - 1] < h[i];
        let right = j + 1 == n || h[j + 1] < h[i];
        if left && right && h[i] >= 0.05 * top && window.contains(&i) {
            maxima.push(i);
        }
        i = j + 1;
    }
    // Merge neighbours without a deep enough valley, keeping the higher; and a peak holding
    // less than a tenth of the mass between its valleys (the ringing a regularised inversion
    // leaves beside a narrow distribution) is not a mode.
    let total: f64 = h.iter().sum();
    let mut merged = true;
    while merged && maxima.len() > 1 {
        merged = false;
        for m in 0..maxima.len() - 1 {
            let (a, b) = (maxima[m], maxima[m + 1]);
            let v = (a..=b).min_by(|&x, &y| h[x].total_cmp(&h[y])).unwrap_or(a);
            let lower = if h[a] < h[b] { a } else { b };
            let shallow = h[v] > (1.0 - dip) * h[lower];
            let within_noise = bands.is_some_and(|(lo, hi)| hi[v] >= lo[lower]);
            // The lower peak's mass: from the valley on its other side (or the grid's end) to v.
            let (from, to) = if lower == a {
                let left = if m == 0 {
                    0
                } else {
                    (maxima[m - 1]..=a)
                        .min_by(|&x, &y| h[x].total_cmp(&h[y]))
                        .unwrap_or(0)
                };
                (left, v)
            } else {
                let right = if m + 2 >= maxima.len() {
                    n - 1
                } else {
                    (b..=maxima[m + 2])
                        .min_by(|&x, &y| h[x].total_cmp(&h[y]))
                        .unwrap_or(n - 1)
                };
                (v, right)
            };
            let minor = total > 0.0 && h[from..=to].iter().sum::<f64>() < 0.1 * total;
            if shallow || within_noise || minor || !window.contains(&v) {
                let drop = if h[a] < h[b] { m } else { m + 1 };
                maxima.remove(drop);
                merged = true;
                break;
            }
        }
    }
    maxima.len()
}

/// Inverts one curve.
pub fn invert(c: &CurveInput, o: &SpectrumOptions) -> Result<Spectrum, InvertError> {
    let n_all = c.time_s.len();
    if c.phi.len() != n_all {
        return Err(InvertError::NotFinite);
    }
    if c.time_s.iter().chain(c.phi).any(|v| !v.is_finite()) || !c.t0_s.is_finite() {
        return Err(InvertError::NotFinite);
    }
    if c.time_s.windows(2).any(|w| w[1] <= w[0]) {
        return Err(InvertError::TimeNotIncreasing);
    }
    let mut flags = Vec::new();
    // Points after the located step only.
    let keep: Vec<usize> = (0..n_all).filter(|&i| c.time_s[i] - c.t0_s > 0.0).collect();
    if keep.len() < n_all {
        flags.push("points_before_step_dropped");
    }
    if keep.len() < MIN_POINTS {
        return Err(InvertError::TooFewPoints);
    }
    let t: Vec<f64> = keep.iter().map(|&i| c.time_s[i] - c.t0_s).collect();
    let y: Vec<f64> = keep.iter().map(|&i| c.phi[i]).collect();
    let w: Vec<f64> = keep
        .iter()
        .map(|&i| {
            c.n_samples
                .get(i)
                .map(|m| (*m).max(1) as f64)
                .unwrap_or(1.0)
        })
        .collect();
    let (t_min, t_max) = (t[0], t[t.len() - 1]);
    let y_span = y.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v))
        - y.iter().fold(f64::INFINITY, |m, v| m.min(*v));
    if y_span <= 0.0 {
        return Err(InvertError::NoRelaxation);
    }
    let k = o.n_grid.max(10);
    let ln10 = std::f64::consts::LN_10;
    let (lo, hi) = (
        t_min.ln() - o.extend_low_decades.max(0.0) * ln10,
        t_max.ln() + o.extend_high_decades.max(0.0) * ln10,
    );
    let dx = (hi - lo) / (k - 1) as f64;
    let ln_tau: Vec<f64> = (0..k).map(|j| lo + dx * j as f64).collect();
    let p = Problem::new(&t, &w, &ln_tau, dx, c.offset);
    let ytil = p.rhs(&y);
    let q = p.q(&ytil);
    let gcv = Gcv::new(&p, o.criterion).ok_or(InvertError::NotInvertible)?;
    let yy: f64 = ytil.iter().map(|v| v * v).sum();
    let proj = gcv.projections(&q, yy);
    let (lambda, dof, at_edge, criterion) = match o.lambda {
        Some(l) => {
            let (_, _, dof) = gcv.eval(&proj, yy, l);
            (l, dof, false, "fixed")
        }
        None => {
            let (l, dof, edge) = gcv.choose(&proj, yy);
            (l, dof, edge, o.criterion.name())
        }
    };
    let g = p.gram(lambda);
    let sol = nnls_gram(&g, k, &q, None).map_err(|_| InvertError::NotInvertible)?;
    let h = sol.x;
    let m = moments(&ln_tau, &h, dx);
    if m.mass.is_nan() || m.mass <= 0.0 {
        return Err(InvertError::NotInvertible);
    }
    let rss = p.rss(&h, &ytil);
    // Fitted values on the original scale: the kernel times h, plus the offset's weighted mean.
    let fitted_no_c: Vec<f64> = (0..p.n)
        .map(|i| {
            p.kernel[i * k..(i + 1) * k]
                .iter()
                .zip(&h)
                .map(|(a, h)| a * h)
                .sum()
        })
        .collect();
    let offset = c.offset.then(|| {
        let norm: f64 = p.sw.iter().map(|s| s * s).sum();
        (0..p.n)
            .map(|i| p.sw[i] * p.sw[i] * (y[i] - fitted_no_c[i]))
            .sum::<f64>()
            / norm
    });
    let fitted: Vec<f64> = fitted_no_c
        .iter()
        .map(|f| f + offset.unwrap_or(0.0))
        .collect();
    let (mut h_low, mut h_high, mut mean_se, mut sd_se) = (None, None, None, None);
    if o.bands == Bands::Posterior {
        let sigma2 = rss / (p.n as f64 - dof).max(1.0);
        match posterior_bands(k, &g, &h, sigma2, &ln_tau, &m) {
            Some(b) => {
                h_low = Some(b.low);
                h_high = Some(b.high);
                mean_se = b.mean_se;
                sd_se = b.sd_se;
            }
            None => flags.push("bands_failed"),
        }
    } else if o.bands == Bands::Bootstrap && o.bootstrap > 0 {
        // Each replicate chooses its own lambda (so the bands carry the choice's uncertainty
        // too) and is solved warm from the fit's passive set.
        let resid: Vec<f64> = (0..p.n).map(|i| p.sw[i] * (y[i] - fitted[i])).collect();
        let centre = resid.iter().sum::<f64>() / p.n as f64;
        let resid: Vec<f64> = resid.iter().map(|r| r - centre).collect();
        let mut rng = rng::Rng::new(o.seed, c.stream);
        // The resampled indices of every replicate drawn first, in the stream's order; the
        // replicates then solve on all cores and are gathered in order: the same numbers as one
        // after the other, whatever the thread count.
        let draws: Vec<Vec<usize>> = (0..o.bootstrap)
            .map(|_| {
                (0..p.n)
                    .map(|_| ((rng.uniform() * p.n as f64) as usize).min(p.n - 1))
                    .collect()
            })
            .collect();
        // The replicates' lambda scans share their data-free weights.
        let table = gcv.scan_table();
        // Per replicate: its spectrum, and its (mean, sd) of ln tau where it has mass.
        type Replicate = (Vec<f64>, Option<(f64, f64)>);
        let solved: Vec<Option<Replicate>> = draws
            .par_iter()
            .map(|idx| {
                let ystar: Vec<f64> = (0..p.n)
                    .map(|i| fitted[i] + resid[idx[i]] / p.sw[i])
                    .collect();
                let yt = p.rhs(&ystar);
                let qs = p.q(&yt);
                let lam = match o.lambda {
                    Some(l) => l,
                    None => {
                        let yys: f64 = yt.iter().map(|v| v * v).sum();
                        gcv.choose_tabled(&table, &gcv.projections(&qs, yys), yys).0
                    }
                };
                let gs = p.gram(lam);
                gcv.nnls_few_zeros(lam, &gs, &qs, &sol.passive)
                    .or_else(|start| nnls_gram(&gs, k, &qs, Some(&start)).map(|s| s.x))
                    .ok()
                    .map(|x| {
                        let mm = moments(&ln_tau, &x, dx);
                        (x, (mm.mass > 0.0).then_some((mm.mean, mm.sd)))
                    })
            })
            .collect();
        let mut reps: Vec<Vec<f64>> = Vec::with_capacity(o.bootstrap);
        let (mut means, mut sds) = (Vec::new(), Vec::new());
        for (x, m) in solved.into_iter().flatten() {
            if let Some((mean, sd)) = m {
                means.push(mean);
                sds.push(sd);
            }
            reps.push(x);
        }
        if reps.len() >= 20 {
            let mut low = vec![0.0; k];
            let mut high = vec![0.0; k];
            let mut col = vec![0.0; reps.len()];
            for j in 0..k {
                for (r, v) in reps.iter().zip(col.iter_mut()) {
                    *v = r[j];
                }
                low[j] = fit::stats::quantile(&col, 0.025);
                high[j] = fit::stats::quantile(&col, 0.975);
            }
            h_low = Some(low);
            h_high = Some(high);
            mean_se = sd_of(&means);
            sd_se = sd_of(&sds);
        } else {
            flags.push("bootstrap_failed");
        }
    }
    let outside: f64 = ln_tau
        .iter()
        .zip(&h)
        .filter(|(x, _)| **x < t_min.ln() || **x > t_max.ln())
        .map(|(_, h)| h * dx)
        .sum::<f64>()
        / m.mass;
    if outside > o.beyond_window {
        flags.push("beyond_window");
    }
    // Mass piled at an end of the grid: the window cannot place it.
    let top = h.iter().fold(0.0f64, |a, v| a.max(*v));
    if h[0] > 0.5 * top || h[k - 1] > 0.5 * top {
        flags.push("mass_at_grid_edge");
    }
    if at_edge {
        flags.push("lambda_at_scan_limit");
    }
    flags.sort_unstable();
    // Peaks within the measured window only; none counted when the window cuts the
    // distribution (its share outside above `beyond_window`): a second mode cannot be told from
    // the cut.
    let window = ln_tau.iter().position(|x| *x >= t_min.ln()).unwrap_or(k)
        ..ln_tau
            .iter()
            .rposition(|x| *x <= t_max.ln())
            .map_or(0, |i| i + 1);
    let n_peaks = if outside > o.beyond_window {
        flags.push("peaks_not_resolved");
        flags.sort_unstable();
        None
    } else {
        Some(count_peaks_within(
            &h,
            o.peak_dip,
            h_low.as_deref().zip(h_high.as_deref()),
            window,
        ))
    };
    Ok(Spectrum {
        n_peaks,
        ln_tau,
        h,
        h_low,
        h_high,
        offset,
        lambda,
        criterion,
        dof,
        rms: rss.sqrt(),
        moments: m,
        mean_se,
        sd_se,
        beyond_window_fraction: outside,
        n_points: p.n,
        time_min_s: t_min,
        time_max_s: t_max,
        flags,
    })
}

/// What [`posterior_bands`] gives.
struct PosteriorBands {
    low: Vec<f64>,
    high: Vec<f64>,
    mean_se: Option<f64>,
    sd_se: Option<f64>,
}

/// The bands and the moments' SEs from the posterior covariance of the regularised solution on
/// its passive set P (the grid points where h > 0): under the Gaussian smoothness prior that
/// lambda R expresses, h_P given the data has covariance sigma^2 (B_P + lambda R_P)^-1 =
/// sigma^2 G_P^-1; h on the other points is held at 0, its band [0, 1.96 SD] with the SD it
/// would have in the posterior were it free as well. The frequentist
/// sandwich sigma^2 G_P^-1 B_P G_P^-1 was measured and rejected: it leaves out the choice of
/// lambda and the constraint's nonlinearity, and the moments' intervals held 89-91 % (docs).
/// None where G_P is not positive definite.
fn posterior_bands(
    k: usize,
    g: &[f64],
    h: &[f64],
    sigma2: f64,
    ln_tau: &[f64],
    m: &Moments,
) -> Option<PosteriorBands> {
    let idx: Vec<usize> = (0..k).filter(|&j| h[j] > 0.0).collect();
    let np = idx.len();
    if np == 0 || !sigma2.is_finite() {
        return None;
    }
    let l = cholesky_sub(g, k, &idx)?;
    // W = L^-1 (lower), by rows: w_i = (e_i - sum_{r<i} L_ir w_r) / L_ii. Then G_P^-1 = W^T W:
    // its diagonal is W's column sums of squares and d^T G_P^-1 d = |W d|^2.
    let mut w = vec![0.0; np * np];
    for i in 0..np {
        let (done, rest) = w.split_at_mut(i * np);
        let wi = &mut rest[..=i];
        wi[i] = 1.0;
        for r in 0..i {
            let f = l[i * np + r];
            for (v, x) in wi[..=r].iter_mut().zip(&done[r * np..=r * np + r]) {
                *v -= f * x;
            }
        }
        let d = l[i * np + i];
        for v in wi.iter_mut() {
            *v /= d;
        }
    }
    let wnorm2 = |d: &[f64]| -> f64 {
        (0..np)
            .map(|i| fit::linalg::dot(&w[i * np..i * np + i + 1], &d[..=i]).powi(2))
            .sum()
    };
    let mut diag = vec![0.0; np];
    for i in 0..np {
        for (v, x) in diag[..=i].iter_mut().zip(&w[i * np..i * np + i + 1]) {
            *v += x * x;
        }
    }
    let mut low = vec![0.0; k];
    let mut high = vec![0.0; k];
    for (j, &gj) in idx.iter().enumerate() {
        let half = 1.959_964 * (sigma2 * diag[j]).max(0.0).sqrt();
        low[gj] = (h[gj] - half).max(0.0);
        high[gj] = h[gj] + half;
    }
    // A point held at 0: its band is [0, 1.96 SD] with the SD it would have were it free too,
    // the posterior on P and j: 1 / (G_jj - G_jP G_P^-1 G_Pj) (the Schur complement).
    let mut gpj = vec![0.0; np];
    for j in (0..k).filter(|&j| h[j] <= 0.0) {
        for (v, &a) in gpj.iter_mut().zip(&idx) {
            *v = g[a * k + j];
        }
        let schur = g[j * k + j] - wnorm2(&gpj);
        if schur > 0.0 {
            high[j] = 1.959_964 * (sigma2 / schur).sqrt();
        }
    }
    // Delta method: the SE of a moment with gradient d (on P) is sigma |W d|.
    let total: f64 = idx.iter().map(|&j| h[j]).sum();
    let se = |d: Vec<f64>| -> Option<f64> {
        let v = sigma2 * wnorm2(&d);
        (v.is_finite() && v >= 0.0).then(|| v.sqrt())
    };
    let (mean_se, sd_se) = if total > 0.0 && m.mean.is_finite() {
        let mean_se = se(idx.iter().map(|&j| (ln_tau[j] - m.mean) / total).collect());
        let var = m.sd * m.sd;
        let sd_se = (m.sd > 0.0)
            .then(|| {
                se(idx
                    .iter()
                    .map(|&j| ((ln_tau[j] - m.mean).powi(2) - var) / (total * 2.0 * m.sd))
                    .collect())
            })
            .flatten();
        (mean_se, sd_se)
    } else {
        (None, None)
    };
    Some(PosteriorBands {
        low,
        high,
        mean_se,
        sd_se,
    })
}

fn sd_of(v: &[f64]) -> Option<f64> {
    (v.len() >= 2).then(|| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The few-zeros solver against the Cholesky active-set solver on regularised problems of
    /// real shape (KWW and two-mode curves with noise), at lambdas over 8 decades and from
    /// several starting zero sets: where it answers, the same optimum (the KKT conditions hold
    /// and the two agree to 1e-7 of the spectrum's peak); and it answers in most cases.
    #[test]
    fn the_few_zeros_solver_finds_the_cholesky_solvers_optimum() {
        let (mut answered, mut asked) = (0, 0);
        for seed in 0..12u64 {
            let mut r = rng::Rng::new(seed, 5);
            let t: Vec<f64> = (0..200)
                .map(|i| (3.5 * i as f64 / 199.0 * 10f64.ln()).exp())
                .collect();
            let beta = 0.35 + 0.05 * seed as f64;
            let y: Vec<f64> = t
                .iter()
                .map(|&x| {
                    let kww = physics::kww::phi(x, 60.0, beta);
                    let second = if seed % 3 == 0 {
                        0.3 * (-x / 900.0).exp()
                    } else {
                        0.0
                    };
                    kww + second + 1e-3 * r.normal()
                })
                .collect();
            let w = vec![1.0; t.len()];
            let k = 100;
            let (lo, hi) = (t[0].ln() - 0.5 * 10f64.ln(), t[199].ln() + 0.5 * 10f64.ln());
            let dx = (hi - lo) / (k - 1) as f64;
            let ln_tau: Vec<f64> = (0..k).map(|j| lo + dx * j as f64).collect();
            let p = Problem::new(&t, &w, &ln_tau, dx, seed % 2 == 1);
            let q = p.q(&p.rhs(&y));
            let gcv = Gcv::new(&p, Criterion::Gcv).unwrap();
            let yy: f64 = p.rhs(&y).iter().map(|v| v * v).sum();
            let (chosen, _, _) = gcv.choose(&gcv.projections(&q, yy), yy);
            for lambda in [
                chosen * 1e-4,
                chosen * 0.1,
                chosen,
                chosen * 10.0,
                chosen * 1e4,
            ] {
                let g = p.gram(lambda);
                let exact = nnls_gram(&g, k, &q, None).unwrap();
                let peak = exact.x.iter().fold(0.0f64, |m, v| m.max(*v));
                let mut starts = vec![exact.passive.clone(), vec![true; k]];
                starts.push((0..k).map(|j| j % 7 != 0).collect());
                for (si, start) in starts.into_iter().enumerate() {
                    // What a bootstrap replicate asks: a start near the optimum's zero set
                    // (or none held), with few zeros.
                    let typical =
                        si < 2 && exact.passive.iter().filter(|p| !**p).count() <= MAX_ZEROS;
                    asked += usize::from(typical);
                    let Some(x) = gcv.nnls_few_zeros(lambda, &g, &q, &start).ok() else {
                        continue;
                    };
                    answered += usize::from(typical);
                    let scale = q.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    for i in 0..k {
                        let grad = fit::linalg::dot(&g[i * k..(i + 1) * k], &x) - q[i];
                        assert!(x[i] >= 0.0);
                        if x[i] > 0.0 {
                            assert!(grad.abs() <= 1e-10 * scale, "seed {seed}: grad {grad}");
                        } else {
                            assert!(grad >= -1e-9 * scale, "seed {seed}: grad {grad} < 0 at 0");
                        }
                        assert!(
                            (x[i] - exact.x[i]).abs() <= 1e-7 * peak,
                            "seed {seed}, lambda {lambda:e}, point {i}: {} vs {}",
                            x[i],
                            exact.x[i]
                        );
                    }
                }
            }
        }
        assert!(answered * 10 >= asked * 9, "answered {answered} of {asked}");
    }
}
