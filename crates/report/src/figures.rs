//! The paper's figures, drawn from whichever tables are present; a figure without its data is a
//! sentence saying what is missing.

use std::collections::{BTreeMap, BTreeSet};

use physics::GAS_CONSTANT_J_MOL_K;
use physics::kww::KwwParams;

use tables::SeriesKey;

use crate::Inputs;
use crate::plot::{Axis, Figure, PALETTE, Panel, Series, Style, sequential};

/// One figure of the report, or why it is not there.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: &'static str,
    pub title: &'static str,
    pub caption: String,
    pub figure: Option<Figure>,
    pub missing: Option<String>,
}

fn axis(label: &str, log: bool) -> Axis {
    Axis {
        label: label.into(),
        log,
        zero_at_edge: log,
    }
}

fn color(k: usize) -> &'static str {
    PALETTE[k % PALETTE.len()]
}

fn missing(name: &'static str, title: &'static str, why: String) -> Entry {
    Entry {
        name,
        title,
        caption: String::new(),
        figure: None,
        missing: Some(why),
    }
}

fn drawn(name: &'static str, title: &'static str, caption: String, panels: Vec<Panel>) -> Entry {
    grid(name, title, caption, panels, Layout::default())
}

/// How a figure's panels are laid out: columns at double width, shared axes, panel aspect.
#[derive(Debug, Clone, Copy, Default)]
struct Layout {
    columns: usize,
    share_x: bool,
    share_y: bool,
    aspect: f64,
}

/// Small multiples: one panel per series (temperature, strain), shared axes.
const MULTIPLES: Layout = Layout {
    columns: 3,
    share_x: true,
    share_y: true,
    aspect: 0.75,
};

fn grid(
    name: &'static str,
    title: &'static str,
    caption: String,
    panels: Vec<Panel>,
    layout: Layout,
) -> Entry {
    Entry {
        name,
        title,
        caption,
        figure: Some(Figure {
            name: name.into(),
            title: title.into(),
            panels,
            columns: layout.columns,
            share_x: layout.share_x,
            share_y: layout.share_y,
            aspect: layout.aspect,
        }),
        missing: None,
    }
}

/// Every aging time of the campaign, sorted: one sequential colour scale for all figures.
fn aging_times(inp: &Inputs) -> Vec<u64> {
    let mut v: Vec<f64> = Vec::new();
    v.extend(inp.kww_fits.iter().flatten().map(|f| f.aging_time_s));
    v.extend(inp.indents.iter().flatten().map(|f| f.aging_time_s));
    match &inp.spectra_aging_times {
        Some(ages) => v.extend(ages),
        None => v.extend(inp.spectra.iter().flatten().map(|f| f.aging_time_s)),
    }
    v.extend(
        inp.dma_sweeps
            .iter()
            .flatten()
            .map(|f| f.aging_time_s.unwrap_or(0.0)),
    );
    v.extend(
        inp.dsc_raw
            .iter()
            .flatten()
            .map(|f| f.aging_time_s.unwrap_or(0.0)),
    );
    v.retain(|t| t.is_finite());
    v.sort_by(f64::total_cmp);
    v.dedup();
    v.into_iter().map(f64::to_bits).collect()
}

/// The colour of aging time `t` on the campaign's sequential scale.
fn age_color(ages: &[u64], t: f64) -> String {
    let rank = ages.iter().position(|a| *a == t.to_bits()).unwrap_or(0);
    sequential(rank, ages.len())
}

/// Legend keys for the aging times `present`, in order: one entry per aging time whatever the
/// number of panels (the data series themselves carry no label).
fn age_keys(present: &[f64], ages: &[u64], style: Style) -> Vec<Series> {
    let mut v: Vec<f64> = present.to_vec();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v.into_iter()
        .map(|t| Series::key(age_label(t), style, age_color(ages, t)))
        .collect()
}

/// An aging time as a legend reads it: `t_{a} = 1800 s`, `as cast` for 0.
fn age_label(t: f64) -> String {
    if t == 0.0 {
        "t_{a} = 0 (as cast)".to_owned()
    } else {
        format!("t_{{a}} = {} s", fmt_num(t))
    }
}

/// A number without trailing zeros: 1800, 0.5, 3.6e5 as 360000.
fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        format!("{}", (v * 1e6).round() / 1e6)
    }
}

/// Axis labels in the SI style: quantity / unit.
const T_A: &str = "t_{a} / s";

fn key(m: &str, t: f64) -> (String, u64) {
    (m.to_owned(), t.to_bits())
}

/// Every figure, in the paper's order.
pub fn all(inp: &Inputs) -> Vec<Entry> {
    vec![
        relaxation(inp),
        beta(inp),
        tau(inp),
        indentation_curves(inp),
        tau_c_distributions(inp),
        tau_c_gaussians(inp),
        tau_c_trend(inp),
        activation_energy(inp),
        model(inp),
        spectra(inp),
        spectrum_trends(inp),
        dma_beta(inp),
        dsc_tg(inp),
    ]
}

/// The series (material, series, strain, temperature) with the most ok fits: the reference.
fn reference(inp: &Inputs) -> Option<SeriesKey> {
    let fits = inp.kww_fits.as_ref()?;
    let mut count: BTreeMap<SeriesKey, usize> = BTreeMap::new();
    for f in fits.iter().filter(|f| f.status == "ok") {
        *count.entry(fit_key(f)).or_default() += 1;
    }
    count
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(k, _)| k)
}

fn fit_key(f: &tables::KwwFit) -> SeriesKey {
    SeriesKey::new(&f.material, &f.series, f.strain, f.temperature_k)
}

/// The material, with the series and strain only where the material has more than one.
fn who(all: &[SeriesKey], k: &SeriesKey) -> String {
    let split = all
        .iter()
        .any(|o| o.material == k.material && (o.series != k.series || o.strain() != k.strain()));
    if split { k.label() } else { k.material.clone() }
}

