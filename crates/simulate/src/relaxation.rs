//! One synthetic stress-relaxation test: equilibration, a strain ramp, then
//! sigma = sigma0 [(1 - c) exp(-(t'/tau)^beta) + c] + drift t + noise, as a DMA records it, with
//! the instrument settings (ramp, sampling, hold, offset, noise, drift) drawn per test.
//! [`generate_shaped`] replaces the stretched exponential by another relaxation shape (a
//! log-normal distribution of relaxation times, two KWW modes): curves the fit's model does not
//! make, for the coverage study.

use physics::interp::pchip;
use physics::{arrhenius_tau_s, kww};

use crate::spec::RelaxationSpec;
use rng::Rng;

/// The recorded signals, one value per sample.
#[derive(Debug, Clone, Default)]
pub struct RelaxCurve {
    pub time_s: Vec<f64>,
    pub temperature_c: Vec<f64>,
    pub stress_mpa: Vec<f64>,
    pub strain_pct: Vec<f64>,
    pub modulus_mpa: Vec<f64>,
    /// Index of the first sample of the strain step (the equilibration comes before it).
    pub step_index: usize,
}

/// The true parameters of one test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelaxTruth {
    pub beta: f64,
    pub tau_s: f64,
    pub ea_kj_mol: f64,
    pub sigma0_mpa: f64,
    pub amplitude: f64,
    pub offset: f64,
    /// End of the strain ramp on the recorded time axis: t' = 0 there.
    pub step_end_s: f64,
    /// The instrument settings this test was recorded with.
    pub settings: Settings,
}

/// One test's instrument settings, drawn from the spec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub strain: f64,
    pub sampling_s: f64,
    pub ramp_s: f64,
    pub equilibration_s: f64,
    pub offset_fraction: f64,
    pub noise_mpa: f64,
    pub drift_mpa_per_h: f64,
}

impl Settings {
    /// Draws every setting of one test, in a fixed order (fixed values draw nothing, so a spec
    /// without ranges gives the same stream, and the same files, as before ranges existed).
    pub fn draw(spec: &RelaxationSpec, strain: f64, rng: &mut Rng) -> Settings {
        Settings {
            strain,
            sampling_s: spec.sampling_s.draw(rng),
            ramp_s: spec.ramp_s.draw(rng),
            equilibration_s: spec.equilibration_s.draw(rng),
            offset_fraction: spec.offset_fraction.draw(rng),
            noise_mpa: spec.noise_mpa.draw(rng),
            drift_mpa_per_h: spec.drift_mpa_per_h.draw(rng),
        }
    }
}

fn ln_knots(knots: &[(f64, f64)]) -> Vec<(f64, f64)> {
    knots.iter().map(|(t, y)| (t.max(1e-9).ln(), *y)).collect()
}

/// beta, tau and E_a at aging time `t_a` and temperature `T` from the spec.
pub fn truth_at(spec: &RelaxationSpec, aging_time_s: f64, temperature_k: f64) -> (f64, f64, f64) {
    let x = aging_time_s.max(1e-9).ln();
    let beta = pchip(&ln_knots(&spec.beta), x);
    let ea = pchip(&ln_knots(&spec.ea_kj_mol), x);
    let t = &spec.tau;
    let tau_ref = kww::two_stage_tau_s(
        aging_time_s,
        t.breakpoint_s,
        t.tau_at_breakpoint_s,
        t.mu1,
        t.mu2,
    );
    let tau = arrhenius_tau_s(tau_ref, ea, temperature_k, spec.reference_temperature_k);
    (beta, tau, ea)
}

/// The shape of the normalised relaxation phi(t') (1 at t' = 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// exp(-(t'/tau)^beta), tau and beta from the spec.
    Kww,
    /// A log-normal distribution of relaxation times: ln tau normal about the spec's ln tau with
    /// this SD (natural log units); phi = integral of g(ln tau) exp(-t'/tau).
    LogNormal { sd_ln_tau: f64 },
    /// Two stretched exponentials: `weight` of exp(-(t'/tau)^beta) and the rest with tau times
    /// 10^`decades` (same beta).
    TwoModes { decades: f64, weight: f64 },
}

