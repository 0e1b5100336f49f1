//! One synthetic nanoindent under load control: approach, Hertzian loading with a first pop-in
//! (a displacement burst at constant load) and a softer elastic-plastic branch after it, a hold
//! with creep, and power-law unloading.

use physics::indentation::{hertz_depth_nm, popin_load_un};

use crate::spec::IndentationSpec;
use rng::Rng;

/// The recorded rows (depth nm, load µN, time s), per load-function segment.
#[derive(Debug, Clone, Default)]
pub struct IndentCurve {
    pub segments: Vec<Vec<[f64; 3]>>,
}

/// The truth of one indent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndentTruth {
    pub er_gpa: f64,
    pub h0_nm: f64,
    /// The critical shear stress drawn for this indent (its pop-in may still lie beyond P_max).
    pub tau_c_drawn_gpa: f64,
    /// Noise-free load and depth at the sample just before the first burst; None when censored.
    pub popin_load_un: Option<f64>,
    pub popin_depth_nm: Option<f64>,
    pub burst_nm: Option<f64>,
}

pub fn generate(
    spec: &IndentationSpec,
    mean_gpa: f64,
    fwhm: f64,
    rng: &mut Rng,
) -> (IndentCurve, IndentTruth) {
    let l = &spec.load;
    let dt = 1.0 / l.sampling_hz;
    let er = spec.er_gpa * (1.0 + spec.er_spread * rng.normal());
    let r = spec.tip_radius_nm;
    let h0 = spec.h0_nm;
    let sigma_rel = fwhm / (2.0 * (2.0 * 2f64.ln()).sqrt());
    let tau_c = loop {
        let v = mean_gpa * (1.0 + sigma_rel * rng.normal());
        if v > 0.3 * mean_gpa {
            break v;
        }
    };
    let censored = rng.uniform() < spec.no_popin_fraction;
    let pc = popin_load_un(tau_c, er, r);
    let has_popin = !censored && pc < 0.95 * l.max_un;
    let burst = rng.range(spec.burst_nm.0, spec.burst_nm.1);
    let burst_samples = spec.burst_samples.0
        + (rng.uniform() * (spec.burst_samples.1 - spec.burst_samples.0 + 1) as f64) as usize;
    let burst_samples = burst_samples
        .clamp(spec.burst_samples.0, spec.burst_samples.1)
        .max(1);
    // A later, smaller burst now and then.
    let second = (has_popin && rng.uniform() < 0.3)
        .then(|| (pc * rng.range(1.3, 2.0), burst * rng.range(0.2, 0.5)));
    let (sd_p, sd_h) = (spec.noise_load_un, spec.noise_depth_nm);

    let mut t = 0.0;
    let mut curve = IndentCurve::default();
    let emit = |seg: &mut Vec<[f64; 3]>, depth: f64, load: f64, rng: &mut Rng, t: &mut f64| {
        seg.push([depth + sd_h * rng.normal(), load + sd_p * rng.normal(), *t]);
        *t += dt;
    };
    // Approach: the tip comes down to the surface at no load.
    let mut seg = Vec::new();
    let n_app = (l.approach_s * l.sampling_hz).round() as usize;
    for k in 0..n_app {
        let depth = h0 - 20.0 * (1.0 - k as f64 / n_app.max(1) as f64);
        emit(&mut seg, depth, 0.0, rng, &mut t);
    }
    curve.segments.push(seg);
    // Loading.
    let mut seg = Vec::new();
    let mut truth = IndentTruth {
        er_gpa: er,
        h0_nm: h0,
        tau_c_drawn_gpa: tau_c,
        popin_load_un: None,
        popin_depth_nm: None,
        burst_nm: None,
    };
    let dp = l.rate_un_s * dt;
    let mut extra = 0.0; // burst depth added so far
    let mut plastic_from: Option<f64> = None;
    let mut second_done = second.is_none();
    let depth_at = |p: f64, extra: f64, plastic_from: Option<f64>| {
        let he = hertz_depth_nm(p, er, r);
        let plastic = plastic_from
            .map(|pf| 0.8 * (he - hertz_depth_nm(pf, er, r)))
            .unwrap_or(0.0);
        h0 + he + extra + plastic
    };
    let mut p = 0.0;
    while p <= l.max_un + 1e-9 {
        let d = depth_at(p, extra, plastic_from);
        emit(&mut seg, d, p, rng, &mut t);
        if has_popin && plastic_from.is_none() && p + dp > pc {
            truth.popin_load_un = Some(p);
            truth.popin_depth_nm = Some(d);
            truth.burst_nm = Some(burst);
            for j in 1..=burst_samples {
                let dd = d + burst * j as f64 / burst_samples as f64;
                emit(&mut seg, dd, p, rng, &mut t);
            }
            extra += burst;
            plastic_from = Some(p);
        } else if !second_done
            && let Some((p2, b2)) = second
            && p + dp > p2
        {
            emit(&mut seg, d + b2, p, rng, &mut t);
            extra += b2;
            second_done = true;
        }
        p += dp;
    }
    let h_max_load = depth_at(l.max_un, extra, plastic_from);
    curve.segments.push(seg);
    // Hold with logarithmic creep.
    let mut seg = Vec::new();
    let n_hold = (l.hold_s * l.sampling_hz).round() as usize;
    let creep_nm = 1.0;
    for k in 0..n_hold {
        let th = (k + 1) as f64 * dt;
        let d = h_max_load + creep_nm * (1.0 + th / 0.1).ln() / (1.0 + l.hold_s / 0.1).ln();
        emit(&mut seg, d, l.max_un, rng, &mut t);
    }
    curve.segments.push(seg);
    // Unloading: P = P_max ((h - h_f)/(h_max - h_f))^1.5.
    let h_max = h_max_load + if n_hold > 0 { creep_nm } else { 0.0 };
    let h_f = h0 + 0.6 * (h_max - h0);
    let mut seg = Vec::new();
    let n_un = (l.unload_s * l.sampling_hz).round() as usize;
    for k in 0..n_un {
        let load = l.max_un * (1.0 - (k + 1) as f64 / n_un as f64);
        let d = h_f + (h_max - h_f) * (load / l.max_un).powf(1.0 / 1.5);
        emit(&mut seg, d, load, rng, &mut t);
    }
    curve.segments.push(seg);
    (curve, truth)
}
