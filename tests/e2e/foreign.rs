//! Tables made elsewhere: a `relaxation_clean` rewritten the way pandas, polars, pyarrow, DuckDB
//! or Spark write it (each compression, large and dictionary strings, narrow integers, extra
//! columns, another column order) gives kww-fit exactly the fits of agingflow's own file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Float32Array, Int32Array, LargeStringArray, RecordBatch,
    StringArray, types::Int32Type,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/campaign.yaml")
}

/// agingflow's own `relaxation_clean` of the demo campaign.
fn own_clean(d: &Path) -> PathBuf {
    ingest::run(&ingest::Params {
        manifest: demo(),
        relaxation_raw: d.join("raw.parquet"),
        indentation_raw: d.join("ind.parquet"),
        dsc_raw: None,
        dma_sweeps_raw: None,
        skip_bad_files: false,
        parts: false,
        allow_outside: false,
    })
    .unwrap();
    clean::run(&clean::Params {
        relaxation_raw: d.join("raw.parquet"),
        relaxation_clean: d.join("clean.parquet"),
        relaxation_tests: d.join("tests.parquet"),
        options: clean::Options::default(),
    })
    .unwrap();
    d.join("clean.parquet")
}

fn read_batches(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// How a foreign writer lays out a column.
#[derive(Clone, Copy)]
enum Style {
    /// pyarrow/pandas defaults: strings as they are, int64, an index column.
    Pandas,
    /// polars: large strings.
    Polars,
    /// DuckDB/Spark-ish: dictionary strings, int32 counts.
    Dictionary,
    /// 32-bit floats for the signal columns.
    Float32,
}

fn restyle(batch: &RecordBatch, style: Style) -> RecordBatch {
    let schema = batch.schema();
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    // Another column order: reversed.
    for (f, a) in schema.fields().iter().zip(batch.columns()).rev() {
        let (dt, a): (DataType, ArrayRef) = match (style, a.data_type()) {
            (Style::Polars, DataType::Utf8) => {
                let s: LargeStringArray = a.as_string::<i32>().iter().collect();
                (DataType::LargeUtf8, Arc::new(s))
            }
            (Style::Dictionary, DataType::Utf8) => {
                let s: DictionaryArray<Int32Type> = a.as_string::<i32>().iter().collect();
                (s.data_type().clone(), Arc::new(s))
            }
            (Style::Dictionary, DataType::Int64) => {
                let s: Int32Array = a
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.map(|v| i32::try_from(v).unwrap()))
                    .collect();
                (DataType::Int32, Arc::new(s))
            }
            (Style::Float32, DataType::Float64) if f.name() == "stress_mpa" => {
                let s: Float32Array = a
                    .as_primitive::<arrow_array::types::Float64Type>()
                    .iter()
                    .map(|v| v.map(|v| v as f32))
                    .collect();
                (DataType::Float32, Arc::new(s))
            }
            _ => (a.data_type().clone(), a.clone()),
        };
        fields.push(Field::new(f.name(), dt, true));
        arrays.push(a);
    }
    if matches!(style, Style::Pandas) {
        let n = batch.num_rows();
        let idx: arrow_array::Int64Array = (0..n as i64).collect();
        fields.push(Field::new("__index_level_0__", DataType::Int64, true));
        arrays.push(Arc::new(idx));
        let note: StringArray = (0..n).map(|_| Some("pandas")).collect();
        fields.push(Field::new("note", DataType::Utf8, true));
        arrays.push(Arc::new(note));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn write_foreign(path: &Path, batches: &[RecordBatch], compression: Compression, style: Style) {
    let restyled: Vec<RecordBatch> = batches.iter().map(|b| restyle(b, style)).collect();
    let props = WriterProperties::builder()
        .set_compression(compression)
        .build();
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, restyled[0].schema(), Some(props)).unwrap();
    for b in &restyled {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn fits(clean: &Path, d: &Path, tag: &str) -> Vec<tables::KwwFit> {
    let out = d.join(format!("fits-{tag}.parquet"));
    kww_fit::run(&kww_fit::Params {
        relaxation_clean: clean.to_owned(),
        kww_fits: out.clone(),
        aging_law: d.join(format!("law-{tag}.parquet")),
        fit: kww_fit::FitOptions {
            bootstrap: 20,
            ..Default::default()
        },
    })
    .unwrap_or_else(|e| panic!("{tag}: {e}"));
    tables::read_rows::<tables::KwwFit>(&out).unwrap().0
}

#[test]
fn kww_fit_reads_a_relaxation_clean_written_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let own = own_clean(d);
    let want = fits(&own, d, "own");
    assert!(want.iter().filter(|f| f.status == "ok").count() > 10);
    let batches = read_batches(&own);
    let compressions = [
        ("uncompressed", Compression::UNCOMPRESSED),
        ("snappy", Compression::SNAPPY),
        ("gzip", Compression::GZIP(GzipLevel::default())),
        ("lz4", Compression::LZ4),
        ("lz4_raw", Compression::LZ4_RAW),
        ("zstd", Compression::ZSTD(ZstdLevel::default())),
    ];
    let styles = [
        ("pandas", Style::Pandas),
        ("polars", Style::Polars),
        ("dictionary", Style::Dictionary),
    ];
    for (k, (cname, c)) in compressions.into_iter().enumerate() {
        // Every compression once, each with one writer's layout in turn.
        let (sname, style) = styles[k % styles.len()];
        let tag = format!("{cname}-{sname}");
        let path = d.join(format!("clean-{tag}.parquet"));
        write_foreign(&path, &batches, c, style);
        let got = fits(&path, d, &tag);
        assert_eq!(
            got, want,
            "{tag}: the fits differ from those of agingflow's own file"
        );
    }
    // 32-bit stresses: read as the f32 values, widened.
    let path = d.join("clean-f32.parquet");
    write_foreign(&path, &batches, Compression::SNAPPY, Style::Float32);
    let (curves, _) = tables::read_curves::<tables::RelaxationClean>(&path).unwrap();
    let (mine, _) = tables::read_curves::<tables::RelaxationClean>(&own).unwrap();
    assert_eq!(curves.len(), mine.len());
    for (a, b) in curves.iter().zip(&mine) {
        let widened: Vec<f64> = b.stress_mpa.iter().map(|v| f64::from(*v as f32)).collect();
        assert_eq!(a.stress_mpa, widened, "{}", a.test_id);
        assert_eq!(a.time_s, b.time_s, "{}", a.test_id);
    }
}

#[test]
fn a_missing_column_is_named_and_text_for_a_number_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let own = own_clean(d);
    let batches = read_batches(&own);
    let drop = |b: &RecordBatch, name: &str| {
        let keep: Vec<usize> = (0..b.num_columns())
            .filter(|&i| b.schema().field(i).name() != name)
            .collect();
        b.project(&keep).unwrap()
    };
    let path = d.join("no-stress.parquet");
    write_foreign(
        &path,
        &batches
            .iter()
            .map(|b| drop(b, "stress_mpa"))
            .collect::<Vec<_>>(),
        Compression::SNAPPY,
        Style::Polars,
    );
    let e = tables::read_curves::<tables::RelaxationClean>(&path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("stress_mpa") && e.contains("no-stress.parquet"),
        "{e}"
    );
    // Text where a number belongs stays a type error naming the column.
    let texty: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            let b = drop(b, "time_s");
            let n = b.num_rows();
            let t: StringArray = (0..n).map(|i| Some(i.to_string())).collect();
            let mut fields: Vec<Field> =
                b.schema().fields().iter().map(|f| (**f).clone()).collect();
            fields.push(Field::new("time_s", DataType::Utf8, true));
            let mut cols = b.columns().to_vec();
            cols.push(Arc::new(t));
            RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
        })
        .collect();
    let path = d.join("text-time.parquet");
    write_foreign(&path, &texty, Compression::SNAPPY, Style::Pandas);
    let e = tables::read_curves::<tables::RelaxationClean>(&path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("time_s") && e.contains("Utf8"), "{e}");
}

