//! A truth spec checked before anything is written: every problem of it at once.

use super::*;

/// Checks a spec for values the generator cannot use.
pub fn validate(spec: &TruthSpec) -> Result<(), String> {
    let mut problems = Vec::new();
    for m in &spec.materials {
        let mut conditions = std::collections::BTreeSet::new();
        let scans = m
            .dsc
            .iter()
            .flat_map(|d| d.scans.iter().map(|s| ("dsc", s)))
            .chain(
                m.dma_sweeps
                    .iter()
                    .flat_map(|d| d.scans.iter().map(|s| ("dma", s))),
            );
        for (kind, sc) in scans {
            if !TA_FORMATS.contains(&sc.format.as_str()) {
                problems.push(format!(
                    "{}: {kind} scan `{}`: format `{}` is not one of ta-universal, trios-text, trios-excel, trios-json",
                    m.name, sc.condition, sc.format
                ));
            }
            if sc.condition.is_empty()
                || !sc
                    .condition
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                || !conditions.insert((kind, sc.condition.clone()))
            {
                problems.push(format!(
                    "{}: {kind} scan condition `{}` must be a unique label of letters, digits, `-`, `_` or `.`",
                    m.name, sc.condition
                ));
            }
        }
        if let Some(d) = &m.dma_sweeps
            && (d.frequencies_hz.is_empty()
                || d.frequencies_hz.iter().any(|f| f.is_nan() || *f <= 0.0))
        {
            problems.push(format!(
                "{}: dma_sweeps.frequencies_hz must be positive",
                m.name
            ));
        }
        for (what, per_k, lo, hi) in m
            .dsc
            .iter()
            .map(|d| ("dsc", d.points_per_k, d.start_k, d.end_k))
            .chain(
                m.dma_sweeps
                    .iter()
                    .map(|d| ("dma_sweeps", d.points_per_k, d.start_k, d.end_k)),
            )
        {
            if !(per_k > 0.0 && per_k <= 100.0 && lo > 0.0 && hi > lo && (hi - lo) * per_k < 1e6) {
                problems.push(format!(
                    "{}: {what}: points_per_k must be in (0, 100] and 0 < start_k < end_k",
                    m.name
                ));
            }
        }
        if let Some(r) = &m.relaxation {
            for s in &r.series {
                if !TA_FORMATS.contains(&s.format.as_str()) {
                    problems.push(format!("{}: series at {} K: format `{}` is not one of ta-universal, trios-text, trios-excel, trios-json", m.name, s.temperature_k, s.format));
                }
                if s.aging_times_s.iter().any(|t| t.is_nan() || *t <= 0.0) {
                    problems.push(format!(
                        "{}: relaxation aging times must be positive",
                        m.name
                    ));
                }
            }
            for (what, v) in [
                ("sampling_s", r.sampling_s.span().0),
                ("span_s", r.span_s),
                ("ramp_s", r.ramp_s.span().0),
                ("strain", r.strain),
                ("modulus_gpa", r.modulus_gpa),
            ]
            .into_iter()
            .chain(
                r.series
                    .iter()
                    .filter_map(|s| s.strain.map(|e| ("series strain", e))),
            ) {
                if !(v > 0.0 && v.is_finite()) {
                    problems.push(format!("{}: relaxation.{what} must be positive", m.name));
                }
            }
            for (what, s) in [
                ("sampling_s", r.sampling_s),
                ("ramp_s", r.ramp_s),
                ("equilibration_s", r.equilibration_s),
                ("offset_fraction", r.offset_fraction),
                ("noise_mpa", r.noise_mpa),
                ("drift_mpa_per_h", r.drift_mpa_per_h),
            ] {
                let (lo, hi) = s.span();
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                    problems.push(format!(
                        "{}: relaxation.{what} must be a number or [low, high] with low <= high",
                        m.name
                    ));
                } else if what != "drift_mpa_per_h" && lo < 0.0 {
                    problems.push(format!(
                        "{}: relaxation.{what} must not be negative",
                        m.name
                    ));
                }
            }
            if r.offset_fraction.span().1 >= 1.0 {
                problems.push(format!(
                    "{}: relaxation.offset_fraction must be below 1",
                    m.name
                ));
            }
            if r.span_s / r.sampling_s.span().0 > 5e6 {
                problems.push(format!(
                    "{}: span_s / sampling_s gives more than 5 million points per test",
                    m.name
                ));
            }
            if r.beta.is_empty() || r.ea_kj_mol.is_empty() {
                problems.push(format!(
                    "{}: relaxation.beta and relaxation.ea_kj_mol need at least one knot",
                    m.name
                ));
            }
        }
        if let Some(i) = &m.indentation {
            for f in
                std::iter::once(&i.format).chain(i.groups.iter().filter_map(|g| g.format.as_ref()))
            {
                if f != "hysitron-ti990" && f != "hysitron-classic" {
                    problems.push(format!("{}: indentation format `{f}` is neither `hysitron-ti990` nor `hysitron-classic`", m.name));
                }
            }
            for (what, v) in [
                ("er_gpa", i.er_gpa),
                ("tip_radius_nm", i.tip_radius_nm),
                ("load.max_un", i.load.max_un),
                ("load.rate_un_s", i.load.rate_un_s),
                ("load.sampling_hz", i.load.sampling_hz),
            ] {
                if !(v > 0.0 && v.is_finite()) {
                    problems.push(format!("{}: indentation.{what} must be positive", m.name));
                }
            }
            if i.burst_samples.0 == 0 || i.burst_samples.1 < i.burst_samples.0 {
                problems.push(format!(
                    "{}: indentation.burst_samples must be [min, max] with 1 <= min <= max",
                    m.name
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}
