//! `agingflow._agingflow`: the stages' own per-curve code on arrays, for Python. Each function
//! builds the one-curve input a stage builds from its table, calls the same function the stage
//! calls, and returns the row the stage would write as a dict (column name to value, units in
//! the names). Bad input raises `ValueError` naming the argument; nothing here panics on data.

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tables::{CurveTable, RowTable};

/// A `ValueError` naming the argument.
fn bad(arg: &str, what: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{arg}: {what}"))
}

/// Checks an array argument: at least `min` values, all finite.
fn finite(arg: &str, v: &[f64], min: usize) -> PyResult<()> {
    if v.len() < min {
        return Err(bad(arg, format!("needs at least {min} values, got {}", v.len())));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(bad(arg, format!("value {i} is {} (not finite)", v[i])));
    }
    Ok(())
}

fn same_length(a: (&str, usize), b: (&str, usize)) -> PyResult<()> {
    if a.1 != b.1 {
        return Err(bad(
            b.0,
            format!("has {} values but {} has {}", b.1, a.0, a.1),
        ));
    }
    Ok(())
}

/// Checks a curve's arrays (finite, equal lengths, no negative time, counts >= 1) and returns its
/// per-point sample counts (1 each when not given).
fn curve_args(t_s: &[f64], phi: &[f64], n_samples: Option<Vec<i64>>) -> PyResult<Vec<i64>> {
    finite("t_s", t_s, 1)?;
    finite("phi", phi, 1)?;
    same_length(("t_s", t_s.len()), ("phi", phi.len()))?;
    if let Some(i) = t_s.iter().position(|t| *t < 0.0) {
        return Err(bad("t_s", format!("value {i} is negative ({})", t_s[i])));
    }
    match n_samples {
        Some(n) => {
            same_length(("t_s", t_s.len()), ("n_samples", n.len()))?;
            if let Some(i) = n.iter().position(|m| *m < 1) {
                return Err(bad("n_samples", format!("value {i} is {} (< 1)", n[i])));
            }
            Ok(n)
        }
        None => Ok(vec![1; t_s.len()]),
    }
}

/// Row `i` of a record batch as a dict of Python values (float, int, str or None).
fn row_dict<'py>(py: Python<'py>, batch: &RecordBatch, i: usize) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let schema = batch.schema();
    for (f, col) in schema.fields().iter().zip(batch.columns()) {
        let name = f.name().as_str();
        if col.is_null(i) {
            d.set_item(name, py.None())?;
            continue;
        }
        match f.data_type() {
            DataType::Float64 => {
                let a = col.as_any().downcast_ref::<Float64Array>();
                d.set_item(name, a.map(|a| a.value(i)))?;
            }
            DataType::Int64 => {
                let a = col.as_any().downcast_ref::<Int64Array>();
                d.set_item(name, a.map(|a| a.value(i)))?;
            }
            DataType::Utf8 => {
                let a = col.as_any().downcast_ref::<StringArray>();
                d.set_item(name, a.map(|a| a.value(i).to_owned()))?;
            }
            other => return Err(PyValueError::new_err(format!("column {name}: {other:?}"))),
        }
    }
    Ok(d)
}

fn one_row<'py, T: RowTable>(py: Python<'py>, row: T) -> PyResult<Bound<'py, PyDict>> {
    let batch = T::to_batch(&[row]).map_err(|e| PyValueError::new_err(e.to_string()))?;
    row_dict(py, &batch, 0)
}

