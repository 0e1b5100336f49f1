//! The key of a stage: the program it runs and that program's hash, its argv, the files its
//! `deps` globs match and their hashes, and the lock entry a run with these would record. What
//! the run cache is looked up by and what staleness is decided against; no process is started
//! and nothing is written here.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::hash;
use crate::lock::{FileHash, StageLock};
use crate::pipeline::builtin;
use crate::pipeline::{Action, Pipeline, PortRef, Stage, WithValue, expand, port_base};
use crate::process::stop_signal;

/// How the stages of one pipeline are keyed: the pipeline, where its paths are relative to, and
/// what is remembered between stages (program hashes, the paths `deps` never match).
pub struct Keys<'a> {
    pub p: &'a Pipeline,
    /// The pipeline directory, canonical (what recorded paths are relative to).
    pub root: PathBuf,
    exe_dir: Option<PathBuf>,
    binaries: Mutex<HashMap<PathBuf, String>>,
    /// What `deps` globs never match (state folder, lock file, every stage's output), resolved
    /// once.
    not_deps: std::sync::OnceLock<(PathBuf, PathBuf, Vec<PathBuf>)>,
}

/// The hashes of a stage's inputs and deps, taken before it starts (and again after it ends).
#[derive(Clone)]
pub struct Before {
    pub inputs: BTreeMap<String, FileHash>,
    pub deps: BTreeMap<String, String>,
}

