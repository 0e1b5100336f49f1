//! The run cache (`<outdir>/.agingflow/cache/`): the outputs of every successful stage run, stored
//! by content and indexed by the run's key, so that a stage whose key was seen before is restored
//! instead of run; `agingflow gc` prunes it and `agingflow diff` reads old outputs from it.
//!
//! Layout: `objects/<h[..2]>/<h>` is a file whose BLAKE3 hash is `h`; `trees/<h>` lists a
//! directory output whose tree hash is `tree:h` (lines `path<TAB>file hash` or
//! `path<TAB>link:target`); `runs/<key>/<id>.json` is one run record (the files the stage reported
//! reading, with their hashes, and its outputs), where `key` hashes the stage's argv, binary,
//! `with` values, inputs and deps, and `id` the files it read. Every write is a temporary name
//! renamed into place, and every object is verified against its hash before use: neither a killed
//! run, a concurrent one, nor a damaged file can restore wrong bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::hash;
use crate::lock::{FileHash, StageLock};

/// One stored run: what it read and what it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// The stage's name when it was stored (informative: the key decides).
    pub stage: String,
    pub reads: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, FileHash>,
}

/// The run cache below one output directory.
pub struct Cache {
    root: PathBuf,
}

/// What a stored run needs to be restored: its record and where its bytes are.
pub struct Hit {
    pub record: RunRecord,
    /// Per output port: the files to place, relative path inside the output (empty for a file
    /// output) to the object holding the bytes, or to a symlink target.
    files: BTreeMap<String, Vec<(String, Source)>>,
}

#[derive(Debug, Clone)]
enum Source {
    Object(PathBuf),
    Link(String),
}

/// The key of a run: the hash of every part of a lock entry that is known before the stage runs
/// (argv, binary, `with`, inputs, deps), not of what it read or wrote.
pub fn run_key(entry: &StageLock) -> String {
    let mut k = entry.clone();
    k.reads.clear();
    k.outputs.clear();
    let bytes = serde_json::to_vec(&k).unwrap_or_default();
    blake3::hash(&bytes).to_hex().to_string()
}

fn reads_id(reads: &BTreeMap<String, String>) -> String {
    let bytes = serde_json::to_vec(reads).unwrap_or_default();
    blake3::hash(&bytes).to_hex()[..32].to_owned()
}

/// A run record's file name: `<paths>-<reads>.json`, the hash of the paths read, then of the
/// paths with their hashes. The records of one set of paths that can hold now are the one named
/// by the current hashes: a lookup parses one record a set of paths, not every record (an
/// ingest's record lists 12 000 reads, 1.5 MB of JSON, and every edit of a raw file adds one).
fn record_name(reads: &BTreeMap<String, String>) -> String {
    let mut h = blake3::Hasher::new();
    for p in reads.keys() {
        h.update(p.as_bytes());
        h.update(b"\n");
    }
    format!("{}-{}.json", &h.finalize().to_hex()[..16], reads_id(reads))
}

fn io_err(what: &str, path: &Path, e: impl std::fmt::Display) -> String {
    format!("run cache: {what} {}: {e}", path.display())
}

