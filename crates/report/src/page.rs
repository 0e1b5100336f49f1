//! index.html: one self-contained page (inline CSS and SVG, no script, no external URL).

use std::fmt::Write as _;

use serde_json::Value;

use crate::Inputs;
use crate::figures::Entry;
use crate::plot::svg;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map(|x| {
        if x.abs() >= 1e5 || (x != 0.0 && x.abs() < 1e-3) {
            format!("{x:.3e}")
        } else {
            format!("{x:.digits$}")
        }
    })
    .unwrap_or_else(|| "-".into())
}

const STYLE: &str = "body{font-family:DejaVu Sans,Arial,sans-serif;max-width:980px;margin:1em auto;padding:0 1em;color:#222}table{display:block;overflow-x:auto}figure{margin:1.5em 0}figcaption{color:#555;font-size:90%}table{border-collapse:collapse;font-size:85%}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f0f0f0}tr.flagged td{background:#fff3cd}p.missing{background:#f8f8f8;border-left:4px solid #999;padding:.5em 1em}code{font-size:90%}";

/// The page.
pub fn html(
    inp: &Inputs,
    entries: &[Entry],
    summary: &Value,
    provenance: &[(String, String)],
) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>agingflow report</title><style>{STYLE}</style></head><body>\n<h1>Aging campaign report</h1>\n"
    );
    // Headline numbers.
    h.push_str("<h2>Summary</h2>\n");
    for g in summary["groups"].as_array().into_iter().flatten() {
        let get = |k: &str| match g.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        let mut parts = Vec::new();
        let p_value = g.get("beta_turning_point_p_value").and_then(Value::as_f64);
        match (get("beta_turning_point_s"), get("beta_max"), p_value) {
            (Some(tp), Some(b), Some(p)) if p < 0.05 => parts.push(format!(
                "beta rises then falls ({}), peaking at t_a = {tp} s (beta = {b})",
                p_text(p)
            )),
            (None, _, Some(p)) if p < 0.05 => parts.push(format!(
                "beta rises then falls ({}; too few aging times to place the peak)",
                p_text(p)
            )),
            (_, _, Some(p)) => parts.push(format!(
                "no significant turning point of beta ({})",
                p_text(p)
            )),
            (Some(tp), Some(b), None) => {
                parts.push(format!("beta peaks at t_a = {tp} s (beta = {b})"))
            }
            _ => {}
        }
        match (get("mu1"), get("mu2"), get("breakpoint_s")) {
            (Some(m1), Some(m2), Some(bp)) => {
                parts.push(format!("tau grows as t_a^{m1} then t_a^{m2} past {bp} s"))
            }
            (Some(m1), None, _) => parts.push(format!(
                "tau grows as t_a^{m1} (too few aging times for two stages)"
            )),
            _ => {}
        }
        match (
            get("ea_initial_kj_mol"),
            get("ea_deep_kj_mol"),
            get("ea_kj_mol"),
        ) {
            (Some(a), Some(b), _) => parts.push(format!(
                "E_a = {a} kJ/mol in initial aging and {b} kJ/mol in deep aging"
            )),
            (_, _, Some(e)) => parts.push(format!("E_a = {e} kJ/mol")),
            _ => {}
        }
        if let (Some(m), Some(f)) = (get("tau_c_mean_trend"), get("tau_c_fwhm_trend")) {
            parts.push(format!("the mean tau_c {m} while its spread {f}"));
        }
        if let Some(w) = get("winning_scenario") {
            let chi2 = g
                .get("winning_scenario_chi2_reduced")
                .and_then(Value::as_f64);
            let p = g
                .get("winning_scenario_chi2_p_value")
                .and_then(Value::as_f64);
            match (chi2, p) {
                (Some(c), Some(p)) if p < 0.05 => parts.push(format!(
                    "no model scenario fits within the errors (the best, {w}, has chi2/df = {c:.3}, {})",
                    p_text(p)
                )),
                (Some(c), _) => parts.push(format!(
                    "the {w} scenario explains beta best (chi2/df = {c:.3})"
                )),
                _ => parts.push(format!("the {w} scenario explains beta best")),
            }
        }
        let mut who = get("material").unwrap_or_default();
        if let Some(sr) = get("series") {
            who.push_str(&format!(", series {}", sr.trim_matches('"')));
        }
        if let Some(st) = g.get("strain").and_then(Value::as_f64) {
            who.push_str(&format!(", strain {:.3} %", st * 100.0));
        }
        let _ = writeln!(
            h,
            "<p><b>{} at {} K</b>: {}.</p>",
            esc(&who),
            get("temperature_k").unwrap_or_default(),
            esc(&if parts.is_empty() {
                "no result".to_owned()
            } else {
                parts.join("; ")
            })
        );
    }
    // Figures.
    h.push_str("<h2>Figures</h2>\n");
    for e in entries {
        let _ = writeln!(h, "<figure id=\"{}\"><h3>{}</h3>", e.name, esc(e.title));
        match (&e.figure, &e.missing) {
            (Some(f), _) => {
                h.push_str(&svg(f));
                let _ = writeln!(h, "<figcaption>{}</figcaption>", esc(&e.caption));
            }
            (None, Some(why)) => {
                let _ = writeln!(h, "<p class=\"missing\">{}</p>", esc(why));
            }
            (None, None) => {}
        }
        h.push_str("</figure>\n");
    }
    // The fits.
    h.push_str("<h2>Every fit</h2>\n");
    match &inp.kww_fits {
        Some(fits) if !fits.is_empty() => {
            h.push_str("<p>Rows with a status other than ok or with flags are highlighted.</p>\n<table><tr><th>test</th><th>T (K)</th><th>t_a (s)</th><th>model</th><th>beta</th><th>SE</th><th>tau (s)</th><th>SE (s)</th><th>corr(ln tau, beta)</th><th>R^2</th><th>status</th><th>flags</th></tr>\n");
            for f in fits {
                let flagged = f.status != "ok" || !f.flags.is_empty();
                let _ = writeln!(
                    h,
                    "<tr{}><td style=\"text-align:left\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    if flagged { " class=\"flagged\"" } else { "" },
                    esc(&f.test_id),
                    f.temperature_k,
                    f.aging_time_s,
                    esc(&f.model),
                    cell(f.beta, 4),
                    cell(f.beta_se, 4),
                    cell(f.tau_s, 0),
                    cell(f.tau_se_s, 0),
                    cell(f.corr_ln_tau_beta, 3),
                    cell(f.r_squared, 5),
                    esc(&f.status),
                    esc(&f.flags)
                );
            }
            h.push_str("</table>\n");
        }
        _ => h.push_str(
            "<p class=\"missing\">No KWW fits: the campaign has no relaxation data.</p>\n",
        ),
    }
    if let Some(fits) = &inp.model_fits
        && !fits.is_empty()
    {
        h.push_str("<h3>Model scenarios</h3>\n<table><tr><th>material</th><th>T (K)</th><th>scenario</th><th>rank</th><th>RSS</th><th>AICc</th><th>BIC</th><th>parameters</th></tr>\n");
        for f in fits {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left\"><code>{}</code></td></tr>",
                esc(&f.material),
                f.temperature_k,
                esc(&f.scenario),
                f.rank,
                cell(f.rss, 2),
                cell(f.aicc, 2),
                cell(f.bic, 2),
                esc(&f.params)
            );
        }
        h.push_str("</table>\n");
    }
    // Provenance.
    h.push_str("<h2>Provenance</h2>\n<table>\n");
    for (k, v) in provenance {
        let _ = writeln!(
            h,
            "<tr><th style=\"text-align:left\">{}</th><td style=\"text-align:left\"><code>{}</code></td></tr>",
            esc(k),
            esc(v)
        );
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

/// A p-value as a referee reads it: `p = 0.012`, or `p <= 0.001` at the bootstrap's floor
/// (1 / 1000 with 999 replicates) and below.
fn p_text(p: f64) -> String {
    if p <= 0.001 {
        "p <= 0.001".to_owned()
    } else {
        format!("p = {p:.3}")
    }
}
