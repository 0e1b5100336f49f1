//! The coverage study: does a reported 95 % interval hold the truth 95 % of the time, on data
//! recorded the way real instruments record it? Curves and campaigns are simulated with the
//! instrument settings drawn at random (strain ramp 1 to 8 s, sampling every 0.5 to 5 s, 10 to
//! 60 s of hold before the step, a residual-stress offset of 0 to 8 %), run through the real
//! clean and kww-fit code in process, and every estimate is compared with its truth: z =
//! (estimate - truth) / SE and whether the interval covers the truth. Rows may drift, follow a
//! shape that is not KWW ([`TruthShape`]; the truth is then the pseudo-true value) or cut the
//! window short. `curves` is the per-curve
//! study (beta, ln tau, mean tau); `campaign` the per-campaign one (aging law, turning point, E_a).

pub mod bands;
pub mod campaign;
pub mod peaks;
pub mod scenarios;

use rayon::prelude::*;
use simulate::relaxation::{RelaxTruth, Shape, generate_shaped};
pub use simulate::spec::Setting;
use simulate::spec::{RelaxationSpec, TauSpec};
use tables::{KwwFit, RelaxationRaw};

/// The kind of glass a curve imitates (sets sigma0, span, noise and the range of beta and tau).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Glass {
    /// A metallic glass on a DMA: E 90 GPa, 0.1 % strain (sigma0 90 MPa), 0.1 MPa noise.
    Metallic,
    /// A polymer (PVC-like): E 2.5 GPa, 0.5 % strain (12.5 MPa), 0.02 MPa noise, 1800 s span.
    Polymer,
}

/// Instrument settings of one simulated test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Instrument {
    pub ramp_s: Setting,
    pub sampling_s: Setting,
    pub hold_s: Setting,
    pub offset: Setting,
    pub drift_mpa_per_h: Setting,
    /// The drift the lab states to kww-fit (`--drift-mpa-per-h`; None: its default).
    pub declared_drift_mpa_per_h: Option<f64>,
    /// kww-fit's `--weighting`.
    pub weighting: kww_fit::Weighting,
    /// The relaxation the curves follow.
    pub truth: TruthShape,
    /// tau drawn log-uniformly between these multiples of the recorded span.
    pub tau_over_span: [f64; 2],
}

/// The relaxation shape of a row's curves. On a shape that is not KWW, the truth an interval is
/// held to is the pseudo-true value: what the same fit gives on the same curve without noise
/// (the stretched exponential closest to the curve under the fit's weighting).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TruthShape {
    Kww,
    /// Log-normal distribution of ln tau, its SD drawn uniformly in this range per curve.
    LogNormal([f64; 2]),
    /// Two KWW modes `decades` apart, the faster carrying `weight`.
    TwoModes {
        decades: f64,
        weight: f64,
    },
}

impl Instrument {
    /// The ranges of the issue: ramp 1-8 s, sampling 0.5-5 s, hold 10-60 s, offset 0-8 %.
    pub const REALISTIC: Instrument = Instrument {
        ramp_s: Setting::Range([1.0, 8.0]),
        sampling_s: Setting::Range([0.5, 5.0]),
        hold_s: Setting::Range([10.0, 60.0]),
        offset: Setting::Range([0.0, 0.08]),
        drift_mpa_per_h: Setting::Fixed(0.0),
        declared_drift_mpa_per_h: None,
        weighting: kww_fit::Weighting::Samples,
        truth: TruthShape::Kww,
        tau_over_span: [0.1, 2.0],
    };
}

/// A relaxation spec with constant beta and tau (the curve level needs no aging law).
pub fn curve_spec(
    glass: Glass,
    beta: f64,
    tau_s: f64,
    span_s: f64,
    ins: &Instrument,
) -> RelaxationSpec {
    let (modulus_gpa, strain, noise) = match glass {
        Glass::Metallic => (90.0, 0.001, 0.1),
        Glass::Polymer => (2.5, 0.005, 0.02),
    };
    RelaxationSpec {
        reference_temperature_k: 600.0,
        series: vec![],
        beta: vec![(1.0, beta)],
        tau: TauSpec {
            breakpoint_s: 1.0,
            tau_at_breakpoint_s: tau_s,
            mu1: 0.0,
            mu2: 0.0,
        },
        ea_kj_mol: vec![(1.0, 150.0)],
        strain,
        modulus_gpa,
        span_s,
        sampling_s: ins.sampling_s,
        noise_mpa: Setting::Fixed(noise),
        ramp_s: ins.ramp_s,
        offset_fraction: ins.offset,
        equilibration_s: ins.hold_s,
        drift_mpa_per_h: ins.drift_mpa_per_h,
        replicates: 1,
    }
}

