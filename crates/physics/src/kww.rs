//! The Kohlrausch-Williams-Watts stretched exponential and what follows from it.

/// phi(t) = exp(-(t/tau)^beta), for t >= 0.
pub fn phi(t_s: f64, tau_s: f64, beta: f64) -> f64 {
    if t_s <= 0.0 {
        return 1.0;
    }
    (-(t_s / tau_s).powf(beta)).exp()
}

/// The two-stage aging law: tau = tau_b (t_a / t_b)^mu1 up to the breakpoint t_b, mu2 after it.
pub fn two_stage_tau_s(
    aging_time_s: f64,
    breakpoint_s: f64,
    tau_at_breakpoint_s: f64,
    mu1: f64,
    mu2: f64,
) -> f64 {
    let mu = if aging_time_s <= breakpoint_s {
        mu1
    } else {
        mu2
    };
    tau_at_breakpoint_s * (aging_time_s / breakpoint_s).powf(mu)
}

/// The KWW model family fitted to relaxation curves:
/// phi(t) = A exp(-((t - t0)/tau)^beta) + c, with tau carried as ln tau.
/// For t <= t0 the curve is flat at A + c (the step has not happened yet).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KwwParams {
    pub amplitude: f64,
    pub ln_tau: f64,
    pub beta: f64,
    pub offset: f64,
    pub t0_s: f64,
}

impl KwwParams {
    /// The model value at `t_s`.
    pub fn phi(&self, t_s: f64) -> f64 {
        let dt = t_s - self.t0_s;
        if dt <= 0.0 {
            return self.amplitude + self.offset;
        }
        let z = (self.beta * (dt.ln() - self.ln_tau)).exp();
        self.amplitude * (-z).exp() + self.offset
    }

    /// The model value and its derivatives with respect to (A, ln tau, beta, c, t0), finite for
    /// every t (the t0 derivative is one-sided, 0, at and before t0).
    pub fn phi_and_gradient(&self, t_s: f64) -> (f64, [f64; 5]) {
        let dt = t_s - self.t0_s;
        if dt <= 0.0 {
            return (self.amplitude + self.offset, [1.0, 0.0, 0.0, 1.0, 0.0]);
        }
        let ln_s = dt.ln() - self.ln_tau;
        let z = (self.beta * ln_s).exp();
        let e = (-z).exp();
        (
            self.amplitude * e + self.offset,
            self.gradient_of(dt, ln_s, z, e),
        )
    }

    /// The derivatives of `phi` at a time after t0 from its terms: dt = t - t0,
    /// ln s = ln(dt / tau), z = s^beta, e = exp(-z).
    fn gradient_of(&self, dt: f64, ln_s: f64, z: f64, e: f64) -> [f64; 5] {
        let a = self.amplitude;
        // d z/d ln tau = -beta z; d z/d beta = z ln s; d z/d t0 = -beta z / (t - t0).
        let d_ln_tau = a * e * self.beta * z;
        let d_beta = -a * e * z * ln_s;
        let d_t0 = a * e * self.beta * z / dt;
        [e, d_ln_tau, d_beta, 1.0, d_t0]
    }
}

/// The per-point terms of [`KwwParams::phi`] at one parameter set, kept so that the gradient at
/// the same parameters (a least-squares solver asks for it where it last evaluated) does not
/// recompute them: ln((t - t0)/tau), z = ((t - t0)/tau)^beta and exp(-z) per time (0, 0 and 1
/// where t <= t0). The exps are the vectorised ones (`fit::vexp`): values and gradients are
/// within a few ulp of `phi` and `phi_and_gradient`'s (which use the C library's exp), and the
/// same bits whether the terms were kept or are computed afresh.
#[derive(Debug, Default, Clone)]
pub struct ShiftedTerms {
    params: Option<KwwParams>,
    ln_s: Vec<f64>,
    z: Vec<f64>,
    e: Vec<f64>,
}