impl Cache {
    /// The cache of an output directory (`<outdir>/.agingflow/cache`); nothing is created yet.
    pub fn new(outdir: &Path) -> Cache {
        Cache {
            root: outdir.join(".agingflow").join("cache"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn object_path(&self, file_hash: &str) -> PathBuf {
        let head = file_hash.get(..2).unwrap_or("00");
        self.root.join("objects").join(head).join(file_hash)
    }

    fn tree_path(&self, tree_hash: &str) -> Option<PathBuf> {
        tree_hash
            .strip_prefix("tree:")
            .map(|h| self.root.join("trees").join(h))
    }

    fn runs_dir(&self, key: &str) -> PathBuf {
        self.root.join("runs").join(key)
    }

    /// Stores one file under its hash unless an object of that hash is there already.
    fn put_object(&self, src: &Path, file_hash: &str) -> Result<(), String> {
        let target = self.object_path(file_hash);
        // An object there already is kept when intact, replaced when damaged.
        if target.is_file() && hash::file(&target).is_ok_and(|h| h == file_hash) {
            return Ok(());
        }
        if let Some(dir) = target.parent() {
            guard::create_dirs(dir).map_err(|e| e.to_string())?;
        }
        guard::link_or_copy(src, &target).map_err(|e| e.to_string())
    }

    /// Stores the outputs of a run that just succeeded (in `staging`, at `rels` per port) and its
    /// record under the key of `entry`.
    pub fn store(
        &self,
        stage: &str,
        entry: &StageLock,
        staging: &Path,
        rels: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        for (port, out) in &entry.outputs {
            let Some(rel) = rels.get(port) else { continue };
            let src = staging.join(rel);
            if let Some(tree) = self.tree_path(&out.blake3) {
                let mut listing = Vec::new();
                hash::walk(&src, "", &mut listing).map_err(|e| io_err("cannot list", &src, e))?;
                listing.sort();
                let stored: Result<Vec<()>, String> = listing
                    .par_iter()
                    .filter(|(_, h)| !h.starts_with("link:"))
                    .map(|(r, h)| self.put_object(&src.join(r), h))
                    .collect();
                stored?;
                let mut text = String::new();
                for (r, h) in &listing {
                    text.push_str(r);
                    text.push('\t');
                    text.push_str(h);
                    text.push('\n');
                }
                if let Some(dir) = tree.parent() {
                    guard::create_dirs(dir).map_err(|e| e.to_string())?;
                }
                if std::fs::read(&tree).ok().as_deref() != Some(text.as_bytes()) {
                    guard::write_file(&tree, text.as_bytes()).map_err(|e| e.to_string())?;
                }
            } else {
                self.put_object(&src, &out.blake3)?;
            }
        }
        let record = RunRecord {
            stage: stage.to_owned(),
            reads: entry.reads.clone(),
            outputs: entry.outputs.clone(),
        };
        let dir = self.runs_dir(&run_key(entry));
        guard::create_dirs(&dir).map_err(|e| e.to_string())?;
        let path = dir.join(record_name(&entry.reads));
        let text =
            serde_json::to_vec_pretty(&record).map_err(|e| io_err("cannot encode", &path, e))?;
        guard::write_file(&path, &text).map_err(|e| e.to_string())
    }

    /// A stored run for `key_entry` whose reads all still hold (every file it read has the same
    /// hash now, `hash_now` giving the current hash of a path relative to the pipeline folder)
    /// and whose objects are all present and intact. Records are tried in name order, so the
    /// choice is deterministic.
    pub fn lookup(
        &self,
        key_entry: &StageLock,
        hash_now: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Option<Hit> {
        let dir = self.runs_dir(&run_key(key_entry));
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        let parse = |p: &Path| -> Option<RunRecord> {
            serde_json::from_slice(&std::fs::read(p).ok()?).ok()
        };
        let mut sets_tried: BTreeSet<String> = BTreeSet::new();
        names.into_iter().find_map(|p| {
            let set = p
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.split_once('-'))
                .map(|(set, _)| set.to_owned());
            let Some(set) = set else {
                // A record of an older name: its reads checked one by one.
                let record = parse(&p)?;
                let reads_hold = record
                    .reads
                    .par_iter()
                    .all(|(path, h)| hash_now(path).as_deref() == Some(h.as_str()));
                return if reads_hold {
                    self.verified(record)
                } else {
                    None
                };
            };
            if !sets_tried.insert(set) {
                return None;
            }
            // The paths of this set, hashed now; the record that holds is the one so named.
            let first = parse(&p)?;
            let now: BTreeMap<String, String> = first
                .reads
                .par_iter()
                .map(|(path, _)| hash_now(path).map(|h| (path.clone(), h)))
                .collect::<Option<_>>()?;
            let named = dir.join(record_name(&now));
            let record = if named == p { first } else { parse(&named)? };
            (record.reads == now)
                .then(|| self.verified(record))
                .flatten()
        })
    }

    /// The record with the place of every byte of its outputs, when all are present and intact.
    fn verified(&self, record: RunRecord) -> Option<Hit> {
        let mut files = BTreeMap::new();
        for (port, out) in &record.outputs {
            files.insert(port.clone(), self.sources(&out.blake3)?);
        }
        Some(Hit { record, files })
    }

    /// The files of one output (a file or a tree), verified.
    fn sources(&self, output_hash: &str) -> Option<Vec<(String, Source)>> {
        let list: Vec<(String, String)> = match self.tree_path(output_hash) {
            None => vec![(String::new(), output_hash.to_owned())],
            Some(tree) => {
                let text = std::fs::read_to_string(&tree).ok()?;
                let list: Vec<(String, String)> = text
                    .lines()
                    .filter_map(|l| l.split_once('\t'))
                    .map(|(r, h)| (r.to_owned(), h.to_owned()))
                    .collect();
                // The listing itself must hash to the tree's name.
                if hash::tree(&list) != output_hash {
                    return None;
                }
                list
            }
        };
        let checked: Option<Vec<(String, Source)>> = list
            .par_iter()
            .map(|(r, h)| {
                if let Some(target) = h.strip_prefix("link:") {
                    return Some((r.clone(), Source::Link(target.to_owned())));
                }
                let obj = self.object_path(h);
                (hash::file_verified(&obj).ok()? == *h).then(|| (r.clone(), Source::Object(obj)))
            })
            .collect();
        checked
    }

    /// The bytes of one file output stored under `file_hash`, verified (for `diff`).
    pub fn object(&self, file_hash: &str) -> Option<PathBuf> {
        let obj = self.object_path(file_hash);
        (hash::file_verified(&obj).ok()? == file_hash).then_some(obj)
    }

    /// The files of a directory output (relative path to object), verified (for `diff`).
    pub fn tree(&self, tree_hash: &str) -> Option<BTreeMap<String, PathBuf>> {
        let list = self.sources(tree_hash)?;
        Some(
            list.into_iter()
                .filter_map(|(r, s)| match s {
                    Source::Object(p) => Some((r, p)),
                    Source::Link(_) => None,
                })
                .collect(),
        )
    }

    /// Places a hit's outputs in `staging` (at `rels` per port) and checks each against its hash.
    pub fn materialize(
        &self,
        hit: &Hit,
        staging: &Path,
        rels: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        for (port, list) in &hit.files {
            let rel = rels
                .get(port)
                .ok_or_else(|| format!("run cache: no output `{port}` in this stage"))?;
            let base = staging.join(rel);
            for (r, src) in list {
                let target = if r.is_empty() {
                    base.clone()
                } else {
                    base.join(r)
                };
                if let Some(dir) = target.parent() {
                    guard::create_dirs(dir).map_err(|e| e.to_string())?;
                }
                match src {
                    Source::Object(obj) => {
                        guard::link_or_copy(obj, &target).map_err(|e| e.to_string())?
                    }
                    Source::Link(to) => std::os::unix::fs::symlink(to, &target)
                        .map_err(|e| io_err("cannot link", &target, e))?,
                }
            }
            if list.is_empty() {
                guard::create_dirs(&base).map_err(|e| e.to_string())?;
            }
            let want = &hit.record.outputs[port].blake3;
            let got = hash::path(&base).ok().flatten();
            if got.as_deref() != Some(want.as_str()) {
                return Err(format!(
                    "run cache: output `{port}` restored with hash {} instead of {want}",
                    got.unwrap_or_default()
                ));
            }
        }
        Ok(())
    }

    /// Removes every run record and object not in `keep` (run records by key and id, and the
    /// objects and trees they name), every item cache outside `keep_items` (those of the current
    /// stage binaries), and the temporary files of killed runs. Returns the number
    /// of files and bytes removed (or that would be, with `dry_run`).
    pub fn gc(
        &self,
        keep: &[StageLock],
        keep_items: &[PathBuf],
        dry_run: bool,
    ) -> io::Result<(usize, u64)> {
        let mut keep_runs: BTreeSet<PathBuf> = BTreeSet::new();
        let mut keep_files: BTreeSet<PathBuf> = BTreeSet::new();
        for entry in keep {
            let dir = self.runs_dir(&run_key(entry));
            keep_runs.insert(dir.join(record_name(&entry.reads)));
            for out in entry.outputs.values() {
                match self.tree_path(&out.blake3) {
                    None => {
                        keep_files.insert(self.object_path(&out.blake3));
                    }
                    Some(tree) => {
                        if let Ok(text) = std::fs::read_to_string(&tree) {
                            for (_, h) in text.lines().filter_map(|l| l.split_once('\t')) {
                                if !h.starts_with("link:") {
                                    keep_files.insert(self.object_path(h));
                                }
                            }
                        }
                        keep_files.insert(tree);
                    }
                }
            }
        }
        let mut all = Vec::new();
        if self.root.is_dir() {
            list_files(&self.root, &mut all)?;
        }
        let (mut n, mut bytes) = (0usize, 0u64);
        for f in all {
            let in_runs = f.starts_with(self.root.join("runs"));
            let keep = if f.starts_with(self.root.join("items")) {
                keep_items.iter().any(|d| f.starts_with(d))
                    && !f
                        .file_name()
                        .is_some_and(|n| guard::is_scratch_name(&n.to_string_lossy()))
            } else if in_runs {
                keep_runs.contains(&f)
            } else {
                keep_files.contains(&f)
            };
            if keep {
                continue;
            }
            n += 1;
            bytes += std::fs::symlink_metadata(&f).map(|m| m.len()).unwrap_or(0);
            if !dry_run {
                guard::remove_scratch(&f).map_err(io::Error::other)?;
            }
        }
        if !dry_run {
            remove_empty_dirs(&self.root);
        }
        Ok((n, bytes))
    }
}

/// Every file below `dir` (symlinks listed, not followed), absolute.
pub(crate) fn list_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            list_files(&entry.path(), out)?;
        } else {
            out.push(entry.path());
        }
    }
    Ok(())
}

