//! Reading and writing table files: schema-checked reads, atomic and deterministic writes.
//!
//! A write goes to a temporary file beside the target and is renamed over it only when complete,
//! so a reader or a crash never sees half a file. Writer properties are fixed (zstd level 3, one
//! `created_by`, fixed row-group size) and the key-value metadata holds nothing time-dependent, so
//! the same rows always give the same bytes.

use std::collections::HashSet;
use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use guard::AtomicFile;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::table::{ColumnDef, CurveTable, RowTable, schema_of};
use crate::{SCHEMA_VERSION, TableError, VERSION};

/// Rows per Parquet row group; fixed so the file layout never depends on how rows were batched.
pub(crate) const ROW_GROUP_ROWS: usize = 1 << 20;
/// Rows per batch when reading.
const READ_BATCH_ROWS: usize = 1 << 16;

/// What produced a table: written into the file's key-value metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// The stage that wrote the table (`kww-fit`).
    pub stage: String,
    /// The options that produced it, as JSON (keys sorted, so deterministic).
    pub params: serde_json::Value,
}

impl Provenance {
    pub fn new(stage: &str, params: serde_json::Value) -> Self {
        Provenance {
            stage: stage.to_owned(),
            params,
        }
    }
}

/// The key-value metadata found in a table file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileMeta {
    pub entries: Vec<(String, String)>,
}

impl FileMeta {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The writer settings of a table. `curve_id`: in a curve table (text repeated on every sample
/// row) only this text column carries min/max statistics, the one a reader looks a curve up by
/// (`Segments::text_range`); the others' would be a comparison per row that nothing reads.
pub(crate) fn writer_properties(
    table: &str,
    schema: &SchemaRef,
    prov: &Provenance,
    curve_id: Option<&str>,
) -> Result<WriterProperties, TableError> {
    let level = ZstdLevel::try_new(1).map_err(|e| TableError::Internal(e.to_string()))?;
    let kv = vec![
        KeyValue::new("agingflow.table".to_owned(), table.to_owned()),
        KeyValue::new(
            "agingflow.schema_version".to_owned(),
            SCHEMA_VERSION.to_string(),
        ),
        KeyValue::new("agingflow.stage".to_owned(), prov.stage.clone()),
        KeyValue::new("agingflow.version".to_owned(), VERSION.to_owned()),
        KeyValue::new("agingflow.params".to_owned(), prov.params.to_string()),
    ];
    // Dictionary encoding pays for text (ids repeated on every sample row), not for noisy floats.
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_created_by(format!("agingflow {VERSION}"))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_key_value_metadata(Some(kv))
        .set_dictionary_enabled(false);
    for f in schema.fields() {
        if f.data_type() == &arrow_schema::DataType::Utf8 {
            builder =
                builder.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), true);
            if curve_id.is_some_and(|id| id != f.name()) {
                builder = builder.set_column_statistics_enabled(
                    ColumnPath::from(f.name().as_str()),
                    parquet::file::properties::EnabledStatistics::None,
                );
            }
        }
    }
    Ok(builder.build())
}

/// The temporary file of a table about to be written at `path`, after the checks: a file already
/// at the target is replaced only when agingflow wrote it (after the check that it is no input,
/// which says more).
pub(crate) fn prepare_target(path: &Path) -> Result<(AtomicFile, File), TableError> {
    guard::check(path)?;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) && !is_agingflow_table(path) {
        return Err(TableError::NotOurs {
            path: path.to_owned(),
        });
    }
    Ok(AtomicFile::create(path)?)
}

/// The file below a buffered writer, flushed (a failure names the table being written).
pub(crate) fn unbuffer<W: std::io::Write>(buf: BufWriter<W>, path: &Path) -> Result<W, TableError> {
    buf.into_inner()
        .map_err(|e| TableError::Guard(guard::write_error(path, e.into_error())))
}

/// A Parquet file being written atomically.
struct TableFile {
    atomic: AtomicFile,
    writer: ArrowWriter<BufWriter<File>>,
}

impl TableFile {
    fn create(
        path: &Path,
        table: &str,
        schema: SchemaRef,
        prov: &Provenance,
        curve_id: Option<&str>,
    ) -> Result<Self, TableError> {
        let (atomic, file) = prepare_target(path)?;
        let props = writer_properties(table, &schema, prov, curve_id)?;
        let writer =
            ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, file), schema, Some(props))
                .map_err(|source| TableError::Parquet {
                    path: path.to_owned(),
                    source,
                })?;
        Ok(TableFile { atomic, writer })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), TableError> {
        self.writer
            .write(batch)
            .map_err(|source| TableError::write(self.atomic.target(), source))
    }

    fn commit(self) -> Result<(), TableError> {
        let path = self.atomic.target().to_owned();
        let buf = self
            .writer
            .into_inner()
            .map_err(|source| TableError::write(&path, source))?;
        Ok(self.atomic.commit(unbuffer(buf, &path)?)?)
    }
}

