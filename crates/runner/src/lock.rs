//! The lock file (`demo.yaml` -> `demo.lock`): per stage, the components of its key as they were
//! when it last succeeded. Sorted YAML with no absolute path and no time, so it can be committed.
//!
//! A stage that reported reading more than [`INLINE_READS`] files (an ingest of a campaign) has
//! its list of reads stored once, by content, in the run cache (`cache/reads/<blake3>`, lines
//! `path<TAB>hash`), and its entry names the list (`reads_list`) instead of holding it, as DVC
//! names a directory's listing by its `.dir` hash: the lock of a 12 000-file campaign is then a
//! few kB instead of 1.5 MB parsed, cloned and written again after every stage. A list missing
//! from the cache (a fresh clone) makes the stage stale, never wrongly up to date.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::pipeline::WithValue;

/// A path relative to the pipeline directory and the hash of what is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    pub path: String,
    pub blake3: String,
}

/// The recorded key of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageLock {
    /// The argv, outputs at their final paths.
    pub argv: Vec<String>,
    pub binary: Option<FileHash>,
    #[serde(default)]
    pub with: BTreeMap<String, WithValue>,
    #[serde(default)]
    pub inputs: BTreeMap<String, FileHash>,
    /// Files named by `deps`, path to hash.
    #[serde(default)]
    pub deps: BTreeMap<String, String>,
    /// Files the stage reported having read, path to hash (shared: a copy of the lock does not
    /// copy an ingest's 12 000 reads). Empty in the file when `reads_list` names them.
    #[serde(default)]
    pub reads: Reads,
    /// The BLAKE3 hash of the list of reads stored in the run cache, for more than
    /// [`INLINE_READS`] of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads_list: Option<String>,
    #[serde(default)]
    pub outputs: BTreeMap<String, FileHash>,
}

/// A stage's reads, path to hash.
pub type Reads = Arc<BTreeMap<String, String>>;

/// Up to this many reads are written in the lock file itself.
pub const INLINE_READS: usize = 100;

/// `path<TAB>hash` lines, in the pairs' order: a stored list of reads, and the run cache's tree
/// listings.
pub fn tab_lines<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let mut text = String::new();
    for (p, h) in pairs {
        text.push_str(p);
        text.push('\t');
        text.push_str(h);
        text.push('\n');
    }
    text
}

/// The text of a list of reads as stored: `path<TAB>hash` lines in path order.
pub fn reads_text(reads: &BTreeMap<String, String>) -> String {
    tab_lines(reads)
}

