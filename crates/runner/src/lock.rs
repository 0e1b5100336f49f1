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
        match std::fs::read_to_string(path) {
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
