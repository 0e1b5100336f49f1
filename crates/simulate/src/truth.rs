//! What a simulated campaign's `truth.json` records: every file's true parameters and the laws they follow.

use super::*;

/// The truth of one DSC scan.
#[derive(Debug, Clone, Serialize)]
pub struct DscRecord {
    pub scan_id: String,
    pub file: String,
    pub format: String,
    pub material: String,
    pub condition: String,
    pub aging_time_s: Option<f64>,
    #[serde(flatten)]
    pub truth: thermal::DscTruth,
}

/// The truth of one DMA sweep, per frequency.
#[derive(Debug, Clone, Serialize)]
pub struct DmaRecord {
    pub scan_id: String,
    pub file: String,
    pub format: String,
    pub material: String,
    pub condition: String,
    pub aging_time_s: Option<f64>,
    /// The beta relaxation's Arrhenius energy (the same at every frequency).
    pub beta_energy_kj_mol: f64,
    pub frequencies: Vec<thermal::DmaTruth>,
}

/// The truth of one relaxation test, as written to truth.json.
#[derive(Debug, Clone, Serialize)]
pub struct RelaxRecord {
    pub test_id: String,
    pub file: String,
    pub format: String,
    pub material: String,
    pub tg_k: f64,
    pub temperature_k: f64,
    pub aging_time_s: f64,
    pub strain: f64,
    pub beta: f64,
    pub tau_s: f64,
    pub ea_kj_mol: f64,
    pub sigma0_mpa: f64,
    pub amplitude: f64,
    pub offset: f64,
    pub step_end_s: f64,
    pub n_points: usize,
    /// The series label of the manifest entry (None when the spec gives none).
    pub series: Option<String>,
    /// The instrument settings of this test (drawn per test where the spec gives a range).
    pub sampling_s: f64,
    pub noise_mpa: f64,
    pub ramp_s: f64,
    pub equilibration_s: f64,
    pub drift_mpa_per_h: f64,
}

/// The truth of one indent.
#[derive(Debug, Clone, Serialize)]
pub struct IndentRecord {
    pub indent_id: String,
    pub file: String,
    pub format: String,
    pub material: String,
    pub temperature_k: f64,
    pub aging_time_s: f64,
    pub tip_radius_nm: f64,
    pub er_gpa: f64,
    pub h0_nm: f64,
    pub popin: bool,
    pub popin_load_un: Option<f64>,
    pub popin_depth_nm: Option<f64>,
    pub burst_nm: Option<f64>,
    /// tau_c from the noise-free pop-in load (None when censored).
    pub tau_c_gpa: Option<f64>,
    pub n_points: usize,
    pub segment_points: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupRecord {
    pub material: String,
    pub temperature_k: f64,
    pub aging_time_s: f64,
    pub tau_c_mean_gpa: f64,
    pub tau_c_fwhm: f64,
    pub n_indents: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LawRecord {
    pub material: String,
    pub series: Option<String>,
    pub strain: f64,
    pub temperature_k: f64,
    pub breakpoint_s: f64,
    pub mu1: f64,
    pub mu2: f64,
    pub beta_turning_point_s: f64,
    pub beta_max: f64,
}

/// truth.json.
#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    pub campaign: String,
    pub seed: u64,
    pub scale: usize,
    pub aging_law: Vec<LawRecord>,
    pub relaxation: Vec<RelaxRecord>,
    pub tau_c_groups: Vec<GroupRecord>,
    pub indentation: Vec<IndentRecord>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dsc: Vec<DscRecord>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dma_sweeps: Vec<DmaRecord>,
}

/// What a run produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub relaxation_files: usize,
    pub indentation_files: usize,
    pub thermal_files: usize,
    pub bytes: u64,
}
