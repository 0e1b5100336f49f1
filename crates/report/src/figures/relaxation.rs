//! The relaxation figures: curves with their fits, beta and tau against aging time, E_a, the model scenarios.

use super::*;

pub(super) fn relaxation(inp: &Inputs) -> Entry {
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
pub(super) fn shown<'a>(v: &[&'a tables::KwwFit]) -> Vec<&'a tables::KwwFit> {
    let mut seen = BTreeSet::new();
    v.iter()
        .filter(|f| seen.insert(f.aging_time_s.to_bits()))
        .copied()
        .collect()
}

/// Groups of ok fits per series (material, series, strain, temperature), sorted by aging time.
pub(super) fn groups(fits: &[tables::KwwFit]) -> BTreeMap<SeriesKey, Vec<&tables::KwwFit>> {
    let mut g: BTreeMap<SeriesKey, Vec<&tables::KwwFit>> = BTreeMap::new();
    for f in fits
        .iter()
        .filter(|f| f.status == tables::Status::Ok && f.beta.is_some())
    {
        g.entry(fit_key(f)).or_default().push(f);
    }
    for v in g.values_mut() {
        v.sort_by(|a, b| a.aging_time_s.total_cmp(&b.aging_time_s));
    }
    g
}

pub(super) fn beta(inp: &Inputs) -> Entry {
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

pub(super) fn tau(inp: &Inputs) -> Entry {
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