/// A legend entry: `who`, then the temperature.
fn legend(all: &[SeriesKey], k: &SeriesKey) -> String {
    format!("{}, {} K", who(all, k), k.temperature_k())
}

fn relaxation(inp: &Inputs) -> Entry {
    let (name, title) = (
        "relaxation_curves",
        "Normalised stress relaxation and KWW fits",
    );
    let (Some(clean), Some(fits)) = (
        inp.relaxation_clean.as_ref().filter(|c| !c.is_empty()),
        &inp.kww_fits,
    ) else {
        return missing(name, title, "No relaxation curves: the campaign has no relaxation data (relaxation_clean or kww_fits is absent).".into());
    };
    let g = groups(fits);
    if g.is_empty() {
        return missing(
            name,
            title,
            "No relaxation curve could be fitted, so there is nothing to draw.".into(),
        );
    }
    let ages = aging_times(inp);
    let keys: Vec<SeriesKey> = g.keys().cloned().collect();
    let mut panels = Vec::new();
    for (key, v) in &g {
        let mut series = Vec::new();
        for f in shown(v) {
            let Some(c) = clean.iter().find(|c| c.test_id == f.test_id) else {
                continue;
            };
            let col = age_color(&ages, c.aging_time_s);
            let step = (c.time_s.len() / 40).max(1);
            let pts: Vec<(f64, f64)> = c
                .time_s
                .iter()
                .zip(&c.phi)
                .map(|(x, y)| (*x, *y))
                .step_by(step)
                .collect();
            series.push(Series::new("", pts, Style::Points, col.clone()));
            let q = KwwParams {
                amplitude: f.amplitude.unwrap_or(1.0),
                ln_tau: f.tau_s.unwrap_or(1.0).ln(),
                beta: f.beta.unwrap_or(1.0),
                offset: f.offset.unwrap_or(0.0),
                t0_s: f.t0_s.unwrap_or(0.0),
            };
            let line: Vec<(f64, f64)> = c.time_s.iter().map(|&x| (x, q.phi(x))).collect();
            series.push(Series::new("", line, Style::Line, col));
        }
        panels.push(Panel {
            title: legend(&keys, key),
            x: axis("t\u{2032} / s", true),
            y: axis("φ = σ/σ_{0}", false),
            series,
            ..Default::default()
        });
    }
    let present: Vec<f64> = g.values().flatten().map(|f| f.aging_time_s).collect();
    if let Some(p) = panels.first_mut() {
        let mut keys = age_keys(&present, &ages, Style::LinePoints);
        keys.append(&mut p.series);
        p.series = keys;
    }
    grid(
        name,
        title,
        "φ = σ/σ0 against the time since the strain step t′, one panel per series; points: the cleaned data (one test per aging time), lines: the KWW model each test's BIC chose.".into(),
        panels,
        MULTIPLES,
    )
}

/// The tests whose curves Fig. 1b draws: per series, one per aging time (the first in table
/// order), which keeps a panel readable. The report reads only these curves of relaxation_clean.
pub fn relaxation_tests_shown(fits: &[tables::KwwFit]) -> BTreeSet<String> {
    groups(fits)
        .values()
        .flat_map(|v| shown(v))
        .map(|f| f.test_id.clone())
        .collect()
}

/// The first fit per aging time of a series' fits (sorted by aging time).
fn shown<'a>(v: &[&'a tables::KwwFit]) -> Vec<&'a tables::KwwFit> {
    let mut seen = BTreeSet::new();
    v.iter()
        .filter(|f| seen.insert(f.aging_time_s.to_bits()))
        .copied()
        .collect()
}

/// Groups of ok fits per series (material, series, strain, temperature), sorted by aging time.
fn groups(fits: &[tables::KwwFit]) -> BTreeMap<SeriesKey, Vec<&tables::KwwFit>> {
    let mut g: BTreeMap<SeriesKey, Vec<&tables::KwwFit>> = BTreeMap::new();
    for f in fits.iter().filter(|f| f.status == "ok" && f.beta.is_some()) {
        g.entry(fit_key(f)).or_default().push(f);
    }
    for v in g.values_mut() {
        v.sort_by(|a, b| a.aging_time_s.total_cmp(&b.aging_time_s));
    }
    g
}

fn beta(inp: &Inputs) -> Entry {
    let (name, title) = (
        "beta_vs_aging_time",
        "KWW stretching exponent β against aging time",
    );
    let Some(fits) = inp.kww_fits.as_ref().filter(|f| !f.is_empty()) else {
        return missing(
            name,
            title,
            "No KWW fits: the campaign has no relaxation data.".into(),
        );
    };
    let g = groups(fits);
    if g.is_empty() {
        return missing(
            name,
            title,
            "No relaxation curve could be fitted, so beta cannot be drawn.".into(),
        );
    }
    let keys: Vec<SeriesKey> = g.keys().cloned().collect();
    let mut panels = Vec::new();
    for (key, v) in &g {
        let mut s = Series::new(
            "β (95 % interval)",
            v.iter()
                .map(|f| (f.aging_time_s, f.beta.unwrap_or(f64::NAN)))
                .collect(),
            Style::Points,
            PALETTE[0],
        );
        s.errors = Some(
            v.iter()
                .map(
                    |f| match (f.beta_ci_low, f.beta_ci_high, f.beta, f.beta_se) {
                        (Some(lo), Some(hi), _, _) => (lo, hi),
                        (_, _, Some(b), Some(se)) => (b - 1.96 * se, b + 1.96 * se),
                        _ => (f64::NAN, f64::NAN),
                    },
                )
                .collect(),
        );
        let mut vlines = Vec::new();
        if let Some(tp) = inp
            .aging_law
            .iter()
            .flatten()
            .find(|l| SeriesKey::new(&l.material, &l.series, l.strain, l.temperature_k) == *key)
            .and_then(|l| l.beta_turning_point_s)
        {
            vlines.push((tp, "turning point of β".to_owned()));
        }
        panels.push(Panel {
            title: legend(&keys, key),
            x: axis(T_A, true),
            y: axis("β", false),
            series: vec![s],
            vlines,
            ..Default::default()
        });
    }
    grid(
        name,
        title,
        "One panel per series. Error bars: bootstrap 95 % intervals where computed, else ±1.96 SE; dashed: the turning point of the quadratic in ln t_{a} where its test finds one.".into(),
        panels,
        MULTIPLES,
    )
}

