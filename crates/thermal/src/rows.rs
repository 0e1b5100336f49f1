//! The rows of `transitions` the DSC and DMA analyses share: an empty row for a scan, a row
//! filled from a tangent construction, and the significance a derivative lobe needs.

use tables::Transition;

use crate::curve::Line;

/// Lobes weaker than this (in SDs of the slope's scatter) are not transitions.
pub const MIN_SIGNIFICANCE: f64 = 8.0;

/// A transitions row for a scan, every measured field empty.
pub fn row(
    scan_id: &str,
    material: &str,
    series: &Option<String>,
    aging: Option<f64>,
    kind: &str,
    transition: &str,
) -> Transition {
    Transition {
        scan_id: scan_id.to_owned(),
        material: material.to_owned(),
        series: series.clone(),
        aging_time_s: aging,
        kind: kind.to_owned(),
        transition: transition.to_owned(),
        ..Default::default()
    }
}

/// Sets a row's temperature, SE and construction lines.
pub fn set_construction(
    r: &mut Transition,
    at: Option<(f64, f64)>,
    baseline: Option<&Line>,
    tangent: &Line,
) {
    match at {
        Some((t, se)) => {
            r.temperature_k = Some(t);
            r.temperature_se_k = se.is_finite().then_some(se);
            r.status = tables::Status::Ok.into();
        }
        None => r.status = "no_baseline".into(),
    }
    if let Some(b) = baseline {
        let (i, s) = b.intercept_slope();
        r.baseline_intercept = Some(i);
        r.baseline_slope_per_k = Some(s);
    }
    let (i, s) = tangent.intercept_slope();
    r.tangent_intercept = Some(i);
    r.tangent_slope_per_k = Some(s);
}
