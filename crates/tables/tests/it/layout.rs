//! Tables written by another tool with its own layout: row groups that cut curves in two (pyarrow
//! writes 1 Mi rows a group), only the required columns, no agingflow metadata. Every curve reads
//! back whole and equal to agingflow's own layout of the same rows, by the whole-table reader and
//! by the row-group reader the stages use; real order problems still name their cause.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use tables::segments::RowGroups;
use tables::{CurveReader, Provenance, RelaxationClean, read_curves, write_curves};

/// `n` curves of `points` points each, in key order.
fn curves(n: usize, points: usize) -> Vec<RelaxationClean> {
    (0..n)
        .map(|k| {
            let t: Vec<f64> = (0..points).map(|i| 0.5 * 1.05f64.powi(i as i32)).collect();
            let phi: Vec<f64> = t
                .iter()
                .map(|t| (-(t / (100.0 + k as f64)).powf(0.45)).exp())
                .collect();
            RelaxationClean {
                test_id: format!("t{k:04}"),
                material: "G".into(),
                temperature_k: 633.0,
                aging_time_s: 1800.0,
                stress_mpa: phi.iter().map(|p| 90.0 * p).collect(),
                phi,
                time_s: t,
                n_samples: vec![1; points],
                ..Default::default()
            }
        })
        .collect()
}

/// The rows of `curves` as another tool writes them: required columns only, row groups of
/// `group_rows` rows wherever they fall, the writer's defaults otherwise.
fn write_foreign(path: &std::path::Path, curves: &[RelaxationClean], group_rows: usize) {
    let mut ids = Vec::new();
    let (mut t, mut s, mut p) = (Vec::new(), Vec::new(), Vec::new());
    let (mut temp, mut age, mut mat) = (Vec::new(), Vec::new(), Vec::new());
    for c in curves {
        for i in 0..c.time_s.len() {
            ids.push(c.test_id.clone());
            mat.push(c.material.clone());
            temp.push(c.temperature_k);
            age.push(c.aging_time_s as i64);
            t.push(c.time_s[i]);
            s.push(c.stress_mpa[i]);
            p.push(c.phi[i]);
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("test_id", DataType::Utf8, true),
        Field::new("material", DataType::Utf8, true),
        Field::new("temperature_k", DataType::Float64, true),
        // pandas writes whole numbers as int64.
        Field::new("aging_time_s", DataType::Int64, true),
        Field::new("time_s", DataType::Float64, true),
        Field::new("stress_mpa", DataType::Float64, true),
        Field::new("phi", DataType::Float64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(ids)),
        Arc::new(StringArray::from(mat)),
        Arc::new(Float64Array::from(temp)),
        Arc::new(Int64Array::from(age)),
        Arc::new(Float64Array::from(t)),
        Arc::new(Float64Array::from(s)),
        Arc::new(Float64Array::from(p)),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).unwrap();
    // Batches that do not follow curves either.
    for start in (0..batch.num_rows()).step_by(333) {
        let len = 333.min(batch.num_rows() - start);
        w.write(&batch.slice(start, len)).unwrap();
    }
    w.close().unwrap();
}

#[test]
fn curves_cut_between_row_groups_read_whole_and_equal_to_agingflows_layout() {
    let d = tempfile::tempdir().unwrap();
    let want = curves(40, 120);
    let ours = d.path().join("ours.parquet");
    write_curves(
        &ours,
        want.clone(),
        &Provenance::new("test", serde_json::json!({})),
    )
    .unwrap();
    let foreign = d.path().join("foreign.parquet");
    write_foreign(&foreign, &want, 1000);

    let (read, _) = read_curves::<RelaxationClean>(&foreign).unwrap();
    assert_eq!(read, want);
    let (mine, _) = read_curves::<RelaxationClean>(&ours).unwrap();
    assert_eq!(mine, want);

    // The stages' reader: row groups joined where a curve continues, every curve once.
    let groups = RowGroups::<RelaxationClean>::open(&foreign).unwrap();
    assert!(
        groups.len() >= 2 && groups.len() < 5,
        "{} row groups",
        groups.len()
    );
    let mut all = Vec::new();
    for i in 0..groups.len() {
        all.extend(groups.read(i).unwrap());
    }
    assert_eq!(all, want);
    assert_eq!(groups.keys().len(), groups.len());
    // The same file opened again keys its row groups the same.
    let again = RowGroups::<RelaxationClean>::open(&foreign).unwrap();
    assert_eq!(again.keys(), groups.keys());

    // Row groups of one row each: every curve joined across 120 of them.
    let tiny = d.path().join("tiny.parquet");
    write_foreign(&tiny, &want[..3], 1);
    let groups = RowGroups::<RelaxationClean>::open(&tiny).unwrap();
    assert_eq!(groups.len(), 3);
    let read: Vec<RelaxationClean> = (0..3).flat_map(|i| groups.read(i).unwrap()).collect();
    assert_eq!(read, want[..3]);
}

#[test]
fn a_table_out_of_order_names_the_rows_not_the_layout() {
    let d = tempfile::tempdir().unwrap();
    let mut c = curves(3, 10);
    c.swap(0, 2);
    let path = d.path().join("swapped.parquet");
    write_foreign(&path, &c, 7);
    let e = CurveReader::<RelaxationClean>::open(&path)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("curve `t0001` comes after curve `t0002`") && e.contains("swapped.parquet"),
        "{e}"
    );
    assert!(!e.contains("changed outside agingflow"), "{e}");
}

/// The stages' per-curve work over a row group, decoded first or while the work runs (a table in
/// one large row group): the same results in the same order, on any number of threads; an order
/// problem is the same error either way.
#[test]
fn work_while_decoding_gives_what_decoding_first_gives() {
    let d = tempfile::tempdir().unwrap();
    let want = curves(300, 40);
    let path = d.path().join("one_group.parquet");
    write_foreign(&path, &want, 1 << 20);
    let groups = RowGroups::<RelaxationClean>::open(&path).unwrap();
    assert_eq!(groups.len(), 1);
    let work = |c: &RelaxationClean| (c.test_id.clone(), c.phi.iter().sum::<f64>());
    let first = groups.map_curves(0, false, work).unwrap();
    assert_eq!(first.len(), 300);
    assert_eq!(first[299].0, "t0299");
    for threads in [1, 2, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let during = pool.install(|| groups.map_curves(0, true, work)).unwrap();
        assert_eq!(during, first, "{threads} threads");
    }

    let mut swapped = curves(300, 40);
    swapped.swap(100, 200);
    let bad = d.path().join("swapped_one_group.parquet");
    write_foreign(&bad, &swapped, 1 << 20);
    let groups = RowGroups::<RelaxationClean>::open(&bad).unwrap();
    let e_first = groups.map_curves(0, false, work).unwrap_err().to_string();
    let e_during = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| groups.map_curves(0, true, work))
        .unwrap_err()
        .to_string();
    assert_eq!(e_during, e_first);
    assert!(
        e_during.contains("t0200") && e_during.contains("t0101"),
        "{e_during}"
    );
}

#[test]
fn a_missing_required_column_is_named() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("no_phi.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("test_id", DataType::Utf8, false),
        Field::new("material", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
            Arc::new(StringArray::from(vec!["G"])),
        ],
    )
    .unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let e = read_curves::<RelaxationClean>(&path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("temperature_k") && e.contains("no_phi.parquet"),
        "{e}"
    );
}
