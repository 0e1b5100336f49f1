//! Every table of docs/tables.md: columns, units and sort keys, defined once.
//!
//! Units: `s`, `K`, `MPa`, `GPa`, `nm`, `uN`, `kJ/mol`, `Hz`, `W/g`, `K/min`, `mg`; `1` marks a dimensionless float; text and
//! counts have none. Result columns that may not exist for a row (a failed fit, no bootstrap) are
//! nullable; `status` then says why.

use crate::table::{curve_table, row_table};

curve_table! {
    /// One stress-relaxation test as recorded by the instrument (`relaxation_raw`).
    RelaxationRaw = "relaxation_raw", id test_id, keys [material, temperature_k, aging_time_s, test_id] {
        test_id: String [""],
        material: String [""],
        /// Glass transition temperature of the material, from the manifest (null when the
        /// manifest leaves it to a DSC scan).
        tg_k: Option<f64> ["K"],
        /// Aging and test temperature T_a.
        temperature_k: f64 ["K"],
        /// Aging time t_a before the strain step.
        aging_time_s: f64 ["s"],
        /// Applied step strain (fraction), from the manifest or the strain signal.
        strain: Option<f64> ["1"],
        /// The manifest entry's `series:` label (null when it gives none).
        series: Option<String> [""],
        /// The raw file, relative to the manifest.
        source_file: String [""],
        /// The manifest's `step_s`: when the strain step ended on the file's time axis, for
        /// exports that start recording after the step (null: located from the data).
        step_s: Option<f64> ["s"],
        /// What ingest noticed about the file, comma-separated: `temperature_unit_assumed_k`,
        /// `temperature_unit_assumed_c` (a temperature column without a unit),
        /// `temperature_mismatch` (measured median off the manifest's temperature by more than
        /// the tolerance). Empty when nothing was.
        flags: String [""],
    } samples {
        /// Time as recorded (seconds since the file's zero).
        time_s: f64 ["s"],
        stress_mpa: Option<f64> ["MPa"],
        temperature_meas_k: Option<f64> ["K"],
        /// Measured strain (fraction).
        strain_meas: Option<f64> ["1"],
    }
}

curve_table! {
    /// The kept points of a relaxation test after step detection (`relaxation_clean`).
    RelaxationClean = "relaxation_clean", id test_id, keys [material, temperature_k, aging_time_s, test_id] {
        test_id: String [""],
        material: String [""],
        tg_k: Option<f64> ["K"],
        temperature_k: f64 ["K"],
        aging_time_s: f64 ["s"],
        strain: Option<f64> ["1"],
        series: Option<String> [""],
        /// Standard error of the located end of the strain step (t' = 0).
        step_end_se_s: Option<f64> ["s"],
        /// Median interval between recorded samples.
        sample_interval_s: Option<f64> ["s"],
    } samples {
        /// t', the time since the end of the strain step.
        time_s: f64 ["s"],
        stress_mpa: f64 ["MPa"],
        /// stress / sigma0.
        phi: f64 ["1"],
        /// Recorded samples averaged into this point (1 without resampling): its variance is
        /// the per-sample variance over this count.
        n_samples: i64 [""],
    }
}

row_table! {
    /// One row per relaxation test: what cleaning found (`relaxation_tests`).
    RelaxationTest = "relaxation_tests", keys [material, temperature_k, aging_time_s, test_id] {
        test_id: String [""],
        material: String [""],
        tg_k: Option<f64> ["K"],
        temperature_k: f64 ["K"],
        aging_time_s: f64 ["s"],
        strain: Option<f64> ["1"],
        sigma0_mpa: Option<f64> ["MPa"],
        series: Option<String> [""],
        /// End of the strain step on the recorded time axis (ramp and plateau intersected).
        step_end_s: Option<f64> ["s"],
        /// Its standard error.
        step_end_se_s: Option<f64> ["s"],
        /// Median interval between recorded samples.
        sample_interval_s: Option<f64> ["s"],
        n_raw: i64 [""],
        n_kept: i64 [""],
        /// `ok` or the first reason the test is not usable.
        status: String [""],
        /// Comma-separated, sorted warnings.
        flags: String [""],
    }
}

