//! Staleness: why a stage must run, decided by comparing its key now (argv, program, `with`,
//! deps) and the hashes of its inputs, the files it read and its outputs with its lock entry.

use std::collections::HashSet;

use rayon::prelude::*;
use serde::Serialize;

use crate::hash;
use crate::key::Keys;
use crate::lock::{LockFile, StageLock};
use crate::pipeline::{Stage, WithValue};

/// Why a stage must run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    Forced,
    NeverRun,
    Argv {
        old: Vec<String>,
        new: Vec<String>,
    },
    Binary {
        path: String,
        old: Option<String>,
        new: Option<String>,
    },
    With {
        key: String,
        old: Option<WithValue>,
        new: Option<WithValue>,
    },
    InputMissing {
        port: String,
        path: String,
    },
    Input {
        port: String,
        path: String,
        old: Option<String>,
        new: Option<String>,
    },
    Dep {
        path: String,
        old: Option<String>,
        new: Option<String>,
    },
    Read {
        path: String,
        old: Option<String>,
        new: Option<String>,
    },
    /// The list of files the stage read last time is named in the lock file but is not in the
    /// run cache (a fresh clone, a pruned cache): what it read cannot be checked.
    ReadsLost {
        list: String,
    },
    OutputMissing {
        port: String,
        path: String,
    },
    Output {
        port: String,
        path: String,
        old: Option<String>,
        new: Option<String>,
    },
    /// An upstream stage will run first and may change this stage's inputs (plan only).
    Upstream {
        stage: String,
    },
    Error {
        message: String,
    },
}

fn short(h: &Option<String>) -> String {
    match h {
        None => "(none)".into(),
        Some(h) => h.trim_start_matches("tree:").chars().take(12).collect(),
    }
}

fn with_text(v: &Option<WithValue>) -> String {
    match v {
        None => "(unset)".into(),
        Some(WithValue::Bool(b)) => b.to_string(),
        Some(WithValue::Str(s)) => s.clone(),
        Some(WithValue::List(l)) => format!("[{}]", l.join(", ")),
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Forced => write!(f, "forced"),
            Reason::NeverRun => write!(f, "never ran (no entry in the lock file)"),
            Reason::Argv { old, new } => write!(
                f,
                "command changed: `{}` -> `{}`",
                old.join(" "),
                new.join(" ")
            ),
            Reason::Binary { path, old, new } => {
                write!(f, "binary {path} changed: {} -> {}", short(old), short(new))
            }
            Reason::With { key, old, new } => write!(
                f,
                "with `{key}` changed: {} -> {}",
                with_text(old),
                with_text(new)
            ),
            Reason::InputMissing { port, path } => write!(f, "input `{port}` ({path}) is missing"),
            Reason::Input {
                port,
                path,
                old,
                new,
            } => write!(
                f,
                "input `{port}` ({path}) changed: {} -> {}",
                short(old),
                short(new)
            ),
            Reason::Dep { path, old, new } => write!(
                f,
                "dependency {path} changed: {} -> {}",
                short(old),
                short(new)
            ),
            Reason::Read { path, old, new } => write!(
                f,
                "file read {path} changed: {} -> {}",
                short(old),
                short(new)
            ),
            Reason::ReadsLost { list } => write!(
                f,
                "its list of files read ({}) is not in the run cache",
                &list[..list.len().min(12)]
            ),
            Reason::OutputMissing { port, path } => {
                write!(f, "output `{port}` ({path}) is missing")
            }
            Reason::Output {
                port,
                path,
                old,
                new,
            } => write!(
                f,
                "output `{port}` ({path}) changed on disk: {} -> {}",
                short(old),
                short(new)
            ),
            Reason::Upstream { stage } => write!(f, "upstream stage `{stage}` will run"),
            Reason::Error { message } => write!(f, "{message}"),
        }
    }
}

/// The reasons a stage is stale against its lock entry (empty: up to date).
pub fn staleness(keys: &Keys, stage: &Stage, locked: Option<&StageLock>) -> Vec<Reason> {
    staleness_with(keys, stage, locked, true)
}

