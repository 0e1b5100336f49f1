//! The headline numbers per material and temperature, as JSON and Markdown.

use std::collections::BTreeMap;

use tables::SeriesKey;

use serde_json::{Value, json};

use crate::Inputs;

/// A number rounded to 5 significant digits (stable across tiny floating-point differences).
fn r(x: f64) -> Value {
    if !x.is_finite() {
        return Value::Null;
    }
    if x == 0.0 {
        return json!(0.0);
    }
    let digits = 5 - 1 - x.abs().log10().floor() as i32;
    let f = 10f64.powi(digits);
    json!((x * f).round() / f)
}

fn ro(x: Option<f64>) -> Value {
    x.map(r).unwrap_or(Value::Null)
}

/// A trend of values ordered by aging time, in words.
pub fn trend(values: &[f64], rel_tol: f64, narrowing: bool) -> &'static str {
    if values.len() < 3 {
        return "too few aging times";
    }
    let (imin, _) =
        values.iter().enumerate().fold(
            (0, f64::INFINITY),
            |a, (i, v)| if *v < a.1 { (i, *v) } else { a },
        );
    let (imax, vmax) =
        values.iter().enumerate().fold(
            (0, f64::NEG_INFINITY),
            |a, (i, v)| if *v > a.1 { (i, *v) } else { a },
        );
    let last = values.len() - 1;
    if narrowing {
        if imin > 0 && imin < last {
            return "narrows then broadens";
        }
        return if imin == last { "narrows" } else { "broadens" };
    }
    if imax > 0
        && values[imax..]
            .iter()
            .all(|v| (v / vmax - 1.0).abs() <= rel_tol)
        && values[0] < vmax * (1.0 - rel_tol)
    {
        return "rises then plateaus";
    }
    if imax == last {
        "rises"
    } else if imax == 0 {
        "falls"
    } else {
        "rises then falls"
    }
}