row_table! {
    /// One KWW fit per relaxation test (`kww_fits`).
    KwwFit = "kww_fits", keys [material, series, strain, temperature_k, aging_time_s, test_id] {
        test_id: String [""],
        material: String [""],
        /// The manifest's `series:` label (null when none).
        series: Option<String> [""],
        /// The nominal step strain of the test's group (strains within 10 % pooled).
        strain: Option<f64> ["1"],
        temperature_k: f64 ["K"],
        aging_time_s: f64 ["s"],
        /// `kww`, `kww_offset` or `kww_offset_t0`.
        model: String [""],
        beta: Option<f64> ["1"],
        beta_se: Option<f64> ["1"],
        tau_s: Option<f64> ["s"],
        tau_se_s: Option<f64> ["s"],
        amplitude: Option<f64> ["1"],
        offset: Option<f64> ["1"],
        /// How the residuals were weighted: `samples` (every recorded sample alike, the default)
        /// or `log-time` (every log-time bin alike).
        weighting: String [""],
        /// beta fitted with log-time weights minus beta with sample weights: on a KWW curve
        /// noise; on one that is not KWW the systematic error of choosing a weighting (flag
        /// `not_kww` where the residuals are autocorrelated and it exceeds twice beta's SE).
        beta_weighting_shift: Option<f64> ["1"],
        /// The linear drift of phi the fit modelled (flag `drift_modelled`), per hour; null when
        /// the data did not call for one.
        drift_per_h: Option<f64> ["1/h"],
        /// Fitted step time relative to the located step end (a bounded nuisance parameter).
        t0_s: Option<f64> ["s"],
        corr_ln_tau_beta: Option<f64> ["1"],
        /// Mean relaxation time (tau/beta) Gamma(1/beta).
        mean_tau_s: Option<f64> ["s"],
        /// Its standard error (delta method from the covariance of ln tau and beta).
        mean_tau_se_s: Option<f64> ["s"],
        beta_ci_low: Option<f64> ["1"],
        beta_ci_high: Option<f64> ["1"],
        tau_ci_low_s: Option<f64> ["s"],
        tau_ci_high_s: Option<f64> ["s"],
        rss: Option<f64> ["1"],
        r_squared: Option<f64> ["1"],
        aic: Option<f64> ["1"],
        bic: Option<f64> ["1"],
        n_points: i64 [""],
        time_min_s: Option<f64> ["s"],
        time_max_s: Option<f64> ["s"],
        tg_k: Option<f64> ["K"],
        n_iterations: i64 [""],
        status: String [""],
        flags: String [""],
    }
}

row_table! {
    /// One segment of the two-stage aging law per material and temperature (`aging_law`).
    AgingLaw = "aging_law", keys [material, series, strain, temperature_k, segment] {
        material: String [""],
        series: Option<String> [""],
        strain: Option<f64> ["1"],
        temperature_k: f64 ["K"],
        /// 1 (initial aging) or 2 (deep aging).
        segment: i64 [""],
        mu: Option<f64> ["1"],
        mu_se: Option<f64> ["1"],
        /// A in tau = A t_a^mu (tau and t_a in seconds).
        prefactor: Option<f64> ["s"],
        aging_time_min_s: Option<f64> ["s"],
        aging_time_max_s: Option<f64> ["s"],
        breakpoint_s: Option<f64> ["s"],
        breakpoint_ci_low_s: Option<f64> ["s"],
        breakpoint_ci_high_s: Option<f64> ["s"],
        /// Aging time where beta peaks (vertex of two half-parabolas in ln t_a fitted to beta
        /// weighted by 1/SE^2), and its 95 % profile interval.
        beta_turning_point_s: Option<f64> ["s"],
        beta_turning_point_ci_low_s: Option<f64> ["s"],
        beta_turning_point_ci_high_s: Option<f64> ["s"],
        beta_max: Option<f64> ["1"],
        /// p-value of an interior maximum of beta(t_a) against a monotone trend (weighted
        /// isotonic against unimodal regression, parametric bootstrap).
        beta_turning_point_p_value: Option<f64> ["1"],
        /// Points (tests) in the segment.
        n_points: i64 [""],
        status: String [""],
        flags: String [""],
    }
}