/// Whether `path` is a Parquet table agingflow wrote (its footer names an agingflow table): the
/// only kind of existing file a table output may replace. Reads the footer only.
pub fn is_agingflow_table(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    ParquetRecordBatchReaderBuilder::try_new(file).is_ok_and(|b| {
        file_meta(b.metadata().file_metadata().key_value_metadata())
            .get("agingflow.table")
            .is_some()
    })
}

/// Starts a stage's run: forgets what an earlier run in this process read (see
/// `guard::start_run`), and refuses two of the stage's paths (inputs and outputs) that are the
/// same or nest: an output may not overwrite an input, and two outputs may not share a file.
pub fn start_stage(paths: &[&Path]) -> Result<(), TableError> {
    guard::start_run();
    Ok(guard::distinct_outputs(paths)?)
}

/// Writes a whole [`RowTable`], sorted by its keys (stable, so equal keys keep their order).
pub fn write_rows<T: RowTable>(
    path: &Path,
    mut rows: Vec<T>,
    prov: &Provenance,
) -> Result<(), TableError> {
    rows.sort_by(T::cmp_key);
    let mut file = TableFile::create(path, T::NAME, schema_of(&T::columns()), prov, None)?;
    if !rows.is_empty() {
        file.write(&T::to_batch(&rows)?)?;
    }
    file.commit()
}

/// Writes a [`CurveTable`] curve by curve; curves must come in key order (each key once).
pub struct CurveWriter<T: CurveTable> {
    file: TableFile,
    last: Option<T>,
    path: PathBuf,
    _t: PhantomData<T>,
}

impl<T: CurveTable> CurveWriter<T> {
    pub fn create(path: &Path, prov: &Provenance) -> Result<Self, TableError> {
        let file = TableFile::create(path, T::NAME, schema_of(&T::columns()), prov, Some(T::ID))?;
        Ok(CurveWriter {
            file,
            last: None,
            path: path.to_owned(),
            _t: PhantomData,
        })
    }

    /// Appends one curve; an error if it does not sort after the previous one.
    pub fn push(&mut self, curve: &T) -> Result<(), TableError> {
        if let Some(last) = &self.last
            && last.cmp_key(curve) != std::cmp::Ordering::Less
        {
            return Err(TableError::OutOfOrder {
                path: self.path.clone(),
                table: T::NAME.to_owned(),
                previous: last.id().to_owned(),
                id: curve.id().to_owned(),
            });
        }
        let n = curve.len()?;
        if n > 0 {
            self.file.write(&curve.to_batch()?)?;
        }
        self.last = Some(curve.meta());
        Ok(())
    }

    /// Finishes the file and moves it into place.
    pub fn finish(self) -> Result<(), TableError> {
        self.file.commit()
    }
}

/// Writes a whole [`CurveTable`], sorting the curves by key first.
pub fn write_curves<T: CurveTable>(
    path: &Path,
    mut curves: Vec<T>,
    prov: &Provenance,
) -> Result<(), TableError> {
    curves.sort_by(T::cmp_key);
    let mut w = CurveWriter::<T>::create(path, prov)?;
    for c in &curves {
        w.push(c)?;
    }
    w.finish()
}

/// The name of part `i` of a table stored as a folder (issue 18): `part-000000.parquet`, ...
/// Each part is a table of the same kind; the parts in name order are the table's rows in order.
/// ingest writes its raw tables so with `--parts`, one part per group of raw files, so that a
/// campaign that grows rewrites only the part of the group that changed.
pub fn part_name(i: usize) -> String {
    format!("part-{i:06}.parquet")
}

/// The part files of a table folder in order, or `None` when `path` is not a folder. A folder
/// with no part is an error (ingest writes one empty part for an empty table).
pub fn table_parts(path: &Path) -> Result<Option<Vec<PathBuf>>, TableError> {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Ok(None);
    }
    let io = |source| TableError::Io {
        path: path.to_owned(),
        source,
    };
    let mut parts = Vec::new();
    for e in std::fs::read_dir(path).map_err(io)? {
        let name = e.map_err(io)?.file_name().to_string_lossy().into_owned();
        if name.starts_with("part-") && name.ends_with(".parquet") {
            parts.push(path.join(name));
        }
    }
    if parts.is_empty() {
        return Err(guard::GuardError::Input {
            path: path.to_owned(),
            problem:
                "is a directory, not a file, nor a table folder (no part-NNNNNN.parquet in it)"
                    .into(),
        }
        .into());
    }
    parts.sort();
    Ok(Some(parts))
}

