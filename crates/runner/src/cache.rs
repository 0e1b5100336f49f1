//! The run cache (`<outdir>/.agingflow/cache/`): the outputs of every successful stage run, stored
//! by content and indexed by the run's key, so that a stage whose key was seen before is restored
//! instead of run; `agingflow gc` prunes it and `agingflow diff` reads old outputs from it.
//!
//! Layout: `objects/<h[..2]>/<h>` is a file whose BLAKE3 hash is `h`; `trees/<h>` lists a
//! directory output whose tree hash is `tree:h` (lines `path<TAB>file hash` or
//! `path<TAB>link:target`); `runs/<key>/<id>.json` is one run record (the files the stage reported
//! reading, with their hashes, and its outputs), where `key` hashes the stage's argv, binary,
//! `with` values, inputs and deps, and `id` the files it read; `reads/<h>` is a lock file's list
//! of a stage's reads (`path<TAB>hash` lines, see `lock`). Every write is a temporary name
//! renamed into place, and every object is verified against its hash before use: neither a killed
//! run, a concurrent one, nor a damaged file can restore wrong bytes.
//!
//! One module of about 900 lines, on purpose: storing, looking up and collecting share the file
//! naming by which `gc` recognises what is its own, and split apart that naming could drift.

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
    pub reads: crate::lock::Reads,
    pub outputs: BTreeMap<String, FileHash>,
}

/// The run cache below one output directory.
#[derive(Clone)]
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
    k.reads = Default::default();
    k.reads_list = None;
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
/// The file of a run-key folder that lists each record's probe: `name<TAB>path<TAB>hash...` per
/// line, the files whose hashes differed from the newest record before it (at most
/// [`PROBE_PATHS`]). A lookup hashes those first and skips a record they rule out without
/// parsing it: when a campaign grows by a file a day, the manifest rules out every older record.
const PROBES: &str = "probes";
const PROBE_PATHS: usize = 8;

/// The reads of `reads` that differ from the newest other record in `dir` (none when there is
/// none), and, when that record has no probe yet (the first of its folder), its own probe: its
/// reads that differ from `reads`. So the first record is ruled out unread too once the campaign
/// moves on (it was parsed and its 12 000 reads hashed on every lookup).
fn probe_of(
    dir: &Path,
    name: &str,
    reads: &BTreeMap<String, String>,
) -> Vec<(String, Vec<(String, String)>)> {
    let newest = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name();
            n.to_str()
                .is_some_and(|n| n != name && n.ends_with(".json"))
        })
        .filter_map(|e| Some((e.metadata().and_then(|m| m.modified()).ok()?, e.path())))
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(&a.1)));
    let Some((old_path, old)) = newest.and_then(|(_, p)| {
        let r = serde_json::from_slice::<RunRecord>(&std::fs::read(&p).ok()?).ok()?;
        Some((p, r))
    }) else {
        return Vec::new();
    };
    let differing = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
        a.iter()
            .filter(|(p, h)| b.get(*p) != Some(*h))
            .take(PROBE_PATHS)
            .map(|(p, h)| (p.clone(), h.clone()))
            .collect::<Vec<_>>()
    };
    let mut out = vec![(name.to_owned(), differing(reads, &old.reads))];
    if let Some(old_name) = old_path.file_name().and_then(|n| n.to_str())
        && !probes(dir).contains_key(old_name)
    {
        out.push((old_name.to_owned(), differing(&old.reads, reads)));
    }
    out
}