fn tau(inp: &Inputs) -> Entry {
    let (name, title) = (
        "tau_vs_aging_time",
        "KWW relaxation time τ against aging time",
    );
    let Some(fits) = inp.kww_fits.as_ref().filter(|f| !f.is_empty()) else {
        return missing(
            name,
            title,
            "No KWW fits: the campaign has no relaxation data.".into(),
        );
    };
    let g = groups(fits);
    if g.is_empty() {
        return missing(
            name,
            title,
            "No relaxation curve could be fitted, so tau cannot be drawn.".into(),
        );
    }
    let keys: Vec<SeriesKey> = g.keys().cloned().collect();
    let mut panels = Vec::new();
    for (key, v) in &g {
        let same = |l: &&tables::AgingLaw| {
            SeriesKey::new(&l.material, &l.series, l.strain, l.temperature_k) == *key
        };
        let mut series = vec![Series::new(
            "τ_{KWW}",
            v.iter()
                .map(|f| (f.aging_time_s, f.tau_s.unwrap_or(f64::NAN)))
                .collect(),
            Style::Points,
            PALETTE[0],
        )];
        let mut vlines = Vec::new();
        let mut mus = Vec::new();
        if let Some(law) = &inp.aging_law {
            for seg in law.iter().filter(same) {
                if let (Some(mu), Some(a), Some(lo), Some(hi)) = (
                    seg.mu,
                    seg.prefactor,
                    seg.aging_time_min_s,
                    seg.aging_time_max_s,
                ) {
                    let (lo, hi) = match (seg.segment, seg.breakpoint_s) {
                        (1, Some(b)) => (lo, b),
                        (2, Some(b)) => (b, hi),
                        _ => (lo, hi),
                    };
                    let line: Vec<(f64, f64)> = (0..=20)
                        .map(|i| lo * (hi / lo).powf(i as f64 / 20.0))
                        .map(|x| (x, a * x.powf(mu)))
                        .collect();
                    mus.push(format!("μ_{{{}}} = {mu:.2}", seg.segment));
                    series.push(Series::new(
                        "two-stage power law",
                        line,
                        Style::Line,
                        PALETTE[1],
                    ));
                }
            }
            if let Some(b) = law.iter().find(same).and_then(|l| l.breakpoint_s) {
                vlines.push((b, "breakpoint".to_owned()));
            }
        }
        let mut t = legend(&keys, key);
        if !mus.is_empty() {
            t = format!("{t}: {}", mus.join(", "));
        }
        panels.push(Panel {
            title: t,
            x: axis(T_A, true),
            y: Axis {
                label: "τ_{KWW} / s".into(),
                log: true,
                zero_at_edge: false,
            },
            series,
            vlines,
            ..Default::default()
        });
    }
    grid(
        name,
        title,
        "One panel per series. Lines: the two-stage power law τ = A t_{a}^{μ} fitted by segmented regression, μ of each stage in the panel title; dashed: its breakpoint.".into(),
        panels,
        MULTIPLES,
    )
}

/// The normalised tau_c groups, or why there are none.
fn pop_in_groups(inp: &Inputs) -> Result<TauCGroups, String> {
    let Some(indents) = inp.indents.as_ref().filter(|i| !i.is_empty()) else {
        return Err("No nanoindentation: the campaign has no indentation data.".into());
    };
    let g = normalised_tau_c(indents);
    if g.is_empty() {
        return Err("No indent showed a pop-in, so there is no tau_c distribution to draw.".into());
    }
    Ok(g)
}

/// tau_c / mean per (material, temperature bits, aging-time bits).
type TauCGroups = BTreeMap<(String, u64, u64), Vec<f64>>;

fn normalised_tau_c(indents: &[tables::Indent]) -> TauCGroups {
    let mut g = TauCGroups::new();
    for i in indents.iter().filter(|i| i.status == "ok") {
        if let Some(v) = i.tau_c_gpa {
            g.entry((
                i.material.clone(),
                i.temperature_k.to_bits(),
                i.aging_time_s.to_bits(),
            ))
            .or_default()
            .push(v);
        }
    }
    for v in g.values_mut() {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        for x in v.iter_mut() {
            *x /= mean;
        }
    }
    g
}

/// The ML Gaussian of tau_c/mean (mean 1) with the sample's SD, as a density over [0.4, 1.6].
fn gaussian(v: &[f64]) -> (f64, Vec<(f64, f64)>) {
    let sd = (v.iter().map(|x| (x - 1.0).powi(2)).sum::<f64>() / v.len().max(1) as f64).sqrt();
    let pts = (0..=120)
        .map(|i| 0.4 + 1.2 * i as f64 / 120.0)
        .map(|x| {
            (
                x,
                (-(x - 1.0).powi(2) / (2.0 * sd * sd)).exp()
                    / (sd * (2.0 * std::f64::consts::PI).sqrt()),
            )
        })
        .collect();
    (sd, pts)
}