/// Opens a table file and checks that every expected column is there with its type.
fn open_checked(
    path: &Path,
    table: &str,
    columns: &[ColumnDef],
) -> Result<(ParquetRecordBatchReader, FileMeta), TableError> {
    let file = guard::open_input(path, "an input table")?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| TableError::Parquet {
            path: path.to_owned(),
            source,
        })?;
    build_checked(builder, path, table, columns)
}

/// [`open_checked`] from a builder (one row group of a file whose metadata is loaded once).
pub(crate) fn build_checked<R: parquet::file::reader::ChunkReader + 'static>(
    builder: ParquetRecordBatchReaderBuilder<R>,
    path: &Path,
    table: &str,
    columns: &[ColumnDef],
) -> Result<(ParquetRecordBatchReader, FileMeta), TableError> {
    let meta = file_meta(builder.metadata().file_metadata().key_value_metadata());
    if let Some(found) = meta.get("agingflow.table")
        && found != table
    {
        return Err(TableError::WrongTable {
            path: path.to_owned(),
            expected: table.to_owned(),
            found: found.to_owned(),
        });
    }
    let schema = builder.schema().clone();
    for col in columns {
        let Ok(field) = schema.field_with_name(col.name) else {
            if crate::coerce::optional_on_input(col, columns) {
                continue;
            }
            return Err(TableError::MissingColumn {
                path: path.to_owned(),
                table: table.to_owned(),
                column: col.name.to_owned(),
            });
        };
        if !crate::coerce::accepts(field.data_type(), &col.data_type) {
            return Err(TableError::WrongType {
                path: path.to_owned(),
                table: table.to_owned(),
                column: col.name.to_owned(),
                expected: format!("{:?}", col.data_type),
                found: format!("{:?}", field.data_type()),
            });
        }
    }
    // Only the table's columns are read: a file written elsewhere may carry others.
    let wanted: Vec<usize> = columns
        .iter()
        .filter_map(|c| schema.index_of(c.name).ok())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(READ_BATCH_ROWS)
        .build()
        .map_err(|source| TableError::Parquet {
            path: path.to_owned(),
            source,
        })?;
    Ok((reader, meta))
}