/// Notes records' probes in their folder's [`PROBES`] file (rewritten whole, atomically).
fn add_probes(dir: &Path, new: &[(String, Vec<(String, String)>)]) -> Result<(), String> {
    let new: Vec<&(String, Vec<(String, String)>)> = new
        .iter()
        .filter(|(_, probe)| {
            !probe.is_empty()
                && !probe
                    .iter()
                    .any(|(p, h)| p.contains(['\t', '\n']) || h.contains(['\t', '\n']))
        })
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let file = dir.join(PROBES);
    let old = std::fs::read_to_string(&file).unwrap_or_default();
    let mut text: String = old
        .lines()
        .filter(|l| {
            let first = l.split('\t').next();
            !new.iter().any(|(name, _)| first == Some(name.as_str()))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    for (name, probe) in new {
        text.push_str(name);
        for (p, h) in probe {
            text.push('\t');
            text.push_str(p);
            text.push('\t');
            text.push_str(h);
        }
        text.push('\n');
    }
    guard::write_file(&file, text.as_bytes()).map_err(|e| e.to_string())
}

/// The probes of a run-key folder by record name.
fn probes(dir: &Path) -> std::collections::HashMap<String, Vec<(String, String)>> {
    let text = std::fs::read_to_string(dir.join(PROBES)).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut w = l.split('\t');
            let name = w.next()?.to_owned();
            let rest: Vec<&str> = w.collect();
            rest.len().is_multiple_of(2).then(|| {
                let pairs = rest
                    .chunks(2)
                    .map(|c| (c[0].to_owned(), c[1].to_owned()))
                    .collect();
                (name, pairs)
            })
        })
        .collect()
}

