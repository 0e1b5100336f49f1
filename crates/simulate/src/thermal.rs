//! DSC scans and DMA temperature sweeps from the truth spec (shapes in `physics::thermal`), with
//! their truth: the tangent-construction temperatures in closed form, the peaks, the beta
//! relaxation's intensity.

use physics::thermal::{
    alpha_loss, alpha_loss_peak_k, arrhenius_peak_k, erf_step, erf_step_mid_from_onset_k,
    erf_step_onset_end_k, gaussian, gaussian_onset_k,
};
use rng::Rng;
use serde::Serialize;

use crate::spec::{DmaSpec, DscSpec, ScanSpec};

/// A recorded thermal scan: rows of (time s, temperature K, values...).
pub struct Scan {
    pub time_s: Vec<f64>,
    pub temperature_k: Vec<f64>,
    /// DSC: [heat flow W/g]; DMA: [frequency Hz, E' MPa, E'' MPa, tan delta].
    pub values: Vec<Vec<f64>>,
}

/// The truth of one DSC scan.
#[derive(Debug, Clone, Serialize)]
pub struct DscTruth {
    pub tg_onset_k: f64,
    pub tg_midpoint_k: f64,
    pub tg_end_k: f64,
    pub crystallization_onset_k: Option<f64>,
    pub baseline_slope_w_g_k: f64,
}

/// The truth of one DMA sweep at one frequency.
#[derive(Debug, Clone, Serialize)]
pub struct DmaTruth {
    pub frequency_hz: f64,
    pub alpha_peak_loss_k: f64,
    pub alpha_peak_tan_delta_k: Option<f64>,
    pub tg_storage_onset_k: f64,
    pub beta_peak_k: f64,
    pub beta_intensity_k: f64,
    pub background_drift_per_k: f64,
}

fn grid(start_k: f64, end_k: f64, per_k: f64) -> Vec<f64> {
    let n = ((end_k - start_k) * per_k).floor().max(1.0) as usize;
    (0..=n).map(|i| start_k + i as f64 / per_k).collect()
}

/// One DSC heating scan.
pub fn dsc(spec: &DscSpec, scan: &ScanSpec, tg_default_k: f64, rng: &mut Rng) -> (Scan, DscTruth) {
    let onset = scan.tg_onset_k.unwrap_or(tg_default_k);
    let mid = erf_step_mid_from_onset_k(onset, spec.step_sigma_k);
    let (_, end) = erf_step_onset_end_k(mid, spec.step_sigma_k);
    let slope = spec.baseline_slope_w_g_k.draw(rng);
    let rate_k_s = spec.heating_rate_k_min / 60.0;
    let temps = grid(spec.start_k, spec.end_k, spec.points_per_k);
    let mut out = Scan {
        time_s: Vec::with_capacity(temps.len()),
        temperature_k: Vec::with_capacity(temps.len()),
        values: Vec::with_capacity(temps.len()),
    };
    for &t in &temps {
        let mut hf =
            0.2 + slope * (t - spec.start_k) - erf_step(t, mid, spec.step_sigma_k, spec.step_w_g);
        if let Some((c, s, h)) = spec.crystallization {
            hf += gaussian(t, c, s, h);
        }
        hf += spec.noise_w_g * rng.normal();
        out.time_s.push((t - spec.start_k) / rate_k_s);
        out.temperature_k.push(t);
        out.values.push(vec![hf]);
    }
    let truth = DscTruth {
        tg_onset_k: onset,
        tg_midpoint_k: mid,
        tg_end_k: end,
        crystallization_onset_k: spec.crystallization.map(|(c, s, _)| gaussian_onset_k(c, s)),
        baseline_slope_w_g_k: slope,
    };
    (out, truth)
}

/// The noise-free E', E'' (MPa) of a sweep at one frequency, and the normalised beta hump.
struct DmaCurve<'a> {
    spec: &'a DmaSpec,
    alpha_centre_k: f64,
    storage_mid_k: f64,
    beta_peak_k: f64,
    beta_height: f64,
    drift: f64,
    loss_scale: f64,
}

