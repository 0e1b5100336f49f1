//! The truth spec: the YAML file that says what a synthetic campaign's glasses really do.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthSpec {
    pub campaign: String,
    pub seed: u64,
    pub materials: Vec<MaterialSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialSpec {
    pub name: String,
    pub tg_k: f64,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub relaxation: Option<RelaxationSpec>,
    #[serde(default)]
    pub indentation: Option<IndentationSpec>,
}

/// Stress relaxation: the truth as functions of aging time, and how the DMA records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelaxationSpec {
    /// The temperature at which `beta` and `tau` are given.
    pub reference_temperature_k: f64,
    /// Temperatures and the aging times tested at each.
    pub series: Vec<SeriesSpec>,
    /// beta(t_a) knots `[t_a s, beta]`, interpolated monotonically (PCHIP) in ln t_a.
    pub beta: Vec<(f64, f64)>,
    /// tau(t_a) at the reference temperature: the two-stage power law.
    pub tau: TauSpec,
    /// E_a(t_a) knots `[t_a s, kJ/mol]`, PCHIP in ln t_a.
    pub ea_kj_mol: Vec<(f64, f64)>,
    /// Applied step strain (fraction); a series may override it.
    pub strain: f64,
    /// Relaxation modulus at the step, GPa (sigma0 = E strain).
    pub modulus_gpa: f64,
    /// Recorded span after the step.
    pub span_s: f64,
    /// Time between recorded points.
    pub sampling_s: Setting,
    /// Standard deviation of the stress noise, MPa.
    pub noise_mpa: Setting,
    /// Duration of the strain ramp.
    pub ramp_s: Setting,
    /// Residual stress as a fraction of sigma0: phi = (1 - c) exp(-(t/tau)^beta) + c.
    pub offset_fraction: Setting,
    /// Recorded time before the step (the pre-step hold).
    pub equilibration_s: Setting,
    /// A slow linear drift of the stress signal, MPa per hour of recording (0: none).
    #[serde(default)]
    pub drift_mpa_per_h: Setting,
    /// Tests per temperature and aging time.
    #[serde(default = "one")]
    pub replicates: usize,
}

fn one() -> usize {
    1
}

/// An instrument setting: one value for every test, or `[low, high]`, drawn uniformly and
/// independently for each test from that test's random stream (recorded in truth.json).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Setting {
    Fixed(f64),
    Range([f64; 2]),
}

impl Default for Setting {
    fn default() -> Self {
        Setting::Fixed(0.0)
    }
}

impl Setting {
    /// The value for one test (a range consumes one uniform deviate of `rng`, a fixed value none).
    pub fn draw(&self, rng: &mut rng::Rng) -> f64 {
        match *self {
            Setting::Fixed(v) => v,
            Setting::Range([lo, hi]) => lo + (hi - lo) * rng.uniform(),
        }
    }
    /// The smallest and largest value it can take.
    pub fn span(&self) -> (f64, f64) {
        match *self {
            Setting::Fixed(v) => (v, v),
            Setting::Range([lo, hi]) => (lo, hi),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSpec {
    pub temperature_k: f64,
    pub aging_times_s: Vec<f64>,
    /// The step strain of this series (default: the relaxation's `strain`).
    #[serde(default)]
    pub strain: Option<f64>,
    /// A label the manifest carries as `series:` (keeps this series out of the others' laws).
    #[serde(default)]
    pub label: Option<String>,
    /// `ta-universal` (UTF-16 text, as exported) or `trios-text`.
    pub format: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TauSpec {
    pub breakpoint_s: f64,
    pub tau_at_breakpoint_s: f64,
    pub mu1: f64,
    pub mu2: f64,
}

/// Nanoindentation arrays per aging time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndentationSpec {
    pub temperature_k: f64,
    pub indents_per_group: usize,
    pub groups: Vec<GroupSpec>,
    /// Mean reduced modulus and its relative spread per indent.
    pub er_gpa: f64,
    pub er_spread: f64,
    pub tip_radius_nm: f64,
    /// Contact offset: depth reading at first contact.
    pub h0_nm: f64,
    /// Burst size range (nm) and its duration in samples.
    pub burst_nm: (f64, f64),
    pub burst_samples: (usize, usize),
    /// Share of indents with no pop-in up to the maximum load.
    pub no_popin_fraction: f64,
    pub load: LoadSpec,
    pub noise_load_un: f64,
    pub noise_depth_nm: f64,
    /// `hysitron-ti990` (bare CR, 3 columns) or `hysitron-classic` (segments, 5 columns).
    pub format: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub aging_time_s: f64,
    pub tau_c_mean_gpa: f64,
    /// FWHM of the tau_c / mean distribution (a Gaussian: sigma = FWHM / 2.3548).
    pub tau_c_fwhm: f64,
    /// Overrides the indentation `format` for this group.
    #[serde(default)]
    pub format: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    pub approach_s: f64,
    pub max_un: f64,
    pub rate_un_s: f64,
    pub hold_s: f64,
    pub unload_s: f64,
    pub sampling_hz: f64,
}
