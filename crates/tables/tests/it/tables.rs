//! Round trips, determinism and schema checks of every table of the contract.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use tables::*;

fn prov() -> Provenance {
    Provenance::new("test", serde_json::json!({"b": 2, "a": [1, 2]}))
}

/// Writes rows twice (in two orders), reads them back and compares with the sorted input.
fn check_rows<T: RowTable + Clone + PartialEq + std::fmt::Debug>(rows: Vec<T>) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    write_rows(&a, rows.clone(), &prov()).unwrap();
    let mut reversed = rows.clone();
    reversed.reverse();
    write_rows(&b, reversed, &prov()).unwrap();
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "{} not byte-identical",
        T::NAME
    );
    let (back, meta) = read_rows::<T>(&a).unwrap();
    let mut sorted = rows;
    sorted.sort_by(T::cmp_key);
    assert_eq!(back, sorted, "{}", T::NAME);
    assert_eq!(meta.get("agingflow.table"), Some(T::NAME));
    assert_eq!(meta.get("agingflow.stage"), Some("test"));
    assert_eq!(meta.get("agingflow.params"), Some(r#"{"a":[1,2],"b":2}"#));
    assert_eq!(meta.get("agingflow.schema_version"), Some("4"));
    // Only temp-free names are left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // An empty table is a valid file with the schema.
    let e = dir.path().join("empty.parquet");
    write_rows::<T>(&e, vec![], &prov()).unwrap();
    assert!(read_rows::<T>(&e).unwrap().0.is_empty());
}

fn check_curves<T: CurveTable + Clone + PartialEq + std::fmt::Debug>(curves: Vec<T>) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    write_curves(&a, curves.clone(), &prov()).unwrap();
    let mut reversed = curves.clone();
    reversed.reverse();
    write_curves(&b, reversed, &prov()).unwrap();
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "{} not byte-identical",
        T::NAME
    );
    let (back, _) = read_curves::<T>(&a).unwrap();
    let mut sorted = curves;
    sorted.sort_by(T::cmp_key);
    assert_eq!(back, sorted, "{}", T::NAME);
}

fn some(i: usize) -> Option<f64> {
    if i.is_multiple_of(3) {
        None
    } else {
        Some(i as f64 * 0.5 - 1.0)
    }
}

