//! The phenomenological model of docs/physics.md: a relaxation-time distribution D(ln tau)
//! on a grid (normalised so phi(0) = 1) whose modes may age during the test (transient effect,
//! tau(t) = tau0 + A t^mu) and whose width may grow with the aging time (broadening).

use std::f64::consts::PI;

/// The integral I(t') = int_0^t' ds / (tau0 + A (t_a + s)^(1/2)) in closed form, written so that
/// it does not cancel when A sqrt(t) << tau0 (it tends to t'/tau0).
///
/// With a = A/tau0, w0 = sqrt(t_a), w1 = sqrt(t_a + t'), dw = w1 - w0, z = a dw / (1 + a w0) and
/// L(z) = ln(1 + z)/z: I = 2 dw (w0 + (1 - L(z))/a) / (tau0 (1 + a w0)).
pub fn transient_integral_sqrt(t_prime_s: f64, aging_time_s: f64, tau0_s: f64, a: f64) -> f64 {
    if t_prime_s <= 0.0 {
        return 0.0;
    }
    let w0 = aging_time_s.sqrt();
    let w1 = (aging_time_s + t_prime_s).sqrt();
    // dw without cancellation: t' / (w1 + w0).
    let dw = t_prime_s / (w1 + w0);
    let a = a / tau0_s;
    if a == 0.0 {
        return t_prime_s / tau0_s;
    }
    let z = a * dw / (1.0 + a * w0);
    // (1 - L(z)) / a, with 1 - L(z) = z/2 - z^2/3 + z^3/4 - ... for small z.
    let one_minus_l = if z.abs() < 1e-4 {
        z / 2.0 - z * z / 3.0 + z * z * z / 4.0
    } else {
        1.0 - z.ln_1p() / z
    };
    2.0 * dw * (w0 + one_minus_l / a) / (tau0_s * (1.0 + a * w0))
}

/// The same integral for any exponent mu, by adaptive Simpson quadrature (relative tolerance).
pub fn transient_integral(
    t_prime_s: f64,
    aging_time_s: f64,
    tau0_s: f64,
    a: f64,
    mu: f64,
    rel_tol: f64,
) -> f64 {
    let f = |s: f64| 1.0 / (tau0_s + a * (aging_time_s + s).powf(mu));
    adaptive_simpson(&f, 0.0, t_prime_s, rel_tol)
}

/// An interval of adaptive Simpson quadrature with its end and mid values and its estimate.
#[derive(Clone, Copy)]
struct Segment {
    a: f64,
    b: f64,
    fa: f64,
    fm: f64,
    fb: f64,
    whole: f64,
}

fn simpson_step(f: &dyn Fn(f64) -> f64, s: Segment, tol: f64, depth: u32) -> f64 {
    let m = 0.5 * (s.a + s.b);
    let (lm, rm) = (0.5 * (s.a + m), 0.5 * (m + s.b));
    let (flm, frm) = (f(lm), f(rm));
    let left = (m - s.a) / 6.0 * (s.fa + 4.0 * flm + s.fm);
    let right = (s.b - m) / 6.0 * (s.fm + 4.0 * frm + s.fb);
    let delta = left + right - s.whole;
    if depth == 0 || delta.abs() <= 15.0 * tol {
        return left + right + delta / 15.0;
    }
    simpson_step(
        f,
        Segment {
            a: s.a,
            b: m,
            fa: s.fa,
            fm: flm,
            fb: s.fm,
            whole: left,
        },
        tol / 2.0,
        depth - 1,
    ) + simpson_step(
        f,
        Segment {
            a: m,
            b: s.b,
            fa: s.fm,
            fm: frm,
            fb: s.fb,
            whole: right,
        },
        tol / 2.0,
        depth - 1,
    )
}

/// Adaptive Simpson quadrature of f on [a, b] to a relative tolerance.
pub fn adaptive_simpson(f: &dyn Fn(f64) -> f64, a: f64, b: f64, rel_tol: f64) -> f64 {
    if b <= a {
        return 0.0;
    }
    let (fa, fm, fb) = (f(a), f(0.5 * (a + b)), f(b));
    let whole = (b - a) / 6.0 * (fa + 4.0 * fm + fb);
    simpson_step(
        f,
        Segment {
            a,
            b,
            fa,
            fm,
            fb,
            whole,
        },
        rel_tol * whole.abs().max(f64::MIN_POSITIVE),
        50,
    )
}

/// A distribution of relaxation-time scale factors on a grid of ln s: weights summing to 1, and
/// the mass the grid leaves out.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub ln_s: Vec<f64>,
    pub weight: Vec<f64>,
    pub truncated_mass: f64,
}