/// The kww-fit row of one relaxation curve: phi(t') = A exp(-((t' - t0)/tau)^beta) [+ c],
/// fitted exactly as `agingflow-kww-fit` fits a curve of `relaxation_clean`.
///
/// t_s: t', seconds since the end of the strain step (increasing, > 0); phi: stress / sigma0;
/// stress_mpa: the stress in MPa (default: phi, i.e. sigma0 = 1 MPa; the drift prior is in MPa
/// per hour); n_samples: recorded samples per point (default 1 each); step_se_s: SE of the step
/// end in seconds (default: none); model: auto, kww, kww_offset or kww_offset_t0; weighting:
/// samples or log-time; drift_mpa_per_h: the drift prior's SD (0: no drift term); bootstrap:
/// residual-bootstrap replicates; seed and test_id: the bootstrap's stream (as the stage keys it).
#[pyfunction]
#[pyo3(signature = (t_s, phi, *, stress_mpa=None, n_samples=None, step_se_s=None, model="auto", weighting="samples", drift_mpa_per_h=0.5, bootstrap=0, seed=7, test_id="curve"))]
#[allow(clippy::too_many_arguments)]
fn fit_kww<'py>(
    py: Python<'py>,
    t_s: Vec<f64>,
    phi: Vec<f64>,
    stress_mpa: Option<Vec<f64>>,
    n_samples: Option<Vec<i64>>,
    step_se_s: Option<f64>,
    model: &str,
    weighting: &str,
    drift_mpa_per_h: f64,
    bootstrap: usize,
    seed: u64,
    test_id: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let n_samples = curve_args(&t_s, &phi, n_samples)?;
    let stress_mpa = match stress_mpa {
        Some(s) => {
            finite("stress_mpa", &s, 1)?;
            same_length(("t_s", t_s.len()), ("stress_mpa", s.len()))?;
            s
        }
        None => phi.clone(),
    };
    if step_se_s.is_some_and(|s| !(s.is_finite() && s >= 0.0)) {
        return Err(bad("step_se_s", "must be a finite number >= 0"));
    }
    if !(drift_mpa_per_h.is_finite() && drift_mpa_per_h >= 0.0) {
        return Err(bad("drift_mpa_per_h", "must be a finite number >= 0"));
    }
    let variants = match model {
        "auto" => vec![kww_fit::Variant::Kww, kww_fit::Variant::KwwOffset],
        m => vec![kww_fit::Variant::parse(m).ok_or_else(|| {
            bad("model", format!("`{m}`: use auto, kww, kww_offset or kww_offset_t0"))
        })?],
    };
    let weighting = kww_fit::Weighting::parse(weighting)
        .ok_or_else(|| bad("weighting", format!("`{weighting}`: use samples or log-time")))?;
    let opts = kww_fit::FitOptions {
        variants,
        bootstrap,
        seed,
        drift_mpa_per_h: (drift_mpa_per_h > 0.0).then_some(drift_mpa_per_h),
        weighting,
        ..kww_fit::FitOptions::default()
    };
    let curve = tables::RelaxationClean {
        test_id: test_id.to_owned(),
        step_end_se_s: step_se_s,
        time_s: t_s,
        phi,
        stress_mpa,
        n_samples,
        ..Default::default()
    };
    let row = py.detach(|| kww_fit::fit_curve(&curve, &opts));
    one_row(py, row)
}

/// The indentation-stats row of one indent: the first pop-in, the Hertz fit before it and the
/// critical shear stress, exactly as `agingflow-indentation-stats` analyses an indent.
///
/// depth_nm, load_un: the loading curve (and what follows) in nm and uN; tip_radius_nm: R;
/// time_s: sample times (default: 0, 1, 2, ...); segment: load-function segment per sample
/// (default: all 1); the options as the stage's flags.
#[pyfunction]
#[pyo3(signature = (depth_nm, load_un, tip_radius_nm, *, time_s=None, segment=None, contact_load_un=None, burst_sigmas=None, min_burst_nm=None, min_hertz_points=None, indent_id="indent"))]
#[allow(clippy::too_many_arguments)]
fn find_popin<'py>(
    py: Python<'py>,
    depth_nm: Vec<f64>,
    load_un: Vec<f64>,
    tip_radius_nm: f64,
    time_s: Option<Vec<f64>>,
    segment: Option<Vec<i64>>,
    contact_load_un: Option<f64>,
    burst_sigmas: Option<f64>,
    min_burst_nm: Option<f64>,
    min_hertz_points: Option<usize>,
    indent_id: &str,
) -> PyResult<Bound<'py, PyDict>> {
    finite("depth_nm", &depth_nm, 1)?;
    finite("load_un", &load_un, 1)?;
    same_length(("depth_nm", depth_nm.len()), ("load_un", load_un.len()))?;
    if !(tip_radius_nm.is_finite() && tip_radius_nm > 0.0) {
        return Err(bad("tip_radius_nm", format!("must be > 0, got {tip_radius_nm}")));
    }
    let n = depth_nm.len();
    let time_s = match time_s {
        Some(t) => {
            finite("time_s", &t, 1)?;
            same_length(("depth_nm", n), ("time_s", t.len()))?;
            t
        }
        None => (0..n).map(|i| i as f64).collect(),
    };
    let segment = match segment {
        Some(s) => {
            same_length(("depth_nm", n), ("segment", s.len()))?;
            s
        }
        None => vec![1; n],
    };
    let mut opts = indentation_stats::indent::IndentOptions::default();
    if let Some(v) = contact_load_un {
        opts.contact_load_un = v;
    }
    if let Some(v) = burst_sigmas {
        opts.burst_sigmas = v;
    }
    if let Some(v) = min_burst_nm {
        opts.min_burst_nm = v;
    }
    if let Some(v) = min_hertz_points {
        opts.min_hertz_points = v;
    }
    let raw = tables::IndentationRaw {
        indent_id: indent_id.to_owned(),
        tip_radius_nm,
        time_s,
        depth_nm,
        load_un,
        segment,
        ..Default::default()
    };
    let row = py.detach(|| indentation_stats::indent::analyze(&raw, &opts));
    one_row(py, row)
}