curve_table! {
    /// One indent's load-displacement curve as recorded (`indentation_raw`).
    IndentationRaw = "indentation_raw", id indent_id, keys [material, temperature_k, aging_time_s, indent_id] {
        indent_id: String [""],
        material: String [""],
        /// Annealing temperature.
        temperature_k: f64 ["K"],
        aging_time_s: f64 ["s"],
        tip_radius_nm: f64 ["nm"],
        source_file: String [""],
    } samples {
        /// Load-function segment (0-based) the point belongs to.
        segment: i64 [""],
        time_s: f64 ["s"],
        depth_nm: f64 ["nm"],
        load_un: f64 ["uN"],
    }
}

row_table! {
    /// One row per indent: Hertz fit, first pop-in, tau_c (`indents`).
    Indent = "indents", keys [material, temperature_k, aging_time_s, indent_id] {
        indent_id: String [""],
        material: String [""],
        temperature_k: f64 ["K"],
        aging_time_s: f64 ["s"],
        tip_radius_nm: f64 ["nm"],
        er_gpa: Option<f64> ["GPa"],
        er_se_gpa: Option<f64> ["GPa"],
        h0_nm: Option<f64> ["nm"],
        hertz_r_squared: Option<f64> ["1"],
        hertz_n_points: i64 [""],
        popin_load_un: Option<f64> ["uN"],
        popin_depth_nm: Option<f64> ["nm"],
        popin_burst_nm: Option<f64> ["nm"],
        tau_c_gpa: Option<f64> ["GPa"],
        /// `ok`, `censored` (no pop-in), `fit_failed`, ...
        status: String [""],
        flags: String [""],
    }
}

row_table! {
    /// The distribution of tau_c per material, temperature and aging time (`tau_c_stats`).
    TauCStats = "tau_c_stats", keys [material, temperature_k, aging_time_s] {
        material: String [""],
        temperature_k: f64 ["K"],
        aging_time_s: f64 ["s"],
        n_indents: i64 [""],
        n_popins: i64 [""],
        n_censored: i64 [""],
        tau_c_mean_gpa: Option<f64> ["GPa"],
        tau_c_std_gpa: Option<f64> ["GPa"],
        /// FWHM of a Gaussian fitted to tau_c / mean.
        tau_c_fwhm: Option<f64> ["1"],
        tau_c_fwhm_se: Option<f64> ["1"],
        weibull_modulus: Option<f64> ["1"],
        weibull_scale_gpa: Option<f64> ["GPa"],
        status: String [""],
        flags: String [""],
    }
}

row_table! {
    /// Arrhenius activation energy per material and aging time (`activation_energy`).
    ActivationEnergy = "activation_energy", keys [material, series, strain, aging_time_s] {
        material: String [""],
        series: Option<String> [""],
        strain: Option<f64> ["1"],
        aging_time_s: f64 ["s"],
        tg_k: Option<f64> ["K"],
        ea_kj_mol: Option<f64> ["kJ/mol"],
        ea_se_kj_mol: Option<f64> ["kJ/mol"],
        ea_ci_low_kj_mol: Option<f64> ["kJ/mol"],
        ea_ci_high_kj_mol: Option<f64> ["kJ/mol"],
        ea_over_rtg: Option<f64> ["1"],
        /// Where tg_k comes from: `manifest`, `dsc` (the mean onset T_g of the material's DSC
        /// scans in `transitions`) or empty when neither gives one.
        tg_source: String [""],
        /// ln of tau_E in seconds.
        ln_tau_e: Option<f64> ["1"],
        n_temperatures: i64 [""],
        r_squared: Option<f64> ["1"],
        status: String [""],
        flags: String [""],
    }
}