impl ShiftedTerms {
    /// The model values at `t_s` into `out`; the terms are kept for `q`.
    pub fn eval(&mut self, q: &KwwParams, t_s: &[f64], out: &mut [f64]) {
        self.compute(q, t_s);
        // At and before t0, z = 0 and exp(-z) = 1: A + c, the flat value.
        for (o, e) in out.iter_mut().zip(&self.e) {
            *o = q.amplitude * e + q.offset;
        }
    }

    /// The terms at `q`, the two exps by the vectorised exp (`fit::vexp`; within 1 ulp of the C
    /// library's); at and before t0, ln s = 0, z = 0 and exp(-z) = 1.
    fn compute(&mut self, q: &KwwParams, t_s: &[f64]) {
        self.ln_s.clear();
        self.z.clear();
        for &t in t_s {
            let dt = t - q.t0_s;
            let (ln_s, arg) = if dt > 0.0 {
                let ln_s = dt.ln() - q.ln_tau;
                (ln_s, q.beta * ln_s)
            } else {
                (0.0, f64::NEG_INFINITY)
            };
            self.ln_s.push(ln_s);
            self.z.push(arg);
        }
        fit::vexp::exp_in_place(&mut self.z);
        self.e.clear();
        self.e.extend(self.z.iter().map(|z| -z));
        fit::vexp::exp_in_place(&mut self.e);
        self.params = Some(*q);
    }

    /// The gradient rows [dA, d ln tau, d beta, dc, dt0] at `t_s` for `q`, each passed to `row`
    /// with its index: from the kept terms when they are `q`'s, else computed (and kept) afresh.
    pub fn gradient(&mut self, q: &KwwParams, t_s: &[f64], mut row: impl FnMut(usize, [f64; 5])) {
        let kept = self.params.as_ref() == Some(q) && self.ln_s.len() == t_s.len();
        if !kept {
            self.compute(q, t_s);
        }
        for (i, &t) in t_s.iter().enumerate() {
            let dt = t - q.t0_s;
            if dt <= 0.0 {
                row(i, [1.0, 0.0, 0.0, 1.0, 0.0]);
                continue;
            }
            row(i, q.gradient_of(dt, self.ln_s[i], self.z[i], self.e[i]));
        }
    }
}

/// The mean relaxation time <tau> = (tau / beta) Gamma(1/beta).
pub fn mean_tau_s(tau_s: f64, beta: f64) -> f64 {
    tau_s / beta * fit::stats::gamma(1.0 / beta)
}

/// Euler's constant gamma.
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// The mean of ln tau over the KWW function's relaxation-time distribution (tau in s):
/// ln tau_K + gamma (1 - 1/beta).
pub fn distribution_mean_ln_tau(ln_tau_kww: f64, beta: f64) -> f64 {
    ln_tau_kww + EULER_GAMMA * (1.0 - 1.0 / beta)
}

/// The standard deviation of ln tau over the KWW distribution: sqrt((pi^2/6)(1/beta^2 - 1)).
pub fn distribution_sd_ln_tau(beta: f64) -> f64 {
    (std::f64::consts::PI.powi(2) / 6.0 * (1.0 / (beta * beta) - 1.0))
        .max(0.0)
        .sqrt()
}

/// The relaxation-time distribution of the KWW function per unit ln tau, D(ln tau), with
/// exp(-(t/tau_K)^beta) = int D(ln tau) exp(-t/tau) d ln tau, for 0 < beta < 1 (NaN outside:
/// at beta = 1 it is a delta).
///
/// From Kanter's representation of the one-sided stable law (1/tau = Y / tau_K with
/// E exp(-s Y) = exp(-s^beta)): with z = (tau/tau_K)^(beta/(1-beta)) and
/// a(u) = (sin(beta u)/sin u)^(1/(1-beta)) sin((1-beta) u)/sin(beta u),
/// D(ln tau) = beta/((1-beta) pi) int_0^pi a(u) z exp(-a(u) z) du,
/// an integral of a bounded, smooth function (composite adaptive Simpson here). For beta = 1/2
/// it reduces to sqrt(z) exp(-z/4) / (2 sqrt(pi)) (docs/physics.md).
pub fn distribution_ln_tau(ln_tau: f64, ln_tau_kww: f64, beta: f64) -> f64 {
    density(ln_tau, ln_tau_kww, beta, &|u| kanter(u, beta))
}

