//! agingflow-activation-energy: per series (material, series label, strain) and aging time
//! measured at two or more temperatures, tau_KWW(T) = tau_E exp(E_a / (R T)): E_a from the slope
//! of ln tau against 1/T, weighted by 1/SE(ln tau)^2, and E_a / (R T_g).
//!
//! The interval: the SEs of ln tau are propagated (SE of the slope sqrt(1 / S_xx), weights
//! 1/SE^2, a normal interval); where the scatter about the line exceeds them (its chi-square on
//! n - 2 degrees of freedom significant at 5 %, three or more temperatures), the SE is scaled by
//! the root of the reduced chi-square and the interval uses Student's t on n - 2 degrees of
//! freedom. Two temperatures give a line
//! whose straightness nothing tests: flagged `two_temperatures`. A tau extrapolated beyond its
//! window (`tau_extrapolated` on a fit) is flagged too.
//!
//! T_g: the manifest's value; where the manifest leaves it out, the mean onset T_g of the
//! material's as-cast DSC scans in `transitions` (all its DSC scans when none is as-cast), and
//! `tg_source` says which. Both present and more than 5 K apart: flag `tg_disagrees_with_dsc`.
//!
//! Aging times are matched across temperatures within a relative `tolerance` (1 % by default):
//! tests whose aging times differ by less than that are one aging time (reported as the
//! smallest). Only fits with status `ok` are used.

use std::collections::BTreeMap;
use std::path::PathBuf;

use physics::GAS_CONSTANT_J_MOL_K;
use tables::{ActivationEnergy, KwwFit, Provenance, SeriesKey, Transition, read_rows, write_rows};

#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub kww_fits: PathBuf,
    pub activation_energy: PathBuf,
    /// The thermal stage's transitions (optional): T_g from DSC where the manifest has none.
    pub transitions: Option<PathBuf>,
    /// Relative tolerance for matching aging times across temperatures.
    pub tolerance: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum EaError {
    #[error(transparent)]
    Table(#[from] tables::TableError),
}

/// A weighted straight line y = a + b x with errors scaled by the residual variance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub intercept: f64,
    pub slope: f64,
    pub slope_se: f64,
    /// The slope's SE from the weights alone (taken as 1/sigma^2): sqrt(1 / S_xx).
    pub slope_se_known: f64,
    /// Weighted RSS over n - 2 (NaN for n = 2).
    pub chi2_reduced: f64,
    pub r_squared: f64,
    pub n: usize,
}