row_table! {
    /// A model scenario's beta and tau at one aging time (`model_curves`).
    ModelCurve = "model_curves", keys [material, series, strain, temperature_k, scenario, aging_time_s] {
        /// `transient`, `broadening` or `combined`.
        scenario: String [""],
        material: String [""],
        series: Option<String> [""],
        strain: Option<f64> ["1"],
        temperature_k: f64 ["K"],
        aging_time_s: f64 ["s"],
        beta_model: Option<f64> ["1"],
        tau_model_s: Option<f64> ["s"],
        beta_measured: Option<f64> ["1"],
        tau_measured_s: Option<f64> ["s"],
    }
}

row_table! {
    /// A model scenario fitted to one material and temperature (`model_fits`).
    ModelFit = "model_fits", keys [material, series, strain, temperature_k, scenario] {
        scenario: String [""],
        material: String [""],
        series: Option<String> [""],
        strain: Option<f64> ["1"],
        temperature_k: f64 ["K"],
        /// The fitted parameters as a JSON object.
        params: String [""],
        rss: Option<f64> ["1"],
        aic: Option<f64> ["1"],
        aicc: Option<f64> ["1"],
        bic: Option<f64> ["1"],
        /// Chi-square over its degrees of freedom, residuals in units of the measured SEs.
        chi2_reduced: Option<f64> ["1"],
        /// Probability of a chi-square at least this large if the scenario were right.
        chi2_p_value: Option<f64> ["1"],
        n_points: i64 [""],
        /// 1 for the scenario AICc prefers.
        rank: i64 [""],
        status: String [""],
    }
}

curve_table! {
    /// One DSC scan as recorded (`dsc_raw`); samples in recorded order.
    DscRaw = "dsc_raw", id scan_id, keys [material, scan_id] {
        scan_id: String [""],
        material: String [""],
        /// The manifest's `series:` or `condition:` label (`as-cast`, `aged 77400 s`, ...).
        series: Option<String> [""],
        /// Annealing before the scan: time and temperature (null for an as-cast sample).
        aging_time_s: Option<f64> ["s"],
        aging_temperature_k: Option<f64> ["K"],
        heating_rate_k_min: Option<f64> ["K/min"],
        mass_mg: Option<f64> ["mg"],
        source_file: String [""],
        /// The manifest's `endo:` (`up` or `down`); null: detected by thermal.
        endo: Option<String> [""],
        /// What ingest noticed: `heat_flow_not_normalised` (mW without a mass), ...
        flags: String [""],
    } samples {
        time_s: Option<f64> ["s"],
        temperature_k: f64 ["K"],
        /// Heat flow per mass, in the instrument's sign convention (from W/g, or mW over the
        /// manifest's `mass_mg`).
        heat_flow_w_g: Option<f64> ["W/g"],
        /// Heat flow of the whole sample where the file gives mW and the manifest no mass.
        heat_flow_w: Option<f64> ["W"],
    }
}

curve_table! {
    /// One DMA temperature sweep as recorded (`dma_sweeps_raw`), one or several frequencies.
    DmaSweepRaw = "dma_sweeps_raw", id scan_id, keys [material, scan_id] {
        scan_id: String [""],
        material: String [""],
        series: Option<String> [""],
        aging_time_s: Option<f64> ["s"],
        aging_temperature_k: Option<f64> ["K"],
        heating_rate_k_min: Option<f64> ["K/min"],
        source_file: String [""],
        flags: String [""],
    } samples {
        time_s: Option<f64> ["s"],
        temperature_k: f64 ["K"],
        /// Frequency of this point (the file's column, else the manifest's `frequency_hz`).
        frequency_hz: f64 ["Hz"],
        storage_modulus_mpa: Option<f64> ["MPa"],
        loss_modulus_mpa: Option<f64> ["MPa"],
        tan_delta: Option<f64> ["1"],
    }
}