/// A simulated test as ingest would give it.
pub fn raw_curve(
    id: &str,
    spec: &RelaxationSpec,
    t_k: f64,
    t_a: f64,
    rng: &mut rng::Rng,
) -> (RelaxationRaw, RelaxTruth) {
    raw_curve_shaped(id, spec, t_k, t_a, Shape::Kww, rng)
}

/// [`raw_curve`] with another relaxation shape.
pub fn raw_curve_shaped(
    id: &str,
    spec: &RelaxationSpec,
    t_k: f64,
    t_a: f64,
    shape: Shape,
    rng: &mut rng::Rng,
) -> (RelaxationRaw, RelaxTruth) {
    let (c, truth) = generate_shaped(spec, spec.strain, t_k, t_a, shape, rng);
    let raw = RelaxationRaw {
        step_s: None,
        test_id: id.into(),
        material: "G".into(),
        tg_k: Some(680.0),
        temperature_k: t_k,
        aging_time_s: t_a,
        strain: Some(spec.strain),
        series: None,
        source_file: id.into(),
        flags: String::new(),
        temperature_meas_k: vec![None; c.time_s.len()],
        stress_mpa: c.stress_mpa.iter().map(|s| Some(*s)).collect(),
        strain_meas: c.strain_pct.iter().map(|e| Some(e / 100.0)).collect(),
        time_s: c.time_s,
    };
    (raw, truth)
}

/// clean and kww-fit with their default options, as the pipeline runs them.
pub fn fit_raw(raw: &RelaxationRaw) -> KwwFit {
    fit_raw_with(raw, None, kww_fit::Weighting::Samples)
}

/// [`fit_raw`] with kww-fit's `--drift-mpa-per-h` (None: its default; 0: no drift term) and
/// `--weighting`.
pub fn fit_raw_with(
    raw: &RelaxationRaw,
    drift_mpa_per_h: Option<f64>,
    weighting: kww_fit::Weighting,
) -> KwwFit {
    let (c, _) = clean::clean_curve(raw, &clean::Options::default());
    let defaults = kww_fit::FitOptions::default();
    kww_fit::fit_curve(
        &c,
        &kww_fit::FitOptions {
            drift_mpa_per_h: match drift_mpa_per_h {
                None => defaults.drift_mpa_per_h,
                Some(d) => Some(d).filter(|d| *d > 0.0),
            },
            weighting,
            ..defaults
        },
    )
}

/// One curve's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveOutcome {
    pub glass: Glass,
    pub ramp_s: f64,
    pub sampling_s: f64,
    pub offset: f64,
    /// (estimate - truth) / SE for beta, ln tau and mean tau (None when the fit gave none).
    pub z: [Option<f64>; 3],
    pub model: String,
    pub flags: String,
    /// The fit's status (`ok` when a person may use its numbers).
    pub status: String,
    /// beta's standard error.
    pub beta_se: Option<f64>,
}