/// The DSC transitions of one scan (`transitions` rows: T_g onset, midpoint and end, the
/// crystallisation onset, per heating segment), exactly as `agingflow-thermal` finds them.
///
/// temperature_k: the scan's temperatures in K; heat_flow_w_g: heat flow per mass in W/g in the
/// instrument's sign; time_s: sample times (optional); endo: "up" or "down" (default: detected
/// from the glass-transition step); heating_rate_k_min: when known.
#[pyfunction]
#[pyo3(signature = (temperature_k, heat_flow_w_g, *, time_s=None, endo=None, heating_rate_k_min=None, scan_id="scan"))]
fn dsc_tg<'py>(
    py: Python<'py>,
    temperature_k: Vec<f64>,
    heat_flow_w_g: Vec<f64>,
    time_s: Option<Vec<f64>>,
    endo: Option<&str>,
    heating_rate_k_min: Option<f64>,
    scan_id: &str,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    finite("temperature_k", &temperature_k, 2)?;
    finite("heat_flow_w_g", &heat_flow_w_g, 2)?;
    same_length(
        ("temperature_k", temperature_k.len()),
        ("heat_flow_w_g", heat_flow_w_g.len()),
    )?;
    if let Some(i) = temperature_k.iter().position(|t| *t <= 0.0) {
        return Err(bad("temperature_k", format!("value {i} is not above 0 K")));
    }
    if let Some(e) = endo
        && !matches!(e, "up" | "down")
    {
        return Err(bad("endo", format!("`{e}`: use up or down")));
    }
    let n = temperature_k.len();
    let time_s: Vec<Option<f64>> = match time_s {
        Some(t) => {
            finite("time_s", &t, 1)?;
            same_length(("temperature_k", n), ("time_s", t.len()))?;
            t.into_iter().map(Some).collect()
        }
        None => vec![None; n],
    };
    let scan = tables::DscRaw {
        scan_id: scan_id.to_owned(),
        heating_rate_k_min,
        endo: endo.map(str::to_owned),
        time_s,
        heat_flow_w_g: heat_flow_w_g.into_iter().map(Some).collect(),
        heat_flow_w: vec![None; n],
        temperature_k,
        ..Default::default()
    };
    if let Err(e) = scan.len() {
        return Err(PyValueError::new_err(e.to_string()));
    }
    let mut rows =
        py.detach(|| thermal::dsc::analyse(&scan, &thermal::dsc::DscOptions::default()));
    // In the table's order, as the stage writes them.
    rows.sort_by(|a, b| a.cmp_key(b));
    let batch =
        tables::Transition::to_batch(&rows).map_err(|e| PyValueError::new_err(e.to_string()))?;
    (0..rows.len()).map(|i| row_dict(py, &batch, i)).collect()
}

/// The relaxation-time spectrum of one curve, exactly as `agingflow-spectrum` inverts it: a dict
/// of the `spectrum_moments` row, with `ln_tau`, `h`, `h_low`, `h_high` (lists on the grid of
/// ln tau in seconds, h per unit ln tau) where the curve could be inverted.
///
/// t_s, phi, n_samples: as for fit_kww; grid: points in ln tau (default 100); bands: how the
/// bands and the moments' SEs are computed, "bootstrap" (default), "posterior" or "none";
/// bootstrap: replicates under bands="bootstrap" (default 100); seed (default 7, the stage's)
/// and test_id: the bootstrap's stream.
#[pyfunction]
#[pyo3(name = "spectrum", signature = (t_s, phi, *, n_samples=None, grid=None, bands="bootstrap", bootstrap=None, seed=7, test_id="curve"))]
#[allow(clippy::too_many_arguments)]
fn spectrum_of<'py>(
    py: Python<'py>,
    t_s: Vec<f64>,
    phi: Vec<f64>,
    n_samples: Option<Vec<i64>>,
    grid: Option<usize>,
    bands: &str,
    bootstrap: Option<usize>,
    seed: u64,
    test_id: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let n_samples = curve_args(&t_s, &phi, n_samples)?;
    let mut o = ::spectrum::SpectrumOptions::default();
    if let Some(g) = grid {
        if g < 10 {
            return Err(bad("grid", "needs at least 10 points"));
        }
        o.n_grid = g;
    }
    o.bands = match bands {
        "posterior" => ::spectrum::Bands::Posterior,
        "bootstrap" => ::spectrum::Bands::Bootstrap,
        "none" => ::spectrum::Bands::None,
        other => {
            return Err(bad(
                "bands",
                format!("`{other}`: use posterior, bootstrap or none"),
            ));
        }
    };
    if let Some(b) = bootstrap {
        o.bootstrap = b;
    }
    // The stage's default seed (its --seed), not the library's.
    o.seed = seed;
    let curve = tables::RelaxationClean {
        test_id: test_id.to_owned(),
        stress_mpa: phi.clone(),
        time_s: t_s,
        phi,
        n_samples,
        ..Default::default()
    };
    let (spec, moments) = py.detach(|| ::spectrum::analyse(&curve, None, None, &o));
    let d = one_row(py, moments)?;
    if let Some(s) = spec {
        d.set_item("ln_tau", s.ln_tau)?;
        d.set_item("h", s.h)?;
        d.set_item("h_low", s.h_low)?;
        d.set_item("h_high", s.h_high)?;
    }
    Ok(d)
}

/// The Python module.
#[pymodule]
fn _agingflow(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fit_kww, m)?)?;
    m.add_function(wrap_pyfunction!(find_popin, m)?)?;
    m.add_function(wrap_pyfunction!(dsc_tg, m)?)?;
    m.add_function(wrap_pyfunction!(spectrum_of, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