/// `batches` written the way pyarrow's `write_table` lays a table out with its defaults (row
/// groups of a fixed row count wherever curves fall; here `group_rows`, as the demo is small),
/// without the columns `dropped`.
fn write_layout(path: &Path, batches: &[RecordBatch], group_rows: usize, dropped: &[&str]) {
    let keep: Vec<usize> = (0..batches[0].num_columns())
        .filter(|&i| !dropped.contains(&batches[0].schema().field(i).name().as_str()))
        .collect();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let schema = Arc::new(batches[0].schema().project(&keep).unwrap());
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, schema, Some(props)).unwrap();
    for b in batches {
        w.write(&b.project(&keep).unwrap()).unwrap();
    }
    w.close().unwrap();
}

#[test]
fn row_groups_that_cut_curves_and_optional_columns_left_out_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let own = own_clean(d);
    let want = fits(&own, d, "own");
    let batches = read_batches(&own);
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();

    // Row groups of 50 rows: every curve is cut between two or more; no `sample` column.
    let cut = d.join("clean-cut.parquet");
    write_layout(&cut, &batches, 50, &["sample"]);
    let groups = tables::segments::RowGroups::<tables::RelaxationClean>::open(&cut).unwrap();
    assert!(rows / 50 > 2 * want.len(), "{rows} rows");
    assert!(
        groups.len() <= want.len(),
        "{} row groups read for {} curves",
        groups.len(),
        want.len()
    );
    assert_eq!(
        fits(&cut, d, "cut"),
        want,
        "the fits differ from agingflow's layout"
    );

    // Only the required columns: every curve fitted, the left-out ones read as documented.
    let required = d.join("clean-required.parquet");
    let optional = [
        "sample",
        "tg_k",
        "strain",
        "series",
        "step_end_se_s",
        "sample_interval_s",
        "n_samples",
    ];
    write_layout(&required, &batches, 50, &optional);
    let (curves, _) = tables::read_curves::<tables::RelaxationClean>(&required).unwrap();
    assert_eq!(curves.len(), want.len());
    assert!(curves.iter().all(|c| c.series.is_none()
        && c.step_end_se_s.is_none()
        && c.n_samples.iter().all(|&n| n == 1)));
    let got = fits(&required, d, "required");
    assert_eq!(got.len(), want.len());
    assert!(
        got.iter().filter(|f| f.status == "ok").count() > 10,
        "{:?}",
        got.iter().map(|f| &f.status).collect::<Vec<_>>()
    );
}
