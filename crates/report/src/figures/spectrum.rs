//! The relaxation-time spectra measured from the curves, and their trends with aging time.

use super::*;

/// The series a spectrum figure shows: the reference series where it has spectra, else the
/// first series that has.
pub(super) fn spectrum_series_key(inp: &Inputs, spectra: &[tables::Spectrum]) -> Option<SeriesKey> {
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
pub(super) fn spectra(inp: &Inputs) -> Entry {
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
pub(super) fn spectrum_trends(inp: &Inputs) -> Entry {
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
