//! The stage on a table of curves: byte-identical outputs for 1 and 2 threads, a curve that
//! cannot be inverted as a flagged row (the batch goes on), and the per-series tables.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;

use common::*;
use tables::{
    Provenance, RelaxationClean, SpectrumMoments, SpectrumTrend, read_rows, write_curves,
};

fn curves() -> Vec<RelaxationClean> {
    let t = times(120, 3.5);
    let ages = [1800.0, 3600.0, 9000.0, 18000.0, 77400.0];
    let mut out: Vec<RelaxationClean> = ages
        .iter()
        .enumerate()
        .map(|(i, &ta)| {
            let c = (30.0f64).ln() + 0.4 * (ta / 1800.0f64).ln();
            let y = noisy(&phi_lognormal(&t, &[(0.97, c, 1.2)]), 1e-3, i as u64);
            RelaxationClean {
                test_id: format!("g/{ta}"),
                material: "G".into(),
                temperature_k: 633.0,
                aging_time_s: ta,
                strain: Some(0.001),
                stress_mpa: y.iter().map(|v| 90.0 * v).collect(),
                phi: y,
                n_samples: vec![1; t.len()],
                time_s: t.clone(),
                ..Default::default()
            }
        })
        .collect();
    // A curve with a non-finite point and one with too few points.
    let mut bad = out[0].clone();
    bad.test_id = "g/bad-nan".into();
    bad.aging_time_s = 5400.0;
    bad.phi[10] = f64::NAN;
    out.push(bad);
    let mut short = out[1].clone();
    short.test_id = "g/short".into();
    short.aging_time_s = 36000.0;
    for v in [&mut short.time_s, &mut short.phi, &mut short.stress_mpa] {
        v.truncate(5);
    }
    short.n_samples.truncate(5);
    out.push(short);
    out
}

fn run_in(dir: &Path, clean: &Path, threads: usize, bands: spectrum::Bands) -> Vec<Vec<u8>> {
    let p = spectrum::Params {
        relaxation_clean: clean.to_owned(),
        kww_fits: None,
        model_fits: None,
        spectra: dir.join("spectra.parquet"),
        spectrum_moments: dir.join("moments.parquet"),
        spectrum_series: Some(dir.join("series.parquet")),
        spectrum_trends: Some(dir.join("trends.parquet")),
        spectrum: spectrum::SpectrumOptions {
            bands,
            bootstrap: 40,
            ..Default::default()
        },
        trends: spectrum::TrendOptions::default(),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let s = pool.install(|| spectrum::run(&p)).unwrap();
    assert_eq!((s.inverted, s.flagged), (5, 2));
    ["spectra", "moments", "series", "trends"]
        .iter()
        .map(|n| std::fs::read(dir.join(format!("{n}.parquet"))).unwrap())
        .collect()
}

#[test]
fn outputs_are_identical_for_any_thread_count_and_bad_curves_are_flagged_rows() {
    let d = tempfile::tempdir().unwrap();
    let clean = d.path().join("clean.parquet");
    write_curves(
        &clean,
        curves(),
        &Provenance::new("clean", serde_json::json!({})),
    )
    .unwrap();
    // The bootstrap's replicates run on all cores too: both band methods.
    for bands in [spectrum::Bands::Bootstrap, spectrum::Bands::Posterior] {
        let (a, b) = (
            d.path().join(format!("one-{}", bands.name())),
            d.path().join(format!("two-{}", bands.name())),
        );
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        assert!(
            run_in(&a, &clean, 1, bands) == run_in(&b, &clean, 2, bands),
            "outputs differ between 1 and 2 threads ({})",
            bands.name()
        );
    }
    let a = d.path().join("one-posterior");
    let (rows, _) = read_rows::<SpectrumMoments>(&a.join("moments.parquet")).unwrap();
    let status = |id: &str| {
        rows.iter()
            .find(|r| r.test_id == id)
            .map(|r| r.status.clone())
    };
    assert_eq!(status("g/bad-nan").as_deref(), Some("not_finite"));
    assert_eq!(status("g/short").as_deref(), Some("too_few_points"));
    for r in rows.iter().filter(|r| r.status == "ok") {
        assert_eq!(r.criterion, "gcv");
        assert!(r.lambda.unwrap() > 0.0 && r.mean_ln_tau_se.unwrap() > 0.0);
        assert_eq!(r.strain, Some(0.001));
    }
    // The centre moves by 0.4 per ln t_a; the width stays 1.2.
    let (trends, _) = read_rows::<SpectrumTrend>(&a.join("trends.parquet")).unwrap();
    let centre = trends
        .iter()
        .find(|t| t.source == "spectrum" && t.quantity == "centre")
        .unwrap();
    assert!(
        (centre.slope.unwrap() - 0.4).abs() < 0.05,
        "slope {:?}",
        centre.slope
    );
    assert_eq!(centre.pattern, "shift");
}

#[test]
fn a_table_of_only_bad_curves_is_an_error_after_writing_the_flagged_rows() {
    let d = tempfile::tempdir().unwrap();
    let clean = d.path().join("clean.parquet");
    let bad: Vec<RelaxationClean> = curves().into_iter().skip(5).collect();
    write_curves(
        &clean,
        bad,
        &Provenance::new("clean", serde_json::json!({})),
    )
    .unwrap();
    let p = spectrum::Params {
        relaxation_clean: clean,
        kww_fits: None,
        model_fits: None,
        spectra: d.path().join("s.parquet"),
        spectrum_moments: d.path().join("m.parquet"),
        spectrum_series: None,
        spectrum_trends: None,
        spectrum: spectrum::SpectrumOptions::default(),
        trends: spectrum::TrendOptions::default(),
    };
    let e = spectrum::run(&p).unwrap_err();
    assert!(
        e.to_string()
            .contains("no curve could be inverted (2 curves"),
        "{e}"
    );
    let (rows, _) = read_rows::<SpectrumMoments>(&d.path().join("m.parquet")).unwrap();
    assert_eq!(rows.len(), 2);
}

#[test]
fn the_evidence_criterion_is_recorded_and_recovers_the_centre() {
    let c = &curves()[2];
    let o = spectrum::SpectrumOptions {
        criterion: spectrum::Criterion::Evidence,
        bands: spectrum::Bands::None,
        ..Default::default()
    };
    let (curve, row) = spectrum::analyse(c, None, c.strain, &o);
    assert!(curve.is_some());
    assert_eq!(
        (row.status.as_str(), row.criterion.as_str()),
        ("ok", "evidence")
    );
    let want = (30.0f64).ln() + 0.4 * (9000.0f64 / 1800.0).ln();
    assert!(
        (row.mean_ln_tau.unwrap() - want).abs() < 0.1,
        "{:?} vs {want}",
        row.mean_ln_tau
    );
    assert!(
        (row.sd_ln_tau.unwrap() / 1.2 - 1.0).abs() < 0.1,
        "{:?}",
        row.sd_ln_tau
    );
}