curve_table! {
    /// A DMA sweep at one frequency on a regular temperature grid (`dma_sweeps`).
    DmaSweep = "dma_sweeps", id curve_id, keys [material, scan_id, frequency_hz] {
        /// `SCAN_ID@FREQUENCYHz`.
        curve_id: String [""],
        scan_id: String [""],
        material: String [""],
        series: Option<String> [""],
        aging_time_s: Option<f64> ["s"],
        frequency_hz: f64 ["Hz"],
        /// The loss modulus at the alpha peak (the normalisation of `loss_norm`).
        loss_max_mpa: Option<f64> ["MPa"],
    } samples {
        temperature_k: f64 ["K"],
        storage_modulus_mpa: Option<f64> ["MPa"],
        loss_modulus_mpa: Option<f64> ["MPa"],
        tan_delta: Option<f64> ["1"],
        /// E''/E''_max.
        loss_norm: Option<f64> ["1"],
        /// The fitted alpha flank and background under the beta relaxation, E''/E''_max.
        alpha_flank_norm: Option<f64> ["1"],
    }
}

row_table! {
    /// One row per scan and transition (`transitions`), and per material the change of the beta
    /// relaxation between conditions and its activation energy.
    Transition = "transitions", keys [material, scan_id, segment, transition, frequency_hz] {
        scan_id: String [""],
        /// DSC: the heating segment of the scan (1, 2, ... in recorded order; heating,
        /// cooling and isothermal segments are found from the temperature signal); null for DMA.
        segment: Option<i64> [""],
        /// DSC: the heat-flow convention used, `up` or `down` (endotherm direction), detected
        /// from the glass-transition step or set by the manifest's `endo:`; null for DMA.
        endo: Option<String> [""],
        material: String [""],
        series: Option<String> [""],
        aging_time_s: Option<f64> ["s"],
        /// `dsc` or `dma`.
        kind: String [""],
        /// `tg_onset`, `tg_midpoint`, `tg_end`, `crystallization_onset`, `alpha_peak_loss`,
        /// `alpha_peak_tan_delta`, `tg_storage_onset`, `beta_peak`, `beta_intensity_change`,
        /// `beta_activation`.
        transition: String [""],
        frequency_hz: Option<f64> ["Hz"],
        temperature_k: Option<f64> ["K"],
        temperature_se_k: Option<f64> ["K"],
        /// beta_peak: area of E''/E''_max above the alpha flank (K); beta_intensity_change: the
        /// aged over the as-cast intensity minus 1.
        intensity: Option<f64> ["1"],
        intensity_se: Option<f64> ["1"],
        /// beta_activation: Arrhenius energy of the beta peak temperature against ln f.
        energy_kj_mol: Option<f64> ["kJ/mol"],
        energy_se_kj_mol: Option<f64> ["kJ/mol"],
        /// The construction lines (DSC heat flow in W/g or DMA E' in MPa against T in K):
        /// the baseline and the inflection tangent whose intersection is the temperature.
        baseline_intercept: Option<f64> ["1"],
        baseline_slope_per_k: Option<f64> ["1"],
        tangent_intercept: Option<f64> ["1"],
        tangent_slope_per_k: Option<f64> ["1"],
        status: String [""],
        flags: String [""],
    }
}

curve_table! {
    /// The measured relaxation-time spectrum of one curve on its log grid (`spectra`): phi(t')
    /// = sum_k h_k exp(-t'/tau_k) d(ln tau) (+ an offset), h the density per unit ln tau.
    Spectrum = "spectra", id test_id, keys [material, series, strain, temperature_k, aging_time_s, test_id] {
        test_id: String [""],
        material: String [""],
        series: Option<String> [""],
        /// The nominal step strain (strains within 10 % pooled, as kww_fits).
        strain: Option<f64> ["1"],
        temperature_k: f64 ["K"],
        aging_time_s: f64 ["s"],
    } samples {
        /// ln of tau in seconds.
        ln_tau: f64 ["1"],
        /// The spectrum, per unit ln tau (its sum times the grid step is the relaxing fraction).
        h: f64 ["1"],
        /// Lower end of the pointwise 95 % band of h: h - 1.96 SD under the regularised
        /// solution's posterior at the chosen lambda, clipped at 0 (`--bands posterior`, the
        /// default), or the 2.5 % quantile of a seeded residual bootstrap (`--bands bootstrap`);
        /// null with `--bands none`.
        h_low: Option<f64> ["1"],
        h_high: Option<f64> ["1"],
        /// The distribution the curve's KWW fit implies at this point, times its amplitude.
        h_kww: Option<f64> ["1"],
    }
}