impl DmaCurve<'_> {
    fn new(spec: &DmaSpec, f: f64, intensity_k: f64, drift: f64) -> DmaCurve<'_> {
        let shift = spec.alpha_shift_per_decade_k * f.log10();
        // The alpha function's centre such that its peak lies at the spec's temperature.
        let peak = spec.alpha_peak_1hz_k + shift;
        let centre = peak - (alpha_loss_peak_k(0.0, spec.alpha_theta1_k, spec.alpha_theta2_k));
        let storage_mid =
            erf_step_mid_from_onset_k(spec.storage_onset_1hz_k + shift, spec.storage_sigma_k);
        let beta_peak = arrhenius_peak_k(spec.beta_peak_1hz_k, spec.beta_energy_kj_mol, f);
        let mut c = DmaCurve {
            spec,
            alpha_centre_k: centre,
            storage_mid_k: storage_mid,
            beta_peak_k: beta_peak,
            beta_height: intensity_k / (spec.beta_sigma_k * (2.0 * std::f64::consts::PI).sqrt()),
            drift,
            loss_scale: 1.0,
        };
        // Normalise so that the maximum of E'' is loss_max_mpa.
        let fine = grid(spec.start_k, spec.end_k, 20.0);
        let m = fine.iter().map(|&t| c.loss_norm(t)).fold(0.0, f64::max);
        c.loss_scale = 1.0 / m;
        c
    }
    /// E''/(its unscaled maximum) before scaling: alpha + beta + background.
    fn loss_norm(&self, t: f64) -> f64 {
        let s = self.spec;
        let alpha_peak_value = alpha_loss(
            alpha_loss_peak_k(self.alpha_centre_k, s.alpha_theta1_k, s.alpha_theta2_k),
            1.0,
            self.alpha_centre_k,
            s.alpha_theta1_k,
            s.alpha_theta2_k,
        );
        alpha_loss(
            t,
            1.0 / alpha_peak_value,
            self.alpha_centre_k,
            s.alpha_theta1_k,
            s.alpha_theta2_k,
        ) + gaussian(t, self.beta_peak_k, s.beta_sigma_k, self.beta_height)
            + s.background
            + self.drift * (t - s.start_k)
    }
    fn loss_mpa(&self, t: f64) -> f64 {
        self.spec.loss_max_mpa * self.loss_scale * self.loss_norm(t)
    }
    fn storage_mpa(&self, t: f64) -> f64 {
        let s = self.spec;
        s.storage_glass_mpa * (1.0 - s.storage_slope_per_k * (t - s.start_k))
            - erf_step(
                t,
                self.storage_mid_k,
                s.storage_sigma_k,
                s.storage_glass_mpa * s.storage_drop_fraction,
            )
    }
}

/// One DMA sweep: rows cycle through the frequencies at each temperature step.
pub fn dma(spec: &DmaSpec, scan: &ScanSpec, rng: &mut Rng) -> (Scan, Vec<DmaTruth>) {
    let intensity = scan.beta_intensity_k.unwrap_or(0.0);
    let drift = spec.background_drift_per_k.draw(rng);
    let curves: Vec<(f64, DmaCurve)> = spec
        .frequencies_hz
        .iter()
        .map(|&f| (f, DmaCurve::new(spec, f, intensity, drift)))
        .collect();
    let rate_k_s = spec.heating_rate_k_min / 60.0;
    let temps = grid(spec.start_k, spec.end_k, spec.points_per_k);
    let mut out = Scan {
        time_s: vec![],
        temperature_k: vec![],
        values: vec![],
    };
    let nf = curves.len() as f64;
    for (i, &t0) in temps.iter().enumerate() {
        for (j, (f, c)) in curves.iter().enumerate() {
            // Each frequency is measured a little later (and warmer) within the step.
            let t = t0 + j as f64 / (nf * spec.points_per_k);
            let _ = i;
            let e1 = c.storage_mpa(t) * (1.0 + spec.noise_fraction * rng.normal());
            let e2 = c.loss_mpa(t) + spec.noise_fraction * spec.loss_max_mpa * rng.normal();
            out.time_s.push((t - spec.start_k) / rate_k_s);
            out.temperature_k.push(t);
            out.values.push(vec![*f, e1, e2, e2 / e1]);
        }
    }
    let truth = curves
        .iter()
        .map(|(f, c)| {
            let fine = grid(spec.start_k, spec.end_k, 50.0);
            let argmax = |g: &dyn Fn(f64) -> f64| {
                let (mut best, mut at) = (f64::NEG_INFINITY, f64::NAN);
                for &t in &fine {
                    let v = g(t);
                    if v > best {
                        best = v;
                        at = t;
                    }
                }
                at
            };
            let tan_peak = argmax(&|t| c.loss_mpa(t) / c.storage_mpa(t));
            DmaTruth {
                frequency_hz: *f,
                alpha_peak_loss_k: argmax(&|t| c.loss_mpa(t)),
                alpha_peak_tan_delta_k: (tan_peak < spec.end_k - 1.0).then_some(tan_peak),
                tg_storage_onset_k: erf_step_onset_end_k(c.storage_mid_k, spec.storage_sigma_k).0,
                beta_peak_k: c.beta_peak_k,
                beta_intensity_k: intensity * c.loss_scale,
                background_drift_per_k: drift,
            }
        })
        .collect();
    (out, truth)
}
