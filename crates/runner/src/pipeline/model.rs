//! The pipeline model: a validated pipeline, its stages and ports, and the path arithmetic every
//! layer shares (normalising, placeholders, paths relative to a folder). No process and no file
//! is touched here.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::builtin;
use super::resources::{Executor, Resources};
use super::yaml::Pos;
use crate::checks::Rule;

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline file as the user named it (for messages).
    pub file: PathBuf,
    /// The absolute directory of the pipeline file: stages run there and paths are relative to it.
    pub dir: PathBuf,
    pub name: String,
    /// The output directory relative to `dir`, normalised (`../build/demo`); never absolute.
    pub outdir: String,
    pub stages: Vec<Stage>,
    /// Stage name to its index in `stages`.
    pub index: HashMap<String, usize>,
    /// `executor:`: where stages run (`run --executor` overrides it).
    pub executor: Executor,
    /// Top-level `resources:`: what every stage asks a cluster for, unless it says otherwise.
    pub resources: Resources,
}

/// Options that change what a pipeline file may say.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// `--allow-outside`: `outdir` may lie outside the pipeline's folder and project.
    pub allow_outside: bool,
}

/// What a stage runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A built-in stage: binary `agingflow-<name>`.
    Uses(String),
    /// Any program, as an argv list (placeholders `${inputs.X}`, `${outputs.X}`, `${with.X}` still
    /// in it).
    Run(Vec<String>),
}

/// A `with` value after `${params.X}` expansion.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum WithValue {
    Bool(bool),
    Str(String),
    List(Vec<String>),
}

/// An input: the output `port` of stage `stage`.
#[derive(Debug, Clone, PartialEq)]
pub struct PortRef {
    pub stage: String,
    pub port: String,
}

/// A data-quality rule on one output table.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    /// The output port the rule reads.
    pub port: String,
    /// The rule as written.
    pub expect: String,
    pub rule: Rule,
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub name: String,
    pub pos: Pos,
    pub action: Action,
    pub inputs: BTreeMap<String, PortRef>,
    /// Output port to path relative to the output directory, normalised.
    pub outputs: BTreeMap<String, String>,
    pub with: BTreeMap<String, WithValue>,
    /// Globs of more files the stage reads, relative to the pipeline directory.
    pub deps: Vec<String>,
    pub checks: Vec<CheckSpec>,
    /// `timeout:`: the stage fails when it runs longer.
    pub timeout: Option<Duration>,
    /// `resources:` as written for this stage (see [`Pipeline::resources_of`]).
    pub resources: Resources,
}