fn file_meta(kv: Option<&Vec<KeyValue>>) -> FileMeta {
    FileMeta {
        entries: kv
            .map(|kv| {
                kv.iter()
                    .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn next_batch(
    reader: &mut ParquetRecordBatchReader,
    path: &Path,
) -> Result<Option<RecordBatch>, TableError> {
    // The parquet crate panics on some corrupt page headers (negative offsets): a damaged file
    // is an error naming it, never a panic.
    let next =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.next())).map_err(|_| {
            TableError::Parquet {
                path: path.to_owned(),
                source: parquet::errors::ParquetError::General(
                    "corrupt page metadata (the file is damaged)".into(),
                ),
            }
        })?;
    next.transpose().map_err(|e| TableError::Parquet {
        path: path.to_owned(),
        source: e.into(),
    })
}

/// Reads a whole [`RowTable`] after checking its schema.
pub fn read_rows<T: RowTable>(path: &Path) -> Result<(Vec<T>, FileMeta), TableError> {
    let columns = T::columns();
    let (mut reader, meta) = open_checked(path, T::NAME, &columns)?;
    let mut rows = Vec::new();
    while let Some(batch) = next_batch(&mut reader, path)? {
        let batch = crate::coerce::conform(&batch, &columns, T::NAME, path)?;
        rows.extend(T::from_batch(&batch, path)?);
    }
    for (i, pair) in rows.windows(2).enumerate() {
        let detail = match pair[0].cmp_key(&pair[1]) {
            std::cmp::Ordering::Less => continue,
            std::cmp::Ordering::Equal => format!("rows {} and {} have the same key", i, i + 1),
            std::cmp::Ordering::Greater => format!("row {} sorts before row {}", i + 1, i),
        };
        return Err(TableError::Unsorted {
            path: path.to_owned(),
            table: T::NAME.to_owned(),
            keys: T::KEYS.join(", "),
            detail,
        });
    }
    Ok((rows, meta))
}

/// Streams a [`CurveTable`] one whole curve at a time, so memory holds one batch and one curve.
pub struct CurveReader<T: CurveTable> {
    reader: ParquetRecordBatchReader,
    columns: Vec<ColumnDef>,
    path: PathBuf,
    ready: VecDeque<T>,
    partial: Option<T>,
    done: bool,
    meta: FileMeta,
    /// The id and `sample` of the last row read, the ids seen and the last whole curve, for the
    /// order check.
    last_row: Option<(String, i64)>,
    seen: HashSet<String>,
    rows_read: usize,
    last_curve: Option<T>,
    /// The parts of a table folder still to read (see [`part_name`]).
    rest: VecDeque<PathBuf>,
    /// The file has no `sample` column: each curve's points are numbered in row order.
    numbered_here: bool,
}

impl<T: CurveTable> CurveReader<T> {
    /// Opens a table file, or a table folder (its parts read in order as one table, the curve
    /// order checked across them; the metadata is the first part's).
    pub fn open(path: &Path) -> Result<Self, TableError> {
        let mut rest: VecDeque<PathBuf> = match table_parts(path)? {
            Some(parts) => parts.into(),
            None => VecDeque::from([path.to_owned()]),
        };
        let first = rest.pop_front().unwrap_or_else(|| path.to_owned());
        let (reader, meta) = open_checked(&first, T::NAME, &T::columns())?;
        let mut r = Self::from_reader(reader, meta, &first);
        r.rest = rest;
        Ok(r)
    }

    /// The curves of a reader already checked by [`build_checked`].
    pub(crate) fn from_reader(
        reader: ParquetRecordBatchReader,
        meta: FileMeta,
        path: &Path,
    ) -> Self {
        let columns = T::columns();
        let numbered_here = arrow_array::RecordBatchReader::schema(&reader)
            .column_with_name("sample")
            .is_none();
        CurveReader {
            numbered_here,
            reader,
            columns,
            path: path.to_owned(),
            ready: VecDeque::new(),
            partial: None,
            done: false,
            meta,
            last_row: None,
            seen: HashSet::new(),
            rows_read: 0,
            last_curve: None,
            rest: VecDeque::new(),
        }
    }

    fn unsorted(&self, detail: String) -> TableError {
        TableError::Unsorted {
            path: self.path.clone(),
            table: T::NAME.to_owned(),
            keys: format!("{}, sample", T::KEYS.join(", ")),
            detail,
        }
    }

    /// A batch of a file without `sample`: the column numbered from the row order (0 where a
    /// curve starts, one more than the row before within it).
    fn numbered(&self, batch: RecordBatch) -> Result<RecordBatch, TableError> {
        let ids = crate::table::column::<String>(&batch, T::ID, T::NAME, &self.path)?;
        let mut last = self.last_row.clone();
        let mut numbers = Vec::with_capacity(batch.num_rows());
        for i in 0..batch.num_rows() {
            let id = ids.value(i);
            let n = match &last {
                Some((l, s)) if l == id => s + 1,
                _ => 0,
            };
            numbers.push(n);
            last = Some((id.to_owned(), n));
        }
        let at = batch
            .schema()
            .index_of("sample")
            .map_err(|e| TableError::Internal(e.to_string()))?;
        let mut columns = batch.columns().to_vec();
        columns[at] = std::sync::Arc::new(arrow_array::Int64Array::from(numbers));
        RecordBatch::try_new(batch.schema(), columns)
            .map_err(|e| TableError::Internal(e.to_string()))
    }

    /// Each curve's rows must be together, with `sample` 0, 1, 2, ...: a shuffled or duplicated
    /// table is refused rather than read as nonsense.
    fn check_rows(&mut self, batch: &RecordBatch) -> Result<(), TableError> {
        let ids = crate::table::column::<String>(batch, T::ID, T::NAME, &self.path)?;
        let samples = crate::table::column::<i64>(batch, "sample", T::NAME, &self.path)?;
        for i in 0..batch.num_rows() {
            let row = self.rows_read + i;
            let id = ids.value(i);
            let sample = samples.value(i);
            let ok = match &self.last_row {
                Some((last, s)) if last == id => {
                    if sample != s + 1 {
                        return Err(self.unsorted(format!(
                            "row {row}: curve `{id}` has sample {sample} after sample {s}{}",
                            if sample == *s {
                                " (a duplicated row)"
                            } else {
                                ""
                            }
                        )));
                    }
                    true
                }
                _ => {
                    if !self.seen.insert(id.to_owned()) {
                        return Err(self.unsorted(format!(
                            "row {row}: the rows of curve `{id}` are not together"
                        )));
                    }
                    sample == 0
                }
            };
            if !ok {
                return Err(self.unsorted(format!(
                    "row {row}: curve `{id}` starts at sample {sample}, not 0"
                )));
            }
            self.last_row = Some((id.to_owned(), sample));
        }
        self.rows_read += batch.num_rows();
        Ok(())
    }

    fn check_curve_order(&mut self, curve: &T) -> Result<(), TableError> {
        if let Some(last) = &self.last_curve
            && last.cmp_key(curve) != std::cmp::Ordering::Less
        {
            return Err(self.unsorted(format!(
                "curve `{}` comes after curve `{}`",
                curve.id(),
                last.id()
            )));
        }
        self.last_curve = Some(curve.meta());
        Ok(())
    }

    /// The file's key-value metadata.
    pub fn meta(&self) -> &FileMeta {
        &self.meta
    }

    fn fill(&mut self) -> Result<(), TableError> {
        while self.ready.is_empty() && !self.done {
            match next_batch(&mut self.reader, &self.path)? {
                None if !self.rest.is_empty() => {
                    let next = self.rest.pop_front().unwrap_or_default();
                    let (reader, _) = open_checked(&next, T::NAME, &self.columns)?;
                    self.numbered_here = arrow_array::RecordBatchReader::schema(&reader)
                        .column_with_name("sample")
                        .is_none();
                    self.reader = reader;
                    self.path = next;
                    self.rows_read = 0;
                }
                None => {
                    self.done = true;
                    if let Some(p) = self.partial.take() {
                        self.check_curve_order(&p)?;
                        self.ready.push_back(p);
                    }
                }
                Some(batch) => {
                    let mut batch =
                        crate::coerce::conform(&batch, &self.columns, T::NAME, &self.path)?;
                    if self.numbered_here {
                        batch = self.numbered(batch)?;
                    }
                    self.check_rows(&batch)?;
                    for curve in T::from_batch(&batch, &self.path)? {
                        match self.partial.take() {
                            Some(mut p) if p.id() == curve.id() => {
                                p.extend(curve);
                                self.partial = Some(p);
                            }
                            Some(p) => {
                                self.check_curve_order(&p)?;
                                self.ready.push_back(p);
                                self.partial = Some(curve);
                            }
                            None => self.partial = Some(curve),
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl<T: CurveTable> Iterator for CurveReader<T> {
    type Item = Result<T, TableError>;
    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.fill() {
            self.done = true;
            self.ready.clear();
            self.partial = None;
            return Some(Err(e));
        }
        self.ready.pop_front().map(Ok)
    }
}

/// Reads every curve of a [`CurveTable`].
pub fn read_curves<T: CurveTable>(path: &Path) -> Result<(Vec<T>, FileMeta), TableError> {
    let reader = CurveReader::<T>::open(path)?;
    let meta = reader.meta().clone();
    let curves = reader.collect::<Result<Vec<T>, _>>()?;
    Ok((curves, meta))
}

/// Any Parquet table, untyped: what the runner's checks evaluate.
#[derive(Debug)]
pub struct AnyTable {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub meta: FileMeta,
}

/// Reads any Parquet file as record batches, with no schema check; a table folder as its parts'
/// batches in order (schema and metadata of the first part).
pub fn read_any(path: &Path) -> Result<AnyTable, TableError> {
    if let Some(parts) = table_parts(path)? {
        let mut all: Option<AnyTable> = None;
        for part in parts {
            let t = read_any_file(&part)?;
            match &mut all {
                Some(a) => a.batches.extend(t.batches),
                None => all = Some(t),
            }
        }
        return all.ok_or_else(|| TableError::Internal("a table folder with no part".into()));
    }
    read_any_file(path)
}

fn read_any_file(path: &Path) -> Result<AnyTable, TableError> {
    let file = guard::open_input(path, "a table")?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| TableError::Parquet {
            path: path.to_owned(),
            source,
        })?;
    let meta = file_meta(builder.metadata().file_metadata().key_value_metadata());
    let schema = builder.schema().clone();
    let mut reader = builder
        .with_batch_size(READ_BATCH_ROWS)
        .build()
        .map_err(|source| TableError::Parquet {
            path: path.to_owned(),
            source,
        })?;
    let mut batches = Vec::new();
    while let Some(b) = next_batch(&mut reader, path)? {
        batches.push(b);
    }
    Ok(AnyTable {
        schema,
        batches,
        meta,
    })
}
