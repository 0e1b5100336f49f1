//! The lock file (`demo.yaml` -> `demo.lock`): per stage, the components of its key as they were
//! when it last succeeded. Sorted YAML with no absolute path and no time, so it can be committed.

use std::collections::BTreeMap;
use std::path::Path;

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
    /// Files the stage reported having read, path to hash.
    #[serde(default)]
    pub reads: BTreeMap<String, String>,
    #[serde(default)]
    pub outputs: BTreeMap<String, FileHash>,
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

    /// Writes the lock file atomically (through `guard`: a temporary file beside it, then a
    /// rename).
    pub fn write(&self, path: &Path) -> Result<(), guard::GuardError> {
        let text = serde_yaml::to_string(self)
            .map_err(|e| guard::write_error(path, std::io::Error::other(e)))?;
        guard::write_file(path, format!("{HEADER}{text}").as_bytes())
    }
}

/// The lock file as this process last read or wrote it, known by the hash of its bytes, and the
/// YAML of each stage's entry as last emitted. A run reads the lock before and after every stage
/// and writes it after each: on a campaign whose ingest reads 12 000 files (a 1.5 MB lock) a read
/// cost 29 ms of YAML parsing and a write 18 ms of emitting, on the critical path of every
/// stage. Reading the bytes and hashing them (about 1 ms) stays, so a lock another runner wrote
/// is always seen.
#[derive(Default)]
pub struct LockCache {
    state: std::sync::Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    parsed: Option<(blake3::Hash, LockFile)>,
    emitted: std::collections::HashMap<String, (StageLock, String)>,
}

impl LockCache {
    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`LockFile::read`], from the last parse when the bytes are the same.
    pub fn read(&self, path: &Path) -> LockFile {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return LockFile::parse(path, Err(e)),
        };
        let hash = blake3::hash(&bytes);
        if let Some((h, lock)) = &self.state().parsed
            && *h == hash
        {
            return lock.clone();
        }
        let text = String::from_utf8(bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e));
        let lock = LockFile::parse(path, text);
        self.state().parsed = Some((hash, lock.clone()));
        lock
    }

    /// [`LockFile::write`]: the same bytes, each stage's entry emitted again only when it changed.
    pub fn write(&self, lock: &LockFile, path: &Path) -> Result<(), guard::GuardError> {
        let text = self.emit(lock).map_err(|e| guard::write_error(path, e))?;
        guard::write_file(path, text.as_bytes())?;
        self.state().parsed = Some((blake3::hash(text.as_bytes()), lock.clone()));
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
                    let one: BTreeMap<&String, &StageLock> = [(name, stage)].into();
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
            reads: (0..5)
                .map(|i| (format!("raw/{seed}/{i}.txt"), format!("{i:064}")))
                .collect(),
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
        assert_eq!(cache.read(&path), lock);
        // Another writer: the same size and the same second, other bytes.
        lock.stages.get_mut("a").unwrap().argv[0] = "agingflow-z".into();
        lock.write(&path).unwrap();
        assert_eq!(cache.read(&path), lock);
        assert_eq!(LockFile::read(&path), lock);
    }
}