/// One random curve: glass, beta, tau and the instrument drawn from (seed, k).
pub fn curve_trial(seed: u64, k: u64, ins: &Instrument) -> CurveOutcome {
    let mut rng = rng::Rng::new(seed, k);
    let glass = if rng.uniform() < 0.6 {
        Glass::Metallic
    } else {
        Glass::Polymer
    };
    let (beta, span): (f64, f64) = match glass {
        Glass::Metallic => (
            rng.range(0.35, 0.6),
            if rng.uniform() < 0.5 { 9000.0 } else { 3600.0 },
        ),
        Glass::Polymer => (rng.range(0.25, 0.5), 1800.0),
    };
    let [lo, hi] = ins.tau_over_span;
    let tau = (rng.range((lo * span).ln(), (hi * span).ln())).exp();
    let spec = curve_spec(glass, beta, tau, span, ins);
    // The shape's own draw comes from a stream of its own: the KWW rows keep their curves.
    let mut shape_rng = rng::Rng::new(seed ^ 0x5a4e, k);
    let shape = match ins.truth {
        TruthShape::Kww => Shape::Kww,
        TruthShape::LogNormal([a, b]) => Shape::LogNormal {
            sd_ln_tau: shape_rng.range(a, b),
        },
        TruthShape::TwoModes { decades, weight } => Shape::TwoModes { decades, weight },
    };
    let quiet_rng = rng.clone();
    let (raw, mut truth) =
        raw_curve_shaped(&format!("c{k}"), &spec, 600.0, 3600.0, shape, &mut rng);
    let f = fit_raw_with(&raw, ins.declared_drift_mpa_per_h, ins.weighting);
    let mut mean_truth = physics::kww::mean_tau_s(truth.tau_s, truth.beta);
    if shape != Shape::Kww {
        // The pseudo-true values: the same fit of the same curve recorded without noise (the
        // same settings, from the same stream).
        let quiet = RelaxationSpec {
            noise_mpa: Setting::Fixed(0.0),
            ..spec.clone()
        };
        let (raw0, _) = raw_curve_shaped(
            "quiet",
            &quiet,
            600.0,
            3600.0,
            shape,
            &mut quiet_rng.clone(),
        );
        // The model the noisy fit chose (the interval is the chosen model's).
        let (c0, _) = clean::clean_curve(&raw0, &clean::Options::default());
        let defaults = kww_fit::FitOptions::default();
        let f0 = kww_fit::fit_curve(
            &c0,
            &kww_fit::FitOptions {
                variants: kww_fit::Variant::parse(&f.model)
                    .map_or(defaults.variants.clone(), |v| vec![v]),
                drift_mpa_per_h: match ins.declared_drift_mpa_per_h {
                    None => defaults.drift_mpa_per_h,
                    Some(d) => Some(d).filter(|d| *d > 0.0),
                },
                weighting: ins.weighting,
                ..defaults
            },
        );
        match (f0.beta, f0.tau_s, f0.mean_tau_s) {
            (Some(b), Some(t), Some(m)) => {
                truth.beta = b;
                truth.tau_s = t;
                mean_truth = m;
            }
            _ => {
                truth.beta = f64::NAN;
                truth.tau_s = f64::NAN;
                mean_truth = f64::NAN;
            }
        }
    }
    let z = |est: Option<f64>, se: Option<f64>, truth: f64| match (est, se) {
        (Some(e), Some(s)) if s > 0.0 && s.is_finite() && truth.is_finite() => {
            Some((e - truth) / s)
        }
        _ => None,
    };
    CurveOutcome {
        glass,
        ramp_s: truth.settings.ramp_s,
        sampling_s: truth.settings.sampling_s,
        offset: truth.settings.offset_fraction,
        z: [
            z(f.beta, f.beta_se, truth.beta),
            z(
                f.tau_s.map(f64::ln),
                f.tau_se_s.zip(f.tau_s).map(|(s, t)| s / t),
                truth.tau_s.ln(),
            ),
            z(
                f.mean_tau_s.map(f64::ln),
                f.mean_tau_se_s.zip(f.mean_tau_s).map(|(s, t)| s / t),
                mean_truth.ln(),
            ),
        ],
        model: f.model,
        flags: f.flags,
        status: f.status,
        beta_se: f.beta_se,
    }
}

/// Runs `n` curve trials in parallel (results in trial order, whatever the thread count).
pub fn curve_study(seed: u64, n: u64, ins: &Instrument) -> Vec<CurveOutcome> {
    (0..n)
        .into_par_iter()
        .map(|k| curve_trial(seed, k, ins))
        .collect()
}

/// Bias and coverage of one quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    /// Trials without an estimate or an SE.
    pub missing: usize,
    pub mean_z: f64,
    pub median_z: f64,
    /// Share of 95 % intervals holding the truth.
    pub coverage: f64,
}

/// Summary of z values; `covered` says per trial whether its interval held the truth (for
/// intervals that are not estimate +- 1.96 SE), else |z| <= 1.96 is used.
pub fn summarize(z: &[Option<f64>], covered: Option<&[Option<bool>]>) -> Summary {
    let vals: Vec<f64> = z.iter().flatten().copied().collect();
    let cov: Vec<bool> = match covered {
        Some(c) => c.iter().flatten().copied().collect(),
        None => vals.iter().map(|z| z.abs() <= 1.959_964).collect(),
    };
    let mut sorted = vals.clone();
    sorted.sort_by(f64::total_cmp);
    let n = vals.len().max(1) as f64;
    Summary {
        n: cov.len(),
        missing: z.len() - vals.len(),
        mean_z: vals.iter().sum::<f64>() / n,
        median_z: sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN),
        coverage: cov.iter().filter(|c| **c).count() as f64 / cov.len().max(1) as f64,
    }
}
