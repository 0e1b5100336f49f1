//! The indentation figures: tau_c distributions, their Gaussians, loading curves and the trend with aging time.

use super::*;

/// The normalised tau_c groups, or why there are none.
pub(super) fn pop_in_groups(inp: &Inputs) -> Result<TauCGroups, String> {
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
pub(super) type TauCGroups = BTreeMap<(String, u64, u64), Vec<f64>>;

pub(super) fn normalised_tau_c(indents: &[tables::Indent]) -> TauCGroups {
    let mut g = TauCGroups::new();
    for i in indents.iter().filter(|i| i.status == tables::Status::Ok) {
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
pub(super) fn gaussian(v: &[f64]) -> (f64, Vec<(f64, f64)>) {
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
pub(super) fn tau_c_distributions(inp: &Inputs) -> Entry {
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
pub(super) fn tau_c_gaussians(inp: &Inputs) -> Entry {
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
pub(super) fn indentation_curves(inp: &Inputs) -> Entry {
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
        i.status == tables::Status::Ok
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

pub(super) fn tau_c_trend(inp: &Inputs) -> Entry {
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
