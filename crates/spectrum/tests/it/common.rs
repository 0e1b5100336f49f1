//! Synthetic relaxation curves from known distributions, shared by the spectrum tests.
#![allow(dead_code)]

/// t' log-spaced over `decades` from 1 s, `n` points.
pub fn times(n: usize, decades: f64) -> Vec<f64> {
    (0..n)
        .map(|i| 10f64.powf(decades * i as f64 / (n - 1) as f64))
        .collect()
}

/// phi(t) of a sum of log-normal modes (weight, centre ln tau, sd) by quadrature in ln tau.
pub fn phi_lognormal(t: &[f64], modes: &[(f64, f64, f64)]) -> Vec<f64> {
    t.iter()
        .map(|&t| {
            let mut s = 0.0;
            for &(w, c, sd) in modes {
                let n = 4000;
                let (lo, hi) = (c - 9.0 * sd, c + 9.0 * sd);
                let h = (hi - lo) / n as f64;
                let mut acc = 0.0;
                for k in 0..=n {
                    let x = lo + h * k as f64;
                    let d = (-(x - c).powi(2) / (2.0 * sd * sd)).exp()
                        / (sd * (2.0 * std::f64::consts::PI).sqrt());
                    let f = d * (-t * (-x).exp()).exp();
                    acc += if k == 0 || k == n { 0.5 * f } else { f };
                }
                s += w * acc * h;
            }
            s
        })
        .collect()
}

/// Adds seeded Gaussian noise of SD `sd`.
pub fn noisy(y: &[f64], sd: f64, seed: u64) -> Vec<f64> {
    let mut r = rng::Rng::new(seed, 99);
    y.iter().map(|v| v + sd * r.normal()).collect()
}