/// [`distribution_ln_tau`] at every point of `ln_tau` for one KWW function, by a double
/// exponential (tanh-sinh) rule whose abscissae are the same for every tau: Kanter's a(u) is
/// computed once per abscissa, and each point costs one exp per abscissa. The rule is refined
/// (halving its step, reusing every abscissa) until two successive estimates agree to 1e-10 of
/// the value (or 1e-16 absolute). Where tau << tau_K, and where the rule has not converged by
/// its finest level, Pollard's series of the stable law (see `TanhSinh::density`); past both,
/// the adaptive Simpson rule of [`distribution_ln_tau`]. ~100x faster than that rule; the two
/// agree to 1e-8 of the peak for beta 0.1-0.97, and the grid's mass, mean and SD of ln tau
/// match the closed forms up to beta 0.995 (tests).
pub fn distribution_ln_tau_grid(ln_tau: &[f64], ln_tau_kww: f64, beta: f64) -> Vec<f64> {
    if !(beta > 0.0 && beta < 1.0 && ln_tau_kww.is_finite()) {
        return vec![f64::NAN; ln_tau.len()];
    }
    let mut rule = TanhSinh::new(beta);
    ln_tau
        .iter()
        .map(|x| {
            rule.density(*x, ln_tau_kww)
                .unwrap_or_else(|| density(*x, ln_tau_kww, beta, &|u| kanter(u, beta)))
        })
        .collect()
}

/// The tanh-sinh rule on [0, pi] for Kanter's integral: u(s) = pi / (1 + exp(-2 w)),
/// w = (pi/2) sinh s, s in [-S_MAX, S_MAX]; level 0 has step H0, each level halves it, and its
/// new abscissae are stored as (weight u'(s), a(u)).
struct TanhSinh {
    beta: f64,
    levels: Vec<Vec<(f64, f64)>>,
    /// The short-time series' coefficients (see [`TanhSinh::density`]).
    series: Vec<f64>,
}

/// Where the short-time series replaces the rule: r = (tau/tau_K)^beta at most this.
const SERIES_R: f64 = 0.8;
/// Its terms there: the 200th is below 0.8^200 (4e-20) of Gamma's ratio, itself at most 1.
const SERIES_TERMS: usize = 200;
/// Past the rule's finest level, the series summed term by term while r is below this (its
/// terms fall as r^k at worst: 10^4 terms at 0.996); beyond, the adaptive rule.
const LONG_SERIES_R: f64 = 0.996;

/// The rule's half-width in s: at s = 4, pi - u is ~1e-37 (far past where a(u) z matters).
const S_MAX: f64 = 4.0;
const H0: f64 = 0.5;
/// The finest level: step H0 / 2^9 (8 193 abscissae, computed only where a point needs them).
const MAX_LEVEL: usize = 9;

impl TanhSinh {
    fn new(beta: f64) -> TanhSinh {
        // (-1)^(k+1) Gamma(beta k + 1) sin(pi beta k) / (pi k!), k = 1, 2, ...
        let series = (1..=SERIES_TERMS).map(|k| series_term(beta, k)).collect();
        TanhSinh {
            beta,
            levels: Vec::new(),
            series,
        }
    }

