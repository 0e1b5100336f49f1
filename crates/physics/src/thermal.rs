//! Thermal scans (DSC and DMA temperature sweeps) as pure functions of temperature: the shapes the
//! simulator draws and the `thermal` stage fits, and the tangent constructions on them in closed
//! form (the truth a fitted construction is compared with).
//!
//! DSC (exo up): heat flow = a linear baseline, minus an error-function step at the glass
//! transition (the heat capacity rises: endothermic), plus a Gaussian crystallisation exotherm.
//! DMA: E' falls by an error-function step; E'' is an alpha peak whose low-temperature flank is
//! exponential, A / (exp(-(T - T_a)/theta1) + exp((T - T_a)/theta2)), plus a Gaussian beta hump and
//! a linear background.

/// The error function, |error| < 1.2e-7 everywhere (Chebyshev fit of erfc, Numerical Recipes'
/// `erfcc`).
pub fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 { 1.0 - erfc } else { erfc - 1.0 }
}

/// The standard normal distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

/// A step of height `height` centred on `mid_k` with width `sigma_k`: height Phi((T - mid)/sigma).
pub fn erf_step(temperature_k: f64, mid_k: f64, sigma_k: f64, height: f64) -> f64 {
    height * normal_cdf((temperature_k - mid_k) / sigma_k)
}

/// Where the tangent at the inflection of an error-function step meets the extrapolated baseline
/// before it (the onset) and after it (the end), whatever the common baseline slope:
/// mid -+ sigma sqrt(2 pi) / 2.
pub fn erf_step_onset_end_k(mid_k: f64, sigma_k: f64) -> (f64, f64) {
    let h = sigma_k * (2.0 * std::f64::consts::PI).sqrt() / 2.0;
    (mid_k - h, mid_k + h)
}

/// The midpoint of an error-function step whose onset (tangent construction) is `onset_k`.
pub fn erf_step_mid_from_onset_k(onset_k: f64, sigma_k: f64) -> f64 {
    onset_k + sigma_k * (2.0 * std::f64::consts::PI).sqrt() / 2.0
}

/// A Gaussian peak of height `height` at `centre_k`, SD `sigma_k`.
pub fn gaussian(temperature_k: f64, centre_k: f64, sigma_k: f64, height: f64) -> f64 {
    height * (-0.5 * ((temperature_k - centre_k) / sigma_k).powi(2)).exp()
}

/// The onset of a Gaussian peak by the tangent at its leading inflection (centre - sigma) and
/// the baseline: centre - 2 sigma.
pub fn gaussian_onset_k(centre_k: f64, sigma_k: f64) -> f64 {
    centre_k - 2.0 * sigma_k
}

/// The alpha peak of the loss modulus: A / (exp(-(T - T_a)/theta1) + exp((T - T_a)/theta2)).
pub fn alpha_loss(temperature_k: f64, a: f64, t_a_k: f64, theta1_k: f64, theta2_k: f64) -> f64 {
    let x = temperature_k - t_a_k;
    // exp of at most 700 either way: far from the peak the value underflows to 0, never NaN.
    let e1 = (-x / theta1_k).clamp(-700.0, 700.0).exp();
    let e2 = (x / theta2_k).clamp(-700.0, 700.0).exp();
    a / (e1 + e2)
}

/// Where `alpha_loss` peaks: T_a + ln(theta2/theta1) theta1 theta2 / (theta1 + theta2).
pub fn alpha_loss_peak_k(t_a_k: f64, theta1_k: f64, theta2_k: f64) -> f64 {
    t_a_k + (theta2_k / theta1_k).ln() * theta1_k * theta2_k / (theta1_k + theta2_k)
}

/// The beta-relaxation peak temperature at frequency f for an Arrhenius process with energy E
/// that peaks at `peak_1hz_k` at 1 Hz: 1/T = 1/T_1Hz - R ln(f / 1 Hz) / E.
pub fn arrhenius_peak_k(peak_1hz_k: f64, energy_kj_mol: f64, frequency_hz: f64) -> f64 {
    1.0 / (1.0 / peak_1hz_k
        - crate::GAS_CONSTANT_J_MOL_K * frequency_hz.ln() / (energy_kj_mol * 1e3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, e) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (2.0, 0.995_322_265),
            (-1.0, -0.842_700_792_9),
        ] {
            assert!((erf(x) - e).abs() < 2e-7, "erf({x}) = {}", erf(x));
        }
    }

    #[test]
    fn tangent_onset_of_a_step_is_where_the_tangent_meets_the_baseline() {
        // Numerically: the tangent at the inflection of base + slope T - height Phi.
        let (mid, s, h, slope) = (700.0, 4.0, 0.3, 1e-3);
        let f = |t: f64| 1.0 + slope * t - erf_step(t, mid, s, h);
        let d = (f(mid + 0.02) - f(mid - 0.02)) / 0.04;
        let onset = mid + (1.0 + slope * mid - f(mid)) / (d - slope);
        let (o, e) = erf_step_onset_end_k(mid, s);
        assert!((onset - o).abs() < 1e-3, "{onset} vs {o}");
        assert!((mid - o - (e - mid)).abs() < 1e-12);
    }

    #[test]
    fn alpha_peak_location_is_the_maximum() {
        let (ta, t1, t2) = (720.0, 8.0, 4.0);
        let p = alpha_loss_peak_k(ta, t1, t2);
        let at = |t: f64| alpha_loss(t, 1.0, ta, t1, t2);
        assert!(at(p) > at(p - 0.01) && at(p) > at(p + 0.01));
        assert!(alpha_loss(1e6, 1.0, ta, t1, t2) < 1e-300);
    }

    #[test]
    fn arrhenius_peak_shifts_up_with_frequency() {
        let t1 = arrhenius_peak_k(550.0, 150.0, 1.0);
        let t10 = arrhenius_peak_k(550.0, 150.0, 10.0);
        assert!((t1 - 550.0).abs() < 1e-9 && t10 > t1);
        // ln(10) = E/R (1/T1 - 1/T10)
        let back = 150e3 / crate::GAS_CONSTANT_J_MOL_K * (1.0 / t1 - 1.0 / t10);
        assert!((back - 10f64.ln()).abs() < 1e-9);
    }
}
