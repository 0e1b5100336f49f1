//! Validation of a pipeline file: its shape, every stage (program, ports, `with`, checks,
//! resources, timeouts), references between stages, reserved and duplicate outputs, and cycles;
//! every error reported at once with its line and column.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use super::builtin;
use super::diag::Diags;
use super::model::*;
use super::resources::{Executor, Resources};
use super::yaml::{Key, Node, Pos, Scalar};
use crate::checks::Rule;

pub(super) struct Validator {
    pub(super) d: Diags,
    pub(super) opts: LoadOptions,
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

const CHECK_KEYS: &[&str] = &["table", "expect"];

impl Validator {
    pub(super) fn pipeline(&mut self, root: &Node, file: &Path, dir: &Path) -> Option<Pipeline> {
        let entries = self.d.map(root, "the pipeline file", Some(TOP_KEYS))?;
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.name == k)
                .map(|(_, n)| n)
        };
        match get("version") {
            None => self.d.error(root.pos(), "missing `version: 1`"),
            Some(n) if n.scalar() == Some(Scalar::Int(1)) => {}
            Some(n) => self.d.error(
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
            .and_then(|n| self.d.string(n, "`name`"))
            .unwrap_or(default_name);
        let outdir_node = get("outdir");
        let outdir = match outdir_node {
            Some(n) => self.d.string(n, "`outdir`").unwrap_or_default(),
            None => "build".to_owned(),
        };
        let outside_ok = self.opts.allow_outside
            || match get("outdir_outside") {
                None => false,
                Some(n) => match n.scalar() {
                    Some(Scalar::Bool(b)) => b,
                    _ => {
                        self.d
                            .error(n.pos(), "`outdir_outside` must be true or false");
                        false
                    }
                },
            };
        // Stored relative to the pipeline folder, so that no absolute path reaches the lock file.
        let outdir_abs = guard::resolve(&dir.join(&outdir));
        let project = guard::resolve(&project_root(dir));
        let outdir = if Path::new(&outdir).is_absolute() {
            relative_to(&outdir_abs, &guard::resolve(dir))
        } else {
            normalize(Path::new(&outdir))
        };
        if !outdir_abs.starts_with(&project) && !outside_ok {
            self.d.error(
                outdir_node.map(Node::pos).unwrap_or(root.pos()),
                format!(
                    "`outdir: {outdir}` lies outside the pipeline's folder and its project ({}): set `outdir_outside: true` in the pipeline file or run with --allow-outside if that is meant",
                    project.display()
                ),
            );
        }

        let mut params: BTreeMap<String, String> = BTreeMap::new();
        if let Some(n) = get("params") {
            for (k, v) in self.d.map(n, "`params`", None).unwrap_or_default() {
                match v {
                    Node::Scalar { .. } if v.scalar() != Some(Scalar::Null) => {
                        params.insert(
                            k.name.clone(),
                            v.scalar_text().unwrap_or_default().to_owned(),
                        );
                    }
                    _ => self.d.error(
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
                    self.d.error(
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
            self.d.error(root.pos(), "missing `stages`");
            return None;
        };
        let written = self.d.map(stages_node, "`stages`", None)?;
        if written.is_empty() {
            self.d.error(stages_node.pos(), "`stages` is empty");
        }
        // What a `foreach` glob never matches: the output directory, the lock and pipeline file.
        let lock = file.with_extension("lock");
        let not_items = [
            outdir_abs.clone(),
            guard::resolve(&lock),
            guard::resolve(file),
        ];
        let expanded = self.d.expand_foreach(written, dir, &not_items);
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

    /// A `resources:` mapping (docs/pipeline.md): `cpus` (a whole number >= 1), `mem_mb`
    /// (MiB, a whole number >= 1), `time_min` (minutes, > 0), `partition` (a name, or several
    /// with commas).
    fn resources(&mut self, node: &Node, what: &str) -> Resources {
        let mut r = Resources::default();
        for (k, v) in self
            .d
            .map(node, what, Some(RESOURCE_KEYS))
            .unwrap_or_default()
        {
            let text = v.scalar_text().filter(|_| v.scalar() != Some(Scalar::Null));
            match k.name.as_str() {
                "cpus" => match text.and_then(|t| t.trim().parse::<u32>().ok()) {
                    Some(c) if c >= 1 => r.cpus = Some(c),
                    _ => self.d.error(
                        v.pos(),
                        format!("`cpus` in {what} must be a whole number of at least 1"),
                    ),
                },
                "mem_mb" => match text.and_then(|t| t.trim().parse::<u64>().ok()) {
                    Some(m) if m >= 1 => r.memory_mb = Some(m),
                    _ => self.d.error(
                        v.pos(),
                        format!("`mem_mb` in {what} must be a whole number of MiB, at least 1"),
                    ),
                },
                "time_min" => match text.and_then(|t| t.trim().parse::<f64>().ok()) {
                    Some(m) if m > 0.0 && m < 1e8 => {
                        r.time = Some(Duration::from_secs_f64(m * 60.0))
                    }
                    _ => self.d.error(
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
                    _ => self.d.error(
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
            self.d.error(
                key.pos,
                format!("stage name `{name}` may hold only letters, digits, `-` and `_`"),
            );
        }
        let what = format!("stage `{name}`");
        let entries = self.d.map(node, &what, Some(STAGE_KEYS))?;
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.name == k)
                .map(|(_, n)| n)
        };

        let action = match (get("uses"), get("run")) {
            (Some(_), Some(r)) => {
                self.d.error(
                    r.pos(),
                    format!("{what} has both `uses` and `run`: give one"),
                );
                None
            }
            (None, None) => {
                self.d.error(
                    key.pos,
                    format!("{what} needs `uses: <built-in stage>` or `run: [program, args...]`"),
                );
                None
            }
            (Some(u), None) => self.d.string(u, "`uses`").and_then(|u_name| {
                if builtin::find(&u_name).is_some() {
                    Some(Action::Uses(u_name))
                } else {
                    self.d.error(
                        u.pos(),
                        format!(
                            "unknown stage `{u_name}`; the built-in stages are: {}",
                            builtin::names()
                        ),
                    );
                    None
                }
            }),
            (None, Some(r)) => self.d.string_list(r, "`run`").map(|argv| {
                if argv.is_empty() {
                    self.d
                        .error(r.pos(), "`run` is empty: it needs at least the program");
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
                .d
                .map(n, &format!("`inputs` of {what}"), None)
                .unwrap_or_default()
            {
                let Some(text) = self.d.string(v, &format!("input `{}`", k.name)) else {
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
                    _ => self.d.error(
                        v.pos(),
                        format!("input `{}` must be `STAGE.PORT`, found `{text}`", k.name),
                    ),
                }
            }
        }

        let mut outputs = BTreeMap::new();
        if let Some(n) = get("outputs") {
            for (k, v) in self
                .d
                .map(n, &format!("`outputs` of {what}"), None)
                .unwrap_or_default()
            {
                let Some(text) = self.d.string(v, &format!("output `{}`", k.name)) else {
                    continue;
                };
                let text = self.expand_params(&text, v.pos(), params);
                if !placeholders(&text).is_empty() {
                    self.d.error(
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
                    self.d.error(v.pos(), format!("output `{}` = `{text}` escapes the output directory `{outdir}`: give a path inside it", k.name));
                    continue;
                }
                outputs.insert(k.name.clone(), rel);
            }
        }

        let mut with = BTreeMap::new();
        if let Some(n) = get("with") {
            for (k, v) in self
                .d
                .map(n, &format!("`with` of {what}"), None)
                .unwrap_or_default()
            {
                let value = match v {
                    Node::Seq { .. } => {
                        self.d
                            .string_list(v, &format!("`with.{}`", k.name))
                            .map(|l| {
                                WithValue::List(
                                    l.iter()
                                        .map(|s| self.expand_params(s, v.pos(), params))
                                        .collect(),
                                )
                            })
                    }
                    Node::Map { .. } => {
                        self.d.error(v.pos(), format!("`with.{}` must be a string, number, boolean or list, found a mapping", k.name));
                        None
                    }
                    _ => match v.scalar() {
                        Some(Scalar::Bool(b)) => Some(WithValue::Bool(b)),
                        Some(Scalar::Null) | None => {
                            self.d
                                .error(v.pos(), format!("`with.{}` has no value", k.name));
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
            .and_then(|n| self.d.string_list(n, "`deps`"))
            .unwrap_or_default();

        let timeout = get("timeout").and_then(|n| {
            let t = n.scalar_text().and_then(parse_duration);
            if t.is_none() {
                self.d.error(
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
                _ => self.d.error(
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
                            self.d.error(
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
                        self.d.error(
                            key.pos,
                            format!("{what} (uses: {}) needs input `{port}`", b.name),
                        );
                    }
                }
                if let Some(Node::Map { entries, .. }) = get("outputs") {
                    for (k, _) in entries {
                        if !b.outputs.iter().any(|(p, _)| *p == k.name) {
                            let known: Vec<_> = b.outputs.iter().map(|(p, _)| *p).collect();
                            self.d.error(
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
                        self.d.error(
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
                            self.d.error(
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
        let entries = self.d.map(node, "a check", Some(CHECK_KEYS))?;
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.name == k)
                .map(|(_, n)| n)
        };
        let (Some(t), Some(e)) = (get("table"), get("expect")) else {
            self.d.error(
                node.pos(),
                "a check needs `table: <output port>` and `expect: <rule>`",
            );
            return None;
        };
        let port = self.d.string(t, "`table`")?;
        if !outputs.contains_key(&port) {
            self.d.error(
                t.pos(),
                format!("check on `{port}`: the stage has no such output"),
            );
        }
        let expect = self.d.string(e, "`expect`")?;
        match Rule::parse(&expect) {
            Ok(rule) => Some(CheckSpec { port, expect, rule }),
            Err(msg) => {
                self.d.error(e.pos(), format!("bad rule `{expect}`: {msg}"));
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
            self.d.error(pos, m);
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
                        self.d.error(input_pos(port), format!("input `{port}` of stage `{}` refers to stage `{}`, which does not exist; stages: {}", s.name, r.stage, known.join(", ")));
                    }
                    Some(t) if !t.outputs.contains_key(&r.port) => {
                        let known: Vec<_> = t.outputs.keys().map(String::as_str).collect();
                        self.d.error(input_pos(port), format!("input `{port}` of stage `{}` refers to output `{}` of stage `{}`, which has no such output; its outputs: {}", s.name, r.port, t.name, or_none(&known)));
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
                    self.d.error(
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
                    self.d.error(pos, format!("output `{port}` of stage `{}` writes `{path}`, which output `{other_port}` of stage `{other}` already writes", s.name));
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
            self.d
                .error(pos, format!("stages form a cycle: {}", flow.join(" -> ")));
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