row_table! {
    /// One row per curve: the moments of its spectrum over ln tau (`spectrum_moments`).
    SpectrumMoments = "spectrum_moments", keys [material, series, strain, temperature_k, aging_time_s, test_id] {
        test_id: String [""],
        material: String [""],
        series: Option<String> [""],
        strain: Option<f64> ["1"],
        temperature_k: f64 ["K"],
        aging_time_s: f64 ["s"],
        /// The centre: mean of ln tau (tau in s) weighted by h.
        mean_ln_tau: Option<f64> ["1"],
        /// Its standard error: the posterior covariance by the delta method (`--bands posterior`)
        /// or the bootstrap replicates' SD (`--bands bootstrap`).
        mean_ln_tau_se: Option<f64> ["1"],
        /// The width: standard deviation of ln tau.
        sd_ln_tau: Option<f64> ["1"],
        sd_ln_tau_se: Option<f64> ["1"],
        skewness: Option<f64> ["1"],
        /// Peaks of h with a dip of at least 20 % of the lower one between them, both peaks and
        /// the dip inside the measured window; null when the window cuts the distribution
        /// (flag `peaks_not_resolved`).
        n_peaks: Option<i64> [""],
        /// The relaxing fraction sum h d(ln tau).
        mass: Option<f64> ["1"],
        /// The fitted residual-stress offset, where the KWW fit has one.
        offset: Option<f64> ["1"],
        /// The share of the mass at tau outside the measured window [t'_min, t'_max].
        beyond_window_fraction: Option<f64> ["1"],
        /// The KWW fit's implied centre ln tau_K + gamma (1 - 1/beta) and width
        /// sqrt((pi^2/6)(1/beta^2 - 1)).
        kww_mean_ln_tau: Option<f64> ["1"],
        kww_sd_ln_tau: Option<f64> ["1"],
        /// The regularisation weight (objective: weighted mean square residual + lambda times
        /// the sum of squared second differences of h).
        lambda: Option<f64> ["1"],
        /// How lambda was chosen: `gcv` or `fixed`.
        criterion: String [""],
        /// Degrees of freedom of the regularised fit (trace of the influence matrix).
        dof: Option<f64> ["1"],
        /// Root weighted mean square residual of phi.
        rss: Option<f64> ["1"],
        n_points: i64 [""],
        n_grid: i64 [""],
        time_min_s: Option<f64> ["s"],
        time_max_s: Option<f64> ["s"],
        status: String [""],
        flags: String [""],
    }
}

row_table! {
    /// The centre and width of D(ln tau) per series and aging time, measured (`spectrum`),
    /// implied by the KWW fits (`kww`) and by each model scenario (`spectrum_series`).
    SpectrumSeries = "spectrum_series", keys [material, series, strain, temperature_k, source, aging_time_s] {
        material: String [""],
        series: Option<String> [""],
        strain: Option<f64> ["1"],
        temperature_k: f64 ["K"],
        /// `spectrum`, `kww`, `transient`, `broadening` or `combined`.
        source: String [""],
        aging_time_s: f64 ["s"],
        /// Mean of ln tau (tau in s), weighted over the curves at this aging time by 1/SE^2.
        centre_ln_tau: Option<f64> ["1"],
        centre_se: Option<f64> ["1"],
        /// Standard deviation of ln tau.
        width_ln_tau: Option<f64> ["1"],
        width_se: Option<f64> ["1"],
        n_curves: i64 [""],
    }
}

