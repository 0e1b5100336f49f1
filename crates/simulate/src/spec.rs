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
    /// DSC scans of the material (heating, exo up).
    #[serde(default)]
    pub dsc: Option<DscSpec>,
    /// DMA temperature sweeps of the material.
    #[serde(default)]
    pub dma_sweeps: Option<DmaSpec>,
    /// Leave `tg_k` out of the manifest (the pipeline then takes T_g from the DSC scans).
    #[serde(default)]
    pub tg_from_dsc: bool,
}

/// DSC heating scans: a glass-transition step (erf) and a crystallisation exotherm (Gaussian) on
/// a drifting linear baseline, exo up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DscSpec {
    pub heating_rate_k_min: f64,
    pub mass_mg: f64,
    pub start_k: f64,
    pub end_k: f64,
    /// Points recorded per kelvin.
    pub points_per_k: f64,
    /// Width (SD) of the glass-transition step, K.
    pub step_sigma_k: f64,
    /// Height of the step, W/g (endothermic: the heat flow falls by this).
    pub step_w_g: f64,
    /// Crystallisation peak centre, SD (K) and height (W/g); none: no crystallisation.
    #[serde(default)]
    pub crystallization: Option<(f64, f64, f64)>,
    /// Baseline slope, W/g per K (drawn per scan).
    pub baseline_slope_w_g_k: Setting,
    /// Noise SD, W/g.
    pub noise_w_g: f64,
    pub scans: Vec<ScanSpec>,
}

/// One thermal scan: its condition, the truth that differs between conditions, and its format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSpec {
    /// The manifest's `condition:` (`as-cast`, `aged`).
    pub condition: String,
    /// Annealing before the scan (none: as-cast) and its temperature.
    #[serde(default)]
    pub aging_time_s: Option<f64>,
    #[serde(default)]
    pub aging_temperature_k: Option<f64>,
    /// DSC: onset T_g (tangent construction), K.
    #[serde(default)]
    pub tg_onset_k: Option<f64>,
    /// DMA: the beta relaxation's area in E''/E''_max above the alpha flank, K.
    #[serde(default)]
    pub beta_intensity_k: Option<f64>,
    /// `ta-universal`, `trios-text`, `trios-excel` (.xlsx) or `trios-json`.
    pub format: String,
}

/// DMA temperature sweeps at one or more frequencies (rows cycle through the frequencies, as a
/// Q800 multi-frequency sweep records them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DmaSpec {
    pub heating_rate_k_min: f64,
    pub frequencies_hz: Vec<f64>,
    pub start_k: f64,
    pub end_k: f64,
    pub points_per_k: f64,
    /// Glassy storage modulus (MPa), its relative fall per K, and the E' drop: its onset at 1 Hz
    /// (tangent construction), SD (K) and the relaxed fraction.
    pub storage_glass_mpa: f64,
    pub storage_slope_per_k: f64,
    pub storage_onset_1hz_k: f64,
    pub storage_sigma_k: f64,
    pub storage_drop_fraction: f64,
    /// Alpha peak of E'': maximum (MPa), its temperature at 1 Hz, flank scales (K), and the
    /// shift per decade of frequency (K).
    pub loss_max_mpa: f64,
    pub alpha_peak_1hz_k: f64,
    pub alpha_theta1_k: f64,
    pub alpha_theta2_k: f64,
    pub alpha_shift_per_decade_k: f64,
    /// Beta hump: peak at 1 Hz (K), SD (K), Arrhenius energy (kJ/mol).
    pub beta_peak_1hz_k: f64,
    pub beta_sigma_k: f64,
    pub beta_energy_kj_mol: f64,
    /// Background of E''/E''_max: level and drift per K (drawn per scan).
    pub background: f64,
    pub background_drift_per_k: Setting,
    /// Relative noise of E' and E'' (SD over E''_max for E'').
    pub noise_fraction: f64,
    pub scans: Vec<ScanSpec>,
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
    /// `ta-universal` (UTF-16 text, as exported), `trios-text`, `trios-excel` (.xlsx) or
    /// `trios-json`.
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
