//! index.html: one self-contained page (inline CSS, SVG and font, no script, no external URL):
//! contents, a summary per glass and series, the figures by section, the tables, provenance;
//! a print style sheet keeps each figure and table row whole.

use std::fmt::Write as _;

use serde_json::Value;

use tables::SeriesKey;

use crate::Inputs;
use crate::figures::Entry;
use crate::plot::{DOUBLE_COLUMN_MM, svg};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escaped, with the figures' label markup (`t_{a}`, `mol^{-1}`) as `<sub>`/`<sup>`.
fn rich(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(['_', '^']) {
        let (head, tail) = rest.split_at(i);
        out.push_str(&esc(head));
        let tag = if tail.starts_with('_') { "sub" } else { "sup" };
        match tail[1..].strip_prefix('{').and_then(|t| t.split_once('}')) {
            Some((inner, after)) => {
                out.push_str(&format!("<{tag}>{}</{tag}>", esc(inner)));
                rest = after;
            }
            None => {
                out.push_str(&esc(&tail[..1]));
                rest = &tail[1..];
            }
        }
    }
    out.push_str(&esc(rest));
    out
}

/// A number for prose: `sig` without trailing zeros after the point (613 K, strain 0.1 %).
fn short(v: f64, n: i32) -> String {
    let s = sig(v, n);
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;max-width:1120px;margin:1em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\
nav.toc ol{columns:2;font-size:95%}nav.toc li{break-inside:avoid}\
figure{margin:1.5em 0;padding:0}figure svg{display:block;width:100%;height:auto}\
figcaption{color:#444;font-size:90%;margin-top:.4em}figcaption .files{color:#666}\
.tablewrap{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:85%;margin:.5em 0}\
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:nowrap}th{background:#f0f0f0}td.l,th.l{text-align:left}\
tr.flagged td{background:#fff3cd}p.missing{background:#f8f8f8;border-left:4px solid #999;padding:.5em 1em}code{font-size:90%;white-space:pre-wrap;word-break:break-all}\
@media print{@page{size:A4;margin:14mm}body{max-width:none;margin:0;padding:0;font-size:10pt}nav.toc{break-after:page}\
figure{break-inside:avoid;page-break-inside:avoid}figure svg{width:auto;max-width:100%;max-height:205mm;margin:0 auto}\
h2,h3,h4{break-after:avoid;page-break-after:avoid}.tablewrap{overflow:visible}table{font-size:7pt}tr{break-inside:avoid}thead{display:table-header-group}\
td,th{white-space:normal}figcaption .files{display:none}}";

/// The bundled DejaVu Sans as a CSS @font-face (a data URL): the page's text measures as the
/// figures were laid out for, on any machine.
fn font_face() -> String {
    format!(
        "@font-face{{font-family:'DejaVu Sans';src:url(data:font/ttf;base64,{}) format('truetype')}}",
        base64(crate::plot::font_data())
    )
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(A[((v >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A value and its standard error rounded together: two significant digits of the SE, the value
/// to the same place (`0.4994 ± 0.0021`, `191 ± 12`).
pub fn with_se(v: f64, se: Option<f64>) -> String {
    let Some(se) = se.filter(|e| e.is_finite() && *e > 0.0) else {
        return sig(v, 4);
    };
    if !v.is_finite() {
        return "-".into();
    }
    let mag = se.log10().floor() as i32;
    if !(-6..6).contains(&mag) {
        let e = v.abs().max(se).log10().floor() as i32;
        let f = 10f64.powi(e);
        let d = (e - mag + 1).max(0) as usize;
        return format!("({:.d$} ± {:.d$})×10^{e}", v / f, se / f);
    }
    if mag >= 2 {
        let q = 10f64.powi(mag - 1);
        return format!("{} ± {}", (v / q).round() * q, (se / q).round() * q);
    }
    let d = (1 - mag).max(0) as usize;
    format!("{v:.d$} ± {se:.d$}")
}

/// A number to `n` significant digits, without an exponent between 1e-3 and 1e6.
pub fn sig(v: f64, n: i32) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let e = v.abs().log10().floor() as i32;
    if !(-3..6).contains(&e) {
        return format!("{:.*e}", (n - 1).max(0) as usize, v);
    }
    let d = (n - 1 - e).max(0) as usize;
    format!("{v:.d$}")
}

/// Where each figure stands in Tong et al. (2023), and the page section it belongs to.
fn place(name: &str) -> (&'static str, &'static str) {
    match name {
        "relaxation_curves" => ("Fig. 1b", "Stress relaxation"),
        "beta_vs_aging_time" => ("Fig. 1c-f (β)", "Stress relaxation"),
        "tau_vs_aging_time" => ("Fig. 1c-f (τ)", "Stress relaxation"),
        "indentation_curves" => ("Fig. 2a", "Nanoindentation"),
        "tau_c_distributions" => ("Fig. 2b", "Nanoindentation"),
        "tau_c_gaussians" => ("Fig. 2c", "Nanoindentation"),
        "tau_c_mean_and_fwhm" => ("Fig. 2d", "Nanoindentation"),
        "activation_energy" => ("Fig. 3a", "Activation energy and thermal analysis"),
        "dma_loss_beta" => ("Fig. 3b", "Activation energy and thermal analysis"),
        "dsc_tg" => ("Fig. S1", "Activation energy and thermal analysis"),
        "spectra_by_aging_time" => ("Fig. 4a", "Relaxation-time distributions and the model"),
        "spectra_centre_width" => ("Fig. 4b", "Relaxation-time distributions and the model"),
        "model_scenarios" => ("Fig. 4c", "Relaxation-time distributions and the model"),
        _ => ("", "Other figures"),
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The page.
pub fn html(
    inp: &Inputs,
    entries: &[Entry],
    summary: &Value,
    provenance: &[(String, String)],
) -> String {
    let mut body = String::new();
    let mut toc: Vec<(usize, String, String)> = Vec::new();
    // Summary: one section per glass, a paragraph per series, E_a per aging time.
    body.push_str("<section id=\"summary\"><h2>Summary</h2>\n");
    toc.push((0, "summary".into(), "Summary".into()));
    let groups: Vec<&Value> = summary["groups"].as_array().into_iter().flatten().collect();
    let mut materials: Vec<String> = groups
        .iter()
        .filter_map(|g| g.get("material").and_then(Value::as_str).map(str::to_owned))
        .collect();
    materials.dedup();
    for m in &materials {
        let id = format!("summary-{}", slug(m));
        let _ = writeln!(body, "<h3 id=\"{id}\">{}</h3>", esc(m));
        toc.push((1, id, m.clone()));
        for g in groups
            .iter()
            .filter(|g| g.get("material").and_then(Value::as_str) == Some(m))
        {
            body.push_str(&series_paragraph(inp, g));
        }
        body.push_str(&ea_paragraph(inp, m));
    }
    body.push_str("</section>\n");
    // Figures, by section.
    let mut section = "";
    for e in entries {
        let (fig, sec) = place(e.name);
        if sec != section {
            if !section.is_empty() {
                body.push_str("</section>\n");
            }
            section = sec;
            let id = format!("figures-{}", slug(sec));
            let _ = writeln!(body, "<section id=\"{id}\"><h2>{}</h2>", esc(sec));
            toc.push((0, id, sec.to_owned()));
        }
        let heading = if fig.is_empty() {
            e.title.to_owned()
        } else {
            format!("{fig}. {}", e.title)
        };
        toc.push((1, e.name.to_owned(), heading.clone()));
        let _ = writeln!(
            body,
            "<figure id=\"{}\"><h4>{}</h4>",
            e.name,
            rich(&heading)
        );
        match (&e.figure, &e.missing) {
            (Some(f), _) => {
                body.push_str(&svg(f, DOUBLE_COLUMN_MM));
                let n = e.name;
                let _ = writeln!(
                    body,
                    "<figcaption>{} <span class=\"files\">Files: <a href=\"figures/{n}.pdf\">PDF</a>, <a href=\"figures/{n}.svg\">SVG</a>, <a href=\"figures/{n}.png\">PNG</a> at 175 mm; <a href=\"figures/{n}.85mm.pdf\">PDF</a>, <a href=\"figures/{n}.85mm.svg\">SVG</a>, <a href=\"figures/{n}.85mm.png\">PNG</a> at 85 mm (PNG 300 dpi).</span></figcaption>",
                    rich(&e.caption)
                );
            }
            (None, Some(why)) => {
                let _ = writeln!(body, "<p class=\"missing\">{}</p>", rich(why));
            }
            (None, None) => {}
        }
        body.push_str("</figure>\n");
    }
    if !section.is_empty() {
        body.push_str("</section>\n");
    }
    // Tables.
    body.push_str("<section id=\"tables\"><h2>Tables</h2>\n");
    toc.push((0, "tables".into(), "Tables".into()));
    kww_tables(&mut body, &mut toc, inp);
    dropped_table(&mut body, &mut toc, inp);
    scenario_table(&mut body, &mut toc, inp);
    body.push_str("</section>\n");
    // Provenance.
    body.push_str(
        "<section id=\"provenance\"><h2>Provenance</h2>\n<div class=\"tablewrap\"><table>\n",
    );
    toc.push((0, "provenance".into(), "Provenance".into()));
    for (k, v) in provenance {
        let _ = writeln!(
            body,
            "<tr><th class=\"l\">{}</th><td class=\"l\"><code>{}</code></td></tr>",
            esc(k),
            esc(v)
        );
    }
    body.push_str("</table></div></section>\n");

    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>agingflow report</title><style>{}{STYLE}</style></head><body>\n<h1>Aging campaign report</h1>\n<nav class=\"toc\"><h2>Contents</h2>\n<ol>",
        font_face()
    );
    let mut open_sub = false;
    for (level, id, label) in &toc {
        if *level == 0 {
            if open_sub {
                h.push_str("</ol></li>");
            }
            let _ = write!(h, "<li><a href=\"#{id}\">{}</a>", esc(label));
            h.push_str("<ol>");
            open_sub = true;
        } else {
            let _ = write!(h, "<li><a href=\"#{id}\">{}</a></li>", rich(label));
        }
    }
    if open_sub {
        h.push_str("</ol></li>");
    }
    h.push_str("</ol></nav>\n");
    h.push_str(&body);
    h.push_str("</body></html>\n");
    // Empty sub-lists (a section with no entries) are dropped.
    h.replace("<ol></ol>", "")
}

/// One series in sentences that are true of its numbers.
fn series_paragraph(inp: &Inputs, g: &Value) -> String {
    let get = |k: &str| match g.get(k) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let num = |k: &str| g.get(k).and_then(Value::as_f64);
    let material = get("material").unwrap_or_default();
    let series = g.get("series").and_then(Value::as_str).map(str::to_owned);
    let strain = num("strain");
    let t = num("temperature_k").unwrap_or(f64::NAN);
    let key = SeriesKey::new(&material, &series, strain, t);
    let law: Vec<&tables::AgingLaw> = inp
        .aging_law
        .iter()
        .flatten()
        .filter(|l| SeriesKey::new(&l.material, &l.series, l.strain, l.temperature_k) == key)
        .collect();
    let mut parts = Vec::new();
    let tp_row = law
        .iter()
        .find(|l| l.beta_turning_point_p_value.is_some() || l.beta_turning_point_s.is_some());
    if let Some(l) = tp_row {
        let interval = match (
            l.beta_turning_point_ci_low_s,
            l.beta_turning_point_ci_high_s,
        ) {
            (Some(a), Some(b)) => format!(", 95 % interval {}-{} s", sig(a, 2), sig(b, 2)),
            _ => String::new(),
        };
        match (l.beta_turning_point_s, l.beta_turning_point_p_value) {
            (Some(tp), Some(p)) if p < 0.05 => parts.push(format!(
                "β rises then falls ({}), peaking at t_{{a}} = {} s{interval} with β = {}",
                p_text(p),
                sig(tp, 2),
                l.beta_max.map(|b| sig(b, 3)).unwrap_or_else(|| "-".into())
            )),
            (None, Some(p)) if p < 0.05 => parts.push(format!(
                "β rises then falls ({}; too few aging times to place the peak)",
                p_text(p)
            )),
            (_, Some(p)) => parts.push(format!(
                "β shows no significant turning point ({})",
                p_text(p)
            )),
            (Some(tp), None) => {
                parts.push(format!("β peaks at t_{{a}} = {} s{interval}", sig(tp, 2)))
            }
            _ => {}
        }
    }
    let seg = |k: i64| law.iter().find(|l| l.segment == k);
    match (seg(1), seg(2)) {
        (Some(a), Some(b)) if a.mu.is_some() && b.mu.is_some() => {
            let bp = a.breakpoint_s.or(b.breakpoint_s);
            let bpi = match (a.breakpoint_ci_low_s, a.breakpoint_ci_high_s) {
                (Some(lo), Some(hi)) => format!(" (95 % interval {}-{} s)", sig(lo, 2), sig(hi, 2)),
                _ => String::new(),
            };
            parts.push(format!(
                "τ grows as t_{{a}}^{{μ}} with μ = {} up to {} s{bpi} and μ = {} beyond",
                with_se(a.mu.unwrap_or(f64::NAN), a.mu_se),
                bp.map(|b| sig(b, 2)).unwrap_or_else(|| "-".into()),
                with_se(b.mu.unwrap_or(f64::NAN), b.mu_se)
            ));
        }
        (Some(a), _) if a.mu.is_some() => parts.push(format!(
            "τ grows as t_{{a}}^{{μ}} with μ = {} (too few aging times for two stages)",
            with_se(a.mu.unwrap_or(f64::NAN), a.mu_se)
        )),
        _ => {}
    }
    if let (Some(m), Some(f)) = (get("tau_c_mean_trend"), get("tau_c_fwhm_trend")) {
        parts.push(format!("the mean τ_{{c}} {m} while its spread {f}"));
    }
    if let Some(w) = get("winning_scenario") {
        match (
            num("winning_scenario_chi2_reduced"),
            num("winning_scenario_chi2_p_value"),
        ) {
            (Some(c), Some(p)) if p < 0.05 => parts.push(format!(
                "no model scenario fits within the errors (the best, {w}, has χ²/df = {}, {})",
                sig(c, 3),
                p_text(p)
            )),
            (Some(c), _) => parts.push(format!(
                "the {w} scenario explains β best (χ²/df = {})",
                sig(c, 3)
            )),
            _ => parts.push(format!("the {w} scenario explains β best")),
        }
    }
    let mut who = String::new();
    if let Some(sr) = &series {
        who.push_str(&format!("series {sr}, "));
    }
    if let Some(st) = strain {
        who.push_str(&format!("strain {} %, ", short(st * 100.0, 3)));
    }
    format!(
        "<p><b>{who}{} K</b>: {}.</p>\n",
        short(t, 4),
        rich(&if parts.is_empty() {
            "no result".to_owned()
        } else {
            parts.join("; ")
        })
    )
}

/// E_a is a property of an aging time across temperatures: one sentence per material (and
/// series, strain), listing each aging time.
fn ea_paragraph(inp: &Inputs, material: &str) -> String {
    let mut by: std::collections::BTreeMap<SeriesKey, Vec<&tables::ActivationEnergy>> =
        Default::default();
    for r in inp
        .activation_energy
        .iter()
        .flatten()
        .filter(|r| r.material == material && r.ea_kj_mol.is_some())
    {
        by.entry(SeriesKey::new(&r.material, &r.series, r.strain, 0.0))
            .or_default()
            .push(r);
    }
    let mut out = String::new();
    for (k, mut v) in by {
        v.sort_by(|a, b| a.aging_time_s.total_cmp(&b.aging_time_s));
        let temps = v.iter().map(|r| r.n_temperatures).max().unwrap_or(0);
        let list: Vec<String> = v
            .iter()
            .map(|r| {
                format!(
                    "{} kJ mol^{{-1}} at t_{{a}} = {} s",
                    with_se(r.ea_kj_mol.unwrap_or(f64::NAN), r.ea_se_kj_mol),
                    sig(r.aging_time_s, 3)
                )
            })
            .collect();
        let mut who = Vec::new();
        if let Some(sr) = &k.series {
            who.push(format!("series {sr}"));
        }
        if let Some(st) = k.strain() {
            who.push(format!("strain {} %", short(st * 100.0, 3)));
        }
        let who = if who.is_empty() {
            String::new()
        } else {
            format!(", {}", who.join(", "))
        };
        let _ = writeln!(
            out,
            "<p><b>Activation energy{}</b> (Arrhenius fit of τ across {temps} temperatures at each aging time, ± SE): {}.</p>",
            esc(&who),
            rich(&list.join("; "))
        );
    }
    out
}

fn kww_tables(h: &mut String, toc: &mut Vec<(usize, String, String)>, inp: &Inputs) {
    let Some(fits) = inp.kww_fits.as_ref().filter(|f| !f.is_empty()) else {
        h.push_str("<p class=\"missing\">No KWW fits: the campaign has no relaxation data.</p>\n");
        return;
    };
    let mut materials: Vec<&str> = fits.iter().map(|f| f.material.as_str()).collect();
    materials.sort_unstable();
    materials.dedup();
    for m in materials {
        let id = format!("kww-{}", slug(m));
        let _ = writeln!(h, "<h3 id=\"{id}\">KWW fits: {}</h3>", esc(m));
        toc.push((1, id, format!("KWW fits: {m}")));
        // The weighting the fits used, and how far beta moves under the other one (the
        // systematic error of that choice on curves that are not KWW).
        let mut weightings: Vec<&str> = fits
            .iter()
            .filter(|f| f.material == m && !f.weighting.is_empty())
            .map(|f| f.weighting.as_str())
            .collect();
        weightings.sort_unstable();
        weightings.dedup();
        let shift = fits
            .iter()
            .filter(|f| f.material == m)
            .filter_map(|f| f.beta_weighting_shift)
            .fold(0.0f64, |a, b| a.max(b.abs()));
        if !weightings.is_empty() {
            let _ = writeln!(
                h,
                "<p>Residuals weighted by {} (<code>samples</code>: every recorded sample alike; <code>log-time</code>: every log-time bin alike, errors from a sandwich covariance). β under the other weighting differs by at most {} here; a curve that is not KWW (flag <code>not_kww</code>) carries that as a systematic error.</p>",
                esc(&weightings.join(", ")),
                sig(shift, 2)
            );
        }
        h.push_str("<p>β and τ with their standard errors, rounded to them; rows with a status other than ok or with flags are highlighted.</p>\n<div class=\"tablewrap\"><table><thead><tr><th class=\"l\">test</th><th>T / K</th><th>t<sub>a</sub> / s</th><th class=\"l\">model</th><th>β ± SE</th><th>τ ± SE / s</th><th>corr(ln τ, β)</th><th>R²</th><th class=\"l\">status</th><th class=\"l\">flags</th></tr></thead><tbody>\n");
        for f in fits.iter().filter(|f| f.material == m) {
            let flagged = f.status != tables::Status::Ok || !f.flags.is_empty();
            let _ = writeln!(
                h,
                "<tr{}><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                if flagged { " class=\"flagged\"" } else { "" },
                esc(&f.test_id),
                sig(f.temperature_k, 4),
                sig(f.aging_time_s, 4),
                esc(&f.model),
                f.beta
                    .map(|b| with_se(b, f.beta_se))
                    .unwrap_or_else(|| "-".into()),
                f.tau_s
                    .map(|t| with_se(t, f.tau_se_s))
                    .unwrap_or_else(|| "-".into()),
                f.corr_ln_tau_beta
                    .map(|c| format!("{c:.2}"))
                    .unwrap_or_else(|| "-".into()),
                f.r_squared
                    .map(|r| format!("{r:.4}"))
                    .unwrap_or_else(|| "-".into()),
                esc(&f.status),
                esc(&f.flags.replace(',', ", "))
            );
        }
        h.push_str("</tbody></table></div>\n");
    }
}

/// The relaxation tests that reached no fit (nothing kept by clean), with the reason: a test is
/// never left out of the report silently.
fn dropped_table(h: &mut String, toc: &mut Vec<(usize, String, String)>, inp: &Inputs) {
    let Some(tests) = inp.relaxation_tests.as_ref() else {
        return;
    };
    let dropped: Vec<&tables::RelaxationTest> = tests.iter().filter(|t| t.n_kept == 0).collect();
    if dropped.is_empty() {
        return;
    }
    h.push_str("<h3 id=\"dropped\">Tests dropped before the fit</h3>\n");
    toc.push((1, "dropped".into(), "Tests dropped before the fit".into()));
    let _ = writeln!(
        h,
        "<p>{} relaxation test{} kept no point after cleaning and {} not fitted.</p>",
        dropped.len(),
        if dropped.len() == 1 { "" } else { "s" },
        if dropped.len() == 1 { "is" } else { "are" }
    );
    h.push_str("<div class=\"tablewrap\"><table><thead><tr><th class=\"l\">test</th><th class=\"l\">material</th><th>T / K</th><th>t<sub>a</sub> / s</th><th>samples recorded</th><th class=\"l\">status</th><th class=\"l\">flags</th></tr></thead><tbody>\n");
    for t in dropped {
        let _ = writeln!(
            h,
            "<tr class=\"flagged\"><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            esc(&t.test_id),
            esc(&t.material),
            sig(t.temperature_k, 4),
            sig(t.aging_time_s, 4),
            t.n_raw,
            esc(&t.status),
            esc(&t.flags.replace(',', ", "))
        );
    }
    h.push_str("</tbody></table></div>\n");
}

/// The model scenarios' parameters: names, units, standard errors.
const SCENARIO_PARAMS: [(&str, &str); 4] = [
    ("tau0_s", "τ<sub>0</sub> / s"),
    ("a_s_per_sqrt_s", "A / s<sup>1/2</sup>"),
    ("sigma0_ln", "σ<sub>0</sub> (width of ln τ)"),
    ("width_growth", "width growth g"),
];

fn scenario_table(h: &mut String, toc: &mut Vec<(usize, String, String)>, inp: &Inputs) {
    let Some(fits) = inp.model_fits.as_ref().filter(|f| !f.is_empty()) else {
        return;
    };
    h.push_str("<h3 id=\"scenarios\">Model scenarios</h3>\n");
    toc.push((1, "scenarios".into(), "Model scenarios".into()));
    h.push_str("<p>Each scenario fitted to β(t<sub>a</sub>) and ln τ(t<sub>a</sub>) of one series, residuals in units of the measured standard errors. Parameters without standard errors: their curvature SEs did not hold the truth on campaigns simulated from each scenario and fitted through kww-fit (σ<sub>0</sub>'s held it in 0-77 %, bench/coverage.md): the scenarios predict β by a plain KWW refit, which is not kww-fit's estimator on a curve that is no stretched exponential (docs/weighting.md). τ(t<sub>a</sub>) = τ<sub>0</sub> + A t<sub>a</sub><sup>1/2</sup> for the centre, σ<sub>0</sub> the initial width of the log-normal in ln τ, g its growth. Rank 1: the scenario AICc prefers.</p>\n<div class=\"tablewrap\"><table><thead><tr><th class=\"l\">material</th><th class=\"l\">series</th><th>T / K</th><th class=\"l\">scenario</th><th>rank</th>");
    for (_, label) in SCENARIO_PARAMS {
        let _ = write!(h, "<th>{label}</th>");
    }
    h.push_str("<th>χ²/df</th><th>p</th><th>AICc</th><th>BIC</th></tr></thead><tbody>\n");
    for f in fits {
        let params: serde_json::Map<String, Value> =
            serde_json::from_str(&f.params).unwrap_or_default();
        let mut cells = String::new();
        for (name, _) in SCENARIO_PARAMS {
            // The SEs (`NAME_se` in model_fits) are not shown: their coverage fails (above).
            let v = params.get(name).and_then(Value::as_f64);
            let _ = write!(
                cells,
                "<td>{}</td>",
                v.map(|v| with_se(v, None)).unwrap_or_else(|| "-".into())
            );
        }
        let mut who = f.series.clone().unwrap_or_default();
        if let Some(st) = f.strain {
            who.push_str(&format!(" strain {} %", sig(st * 100.0, 3)));
        }
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td>{cells}<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.material),
            esc(who.trim()),
            sig(f.temperature_k, 4),
            esc(&f.scenario),
            f.rank,
            f.chi2_reduced
                .map(|c| sig(c, 3))
                .unwrap_or_else(|| "-".into()),
            f.chi2_p_value.map(p_text).unwrap_or_else(|| "-".into()),
            f.aicc
                .map(|c| format!("{c:.1}"))
                .unwrap_or_else(|| "-".into()),
            f.bic
                .map(|c| format!("{c:.1}"))
                .unwrap_or_else(|| "-".into())
        );
    }
    h.push_str("</tbody></table></div>\n");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounded_to_the_uncertainty() {
        assert_eq!(with_se(0.49935, Some(0.00213)), "0.4994 ± 0.0021");
        assert_eq!(with_se(191.05, Some(12.3)), "191 ± 12");
        assert_eq!(with_se(1834.0, Some(250.0)), "1830 ± 250");
        assert_eq!(with_se(0.5, None), "0.5000");
        assert_eq!(sig(1800.0, 2), "1800");
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
    }

    #[test]
    fn prose_markup_and_short_numbers() {
        assert_eq!(
            rich("E_{a} / kJ mol^{-1} & t_a<"),
            "E<sub>a</sub> / kJ mol<sup>-1</sup> &amp; t_a&lt;"
        );
        assert_eq!(rich("a_{b"), "a_{b");
        assert_eq!(short(613.0, 4), "613");
        assert_eq!(short(0.1, 3), "0.1");
        assert_eq!(short(1800.0, 2), "1800");
        assert_eq!(short(2.5e7, 2), "2.5e7");
    }
}
