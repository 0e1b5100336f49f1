//! The activation-energy and model figures.

use super::*;

pub(super) fn activation_energy(inp: &Inputs) -> Entry {
    let (name, title) = ("activation_energy", "Activation energy against aging time");
    let Some(rows) = &inp.activation_energy else {
        return missing(
            name,
            title,
            "No activation energies: the activation_energy table is absent.".into(),
        );
    };
    let rows: Vec<&tables::ActivationEnergy> =
        rows.iter().filter(|r| r.ea_kj_mol.is_some()).collect();
    if rows.is_empty() {
        return missing(name, title, "No activation energy: the campaign measures each aging time at a single temperature (two or more are needed).".into());
    }
    let mut by: BTreeMap<SeriesKey, Vec<&tables::ActivationEnergy>> = BTreeMap::new();
    for r in &rows {
        by.entry(SeriesKey::new(&r.material, &r.series, r.strain, 0.0))
            .or_default()
            .push(r);
    }
    let keys: Vec<SeriesKey> = by.keys().cloned().collect();
    let mut series = Vec::new();
    let mut bands = Vec::new();
    for (k, (key, v)) in by.iter().enumerate() {
        let m = who(&keys, key);
        let mut s = Series::new(
            m.clone(),
            v.iter()
                .map(|r| (r.aging_time_s, r.ea_kj_mol.unwrap_or(f64::NAN)))
                .collect(),
            Style::LinePoints,
            color(k),
        );
        s.errors = Some(
            v.iter()
                .map(|r| {
                    (
                        r.ea_ci_low_kj_mol.unwrap_or(f64::NAN),
                        r.ea_ci_high_kj_mol.unwrap_or(f64::NAN),
                    )
                })
                .collect(),
        );
        series.push(s);
        if let Some(tg) = v[0].tg_k {
            let rtg = GAS_CONSTANT_J_MOL_K * tg / 1e3;
            let from = if v[0].tg_source == "dsc" {
                ", T_{g} from DSC"
            } else {
                ""
            };
            bands.push((
                22.0 * rtg,
                30.0 * rtg,
                format!("β relaxation 26 ± 4 RT_{{g}} ({m}{from})"),
            ));
        }
    }
    drawn(name, title, "Error bars: 95 % t-intervals (3 or more temperatures). Band: the β relaxation's empirical 26 ± 4 RT_{g}.".into(), vec![Panel { x: axis(T_A, true), y: axis("E_{a} / kJ mol^{-1}", false), series, bands, ..Default::default() }])
}

pub(super) fn model(inp: &Inputs) -> Entry {
    let (name, title) = (
        "model_scenarios",
        "Measured beta against the model's scenarios",
    );
    let Some(curves) = &inp.model_curves else {
        return missing(
            name,
            title,
            "No model comparison: the model_curves table is absent.".into(),
        );
    };
    if curves.is_empty() {
        return missing(name, title, "No material and temperature has the four or more aging times the model comparison needs.".into());
    }
    let curve_key =
        |c: &tables::ModelCurve| SeriesKey::new(&c.material, &c.series, c.strain, c.temperature_k);
    let Some(reference) = reference(inp).or_else(|| curves.first().map(curve_key)) else {
        return missing(name, title, "No model curves.".into());
    };
    let (m, t) = (reference.label(), reference.temperature_k());
    let here: Vec<&tables::ModelCurve> = curves
        .iter()
        .filter(|c| curve_key(c) == reference)
        .collect();
    if here.is_empty() {
        return missing(
            name,
            title,
            format!("No model comparison for {m} at {t} K."),
        );
    }
    let mut series = Vec::new();
    let mut measured: Vec<(f64, f64)> = here
        .iter()
        .filter(|c| c.scenario == "combined")
        .filter_map(|c| Some((c.aging_time_s, c.beta_measured?)))
        .collect();
    measured.sort_by(|a, b| a.0.total_cmp(&b.0));
    series.push(Series::new("measured", measured, Style::Points, PALETTE[6]));
    for (k, s) in ["transient", "broadening", "combined"].iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = here
            .iter()
            .filter(|c| c.scenario == *s)
            .filter_map(|c| Some((c.aging_time_s, c.beta_model?)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        series.push(Series::new(*s, pts, Style::Line, color(k)));
    }
    drawn(
        name,
        title,
        format!(
            "{m} at {t} K: each scenario fitted to β(t_{{a}}) and τ(t_{{a}}), its curves refitted with KWW over the experiment's window."
        ),
        vec![Panel {
            x: axis(T_A, true),
            y: axis("β", false),
            series,
            ..Default::default()
        }],
    )
}
