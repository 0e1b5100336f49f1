//! The pipeline file (CONTRACT.md section 2): its model, and validation that reports every error at
//! once with file, line and column before anything runs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::builtin;
use crate::checks::Rule;
use crate::yaml::{self, Key, Node, Pos, Scalar};

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

/// Where a run's stages execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Executor {
    /// Child processes of the runner, on this machine.
    #[default]
    Local,
    /// Batch jobs of a Slurm cluster (`sbatch`), on a file system shared with this machine.
    Slurm,
}

/// What a stage asks a cluster for (`resources:`); never part of a stage's key, since no output
/// depends on it. Unset fields fall back to the pipeline's `resources:`, then to the stage's
/// defaults (`builtin::default_resources`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPUs of the job's one task (`--cpus-per-task`); also the stage's worker threads there.
    pub cpus: Option<u32>,
    /// Memory of the job in MiB (`mem_mb`, `--mem`).
    pub memory_mb: Option<u64>,
    /// Time limit (`time_min`, `--time`), whole minutes rounded up.
    pub time: Option<Duration>,
    /// Partition (`--partition`).
    pub partition: Option<String>,
}

impl Resources {
    /// Each field of `self`, else of `fallback`.
    pub fn or(&self, fallback: &Resources) -> Resources {
        Resources {
            cpus: self.cpus.or(fallback.cpus),
            memory_mb: self.memory_mb.or(fallback.memory_mb),
            time: self.time.or(fallback.time),
            partition: self
                .partition
                .clone()
                .or_else(|| fallback.partition.clone()),
        }
    }
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

/// One validation error.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diag {
    pub pos: Pos,
    pub message: String,
}