/// The list of reads stored as `hash` in `dir`, verified by its hash; None when it is missing,
/// damaged or not a list.
pub fn load_reads(dir: &Path, hash: &str) -> Option<BTreeMap<String, String>> {
    // A lock file names a list by its hash, nothing else (never a path out of `dir`).
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes = std::fs::read(dir.join(hash)).ok()?;
    if blake3::hash(&bytes).to_hex().as_str() != hash {
        return None;
    }
    let text = String::from_utf8(bytes).ok()?;
    text.lines()
        .map(|l| {
            l.split_once('\t')
                .map(|(p, h)| (p.to_owned(), h.to_owned()))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub version: u32,
    pub stages: BTreeMap<String, StageLock>,
}

const HEADER: &str = "# agingflow lock file: the key of every stage as of its last successful run.\n# Written by `agingflow run`; commit it beside the pipeline file.\n";

impl LockFile {
    /// Reads a lock file; a missing one is empty, an unreadable one is empty with a warning (every
    /// stage then reruns, which is safe).
    pub fn read(path: &Path) -> LockFile {
        Self::parse(path, std::fs::read_to_string(path))
    }

    fn parse(path: &Path, text: std::io::Result<String>) -> LockFile {
        match text {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => LockFile {
                version: 1,
                ..Default::default()
            },
            Err(e) => {
                tracing::warn!(
                    "cannot read {}: {e}; every stage counts as never run",
                    path.display()
                );
                LockFile {
                    version: 1,
                    ..Default::default()
                }
            }
            Ok(text) => match serde_yaml::from_str::<LockFile>(&text) {
                Ok(l) if l.version == 1 => l,
                Ok(l) => {
                    tracing::warn!(
                        "{}: lock file version {} unknown; every stage counts as never run",
                        path.display(),
                        l.version
                    );
                    LockFile {
                        version: 1,
                        ..Default::default()
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        "{}: invalid lock file ({e}); every stage counts as never run",
                        path.display()
                    );
                    LockFile {
                        version: 1,
                        ..Default::default()
                    }
                }
            },
        }
    }

    /// The lock file at `path` for a reader that must not guess (`diff`): an error naming the
    /// file when it is missing, unreadable, invalid or of an unknown version.
    pub fn read_checked(path: &Path) -> Result<LockFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "{}: cannot read the lock file ({e}); run the pipeline first",
                path.display()
            )
        })?;
        Self::from_text(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A lock file's text parsed; an error for invalid YAML or an unknown version.
    pub fn from_text(text: &str) -> Result<LockFile, String> {
        match serde_yaml::from_str::<LockFile>(text) {
            Ok(l) if l.version == 1 => Ok(l),
            Ok(l) => Err(format!("lock file version {} unknown", l.version)),
            Err(e) => Err(format!("invalid lock file: {e}")),
        }
    }

    /// [`LockFile::read`] with each stored list of reads taken from `reads_dir` (left empty,
    /// `reads_list` still naming it, where the list is not there).
    pub fn read_with_lists(path: &Path, reads_dir: &Path) -> LockFile {
        let mut lock = Self::read(path);
        lock.load_lists(reads_dir);
        lock
    }

    fn load_lists(&mut self, reads_dir: &Path) {
        for (name, stage) in self.stages.iter_mut() {
            if let Some(h) = &stage.reads_list
                && stage.reads.is_empty()
            {
                match load_reads(reads_dir, h) {
                    Some(r) => stage.reads = Arc::new(r),
                    None => tracing::debug!(
                        "{name}: its list of files read ({}) is not in the run cache",
                        &h[..h.len().min(12)]
                    ),
                }
            }
        }
    }

    /// Whether the stage's reads are named by a list that could not be loaded.
    pub fn reads_lost(stage: &StageLock) -> bool {
        stage.reads_list.is_some() && stage.reads.is_empty()
    }

    /// Writes the lock file atomically (through `guard`: a temporary file beside it, then a
    /// rename).
    pub fn write(&self, path: &Path) -> Result<(), guard::GuardError> {
        let text = serde_yaml::to_string(self)
            .map_err(|e| guard::write_error(path, std::io::Error::other(e)))?;
        guard::write_file(path, format!("{HEADER}{text}").as_bytes())
    }
}

/// The lock file as this process last read or wrote it, known by its identity (device, inode,
/// size, modification and status-change times: the runner replaces it by a rename, so any write
/// changes them), the YAML of each stage's entry as last emitted, and the lock's journal.
///
/// A run commits a stage's entry after every stage. Writing the whole file each time made a run
/// of 4 000 `foreach` items quadratic (and on a campaign whose ingest reads 12 000 files, a 1.5
/// MB lock, a parse cost 29 ms and a write 18 ms). So, once the lock holds more than
/// [`JOURNAL_ABOVE`] stages, a commit appends one line to the journal
/// (`<outdir>/.agingflow/<lock name>.journal`, JSON, under the runner's lock-file lock); every
/// reader (this process and any other runner) takes the lock file and then the journal's new
/// lines, and [`LockCache::fold`] writes the lock file with the journal applied and removes the
/// journal: at the end of a run, before a stage that reads the lock file, and by `gc`. A run
/// killed by SIGKILL leaves its journal, which the next reader takes as it is. A smaller lock is
/// written whole after each stage, as a user watching it expects.
#[derive(Default)]
pub struct LockCache {
    state: std::sync::Mutex<CacheState>,
    /// Where long lists of reads are stored (`None`: every list inline).
    reads_dir: Option<PathBuf>,
    /// The journal of committed entries (`None`: commits write the lock file).
    journal: Option<PathBuf>,
}

/// A lock of more stages than this takes committed entries in its journal (see [`LockCache`]);
/// a smaller one is written whole after every stage.
pub const JOURNAL_ABOVE: usize = 200;

/// What identifies one version of a file.
type Stamp = (u64, u64, u64, i64, i64, i64, i64);

fn stamp_of(m: &std::fs::Metadata) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    (
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    )
}