/// Nodes of the log-normal quadrature: ln tau offsets over +-6 SD (trapezoid, which is
/// spectrally accurate on a Gaussian) and their normalised weights.
const LOGNORMAL_NODES: usize = 97;

impl Shape {
    /// phi(t') for a curve whose spec gives `tau_s` and `beta`.
    pub fn phi(&self, t: f64, tau_s: f64, beta: f64) -> f64 {
        match *self {
            Shape::Kww => kww::phi(t, tau_s, beta),
            Shape::LogNormal { sd_ln_tau } => {
                if t <= 0.0 {
                    return 1.0;
                }
                let (mut num, mut den) = (0.0, 0.0);
                for k in 0..LOGNORMAL_NODES {
                    let z = -6.0 + 12.0 * k as f64 / (LOGNORMAL_NODES - 1) as f64;
                    let w = (-0.5 * z * z).exp();
                    num += w * (-t / (tau_s * (sd_ln_tau * z).exp())).exp();
                    den += w;
                }
                num / den
            }
            Shape::TwoModes { decades, weight } => {
                weight * kww::phi(t, tau_s, beta)
                    + (1.0 - weight) * kww::phi(t, tau_s * 10f64.powf(decades), beta)
            }
        }
    }
}

pub fn generate(
    spec: &RelaxationSpec,
    strain: f64,
    temperature_k: f64,
    aging_time_s: f64,
    rng: &mut Rng,
) -> (RelaxCurve, RelaxTruth) {
    generate_shaped(spec, strain, temperature_k, aging_time_s, Shape::Kww, rng)
}

/// [`generate`] with another relaxation shape; the truth's tau and beta are the spec's (the
/// shape's parameters).
pub fn generate_shaped(
    spec: &RelaxationSpec,
    strain: f64,
    temperature_k: f64,
    aging_time_s: f64,
    shape: Shape,
    rng: &mut Rng,
) -> (RelaxCurve, RelaxTruth) {
    let (beta, tau_s, ea_kj_mol) = truth_at(spec, aging_time_s, temperature_k);
    let set = Settings::draw(spec, strain, rng);
    let sigma0 = spec.modulus_gpa * 1e3 * set.strain;
    let c = set.offset_fraction;
    let step_start = set.equilibration_s;
    let step_end = step_start + set.ramp_s;
    let total = step_end + spec.span_s;
    let n = (total / set.sampling_s).floor() as usize + 1;
    let mut curve = RelaxCurve {
        step_index: n,
        ..Default::default()
    };
    for k in 0..n {
        let t = k as f64 * set.sampling_s;
        let (strain, stress) = if t < step_start {
            (0.0, 0.0)
        } else if t < step_end {
            let f = (t - step_start) / set.ramp_s;
            (set.strain * f, sigma0 * f)
        } else {
            (
                set.strain,
                sigma0 * ((1.0 - c) * shape.phi(t - step_end, tau_s, beta) + c),
            )
        };
        if t >= step_start && curve.step_index == n {
            curve.step_index = k;
        }
        let drift = set.drift_mpa_per_h * t / 3600.0;
        let stress = stress + drift + set.noise_mpa * rng.normal();
        let strain = strain + 1e-7 * rng.normal();
        curve.time_s.push(t);
        curve
            .temperature_c
            .push(temperature_k - 273.15 + 0.05 * rng.normal());
        curve.stress_mpa.push(stress);
        curve.strain_pct.push(strain * 100.0);
        curve.modulus_mpa.push(if strain.abs() > 1e-5 {
            stress / strain
        } else {
            0.0
        });
    }
    let truth = RelaxTruth {
        beta,
        tau_s,
        ea_kj_mol,
        sigma0_mpa: sigma0,
        amplitude: 1.0 - c,
        offset: c,
        step_end_s: step_end,
        settings: set,
    };
    (curve, truth)
}
