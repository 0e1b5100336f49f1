//! Curve tables assembled from encoded segments (issue 18): a segment is a complete Parquet file
//! of a few curves, encoded once; a table is its segments' row groups spliced in order, their
//! bytes copied, not decoded and encoded again. A stage that keeps segments under a key of what
//! they were made from (ingest: the files of a group) rebuilds a grown table by encoding only the
//! new segment. A table is always written this way, from scratch too, so both give the same bytes.

use std::fs::File;
use std::io::BufWriter;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use guard::AtomicFile;
use parquet::arrow::ArrowWriter;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::TypePtr;

use crate::CurveReader;
use crate::io::{ROW_GROUP_ROWS, build_checked, prepare_target, unbuffer, writer_properties};
use crate::table::{CurveTable, schema_of};
use crate::{Provenance, TableError};

/// A group of consecutive items ends after an item whose id hashes to 0 modulo this (about this
/// many items a group, wherever one is added or removed: only its own group changes), or at
/// [`MAX_GROUP`] items.
pub const GROUP_MEAN: u8 = 16;
pub const MAX_GROUP: usize = 64;

/// Consecutive items cut into groups by their ids' content (see [`GROUP_MEAN`]): ingest's groups
/// of raw files, spectrum's segments of the spectra table.
pub fn content_groups<'a>(
    ids: impl ExactSizeIterator<Item = &'a str>,
) -> Vec<std::ops::Range<usize>> {
    let n = ids.len();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, id) in ids.enumerate() {
        let cut = blake3::hash(id.as_bytes()).as_bytes()[0].is_multiple_of(GROUP_MEAN);
        if cut || i + 1 - start == MAX_GROUP || i + 1 == n {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    out
}

/// Encodes curves (in key order, each key once) as one segment: a Parquet file of the table.
/// A row group ends between curves, never inside one (row groups are read one at a time, and a
/// curve must be whole in its row group): a new one starts before a curve that would take the
/// current one past 2^20 rows; a longer curve is a row group of its own.
pub fn encode_segment<T: CurveTable>(
    curves: &[T],
    prov: &Provenance,
) -> Result<Vec<u8>, TableError> {
    encode_segment_rows(curves, prov, ROW_GROUP_ROWS)
}

fn encode_segment_rows<T: CurveTable>(
    curves: &[T],
    prov: &Provenance,
    group_rows: usize,
) -> Result<Vec<u8>, TableError> {
    let schema = schema_of(&T::columns());
    let props = writer_properties(T::NAME, &schema, prov, Some(T::ID))?
        .into_builder()
        .set_max_row_group_row_count(None)
        .build();
    let internal = |e: parquet::errors::ParquetError| TableError::Internal(e.to_string());
    let mut w = ArrowWriter::try_new(Vec::new(), schema, Some(props)).map_err(internal)?;
    let mut last: Option<T> = None;
    for c in curves {
        if let Some(l) = &last
            && l.cmp_key(c) != std::cmp::Ordering::Less
        {
            return Err(TableError::OutOfOrder {
                path: PathBuf::from("a segment"),
                table: T::NAME.to_owned(),
                previous: l.id().to_owned(),
                id: c.id().to_owned(),
            });
        }
        let n = c.len()?;
        if n > 0 {
            let open = w.in_progress_rows();
            if open > 0 && open + n > group_rows {
                w.flush().map_err(internal)?;
            }
            w.write(&c.to_batch()?).map_err(internal)?;
        }
        last = Some(c.meta());
    }
    w.into_inner().map_err(internal)
}

fn metadata(bytes: &Bytes) -> Result<ParquetMetaData, TableError> {
    ParquetMetaDataReader::new()
        .with_page_index_policy(PageIndexPolicy::Optional)
        .parse_and_finish(bytes)
        .map_err(|e| TableError::Internal(format!("a segment does not read back: {e}")))
}

/// A file being written, hashed on the way (BLAKE3 of every byte written).
struct Hashing {
    file: File,
    hasher: blake3::Hasher,
}

impl std::io::Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A curve table being written from segments, atomically like every table.
pub struct SegmentWriter<T: CurveTable> {
    atomic: AtomicFile,
    writer: SerializedFileWriter<BufWriter<Hashing>>,
    schema: TypePtr,
    _t: PhantomData<T>,
}

impl<T: CurveTable> SegmentWriter<T> {
    /// Starts the table at `path` (the checks of every table write: never an input, never a file
    /// agingflow did not write). Its schema and key-value metadata are those of an empty segment,
    /// whatever segments follow.
    pub fn create(path: &Path, prov: &Provenance) -> Result<Self, TableError> {
        let (atomic, file) = prepare_target(path)?;
        let empty = Bytes::from(encode_segment::<T>(&[], prov)?);
        let meta = metadata(&empty)?;
        let fm = meta.file_metadata();
        let schema = fm.schema_descr().root_schema_ptr();
        let mut props = writer_properties(T::NAME, &schema_of(&T::columns()), prov, Some(T::ID))?;
        props = props
            .into_builder()
            .set_key_value_metadata(fm.key_value_metadata().cloned())
            .build();
        let hashing = Hashing {
            file,
            hasher: blake3::Hasher::new(),
        };
        let writer = SerializedFileWriter::new(
            BufWriter::with_capacity(1 << 20, hashing),
            schema.clone(),
            Arc::new(props),
        )
        .map_err(|source| TableError::write(path, source))?;
        Ok(SegmentWriter {
            atomic,
            writer,
            schema,
            _t: PhantomData,
        })
    }

    /// Appends the row groups of one segment (written by [`encode_segment`] for this table);
    /// returns how many.
    pub fn append(&mut self, segment: Vec<u8>) -> Result<usize, TableError> {
        let bytes = Bytes::from(segment);
        let meta = metadata(&bytes)?;
        let n = meta.num_row_groups();
        self.splice(&bytes, &meta, 0..n)?;
        Ok(n)
    }

    /// Appends row groups `groups` of a table written before (by this writer, for this table).
    pub fn append_old(
        &mut self,
        old: &OldTable,
        groups: std::ops::Range<usize>,
    ) -> Result<(), TableError> {
        if groups.end > old.meta.num_row_groups() {
            return Err(TableError::Internal(format!(
                "{}: has {} row groups, not {}",
                old.path.display(),
                old.meta.num_row_groups(),
                groups.end
            )));
        }
        self.splice(&old.file, &old.meta, groups)
    }

    fn splice<R: parquet::file::reader::ChunkReader>(
        &mut self,
        reader: &R,
        meta: &ParquetMetaData,
        groups: std::ops::Range<usize>,
    ) -> Result<(), TableError> {
        if meta.file_metadata().schema_descr().root_schema_ptr() != self.schema {
            return Err(TableError::Internal(format!(
                "a segment of another schema than table `{}`",
                T::NAME
            )));
        }
        let path = self.atomic.target().to_owned();
        let err = |source| TableError::write(&path, source);
        let pages = meta.page_index();
        for g in groups {
            let rg = meta.row_group(g);
            let mut out = self.writer.next_row_group().map_err(err)?;
            for (c, column) in rg.columns().iter().enumerate() {
                let close = ColumnCloseResult {
                    bytes_written: column.compressed_size() as u64,
                    rows_written: rg.num_rows() as u64,
                    metadata: column.clone(),
                    bloom_filter: None,
                    column_index: pages.and_then(|p| p.column_index(g, c)).cloned(),
                    offset_index: pages.and_then(|p| p.offset_index(g, c)).cloned(),
                };
                out.append_column(reader, close).map_err(err)?;
            }
            out.close().map_err(err)?;
        }
        Ok(())
    }

    /// Finishes the file and moves it into place; the BLAKE3 hash of its bytes.
    pub fn finish(self) -> Result<blake3::Hash, TableError> {
        let path = self.atomic.target().to_owned();
        let buf = self
            .writer
            .into_inner()
            .map_err(|source| TableError::write(&path, source))?;
        let file = unbuffer(buf, &path)?;
        let hash = file.hasher.finalize();
        self.atomic.commit(file.file)?;
        Ok(hash)
    }
}

/// A table written before (by [`SegmentWriter`]) whose row groups a new one may take as they are.
pub struct OldTable {
    path: PathBuf,
    file: File,
    meta: ParquetMetaData,
}

impl OldTable {
    /// Opens the table at `path` and reads its metadata (the caller has verified its bytes).
    pub fn open(path: &Path) -> Result<Self, TableError> {
        let file = File::open(path).map_err(|source| TableError::Io {
            path: path.to_owned(),
            source,
        })?;
        let meta = ParquetMetaDataReader::new()
            .with_page_index_policy(PageIndexPolicy::Optional)
            .parse_and_finish(&file)
            .map_err(|source| TableError::Parquet {
                path: path.to_owned(),
                source,
            })?;
        Ok(OldTable {
            path: path.to_owned(),
            file,
            meta,
        })
    }

    /// How many row groups it has.
    pub fn row_groups(&self) -> usize {
        self.meta.num_row_groups()
    }
}

/// A curve table read a row group at a time, each with a key: the BLAKE3 of the table's Arrow
/// schema and of the row group's bytes as stored (compressed, so hashing reads them only once,
/// never decodes). Two row groups with one key hold the same curves, so a stage may keep what it
/// computed from a row group under its key (issue 18): with the segments ingest writes, a grown
/// campaign changes only the row groups of the files that changed.
pub struct RowGroups<T: CurveTable> {
    /// The table's files: one, or the parts of a table folder in order.
    parts: Vec<PartFile>,
    /// Row group `i` of the table: (part, the part's row groups it is made of). One, except
    /// where another writer cut a curve between row groups (pyarrow's default 1 Mi rows a group):
    /// such row groups are joined, so a curve is always read whole.
    index: Vec<(usize, Vec<usize>)>,
    keys: Vec<String>,
    _t: PhantomData<T>,
}

/// One file of a [`RowGroups`].
struct PartFile {
    path: PathBuf,
    file: Arc<File>,
    meta: parquet::arrow::arrow_reader::ArrowReaderMetadata,
    /// The Arrow schema as text, the first part of every row group's key.
    schema: String,
}

impl<T: CurveTable> RowGroups<T> {
    /// Opens the table (a file, or a table folder: its parts' row groups in order), checks its
    /// schema (as every read does) and hashes its row groups.
    pub fn open(path: &Path) -> Result<Self, TableError> {
        Self::open_with(path, &|_: &Path| None)
    }

    /// [`RowGroups::open`], where the row groups of a table folder's part are keyed by the
    /// part's content hash as `part_hash` knows it (a stage passes the runner's hash memo, so an
    /// unchanged part is not read at all): blake3 of the schema, the part's hash and the row
    /// group's index. A part `part_hash` does not know, and a table in one file, are keyed by
    /// their row groups' stored bytes.
    pub fn open_with(
        path: &Path,
        part_hash: &(dyn Fn(&Path) -> Option<blake3::Hash> + Sync),
    ) -> Result<Self, TableError> {
        use rayon::prelude::*;
        let (rows, folder) = Self::open_parts(path)?;
        let hashes: Vec<Option<blake3::Hash>> = if folder {
            rows.parts.par_iter().map(|f| part_hash(&f.path)).collect()
        } else {
            vec![None; rows.parts.len()]
        };
        let one = |p: usize, g: usize| match hashes[p] {
            Some(h) => {
                let mut k = blake3::Hasher::new();
                k.update(b"part\0");
                k.update(rows.parts[p].schema.as_bytes());
                k.update(h.as_bytes());
                k.update(&(g as u64).to_le_bytes());
                Ok(k.finalize().to_hex().to_string())
            }
            None => rows.key(p, g),
        };
        let keys = rows
            .index
            .par_iter()
            .map(|(p, groups)| joined_key(groups.iter().map(|&g| one(*p, g))))
            .collect::<Result<Vec<String>, TableError>>()?;
        Ok(RowGroups { keys, ..rows })
    }

    /// [`RowGroups::open`] without keying the row groups (only the footers are read): for a
    /// reader that takes a few row groups. [`RowGroups::keys`] is then empty;
    /// [`RowGroups::key_of`] keys one row group on demand.
    pub fn open_unkeyed(path: &Path) -> Result<Self, TableError> {
        Ok(Self::open_parts(path)?.0)
    }

    /// The number of row groups.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the table has no row group.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The key of row group `i` from its stored bytes (blake3 of the schema and the bytes).
    pub fn key_of(&self, i: usize) -> Result<String, TableError> {
        let (p, groups) = &self.index[i];
        joined_key(groups.iter().map(|&g| self.key(*p, g)))
    }

    /// The table's files and row groups, schema checked, keys not computed; whether it is a
    /// table folder.
    fn open_parts(path: &Path) -> Result<(Self, bool), TableError> {
        let listed = crate::io::table_parts(path)?;
        let folder = listed.is_some();
        let paths = listed.unwrap_or_else(|| vec![path.to_owned()]);
        let mut rows = RowGroups {
            parts: Vec::with_capacity(paths.len()),
            index: Vec::new(),
            keys: Vec::new(),
            _t: PhantomData,
        };
        for (p, part) in paths.iter().enumerate() {
            let file = guard::open_input(part, "an input table")?;
            let meta =
                parquet::arrow::arrow_reader::ArrowReaderMetadata::load(&file, Default::default())
                    .map_err(|source| TableError::Parquet {
                        path: part.clone(),
                        source,
                    })?;
            let n = meta.metadata().num_row_groups();
            rows.parts.push(PartFile {
                path: part.clone(),
                file: Arc::new(file),
                schema: format!("{:?}", meta.schema()),
                meta,
            });
            // The schema check of every read, on no row group.
            rows.reader(p, Vec::new())?;
            // Row groups joined where a curve continues across their boundary.
            let edges: Vec<(String, String)> = if n > 1 {
                use rayon::prelude::*;
                (0..n)
                    .into_par_iter()
                    .map(|g| rows.edge_ids(p, g))
                    .collect::<Result<_, _>>()?
            } else {
                Vec::new()
            };
            for g in 0..n {
                let continues = g > 0 && !edges.is_empty() && edges[g - 1].1 == edges[g].0;
                match rows.index.last_mut() {
                    Some((_, groups)) if continues => groups.push(g),
                    _ => rows.index.push((p, vec![g])),
                }
            }
        }
        Ok((rows, folder))
    }

    /// blake3 of the Arrow schema and of the row group's stored bytes.
    fn key(&self, p: usize, g: usize) -> Result<String, TableError> {
        use std::os::unix::fs::FileExt;
        let part = &self.parts[p];
        let rg = part.meta.metadata().row_group(g);
        let (mut start, mut end) = (u64::MAX, 0u64);
        for c in rg.columns() {
            let (s, n) = c.byte_range();
            start = start.min(s);
            end = end.max(s + n);
        }
        let mut h = blake3::Hasher::new();
        h.update(part.schema.as_bytes());
        if start < end {
            let mut buf = vec![0u8; (end - start) as usize];
            part.file
                .read_exact_at(&mut buf, start)
                .map_err(|source| TableError::Io {
                    path: part.path.clone(),
                    source,
                })?;
            h.update(&buf);
        }
        Ok(h.finalize().to_hex().to_string())
    }

    /// The curve ids of the first and the last row of row group `g` of part `p` (only the id
    /// column's first and last rows are decoded).
    fn edge_ids(&self, p: usize, g: usize) -> Result<(String, String), TableError> {
        use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
        let part = &self.parts[p];
        let rows = part.meta.metadata().row_group(g).num_rows().max(0) as usize;
        let parquet_err = |source: parquet::errors::ParquetError| TableError::Parquet {
            path: part.path.clone(),
            source,
        };
        let column = part
            .meta
            .schema()
            .index_of(T::ID)
            .map_err(|_| TableError::MissingColumn {
                path: part.path.clone(),
                table: T::NAME.to_owned(),
                column: T::ID.to_owned(),
            })?;
        let selection = if rows > 2 {
            RowSelection::from(vec![
                RowSelector::select(1),
                RowSelector::skip(rows - 2),
                RowSelector::select(1),
            ])
        } else {
            RowSelection::from(vec![RowSelector::select(rows)])
        };
        let builder =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::new_with_metadata(
                Positional(part.file.clone()),
                part.meta.clone(),
            );
        let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [column]);
        let reader = builder
            .with_row_groups(vec![g])
            .with_projection(mask)
            .with_row_selection(selection)
            .build()
            .map_err(parquet_err)?;
        let mut ids: Vec<String> = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|e| parquet_err(e.into()))?;
            let id_col = crate::table::ColumnDef::of::<String>(T::ID, "");
            let batch = crate::coerce::conform(&batch, &[id_col], T::NAME, &part.path)?;
            let a = crate::table::column::<String>(&batch, T::ID, T::NAME, &part.path)?;
            ids.extend((0..arrow_array::Array::len(a)).map(|i| a.value(i).to_owned()));
        }
        let first = ids.first().cloned().unwrap_or_default();
        let last = ids.last().cloned().unwrap_or_default();
        Ok((first, last))
    }

    fn reader(&self, p: usize, groups: Vec<usize>) -> Result<CurveReader<T>, TableError> {
        let part = &self.parts[p];
        let builder =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::new_with_metadata(
                Positional(part.file.clone()),
                part.meta.clone(),
            )
            .with_row_groups(groups);
        let (reader, meta) = build_checked(builder, &part.path, T::NAME, &T::columns())?;
        Ok(CurveReader::from_reader(reader, meta, &part.path))
    }

    /// The smallest and largest value of text column `column` in row group `i`, from the file's
    /// statistics (a truncated statistic still bounds the values); `None` where there are none.
    pub fn text_range(&self, i: usize, column: &str) -> Option<(String, String)> {
        let (p, groups) = self.index.get(i)?;
        let mut range: Option<(String, String)> = None;
        for &g in groups {
            let rg = self.parts[*p].meta.metadata().row_group(g);
            let chunk = rg
                .columns()
                .iter()
                .find(|c| c.column_path().string() == column)?;
            let st = chunk.statistics()?;
            let text = |b: Option<&[u8]>| String::from_utf8(b?.to_vec()).ok();
            let (lo, hi) = (text(st.min_bytes_opt())?, text(st.max_bytes_opt())?);
            range = Some(match range {
                None => (lo, hi),
                Some((a, b)) => (a.min(lo), b.max(hi)),
            });
        }
        range
    }

    /// The key-value metadata of the table (of its first file).
    pub fn meta(&self) -> Result<crate::FileMeta, TableError> {
        if self.parts.is_empty() {
            return Ok(crate::FileMeta::default());
        }
        Ok(self.reader(0, Vec::new())?.meta().clone())
    }

    /// The row groups in windows of two per thread, in table order: a stage works on a window
    /// in parallel and writes it in order, so memory holds a few row groups' worth.
    pub fn windows(&self) -> Vec<std::ops::Range<usize>> {
        let n = self.index.len();
        let w = (2 * rayon::current_num_threads()).max(1);
        (0..n).step_by(w).map(|a| a..(a + w).min(n)).collect()
    }

    /// The rows of row group `i` (from the files' metadata; nothing is decoded).
    pub fn rows_in(&self, i: usize) -> usize {
        self.index.get(i).map_or(0, |(p, groups)| {
            groups
                .iter()
                .map(|&g| {
                    self.parts[*p]
                        .meta
                        .metadata()
                        .row_group(g)
                        .num_rows()
                        .max(0) as usize
                })
                .sum()
        })
    }

    /// The rows of the whole table, for progress counted in curve points.
    pub fn rows(&self) -> usize {
        (0..self.index.len()).map(|i| self.rows_in(i)).sum()
    }

    /// The key of each row group, in table order (none when opened unkeyed).
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The curves of row group `i` (checked as every read: rows of a curve together, in order).
    /// Row groups may be read from several threads at once.
    pub fn read(&self, i: usize) -> Result<Vec<T>, TableError> {
        let (p, groups) = &self.index[i];
        self.reader(*p, groups.clone())?.collect()
    }

    /// `f` of every curve of row group `i`, on the pool, in table order. Where the row group is
    /// `alone` (the only one being worked on: a table in one large row group, as pyarrow and
    /// [`crate::write_curves`] write, or a window's last) and the pool has more than one thread,
    /// a thread of its own decodes it while the pool works on the curves already decoded, so the
    /// work does not wait for the whole decoding; else the row group is decoded first. The same
    /// results, in the same order, either way; the first error of the decoding ends it.
    pub fn map_curves<R: Send>(
        &self,
        i: usize,
        alone: bool,
        f: impl Fn(&T) -> R + Sync,
    ) -> Result<Vec<R>, TableError>
    where
        T: Send,
    {
        use rayon::prelude::*;
        if !alone || rayon::current_num_threads() < 2 {
            return Ok(self.read(i)?.par_iter().map(&f).collect());
        }
        let (p, groups) = &self.index[i];
        // A few hundred curves in flight at most: memory stays that of a window.
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Result<T, TableError>)>(256);
        std::thread::scope(|s| {
            s.spawn(move || {
                let reader = match self.reader(*p, groups.clone()) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send((0, Err(e)));
                        return;
                    }
                };
                for (j, c) in reader.enumerate() {
                    // The receiver is gone once an error ended the work.
                    if tx.send((j, c)).is_err() {
                        break;
                    }
                }
            });
            let mut done = rx
                .into_iter()
                .par_bridge()
                .map(|(j, c)| c.map(|c| (j, f(&c))))
                .collect::<Result<Vec<(usize, R)>, TableError>>()?;
            done.sort_unstable_by_key(|(j, _)| *j);
            Ok(done.into_iter().map(|(_, r)| r).collect())
        })
    }
}