fn remove_empty_dirs(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                remove_empty_dirs(&p);
                // Fails (harmlessly) unless empty.
                let _ = std::fs::remove_dir(&p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(argv: &str, outputs: &[(&str, &str, &str)]) -> StageLock {
        StageLock {
            argv: vec![argv.to_owned()],
            outputs: outputs
                .iter()
                .map(|(port, path, h)| {
                    (
                        port.to_string(),
                        FileHash {
                            path: path.to_string(),
                            blake3: h.to_string(),
                        },
                    )
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_stored_run_is_restored_and_a_damaged_object_is_never_used() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::new(&d.path().join("out"));
        let staging = d.path().join("staging");
        std::fs::create_dir_all(staging.join("rep/sub")).unwrap();
        std::fs::write(staging.join("t.parquet"), b"table bytes").unwrap();
        std::fs::write(staging.join("rep/sub/a.svg"), b"<svg/>").unwrap();
        std::fs::write(staging.join("rep/index.html"), b"<html/>").unwrap();
        let th = hash::path(&staging.join("t.parquet")).unwrap().unwrap();
        let rh = hash::path(&staging.join("rep")).unwrap().unwrap();
        let e = entry(
            "x",
            &[("table", "out/t.parquet", &th), ("report", "out/rep", &rh)],
        );
        let rels: BTreeMap<String, String> = [("table", "t.parquet"), ("report", "rep")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        cache.store("s", &e, &staging, &rels).unwrap();
        // Another key (argv differs) finds nothing.
        assert!(cache.lookup(&entry("y", &[]), &|_| None).is_none());
        let hit = cache
            .lookup(&entry("x", &[]), &|_| None)
            .expect("stored run");
        let back = d.path().join("back");
        cache.materialize(&hit, &back, &rels).unwrap();
        assert_eq!(
            std::fs::read(back.join("t.parquet")).unwrap(),
            b"table bytes"
        );
        assert_eq!(
            std::fs::read(back.join("rep/sub/a.svg")).unwrap(),
            b"<svg/>"
        );
        // A damaged object (the bytes changed in place) makes the run unusable.
        let obj = cache.object_path(&th);
        std::fs::remove_file(&obj).unwrap();
        std::fs::write(&obj, b"table bytez").unwrap();
        assert!(cache.lookup(&entry("x", &[]), &|_| None).is_none());
        // gc keeping nothing empties the cache.
        let (n, _) = cache.gc(&[], &[], false).unwrap();
        assert!(n >= 5, "{n}");
        let mut left = Vec::new();
        list_files(cache.root(), &mut left).unwrap();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_run_whose_reads_changed_is_not_restored() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::new(&d.path().join("out"));
        let staging = d.path().join("staging");
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("t"), b"1").unwrap();
        let th = hash::file(&staging.join("t")).unwrap();
        let mut e = entry("x", &[("t", "out/t", &th)]);
        e.reads.insert("raw/a.txt".into(), "h1".into());
        let rels = BTreeMap::from([("t".to_string(), "t".to_string())]);
        cache.store("s", &e, &staging, &rels).unwrap();
        let key = entry("x", &[]);
        assert!(cache.lookup(&key, &|_| Some("h1".into())).is_some());
        assert!(cache.lookup(&key, &|_| Some("h2".into())).is_none());
        assert!(cache.lookup(&key, &|_| None).is_none());
        // gc keeping this entry removes nothing.
        let (n, _) = cache.gc(&[e], &[], true).unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn among_many_records_of_one_key_the_one_whose_reads_hold_is_found() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::new(&d.path().join("out"));
        let staging = d.path().join("staging");
        std::fs::create_dir_all(&staging).unwrap();
        let rels = BTreeMap::from([("t".to_string(), "t".to_string())]);
        // Ten edits of one raw file (one set of paths), and a run that read another file too.
        let mut stored = Vec::new();
        for i in 0..10 {
            // A new file each time (the objects are hard links of the staged outputs).
            let _ = std::fs::remove_file(staging.join("t"));
            std::fs::write(staging.join("t"), format!("out {i}")).unwrap();
            let th = hash::file(&staging.join("t")).unwrap();
            let mut e = entry("x", &[("t", "out/t", &th)]);
            e.reads.insert("raw/a.txt".into(), format!("a{i}"));
            e.reads.insert("raw/b.txt".into(), "b".into());
            cache.store("s", &e, &staging, &rels).unwrap();
            stored.push(e);
        }
        std::fs::remove_file(staging.join("t")).unwrap();
        std::fs::write(staging.join("t"), b"with c").unwrap();
        let th = hash::file(&staging.join("t")).unwrap();
        let mut other = entry("x", &[("t", "out/t", &th)]);
        other.reads.insert("raw/c.txt".into(), "c".into());
        cache.store("s", &other, &staging, &rels).unwrap();
        let key = entry("x", &[]);
        for (i, e) in stored.iter().enumerate() {
            let hit = cache
                .lookup(&key, &|p| match p {
                    "raw/a.txt" => Some(format!("a{i}")),
                    "raw/b.txt" => Some("b".into()),
                    _ => None,
                })
                .expect("the record of edit i");
            assert_eq!(hit.record.outputs, e.outputs);
        }
        let hit = cache
            .lookup(&key, &|p| (p == "raw/c.txt").then(|| "c".into()))
            .expect("the record of the other set of reads");
        assert_eq!(hit.record.outputs, other.outputs);
        assert!(
            cache
                .lookup(&key, &|p| Some(format!("{p} changed")))
                .is_none()
        );
    }
}