row_table! {
    /// How the centre and the width of D move with ln t_a per series and source
    /// (`spectrum_trends`): weighted line against ln t_a.
    SpectrumTrend = "spectrum_trends", keys [material, series, strain, temperature_k, source, quantity] {
        material: String [""],
        series: Option<String> [""],
        strain: Option<f64> ["1"],
        temperature_k: f64 ["K"],
        source: String [""],
        /// `centre` or `width`.
        quantity: String [""],
        /// Change of the quantity per unit ln t_a.
        slope: Option<f64> ["1"],
        slope_se: Option<f64> ["1"],
        slope_ci_low: Option<f64> ["1"],
        slope_ci_high: Option<f64> ["1"],
        /// slope times the span of ln t_a: the change over the series.
        change: Option<f64> ["1"],
        /// Two-sided p-value of a zero slope.
        p_value: Option<f64> ["1"],
        /// 1 when the interval excludes zero and the change exceeds the stated threshold
        /// (0.1 in ln tau for the centre, 10 % for the width).
        moves: i64 [""],
        /// Per series and source: `shift`, `broadening`, `shift_and_broadening` or `no_change`.
        pattern: String [""],
        n_aging_times: i64 [""],
        status: String [""],
        flags: String [""],
    }
}

/// The columns of a table, by table name (what `agingflow diff` checks a `--fail-on` rule's name
/// against).
pub fn columns_of(table: &str) -> Option<Vec<crate::ColumnDef>> {
    use crate::{CurveTable, RowTable};
    Some(match table {
        RelaxationRaw::NAME => RelaxationRaw::columns(),
        RelaxationClean::NAME => RelaxationClean::columns(),
        RelaxationTest::NAME => RelaxationTest::columns(),
        KwwFit::NAME => KwwFit::columns(),
        AgingLaw::NAME => AgingLaw::columns(),
        IndentationRaw::NAME => IndentationRaw::columns(),
        Indent::NAME => Indent::columns(),
        TauCStats::NAME => TauCStats::columns(),
        ActivationEnergy::NAME => ActivationEnergy::columns(),
        ModelCurve::NAME => ModelCurve::columns(),
        ModelFit::NAME => ModelFit::columns(),
        DscRaw::NAME => DscRaw::columns(),
        DmaSweepRaw::NAME => DmaSweepRaw::columns(),
        DmaSweep::NAME => DmaSweep::columns(),
        Transition::NAME => Transition::columns(),
        Spectrum::NAME => Spectrum::columns(),
        SpectrumMoments::NAME => SpectrumMoments::columns(),
        SpectrumSeries::NAME => SpectrumSeries::columns(),
        SpectrumTrend::NAME => SpectrumTrend::columns(),
        _ => return None,
    })
}

/// The key columns of a table, by table name (what `agingflow check` prints for a failing row).
pub fn keys_of(table: &str) -> Option<&'static [&'static str]> {
    use crate::{CurveTable, RowTable};
    Some(match table {
        RelaxationRaw::NAME => RelaxationRaw::KEYS,
        RelaxationClean::NAME => RelaxationClean::KEYS,
        RelaxationTest::NAME => RelaxationTest::KEYS,
        KwwFit::NAME => KwwFit::KEYS,
        AgingLaw::NAME => AgingLaw::KEYS,
        IndentationRaw::NAME => IndentationRaw::KEYS,
        Indent::NAME => Indent::KEYS,
        TauCStats::NAME => TauCStats::KEYS,
        ActivationEnergy::NAME => ActivationEnergy::KEYS,
        ModelCurve::NAME => ModelCurve::KEYS,
        ModelFit::NAME => ModelFit::KEYS,
        DscRaw::NAME => DscRaw::KEYS,
        DmaSweepRaw::NAME => DmaSweepRaw::KEYS,
        DmaSweep::NAME => DmaSweep::KEYS,
        Transition::NAME => Transition::KEYS,
        Spectrum::NAME => Spectrum::KEYS,
        SpectrumMoments::NAME => SpectrumMoments::KEYS,
        SpectrumSeries::NAME => SpectrumSeries::KEYS,
        SpectrumTrend::NAME => SpectrumTrend::KEYS,
        _ => return None,
    })
}