    /// The abscissa at s: (weight u'(s), a(u)). pi - u is computed directly where u is near pi,
    /// so sin u keeps its digits there.
    fn node(&self, s: f64) -> (f64, f64) {
        use std::f64::consts::PI;
        let w = 0.5 * PI * s.sinh();
        let weight = PI * PI * s.cosh() / (4.0 * w.cosh().powi(2));
        let (u, v) = if w >= 0.0 {
            let e = (-2.0 * w).exp();
            let v = PI * e / (1.0 + e);
            (PI - v, v)
        } else {
            let e = (2.0 * w).exp();
            let u = PI * e / (1.0 + e);
            (u, PI - u)
        };
        (weight, kanter_with_sin(u, v.sin(), self.beta))
    }

    /// The abscissae new at `level`, computed on first use.
    fn level(&mut self, level: usize) -> &[(f64, f64)] {
        while self.levels.len() <= level {
            let l = self.levels.len();
            let h = H0 / f64::from(1u32 << l);
            let n = (S_MAX / h).round() as i64;
            // Level 0: every multiple of H0; then the odd multiples of the new step.
            let nodes: Vec<(f64, f64)> = (-n..=n)
                .filter(|j| l == 0 || j.rem_euclid(2) == 1)
                .map(|j| self.node(j as f64 * h))
                .collect();
            self.levels.push(nodes);
        }
        &self.levels[level]
    }

    /// The density at ln tau, or None where the rule has not converged by its finest level.
    /// Where tau << tau_K the integrand's peak crowds into pi - u ~ (tau/tau_K)^beta with a width
    /// of order (1 - beta) in ln(pi - u), too narrow for the rule's abscissae as beta nears 1;
    /// there, at r = (tau/tau_K)^beta <= 0.8, the density is Pollard's series of the one-sided
    /// stable law, sum over k of (-1)^(k+1) Gamma(beta k + 1) sin(pi beta k) r^k / (pi k!),
    /// whose terms fall at least as 0.8^k; and the same series, summed further, where the rule
    /// has not converged by its finest level (r below 0.996).
    fn density(&mut self, ln_tau: f64, ln_tau_kww: f64) -> Option<f64> {
        use std::f64::consts::PI;
        if !ln_tau.is_finite() {
            return Some(f64::NAN);
        }
        let ln_r = self.beta * (ln_tau - ln_tau_kww);
        let r = ln_r.exp();
        if r <= SERIES_R {
            let mut rk = 1.0;
            let mut sum = 0.0;
            for c in &self.series {
                rk *= r;
                sum += c * rk;
            }
            return Some(sum);
        }
        let e = self.beta / (1.0 - self.beta);
        let ln_z = e * (ln_tau - ln_tau_kww);
        if ln_z > 700.0 {
            return Some(0.0);
        }
        let z = ln_z.exp();
        let term = |&(wt, a): &(f64, f64)| {
            let az = a * z;
            if az.is_finite() {
                wt * az * (-az).exp()
            } else {
                0.0
            }
        };
        let mut sum = 0.0;
        let mut prev = f64::NAN;
        for level in 0..=MAX_LEVEL {
            sum += self.level(level).iter().map(term).sum::<f64>();
            let est = e / PI * sum * H0 / f64::from(1u32 << level);
            if level >= 2 && (est - prev).abs() <= (1e-10 * est.abs()).max(1e-16) {
                return Some(est);
            }
            prev = est;
        }
        (r < LONG_SERIES_R).then(|| {
            // Term by term until the bound Gamma(beta k + 1) r^k / k! on what is left is below
            // 1e-17 (the density there is of order 0.1 to 10).
            let (mut sum, mut k) = (0.0, 1usize);
            loop {
                let (ratio, coefficient) = series_parts(self.beta, k);
                let rk = r.powi(k as i32);
                sum += coefficient * rk;
                if ratio * rk < 1e-17 * (1.0 - r) || k > 100_000 {
                    return sum;
                }
                k += 1;
            }
        })
    }
}