#[test]
fn every_row_table_round_trips() {
    let n = 7;
    check_rows(
        (0..n)
            .map(|i| RelaxationTest {
                test_id: format!("t{i}"),
                material: ["B", "A"][i % 2].into(),
                tg_k: Some(680.0),
                temperature_k: 633.0,
                aging_time_s: (i % 3) as f64 * 1800.0,
                strain: some(i),
                sigma0_mpa: some(i + 1),
                step_end_s: some(i + 2),
                n_raw: i as i64 * 10,
                n_kept: i as i64,
                status: "ok".into(),
                flags: "".into(),
                ..Default::default()
            })
            .collect(),
    );
    check_rows(
        (0..n)
            .map(|i| KwwFit {
                test_id: format!("t{i}"),
                material: "A".into(),
                temperature_k: 600.0 + (i % 2) as f64,
                aging_time_s: i as f64,
                model: "kww".into(),
                beta: some(i),
                beta_se: some(i + 1),
                tau_s: Some(1e3),
                tau_se_s: None,
                amplitude: some(i),
                offset: None,
                drift_per_h: None,
                weighting: String::new(),
                beta_weighting_shift: None,
                t0_s: some(i),
                corr_ln_tau_beta: Some(-0.5),
                mean_tau_s: Some(f64::NAN),
                beta_ci_low: None,
                beta_ci_high: None,
                tau_ci_low_s: None,
                tau_ci_high_s: None,
                rss: Some(1e-6),
                r_squared: Some(0.999),
                aic: Some(-100.0),
                bic: Some(-90.0),
                n_points: 200,
                time_min_s: Some(1.0),
                time_max_s: Some(9000.0),
                tg_k: Some(680.0),
                n_iterations: 12,
                status: "ok".into(),
                flags: "at_bound,tau_extrapolated".into(),
                series: (i % 3 == 0).then(|| "a".to_owned()),
                strain: some(i),
                mean_tau_se_s: None,
            })
            .map(|mut r| {
                r.mean_tau_s = Some(1.5);
                r
            })
            .collect(),
    );
    check_rows(
        (0..n)
            .map(|i| AgingLaw {
                material: format!("m{}", i % 3),
                temperature_k: 633.0,
                segment: i as i64,
                mu: some(i),
                breakpoint_s: some(i + 1),
                status: "ok".into(),
                ..Default::default()
            })
            .collect(),
    );
    check_rows(
        (0..n)
            .map(|i| Indent {
                indent_id: format!("i{i}"),
                material: "A".into(),
                temperature_k: 633.0,
                aging_time_s: 0.0,
                tip_radius_nm: 360.0,
                er_gpa: some(i),
                tau_c_gpa: some(i + 2),
                hertz_n_points: 40,
                status: "censored".into(),
                ..Default::default()
            })
            .collect(),
    );
    check_rows(
        (0..n)
            .map(|i| TauCStats {
                material: "A".into(),
                temperature_k: 633.0,
                aging_time_s: i as f64,
                n_indents: 50,
                n_popins: 49,
                n_censored: 1,
                tau_c_mean_gpa: some(i),
                tau_c_fwhm: some(i + 1),
                status: "ok".into(),
                ..Default::default()
            })
            .collect(),
    );
    check_rows(
        (0..n)
            .map(|i| ActivationEnergy {
                material: "A".into(),
                aging_time_s: i as f64,
                tg_k: Some(680.0),
                ea_kj_mol: some(i),
                n_temperatures: 4,
                status: "ok".into(),
                ..Default::default()
            })
            .collect(),
    );
    check_rows(
        (0..n)
            .map(|i| ModelCurve {
                scenario: ["transient", "combined"][i % 2].into(),
                material: "A".into(),
                temperature_k: 633.0,
                aging_time_s: i as f64,
                beta_model: some(i),
                tau_model_s: some(i + 1),
                beta_measured: None,
                tau_measured_s: some(i),
                ..Default::default()
            })
            .collect(),
    );
    check_rows(
        (0..n)
            .map(|i| ModelFit {
                scenario: format!("s{i}"),
                material: "A".into(),
                temperature_k: 633.0,
                params: r#"{"A":1.0}"#.into(),
                rss: some(i),
                aicc: some(i),
                n_points: 7,
                rank: i as i64,
                status: "ok".into(),
                ..Default::default()
            })
            .collect(),
    );
}

#[test]
fn every_curve_table_round_trips() {
    let raw = |i: usize, n: usize| RelaxationRaw {
        step_s: None,
        test_id: format!("dma/t{i}"),
        material: "A".into(),
        tg_k: Some(680.0),
        temperature_k: 633.0,
        aging_time_s: (i % 4) as f64 * 100.0,
        strain: some(i),
        source_file: format!("dma/t{i}.txt"),
        flags: if i.is_multiple_of(3) {
            "temperature_mismatch".into()
        } else {
            String::new()
        },
        time_s: (0..n).map(|k| k as f64).collect(),
        stress_mpa: (0..n).map(some).collect(),
        temperature_meas_k: (0..n).map(|k| some(k + 1)).collect(),
        strain_meas: vec![None; n],
        ..Default::default()
    };
    check_curves((0..9).map(|i| raw(i, 5 + i)).collect());
    check_curves(
        (0..5)
            .map(|i| RelaxationClean {
                test_id: format!("t{i}"),
                material: "A".into(),
                tg_k: Some(680.0),
                temperature_k: 600.0 + i as f64,
                aging_time_s: 1.0,
                strain: Some(0.001),
                time_s: vec![1.0, 2.0],
                stress_mpa: vec![3.0, 2.0],
                phi: vec![1.0, 0.66],
                n_samples: vec![1, 3],
                ..Default::default()
            })
            .collect(),
    );
    check_curves(
        (0..5)
            .map(|i| IndentationRaw {
                indent_id: format!("ind/{i}"),
                material: "A".into(),
                temperature_k: 633.0,
                aging_time_s: 0.0,
                tip_radius_nm: 360.0,
                source_file: "x".into(),
                segment: vec![0, 1, 1],
                time_s: vec![0.0, 0.1, 0.2],
                depth_nm: vec![0.0, 1.0, 2.0],
                load_un: vec![0.0, 5.0, 10.0],
            })
            .collect(),
    );
    // A curve longer than one read batch (65 536 rows) streams back whole.
    check_curves(vec![raw(1, 70_000), raw(2, 3), raw(3, 140_001)]);
}