/// summary.json.
pub fn summary(inp: &Inputs) -> Value {
    // One group per series (material, series label, strain, temperature): two strains or two
    // labelled series are never pooled into one sentence.
    let mut groups: BTreeMap<SeriesKey, serde_json::Map<String, Value>> = BTreeMap::new();
    let entry = |g: &mut BTreeMap<SeriesKey, serde_json::Map<String, Value>>,
                 k: &SeriesKey|
     -> serde_json::Map<String, Value> {
        g.remove(k).unwrap_or_else(|| {
            let mut e = serde_json::Map::new();
            e.insert("material".into(), json!(k.material));
            if let Some(sr) = &k.series {
                e.insert("series".into(), json!(sr));
            }
            if let Some(st) = k.strain() {
                e.insert("strain".into(), r(st));
            }
            e.insert("temperature_k".into(), r(k.temperature_k()));
            e
        })
    };
    if let Some(law) = &inp.aging_law {
        for l in law {
            let key = SeriesKey::new(&l.material, &l.series, l.strain, l.temperature_k);
            let mut e = entry(&mut groups, &key);
            e.insert("beta_turning_point_s".into(), ro(l.beta_turning_point_s));
            e.insert(
                "beta_turning_point_ci_s".into(),
                json!([
                    ro(l.beta_turning_point_ci_low_s),
                    ro(l.beta_turning_point_ci_high_s)
                ]),
            );
            e.insert("beta_max".into(), ro(l.beta_max));
            e.insert(
                "beta_turning_point_p_value".into(),
                ro(l.beta_turning_point_p_value),
            );
            e.insert(format!("mu{}", l.segment), ro(l.mu));
            e.insert(format!("mu{}_se", l.segment), ro(l.mu_se));
            e.insert("breakpoint_s".into(), ro(l.breakpoint_s));
            e.insert(
                "breakpoint_ci_s".into(),
                json!([ro(l.breakpoint_ci_low_s), ro(l.breakpoint_ci_high_s)]),
            );
            e.insert("aging_law_status".into(), json!(l.status));
            groups.insert(key, e);
        }
    }
    // E_a per stage: the mean of the activation energies before and after the breakpoint of the
    // material's reference temperature (the one with the most aging times).
    if let Some(ea) = &inp.activation_energy {
        let keys: Vec<SeriesKey> = groups.keys().cloned().collect();
        for key in keys {
            let bp = groups
                .get(&key)
                .and_then(|e| e.get("breakpoint_s"))
                .and_then(Value::as_f64);
            let rows: Vec<&tables::ActivationEnergy> = ea
                .iter()
                .filter(|r| {
                    SeriesKey::new(&r.material, &r.series, r.strain, 0.0)
                        == key.without_temperature()
                        && r.ea_kj_mol.is_some()
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            let stage = |sel: &dyn Fn(f64) -> bool| {
                let v: Vec<f64> = rows
                    .iter()
                    .filter(|r| sel(r.aging_time_s))
                    .filter_map(|r| r.ea_kj_mol)
                    .collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            };
            if let Some(e) = groups.get_mut(&key) {
                match bp {
                    Some(b) => {
                        e.insert("ea_initial_kj_mol".into(), ro(stage(&|t| t <= b)));
                        e.insert("ea_deep_kj_mol".into(), ro(stage(&|t| t > b)));
                    }
                    None => {
                        e.insert("ea_kj_mol".into(), ro(stage(&|_| true)));
                    }
                }
            }
        }
    }
    if let Some(stats) = &inp.tau_c_stats {
        let mut by: BTreeMap<(String, u64), Vec<&tables::TauCStats>> = BTreeMap::new();
        for s in stats.iter().filter(|s| s.tau_c_mean_gpa.is_some()) {
            by.entry((s.material.clone(), s.temperature_k.to_bits()))
                .or_default()
                .push(s);
        }
        for ((m, tb), v) in by {
            // Indentation has no series: its numbers join every series of the material at that
            // temperature, or a group of their own.
            let mut keys: Vec<SeriesKey> = groups
                .keys()
                .filter(|k| k.material == m && k.temperature_k().to_bits() == tb)
                .cloned()
                .collect();
            if keys.is_empty() {
                keys.push(SeriesKey::new(&m, &None, None, f64::from_bits(tb)));
            }
            for key in keys {
                let mut e = entry(&mut groups, &key);
                let means: Vec<f64> = v.iter().filter_map(|s| s.tau_c_mean_gpa).collect();
                let fwhm: Vec<f64> = v.iter().filter_map(|s| s.tau_c_fwhm).collect();
                e.insert("tau_c_mean_trend".into(), json!(trend(&means, 0.03, false)));
                e.insert("tau_c_fwhm_trend".into(), json!(trend(&fwhm, 0.0, true)));
                e.insert(
                "tau_c".into(),
                Value::Array(v.iter().map(|s| json!({"aging_time_s": r(s.aging_time_s), "mean_gpa": ro(s.tau_c_mean_gpa), "fwhm": ro(s.tau_c_fwhm), "n_popins": s.n_popins, "n_censored": s.n_censored})).collect()),
            );
                groups.insert(key, e);
            }
        }
    }
    if let Some(fits) = &inp.model_fits {
        for f in fits.iter().filter(|f| f.rank == 1) {
            let key = SeriesKey::new(&f.material, &f.series, f.strain, f.temperature_k);
            let mut e = entry(&mut groups, &key);
            e.insert("winning_scenario".into(), json!(f.scenario));
            e.insert("winning_scenario_chi2_reduced".into(), ro(f.chi2_reduced));
            e.insert("winning_scenario_chi2_p_value".into(), ro(f.chi2_p_value));
            groups.insert(key, e);
        }
    }
    if let Some(rows) = &inp.spectrum_moments {
        let mut counts: BTreeMap<SeriesKey, (usize, usize, usize)> = BTreeMap::new();
        for m in rows {
            let key = SeriesKey::new(&m.material, &m.series, m.strain, m.temperature_k);
            let c = counts.entry(key).or_default();
            c.0 += 1;
            c.1 += usize::from(m.status == tables::Status::Ok);
            c.2 += usize::from(m.flags.contains("beyond_window"));
        }
        for (key, (n, ok, beyond)) in counts {
            let mut e = entry(&mut groups, &key);
            e.insert("spectra_curves".into(), json!(n));
            e.insert("spectra_inverted".into(), json!(ok));
            e.insert("spectra_beyond_window".into(), json!(beyond));
            groups.insert(key, e);
        }
    }
    if let Some(rows) = &inp.spectrum_series {
        // The measured and KWW-implied centre and width at the first and last aging time.
        let mut by: BTreeMap<(SeriesKey, String), Vec<&tables::SpectrumSeries>> = BTreeMap::new();
        for r in rows
            .iter()
            .filter(|r| r.source == "spectrum" || r.source == "kww")
        {
            let key = SeriesKey::new(&r.material, &r.series, r.strain, r.temperature_k);
            by.entry((key, r.source.clone())).or_default().push(r);
        }
        for ((key, source), v) in by {
            let (first, last) = (v[0], v[v.len() - 1]);
            let mut e = entry(&mut groups, &key);
            for (what, a, b) in [
                ("centre_ln_tau", first.centre_ln_tau, last.centre_ln_tau),
                ("width_ln_tau", first.width_ln_tau, last.width_ln_tau),
            ] {
                e.insert(format!("{source}_{what}_first"), ro(a));
                e.insert(format!("{source}_{what}_last"), ro(b));
            }
            groups.insert(key, e);
        }
    }
    let missing: Vec<&str> = [
        (inp.kww_fits.is_none(), "kww_fits"),
        (inp.aging_law.is_none(), "aging_law"),
        (inp.relaxation_clean.is_none(), "relaxation_clean"),
        (inp.indents.is_none(), "indents"),
        (inp.tau_c_stats.is_none(), "tau_c_stats"),
        (inp.activation_energy.is_none(), "activation_energy"),
        (inp.model_curves.is_none(), "model_curves"),
        (inp.model_fits.is_none(), "model_fits"),
    ]
    .iter()
    .filter(|(absent, _)| *absent)
    .map(|(_, n)| *n)
    .collect();
    let mut out = json!({ "groups": groups.into_values().map(Value::Object).collect::<Vec<_>>(), "missing_tables": missing });
    if let Some(tr) = &inp.transitions {
        out["thermal"] = thermal(tr);
    }
    out
}

/// The thermal stage's measured transitions, one object per row with status ok.
fn thermal(rows: &[tables::Transition]) -> Value {
    let v: Vec<Value> = rows
        .iter()
        .filter(|r| r.status == tables::Status::Ok)
        .map(|r| {
            let mut o = serde_json::Map::new();
            o.insert("material".into(), json!(r.material));
            o.insert("scan_id".into(), json!(r.scan_id));
            o.insert("condition".into(), json!(r.series));
            o.insert("aging_time_s".into(), ro(r.aging_time_s));
            o.insert("transition".into(), json!(r.transition));
            for (k, x) in [
                ("frequency_hz", r.frequency_hz),
                ("temperature_k", r.temperature_k),
                ("temperature_se_k", r.temperature_se_k),
                ("intensity", r.intensity),
                ("intensity_se", r.intensity_se),
                ("energy_kj_mol", r.energy_kj_mol),
                ("energy_se_kj_mol", r.energy_se_kj_mol),
            ] {
                if x.is_some() {
                    o.insert(k.into(), ro(x));
                }
            }
            if !r.flags.is_empty() {
                o.insert("flags".into(), json!(r.flags));
            }
            Value::Object(o)
        })
        .collect();
    Value::Array(v)
}

/// summary.md: the same numbers as a Markdown table per group.
pub fn markdown(summary: &Value) -> String {
    let mut s = String::from("# agingflow summary\n\n");
    let show = |v: Option<&Value>| match v {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(x)) => x.clone(),
        Some(Value::Array(a)) => a.iter().map(show_scalar).collect::<Vec<_>>().join(" to "),
        Some(x) => show_scalar(x),
    };
    for g in summary["groups"].as_array().into_iter().flatten() {
        let mut who = show(g.get("material"));
        if let Some(Value::String(sr)) = g.get("series") {
            who.push_str(&format!(", series {sr}"));
        }
        if let Some(st) = g.get("strain").and_then(Value::as_f64) {
            who.push_str(&format!(", strain {} %", show_scalar(&json!(st * 100.0))));
        }
        s.push_str(&format!(
            "## {who} at {} K\n\n| quantity | value |\n|---|---|\n",
            show(g.get("temperature_k"))
        ));
        for (k, label) in [
            ("beta_turning_point_s", "turning point of beta (s)"),
            ("beta_turning_point_ci_s", "its 95 % interval (s)"),
            ("beta_max", "largest beta"),
            ("mu1", "mu, initial aging"),
            ("mu2", "mu, deep aging"),
            ("breakpoint_s", "breakpoint (s)"),
            ("breakpoint_ci_s", "its 95 % interval (s)"),
            ("ea_initial_kj_mol", "E_a, initial aging (kJ/mol)"),
            ("ea_deep_kj_mol", "E_a, deep aging (kJ/mol)"),
            ("ea_kj_mol", "E_a (kJ/mol)"),
            ("tau_c_mean_trend", "mean tau_c"),
            ("tau_c_fwhm_trend", "FWHM of tau_c"),
            ("winning_scenario", "model scenario ranked first"),
            (
                "winning_scenario_chi2_reduced",
                "its chi-square per degree of freedom",
            ),
            (
                "beta_turning_point_p_value",
                "p-value of an interior maximum of beta",
            ),
        ] {
            if g.get(k).is_some() {
                s.push_str(&format!("| {label} | {} |\n", show(g.get(k))));
            }
        }
        s.push('\n');
    }
    if let Some(rows) = summary
        .get("thermal")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    {
        s.push_str("## Thermal scans\n\n| material | scan | transition | frequency (Hz) | T (K) | SE (K) | intensity | E (kJ/mol) |\n|---|---|---|---|---|---|---|---|\n");
        for r in rows {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                show(r.get("material")),
                show(r.get("scan_id")),
                show(r.get("transition")),
                show(r.get("frequency_hz")),
                show(r.get("temperature_k")),
                show(r.get("temperature_se_k")),
                show(r.get("intensity")),
                show(r.get("energy_kj_mol")),
            ));
        }
        s.push('\n');
    }
    if let Some(m) = summary["missing_tables"]
        .as_array()
        .filter(|m| !m.is_empty())
    {
        s.push_str(&format!(
            "Not in this campaign's analysis: {}.\n",
            m.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s
}

fn show_scalar(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