/// [`staleness`]; with `every_read` false, the files the stage read are checked a chunk
/// at a time and the rest are not once one has changed (`run` only needs to know that the
/// stage is stale: when a campaign's manifest changed, its 12 000 raw files are not hashed
/// before ingest starts; `plan` and `why` list every reason).
pub fn staleness_with(
    keys: &Keys,
    stage: &Stage,
    locked: Option<&StageLock>,
    every_read: bool,
) -> Vec<Reason> {
    let Some(old) = locked else {
        return vec![Reason::NeverRun];
    };
    let mut reasons = Vec::new();
    if let Some(list) = old
        .reads_list
        .as_ref()
        .filter(|_| LockFile::reads_lost(old))
    {
        reasons.push(Reason::ReadsLost { list: list.clone() });
    }
    let argv = keys.argv(stage, &|port| keys.p.in_outdir(&stage.outputs[port]));
    if argv != old.argv {
        reasons.push(Reason::Argv {
            old: old.argv.clone(),
            new: argv,
        });
    }
    match keys.program(stage) {
        Err(e) => reasons.push(Reason::Error {
            message: e.to_string(),
        }),
        Ok((name, path)) => {
            let new = keys.binary_hash(&path);
            let old_hash = old.binary.as_ref().map(|b| b.blake3.clone());
            if new != old_hash {
                reasons.push(Reason::Binary {
                    path: name,
                    old: old_hash,
                    new,
                });
            }
        }
    }
    let with_keys: HashSet<&String> = stage.with.keys().chain(old.with.keys()).collect();
    let mut with_keys: Vec<_> = with_keys.into_iter().collect();
    with_keys.sort();
    for k in with_keys {
        let (o, n) = (old.with.get(k), stage.with.get(k));
        if o != n {
            reasons.push(Reason::With {
                key: k.clone(),
                old: o.cloned(),
                new: n.cloned(),
            });
        }
    }
    // Inputs, reads and outputs are hashed in parallel.
    enum Job<'j> {
        Input(&'j str, String),
        Read(&'j str),
        Output(&'j str, String),
    }
    // Inputs, then outputs, then the first chunk of reads (put back in the order inputs,
    // reads, outputs below).
    let mut jobs = Vec::new();
    for (port, r) in &stage.inputs {
        jobs.push(Job::Input(port, keys.p.output_path(r).unwrap_or_default()));
    }
    for (port, rel) in &stage.outputs {
        jobs.push(Job::Output(port, keys.p.in_outdir(rel)));
    }
    let check = |job: &Job| -> Option<Reason> {
        match job {
            Job::Input(port, path) => {
                let new = hash::path(&keys.abs(path)).ok().flatten();
                let old_hash = old.inputs.get(*port).map(|f| f.blake3.clone());
                match new {
                    None => Some(Reason::InputMissing {
                        port: port.to_string(),
                        path: path.clone(),
                    }),
                    n if n != old_hash => Some(Reason::Input {
                        port: port.to_string(),
                        path: path.clone(),
                        old: old_hash,
                        new: n,
                    }),
                    _ => None,
                }
            }
            Job::Read(path) => {
                let new = hash::file(&keys.abs(path)).ok();
                let old_hash = old.reads.get(*path).cloned();
                (new != old_hash).then(|| Reason::Read {
                    path: path.to_string(),
                    old: old_hash,
                    new,
                })
            }
            Job::Output(port, path) => {
                let new = hash::path(&keys.abs(path)).ok().flatten();
                let old_hash = old.outputs.get(*port).map(|f| f.blake3.clone());
                match new {
                    None => Some(Reason::OutputMissing {
                        port: port.to_string(),
                        path: path.clone(),
                    }),
                    n if n != old_hash => Some(Reason::Output {
                        port: port.to_string(),
                        path: path.clone(),
                        old: old_hash,
                        new: n,
                    }),
                    _ => None,
                }
            }
        }
    };
    let reads: Vec<&String> = old.reads.keys().collect();
    let chunk = if every_read { reads.len().max(1) } else { 256 };
    let mut chunks = reads.chunks(chunk);
    // The reads a chunk at a time until one changed (all of them when `every_read`).
    jobs.extend(
        chunks
            .next()
            .unwrap_or_default()
            .iter()
            .map(|p| Job::Read(p)),
    );
    let mut found: Vec<Option<Reason>> = Vec::new();
    loop {
        found.extend(jobs.par_iter().map(check).collect::<Vec<_>>());
        let stale = found.iter().any(Option::is_some);
        match chunks.next() {
            Some(next) if every_read || !stale => {
                jobs = next.iter().map(|p| Job::Read(p)).collect();
            }
            _ => break,
        }
    }
    // In the order inputs, reads, outputs.
    let n_io = stage.inputs.len();
    let outputs: Vec<Option<Reason>> = found
        .splice(n_io..n_io + stage.outputs.len(), std::iter::empty())
        .collect();
    found.extend(outputs);
    match keys.deps(stage) {
        Err(e) => reasons.push(Reason::Error {
            message: e.to_string(),
        }),
        Ok(deps) => {
            let paths: HashSet<&String> = deps.keys().chain(old.deps.keys()).collect();
            let mut paths: Vec<_> = paths.into_iter().collect();
            paths.sort();
            for p in paths {
                let (o, n) = (old.deps.get(p), deps.get(p));
                if o != n {
                    reasons.push(Reason::Dep {
                        path: p.clone(),
                        old: o.cloned(),
                        new: n.cloned(),
                    });
                }
            }
        }
    }
    reasons.extend(found.into_iter().flatten());
    reasons
}
