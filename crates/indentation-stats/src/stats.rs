//! The distribution of tau_c in one group (material, temperature, aging time).
//!
//! FWHM: a Gaussian fitted by maximum likelihood to x = tau_c / mean (so the result does not
//! change when the values are permuted or all scaled): sigma^2 = mean((x - mean x)^2), FWHM =
//! 2 sqrt(2 ln 2) sigma, SE(FWHM) = FWHM / sqrt(2 n). No binning. Weibull modulus m and scale by
//! maximum likelihood (m solves sum x^m ln x / sum x^m - 1/m = mean ln x).

use std::collections::BTreeMap;

use tables::{Indent, TauCStats};

/// 2 sqrt(2 ln 2).
pub const FWHM_PER_SIGMA: f64 = 2.354_820_045_030_949;

/// FWHM of the maximum-likelihood Gaussian of values / their mean, and its standard error.
pub fn fwhm_of_normalised(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if mean.abs() < f64::MIN_POSITIVE {
        return None;
    }
    let x: Vec<f64> = values.iter().map(|v| v / mean).collect();
    let var = x.iter().map(|v| (v - 1.0).powi(2)).sum::<f64>() / n as f64;
    let fwhm = FWHM_PER_SIGMA * var.sqrt();
    Some((fwhm, fwhm / (2.0 * n as f64).sqrt()))
}

/// Weibull modulus and scale by maximum likelihood (positive values only).
pub fn weibull_mle(values: &[f64]) -> Option<(f64, f64)> {
    let x: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| *v > 0.0 && v.is_finite())
        .collect();
    if x.len() < 3 {
        return None;
    }
    let n = x.len() as f64;
    let mean_ln = x.iter().map(|v| v.ln()).sum::<f64>() / n;
    // Scale values to 1 around their geometric mean for numerical range.
    let g = mean_ln.exp();
    let y: Vec<f64> = x.iter().map(|v| v / g).collect();
    let score = |m: f64| {
        let (mut s0, mut s1) = (0.0, 0.0);
        for v in &y {
            let p = v.powf(m);
            s0 += p;
            s1 += p * v.ln();
        }
        s1 / s0 - 1.0 / m
    };
    // score increases with m; mean ln y = 0.
    let (mut lo, mut hi) = (1e-3, 1e3);
    if score(lo) > 0.0 || score(hi) < 0.0 {
        return None;
    }
    for _ in 0..200 {
        let mid = (lo * hi).sqrt();
        if score(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let m = (lo * hi).sqrt();
    let scale = g * (y.iter().map(|v| v.powf(m)).sum::<f64>() / n).powf(1.0 / m);
    Some((m, scale))
}

/// One `tau_c_stats` row per (material, temperature, aging time).
pub fn group_stats(indents: &[Indent]) -> Vec<TauCStats> {
    let mut groups: BTreeMap<(String, u64, u64), Vec<&Indent>> = BTreeMap::new();
    for i in indents {
        groups
            .entry((
                i.material.clone(),
                i.temperature_k.to_bits(),
                i.aging_time_s.to_bits(),
            ))
            .or_default()
            .push(i);
    }
    groups
        .into_iter()
        .map(|((material, t, a), g)| {
            let values: Vec<f64> = g
                .iter()
                .filter(|i| i.status == tables::Status::Ok)
                .filter_map(|i| i.tau_c_gpa)
                .collect();
            let n = values.len();
            let mean = (n > 0).then(|| values.iter().sum::<f64>() / n as f64);
            let std = (n > 1).then(|| {
                let m = mean.unwrap_or(0.0);
                (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
            });
            let fwhm = fwhm_of_normalised(&values);
            let weibull = weibull_mle(&values);
            let censored = g.iter().filter(|i| i.status == "censored").count();
            let failed = g.len() - n - censored;
            let mut flags = Vec::new();
            if failed > 0 {
                flags.push(format!("{failed}_not_analysed"));
            }
            TauCStats {
                material,
                temperature_k: f64::from_bits(t),
                aging_time_s: f64::from_bits(a),
                n_indents: g.len() as i64,
                n_popins: n as i64,
                n_censored: censored as i64,
                tau_c_mean_gpa: mean,
                tau_c_std_gpa: std,
                tau_c_fwhm: fwhm.map(|f| f.0),
                tau_c_fwhm_se: fwhm.map(|f| f.1),
                weibull_modulus: weibull.map(|w| w.0),
                weibull_scale_gpa: weibull.map(|w| w.1),
                status: if n >= 3 {
                    tables::Status::Ok.into()
                } else {
                    tables::Status::TooFewPopins.into()
                },
                flags: flags.join(","),
            }
        })
        .collect()
}
