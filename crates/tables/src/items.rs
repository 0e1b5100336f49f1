//! The per-item cache of a stage (issue 18): the output rows of one curve, stored under a hash
//! of everything they were computed from, so that a rerun over a grown campaign recomputes only
//! the curves that are new or changed. The runner names the folder in `AGINGFLOW_ITEM_CACHE`
//! (`<outdir>/.agingflow/cache/items/<stage>/<binary hash>`: another binary starts afresh); a
//! stage run by hand has none and computes everything.
//!
//! An entry is `<key[..2]>/<key>`: the BLAKE3 of the payload (32 bytes) then the payload, Arrow
//! IPC streams of the rows. It is written under a temporary name and renamed into place (not
//! synced: a crash may lose an entry, never make a wrong one usable), and its hash is checked
//! before use; an entry that does not check out is recomputed and replaced.
//! Decoding is lossless, so cached rows give the same output bytes as computed ones.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use crate::{CurveTable, RowTable, TableError};

/// The environment variable naming the item cache folder.
pub const ENV: &str = "AGINGFLOW_ITEM_CACHE";

/// A stage's item cache, or none.
#[derive(Debug, Clone, Default)]
pub struct ItemCache {
    dir: Option<PathBuf>,
}

/// Builds the key of one item from its inputs: rows, curves and option text, in a fixed order.
pub struct KeyBuilder(blake3::Hasher);

impl KeyBuilder {
    pub fn new(what: &str) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(what.as_bytes());
        h.update(&[0]);
        KeyBuilder(h)
    }

    /// Adds a text (options, a version), length-prefixed.
    pub fn text(self, t: &str) -> Self {
        self.part(t.as_bytes())
    }

    /// Adds rows (their Arrow encoding; an empty slice is a part of its own).
    pub fn rows<T: RowTable>(self, rows: &[T]) -> Result<Self, TableError> {
        Ok(self.part(&ipc(&[T::to_batch(rows)?])?))
    }

    /// Adds one curve (its Arrow encoding).
    pub fn curve<T: CurveTable>(self, curve: &T) -> Result<Self, TableError> {
        Ok(self.part(&ipc(&[curve.to_batch()?])?))
    }

    /// Adds bytes, length-prefixed.
    fn part(mut self, bytes: &[u8]) -> Self {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    pub fn finish(self) -> String {
        self.0.finalize().to_hex().to_string()
    }
}

fn ipc(batches: &[RecordBatch]) -> Result<Vec<u8>, TableError> {
    let mut out = Vec::new();
    let internal = |e: arrow_schema::ArrowError| TableError::Internal(e.to_string());
    let schema = batches
        .first()
        .map(|b| b.schema())
        .ok_or_else(|| TableError::Internal("no batch to encode".into()))?;
    let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut out, &schema).map_err(internal)?;
    for b in batches {
        w.write(b).map_err(internal)?;
    }
    w.finish().map_err(internal)?;
    drop(w);
    Ok(out)
}

fn batches(bytes: &[u8]) -> Option<Vec<RecordBatch>> {
    let r = arrow_ipc::reader::StreamReader::try_new(Cursor::new(bytes), None).ok()?;
    r.collect::<Result<Vec<_>, _>>().ok()
}

/// Splits a payload into its length-prefixed parts.
fn parts(mut payload: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !payload.is_empty() {
        let n = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?) as usize;
        out.push(payload.get(8..8 + n)?);
        payload = &payload[8 + n..];
    }
    Some(out)
}

