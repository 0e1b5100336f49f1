//! The thermal figures: the DMA beta relaxation and the DSC scans with their T_g construction.

use super::*;

/// The label of a thermal scan: its condition (or id) and aging time.
pub(super) fn scan_label(series: &Option<String>, id: &str, aging: Option<f64>) -> String {
    let who = series.clone().unwrap_or_else(|| id.to_owned());
    match aging {
        Some(t) if t > 0.0 => format!("{who} (t_{{a}} = {} s)", fmt_num(t)),
        _ => who,
    }
}

/// Fig. 3b: E''/E''_max against temperature, as-cast against aged, beta relaxation marked.
pub(super) fn dma_beta(inp: &Inputs) -> Entry {
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
                && r.status == tables::Status::Ok
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
pub(super) fn dsc_tg(inp: &Inputs) -> Entry {
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
        let segs = ::thermal::dsc::segments(&temps);
        let heatings: Vec<Vec<(f64, f64)>> = if segs
            .iter()
            .any(|g| g.kind == ::thermal::dsc::SegmentKind::Heating)
        {
            segs.iter()
                .filter(|g| g.kind == ::thermal::dsc::SegmentKind::Heating)
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
                    && r.status == tables::Status::Ok
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