/// How many sets of files read (the most recent) a lookup consults; an older set's run is
/// simply run again.
const LOOKUP_SETS: usize = 16;

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

    /// Where the lock file's long lists of reads are stored (see `lock`).
    pub fn reads_dir(&self) -> PathBuf {
        self.root.join("reads")
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
        if regular(&target).is_some() && hash::file(&target).is_ok_and(|h| h == file_hash) {
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
                let text = crate::lock::tab_lines(listing.iter().map(|(r, h)| (r, h)));
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
        let name = record_name(&entry.reads);
        let path = dir.join(&name);
        let probe = probe_of(&dir, &name, &entry.reads);
        let text =
            serde_json::to_vec_pretty(&record).map_err(|e| io_err("cannot encode", &path, e))?;
        guard::write_file(&path, &text).map_err(|e| e.to_string())?;
        // The probe is an optimisation: failing to note it only makes lookups read the record.
        if let Err(e) = add_probes(&dir, &probe) {
            tracing::debug!("run cache: {e}");
        }
        Ok(())
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
        // Records by set of paths read (the name's first half), newest first: a campaign that
        // grows by a file a day makes a set a day, and only the most recent
        // [`LOOKUP_SETS`] are consulted, so a lookup does not grow with the history.
        let mut records: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .map(|e| {
                let t = e.metadata().and_then(|m| m.modified());
                (t.unwrap_or(std::time::UNIX_EPOCH), e.path())
            })
            .collect();
        records.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let parse = |p: &Path| -> Option<RunRecord> {
            serde_json::from_slice(&std::fs::read(p).ok()?).ok()
        };
        // Each path is hashed once per lookup, whatever the number of sets naming it.
        let mut hashed: std::collections::HashMap<String, Option<String>> = Default::default();
        let hash_all = |hashed: &mut std::collections::HashMap<String, Option<String>>,
                        paths: Vec<&String>| {
            let todo: Vec<&String> = paths
                .into_iter()
                .filter(|p| !hashed.contains_key(*p))
                .collect();
            let done: Vec<(String, Option<String>)> = todo
                .par_iter()
                .map(|p| ((*p).clone(), hash_now(p)))
                .collect();
            hashed.extend(done);
        };
        let probes = probes(&dir);
        let mut sets_tried: BTreeSet<String> = BTreeSet::new();
        for (_, p) in records {
            // A record its probe rules out is skipped unread.
            if let Some(probe) = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| probes.get(n))
            {
                hash_all(&mut hashed, probe.iter().map(|(path, _)| path).collect());
                if probe
                    .iter()
                    .any(|(path, h)| hashed[path].as_deref() != Some(h.as_str()))
                {
                    continue;
                }
            }
            let set = p
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.split_once('-'))
                .map(|(set, _)| set.to_owned());
            let Some(set) = set else {
                // A record of an older name: its reads checked one by one.
                let Some(record) = parse(&p) else { continue };
                hash_all(&mut hashed, record.reads.keys().collect());
                if record
                    .reads
                    .iter()
                    .all(|(path, h)| hashed[path].as_deref() == Some(h.as_str()))
                    && let Some(hit) = self.verified(record)
                {
                    return Some(hit);
                }
                continue;
            };
            if sets_tried.contains(&set) {
                continue;
            }
            if sets_tried.len() >= LOOKUP_SETS {
                break;
            }
            sets_tried.insert(set);
            // The paths of this set, hashed now; the record that holds is the one so named.
            let Some(first) = parse(&p) else { continue };
            hash_all(&mut hashed, first.reads.keys().collect());
            let Some(now) = first
                .reads
                .keys()
                .map(|path| Some((path.clone(), hashed[path].clone()?)))
                .collect::<Option<BTreeMap<String, String>>>()
            else {
                continue;
            };
            let named = dir.join(record_name(&now));
            let record = if named == p {
                Some(first)
            } else {
                parse(&named)
            };
            if let Some(record) = record
                && *record.reads == now
                && let Some(hit) = self.verified(record)
            {
                return Some(hit);
            }
        }
        None
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
                regular(&obj)?;
                (hash::file_verified(&obj).ok()? == *h).then(|| (r.clone(), Source::Object(obj)))
            })
            .collect();
        checked
    }

    /// The bytes of one file output stored under `file_hash`, verified (for `diff`).
    pub fn object(&self, file_hash: &str) -> Option<PathBuf> {
        let obj = self.object_path(file_hash);
        regular(&obj)?;
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
    /// stage binaries), and the temporary files of killed runs; only files the cache can identify
    /// as its own by where they are and by their names (a hash, a record name, a temporary name):
    /// anything else (a user's file in a cache folder that is a symlink to theirs) is left and
    /// listed. Nothing is removed with `dry_run`.
    pub fn gc(&self, keep: &[StageLock], keep_items: &[PathBuf], dry_run: bool) -> io::Result<Gc> {
        let mut keep_runs: BTreeSet<PathBuf> = BTreeSet::new();
        let mut keep_files: BTreeSet<PathBuf> = BTreeSet::new();
        for entry in keep {
            let dir = self.runs_dir(&run_key(entry));
            let reads = match &entry.reads_list {
                Some(h) => {
                    keep_files.insert(self.reads_dir().join(h));
                    if entry.reads.is_empty() {
                        crate::lock::load_reads(&self.reads_dir(), h)
                            .map(std::sync::Arc::new)
                            .unwrap_or_default()
                    } else {
                        entry.reads.clone()
                    }
                }
                None => entry.reads.clone(),
            };
            keep_runs.insert(dir.join(record_name(&reads)));
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
        let mut out = Gc::default();
        for f in all {
            if !self.identifies(&f) {
                out.foreign.push(f);
                continue;
            }
            // The lock gc holds, and the hash memo (only ever an optimisation), stay.
            if f == self.root.join(LOCK_NAME) || f == self.root.join("hashes") {
                continue;
            }
            let in_runs = f.starts_with(self.root.join("runs"));
            let keep = if f.starts_with(self.root.join("items")) {
                keep_items.iter().any(|d| f.starts_with(d))
                    && !f
                        .file_name()
                        .is_some_and(|n| guard::is_scratch_name(&n.to_string_lossy()))
            } else if in_runs {
                // A folder's probes stay while a record of it does (stale lines are harmless).
                keep_runs.contains(&f)
                    || (f.file_name().is_some_and(|n| n == PROBES)
                        && keep_runs.iter().any(|r| r.parent() == f.parent()))
            } else {
                keep_files.contains(&f)
            };
            if keep {
                continue;
            }
            out.bytes += std::fs::symlink_metadata(&f).map(|m| m.len()).unwrap_or(0);
            if !dry_run {
                guard::remove_scratch(&f).map_err(io::Error::other)?;
            }
            out.removed.push(f);
        }
        if !dry_run {
            remove_empty_dirs(&self.root);
        }
        Ok(out)
    }

    /// Whether `f` (below the root) is a file of the cache's: by its place and its name.
    fn identifies(&self, f: &Path) -> bool {
        let Ok(rel) = f.strip_prefix(&self.root) else {
            return false;
        };
        let parts: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
        if parts.len() != rel.iter().count() {
            return false;
        }
        let name = parts.last().copied().unwrap_or_default();
        if guard::is_scratch_name(name) {
            return true;
        }
        match parts.as_slice() {
            ["hashes"] | [LOCK_NAME] => true,
            ["objects", head, h] => is_hash(h) && h.starts_with(head),
            ["trees", h] | ["reads", h] => is_hash(h),
            ["runs", key, n] => is_hash(key) && (*n == PROBES || is_record_name(n)),
            ["items", _stage, binary, .., last] => {
                binary.len() == 16
                    && binary.bytes().all(|b| b.is_ascii_hexdigit())
                    && has_hash(last)
            }
            _ => false,
        }
    }

    /// Holds the cache's lock shared (a run: several may) or exclusive (`gc`) until dropped;
    /// `waiting` is said once when another holder makes this one wait.
    pub fn hold(&self, exclusive: bool, waiting: &str) -> Result<std::fs::File, String> {
        guard::create_dirs(&self.root).map_err(|e| e.to_string())?;
        let path = self.root.join(LOCK_NAME);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_err("cannot open", &path, e))?;
        let tried = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match tried {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                eprintln!("{waiting}");
                if exclusive {
                    file.lock()
                } else {
                    file.lock_shared()
                }
                .map_err(|e| io_err("cannot lock", &path, e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err("cannot lock", &path, e)),
        }
        Ok(file)
    }
}

/// The file the cache's lock is held on (`run` shared, `gc` exclusive).
const LOCK_NAME: &str = "lock";

/// What `gc` removed (or would), and what it left because it is not the cache's.
#[derive(Debug, Default)]
pub struct Gc {
    pub removed: Vec<PathBuf>,
    pub bytes: u64,
    pub foreign: Vec<PathBuf>,
}

/// A BLAKE3 hash in hex, as the cache names its files.
fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether a name holds a 64-hex-digit hash (the item caches' `<key>`, `<table>-<key>.parquet`).
fn has_hash(s: &str) -> bool {
    s.as_bytes()
        .windows(64)
        .any(|w| w.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// `<16 hex>-<32 hex>.json`, what [`record_name`] makes.
fn is_record_name(s: &str) -> bool {
    let hex = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_hexdigit());
    s.strip_suffix(".json")
        .and_then(|t| t.split_once('-'))
        .is_some_and(|(a, b)| hex(a, 16) && hex(b, 32))
}

/// `Some` when `path` is a regular file itself (not a symlink to one): the cache uses no object
/// it did not make.
fn regular(path: &Path) -> Option<()> {
    std::fs::symlink_metadata(path)
        .ok()?
        .file_type()
        .is_file()
        .then_some(())
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
        let n = cache.gc(&[], &[], false).unwrap().removed.len();
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
        std::sync::Arc::make_mut(&mut e.reads).insert("raw/a.txt".into(), "h1".into());
        let rels = BTreeMap::from([("t".to_string(), "t".to_string())]);
        cache.store("s", &e, &staging, &rels).unwrap();
        let key = entry("x", &[]);
        assert!(cache.lookup(&key, &|_| Some("h1".into())).is_some());
        assert!(cache.lookup(&key, &|_| Some("h2".into())).is_none());
        assert!(cache.lookup(&key, &|_| None).is_none());
        // gc keeping this entry removes nothing.
        let n = cache.gc(&[e], &[], true).unwrap().removed.len();
        assert_eq!(n, 0);
    }

    /// A cache, a staging folder and the rels of its one output `t`.
    fn one_output_cache() -> (tempfile::TempDir, Cache, PathBuf, BTreeMap<String, String>) {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::new(&d.path().join("out"));
        let staging = d.path().join("staging");
        std::fs::create_dir_all(&staging).unwrap();
        let rels = BTreeMap::from([("t".to_string(), "t".to_string())]);
        (d, cache, staging, rels)
    }

    /// Writes the staged output `t` as a new file (objects are hard links of staged outputs)
    /// and returns its hash.
    fn stage_output(staging: &Path, text: &str) -> String {
        let _ = std::fs::remove_file(staging.join("t"));
        std::fs::write(staging.join("t"), text).unwrap();
        hash::file(&staging.join("t")).unwrap()
    }

    #[test]
    fn among_many_records_of_one_key_the_one_whose_reads_hold_is_found() {
        let (_d, cache, staging, rels) = one_output_cache();
        // Ten edits of one raw file (one set of paths), and a run that read another file too.
        let mut stored = Vec::new();
        for i in 0..10 {
            // A new file each time (the objects are hard links of the staged outputs).
            let th = stage_output(&staging, &format!("out {i}"));
            let mut e = entry("x", &[("t", "out/t", &th)]);
            std::sync::Arc::make_mut(&mut e.reads).insert("raw/a.txt".into(), format!("a{i}"));
            std::sync::Arc::make_mut(&mut e.reads).insert("raw/b.txt".into(), "b".into());
            cache.store("s", &e, &staging, &rels).unwrap();
            stored.push(e);
        }
        std::fs::remove_file(staging.join("t")).unwrap();
        std::fs::write(staging.join("t"), b"with c").unwrap();
        let th = hash::file(&staging.join("t")).unwrap();
        let mut other = entry("x", &[("t", "out/t", &th)]);
        std::sync::Arc::make_mut(&mut other.reads).insert("raw/c.txt".into(), "c".into());
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

    /// A campaign grown by a file at a time (a new manifest and one more raw file per run: a new
    /// set of reads each time, with a probe naming the two): the state of any earlier run is
    /// found again, also beyond the sets a lookup reads in full, and a state never stored is not.
    #[test]
    fn a_campaign_grown_a_file_at_a_time_finds_any_earlier_state() {
        let (_d, cache, staging, rels) = one_output_cache();
        let runs = LOOKUP_SETS + 8;
        let mut stored = Vec::new();
        for i in 0..runs {
            let th = stage_output(&staging, &format!("out {i}"));
            let mut e = entry("x", &[("t", "out/t", &th)]);
            std::sync::Arc::make_mut(&mut e.reads).insert("campaign.yaml".into(), format!("m{i}"));
            for f in 0..=i {
                std::sync::Arc::make_mut(&mut e.reads)
                    .insert(format!("raw/{f:03}.txt"), format!("f{f}"));
            }
            cache.store("s", &e, &staging, &rels).unwrap();
            stored.push(e);
        }
        let dir = cache.runs_dir(&run_key(&entry("x", &[])));
        let noted = probes(&dir);
        assert_eq!(
            noted.len(),
            runs,
            "every record has a probe (the first one's against the second)"
        );

        let key = entry("x", &[]);
        // The files of state i: manifest m_i and raw files 0..=i (later files exist too).
        let state = |i: usize| {
            move |p: &str| match p {
                "campaign.yaml" => Some(format!("m{i}")),
                _ => p
                    .strip_prefix("raw/")
                    .and_then(|n| n.strip_suffix(".txt"))
                    .and_then(|n| n.parse::<usize>().ok())
                    .map(|f| format!("f{f}")),
            }
        };
        for i in [0, 1, 2, runs / 2, runs - 1] {
            let hit = cache.lookup(&key, &state(i)).expect("an earlier state");
            assert_eq!(hit.record.outputs, stored[i].outputs, "state {i}");
        }
        let unseen = |p: &str| {
            (p == "campaign.yaml")
                .then(|| "m-new".to_owned())
                .or_else(|| state(0)(p))
        };
        assert!(cache.lookup(&key, &unseen).is_none());
        // A probe that matches is not enough: every read must hold.
        let one_raw_changed = |p: &str| {
            if p == "raw/000.txt" {
                Some("changed".to_owned())
            } else {
                state(runs - 1)(p)
            }
        };
        assert!(cache.lookup(&key, &one_raw_changed).is_none());
        // gc keeping the last run keeps its folder's probes; keeping none removes them.
        cache.gc(&stored[runs - 1..], &[], false).unwrap();
        assert!(dir.join(PROBES).is_file());
        assert!(cache.lookup(&key, &state(runs - 1)).is_some());
        cache.gc(&[], &[], false).unwrap();
        assert!(!dir.exists());
    }
}