impl Pipeline {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.index.get(name).and_then(|&i| self.stages.get(i))
    }

    /// The path of the output `port` of `stage`, relative to the pipeline directory.
    pub fn output_path(&self, r: &PortRef) -> Option<String> {
        let rel = self.stage(&r.stage)?.outputs.get(&r.port)?;
        Some(self.in_outdir(rel))
    }

    /// A path relative to the output directory, made relative to the pipeline directory.
    pub fn in_outdir(&self, rel: &str) -> String {
        normalize(&Path::new(&self.outdir).join(rel))
    }

    /// The lock file beside the pipeline file: `demo.yaml` -> `demo.lock`.
    pub fn lock_path(&self) -> PathBuf {
        let stem = self
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.dir.join(format!("{stem}.lock"))
    }

    /// What `stage` asks a cluster for: its own `resources:`, then the pipeline's, then its
    /// defaults.
    pub fn resources_of(&self, stage: &Stage) -> Resources {
        let defaults = match &stage.action {
            Action::Uses(b) => builtin::default_resources(b),
            Action::Run(_) => builtin::default_resources(""),
        };
        stage.resources.or(&self.resources).or(&defaults)
    }

    /// The absolute output directory.
    pub fn outdir_abs(&self) -> PathBuf {
        self.dir.join(&self.outdir)
    }

    /// Stages that read an output of `name`.
    pub fn children(&self, name: &str) -> Vec<&Stage> {
        self.stages
            .iter()
            .filter(|s| s.inputs.values().any(|r| r.stage == name))
            .collect()
    }

    /// For each stage (by index), the indices of the stages that read its outputs, each once.
    pub fn children_index(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.stages.len()];
        for (i, s) in self.stages.iter().enumerate() {
            let mut ups: Vec<usize> = s
                .inputs
                .values()
                .filter_map(|r| self.index.get(&r.stage).copied())
                .collect();
            ups.sort_unstable();
            ups.dedup();
            for u in ups {
                out[u].push(i);
            }
        }
        out
    }

    /// The stages in an order where every stage comes after the stages it reads from (file order
    /// otherwise): Kahn's algorithm, linear in stages and edges. Validation guarantees there is no
    /// cycle.
    pub fn topo_order(&self) -> Vec<&Stage> {
        let children = self.children_index();
        let mut waiting: Vec<usize> = vec![0; self.stages.len()];
        for kids in &children {
            for &k in kids {
                waiting[k] += 1;
            }
        }
        // A min-heap on the file index keeps file order among ready stages.
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = waiting
            .iter()
            .enumerate()
            .filter(|(_, w)| **w == 0)
            .map(|(i, _)| std::cmp::Reverse(i))
            .collect();
        let mut out = Vec::with_capacity(self.stages.len());
        while let Some(std::cmp::Reverse(i)) = ready.pop() {
            out.push(&self.stages[i]);
            for &k in &children[i] {
                waiting[k] -= 1;
                if waiting[k] == 0 {
                    ready.push(std::cmp::Reverse(k));
                }
            }
        }
        out
    }
}

/// The folder an `outdir` must lie in: the nearest enclosing folder holding `.git` (the project),
/// else the pipeline's own folder.
pub fn project_root(dir: &Path) -> PathBuf {
    let mut d = Some(dir);
    while let Some(x) = d {
        if x.join(".git").exists() {
            return x.to_owned();
        }
        d = x.parent();
    }
    dir.to_owned()
}

/// A duration as written in a pipeline file: seconds as a number, or `90s`, `10m`, `2h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (num, mult) = match t.char_indices().last()? {
        (i, 's') => (&t[..i], 1.0),
        (i, 'm') => (&t[..i], 60.0),
        (i, 'h') => (&t[..i], 3600.0),
        _ => (t, 1.0),
    };
    let v: f64 = num.trim().parse().ok()?;
    let secs = v * mult;
    (secs.is_finite() && secs > 0.0 && secs < 1e9).then(|| Duration::from_secs_f64(secs))
}

/// The port an input key feeds: `kww-fits@glassA` (one part of a reduce) feeds `kww-fits`.
pub fn port_base(key: &str) -> &str {
    key.split('@').next().unwrap_or(key)
}

/// The `${kind.name}` placeholders in a string.
pub fn placeholders(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    expand(text, |kind, name| {
        out.push((kind.to_owned(), name.to_owned()));
        None
    });
    out
}

/// Replaces each `${kind.name}` by what `f` returns; a placeholder `f` does not know stays as it is.
pub fn expand(text: &str, mut f: impl FnMut(&str, &str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let inner = &after[..end];
                let replaced = inner.split_once('.').and_then(|(k, n)| f(k, n));
                match replaced {
                    Some(r) => out.push_str(&r),
                    None => {
                        out.push_str("${");
                        out.push_str(inner);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Normalises a relative path lexically (`a/./b/../c` -> `a/c`, leading `..` kept), with `/`.
pub fn normalize(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut absolute = false;
    for c in path.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => absolute = true,
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.last().is_some_and(|p| p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..".into());
                }
            }
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// A path relative to `base` (both absolute), `..` where it lies outside.
pub fn relative_to(path: &Path, base: &Path) -> String {
    normalize(Path::new(&guard::relative(path, base)))
}