#[test]
fn curves_out_of_order_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.parquet");
    let c = |id: &str| RelaxationClean {
        test_id: id.into(),
        material: "A".into(),
        ..Default::default()
    };
    let mut w = CurveWriter::create(&path, &prov()).unwrap();
    w.push(&c("b")).unwrap();
    let err = w.push(&c("a")).unwrap_err().to_string();
    assert!(err.contains("`a`") && err.contains("after `b`"), "{err}");
    drop(w);
    assert!(
        !path.exists(),
        "an unfinished writer must leave nothing at the output path"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "temporary file left behind"
    );
}

#[test]
fn ragged_curves_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = RelaxationClean {
        test_id: "x".into(),
        time_s: vec![1.0],
        ..Default::default()
    };
    let err = write_curves(&dir.path().join("c.parquet"), vec![c], &prov())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`x`") && err.contains("differ in length"),
        "{err}"
    );
}

fn write_raw_batch(path: &Path, batch: RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn a_missing_or_mistyped_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // Every column of kww_fits but `beta`.
    let cols: Vec<ColumnDef> = KwwFit::columns()
        .into_iter()
        .filter(|c| c.name != "beta")
        .collect();
    let schema = schema_of(&cols);
    let arrays = schema
        .fields()
        .iter()
        .map(|f| arrow_array::new_empty_array(f.data_type()))
        .collect();
    let path = dir.path().join("fits.parquet");
    write_raw_batch(&path, RecordBatch::try_new(schema, arrays).unwrap());
    let err = read_rows::<KwwFit>(&path).unwrap_err().to_string();
    assert!(
        err.contains("fits.parquet") && err.contains("no column `beta`"),
        "{err}"
    );

    // `tau_c_mean_gpa` as text.
    let schema = Arc::new(Schema::new(vec![
        Field::new("material", DataType::Utf8, false),
        Field::new("tau_c_mean_gpa", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec!["A"])),
            Arc::new(StringArray::from(vec!["4.0"])),
        ],
    )
    .unwrap();
    let path = dir.path().join("stats.parquet");
    write_raw_batch(&path, batch);
    let err = read_rows::<TauCStats>(&path).unwrap_err().to_string();
    assert!(err.contains("stats.parquet"), "{err}");
    assert!(
        err.contains("`temperature_k`") || err.contains("`tau_c_mean_gpa`"),
        "{err}"
    );

    // A table file of another table is refused by name.
    let path = dir.path().join("law.parquet");
    write_rows::<AgingLaw>(&path, vec![], &prov()).unwrap();
    let err = read_rows::<KwwFit>(&path).unwrap_err().to_string();
    assert!(
        err.contains("holds table `aging_law`, expected `kww_fits`"),
        "{err}"
    );

    // Not Parquet at all.
    let path = dir.path().join("junk.parquet");
    std::fs::write(&path, b"not parquet").unwrap();
    let err = read_rows::<KwwFit>(&path).unwrap_err().to_string();
    assert!(
        err.contains("junk.parquet") && err.contains("not a readable Parquet table"),
        "{err}"
    );
}

#[test]
fn float_columns_carry_units() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    write_rows::<KwwFit>(&path, vec![KwwFit::default()], &prov()).unwrap();
    let t = read_any(&path).unwrap();
    let unit = |name: &str| {
        t.schema
            .field_with_name(name)
            .unwrap()
            .metadata()
            .get("unit")
            .cloned()
    };
    assert_eq!(unit("tau_s").as_deref(), Some("s"));
    assert_eq!(unit("temperature_k").as_deref(), Some("K"));
    assert_eq!(unit("beta").as_deref(), Some("1"));
    assert_eq!(unit("test_id"), None);
    for t in [
        KwwFit::columns(),
        Indent::columns(),
        TauCStats::columns(),
        ActivationEnergy::columns(),
    ] {
        for c in t {
            if c.data_type == DataType::Float64 {
                assert!(!c.unit.is_empty(), "{} has no unit", c.name);
            }
        }
    }
    let f = Float64Array::from(vec![1.0]);
    assert_eq!(f.len(), 1);
}

#[test]
fn keys_are_known_by_table_name() {
    assert_eq!(
        keys_of("kww_fits"),
        Some(
            &[
                "material",
                "series",
                "strain",
                "temperature_k",
                "aging_time_s",
                "test_id"
            ][..]
        )
    );
    assert_eq!(keys_of("nope"), None);
}