/// The key of row groups read as one: a single row group's own key, else blake3 of theirs.
fn joined_key(
    keys: impl Iterator<Item = Result<String, TableError>>,
) -> Result<String, TableError> {
    let keys: Vec<String> = keys.collect::<Result<_, _>>()?;
    if let [one] = keys.as_slice() {
        return Ok(one.clone());
    }
    let mut h = blake3::Hasher::new();
    h.update(b"joined\0");
    for k in &keys {
        h.update(k.as_bytes());
    }
    Ok(h.finalize().to_hex().to_string())
}

/// A file read by position (`pread`): readers made from it keep their own offsets, so several
/// threads can read row groups of one open file at once (parquet's reader for `File` seeks the
/// one offset all clones of a descriptor share).
struct Positional(Arc<File>);

/// A reader of [`Positional`] from an offset of its own.
struct PositionalRead {
    file: Arc<File>,
    at: u64,
}

impl std::io::Read for PositionalRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

impl parquet::file::reader::Length for Positional {
    fn len(&self) -> u64 {
        self.0.metadata().map_or(0, |m| m.len())
    }
}

impl parquet::file::reader::ChunkReader for Positional {
    type T = std::io::BufReader<PositionalRead>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(std::io::BufReader::new(PositionalRead {
            file: self.0.clone(),
            at: start,
        }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; length];
        self.0.read_exact_at(&mut buf, start)?;
        Ok(buf.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RelaxationRaw, read_curves};

    fn curve(id: &str, n: usize) -> RelaxationRaw {
        RelaxationRaw {
            step_s: None,
            test_id: id.into(),
            material: "PVC".into(),
            temperature_k: 300.0,
            aging_time_s: 60.0,
            strain: Some(0.01),
            time_s: (0..n).map(|i| i as f64).collect(),
            stress_mpa: (0..n).map(|i| Some(10.0 - i as f64 * 0.01)).collect(),
            temperature_meas_k: vec![Some(300.0); n],
            strain_meas: vec![None; n],
            ..Default::default()
        }
    }

    #[test]
    fn spliced_segments_read_back_as_the_curves_and_give_the_same_bytes_every_time() {
        let d = tempfile::tempdir().unwrap();
        let prov = Provenance::new("test", serde_json::json!({}));
        let curves: Vec<RelaxationRaw> = ["a", "b", "c", "d", "e"]
            .iter()
            .enumerate()
            .map(|(i, id)| curve(id, 50 + 30 * i))
            .collect();
        let write = |name: &str| {
            let path = d.path().join(name);
            let mut w = SegmentWriter::<RelaxationRaw>::create(&path, &prov).unwrap();
            for part in [&curves[..2], &curves[2..3], &curves[3..]] {
                w.append(encode_segment(part, &prov).unwrap()).unwrap();
            }
            let h = w.finish().unwrap();
            assert_eq!(h, blake3::hash(&std::fs::read(&path).unwrap()));
            path
        };
        let (a, b) = (write("a.parquet"), write("b.parquet"));
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let (back, meta) = read_curves::<RelaxationRaw>(&a).unwrap();
        assert_eq!(back, curves);
        assert_eq!(meta.get("agingflow.table"), Some("relaxation_raw"));
        // Out of order within a segment is refused; an empty table has the table's schema.
        assert!(encode_segment(&[curves[1].clone(), curves[0].clone()], &prov).is_err());
        let empty = d.path().join("empty.parquet");
        SegmentWriter::<RelaxationRaw>::create(&empty, &prov)
            .unwrap()
            .finish()
            .unwrap();
        assert!(read_curves::<RelaxationRaw>(&empty).unwrap().0.is_empty());
        // Row groups read one at a time, keyed by their bytes: the same segment, the same key.
        let groups = RowGroups::<RelaxationRaw>::open(&a).unwrap();
        assert_eq!(groups.keys().len(), 3);
        assert_eq!(groups.read(1).unwrap(), curves[2..3].to_vec());
        assert_eq!(groups.read(2).unwrap(), curves[3..].to_vec());
        let c = d.path().join("c.parquet");
        let mut w = SegmentWriter::<RelaxationRaw>::create(&c, &prov).unwrap();
        let mut changed = curves[2].clone();
        changed.time_s[3] += 1e-9;
        w.append(encode_segment(&curves[..2], &prov).unwrap())
            .unwrap();
        w.append(encode_segment(&[changed], &prov).unwrap())
            .unwrap();
        w.append(encode_segment(&curves[3..], &prov).unwrap())
            .unwrap();
        w.finish().unwrap();
        // Row groups taken from an old table as they are give the same bytes as their segments.
        let e = d.path().join("e.parquet");
        let old = OldTable::open(&a).unwrap();
        assert_eq!(old.row_groups(), 3);
        let mut w = SegmentWriter::<RelaxationRaw>::create(&e, &prov).unwrap();
        w.append_old(&old, 0..2).unwrap();
        w.append(encode_segment(&curves[3..], &prov).unwrap())
            .unwrap();
        assert!(w.append_old(&old, 2..4).is_err());
        w.finish().unwrap();
        assert_eq!(std::fs::read(&e).unwrap(), std::fs::read(&a).unwrap());
        let other = RowGroups::<RelaxationRaw>::open(&c).unwrap();
        assert_eq!(other.keys()[0], groups.keys()[0]);
        assert_ne!(other.keys()[1], groups.keys()[1]);
        assert_eq!(other.keys()[2], groups.keys()[2]);
    }

    /// Row groups end between curves: with a limit of 100 rows, curves of 60, 60, 150 and 30
    /// rows give row groups [60], [60], [150], [30]... each read back whole, one at a time.
    #[test]
    fn a_row_group_never_splits_a_curve() {
        let d = tempfile::tempdir().unwrap();
        let prov = Provenance::new("test", serde_json::json!({}));
        let curves = vec![
            curve("a", 60),
            curve("b", 60),
            curve("c", 150),
            curve("d", 30),
            curve("e", 30),
        ];
        let path = d.path().join("t.parquet");
        let mut w = SegmentWriter::<RelaxationRaw>::create(&path, &prov).unwrap();
        w.append(encode_segment_rows(&curves, &prov, 100).unwrap())
            .unwrap();
        w.finish().unwrap();
        let groups = RowGroups::<RelaxationRaw>::open(&path).unwrap();
        let sizes: Vec<Vec<String>> = (0..groups.keys().len())
            .map(|i| {
                groups
                    .read(i)
                    .unwrap()
                    .into_iter()
                    .map(|c| c.test_id)
                    .collect()
            })
            .collect();
        assert_eq!(sizes, [vec!["a"], vec!["b"], vec!["c"], vec!["d", "e"]]);
        assert_eq!(read_curves::<RelaxationRaw>(&path).unwrap().0, curves);
        // The limit of every table: a segment under it is one row group, as before.
        let whole = encode_segment(&curves, &prov).unwrap();
        assert_eq!(metadata(&Bytes::from(whole)).unwrap().num_row_groups(), 1);
    }

    #[test]
    fn a_table_folder_s_row_groups_are_keyed_by_their_part_s_hash_when_known() {
        let d = tempfile::tempdir().unwrap();
        let prov = Provenance::new("test", serde_json::json!({}));
        let write = |folder: &Path, name: &str, curves: &[RelaxationRaw]| {
            std::fs::create_dir_all(folder).unwrap();
            let mut w = SegmentWriter::<RelaxationRaw>::create(&folder.join(name), &prov).unwrap();
            w.append(encode_segment(curves, &prov).unwrap()).unwrap();
            w.finish().unwrap();
        };
        let folder = d.path().join("t");
        write(
            &folder,
            "part-000000.parquet",
            &[curve("a", 40), curve("b", 50)],
        );
        write(&folder, "part-000001.parquet", &[curve("c", 60)]);
        // Counts the parts whose hash was asked for; hashes them from their bytes.
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let by_bytes = |p: &Path| {
            asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::fs::read(p).ok().map(|b| blake3::hash(&b))
        };
        let known = RowGroups::<RelaxationRaw>::open_with(&folder, &by_bytes).unwrap();
        assert_eq!(asked.load(std::sync::atomic::Ordering::Relaxed), 2);
        let unknown = RowGroups::<RelaxationRaw>::open_with(&folder, &|_: &Path| None).unwrap();
        assert_eq!(
            unknown.keys(),
            RowGroups::<RelaxationRaw>::open(&folder).unwrap().keys()
        );
        assert_ne!(known.keys(), unknown.keys(), "keyed by the parts' hashes");
        assert_eq!(known.read(1).unwrap(), vec![curve("c", 60)]);
        // The same first part and a changed second one: only the second's key changes.
        let other = d.path().join("t2");
        write(
            &other,
            "part-000000.parquet",
            &[curve("a", 40), curve("b", 50)],
        );
        let mut changed = curve("c", 60);
        changed.time_s[5] += 1e-9;
        write(&other, "part-000001.parquet", &[changed]);
        let again = RowGroups::<RelaxationRaw>::open_with(&other, &by_bytes).unwrap();
        assert_eq!(again.keys()[0], known.keys()[0]);
        assert_ne!(again.keys()[1], known.keys()[1]);
        // A table in one file is keyed by its row groups' bytes whatever the function says.
        let one = d.path().join("one.parquet");
        let mut w = SegmentWriter::<RelaxationRaw>::create(&one, &prov).unwrap();
        w.append(encode_segment(&[curve("a", 40)], &prov).unwrap())
            .unwrap();
        w.finish().unwrap();
        assert_eq!(
            RowGroups::<RelaxationRaw>::open_with(&one, &by_bytes)
                .unwrap()
                .keys(),
            RowGroups::<RelaxationRaw>::open(&one).unwrap().keys()
        );
    }

    #[test]
    fn row_groups_read_from_many_threads_at_once_are_the_curves_written() {
        use rayon::prelude::*;
        let d = tempfile::tempdir().unwrap();
        let prov = Provenance::new("test", serde_json::json!({}));
        let path = d.path().join("many.parquet");
        let mut w = SegmentWriter::<RelaxationRaw>::create(&path, &prov).unwrap();
        let parts: Vec<Vec<RelaxationRaw>> = (0..64)
            .map(|g| {
                (0..3)
                    .map(|i| curve(&format!("g{g:02}_{i}"), 200 + 7 * g + i))
                    .collect()
            })
            .collect();
        for part in &parts {
            w.append(encode_segment(part, &prov).unwrap()).unwrap();
        }
        w.finish().unwrap();
        let groups = RowGroups::<RelaxationRaw>::open(&path).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(8)
            .build()
            .unwrap();
        for _ in 0..4 {
            let back: Vec<Vec<RelaxationRaw>> = pool.install(|| {
                (0..parts.len())
                    .into_par_iter()
                    .map(|i| groups.read(i).unwrap())
                    .collect()
            });
            assert_eq!(back, parts);
        }
    }

    #[test]
    fn a_table_folder_reads_as_its_parts_in_order() {
        let d = tempfile::tempdir().unwrap();
        let prov = Provenance::new("test", serde_json::json!({}));
        let dir = d.path().join("t");
        std::fs::create_dir(&dir).unwrap();
        let curves: Vec<RelaxationRaw> = (0..5).map(|i| curve(&format!("c{i}"), 40 + i)).collect();
        let part = |i: usize, cs: &[RelaxationRaw]| {
            let mut w =
                SegmentWriter::<RelaxationRaw>::create(&dir.join(crate::part_name(i)), &prov)
                    .unwrap();
            w.append(encode_segment(cs, &prov).unwrap()).unwrap();
            w.finish().unwrap();
        };
        part(0, &curves[..2]);
        part(1, &curves[2..]);
        std::fs::write(dir.join(".agingflow-output"), "x").unwrap();
        assert_eq!(read_curves::<RelaxationRaw>(&dir).unwrap().0, curves);
        let groups = RowGroups::<RelaxationRaw>::open(&dir).unwrap();
        assert_eq!(groups.keys().len(), 2);
        assert_eq!(groups.read(1).unwrap(), curves[2..].to_vec());
        let any = crate::read_any(&dir).unwrap();
        let rows: usize = any.batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, curves.iter().map(|c| c.time_s.len()).sum::<usize>());
        // Parts out of key order are refused, naming the part.
        part(2, &curves[..1]);
        let err = read_curves::<RelaxationRaw>(&dir).unwrap_err().to_string();
        assert!(err.contains("part-000002.parquet"), "{err}");
        // A folder with no part is an error, not an empty table.
        let empty = d.path().join("e");
        std::fs::create_dir(&empty).unwrap();
        assert!(read_curves::<RelaxationRaw>(&empty).is_err());
    }
}