/// The journal as read so far: its identity, the bytes taken and the entries they hold.
#[derive(Default, Clone)]
struct Journal {
    id: Option<(u64, u64)>,
    taken: u64,
    entries: BTreeMap<String, StageLock>,
}

/// One journal line.
#[derive(Serialize, Deserialize)]
struct JournalLine {
    stage: String,
    entry: StageLock,
}

#[derive(Default)]
struct CacheState {
    parsed: Option<(Stamp, Arc<LockFile>)>,
    /// Lists of reads known to be stored, by their shared map: (the map, its hash).
    stored_lists: Vec<(Reads, String)>,
    emitted: std::collections::HashMap<String, (StageLock, String)>,
    journal: Journal,
}

impl LockCache {
    /// A cache storing lists of more than [`INLINE_READS`] reads in `reads_dir`.
    pub fn new(reads_dir: PathBuf) -> Self {
        LockCache {
            state: Default::default(),
            reads_dir: Some(reads_dir),
            journal: None,
        }
    }

    /// [`LockCache::new`] whose commits go to the journal at `journal`.
    pub fn with_journal(reads_dir: PathBuf, journal: PathBuf) -> Self {
        LockCache {
            journal: Some(journal),
            ..Self::new(reads_dir)
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file as it is now (the journal not applied): from the last parse when its identity is
    /// the same.
    fn file(&self, path: &Path) -> Arc<LockFile> {
        let stamp = std::fs::metadata(path).ok().map(|m| stamp_of(&m));
        if let (Some(st), Some((known, lock))) = (stamp, &self.state().parsed)
            && st == *known
        {
            return lock.clone();
        }
        let text = std::fs::read(path).and_then(|b| {
            String::from_utf8(b)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        });
        let mut lock = LockFile::parse(path, text);
        if let Some(dir) = &self.reads_dir {
            lock.load_lists(dir);
            for stage in lock.stages.values() {
                if let Some(h) = &stage.reads_list
                    && !stage.reads.is_empty()
                {
                    self.remember_list(&stage.reads, h);
                }
            }
        }
        let lock = Arc::new(lock);
        if let Some(st) = stamp {
            self.state().parsed = Some((st, lock.clone()));
        }
        lock
    }

    /// Takes the journal's new complete lines; its identity (None when there is none).
    fn sync_journal(&self) -> Option<(u64, u64)> {
        use std::io::{Read, Seek};
        use std::os::unix::fs::MetadataExt;
        let path = self.journal.as_ref()?;
        let Ok(mut f) = std::fs::File::open(path) else {
            self.state().journal = Journal::default();
            return None;
        };
        let meta = f.metadata().ok()?;
        let id = (meta.dev(), meta.ino());
        let mut state = self.state();
        if state.journal.id != Some(id) {
            state.journal = Journal {
                id: Some(id),
                ..Journal::default()
            };
        }
        if meta.len() <= state.journal.taken {
            return Some(id);
        }
        let mut bytes = Vec::new();
        if f.seek(std::io::SeekFrom::Start(state.journal.taken))
            .is_err()
            || f.read_to_end(&mut bytes).is_err()
        {
            return Some(id);
        }
        // Only complete lines: a line cut by a crash is never used.
        let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for line in bytes[..end].split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice::<JournalLine>(line) {
                Ok(mut l) => {
                    if let (Some(dir), Some(h)) = (&self.reads_dir, &l.entry.reads_list)
                        && l.entry.reads.is_empty()
                        && let Some(r) = load_reads(dir, h)
                    {
                        l.entry.reads = Arc::new(r);
                    }
                    state.journal.entries.insert(l.stage, l.entry);
                }
                Err(e) => tracing::warn!("{}: a damaged line left out: {e}", path.display()),
            }
        }
        state.journal.taken += end as u64;
        Some(id)
    }

    /// `f` of the lock file and the journal's entries, read consistently: the journal before and
    /// after the file, again when it was folded in between.
    fn consistent<T>(
        &self,
        path: &Path,
        f: impl Fn(&Arc<LockFile>, &BTreeMap<String, StageLock>) -> T,
    ) -> T {
        loop {
            let before = self.sync_journal();
            let file = self.file(path);
            let after = self.sync_journal();
            if before == after {
                return f(&file, &self.state().journal.entries);
            }
        }
    }

    fn view(&self, path: &Path) -> (Arc<LockFile>, BTreeMap<String, StageLock>) {
        self.consistent(path, |file, journal| (file.clone(), journal.clone()))
    }

    /// [`LockFile::read`] with the journal's entries applied.
    pub fn read(&self, path: &Path) -> Arc<LockFile> {
        let (file, journal) = self.view(path);
        if journal.is_empty() {
            return file;
        }
        let mut lock = (*file).clone();
        lock.version = 1;
        lock.stages.extend(journal);
        Arc::new(lock)
    }

    /// One stage's entry, from the journal or the file.
    pub fn entry(&self, path: &Path, stage: &str) -> Option<StageLock> {
        self.consistent(path, |file, journal| {
            journal
                .get(stage)
                .or_else(|| file.stages.get(stage))
                .cloned()
        })
    }

    /// Commits `entry` for `stage` (the caller holds the lock-file lock): the whole file written
    /// with it (keeping the stages `keep` names) while the lock has at most [`JOURNAL_ABOVE`]
    /// stages, as a line appended to the journal beyond.
    pub fn commit(
        &self,
        path: &Path,
        stage: &str,
        entry: StageLock,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(), guard::GuardError> {
        let journal = match &self.journal {
            Some(j) if self.file(path).stages.len() > JOURNAL_ABOVE => j,
            _ => return self.fold_with(path, Some((stage, entry)), keep),
        };
        let one = LockFile {
            version: 1,
            stages: [(stage.to_owned(), entry)].into(),
        };
        let stored = self.stored(&one)?;
        let mut entry = stored.stages.into_values().next().unwrap_or_default();
        if entry.reads_list.is_some() {
            entry.reads = Reads::default();
        }
        let mut line = serde_json::to_vec(&JournalLine {
            stage: stage.to_owned(),
            entry,
        })
        .map_err(|e| guard::write_error(journal, std::io::Error::other(e)))?;
        line.push(b'\n');
        if let Some(dir) = journal.parent() {
            guard::create_dirs(dir)?;
        }
        guard::append_file(journal, &line)
    }

    /// Writes the lock file with the journal applied, keeping only the stages `keep` names, and
    /// removes the journal (the caller holds the lock-file lock).
    pub fn fold(&self, path: &Path, keep: impl Fn(&str) -> bool) -> Result<(), guard::GuardError> {
        self.fold_with(path, None, keep)
    }

    fn fold_with(
        &self,
        path: &Path,
        extra: Option<(&str, StageLock)>,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(), guard::GuardError> {
        let (file, entries) = self.view(path);
        let journaled = self.state().journal.id.is_some();
        if !journaled && extra.is_none() {
            return Ok(());
        }
        let mut lock = (*file).clone();
        lock.version = 1;
        lock.stages.extend(entries);
        if let Some((stage, entry)) = extra {
            lock.stages.insert(stage.to_owned(), entry);
        }
        lock.stages.retain(|name, _| keep(name));
        if lock != *file || !path.exists() {
            self.write(&lock, path)?;
        }
        if let (true, Some(journal)) = (journaled, &self.journal) {
            guard::remove_scratch(journal)?;
            self.state().journal = Journal::default();
        }
        Ok(())
    }

    /// Notes that `reads` is stored as `hash` (the lists of this run's entries, a few stages, not
    /// of every run: at most 64 kept).
    fn remember_list(&self, reads: &Reads, hash: &str) {
        let mut state = self.state();
        if state.stored_lists.len() >= 64 {
            state.stored_lists.remove(0);
        }
        state.stored_lists.push((reads.clone(), hash.to_owned()));
    }

    /// The lock with each long list of reads stored in the reads folder and named by
    /// `reads_list` (short lists inline, `reads_list` none).
    fn stored(&self, lock: &LockFile) -> Result<LockFile, guard::GuardError> {
        let mut out = lock.clone();
        for stage in out.stages.values_mut() {
            match &self.reads_dir {
                Some(dir) if stage.reads.len() > INLINE_READS => {
                    let known = self
                        .state()
                        .stored_lists
                        .iter()
                        .find(|(r, _)| Arc::ptr_eq(r, &stage.reads))
                        .map(|(_, h)| h.clone());
                    let hash = match known {
                        Some(h) => h,
                        None => {
                            let text = reads_text(&stage.reads);
                            let hash = blake3::hash(text.as_bytes()).to_hex().to_string();
                            let target = dir.join(&hash);
                            if std::fs::read(&target).ok().as_deref() != Some(text.as_bytes()) {
                                guard::create_dirs(dir)?;
                                guard::write_file(&target, text.as_bytes())?;
                            }
                            let mut state = self.state();
                            // The lists of this run's entries (a few stages), not of every run.
                            if state.stored_lists.len() >= 64 {
                                state.stored_lists.remove(0);
                            }
                            state.stored_lists.push((stage.reads.clone(), hash.clone()));
                            hash
                        }
                    };
                    stage.reads_list = Some(hash);
                }
                // A list that could not be loaded stays named (the stage is stale until it runs).
                _ if LockFile::reads_lost(stage) => {}
                _ => stage.reads_list = None,
            }
        }
        Ok(out)
    }

    /// [`LockFile::write`] (long lists of reads stored apart first): each stage's entry emitted
    /// again only when it changed.
    pub fn write(&self, lock: &LockFile, path: &Path) -> Result<(), guard::GuardError> {
        let lock = self.stored(lock)?;
        let text = self.emit(&lock).map_err(|e| guard::write_error(path, e))?;
        guard::write_file(path, text.as_bytes())?;
        let parsed = std::fs::metadata(path)
            .ok()
            .map(|m| (stamp_of(&m), Arc::new(lock)));
        self.state().parsed = parsed;
        Ok(())
    }

    /// The lock file's text: serde_yaml's block style nests a map's entries two spaces in, so the
    /// entry of each stage, emitted alone as a one-key map and indented, is its part of the whole.
    fn emit(&self, lock: &LockFile) -> std::io::Result<String> {
        if lock.stages.is_empty() {
            return Ok(format!("{HEADER}{}", yaml(lock)?));
        }
        let mut text = format!("{HEADER}version: {}\nstages:\n", lock.version);
        let mut state = self.state();
        for (name, stage) in &lock.stages {
            match state.emitted.get(name) {
                Some((s, t)) if s == stage => text.push_str(t),
                _ => {
                    // A list stored apart is named, not written.
                    let bare;
                    let written = if stage.reads_list.is_some() && !stage.reads.is_empty() {
                        bare = StageLock {
                            reads: Reads::default(),
                            ..stage.clone()
                        };
                        &bare
                    } else {
                        stage
                    };
                    let one: BTreeMap<&String, &StageLock> = [(name, written)].into();
                    let mut t = String::new();
                    for line in yaml(&one)?.lines() {
                        if !line.is_empty() {
                            t.push_str("  ");
                        }
                        t.push_str(line);
                        t.push('\n');
                    }
                    text.push_str(&t);
                    state.emitted.insert(name.clone(), (stage.clone(), t));
                }
            }
        }
        Ok(text)
    }
}

fn yaml<T: Serialize>(v: &T) -> std::io::Result<String> {
    serde_yaml::to_string(v).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(seed: &str) -> StageLock {
        stage_reading(seed, 5)
    }

    fn stage_reading(seed: &str, n_reads: usize) -> StageLock {
        let fh = |p: &str| FileHash {
            path: p.into(),
            blake3: blake3::hash(p.as_bytes()).to_hex().to_string(),
        };
        StageLock {
            argv: vec![
                format!("agingflow-{seed}"),
                "--a b".into(),
                "line one\nline two\n".into(),
                "trailing\n\n".into(),
                String::new(),
                "quote ' and \" and : colon # hash".into(),
                "ünïcode – dash".into(),
                "- looks like a list".into(),
                "true".into(),
                "1e3".into(),
            ],
            binary: (seed != "b").then(|| fh("bin")),
            with: [
                ("flag".to_string(), WithValue::Bool(true)),
                ("text".to_string(), WithValue::Str("two\nlines".into())),
                (
                    "list".to_string(),
                    WithValue::List(vec!["x".into(), " y ".into()]),
                ),
            ]
            .into(),
            inputs: [("in".to_string(), fh("out/in.parquet"))].into(),
            deps: BTreeMap::new(),
            reads: Arc::new(
                (0..n_reads)
                    .map(|i| (format!("raw/{seed}/{i}.txt"), format!("{i:064}")))
                    .collect(),
            ),
            reads_list: None,
            outputs: [("out".to_string(), fh(&format!("out/{seed}.parquet")))].into(),
        }
    }

    #[test]
    fn the_cached_emitter_writes_what_serde_yaml_writes_for_the_whole_file() {
        let cache = LockCache::default();
        let whole = |l: &LockFile| format!("{HEADER}{}", serde_yaml::to_string(l).unwrap());
        let mut lock = LockFile {
            version: 1,
            stages: BTreeMap::new(),
        };
        assert_eq!(cache.emit(&lock).unwrap(), whole(&lock));
        for name in ["a", "b", "c-d"] {
            lock.stages.insert(name.into(), stage(name));
        }
        // Twice: the second time from the entries kept; then with one entry changed.
        assert_eq!(cache.emit(&lock).unwrap(), whole(&lock));
        assert_eq!(cache.emit(&lock).unwrap(), whole(&lock));
        lock.stages.get_mut("b").unwrap().argv.push("new\n".into());
        assert_eq!(cache.emit(&lock).unwrap(), whole(&lock));
        let back: LockFile = serde_yaml::from_str(&cache.emit(&lock).unwrap()).unwrap();
        assert_eq!(back, lock);
    }

    #[test]
    fn a_lock_written_by_another_process_is_read_afresh() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("p.lock");
        let cache = LockCache::default();
        assert!(cache.read(&path).stages.is_empty());
        let mut lock = LockFile {
            version: 1,
            stages: [("a".to_string(), stage("a"))].into(),
        };
        cache.write(&lock, &path).unwrap();
        assert_eq!(*cache.read(&path), lock);
        // Another writer: the same size and the same second, other bytes.
        lock.stages.get_mut("a").unwrap().argv[0] = "agingflow-z".into();
        lock.write(&path).unwrap();
        assert_eq!(*cache.read(&path), lock);
        assert_eq!(LockFile::read(&path), lock);
    }

    #[test]
    fn a_long_list_of_reads_is_stored_apart_and_named() {
        let d = tempfile::tempdir().unwrap();
        let (path, lists) = (d.path().join("p.lock"), d.path().join("cache/reads"));
        let cache = LockCache::new(lists.clone());
        let mut lock = LockFile {
            version: 1,
            stages: [
                ("ingest".to_string(), stage_reading("i", INLINE_READS + 1)),
                ("small".to_string(), stage_reading("s", INLINE_READS)),
            ]
            .into(),
        };
        cache.write(&lock, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // The long list by its hash, the short one inline.
        assert!(
            !text.contains("raw/i/0.txt") && text.contains("raw/s/0.txt"),
            "{text}"
        );
        let hash = blake3::hash(reads_text(&lock.stages["ingest"].reads).as_bytes())
            .to_hex()
            .to_string();
        assert!(text.contains(&format!("reads_list: {hash}")), "{text}");
        assert!(lists.join(&hash).is_file());
        // Read back by another process: the same reads; as a plain file: named, not loaded.
        let back = LockCache::new(lists.clone()).read(&path);
        assert_eq!(back.stages["ingest"].reads, lock.stages["ingest"].reads);
        assert_eq!(back.stages["small"].reads, lock.stages["small"].reads);
        let plain = LockFile::read(&path);
        assert!(LockFile::reads_lost(&plain.stages["ingest"]));
        assert!(!LockFile::reads_lost(&plain.stages["small"]));
        assert_eq!(LockFile::read_with_lists(&path, &lists), *back);
        // Written again unchanged: the same bytes; the list damaged: not used.
        lock.stages.get_mut("small").unwrap().argv.push("x".into());
        cache.write(&lock, &path).unwrap();
        let again = std::fs::read_to_string(&path).unwrap();
        assert!(again.contains(&format!("reads_list: {hash}")));
        assert!(
            load_reads(&lists, "../p.lock").is_none(),
            "only a hash names a list"
        );
        std::fs::write(lists.join(&hash), "raw/i/0.txt\tother\n").unwrap();
        let damaged = LockCache::new(lists.clone()).read(&path);
        assert!(LockFile::reads_lost(&damaged.stages["ingest"]));
        // Writing a lock whose list was lost keeps naming it (the stage stays stale).
        let other = LockCache::new(lists.clone());
        other.write(&damaged, &path).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains(&format!("reads_list: {hash}"))
        );
    }
}