/// Weighted least squares of y on x (weights 1/sigma^2); the slope's SE is scaled by the reduced
/// chi-square, so it is right whether or not the sigmas are absolute. NaN SE for n = 2.
pub fn weighted_line(x: &[f64], y: &[f64], w: &[f64]) -> Option<Line> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let sw: f64 = w.iter().sum();
    let mx = x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / sw;
    let my = y.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / sw;
    let sxx: f64 = x.iter().zip(w).map(|(a, b)| b * (a - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = x
        .iter()
        .zip(y)
        .zip(w)
        .map(|((a, c), b)| b * (a - mx) * (c - my))
        .sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let rss: f64 = x
        .iter()
        .zip(y)
        .zip(w)
        .map(|((a, c), b)| b * (c - intercept - slope * a).powi(2))
        .sum();
    let syy: f64 = y.iter().zip(w).map(|(c, b)| b * (c - my).powi(2)).sum();
    let slope_se = if n > 2 {
        (rss / (n - 2) as f64 / sxx).sqrt()
    } else {
        f64::NAN
    };
    Some(Line {
        intercept,
        slope,
        slope_se,
        slope_se_known: (1.0 / sxx).sqrt(),
        chi2_reduced: if n > 2 {
            rss / (n - 2) as f64
        } else {
            f64::NAN
        },
        r_squared: if syy > 0.0 { 1.0 - rss / syy } else { 1.0 },
        n,
    })
}

/// How far (K) the manifest's T_g may lie from the DSC onset before it is flagged.
pub const TG_TOLERANCE_K: f64 = 5.0;

/// Per material, the mean DSC onset T_g of its as-cast scans (or of all its scans when none is).
pub fn dsc_tg(transitions: &[Transition]) -> BTreeMap<String, f64> {
    let mut by: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for r in transitions
        .iter()
        .filter(|r| r.kind == "dsc" && r.transition == "tg_onset" && r.status == tables::Status::Ok)
    {
        if let Some(t) = r.temperature_k {
            let e = by.entry(r.material.clone()).or_default();
            if r.aging_time_s.is_none_or(|a| a == 0.0) {
                e.0.push(t);
            } else {
                e.1.push(t);
            }
        }
    }
    by.into_iter()
        .map(|(m, (cast, aged))| {
            let v = if cast.is_empty() { aged } else { cast };
            (m, v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect()
}

/// Every material and matched aging time's Arrhenius row (T_g from the fits).
pub fn activation_energies(fits: &[KwwFit], tolerance: f64) -> Vec<ActivationEnergy> {
    activation_energies_with_tg(fits, tolerance, &BTreeMap::new())
}

/// [`activation_energies`] with the DSC T_g per material ([`dsc_tg`]).
pub fn activation_energies_with_tg(
    fits: &[KwwFit],
    tolerance: f64,
    dsc: &BTreeMap<String, f64>,
) -> Vec<ActivationEnergy> {
    let mut ok: Vec<&KwwFit> = fits
        .iter()
        .filter(|f| f.status == tables::Status::Ok && f.tau_s.is_some_and(|t| t > 0.0))
        .collect();
    let series = |f: &KwwFit| SeriesKey::new(&f.material, &f.series, f.strain, 0.0);
    ok.sort_by(|a, b| {
        series(a)
            .cmp(&series(b))
            .then(a.aging_time_s.total_cmp(&b.aging_time_s))
    });
    let mut out = Vec::new();
    let mut i = 0;
    while i < ok.len() {
        let (key, t_a) = (series(ok[i]), ok[i].aging_time_s);
        let material = &key.material;
        let mut j = i;
        while j < ok.len()
            && series(ok[j]) == key
            && (ok[j].aging_time_s - t_a).abs() <= tolerance * t_a.abs().max(1e-9)
        {
            j += 1;
        }
        let group = &ok[i..j];
        i = j;
        let mut temps: Vec<f64> = group.iter().map(|f| f.temperature_k).collect();
        temps.sort_by(f64::total_cmp);
        temps.dedup();
        let (tg, tg_source, disagrees) = match (group[0].tg_k, dsc.get(material)) {
            (Some(m), Some(d)) => (Some(m), "manifest", (m - d).abs() > TG_TOLERANCE_K),
            (Some(m), None) => (Some(m), "manifest", false),
            (None, Some(d)) => (Some(*d), "dsc", false),
            (None, None) => (None, "", false),
        };
        let mut row = ActivationEnergy {
            material: material.clone(),
            series: key.series.clone(),
            strain: key.strain(),
            aging_time_s: t_a,
            tg_k: tg,
            tg_source: tg_source.into(),
            flags: if disagrees {
                "tg_disagrees_with_dsc".into()
            } else {
                String::new()
            },
            n_temperatures: temps.len() as i64,
            status: tables::Status::Ok.into(),
            ..Default::default()
        };
        if temps.len() < 2 {
            row.status = "single_temperature".into();
            out.push(row);
            continue;
        }
        let x: Vec<f64> = group.iter().map(|f| 1.0 / f.temperature_k).collect();
        let y: Vec<f64> = group.iter().filter_map(|f| f.tau_s.map(f64::ln)).collect();
        // Weights from the SE of ln tau (tau_se / tau); equal weights where a fit has none.
        let w: Vec<f64> = group
            .iter()
            .map(|f| match (f.tau_se_s, f.tau_s) {
                (Some(se), Some(t)) if se > 0.0 && se.is_finite() => (t / se).powi(2),
                _ => 1.0,
            })
            .collect();
        let Some(line) = weighted_line(&x, &y, &w) else {
            row.status = "degenerate".into();
            out.push(row);
            continue;
        };
        let to_kj = GAS_CONSTANT_J_MOL_K / 1e3;
        let ea = line.slope * to_kj;
        row.ea_kj_mol = Some(ea);
        row.ea_over_rtg = tg.map(|tg| ea * 1e3 / (GAS_CONSTANT_J_MOL_K * tg));
        row.ln_tau_e = Some(line.intercept);
        row.r_squared = Some(line.r_squared);
        let mut flags: Vec<&str> = Vec::new();
        if disagrees {
            flags.push("tg_disagrees_with_dsc");
        }
        if tg.is_none() {
            flags.push("no_tg");
        }
        // The scatter exceeds the SEs when its chi-square is significant at 5 %.
        let scaled = line.n > 2
            && fit::stats::chi2_sf(line.chi2_reduced * (line.n - 2) as f64, (line.n - 2) as f64)
                < 0.05;
        let se = if scaled {
            line.slope_se
        } else {
            line.slope_se_known
        } * to_kj;
        let q = if scaled {
            fit::stats::t_quantile(0.975, (line.n - 2) as f64)
        } else {
            1.959_963_984_540_054
        };
        if temps.len() == 2 {
            flags.push("two_temperatures");
        }
        if se.is_finite() {
            row.ea_se_kj_mol = Some(se);
            row.ea_ci_low_kj_mol = Some(ea - q * se);
            row.ea_ci_high_kj_mol = Some(ea + q * se);
        }
        if group.iter().any(|f| f.flags.contains("tau_extrapolated")) {
            flags.push("tau_extrapolated");
        }
        flags.sort_unstable();
        row.flags = flags.join(",");
        out.push(row);
    }
    out
}

/// Reads kww_fits, writes activation_energy; returns the number of rows with an E_a.
pub fn run(p: &Params) -> Result<usize, EaError> {
    tables::start_stage(&[&p.activation_energy])?;
    let (fits, _) = read_rows::<KwwFit>(&p.kww_fits)?;
    let dsc = match &p.transitions {
        Some(path) => {
            stage_cli::report_read(path);
            dsc_tg(&read_rows::<Transition>(path)?.0)
        }
        None => BTreeMap::new(),
    };
    for (m, t) in &dsc {
        tracing::info!("{m}: DSC onset T_g {t:.1} K");
    }
    let rows = activation_energies_with_tg(&fits, p.tolerance, &dsc);
    let n = rows.iter().filter(|r| r.ea_kj_mol.is_some()).count();
    if rows.is_empty() {
        tracing::warn!("no usable fit: empty activation_energy written");
    }
    write_rows(
        &p.activation_energy,
        rows,
        &Provenance::new(
            "activation-energy",
            serde_json::json!({"tolerance": p.tolerance}),
        ),
    )?;
    Ok(n)
}