/// Fig. 2b: one histogram of tau_c/mean per aging time, stacked (shared x), with its Gaussian.
fn tau_c_distributions(inp: &Inputs) -> Entry {
    let (name, title) = (
        "tau_c_distributions",
        "Distributions of the critical shear stress per aging time",
    );
    let g = match pop_in_groups(inp) {
        Ok(g) => g,
        Err(why) => return missing(name, title, why),
    };
    let ages = aging_times(inp);
    let several = g
        .keys()
        .map(|k| (&k.0, k.1))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    let width = 0.025;
    let mut panels = Vec::new();
    for ((m, t, a), v) in &g {
        let a = f64::from_bits(*a);
        let n = v.len() as f64;
        let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
        for x in v {
            *counts.entry((x / width).floor() as i64).or_default() += 1;
        }
        let mut steps = Vec::new();
        for (b, c) in &counts {
            let (x0, x1, h) = (
                *b as f64 * width,
                (*b + 1) as f64 * width,
                *c as f64 / (n * width),
            );
            steps.extend([(x0, 0.0), (x0, h), (x1, h), (x1, 0.0)]);
        }
        let col = age_color(&ages, a);
        let (sd, gauss) = gaussian(v);
        let who = if several {
            format!("{m}, {} K, ", f64::from_bits(*t))
        } else {
            String::new()
        };
        panels.push(Panel {
            title: format!(
                "{who}{}: n = {}, FWHM = {:.3}",
                age_label(a),
                v.len(),
                2.3548 * sd
            ),
            x: axis("τ_{c} / ⟨τ_{c}⟩", false),
            y: axis("density", false),
            series: vec![
                Series::new("histogram", steps, Style::Line, col.clone()),
                Series::new("Gaussian (maximum likelihood)", gauss, Style::Dashed, col),
            ],
            ..Default::default()
        });
    }
    // The legend explains the styles in black; each panel's colour is its aging time.
    for p in &mut panels {
        for s in &mut p.series {
            s.label.clear();
        }
    }
    if let Some(p) = panels.first_mut() {
        p.series
            .push(Series::key("histogram (bin 0.025)", Style::Line, "#222222"));
        p.series.push(Series::key(
            "Gaussian (maximum likelihood)",
            Style::Dashed,
            "#222222",
        ));
    }
    grid(
        name,
        title,
        "Stacked as in the paper: one histogram (bin width 0.025) of τ_{c}/⟨τ_{c}⟩ per aging time for the indents with a pop-in, with the maximum-likelihood Gaussian; colour: the aging time.".into(),
        panels,
        Layout {
            columns: 1,
            share_x: true,
            share_y: false,
            aspect: 0.16,
        },
    )
}

/// Fig. 2c: the Gaussians of tau_c/mean of every aging time in one frame.
fn tau_c_gaussians(inp: &Inputs) -> Entry {
    let (name, title) = (
        "tau_c_gaussians",
        "Gaussian distributions of τ_{c}/⟨τ_{c}⟩ against aging time",
    );
    let g = match pop_in_groups(inp) {
        Ok(g) => g,
        Err(why) => return missing(name, title, why),
    };
    let ages = aging_times(inp);
    let mut by: BTreeMap<(String, u64), Vec<Series>> = BTreeMap::new();
    for ((m, t, a), v) in &g {
        let a = f64::from_bits(*a);
        let (_, gauss) = gaussian(v);
        by.entry((m.clone(), *t)).or_default().push(Series::new(
            age_label(a),
            gauss,
            Style::Line,
            age_color(&ages, a),
        ));
    }
    let panels = by
        .into_iter()
        .map(|((m, t), series)| Panel {
            title: format!("{m}, {} K", f64::from_bits(t)),
            x: axis("τ_{c} / ⟨τ_{c}⟩", false),
            y: axis("density", false),
            series,
            ..Default::default()
        })
        .collect();
    grid(
        name,
        title,
        "The maximum-likelihood Gaussian of τ_{c}/⟨τ_{c}⟩ at each aging time: a narrower peak is a more homogeneous glass.".into(),
        panels,
        Layout {
            columns: 2,
            share_x: true,
            share_y: true,
            aspect: 0.62,
        },
    )
}