fn erfc(x: f64) -> f64 {
    // W. J. Cody's rational approximations are overkill here; this continued-fraction-free form
    // (Numerical Recipes erfcc) has relative error below 1.2e-7, enough for a truncation estimate.
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// A log-normal distribution of ln s with standard deviation `sigma` (centred on ln s = 0),
/// sampled every `step` over +- `half_width` sigmas.
pub fn lognormal(sigma: f64, half_width: f64, step: f64) -> Grid {
    if sigma < 1e-9 {
        return Grid {
            ln_s: vec![0.0],
            weight: vec![1.0],
            truncated_mass: 0.0,
        };
    }
    let lim = half_width * sigma;
    let n = ((2.0 * lim / step).ceil() as usize).max(2) + 1;
    let ln_s: Vec<f64> = (0..n)
        .map(|k| -lim + 2.0 * lim * k as f64 / (n - 1) as f64)
        .collect();
    let raw: Vec<f64> = ln_s
        .iter()
        .map(|x| (-(x * x) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = raw.iter().sum();
    Grid {
        weight: raw.iter().map(|r| r / total).collect(),
        ln_s,
        truncated_mass: erfc(half_width / 2f64.sqrt()),
    }
}

/// The distribution of the beta = 1/2 KWW function over ln s, s = tau / tau_K: in u = 1/s,
/// rho(u) = u^(-3/2) exp(-1/(4u)) / (2 sqrt(pi)), so D(ln s) = u rho(u). Sampled on
/// [ln_min, ln_max] every `step`; the truncated mass is the analytic tail beyond the grid.
pub fn kww_half(ln_min: f64, ln_max: f64, step: f64) -> Grid {
    let n = ((ln_max - ln_min) / step).ceil() as usize + 1;
    let ln_s: Vec<f64> = (0..n)
        .map(|k| ln_min + (ln_max - ln_min) * k as f64 / (n - 1) as f64)
        .collect();
    let d = |x: f64| {
        let u = (-x).exp();
        u.powf(-0.5) * (-1.0 / (4.0 * u)).exp() / (2.0 * PI.sqrt())
    };
    // Trapezoid weights in ln s (exponentially accurate for this smooth, decaying density).
    let h = (ln_max - ln_min) / (n - 1) as f64;
    let raw: Vec<f64> = ln_s
        .iter()
        .enumerate()
        .map(|(k, &x)| d(x) * h * if k == 0 || k == n - 1 { 0.5 } else { 1.0 })
        .collect();
    let total: f64 = raw.iter().sum();
    // Mass below ln_min (u > U = e^-ln_min): erf(1/(2 sqrt U)) ~ 1/sqrt(pi U); above ln_max it is
    // erfc-small: P(u < U) = erfc(1 / (2 sqrt U)).
    let (u_hi, u_lo) = ((-ln_min).exp(), (-ln_max).exp());
    let truncated = (1.0 - erfc(1.0 / (2.0 * u_hi.sqrt()))) + erfc(1.0 / (2.0 * u_lo.sqrt()));
    Grid {
        weight: raw.iter().map(|r| r / total).collect(),
        ln_s,
        truncated_mass: truncated,
    }
}

/// exp(-x) for x >= 0 (see [`crate::fast_exp::exp`]).
#[inline(always)]
fn exp_neg(x: f64) -> f64 {
    crate::fast_exp::exp(-x)
}

/// `out[k] = exp_neg(y * inv_s[k])` for every mode.
fn exp_neg_all(y: f64, inv_s: &[f64], out: &mut [f64]) {
    for (o, is) in out.iter_mut().zip(inv_s) {
        *o = exp_neg(y * is);
    }
}

/// phi(t') = sum_k w_k exp(-I(t')/s_k): every mode ages during the test with tau(t) = s (tau0 +
/// A t^mu) (mu = 1/2 in closed form, else quadrature); A = 0 gives static modes of scale tau0.
pub fn phi_transient(
    t_prime_s: &[f64],
    aging_time_s: f64,
    tau0_s: f64,
    a: f64,
    mu: f64,
    grid: &Grid,
) -> Vec<f64> {
    let inv_s: Vec<f64> = grid.ln_s.iter().map(|x| (-x).exp()).collect();
    t_prime_s
        .iter()
        .map(|&t| {
            let i = if (mu - 0.5).abs() < 1e-12 {
                transient_integral_sqrt(t, aging_time_s, tau0_s, a)
            } else {
                transient_integral(t, aging_time_s, tau0_s, a, mu, 1e-10)
            };
            let mut e = vec![0.0; inv_s.len()];
            exp_neg_all(i, &inv_s, &mut e);
            grid.weight
                .iter()
                .zip(&e)
                .fold(0.0, |acc, (w, e)| acc + w * e)
        })
        .collect()
}

/// For a log-normal grid of width `sigma` (ln s_k = sigma z_k with z_k and the weights fixed, as
/// `lognormal` builds it) and each y (the integral I(t') of `phi_transient`, or t'/tau for static
/// modes): [phi, d phi/d y, d phi/d sigma] with phi(y) = sum_k w_k exp(-y / s_k). phi is the same
/// sum in the same order as `phi_transient`'s, bit for bit; the derivatives reuse its exp calls.
pub fn lognormal_phi_gradient(y: &[f64], grid: &Grid, sigma: f64) -> Vec<[f64; 3]> {
    let inv_s: Vec<f64> = grid.ln_s.iter().map(|x| (-x).exp()).collect();
    let z: Vec<f64> = grid
        .ln_s
        .iter()
        .map(|x| if sigma > 0.0 { x / sigma } else { 0.0 })
        .collect();
    let mut e = vec![0.0; inv_s.len()];
    y.iter()
        .map(|&i| {
            exp_neg_all(i, &inv_s, &mut e);
            let (mut phi, mut d_y, mut d_sigma) = (0.0, 0.0, 0.0);
            for (((w, is), zk), e) in grid.weight.iter().zip(&inv_s).zip(&z).zip(&e) {
                let we = w * e;
                phi += we;
                // d/dy exp(-y q) = -q exp(-y q); d/dsigma exp(-y e^(-sigma z)) = y q z exp(-y q).
                d_y -= we * is;
                d_sigma += we * (i * is) * zk;
            }
            [phi, d_y, d_sigma]
        })
        .collect()
}

/// phi(t') = sum_k w_k exp(-t' / (s_k tau)): a distribution that does not age during the test.
pub fn phi_static(t_prime_s: &[f64], tau_s: f64, grid: &Grid) -> Vec<f64> {
    phi_transient(t_prime_s, 0.0, tau_s, 0.0, 0.5, grid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closed_form_matches_quadrature() {
        for &tau0 in &[10.0, 1000.0] {
            for &ratio in &[1e-12, 1e-6, 1e-2, 1.0, 30.0] {
                let a = ratio * tau0;
                for &ta in &[0.0, 1800.0, 77_400.0] {
                    for &t in &[0.5, 10.0, 1000.0, 9000.0] {
                        let closed = transient_integral_sqrt(t, ta, tau0, a);
                        let quad = transient_integral(t, ta, tau0, a, 0.5, 1e-13);
                        assert!(
                            ((closed - quad) / quad).abs() < 1e-9,
                            "tau0 {tau0} A/tau0 {ratio} t_a {ta} t' {t}: {closed} vs {quad}"
                        );
                    }
                }
            }
        }
        assert_eq!(transient_integral_sqrt(100.0, 50.0, 10.0, 0.0), 10.0);
    }

    #[test]
    fn the_gradient_matches_central_differences_and_phi_its_bits() {
        let (sigma, t_a, tau0, a) = (1.3, 3600.0, 20.0, 4.0);
        let t: Vec<f64> = (0..40).map(|k| 10f64.powf(0.1 * k as f64)).collect();
        let grid = lognormal(sigma, 5.0, 0.1);
        let y: Vec<f64> = t
            .iter()
            .map(|&s| transient_integral_sqrt(s, t_a, tau0, a))
            .collect();
        let g = lognormal_phi_gradient(&y, &grid, sigma);
        let phi = phi_transient(&t, t_a, tau0, a, 0.5, &grid);
        for (k, gk) in g.iter().enumerate() {
            assert_eq!(gk[0].to_bits(), phi[k].to_bits(), "point {k}");
            // d/dy by central differences of the same sum; d/dsigma with the grid's n held fixed.
            let h = 1e-6 * y[k];
            let up = lognormal_phi_gradient(&[y[k] + h], &grid, sigma)[0][0];
            let down = lognormal_phi_gradient(&[y[k] - h], &grid, sigma)[0][0];
            let fd = (up - down) / (2.0 * h);
            assert!(
                (gk[1] - fd).abs() < 1e-7 * (1.0 + fd.abs()) / y[k].max(1e-3),
                "{k}: {} vs {fd}",
                gk[1]
            );
            let hs = 1e-6;
            let scaled = |s: f64| Grid {
                ln_s: grid.ln_s.iter().map(|x| x * s / sigma).collect(),
                weight: grid.weight.clone(),
                truncated_mass: grid.truncated_mass,
            };
            let up = lognormal_phi_gradient(&[y[k]], &scaled(sigma + hs), sigma + hs)[0][0];
            let down = lognormal_phi_gradient(&[y[k]], &scaled(sigma - hs), sigma - hs)[0][0];
            let fd = (up - down) / (2.0 * hs);
            assert!((gk[2] - fd).abs() < 1e-7, "{k}: {} vs {fd}", gk[2]);
        }
    }

    #[test]
    fn the_beta_half_distribution_reproduces_its_kww() {
        let g = kww_half(-40.0, 14.0, 0.02);
        assert!(g.truncated_mass < 1e-6, "{}", g.truncated_mass);
        let t: Vec<f64> = (0..60).map(|k| 10f64.powf(-3.0 + 0.1 * k as f64)).collect();
        let phi = phi_static(&t, 1.0, &g);
        for (ti, p) in t.iter().zip(&phi) {
            assert!(
                (p - (-ti.sqrt()).exp()).abs() < 1e-6,
                "t {ti}: {p} vs {}",
                (-ti.sqrt()).exp()
            );
        }
        let ln = lognormal(1.0, 6.0, 0.05);
        assert!((ln.weight.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(ln.truncated_mass < 1e-8);
    }
}