impl ItemCache {
    /// The cache the runner named in [`ENV`] (none when unset or empty).
    pub fn from_env() -> Self {
        ItemCache {
            dir: std::env::var_os(ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }

    /// A cache in `dir` (tests).
    pub fn at(dir: &Path) -> Self {
        ItemCache {
            dir: Some(dir.to_owned()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.dir.is_some()
    }

    /// The key of a stage's work on one row group (`what`, its options, the row group's key from
    /// [`crate::segments::RowGroups::keys`]); `None` without a cache.
    pub fn row_group_key(&self, what: &str, options: &str, row_group: &str) -> Option<String> {
        self.enabled()
            .then(|| KeyBuilder::new(what).text(options).text(row_group).finish())
    }

    /// The cache folder, when there is one (a stage keeping larger entries of its own there).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(key.get(..2).unwrap_or("00")).join(key))
    }

    /// The parts stored for `key`, when present and intact.
    fn get_parts(&self, key: &str) -> Option<Vec<Vec<u8>>> {
        let bytes = std::fs::read(self.path(key)?).ok()?;
        let (sum, payload) = (bytes.get(..32)?, bytes.get(32..)?);
        if blake3::hash(payload).as_bytes() != sum {
            return None;
        }
        Some(parts(payload)?.into_iter().map(<[u8]>::to_vec).collect())
    }

    /// Stores encoded parts under `key` (a failure to store is not an error of the stage: it is
    /// logged and the item is computed again next time).
    fn put_parts(&self, key: &str, parts: Result<Vec<Vec<u8>>, TableError>) {
        match parts {
            Ok(parts) => {
                let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                self.put_bytes(key, &refs);
            }
            Err(e) => tracing::debug!("item cache {key}: {e}"),
        }
    }

    /// The byte parts stored for `key`, when present and intact (a stage's own encoding).
    pub fn get_bytes(&self, key: &str) -> Option<Vec<Vec<u8>>> {
        self.get_parts(key)
    }

    /// Stores byte parts under `key` (a failure to store is not an error of the stage: it is
    /// logged and the item is computed again next time).
    pub fn put_bytes(&self, key: &str, parts: &[&[u8]]) {
        let Some(path) = self.path(key) else { return };
        let len = 32 + parts.iter().map(|p| 8 + p.len()).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.extend([0u8; 32]);
        for bytes in parts {
            out.extend((bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        let sum = blake3::hash(&out[32..]);
        out[..32].copy_from_slice(sum.as_bytes());
        let written = (|| {
            if let Some(d) = path.parent()
                && !d.is_dir()
            {
                guard::create_dirs(d)?;
            }
            guard::write_cache_file(&path, &out)
        })();
        if let Err(e) = written {
            tracing::debug!("item cache {}: {e}", path.display());
        }
    }

    /// The rows and curves stored for `key`, when present and intact.
    pub fn get<R: RowTable, C: CurveTable>(&self, key: &str) -> Option<(Vec<R>, Vec<C>)> {
        let p = self.get_parts(key)?;
        let rows = decode_rows::<R>(p.first()?)?;
        let mut curves = Vec::new();
        for part in &p[1..] {
            curves.extend(curves_from_bytes::<C>(part)?);
        }
        Some((rows, curves))
    }

    /// Stores rows and curves under `key`.
    pub fn put<R: RowTable, C: CurveTable>(&self, key: &str, rows: &[R], curves: &[C]) {
        let parts = (|| {
            let mut parts = vec![ipc(&[R::to_batch(rows)?])?];
            for c in curves {
                parts.push(ipc(&[c.to_batch()?])?);
            }
            Ok(parts)
        })();
        self.put_parts(key, parts);
    }

    /// The one output row of a curve: from the cache when an entry for (what, options, curve)
    /// is there (counted in `reused`), else computed and stored. Without a cache, computed.
    pub fn row_of<R: RowTable, C: CurveTable>(
        &self,
        what: &str,
        options: &str,
        curve: &C,
        reused: &std::sync::atomic::AtomicUsize,
        compute: impl FnOnce() -> R,
    ) -> R {
        let key = self
            .enabled()
            .then(|| {
                KeyBuilder::new(what)
                    .text(options)
                    .curve(curve)
                    .map(KeyBuilder::finish)
                    .ok()
            })
            .flatten();
        let Some(k) = key else {
            return compute();
        };
        if let Some((mut rows, _)) = self.get::<R, C>(&k)
            && rows.len() == 1
        {
            reused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return rows.remove(0);
        }
        let row = compute();
        self.put::<R, C>(&k, std::slice::from_ref(&row), &[]);
        row
    }

    /// The rows and the bytes (a stage's own encoding, e.g. an encoded segment) stored for
    /// `key`, when present and intact.
    pub fn get_rows_bytes<R: RowTable>(&self, key: &str) -> Option<(Vec<R>, Vec<u8>)> {
        match self.get_parts(key)?.as_mut_slice() {
            [rows, bytes] => Some((decode_rows::<R>(rows)?, std::mem::take(bytes))),
            _ => None,
        }
    }

    /// Stores rows and bytes under `key`.
    pub fn put_rows_bytes<R: RowTable>(&self, key: &str, rows: &[R], bytes: &[u8]) {
        let parts = (|| Ok(vec![ipc(&[R::to_batch(rows)?])?, bytes.to_vec()]))();
        self.put_parts(key, parts);
    }

    /// The rows of two row tables stored for `key`, when present and intact.
    pub fn get_rows2<A: RowTable, B: RowTable>(&self, key: &str) -> Option<(Vec<A>, Vec<B>)> {
        match self.get_parts(key)?.as_slice() {
            [a, b] => Some((decode_rows::<A>(a)?, decode_rows::<B>(b)?)),
            _ => None,
        }
    }

    /// Stores the rows of two row tables under `key`.
    pub fn put_rows2<A: RowTable, B: RowTable>(&self, key: &str, a: &[A], b: &[B]) {
        let parts = (|| Ok(vec![ipc(&[A::to_batch(a)?])?, ipc(&[B::to_batch(b)?])?]))();
        self.put_parts(key, parts);
    }
}

/// Rows as the bytes of one part (Arrow IPC), for a stage composing its own entries.
pub fn rows_bytes<R: RowTable>(rows: &[R]) -> Result<Vec<u8>, TableError> {
    ipc(&[R::to_batch(rows)?])
}

/// Rows back from [`rows_bytes`]; `None` when they do not decode.
pub fn rows_from_bytes<R: RowTable>(part: &[u8]) -> Option<Vec<R>> {
    decode_rows(part)
}

/// One curve as the bytes of one part (Arrow IPC).
pub fn curve_bytes<C: CurveTable>(curve: &C) -> Result<Vec<u8>, TableError> {
    ipc(&[curve.to_batch()?])
}

/// The curves back from [`curve_bytes`]; `None` when they do not decode.
pub fn curves_from_bytes<C: CurveTable>(part: &[u8]) -> Option<Vec<C>> {
    let mut out = Vec::new();
    for b in batches(part)? {
        out.extend(C::from_batch(&b, Path::new("item cache")).ok()?);
    }
    Some(out)
}

fn decode_rows<R: RowTable>(part: &[u8]) -> Option<Vec<R>> {
    match batches(part)?.as_slice() {
        [b] => R::from_batch(b, Path::new("item cache")).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KwwFit, RelaxationClean};

    #[test]
    fn stored_rows_come_back_equal_and_a_damaged_entry_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let cache = ItemCache::at(d.path());
        let row = KwwFit {
            test_id: "t1".into(),
            material: "PVC".into(),
            beta: Some(0.512345678901),
            ..Default::default()
        };
        let curve = RelaxationClean {
            test_id: "t1".into(),
            material: "PVC".into(),
            time_s: vec![1.0, 2.0, 4.5],
            stress_mpa: vec![10.0, 9.0, 7.0],
            phi: vec![1.0, 0.9, 0.7],
            n_samples: vec![1, 1, 2],
            ..Default::default()
        };
        let key = KeyBuilder::new("test")
            .text("opts")
            .curve(&curve)
            .unwrap()
            .finish();
        assert_ne!(
            key,
            KeyBuilder::new("test")
                .text("opts2")
                .curve(&curve)
                .unwrap()
                .finish()
        );
        assert!(cache.get::<KwwFit, RelaxationClean>(&key).is_none());
        cache.put(
            &key,
            std::slice::from_ref(&row),
            std::slice::from_ref(&curve),
        );
        let (rows, curves) = cache.get::<KwwFit, RelaxationClean>(&key).unwrap();
        assert_eq!(rows, vec![row]);
        assert_eq!(curves, vec![curve]);
        let path = cache.path(&key).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(cache.get::<KwwFit, RelaxationClean>(&key).is_none());
        assert!(!ItemCache::default().enabled());
        cache.put_rows2(&key, std::slice::from_ref(&rows2()), &[] as &[KwwFit]);
        let (a, b) = cache.get_rows2::<KwwFit, KwwFit>(&key).unwrap();
        assert_eq!((a, b.len()), (vec![rows2()], 0));
    }

    fn rows2() -> KwwFit {
        KwwFit {
            test_id: "t2".into(),
            tau_s: Some(12.5),
            ..Default::default()
        }
    }
}