/// Fig. 2a: one enlarged P-h curve per aging time (the indent with the median tau_c), its first
/// pop-in marked and the Hertz fit drawn up to it.
fn indentation_curves(inp: &Inputs) -> Entry {
    let (name, title) = (
        "indentation_curves",
        "Load-displacement curves with the first pop-in and the Hertz fit",
    );
    let (Some(raw), Some(indents)) = (
        inp.indentation_raw.as_ref().filter(|r| !r.is_empty()),
        inp.indents.as_ref().filter(|i| !i.is_empty()),
    ) else {
        return missing(name, title, "No load-displacement curves: the campaign has no indentation data (indentation_raw or indents is absent).".into());
    };
    let ages = aging_times(inp);
    // Per (material, temperature, aging time): the indent with a pop-in nearest the median tau_c.
    let mut by: BTreeMap<(String, u64, u64), Vec<&tables::Indent>> = BTreeMap::new();
    for i in indents.iter().filter(|i| {
        i.status == "ok"
            && i.tau_c_gpa.is_some()
            && i.popin_depth_nm.is_some()
            && i.er_gpa.is_some()
    }) {
        by.entry((
            i.material.clone(),
            i.temperature_k.to_bits(),
            i.aging_time_s.to_bits(),
        ))
        .or_default()
        .push(i);
    }
    if by.is_empty() {
        return missing(
            name,
            title,
            "No indent has both a Hertz fit and a pop-in.".into(),
        );
    }
    // The most common (material, temperature) only: the paper shows one glass.
    let mut count: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for k in by.keys() {
        *count.entry((k.0.clone(), k.1)).or_default() += 1;
    }
    let Some(((m, t), _)) = count
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
    else {
        return missing(name, title, "No indents.".into());
    };
    let mut panels = Vec::new();
    let mut shown = Vec::new();
    for ((_, _, a), mut v) in by.into_iter().filter(|(k, _)| k.0 == m && k.1 == t) {
        v.sort_by(|x, y| {
            x.tau_c_gpa
                .unwrap_or(0.0)
                .total_cmp(&y.tau_c_gpa.unwrap_or(0.0))
                .then(x.indent_id.cmp(&y.indent_id))
        });
        let i = v[v.len() / 2];
        let Some(curve) = raw.iter().find(|c| c.indent_id == i.indent_id) else {
            continue;
        };
        let (Some(hp), Some(pp), Some(er)) = (i.popin_depth_nm, i.popin_load_un, i.er_gpa) else {
            continue;
        };
        let a = f64::from_bits(a);
        shown.push(
            i.indent_id
                .rsplit('/')
                .next()
                .unwrap_or(&i.indent_id)
                .to_owned(),
        );
        let col = age_color(&ages, a);
        let h_max = 2.0 * (hp + i.popin_burst_nm.unwrap_or(0.0)).max(hp);
        // The loading segment (the first), up to twice the pop-in depth: the enlarged view.
        let peak = curve
            .load_un
            .iter()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |b, (k, p)| if *p > b.1 { (k, *p) } else { b },
            )
            .0;
        let pts: Vec<(f64, f64)> = curve.depth_nm
            [..=peak.min(curve.depth_nm.len().saturating_sub(1))]
            .iter()
            .zip(&curve.load_un)
            .filter(|(h, p)| **h <= h_max && h.is_finite() && p.is_finite())
            .map(|(h, p)| (*h, *p))
            .collect();
        let h0 = i.h0_nm.unwrap_or(0.0);
        // P = 4/3 E_r sqrt(R) (h - h0)^1.5; GPa nm^2 = 1e-3 uN.
        let k = 4.0 / 3.0 * er * i.tip_radius_nm.sqrt() * 1e-3;
        let hertz: Vec<(f64, f64)> = (0..=60)
            .map(|j| h0 + (hp - h0).max(0.0) * j as f64 / 60.0)
            .map(|h| (h, k * (h - h0).max(0.0).powf(1.5)))
            .collect();
        panels.push(Panel {
            title: age_label(a),
            x: axis("h / nm", false),
            y: axis("P / μN", false),
            series: vec![
                Series::new("", pts, Style::Line, col),
                Series::new("Hertz fit", hertz, Style::Dashed, "#222222"),
                Series::new("first pop-in", vec![(hp, pp)], Style::Ring, PALETTE[1]),
            ],
            ..Default::default()
        });
    }
    grid(
        name,
        title,
        format!(
            "{m} at {} K: per aging time the indent whose τ_{{c}} is the median ({}), its loading branch up to twice the pop-in depth; colour: the aging time.",
            f64::from_bits(t),
            shown.join(", ")
        ),
        panels,
        MULTIPLES,
    )
}

fn tau_c_trend(inp: &Inputs) -> Entry {
    let (name, title) = (
        "tau_c_mean_and_fwhm",
        "Mean critical shear stress and FWHM against aging time",
    );
    let Some(stats) = inp.tau_c_stats.as_ref().filter(|s| !s.is_empty()) else {
        return missing(
            name,
            title,
            "No nanoindentation: the campaign has no indentation data.".into(),
        );
    };
    let rows: Vec<&tables::TauCStats> = stats
        .iter()
        .filter(|s| s.tau_c_mean_gpa.is_some())
        .collect();
    if rows.is_empty() {
        return missing(
            name,
            title,
            "No aging time has enough pop-ins for statistics.".into(),
        );
    }
    let mut by: BTreeMap<(String, u64), Vec<&tables::TauCStats>> = BTreeMap::new();
    for s in rows {
        by.entry(key(&s.material, s.temperature_k))
            .or_default()
            .push(s);
    }
    let (mut mean, mut fwhm) = (Vec::new(), Vec::new());
    for (k, ((m, t), v)) in by.iter().enumerate() {
        let label = format!("{m}, {} K", f64::from_bits(*t));
        let mut s = Series::new(
            label.clone(),
            v.iter()
                .map(|s| (s.aging_time_s, s.tau_c_mean_gpa.unwrap_or(f64::NAN)))
                .collect(),
            Style::LinePoints,
            color(k),
        );
        s.errors = Some(
            v.iter()
                .map(|s| {
                    let m = s.tau_c_mean_gpa.unwrap_or(f64::NAN);
                    let se = s.tau_c_std_gpa.unwrap_or(0.0) / (s.n_popins.max(1) as f64).sqrt();
                    (m - 1.96 * se, m + 1.96 * se)
                })
                .collect(),
        );
        mean.push(s);
        let mut f = Series::new(
            label,
            v.iter()
                .map(|s| (s.aging_time_s, s.tau_c_fwhm.unwrap_or(f64::NAN)))
                .collect(),
            Style::LinePoints,
            color(k),
        );
        f.errors = Some(
            v.iter()
                .map(|s| {
                    let (x, se) = (
                        s.tau_c_fwhm.unwrap_or(f64::NAN),
                        s.tau_c_fwhm_se.unwrap_or(0.0),
                    );
                    (x - 1.96 * se, x + 1.96 * se)
                })
                .collect(),
        );
        fwhm.push(f);
    }
    drawn(
        name,
        title,
        "Error bars: ±1.96 standard errors.".into(),
        vec![
            Panel {
                x: axis(T_A, true),
                y: axis("⟨τ_{c}⟩ / GPa", false),
                series: mean,
                ..Default::default()
            },
            Panel {
                x: axis(T_A, true),
                y: axis("FWHM of τ_{c}/⟨τ_{c}⟩", false),
                series: fwhm,
                ..Default::default()
            },
        ],
    )
}