/// The k-th coefficient of Pollard's series, (-1)^(k+1) Gamma(beta k + 1) sin(pi beta k) / (pi k!).
fn series_term(beta: f64, k: usize) -> f64 {
    series_parts(beta, k).1
}

/// Gamma(beta k + 1) / k! (which bounds the k-th term's size over r^k) and the k-th coefficient.
fn series_parts(beta: f64, k: usize) -> (f64, f64) {
    use std::f64::consts::PI;
    let kf = k as f64;
    let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
    let ratio = (fit::stats::ln_gamma(beta * kf + 1.0) - fit::stats::ln_gamma(kf + 1.0)).exp();
    (ratio, sign * ratio * (PI * beta * kf).sin() / PI)
}

/// Kanter's a(u) = (sin(beta u)/sin u)^(1/(1-beta)) sin((1-beta) u)/sin(beta u).
fn kanter(u: f64, beta: f64) -> f64 {
    kanter_with_sin(u, u.sin(), beta)
}

/// [`kanter`] with sin u given (the tanh-sinh rule computes it as sin(pi - u) near pi, where
/// sin u would lose its digits).
fn kanter_with_sin(u: f64, sin_u: f64, beta: f64) -> f64 {
    if u < 1e-9 {
        // The limit at u = 0: beta^(beta/(1-beta)) (1 - beta).
        beta.powf(beta / (1.0 - beta)) * (1.0 - beta)
    } else {
        let sb = (beta * u).sin();
        (sb / sin_u).powf(1.0 / (1.0 - beta)) * ((1.0 - beta) * u).sin() / sb
    }
}

/// The density at one ln tau with Kanter's function `a`.
fn density<A: Fn(f64) -> f64>(ln_tau: f64, ln_tau_kww: f64, beta: f64, a: &A) -> f64 {
    use std::f64::consts::PI;
    if !(beta > 0.0 && beta < 1.0 && ln_tau.is_finite() && ln_tau_kww.is_finite()) {
        return f64::NAN;
    }
    let e = beta / (1.0 - beta);
    let ln_z = e * (ln_tau - ln_tau_kww);
    if ln_z > 700.0 {
        return 0.0;
    }
    let z = ln_z.exp();
    let f = |u: f64| {
        if u >= PI {
            return 0.0;
        }
        let az = a(u) * z;
        if az.is_finite() {
            az * (-az).exp()
        } else {
            0.0
        }
    };
    // Panels keep the adaptive rule from missing a narrow peak: even ones on [0, pi/2], then
    // halving towards pi, where the peak sits for tau << tau_K (a(u) grows as
    // (pi - u)^(-1/(1-beta))). The tolerance is absolute (the integrand is at most 1/e), so
    // panels where it underflows end at once.
    let mut edges: Vec<f64> = (0..=24).map(|k| 0.5 * PI * k as f64 / 24.0).collect();
    edges.extend((1..=60).map(|j| PI - 0.5 * PI * 0.5f64.powi(j)));
    edges.push(PI);
    // First the panels' three-point estimates, whose sum sets the tolerance (1e-9 of the value,
    // at least 1e-15 absolute), then each panel refined to its share of it.
    let panels: Vec<([f64; 2], [f64; 3], f64)> = edges
        .windows(2)
        .map(|w| {
            let (lo, hi) = (w[0], w[1]);
            let fs = [f(lo), f(0.5 * (lo + hi)), f(hi)];
            (
                [lo, hi],
                fs,
                (hi - lo) / 6.0 * (fs[0] + 4.0 * fs[1] + fs[2]),
            )
        })
        .collect();
    let rough: f64 = panels.iter().map(|p| p.2).sum();
    let tol = (1e-9 * rough).max(1e-15) / panels.len() as f64;
    let sum: f64 = panels
        .iter()
        .map(|(ab, fs, whole)| simpson_abs(&f, *ab, *fs, *whole, tol, 40))
        .sum();
    e / PI * sum
}

