//! Reading and writing table files: schema-checked reads, atomic and deterministic writes.
//!
//! A write goes to a temporary file beside the target and is renamed over it only when complete,
//! so a reader or a crash never sees half a file. Writer properties are fixed (zstd level 3, one
//! `created_by`, fixed row-group size) and the key-value metadata holds nothing time-dependent, so
//! the same rows always give the same bytes.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::table::{ColumnDef, CurveTable, RowTable, schema_of};
use crate::{SCHEMA_VERSION, TableError, VERSION};

/// Rows per Parquet row group; fixed so the file layout never depends on how rows were batched.
const ROW_GROUP_ROWS: usize = 1 << 20;
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

/// A temporary file beside its target, renamed over the target by [`AtomicFile::commit`] and
/// removed if dropped before that.
struct AtomicFile {
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl AtomicFile {
    fn create(target: &Path) -> Result<(Self, File), TableError> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = TMP_COUNTER.fetch_add(1, AtomicOrdering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp.{}.{n}", std::process::id()));
        let file = File::create(&tmp).map_err(|source| TableError::Io {
            path: tmp.clone(),
            source,
        })?;
        Ok((
            AtomicFile {
                tmp,
                target: target.to_owned(),
                committed: false,
            },
            file,
        ))
    }

    fn commit(mut self, file: File) -> Result<(), TableError> {
        file.sync_all().map_err(|source| TableError::Io {
            path: self.tmp.clone(),
            source,
        })?;
        drop(file);
        std::fs::rename(&self.tmp, &self.target).map_err(|source| TableError::Io {
            path: self.target.clone(),
            source,
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn writer_properties(
    table: &str,
    schema: &SchemaRef,
    prov: &Provenance,
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
        }
    }
    Ok(builder.build())
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
    ) -> Result<Self, TableError> {
        let (atomic, file) = AtomicFile::create(path)?;
        let props = writer_properties(table, &schema, prov)?;
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
            .map_err(|source| TableError::Parquet {
                path: self.atomic.target.clone(),
                source,
            })
    }

    fn commit(self) -> Result<(), TableError> {
        let path = self.atomic.target.clone();
        let buf = self
            .writer
            .into_inner()
            .map_err(|source| TableError::Parquet {
                path: path.clone(),
                source,
            })?;
        let file = buf.into_inner().map_err(|e| TableError::Io {
            path: path.clone(),
            source: e.into_error(),
        })?;
        self.atomic.commit(file)
    }
}

/// Writes a whole [`RowTable`], sorted by its keys (stable, so equal keys keep their order).
pub fn write_rows<T: RowTable>(
    path: &Path,
    mut rows: Vec<T>,
    prov: &Provenance,
) -> Result<(), TableError> {
    rows.sort_by(T::cmp_key);
    let mut file = TableFile::create(path, T::NAME, schema_of(&T::columns()), prov)?;
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
        let file = TableFile::create(path, T::NAME, schema_of(&T::columns()), prov)?;
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

/// Opens a table file and checks that every expected column is there with its type.
fn open_checked(
    path: &Path,
    table: &str,
    columns: &[ColumnDef],
) -> Result<(ParquetRecordBatchReader, FileMeta), TableError> {
    let file = File::open(path).map_err(|source| TableError::Io {
        path: path.to_owned(),
        source,
    })?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| TableError::Parquet {
            path: path.to_owned(),
            source,
        })?;
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
        let field = schema
            .field_with_name(col.name)
            .map_err(|_| TableError::MissingColumn {
                path: path.to_owned(),
                table: table.to_owned(),
                column: col.name.to_owned(),
            })?;
        if field.data_type() != &col.data_type {
            return Err(TableError::WrongType {
                path: path.to_owned(),
                table: table.to_owned(),
                column: col.name.to_owned(),
                expected: format!("{:?}", col.data_type),
                found: format!("{:?}", field.data_type()),
            });
        }
    }
    let reader = builder
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
    reader.next().transpose().map_err(|e| TableError::Parquet {
        path: path.to_owned(),
        source: e.into(),
    })
}

/// Reads a whole [`RowTable`] after checking its schema.
pub fn read_rows<T: RowTable>(path: &Path) -> Result<(Vec<T>, FileMeta), TableError> {
    let (mut reader, meta) = open_checked(path, T::NAME, &T::columns())?;
    let mut rows = Vec::new();
    while let Some(batch) = next_batch(&mut reader, path)? {
        rows.extend(T::from_batch(&batch, path)?);
    }
    Ok((rows, meta))
}

/// Streams a [`CurveTable`] one whole curve at a time, so memory holds one batch and one curve.
pub struct CurveReader<T: CurveTable> {
    reader: ParquetRecordBatchReader,
    path: PathBuf,
    ready: VecDeque<T>,
    partial: Option<T>,
    done: bool,
    meta: FileMeta,
}

impl<T: CurveTable> CurveReader<T> {
    pub fn open(path: &Path) -> Result<Self, TableError> {
        let (reader, meta) = open_checked(path, T::NAME, &T::columns())?;
        Ok(CurveReader {
            reader,
            path: path.to_owned(),
            ready: VecDeque::new(),
            partial: None,
            done: false,
            meta,
        })
    }

    /// The file's key-value metadata.
    pub fn meta(&self) -> &FileMeta {
        &self.meta
    }

    fn fill(&mut self) -> Result<(), TableError> {
        while self.ready.is_empty() && !self.done {
            match next_batch(&mut self.reader, &self.path)? {
                None => {
                    self.done = true;
                    self.ready.extend(self.partial.take());
                }
                Some(batch) => {
                    for curve in T::from_batch(&batch, &self.path)? {
                        match self.partial.take() {
                            Some(mut p) if p.id() == curve.id() => {
                                p.extend(curve);
                                self.partial = Some(p);
                            }
                            Some(p) => {
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

/// Reads any Parquet file as record batches, with no schema check.
pub fn read_any(path: &Path) -> Result<AnyTable, TableError> {
    let file = File::open(path).map_err(|source| TableError::Io {
        path: path.to_owned(),
        source,
    })?;
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