fn activation_energy(inp: &Inputs) -> Entry {
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

fn model(inp: &Inputs) -> Entry {
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

/// The series a spectrum figure shows: the reference series where it has spectra, else the
/// first series that has.
fn spectrum_series_key(inp: &Inputs, spectra: &[tables::Spectrum]) -> Option<SeriesKey> {
    let key =
        |c: &tables::Spectrum| SeriesKey::new(&c.material, &c.series, c.strain, c.temperature_k);
    reference(inp)
        .filter(|r| spectra.iter().any(|c| key(c) == *r))
        .or_else(|| spectra.first().map(key))
}

/// The curves [`spectra`] draws, from the rows of spectrum_moments whose curves have a spectrum
/// (status `ok`), in the table's order (the spectra table's): the first per aging time of the
/// series [`spectrum_series_key`] picks.
pub fn spectra_shown(inp: &Inputs, ok: &[&tables::SpectrumMoments]) -> BTreeSet<String> {
    let key = |m: &tables::SpectrumMoments| {
        SeriesKey::new(&m.material, &m.series, m.strain, m.temperature_k)
    };
    let Some(k) = reference(inp)
        .filter(|r| ok.iter().any(|m| key(m) == *r))
        .or_else(|| ok.first().map(|m| key(m)))
    else {
        return BTreeSet::new();
    };
    let mut by_age: BTreeMap<u64, &str> = BTreeMap::new();
    for m in ok.iter().filter(|m| key(m) == k) {
        by_age.entry(m.aging_time_s.to_bits()).or_insert(&m.test_id);
    }
    by_age.into_values().map(str::to_owned).collect()
}

/// Fig. 4a from data: the measured D(ln tau) per aging time for one series, each normalised to
/// its maximum, with its 95 % bootstrap band (dashed).
fn spectra(inp: &Inputs) -> Entry {
    let ages = aging_times(inp);
    let (name, title) = (
        "spectra_by_aging_time",
        "Measured relaxation-time spectra D(ln τ) per aging time",
    );
    let Some(spectra) = inp.spectra.as_ref().filter(|s| !s.is_empty()) else {
        return missing(name, title, "No measured spectra: the spectra table is absent (add the spectrum stage to the pipeline).".into());
    };
    let Some(k) = spectrum_series_key(inp, spectra) else {
        return missing(name, title, "No spectra.".into());
    };
    let key =
        |c: &tables::Spectrum| SeriesKey::new(&c.material, &c.series, c.strain, c.temperature_k);
    // One curve per aging time: the first by test id.
    let mut by_age: BTreeMap<u64, &tables::Spectrum> = BTreeMap::new();
    for c in spectra.iter().filter(|c| key(c) == k) {
        by_age.entry(c.aging_time_s.to_bits()).or_insert(c);
    }
    let mut series = Vec::new();
    for c in by_age.values() {
        let top = c.h.iter().fold(0.0f64, |m, v| m.max(*v));
        if top <= 0.0 {
            continue;
        }
        let tau: Vec<f64> = c.ln_tau.iter().map(|x| x.exp()).collect();
        let pts = tau.iter().zip(&c.h).map(|(t, h)| (*t, h / top)).collect();
        series.push(Series::new(
            age_label(c.aging_time_s),
            pts,
            Style::Line,
            age_color(&ages, c.aging_time_s),
        ));
        for band in [&c.h_low, &c.h_high] {
            let pts: Vec<(f64, f64)> = tau
                .iter()
                .zip(band)
                .filter_map(|(t, b)| Some((*t, (*b)? / top)))
                .collect();
            if !pts.is_empty() {
                series.push(Series::new(
                    "",
                    pts,
                    Style::Dashed,
                    age_color(&ages, c.aging_time_s),
                ));
            }
        }
    }
    let flagged = inp
        .spectrum_moments
        .iter()
        .flatten()
        .filter(|m| {
            SeriesKey::new(&m.material, &m.series, m.strain, m.temperature_k) == k
                && m.flags.contains("beyond_window")
        })
        .count();
    let mut caption = format!(
        "{} at {} K: h(ln τ) from regularised nonnegative least squares (weight by GCV), each normalised to its maximum; dashed: the pointwise 95 % bootstrap band.",
        k.label(),
        k.temperature_k()
    );
    if flagged > 0 {
        caption.push_str(&format!(" {flagged} of these curves have more than 20 % of their mass outside the measured window (flag beyond_window): there the spectrum is not resolved and its moments are lower bounds of the KWW ones."));
    }
    drawn(
        name,
        title,
        caption,
        vec![Panel {
            x: axis("τ / s", true),
            y: axis("D/D_{max}", false),
            series,
            ..Default::default()
        }],
    )
}

/// Fig. 4b from data: the centre and the width of D against t_a, measured (95 % intervals),
/// implied by the KWW fits, and each model scenario's distribution.
fn spectrum_trends(inp: &Inputs) -> Entry {
    let (name, title) = (
        "spectra_centre_width",
        "Centre and width of D(ln τ) against aging time: measured, KWW-implied and the model scenarios",
    );
    let Some(rows) = inp.spectrum_series.as_ref().filter(|s| !s.is_empty()) else {
        return missing(
            name,
            title,
            "No per-series spectrum summary: the spectrum_series table is absent.".into(),
        );
    };
    let key = |c: &tables::SpectrumSeries| {
        SeriesKey::new(&c.material, &c.series, c.strain, c.temperature_k)
    };
    let k = inp
        .spectra
        .as_deref()
        .and_then(|s| spectrum_series_key(inp, s))
        .unwrap_or_else(|| key(&rows[0]));
    let here: Vec<&tables::SpectrumSeries> = rows.iter().filter(|r| key(r) == k).collect();
    let mut centre = Vec::new();
    let mut width = Vec::new();
    for (i, source) in ["spectrum", "kww", "transient", "broadening", "combined"]
        .iter()
        .enumerate()
    {
        let mut pts: Vec<&&tables::SpectrumSeries> = here
            .iter()
            .filter(|r| r.source == *source && r.aging_time_s > 0.0)
            .collect();
        pts.sort_by(|a, b| a.aging_time_s.total_cmp(&b.aging_time_s));
        if pts.is_empty() {
            continue;
        }
        let label = match *source {
            "spectrum" => "measured spectrum".to_string(),
            "kww" => "implied by the KWW fit".to_string(),
            s => format!("scenario: {s}"),
        };
        let style = match *source {
            "spectrum" => Style::Points,
            "kww" => Style::LinePoints,
            _ => Style::Dashed,
        };
        for (out, get) in [
            (
                &mut centre,
                (|r: &tables::SpectrumSeries| (r.centre_ln_tau, r.centre_se))
                    as fn(&tables::SpectrumSeries) -> (Option<f64>, Option<f64>),
            ),
            (&mut width, |r: &tables::SpectrumSeries| {
                (r.width_ln_tau, r.width_se)
            }),
        ] {
            let vals: Vec<(f64, f64, Option<f64>)> = pts
                .iter()
                .filter_map(|r| {
                    let (v, se) = get(r);
                    Some((r.aging_time_s, v?, se))
                })
                .collect();
            let mut s = Series::new(
                label.clone(),
                vals.iter().map(|v| (v.0, v.1)).collect(),
                style,
                color(i),
            );
            if *source == "spectrum" && vals.iter().all(|v| v.2.is_some()) {
                s.errors = Some(
                    vals.iter()
                        .map(|v| {
                            let e = 1.96 * v.2.unwrap_or(0.0);
                            (v.1 - e, v.1 + e)
                        })
                        .collect(),
                );
            }
            out.push(s);
        }
    }
    drawn(
        name,
        title,
        format!(
            "{} at {} K. Centre: the mean of ln τ; width: its standard deviation, for the KWW fit √((π²/6)(1/β² − 1)). Error bars: 95 % intervals (bootstrap SEs, curves at one aging time pooled by 1/SE²). Scenarios: the log-normal of each fitted model-compare scenario at the start of the test.",
            k.label(),
            k.temperature_k()
        ),
        vec![
            Panel {
                x: axis(T_A, true),
                y: axis("⟨ln(τ/s)⟩", false),
                series: centre,
                ..Default::default()
            },
            Panel {
                x: axis(T_A, true),
                y: axis("SD of ln τ", false),
                series: width,
                ..Default::default()
            },
        ],
    )
}

/// The label of a thermal scan: its condition (or id) and aging time.
fn scan_label(series: &Option<String>, id: &str, aging: Option<f64>) -> String {
    let who = series.clone().unwrap_or_else(|| id.to_owned());
    match aging {
        Some(t) if t > 0.0 => format!("{who} (t_{{a}} = {} s)", fmt_num(t)),
        _ => who,
    }
}

/// Fig. 3b: E''/E''_max against temperature, as-cast against aged, beta relaxation marked.
fn dma_beta(inp: &Inputs) -> Entry {
    let ages = aging_times(inp);
    let (name, title) = (
        "dma_loss_beta",
        "Loss modulus E″/E″_{max} against temperature (β relaxation)",
    );
    let Some(sweeps) = inp.dma_sweeps.as_ref().filter(|s| !s.is_empty()) else {
        return missing(name, title, "No DMA temperature sweep: the campaign lists none under `dma_sweeps:` (or the thermal stage did not run).".into());
    };
    let material = sweeps[0].material.clone();
    let here: Vec<&tables::DmaSweep> = sweeps.iter().filter(|c| c.material == material).collect();
    // 1 Hz where measured, else the lowest frequency.
    let f = here
        .iter()
        .map(|c| c.frequency_hz)
        .min_by(|a, b| (a.ln().abs()).total_cmp(&b.ln().abs()))
        .unwrap_or(1.0);
    let mut curves: Vec<&&tables::DmaSweep> = here.iter().filter(|c| c.frequency_hz == f).collect();
    curves.sort_by(|a, b| {
        a.aging_time_s
            .unwrap_or(0.0)
            .total_cmp(&b.aging_time_s.unwrap_or(0.0))
            .then(a.scan_id.cmp(&b.scan_id))
    });
    let mut series = Vec::new();
    let mut vlines = Vec::new();
    for c in &curves {
        let label = scan_label(&c.series, &c.scan_id, c.aging_time_s);
        let pts: Vec<(f64, f64)> = c
            .temperature_k
            .iter()
            .zip(&c.loss_norm)
            .filter_map(|(t, v)| Some((*t, (*v)?)))
            .collect();
        let col = age_color(&ages, c.aging_time_s.unwrap_or(0.0));
        series.push(Series::new(label.clone(), pts, Style::Line, col.clone()));
        let flank: Vec<(f64, f64)> = c
            .temperature_k
            .iter()
            .zip(&c.alpha_flank_norm)
            .filter_map(|(t, v)| Some((*t, (*v)?)))
            .collect();
        if !flank.is_empty() {
            series.push(Series::new(String::new(), flank, Style::Dashed, col));
        }
        if let Some(t) = inp.transitions.iter().flatten().find(|r| {
            r.scan_id == c.scan_id
                && r.transition == "beta_peak"
                && r.frequency_hz == Some(f)
                && r.status == "ok"
        }) && let Some(tb) = t.temperature_k
        {
            vlines.push((tb, "β peak".to_owned()));
        }
    }
    let change: Vec<String> = inp
        .transitions
        .iter()
        .flatten()
        .filter(|r| {
            r.material == material
                && r.transition == "beta_intensity_change"
                && r.frequency_hz == Some(f)
        })
        .filter_map(|r| {
            Some(format!(
                "{}: {:+.0} % (SE {:.0} %)",
                scan_label(&r.series, &r.scan_id, r.aging_time_s),
                100.0 * r.intensity?,
                100.0 * r.intensity_se.unwrap_or(f64::NAN)
            ))
        })
        .collect();
    let caption = format!(
        "{material} at {f} Hz. Dashed: the fitted α-peak flank and background; the β relaxation is the area above it.{}",
        if change.is_empty() {
            String::new()
        } else {
            format!(
                " Its intensity against the as-cast scan: {}.",
                change.join("; ")
            )
        }
    );
    drawn(
        name,
        title,
        caption,
        vec![Panel {
            x: axis("T / K", false),
            y: axis("E″/E″_{max}", false),
            series,
            vlines,
            ..Default::default()
        }],
    )
}

/// Fig. S1: DSC heat flow against temperature, tangent construction and T_g marked.
fn dsc_tg(inp: &Inputs) -> Entry {
    let ages = aging_times(inp);
    let (name, title) = ("dsc_tg", "DSC scans and the glass transition");
    let Some(scans) = inp.dsc_raw.as_ref().filter(|s| !s.is_empty()) else {
        return missing(
            name,
            title,
            "No DSC scan: the campaign lists none under `dsc:`.".into(),
        );
    };
    let material = scans[0].material.clone();
    let mut series = Vec::new();
    let mut vlines = Vec::new();
    let mut unit = "W/g";
    let tr: Vec<&tables::Transition> = inp.transitions.iter().flatten().collect();
    for (k, s) in scans
        .iter()
        .filter(|s| s.material == material)
        .take(4)
        .enumerate()
    {
        let per_g = s.heat_flow_w_g.iter().any(Option::is_some);
        if !per_g {
            unit = "W";
        }
        let hf = if per_g {
            &s.heat_flow_w_g
        } else {
            &s.heat_flow_w
        };
        // The heating segments only (thermal's segmentation, as the transitions were measured):
        // cooling and isothermal parts of a scan are not the curve T_g is read from.
        let finite: Vec<(f64, f64)> = s
            .temperature_k
            .iter()
            .zip(hf)
            .filter_map(|(t, v)| Some((*t, (*v)?)).filter(|p| p.0.is_finite() && p.1.is_finite()))
            .collect();
        let temps: Vec<f64> = finite.iter().map(|p| p.0).collect();
        let segs = thermal::dsc::segments(&temps);
        let heatings: Vec<Vec<(f64, f64)>> = if segs
            .iter()
            .any(|g| g.kind == thermal::dsc::SegmentKind::Heating)
        {
            segs.iter()
                .filter(|g| g.kind == thermal::dsc::SegmentKind::Heating)
                .map(|g| finite[g.from..g.to].to_vec())
                .collect()
        } else {
            vec![finite]
        };
        let label = scan_label(&s.series, &s.scan_id, s.aging_time_s);
        let col = age_color(&ages, s.aging_time_s.unwrap_or(0.0));
        // One line per heating (a line joining one heating's end to the next one's start would
        // cross the plot).
        let many = heatings.len() > 1;
        for (h, heating) in heatings.into_iter().enumerate() {
            let step = (heating.len() / 600).max(1);
            let pts: Vec<(f64, f64)> = heating.into_iter().step_by(step).collect();
            let name = if many {
                format!("{label}, heating {}", h + 1)
            } else {
                label.clone()
            };
            series.push(Series::new(name, pts, Style::Line, col.clone()));
        }
        let get = |t: &str| {
            tr.iter().find(|r| {
                r.scan_id == s.scan_id
                    && r.transition == t
                    && r.status == "ok"
                    && r.segment.unwrap_or(1) == 1
            })
        };
        if let (Some(on), Some(end)) = (get("tg_onset"), get("tg_end"))
            && let (Some(t0), Some(t1)) = (on.temperature_k, end.temperature_k)
        {
            let line =
                |a: Option<f64>, b: Option<f64>, lo: f64, hi: f64| -> Option<Vec<(f64, f64)>> {
                    let (a, b) = (a?, b?);
                    Some(vec![(lo, a + b * lo), (hi, a + b * hi)])
                };
            let w = t1 - t0;
            for pts in [
                line(
                    on.baseline_intercept,
                    on.baseline_slope_per_k,
                    t0 - 2.0 * w,
                    t0 + 0.3 * w,
                ),
                line(
                    on.tangent_intercept,
                    on.tangent_slope_per_k,
                    t0 - 0.3 * w,
                    t1 + 0.3 * w,
                ),
                line(
                    end.baseline_intercept,
                    end.baseline_slope_per_k,
                    t1 - 0.3 * w,
                    t1 + 2.0 * w,
                ),
            ]
            .into_iter()
            .flatten()
            {
                series.push(Series::new(
                    "tangent construction",
                    pts,
                    Style::Dashed,
                    color(k),
                ));
            }
            vlines.push((t0, "T_{g} onset".to_owned()));
        }
    }
    drawn(
        name,
        title,
        format!(
            "{material}: heat flow against T, heating segments only, in each file's own sign convention (the `endo` column of transitions says which). Dashed: the first heating's baselines and inflection tangent; T_g onset where they meet (ASTM E1356 style)."
        ),
        vec![Panel {
            x: axis("T / K", false),
            y: axis(
                if unit == "W" {
                    "heat flow / W"
                } else {
                    "heat flow / W g^{-1}"
                },
                false,
            ),
            series,
            vlines,
            ..Default::default()
        }],
    )
}