/// Every error found in a pipeline file.
#[derive(Debug, Clone)]
pub struct PipelineError {
    pub file: String,
    pub diags: Vec<Diag>,
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diags.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: error: {}",
                self.file, d.pos.line, d.pos.col, d.message
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for PipelineError {}

/// Reads and validates a pipeline file.
pub fn load(file: &Path) -> Result<Pipeline, PipelineError> {
    load_with(file, LoadOptions::default())
}

/// Reads and validates a pipeline file with `opts`.
pub fn load_with(file: &Path, opts: LoadOptions) -> Result<Pipeline, PipelineError> {
    let label = file.display().to_string();
    let fail = |message: String| PipelineError {
        file: label.clone(),
        diags: vec![Diag {
            pos: Pos { line: 1, col: 1 },
            message,
        }],
    };
    let bytes = guard::read_input(file, "the pipeline file").map_err(|e| {
        fail(match e {
            guard::GuardError::Input { problem, .. } => format!("the pipeline file {problem}"),
            other => format!("cannot read the pipeline file: {other}"),
        })
    })?;
    let text =
        String::from_utf8(bytes).map_err(|_| fail("the pipeline file is not UTF-8".into()))?;
    let abs =
        std::path::absolute(file).map_err(|e| fail(format!("cannot resolve the path: {e}")))?;
    let dir = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    parse_with(&text, file, &dir, opts)
}

/// Validates pipeline text; `file` is used for messages and the lock file's name.
pub fn parse(text: &str, file: &Path, dir: &Path) -> Result<Pipeline, PipelineError> {
    parse_with(text, file, dir, LoadOptions::default())
}

/// [`parse`] with options.
pub fn parse_with(
    text: &str,
    file: &Path,
    dir: &Path,
    opts: LoadOptions,
) -> Result<Pipeline, PipelineError> {
    let label = file.display().to_string();
    let err = |diags| PipelineError {
        file: label.clone(),
        diags,
    };
    let root = match yaml::parse(text) {
        Err(e) => {
            return Err(err(vec![Diag {
                pos: e.pos,
                message: format!("invalid YAML: {}", e.message),
            }]));
        }
        Ok(None) => {
            return Err(err(vec![Diag {
                pos: Pos { line: 1, col: 1 },
                message: "the pipeline file is empty: it needs `version: 1` and `stages:`".into(),
            }]));
        }
        Ok(Some(root)) => root,
    };
    let mut v = Validator {
        diags: Vec::new(),
        opts,
    };
    let pipeline = v.pipeline(&root, file, dir);
    v.diags.sort();
    v.diags.dedup();
    match pipeline {
        Some(p) if v.diags.is_empty() => Ok(p),
        _ => Err(err(v.diags)),
    }
}

struct Validator {
    diags: Vec<Diag>,
    opts: LoadOptions,
}

const TOP_KEYS: &[&str] = &[
    "version",
    "name",
    "outdir",
    "outdir_outside",
    "params",
    "stages",
    "executor",
    "resources",
];
const STAGE_KEYS: &[&str] = &[
    "uses",
    "run",
    "with",
    "inputs",
    "outputs",
    "deps",
    "checks",
    "timeout",
    "foreach",
    "resources",
];
const RESOURCE_KEYS: &[&str] = &["cpus", "mem_mb", "time_min", "partition"];

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
const CHECK_KEYS: &[&str] = &["table", "expect"];

impl Validator {
    fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diag {
            pos,
            message: message.into(),
        });
    }

    /// The entries of a mapping node, refusing unknown and duplicate keys.
    fn map<'a>(
        &mut self,
        node: &'a Node,
        what: &str,
        allowed: Option<&[&str]>,
    ) -> Option<&'a [(Key, Node)]> {
        let Node::Map { entries, .. } = node else {
            self.error(
                node.pos(),
                format!("{what} must be a mapping, found {}", node.kind()),
            );
            return None;
        };
        let mut seen: HashMap<&str, Pos> = HashMap::new();
        for (k, _) in entries {
            if let Some(first) = seen.insert(&k.name, k.pos) {
                self.error(
                    k.pos,
                    format!(
                        "duplicate key `{}` in {what} (first at line {})",
                        k.name, first.line
                    ),
                );
            }
            if let Some(allowed) = allowed
                && !allowed.contains(&k.name.as_str())
            {
                self.error(
                    k.pos,
                    format!(
                        "unknown key `{}` in {what}; expected one of: {}",
                        k.name,
                        allowed.join(", ")
                    ),
                );
            }
        }
        Some(entries)
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.error(
                    node.pos(),
                    format!("{what} must be a string, found {}", node.kind()),
                );
                None
            }
        }
    }

    fn string_list(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        let Node::Seq { items, .. } = node else {
            self.error(
                node.pos(),
                format!("{what} must be a list of strings, found {}", node.kind()),
            );
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            match item.scalar_text() {
                Some(s) if !matches!(item, Node::Seq { .. } | Node::Map { .. }) => {
                    out.push(s.to_owned())
                }
                _ => self.error(
                    item.pos(),
                    format!("{what} must hold strings, found {}", item.kind()),
                ),
            }
        }
        Some(out)
    }

    fn pipeline(&mut self, root: &Node, file: &Path, dir: &Path) -> Option<Pipeline> {
        let entries = self.map(root, "the pipeline file", Some(TOP_KEYS))?;
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.name == k)
                .map(|(_, n)| n)
        };
        match get("version") {
            None => self.error(root.pos(), "missing `version: 1`"),
            Some(n) if n.scalar() == Some(Scalar::Int(1)) => {}
            Some(n) => self.error(
                n.pos(),
                format!(
                    "unsupported version `{}`: this agingflow reads version 1",
                    n.scalar_text().unwrap_or(n.kind())
                ),
            ),
        }
        let default_name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = get("name")
            .and_then(|n| self.string(n, "`name`"))
            .unwrap_or(default_name);
        let outdir_node = get("outdir");
        let outdir = match outdir_node {
            Some(n) => self.string(n, "`outdir`").unwrap_or_default(),
            None => "build".to_owned(),
        };
        let outside_ok = self.opts.allow_outside
            || match get("outdir_outside") {
                None => false,
                Some(n) => match n.scalar() {
                    Some(Scalar::Bool(b)) => b,
                    _ => {
                        self.error(n.pos(), "`outdir_outside` must be true or false");
                        false
                    }
                },
            };
        // Stored relative to the pipeline folder, so that no absolute path reaches the lock file.
        let outdir_abs = guard::resolve(&dir.join(&outdir));
        let project = guard::resolve(&project_root(dir));
        let outdir = if Path::new(&outdir).is_absolute() {
            crate::engine::relative_to(&outdir_abs, &guard::resolve(dir))
        } else {
            normalize(Path::new(&outdir))
        };
        if !outdir_abs.starts_with(&project) && !outside_ok {
            self.error(
                outdir_node.map(Node::pos).unwrap_or(root.pos()),
                format!(
                    "`outdir: {outdir}` lies outside the pipeline's folder and its project ({}): set `outdir_outside: true` in the pipeline file or run with --allow-outside if that is meant",
                    project.display()
                ),
            );
        }

        let mut params: BTreeMap<String, String> = BTreeMap::new();
        if let Some(n) = get("params") {
            for (k, v) in self.map(n, "`params`", None).unwrap_or_default() {
                match v {
                    Node::Scalar { .. } if v.scalar() != Some(Scalar::Null) => {
                        params.insert(
                            k.name.clone(),
                            v.scalar_text().unwrap_or_default().to_owned(),
                        );
                    }
                    _ => self.error(
                        v.pos(),
                        format!(
                            "param `{}` must be a string, number or boolean, found {}",
                            k.name,
                            v.kind()
                        ),
                    ),
                }
            }
        }

        let executor = match get("executor") {
            None => Executor::Local,
            Some(n) => match n.as_str() {
                Some("local") => Executor::Local,
                Some("slurm") => Executor::Slurm,
                _ => {
                    self.error(
                        n.pos(),
                        format!(
                            "`executor` must be `local` or `slurm`, found `{}`",
                            n.scalar_text().unwrap_or(n.kind())
                        ),
                    );
                    Executor::Local
                }
            },
        };
        let resources = get("resources")
            .map(|n| self.resources(n, "the pipeline's `resources`"))
            .unwrap_or_default();

        let Some(stages_node) = get("stages") else {
            self.error(root.pos(), "missing `stages`");
            return None;
        };
        let written = self.map(stages_node, "`stages`", None)?;
        if written.is_empty() {
            self.error(stages_node.pos(), "`stages` is empty");
        }
        // What a `foreach` glob never matches: the output directory, the lock and pipeline file.
        let lock = file.with_extension("lock");
        let not_items = [
            outdir_abs.clone(),
            guard::resolve(&lock),
            guard::resolve(file),
        ];
        let expanded = self.expand_foreach(written, dir, &not_items);
        let stage_entries = &expanded;
        let mut stages = Vec::new();
        for (key, node) in stage_entries {
            if let Some(s) = self.stage(key, node, &params, &outdir) {
                stages.push(s);
            }
        }
        let index: HashMap<String, usize> = stages
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        self.references(&stages, &index, stage_entries);
        self.duplicate_outputs(&stages, stage_entries);
        self.reserved_outputs(&stages, stage_entries, file, &outdir);
        self.cycles(&stages, &index);
        Some(Pipeline {
            file: file.to_owned(),
            dir: dir.to_owned(),
            name,
            outdir,
            stages,
            index,
            executor,
            resources,
        })
    }

    /// A `resources:` mapping (CONTRACT.md section 6): `cpus` (a whole number >= 1), `mem_mb`
    /// (MiB, a whole number >= 1), `time_min` (minutes, > 0), `partition` (a name, or several
    /// with commas).
    fn resources(&mut self, node: &Node, what: &str) -> Resources {
        let mut r = Resources::default();
        for (k, v) in self
            .map(node, what, Some(RESOURCE_KEYS))
            .unwrap_or_default()
        {
            let text = v.scalar_text().filter(|_| v.scalar() != Some(Scalar::Null));
            match k.name.as_str() {
                "cpus" => match text.and_then(|t| t.trim().parse::<u32>().ok()) {
                    Some(c) if c >= 1 => r.cpus = Some(c),
                    _ => self.error(
                        v.pos(),
                        format!("`cpus` in {what} must be a whole number of at least 1"),
                    ),
                },
                "mem_mb" => match text.and_then(|t| t.trim().parse::<u64>().ok()) {
                    Some(m) if m >= 1 => r.memory_mb = Some(m),
                    _ => self.error(
                        v.pos(),
                        format!("`mem_mb` in {what} must be a whole number of MiB, at least 1"),
                    ),
                },
                "time_min" => match text.and_then(|t| t.trim().parse::<f64>().ok()) {
                    Some(m) if m > 0.0 && m < 1e8 => {
                        r.time = Some(Duration::from_secs_f64(m * 60.0))
                    }
                    _ => self.error(
                        v.pos(),
                        format!("`time_min` in {what} must be a positive number of minutes"),
                    ),
                },
                "partition" => match text {
                    Some(p)
                        if !p.is_empty()
                            && p.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_.,".contains(c)) =>
                    {
                        r.partition = Some(p.to_owned())
                    }
                    _ => self.error(
                        v.pos(),
                        format!(
                            "`partition` in {what} must be a partition name (letters, digits, `-`, `_`, `.`; several with `,`)"
                        ),
                    ),
                },
                _ => {}
            }
        }
        r
    }

    /// Expands every stage with `foreach:` (a list, or `{ glob: PATTERN }` relative to the
    /// pipeline folder) into one stage `NAME@ITEM` per item, `${item}` (the item; for a glob, the
    /// path component the first wildcard matched) and `${item.path}` (the item; for a glob, the
    /// matched path) replaced in every value; then every input `STAGE@*.PORT` (a reduce) into one
    /// input `PORT@ITEM` per expansion of STAGE.
    fn expand_foreach(
        &mut self,
        entries: &[(Key, Node)],
        dir: &Path,
        not_items: &[PathBuf],
    ) -> Vec<(Key, Node)> {
        let mut out = Vec::new();
        let mut items_of: HashMap<String, Vec<String>> = HashMap::new();
        for (key, node) in entries {
            let Node::Map {
                entries: fields,
                pos,
            } = node
            else {
                out.push((key.clone(), node.clone()));
                continue;
            };
            let Some((_, each)) = fields.iter().find(|(k, _)| k.name == "foreach") else {
                out.push((key.clone(), node.clone()));
                continue;
            };
            let rest: Vec<(Key, Node)> = fields
                .iter()
                .filter(|(k, _)| k.name != "foreach")
                .cloned()
                .collect();
            let body = Node::Map {
                entries: rest,
                pos: *pos,
            };
            let Some(items) = self.foreach_items(each, dir, &key.name, not_items) else {
                continue;
            };
            for item in &items {
                out.push((
                    Key {
                        name: format!("{}@{}", key.name, item.name),
                        pos: key.pos,
                    },
                    substitute(&body, item),
                ));
            }
            items_of.insert(
                key.name.clone(),
                items.into_iter().map(|i| i.name).collect(),
            );
        }
        for (_, node) in &mut out {
            let Node::Map {
                entries: fields, ..
            } = node
            else {
                continue;
            };
            for (k, v) in fields.iter_mut() {
                if k.name != "inputs" {
                    continue;
                }
                let Node::Map { entries: ports, .. } = v else {
                    continue;
                };
                let mut expanded = Vec::new();
                for (port, r) in ports.drain(..) {
                    let reduce = r
                        .as_str()
                        .and_then(|t| {
                            t.rsplit_once('.')
                                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                        })
                        .and_then(|(st, op)| st.strip_suffix("@*").map(|b| (b.to_owned(), op)));
                    let Some((base, op)) = reduce else {
                        expanded.push((port, r));
                        continue;
                    };
                    match items_of.get(&base) {
                        Some(items) => {
                            for item in items {
                                expanded.push((
                                    Key {
                                        name: format!("{}@{item}", port.name),
                                        pos: port.pos,
                                    },
                                    Node::Scalar {
                                        value: format!("{base}@{item}.{op}"),
                                        quoted: true,
                                        pos: r.pos(),
                                    },
                                ));
                            }
                        }
                        None => self.error(
                            r.pos(),
                            format!(
                                "input `{}` = `{base}@*.{op}`: stage `{base}` has no `foreach`, so there is nothing to gather",
                                port.name
                            ),
                        ),
                    }
                }
                *ports = expanded;
            }
        }
        out
    }

    fn foreach_items(
        &mut self,
        node: &Node,
        dir: &Path,
        stage: &str,
        not_items: &[PathBuf],
    ) -> Option<Vec<Item>> {
        let what = format!("`foreach` of stage `{stage}`");
        let items: Vec<Item> = match node {
            Node::Seq { items, .. } => {
                let mut out = Vec::new();
                for n in items {
                    match n.scalar_text() {
                        Some(t) if !matches!(n, Node::Seq { .. } | Node::Map { .. }) => {
                            out.push(Item {
                                name: t.to_owned(),
                                path: t.to_owned(),
                            })
                        }
                        _ => self.error(
                            n.pos(),
                            format!(
                                "{what}: items must be strings or numbers, found {}",
                                n.kind()
                            ),
                        ),
                    }
                }
                out
            }
            Node::Map { .. } => {
                let entries = self.map(node, &what, Some(&["glob"]))?;
                let pattern_node = entries
                    .iter()
                    .find(|(k, _)| k.name == "glob")
                    .map(|(_, n)| n);
                let Some(pattern_node) = pattern_node else {
                    self.error(
                        node.pos(),
                        format!("{what}: a mapping needs `glob: PATTERN`"),
                    );
                    return None;
                };
                let pattern = self.string(pattern_node, "`glob`")?;
                let wild = Path::new(&pattern)
                    .components()
                    .position(|c| c.as_os_str().to_string_lossy().contains(['*', '?', '[']));
                let Some(wild) = wild else {
                    self.error(
                        pattern_node.pos(),
                        format!("{what}: `{pattern}` has no wildcard (`*`, `?`, `[...]`)"),
                    );
                    return None;
                };
                let full = dir.join(&pattern);
                // Each folder entered once (symlink loops end); a wildcard never matches a
                // leading `.` (`.git`, `.agingflow`); the outputs, lock and pipeline file are no
                // items.
                let matched = match guard::walk::glob(
                    &full.to_string_lossy(),
                    guard::walk::Hidden::Skip,
                    &|| false,
                ) {
                    Ok(m) => m,
                    Err(e) => {
                        self.error(
                            pattern_node.pos(),
                            format!("{what}: bad glob `{pattern}`: {e}"),
                        );
                        return None;
                    }
                };
                let mut paths: Vec<String> = matched
                    .into_iter()
                    .filter(|p| {
                        let real = guard::resolve(p);
                        !not_items.iter().any(|n| real.starts_with(n))
                    })
                    .filter_map(|p| p.strip_prefix(dir).ok().map(normalize))
                    .collect();
                paths.sort();
                if paths.is_empty() {
                    self.error(
                        pattern_node.pos(),
                        format!("{what}: `{pattern}` matches nothing in {}", dir.display()),
                    );
                }
                paths
                    .into_iter()
                    .map(|path| Item {
                        name: path.split('/').nth(wild).unwrap_or_default().to_owned(),
                        path,
                    })
                    .collect()
            }
            _ => {
                self.error(
                    node.pos(),
                    format!(
                        "{what} must be a list or `{{ glob: PATTERN }}`, found {}",
                        node.kind()
                    ),
                );
                return None;
            }
        };
        let mut seen = HashSet::new();
        for i in &items {
            if i.name.is_empty()
                || !i
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                self.error(
                    node.pos(),
                    format!(
                        "{what}: item `{}` may hold only letters, digits, `-`, `_` and `.` (it names stage `{stage}@{}`)",
                        i.name, i.name
                    ),
                );
            } else if !seen.insert(i.name.clone()) {
                self.error(node.pos(), format!("{what}: item `{}` comes twice", i.name));
            }
        }
        if items.is_empty() && matches!(node, Node::Seq { .. }) {
            self.error(node.pos(), format!("{what} is empty"));
        }
        Some(items)
    }

    fn stage(
        &mut self,
        key: &Key,
        node: &Node,
        params: &BTreeMap<String, String>,
        outdir: &str,
    ) -> Option<Stage> {
        let name = key.name.clone();
        // `NAME@ITEM` comes from `foreach`, which checked ITEM.
        let base = name.split('@').next().unwrap_or_default();
        if base.is_empty()
            || !base
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.error(
                key.pos,
                format!("stage name `{name}` may hold only letters, digits, `-` and `_`"),
            );
        }
        let what = format!("stage `{name}`");
        let entries = self.map(node, &what, Some(STAGE_KEYS))?;
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.name == k)
                .map(|(_, n)| n)
        };

        let action = match (get("uses"), get("run")) {
            (Some(_), Some(r)) => {
                self.error(
                    r.pos(),
                    format!("{what} has both `uses` and `run`: give one"),
                );
                None
            }
            (None, None) => {
                self.error(
                    key.pos,
                    format!("{what} needs `uses: <built-in stage>` or `run: [program, args...]`"),
                );
                None
            }
            (Some(u), None) => self.string(u, "`uses`").and_then(|u_name| {
                if builtin::find(&u_name).is_some() {
                    Some(Action::Uses(u_name))
                } else {
                    self.error(
                        u.pos(),
                        format!(
                            "unknown stage `{u_name}`; the built-in stages are: {}",
                            builtin::names()
                        ),
                    );
                    None
                }
            }),
            (None, Some(r)) => self.string_list(r, "`run`").map(|argv| {
                if argv.is_empty() {
                    self.error(r.pos(), "`run` is empty: it needs at least the program");
                }
                Action::Run(
                    argv.iter()
                        .map(|a| self.expand_params(a, r.pos(), params))
                        .collect(),
                )
            }),
        };

        let mut inputs = BTreeMap::new();
        if let Some(n) = get("inputs") {
            for (k, v) in self
                .map(n, &format!("`inputs` of {what}"), None)
                .unwrap_or_default()
            {
                let Some(text) = self.string(v, &format!("input `{}`", k.name)) else {
                    continue;
                };
                // The port is after the last `.`: a stage `make@sample.A` (a dotted item) is
                // named whole.
                match text.rsplit_once('.') {
                    Some((stage, port)) if !stage.is_empty() && !port.is_empty() => {
                        inputs.insert(
                            k.name.clone(),
                            PortRef {
                                stage: stage.to_owned(),
                                port: port.to_owned(),
                            },
                        );
                    }
                    _ => self.error(
                        v.pos(),
                        format!("input `{}` must be `STAGE.PORT`, found `{text}`", k.name),
                    ),
                }
            }
        }

        let mut outputs = BTreeMap::new();
        if let Some(n) = get("outputs") {
            for (k, v) in self
                .map(n, &format!("`outputs` of {what}"), None)
                .unwrap_or_default()
            {
                let Some(text) = self.string(v, &format!("output `{}`", k.name)) else {
                    continue;
                };
                let text = self.expand_params(&text, v.pos(), params);
                if !placeholders(&text).is_empty() {
                    self.error(
                        v.pos(),
                        format!(
                            "output `{}` = `{text}`: only `${{params.X}}` may stand in an output path",
                            k.name
                        ),
                    );
                    continue;
                }
                let rel = normalize(Path::new(&text));
                if Path::new(&text).is_absolute()
                    || rel.is_empty()
                    || rel == ".."
                    || rel.starts_with("../")
                {
                    self.error(v.pos(), format!("output `{}` = `{text}` escapes the output directory `{outdir}`: give a path inside it", k.name));
                    continue;
                }
                outputs.insert(k.name.clone(), rel);
            }
        }

        let mut with = BTreeMap::new();
        if let Some(n) = get("with") {
            for (k, v) in self
                .map(n, &format!("`with` of {what}"), None)
                .unwrap_or_default()
            {
                let value = match v {
                    Node::Seq { .. } => {
                        self.string_list(v, &format!("`with.{}`", k.name)).map(|l| {
                            WithValue::List(
                                l.iter()
                                    .map(|s| self.expand_params(s, v.pos(), params))
                                    .collect(),
                            )
                        })
                    }
                    Node::Map { .. } => {
                        self.error(v.pos(), format!("`with.{}` must be a string, number, boolean or list, found a mapping", k.name));
                        None
                    }
                    _ => match v.scalar() {
                        Some(Scalar::Bool(b)) => Some(WithValue::Bool(b)),
                        Some(Scalar::Null) | None => {
                            self.error(v.pos(), format!("`with.{}` has no value", k.name));
                            None
                        }
                        Some(_) => Some(WithValue::Str(self.expand_params(
                            v.scalar_text().unwrap_or_default(),
                            v.pos(),
                            params,
                        ))),
                    },
                };
                if let Some(value) = value {
                    with.insert(k.name.clone(), value);
                }
            }
        }

        let deps = get("deps")
            .and_then(|n| self.string_list(n, "`deps`"))
            .unwrap_or_default();

        let timeout = get("timeout").and_then(|n| {
            let t = n.scalar_text().and_then(parse_duration);
            if t.is_none() {
                self.error(
                    n.pos(),
                    format!(
                        "`timeout` of {what} must be a positive duration: seconds, or `90s`, `10m`, `2h`"
                    ),
                );
            }
            t
        });

        let resources = get("resources")
            .map(|n| self.resources(n, &format!("`resources` of {what}")))
            .unwrap_or_default();

        let mut checks = Vec::new();
        if let Some(n) = get("checks") {
            match n {
                Node::Seq { items, .. } => {
                    for item in items {
                        if let Some(c) = self.check(item, &outputs) {
                            checks.push(c);
                        }
                    }
                }
                _ => self.error(
                    n.pos(),
                    format!(
                        "`checks` must be a list of {{table, expect}}, found {}",
                        n.kind()
                    ),
                ),
            }
        }

        let action = action?;
        match &action {
            Action::Uses(b) => {
                let b = builtin::find(b)?;
                if let Some(n) = get("inputs")
                    && let Node::Map { entries, .. } = n
                {
                    for (k, _) in entries {
                        if !b.inputs.iter().any(|(p, _)| *p == port_base(&k.name)) {
                            let known: Vec<_> = b.inputs.iter().map(|(p, _)| *p).collect();
                            self.error(
                                k.pos,
                                format!(
                                    "stage `{}` has no input `{}`; its inputs: {}",
                                    b.name,
                                    k.name,
                                    or_none(&known)
                                ),
                            );
                        }
                    }
                }
                for (port, required) in b.inputs {
                    if *required && !inputs.keys().any(|k| port_base(k) == *port) {
                        self.error(
                            key.pos,
                            format!("{what} (uses: {}) needs input `{port}`", b.name),
                        );
                    }
                }
                if let Some(Node::Map { entries, .. }) = get("outputs") {
                    for (k, _) in entries {
                        if !b.outputs.iter().any(|(p, _)| *p == k.name) {
                            let known: Vec<_> = b.outputs.iter().map(|(p, _)| *p).collect();
                            self.error(
                                k.pos,
                                format!(
                                    "stage `{}` has no output `{}`; its outputs: {}",
                                    b.name,
                                    k.name,
                                    or_none(&known)
                                ),
                            );
                        }
                    }
                }
                for (port, required) in b.outputs {
                    if *required && !outputs.contains_key(*port) {
                        self.error(
                            key.pos,
                            format!("{what} (uses: {}) must declare output `{port}`", b.name),
                        );
                    }
                }
            }
            Action::Run(argv) => {
                let r = get("run").map(Node::pos).unwrap_or(key.pos);
                for arg in argv {
                    for (kind, pname) in placeholders(arg) {
                        // `params` and unknown kinds were reported when params were expanded.
                        let known = match kind.as_str() {
                            "inputs" => inputs.keys().any(|k| port_base(k) == pname),
                            "outputs" => outputs.contains_key(&pname),
                            "with" => with.contains_key(&pname),
                            _ => true,
                        };
                        if !known {
                            self.error(
                                r,
                                format!(
                                    "`${{{kind}.{pname}}}` in `run` names no {kind} entry of {what}"
                                ),
                            );
                        }
                    }
                }
            }
        }
        Some(Stage {
            name,
            pos: key.pos,
            action,
            inputs,
            outputs,
            with,
            deps,
            checks,
            timeout,
            resources,
        })
    }

    fn check(&mut self, node: &Node, outputs: &BTreeMap<String, String>) -> Option<CheckSpec> {
        let entries = self.map(node, "a check", Some(CHECK_KEYS))?;
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.name == k)
                .map(|(_, n)| n)
        };
        let (Some(t), Some(e)) = (get("table"), get("expect")) else {
            self.error(
                node.pos(),
                "a check needs `table: <output port>` and `expect: <rule>`",
            );
            return None;
        };
        let port = self.string(t, "`table`")?;
        if !outputs.contains_key(&port) {
            self.error(
                t.pos(),
                format!("check on `{port}`: the stage has no such output"),
            );
        }
        let expect = self.string(e, "`expect`")?;
        match Rule::parse(&expect) {
            Ok(rule) => Some(CheckSpec { port, expect, rule }),
            Err(msg) => {
                self.error(e.pos(), format!("bad rule `{expect}`: {msg}"));
                None
            }
        }
    }

    fn expand_params(&mut self, text: &str, pos: Pos, params: &BTreeMap<String, String>) -> String {
        let mut missing = Vec::new();
        let out = expand(text, |kind, name| match kind {
            "params" => {
                let v = params.get(name).cloned();
                if v.is_none() {
                    missing.push(format!("`${{params.{name}}}` names no entry of `params`"));
                }
                v
            }
            "inputs" | "outputs" | "with" => None,
            other => {
                missing.push(format!("`${{{other}.{name}}}`: placeholders are `${{params.X}}`, `${{inputs.X}}`, `${{outputs.X}}` and `${{with.X}}`"));
                None
            }
        });
        for m in missing {
            self.error(pos, m);
        }
        out
    }

    fn references(
        &mut self,
        stages: &[Stage],
        index: &HashMap<String, usize>,
        entries: &[(Key, Node)],
    ) {
        for s in stages {
            let input_pos = |port: &str| input_value_pos(entries, &s.name, port).unwrap_or(s.pos);
            for (port, r) in &s.inputs {
                match index.get(&r.stage).map(|&i| &stages[i]) {
                    None => {
                        let known: Vec<_> = stages.iter().map(|t| t.name.as_str()).collect();
                        self.error(input_pos(port), format!("input `{port}` of stage `{}` refers to stage `{}`, which does not exist; stages: {}", s.name, r.stage, known.join(", ")));
                    }
                    Some(t) if !t.outputs.contains_key(&r.port) => {
                        let known: Vec<_> = t.outputs.keys().map(String::as_str).collect();
                        self.error(input_pos(port), format!("input `{port}` of stage `{}` refers to output `{}` of stage `{}`, which has no such output; its outputs: {}", s.name, r.port, t.name, or_none(&known)));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Outputs may not be the pipeline file, its lock file, or lie in agingflow's state folder.
    fn reserved_outputs(
        &mut self,
        stages: &[Stage],
        entries: &[(Key, Node)],
        file: &Path,
        outdir: &str,
    ) {
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let pipeline_name = name(file);
        let lock_name = format!(
            "{}.lock",
            file.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        for s in stages {
            for (port, rel) in &s.outputs {
                let full = normalize(&Path::new(outdir).join(rel));
                let what = if full == pipeline_name {
                    Some("the pipeline file itself")
                } else if full == lock_name {
                    Some("the pipeline's lock file")
                } else if Path::new(rel)
                    .components()
                    .any(|c| c.as_os_str() == ".agingflow")
                {
                    Some("inside agingflow's state folder `.agingflow`")
                } else {
                    None
                };
                if let Some(what) = what {
                    let pos = output_value_pos(entries, &s.name, port).unwrap_or(s.pos);
                    self.error(
                        pos,
                        format!(
                            "output `{port}` of stage `{}` writes `{full}`, which is {what}: give it another path",
                            s.name
                        ),
                    );
                }
            }
        }
    }

    fn duplicate_outputs(&mut self, stages: &[Stage], entries: &[(Key, Node)]) {
        let mut seen: HashMap<&str, (&str, &str)> = HashMap::new();
        for s in stages {
            for (port, path) in &s.outputs {
                if let Some((other, other_port)) = seen.insert(path, (&s.name, port)) {
                    let pos = output_value_pos(entries, &s.name, port).unwrap_or(s.pos);
                    self.error(pos, format!("output `{port}` of stage `{}` writes `{path}`, which output `{other_port}` of stage `{other}` already writes", s.name));
                }
            }
        }
    }

    fn cycles(&mut self, stages: &[Stage], index: &HashMap<String, usize>) {
        // Colour-marking depth-first search; each cycle is reported at its first stage in file order.
        fn visit<'a>(
            s: &'a Stage,
            stages: &'a [Stage],
            index: &HashMap<String, usize>,
            state: &mut HashMap<&'a str, u8>,
            path: &mut Vec<&'a str>,
            found: &mut Vec<Vec<&'a str>>,
        ) {
            state.insert(&s.name, 1);
            path.push(&s.name);
            for r in s.inputs.values() {
                let Some(t) = index.get(&r.stage).map(|&i| &stages[i]) else {
                    continue;
                };
                match state.get(t.name.as_str()).copied().unwrap_or(0) {
                    0 => visit(t, stages, index, state, path, found),
                    1 => {
                        let start = path.iter().position(|n| *n == t.name).unwrap_or(0);
                        let mut cycle: Vec<&str> = path[start..].to_vec();
                        cycle.push(&t.name);
                        found.push(cycle);
                    }
                    _ => {}
                }
            }
            path.pop();
            state.insert(&s.name, 2);
        }
        let mut state = HashMap::new();
        let mut found = Vec::new();
        for s in stages {
            if state.get(s.name.as_str()).copied().unwrap_or(0) == 0 {
                visit(s, stages, index, &mut state, &mut Vec::new(), &mut found);
            }
        }
        for cycle in found {
            // The cycle as data flows: reverse the reading direction.
            let flow: Vec<&str> = cycle.iter().rev().copied().collect();
            let first = stages.iter().find(|s| cycle.contains(&s.name.as_str()));
            let pos = first.map(|s| s.pos).unwrap_or_default();
            self.error(pos, format!("stages form a cycle: {}", flow.join(" -> ")));
        }
    }
}

fn or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

fn port_value_pos(entries: &[(Key, Node)], stage: &str, section: &str, port: &str) -> Option<Pos> {
    let (_, node) = entries.iter().find(|(k, _)| k.name == stage)?;
    let Node::Map { entries, .. } = node else {
        return None;
    };
    let (_, sec) = entries.iter().find(|(k, _)| k.name == section)?;
    let Node::Map { entries, .. } = sec else {
        return None;
    };
    entries
        .iter()
        .find(|(k, _)| k.name == port)
        .map(|(_, v)| v.pos())
}

fn input_value_pos(entries: &[(Key, Node)], stage: &str, port: &str) -> Option<Pos> {
    port_value_pos(entries, stage, "inputs", port)
}

fn output_value_pos(entries: &[(Key, Node)], stage: &str, port: &str) -> Option<Pos> {
    port_value_pos(entries, stage, "outputs", port)
}

/// The port an input key feeds: `kww-fits@glassA` (one part of a reduce) feeds `kww-fits`.
pub fn port_base(key: &str) -> &str {
    key.split('@').next().unwrap_or(key)
}

/// One value of a stage's `foreach`.
struct Item {
    /// The `@` suffix of the stage and `${item}`.
    name: String,
    /// `${item.path}`: the matched path of a glob (the item itself for a list).
    path: String,
}

/// A copy of `node` with `${item.path}` and `${item}` replaced in every scalar.
fn substitute(node: &Node, item: &Item) -> Node {
    match node {
        Node::Scalar { value, quoted, pos } => Node::Scalar {
            value: value
                .replace("${item.path}", &item.path)
                .replace("${item}", &item.name),
            quoted: *quoted,
            pos: *pos,
        },
        Node::Seq { items, pos } => Node::Seq {
            items: items.iter().map(|n| substitute(n, item)).collect(),
            pos: *pos,
        },
        Node::Map { entries, pos } => Node::Map {
            entries: entries
                .iter()
                .map(|(k, n)| (k.clone(), substitute(n, item)))
                .collect(),
            pos: *pos,
        },
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize(Path::new("a/./b/../c")), "a/c");
        assert_eq!(
            normalize(Path::new("../build/demo/x.parquet")),
            "../build/demo/x.parquet"
        );
        assert_eq!(normalize(Path::new("a/../../b")), "../b");
        assert_eq!(normalize(Path::new("/x/../y")), "/y");
    }

    #[test]
    fn expand_placeholders() {
        let s = expand("--in=${inputs.a}/${params.x}${", |k, n| {
            (k == "params").then(|| format!("<{n}>"))
        });
        assert_eq!(s, "--in=${inputs.a}/<x>${");
        assert_eq!(
            placeholders("${inputs.a} ${outputs.b}"),
            vec![
                ("inputs".into(), "a".into()),
                ("outputs".into(), "b".into())
            ]
        );
    }

    const FOREACH: &str = r#"version: 1
stages:
  fit:
    foreach: [glassA, glassB]
    run: [sh, -c, 'cp "$0" "$1"', "data/${item}.txt", "${outputs.o}"]
    outputs: { o: "${item}/fit.txt" }
  sum:
    run: [cat, "${inputs.all}", "${outputs.o}"]
    inputs: { all: "fit@*.o" }
    outputs: { o: sum.txt }
"#;

    #[test]
    fn foreach_expands_stages_and_gathers_their_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let p = parse(FOREACH, &dir.path().join("p.yaml"), dir.path()).unwrap();
        let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["fit@glassA", "fit@glassB", "sum"]);
        let a = p.stage("fit@glassA").unwrap();
        assert_eq!(a.outputs["o"], "glassA/fit.txt");
        let Action::Run(argv) = &a.action else {
            panic!("run stage")
        };
        assert_eq!(argv[3], "data/glassA.txt");
        let sum = p.stage("sum").unwrap();
        let gathered: Vec<(&str, &str)> = sum
            .inputs
            .iter()
            .map(|(k, r)| (k.as_str(), r.stage.as_str()))
            .collect();
        assert_eq!(
            gathered,
            [("all@glassA", "fit@glassA"), ("all@glassB", "fit@glassB")]
        );
        assert_eq!(port_base("all@glassA"), "all");
    }

    #[test]
    fn executor_and_resources_are_read_and_merged() {
        let dir = tempfile::tempdir().unwrap();
        let text = FOREACH
            .replace(
                "version: 1\n",
                "version: 1\nexecutor: slurm\nresources: { mem_mb: 1536, partition: short }\n",
            )
            .replace(
                "    outputs: { o: sum.txt }",
                "    outputs: { o: sum.txt }\n    resources: { cpus: 4, time_min: 90, mem_mb: 300 }",
            );
        let p = parse(&text, &dir.path().join("p.yaml"), dir.path()).unwrap();
        assert_eq!(p.executor, Executor::Slurm);
        let sum = p.resources_of(p.stage("sum").unwrap());
        assert_eq!(sum.cpus, Some(4));
        assert_eq!(
            sum.memory_mb,
            Some(300),
            "the stage's own over the pipeline's"
        );
        assert_eq!(sum.time, Some(Duration::from_secs(5400)));
        assert_eq!(sum.partition.as_deref(), Some("short"));
        let fit = p.resources_of(p.stage("fit@glassA").unwrap());
        assert_eq!(fit.memory_mb, Some(1536), "the pipeline's over the default");
        assert_eq!(fit.cpus, Some(1), "a run stage's default");
        // Resources are no part of a stage's key: the same argv, with and without.
        let plain = parse(FOREACH, &dir.path().join("p.yaml"), dir.path()).unwrap();
        assert_eq!(plain.executor, Executor::Local);
        assert_eq!(
            plain.stage("sum").unwrap().action,
            p.stage("sum").unwrap().action
        );
    }

    #[test]
    fn bad_executor_and_resources_are_reported_where_written() {
        let dir = tempfile::tempdir().unwrap();
        let text = FOREACH
            .replace("version: 1\n", "version: 1\nexecutor: kubernetes\n")
            .replace(
                "    outputs: { o: sum.txt }",
                "    outputs: { o: sum.txt }\n    resources: { cpus: 0, mem_mb: 4G, time_min: -1, partition: \"a b\", gpus: 1 }",
            );
        let e = parse(&text, &dir.path().join("p.yaml"), dir.path()).unwrap_err();
        let t = e.to_string();
        for want in [
            "p.yaml:2:11: error: `executor` must be `local` or `slurm`, found `kubernetes`",
            "`cpus` in `resources` of stage `sum` must be a whole number",
            "`mem_mb` in `resources` of stage `sum` must be a whole number of MiB",
            "`time_min` in `resources` of stage `sum` must be a positive number of minutes",
            "`partition` in `resources` of stage `sum` must be a partition name",
            "unknown key `gpus` in `resources` of stage `sum`",
        ] {
            assert!(t.contains(want), "missing `{want}` in:\n{t}");
        }
    }

    #[test]
    fn foreach_errors_name_their_place() {
        let dir = tempfile::tempdir().unwrap();
        let bad = FOREACH
            .replace("[glassA, glassB]", "[glassA, glassA, \"a b\"]")
            .replace("fit@*.o", "nofe@*.o");
        let e = parse(&bad, &dir.path().join("p.yaml"), dir.path()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("item `glassA` comes twice"), "{text}");
        assert!(text.contains("item `a b` may hold only"), "{text}");
        assert!(text.contains("stage `nofe` has no `foreach`"), "{text}");
        let glob = FOREACH.replace("[glassA, glassB]", "{ glob: \"none/*/x.yaml\" }");
        let e = parse(&glob, &dir.path().join("p.yaml"), dir.path()).unwrap_err();
        assert!(e.to_string().contains("matches nothing"), "{e}");
    }

    #[test]
    fn a_foreach_glob_names_items_by_the_matched_component() {
        let dir = tempfile::tempdir().unwrap();
        for g in ["vit1", "pvc"] {
            std::fs::create_dir_all(dir.path().join("campaigns").join(g)).unwrap();
            std::fs::write(
                dir.path().join("campaigns").join(g).join("campaign.yaml"),
                "",
            )
            .unwrap();
        }
        let text = FOREACH
            .replace(
                "[glassA, glassB]",
                "{ glob: \"campaigns/*/campaign.yaml\" }",
            )
            .replace("data/${item}.txt", "${item.path}");
        let p = parse(&text, &dir.path().join("p.yaml"), dir.path()).unwrap();
        let s = p.stage("fit@pvc").expect("pvc expanded");
        let Action::Run(argv) = &s.action else {
            panic!("run stage")
        };
        assert_eq!(argv[3], "campaigns/pvc/campaign.yaml");
        assert!(p.stage("fit@vit1").is_some());
    }
}