/// Adaptive Simpson on [a, b] to an absolute tolerance, with end and mid values `fs` and the
/// panel's estimate.
fn simpson_abs<F: Fn(f64) -> f64>(
    f: &F,
    ab: [f64; 2],
    fs: [f64; 3],
    whole: f64,
    tol: f64,
    depth: u32,
) -> f64 {
    let [a, b] = ab;
    let m = 0.5 * (a + b);
    let (flm, frm) = (f(0.5 * (a + m)), f(0.5 * (m + b)));
    let left = (m - a) / 6.0 * (fs[0] + 4.0 * flm + fs[1]);
    let right = (b - m) / 6.0 * (fs[1] + 4.0 * frm + fs[2]);
    let delta = left + right - whole;
    if depth == 0 || delta.abs() <= 15.0 * tol {
        return left + right + delta / 15.0;
    }
    simpson_abs(f, [a, m], [fs[0], flm, fs[1]], left, tol / 2.0, depth - 1)
        + simpson_abs(f, [m, b], [fs[1], frm, fs[2]], right, tol / 2.0, depth - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_terms_give_the_values_and_gradients_of_phi() {
        let q = KwwParams {
            amplitude: 0.93,
            ln_tau: 250f64.ln(),
            beta: 0.47,
            offset: 0.04,
            t0_s: 0.7,
        };
        // Times before, at and after t0.
        let t: Vec<f64> = (0..200)
            .map(|i| 0.05 * f64::from(i) * f64::from(i))
            .collect();
        // Within a few ulp of the C library's exp (the vectorised exp is within 1 ulp).
        let close = |a: f64, b: f64| (a - b).abs() <= 8.0 * f64::EPSILON * b.abs().max(1e-300);
        let mut terms = ShiftedTerms::default();
        let mut out = vec![0.0; t.len()];
        terms.eval(&q, &t, &mut out);
        for (o, &ti) in out.iter().zip(&t) {
            assert!(close(*o, q.phi(ti)), "{ti}: {o} against {}", q.phi(ti));
            if ti <= q.t0_s {
                assert_eq!(*o, q.amplitude + q.offset);
            }
        }
        // At the kept parameters and at others (computed afresh): the same bits as terms
        // evaluated there first.
        let other = KwwParams { beta: 0.48, ..q };
        for at in [q, other] {
            let mut rows = Vec::new();
            terms.gradient(&at, &t, |i, g| rows.push((i, g)));
            assert_eq!(rows.len(), t.len());
            let mut fresh = ShiftedTerms::default();
            fresh.eval(&at, &t, &mut out);
            let mut again = Vec::new();
            fresh.gradient(&at, &t, |i, g| again.push((i, g)));
            for ((i, g), (_, h)) in rows.iter().zip(&again) {
                let want = at.phi_and_gradient(t[*i]).1;
                assert!(g.iter().zip(&want).all(|(a, b)| close(*a, *b) || a == b));
                assert!(g.iter().zip(h).all(|(a, b)| a.to_bits() == b.to_bits()));
            }
        }
    }

    fn p(beta: f64) -> KwwParams {
        KwwParams {
            amplitude: 0.97,
            ln_tau: 1000f64.ln(),
            beta,
            offset: 0.0,
            t0_s: 0.0,
        }
    }

    #[test]
    fn the_gradient_matches_central_differences() {
        for &beta in &[0.1, 0.3, 0.5, 0.8, 1.0, 1.5] {
            for &ratio in &[1e-6, 1e-4, 1e-2, 0.3, 1.0, 3.0, 30.0, 1e3] {
                let t = 1000.0 * ratio;
                let base = p(beta);
                let (_, g) = base.phi_and_gradient(t);
                // For A: A exp(-z) scales with A. For ln tau and beta: phi - A = A expm1(-z), whose
                // difference does not cancel against the constant A.
                let vals = |q: KwwParams| {
                    let z = (q.beta * ((t - q.t0_s).ln() - q.ln_tau)).exp();
                    q.amplitude * (-z).exp()
                };
                let small_z = (beta * (t.ln() - base.ln_tau)).exp() < 1.0;
                let part = |q: KwwParams| {
                    let z = (q.beta * ((t - q.t0_s).ln() - q.ln_tau)).exp();
                    if small_z {
                        q.amplitude * (-z).exp_m1()
                    } else {
                        q.amplitude * (-z).exp()
                    }
                };
                type Bump = fn(&mut KwwParams, f64);
                let steps: [(f64, Bump); 3] = [
                    (1e-6, |q, h| q.amplitude += h),
                    (1e-6, |q, h| q.ln_tau += h),
                    (1e-7, |q, h| q.beta += h),
                ];
                for (j, (h, bump)) in steps.iter().enumerate() {
                    let (mut up, mut dn) = (base, base);
                    bump(&mut up, *h);
                    bump(&mut dn, -*h);
                    let num = if j == 0 {
                        (vals(up) - vals(dn)) / (2.0 * h)
                    } else {
                        (part(up) - part(dn)) / (2.0 * h)
                    };
                    let scale = g[j].abs().max(1e-12);
                    assert!(
                        (num - g[j]).abs() / scale < 1e-6 || (num - g[j]).abs() < 1e-300,
                        "beta {beta} t/tau {ratio} param {j}: {num} vs {}",
                        g[j]
                    );
                }
            }
        }
        // Finite at t = 0.
        let (v, g) = p(0.3).phi_and_gradient(0.0);
        assert!(v.is_finite() && g.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn mean_tau_matches_the_integral_of_phi() {
        for &beta in &[0.2, 0.3, 0.45, 0.6, 0.8, 1.0] {
            let tau: f64 = 1000.0;
            // Trapezoid in x = ln t (exponentially convergent for this smooth, fast-decaying integrand).
            let (lo, hi) = (tau.ln() - 60.0, tau.ln() + (200f64.ln()) / beta + 5.0);
            let n = 200_000;
            let h = (hi - lo) / n as f64;
            let mut sum = 0.0;
            for k in 0..=n {
                let x = lo + k as f64 * h;
                let t = x.exp();
                let f = phi(t, tau, beta) * t;
                sum += if k == 0 || k == n { 0.5 * f } else { f };
            }
            let integral = sum * h;
            let m = mean_tau_s(tau, beta);
            assert!(
                ((integral - m) / m).abs() < 1e-8,
                "beta {beta}: {integral} vs {m}"
            );
        }
    }

    #[test]
    fn the_grid_rule_matches_the_adaptive_rule_and_the_closed_form() {
        // Two independent quadratures of Kanter's integral (tanh-sinh on shared abscissae,
        // adaptive Simpson per point) over 28 decades of tau around tau_K.
        let ln_k = 1000f64.ln();
        let xs: Vec<f64> = (0..=280).map(|k| ln_k - 50.0 + 0.2 * k as f64).collect();
        for &beta in &[0.1, 0.2, 0.3, 0.45, 0.5, 0.6, 0.75, 0.8, 0.9, 0.95, 0.97] {
            let grid = distribution_ln_tau_grid(&xs, ln_k, beta);
            let peak = grid.iter().fold(0.0f64, |m, v| m.max(*v));
            for (x, g) in xs.iter().zip(&grid) {
                let a = distribution_ln_tau(*x, ln_k, beta);
                assert!(
                    (g - a).abs() <= 1e-8 * peak,
                    "beta {beta}, ln(tau/tau_K) = {}: grid {g} vs adaptive {a}",
                    x - ln_k
                );
                if beta == 0.5 {
                    let z: f64 = (x - ln_k).exp();
                    let exact = z.sqrt() * (-z / 4.0).exp() / (2.0 * std::f64::consts::PI.sqrt());
                    assert!(
                        (g - exact).abs() <= 1e-9 * exact.max(1e-6),
                        "ln(tau/tau_K) = {}: {g} vs {exact}",
                        x - ln_k
                    );
                }
            }
        }
        assert!(distribution_ln_tau_grid(&xs, ln_k, 1.0)[0].is_nan());
        // Mass, mean and SD of ln tau by the trapezoid rule on a fine grid, against the closed
        // forms, up to beta 0.995 (where the adaptive rule misses the narrow peak).
        for &beta in &[0.15, 0.5, 0.9, 0.99, 0.995] {
            let (lo, step, n) = (ln_k - 120.0, 0.004, 45_000);
            let xs: Vec<f64> = (0..=n).map(|k| lo + step * k as f64).collect();
            let d = distribution_ln_tau_grid(&xs, ln_k, beta);
            let (mut m0, mut m1, mut m2) = (0.0, 0.0, 0.0);
            for (k, (x, v)) in xs.iter().zip(&d).enumerate() {
                let w = v * step * if k == 0 || k == n { 0.5 } else { 1.0 };
                m0 += w;
                m1 += w * x;
                m2 += w * x * x;
            }
            let (mean, sd) = (m1 / m0, (m2 / m0 - (m1 / m0).powi(2)).sqrt());
            let (em, es) = (
                distribution_mean_ln_tau(ln_k, beta),
                distribution_sd_ln_tau(beta),
            );
            assert!((m0 - 1.0).abs() < 1e-6, "beta {beta}: mass {m0}");
            assert!((mean - em).abs() < 1e-4, "beta {beta}: mean {mean} vs {em}");
            assert!(
                (sd - es).abs() < 1e-4 * es.max(1.0),
                "beta {beta}: sd {sd} vs {es}"
            );
        }
    }

    #[test]
    fn the_kww_distribution_matches_the_closed_form_at_one_half_and_its_moments() {
        let ln_k = 1000f64.ln();
        for k in 0..=80 {
            let x = -16.0 + 0.25 * k as f64;
            let z: f64 = x.exp();
            let exact = z.sqrt() * (-z / 4.0).exp() / (2.0 * std::f64::consts::PI.sqrt());
            let d = distribution_ln_tau(ln_k + x, ln_k, 0.5);
            assert!(
                (d - exact).abs() < 1e-7 * exact.max(1e-6),
                "ln(tau/tau_K) = {x}: {d} vs {exact}"
            );
        }
        for &beta in &[0.3, 0.45, 0.6, 0.8] {
            // Normalisation, mean and variance of ln tau by the trapezoid rule in ln tau.
            let (lo, hi, n) = (ln_k - 60.0, ln_k + 12.0, 1440);
            let h = (hi - lo) / n as f64;
            let (mut m0, mut m1, mut m2) = (0.0, 0.0, 0.0);
            for k in 0..=n {
                let x = lo + h * k as f64;
                let w =
                    distribution_ln_tau(x, ln_k, beta) * if k == 0 || k == n { 0.5 } else { 1.0 };
                m0 += w * h;
                m1 += w * h * x;
                m2 += w * h * x * x;
            }
            let mean = m1 / m0;
            let sd = (m2 / m0 - mean * mean).sqrt();
            assert!((m0 - 1.0).abs() < 1e-5, "beta {beta}: mass {m0}");
            let (em, es) = (
                distribution_mean_ln_tau(ln_k, beta),
                distribution_sd_ln_tau(beta),
            );
            assert!((mean - em).abs() < 2e-3, "beta {beta}: mean {mean} vs {em}");
            assert!((sd - es).abs() < 2e-3, "beta {beta}: sd {sd} vs {es}");
        }
        assert!(distribution_ln_tau(0.0, 0.0, 1.0).is_nan());
    }
}