impl<'a> Keys<'a> {
    pub fn new(p: &'a Pipeline) -> Self {
        let root = std::fs::canonicalize(&p.dir).unwrap_or_else(|_| p.dir.clone());
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf));
        Keys {
            p,
            root,
            exe_dir,
            binaries: Mutex::new(HashMap::new()),
            not_deps: std::sync::OnceLock::new(),
        }
    }

    pub fn abs(&self, rel: &str) -> PathBuf {
        self.p.dir.join(rel)
    }
    /// A path relative to the pipeline directory (with `..` where it lies outside).
    pub(crate) fn rel(&self, path: &Path) -> String {
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| self.p.dir.join(path));
        crate::pipeline::relative_to(&abs, &self.root)
    }

    /// The program of a stage: the name recorded in the key and the file to run and hash.
    pub fn program(&self, stage: &Stage) -> Result<(String, PathBuf)> {
        let name = match &stage.action {
            Action::Uses(b) => builtin::binary_name(b),
            Action::Run(argv) => argv.first().cloned().unwrap_or_default(),
        };
        if name.contains('/') {
            let path = self.p.dir.join(&name);
            return if path.is_file() {
                Ok((name, path))
            } else {
                Err(Error::ProgramNotFound {
                    name,
                    relative: true,
                })
            };
        }
        let beside = self.exe_dir.iter().map(|d| d.join(&name));
        let on_path = std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join(&name))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let search: Vec<PathBuf> = match stage.action {
            Action::Uses(_) => beside.chain(on_path).collect(),
            Action::Run(_) => on_path,
        };
        search
            .into_iter()
            .find(|p| p.is_file())
            .map(|p| (name.clone(), p))
            .ok_or(Error::ProgramNotFound {
                name,
                relative: false,
            })
    }

    pub fn binary_hash(&self, path: &Path) -> Option<String> {
        let mut memo = self.binaries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = memo.get(path) {
            return Some(h.clone());
        }
        let h = hash::file(path).ok()?;
        memo.insert(path.to_owned(), h.clone());
        Some(h)
    }

    /// The argv of a stage with outputs at `out(port)`.
    pub fn argv(&self, stage: &Stage, out: &dyn Fn(&str) -> String) -> Vec<String> {
        let input = |port: &str| {
            stage
                .inputs
                .get(port)
                .and_then(|r| self.p.output_path(r))
                .unwrap_or_default()
        };
        // Every file feeding a port: one, or the parts of a reduce (`PORT@ITEM`) in item order.
        let inputs_of = |port: &str| -> Vec<String> {
            stage
                .inputs
                .iter()
                .filter(|(k, _)| k.as_str() == port || port_base(k) == port)
                .filter_map(|(_, r)| self.p.output_path(r))
                .collect()
        };
        match &stage.action {
            Action::Uses(b) => {
                let mut argv = vec![builtin::binary_name(b)];
                for port in stage.inputs.keys() {
                    argv.push(format!("--{}", port_base(port)));
                    argv.push(input(port));
                }
                for port in stage.outputs.keys() {
                    argv.push(format!("--{port}"));
                    argv.push(out(port));
                }
                for (k, v) in &stage.with {
                    match v {
                        WithValue::Bool(true) => argv.push(format!("--{k}")),
                        WithValue::Bool(false) => {}
                        WithValue::Str(s) => argv.extend([format!("--{k}"), s.clone()]),
                        WithValue::List(l) => {
                            for s in l {
                                argv.extend([format!("--{k}"), s.clone()]);
                            }
                        }
                    }
                }
                argv
            }
            Action::Run(argv) => argv
                .iter()
                .flat_map(|a| {
                    // `${inputs.PORT}` alone in an argument gives one argument per file.
                    if let Some(name) = a
                        .strip_prefix("${inputs.")
                        .and_then(|r| r.strip_suffix('}'))
                        && !stage.inputs.contains_key(name)
                    {
                        return inputs_of(name);
                    }
                    vec![expand(a, |kind, name| match kind {
                        "inputs" if stage.inputs.contains_key(name) => Some(input(name)),
                        "inputs" => Some(inputs_of(name).join(" ")),
                        "outputs" => Some(out(name)),
                        "with" => stage.with.get(name).map(|v| match v {
                            WithValue::Bool(b) => b.to_string(),
                            WithValue::Str(s) => s.clone(),
                            WithValue::List(l) => l.join(","),
                        }),
                        _ => None,
                    })]
                })
                .collect(),
        }
    }

    /// The files a stage's `deps` globs match: each once (a symlink loop does not multiply a
    /// file), never agingflow's own state folder, the lock file or a stage's output.
    pub fn dep_files(&self, stage: &Stage) -> Result<Vec<PathBuf>> {
        if stage.deps.is_empty() {
            return Ok(Vec::new());
        }
        let (state, lock, outputs) = self.not_deps.get_or_init(|| {
            (
                guard::resolve(&self.p.outdir_abs().join(".agingflow")),
                guard::resolve(&self.p.lock_path()),
                self.p
                    .stages
                    .iter()
                    .flat_map(|s| s.outputs.values())
                    .map(|rel| guard::resolve(&self.abs(&self.p.in_outdir(rel))))
                    .collect(),
            )
        });
        let mut files = Vec::new();
        let mut seen = HashSet::new();
        for pattern in &stage.deps {
            let abs = self.p.dir.join(pattern);
            let matches =
                guard::walk::glob(&abs.to_string_lossy(), guard::walk::Hidden::Match, &|| {
                    stop_signal() != 0
                })
                .map_err(|e| Error::BadGlob {
                    pattern: pattern.clone(),
                    message: e.to_string(),
                })?;
            if stop_signal() != 0 {
                return Err(Error::Stopped);
            }
            let mut any = false;
            for m in matches {
                if !m.is_file() {
                    continue;
                }
                let real = guard::resolve(&m);
                if real.starts_with(state)
                    || real == *lock
                    || outputs.iter().any(|o| real.starts_with(o))
                {
                    continue;
                }
                any = true;
                if seen.insert(real) {
                    files.push(m);
                }
            }
            if !any {
                return Err(Error::DepsMatchNothing {
                    pattern: pattern.clone(),
                    stage: stage.name.clone(),
                });
            }
        }
        Ok(files)
    }

    pub fn deps(&self, stage: &Stage) -> Result<BTreeMap<String, String>> {
        let files = self.dep_files(stage)?;
        files
            .par_iter()
            .map(|f| {
                hash::file(f)
                    .map(|h| (self.rel(f), h))
                    .map_err(|e| Error::io(f, e))
            })
            .collect()
    }

    /// The item cache of a stage (per curve results its binary reuses across runs):
    /// `<outdir>/.agingflow/cache/items/<stage>/<binary hash>`, so another binary starts afresh.
    /// `cache` is the run cache's folder.
    pub fn item_cache_dir(&self, stage: &Stage, cache: &Path) -> Option<PathBuf> {
        let (_, program) = self.program(stage).ok()?;
        let h = self.binary_hash(&program)?;
        Some(
            cache
                .join("items")
                .join(&stage.name)
                .join(h.get(..16).unwrap_or(&h)),
        )
    }

    /// The key of a run of `stage` as it would start now (argv, binary, `with`, deps), its inputs
    /// hashed by `input_hash`: what the run cache is looked up by.
    pub fn key_entry(
        &self,
        stage: &Stage,
        input_hash: &dyn Fn(&PortRef) -> Option<String>,
    ) -> Result<StageLock> {
        let (name, program) = self.program(stage)?;
        let binary = self.binary_hash(&program).map(|h| FileHash {
            path: name,
            blake3: h,
        });
        let mut inputs = BTreeMap::new();
        for (port, r) in &stage.inputs {
            let path = self.p.output_path(r).unwrap_or_default();
            let h = input_hash(r).ok_or_else(|| Error::InputMissing {
                port: port.clone(),
                path: path.clone(),
            })?;
            inputs.insert(port.clone(), FileHash { path, blake3: h });
        }
        Ok(StageLock {
            argv: self.argv_final(stage),
            binary,
            with: stage.with.clone(),
            inputs,
            deps: self.deps(stage)?,
            reads: Default::default(),
            reads_list: None,
            outputs: BTreeMap::new(),
        })
    }

    /// The argv a stage's lock entry records (outputs at their final paths).
    pub fn argv_final(&self, stage: &Stage) -> Vec<String> {
        self.argv(stage, &|port| self.p.in_outdir(&stage.outputs[port]))
    }

    /// The hashes of a stage's inputs and deps now: every input must exist.
    pub fn hash_inputs(&self, stage: &Stage) -> Result<Before> {
        let mut inputs = BTreeMap::new();
        for (port, r) in &stage.inputs {
            let path = self.p.output_path(r).unwrap_or_default();
            let h =
                hash::path(&self.abs(&path))
                    .ok()
                    .flatten()
                    .ok_or_else(|| Error::InputMissing {
                        port: port.clone(),
                        path: path.clone(),
                    })?;
            inputs.insert(port.clone(), FileHash { path, blake3: h });
        }
        Ok(Before {
            inputs,
            deps: self.deps(stage)?,
        })
    }

    /// The lock entry of a run of `stage` from `before`, with its outputs and the files it read.
    pub fn record(
        &self,
        stage: &Stage,
        before: Before,
        outputs: BTreeMap<String, FileHash>,
        reads: BTreeMap<String, String>,
    ) -> Result<StageLock> {
        let (name, program) = self.program(stage)?;
        let binary = self.binary_hash(&program).map(|h| FileHash {
            path: name,
            blake3: h,
        });
        Ok(StageLock {
            argv: self.argv_final(stage),
            binary,
            with: stage.with.clone(),
            inputs: before.inputs,
            deps: before.deps,
            reads: std::sync::Arc::new(reads),
            reads_list: None,
            outputs,
        })
    }
}

pub(crate) fn named_values(stage: &Stage) -> Vec<&str> {
    let mut named: Vec<&str> = Vec::new();
    for v in stage.with.values() {
        match v {
            WithValue::Str(x) => named.push(x),
            WithValue::List(l) => named.extend(l.iter().map(String::as_str)),
            WithValue::Bool(_) => {}
        }
    }
    if let Action::Run(argv) = &stage.action {
        named.extend(
            argv.iter()
                .filter(|a| !a.contains("${"))
                .map(String::as_str),
        );
    }
    named
}
