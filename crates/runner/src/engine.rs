//! Deciding what is stale and running it: stage keys, reasons, staging, per-stage locks, the
//! parallel scheduler.
//!
//! A stage runs with its outputs pointed into `<outdir>/.agingflow/staging/<stage>-<pid>-<n>/`; only
//! when it exits 0, has written every output and passes its checks are the outputs renamed into
//! place and its lock entry written. A stage is run under an exclusive file lock
//! (`<outdir>/.agingflow/locks/<stage>.lock`) and its staleness is decided again once the lock is
//! held, so two runners on one pipeline never run the same stage twice.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::builtin;
use crate::cache::{Cache, Hit};
use crate::checks::{self, CheckResult};
use crate::hash;
use crate::lock::{FileHash, LockFile, StageLock};
use crate::pipeline::{Action, Pipeline, PortRef, Stage, WithValue, expand, normalize, port_base};

/// The environment variable a stage appends the paths it read to (see `stage_cli::report_read`).
pub const READS_ENV: &str = "AGINGFLOW_READS";

/// The signal that asked this runner to stop (SIGTERM, SIGINT), 0 while none has. Set by the
/// handlers `commands::run` installs; running stages are then stopped and no new one starts.
pub static STOP: LazyLock<Arc<AtomicUsize>> = LazyLock::new(|| Arc::new(AtomicUsize::new(0)));

pub(crate) fn stop_signal() -> usize {
    STOP.load(Ordering::SeqCst)
}

/// How long a stage has, after SIGTERM to its process group, before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

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

/// Everything a runner invocation shares between threads.
pub struct Ctx<'a> {
    pub p: &'a Pipeline,
    /// The pipeline directory, canonical (what recorded paths are relative to).
    pub root: PathBuf,
    exe_dir: Option<PathBuf>,
    binaries: Mutex<HashMap<PathBuf, String>>,
    pub no_checks: bool,
    lock_mutex: Mutex<()>,
    /// The lock file as last read or written here (parsing and emitting it is not free).
    pub locks: crate::lock::LockCache,
    /// Outputs of stages that just ran, being stored in the run cache while their dependents
    /// run (joined when the context is dropped, so before the runner exits).
    stores: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Paths no output may be, contain or lie inside, beyond those registered with
    /// `guard::protect` (the lock file and `.agingflow/`, which the runner itself writes).
    protected: Vec<guard::Protected>,
    /// Time limit of stages without a `timeout:` of their own (`run --timeout`).
    pub default_timeout: Option<Duration>,
    /// What `deps` globs never match (state folder, lock file, every stage's output), resolved
    /// once.
    not_deps: std::sync::OnceLock<(PathBuf, PathBuf, Vec<PathBuf>)>,
    /// The run cache below the output directory.
    pub cache: Cache,
    /// The hash memo (`<outdir>/.agingflow/cache/hashes`), consulted by every hash this
    /// invocation takes and saved by [`Ctx::save_memo`].
    memo: std::sync::Arc<stage_cli::hashes::HashMemo>,
    /// Whether stages are handed the memo (not after [`Ctx::forget_memo`]).
    memo_to_stages: bool,
    /// What the stages that ran in this invocation dropped whole (stage, `kind<TAB>id<TAB>why`
    /// as `stage_cli::report_dropped` wrote it), for the run's summary.
    pub dropped: Mutex<Vec<(String, String)>>,
}

static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Drop for Ctx<'_> {
    fn drop(&mut self) {
        self.finish_stores();
        if let Err(e) = self.flush_lock() {
            eprintln!("agingflow: cannot write the lock file: {e}");
        }
    }
}

impl<'a> Ctx<'a> {
    pub fn new(p: &'a Pipeline, no_checks: bool) -> Self {
        let root = std::fs::canonicalize(&p.dir).unwrap_or_else(|_| p.dir.clone());
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf));
        let cache = Cache::new(&p.outdir_abs());
        let mut ctx = Ctx {
            p,
            root,
            exe_dir,
            binaries: Mutex::new(HashMap::new()),
            no_checks,
            lock_mutex: Mutex::new(()),
            locks: crate::lock::LockCache::with_journal(cache.reads_dir(), journal_of(p)),
            stores: Mutex::new(Vec::new()),
            protected: Vec::new(),
            default_timeout: None,
            not_deps: std::sync::OnceLock::new(),
            cache,
            memo: std::sync::Arc::new(
                stage_cli::hashes::HashMemo::load(&Self::memo_path(p)).own(own_dirs(p)),
            ),
            memo_to_stages: true,
            dropped: Mutex::new(Vec::new()),
        };
        hash::use_memo(ctx.memo.clone());
        ctx.protect_inputs();
        ctx
    }

    /// Registers everything the pipeline reads as read-only (the pipeline file, every `deps` file,
    /// every existing file named in `with` or `run`, every file a stage reported reading), and
    /// keeps the lock file and the state folder apart for the output checks.
    fn protect_inputs(&mut self) {
        guard::protect(&self.p.file, "the pipeline file");
        let lock = self.locks.read(&self.p.lock_path());
        let resolver = guard::Resolver::new();
        for s in &self.p.stages {
            if let Ok(files) = self.dep_files(s) {
                for f in files {
                    guard::protect(&f, &format!("a `deps` file of stage `{}`", s.name));
                }
            }
            let named = named_values(s);
            let lock_path = guard::resolve(&self.p.lock_path());
            for n in named {
                let path = self.p.dir.join(n);
                // The lock file may be named (the report shows its hash): the runner writes it.
                if !n.is_empty() && path.is_file() && guard::resolve(&path) != lock_path {
                    guard::protect(&path, &format!("a file named by stage `{}`", s.name));
                }
            }
            if let Some(l) = lock.stages.get(&s.name) {
                // Thousands for an ingest: resolved on all cores, each folder once.
                let what = format!("a file stage `{}` read", s.name);
                let paths: Vec<PathBuf> = l.reads.keys().map(|r| self.abs(r)).collect();
                let real: Vec<PathBuf> = paths.par_iter().map(|p| resolver.resolve(p)).collect();
                for (p, r) in paths.iter().zip(&real) {
                    guard::protect_as(p, r, &what);
                }
            }
        }
        self.protected = vec![
            guard::Protected::new(&self.p.lock_path(), "the pipeline's lock file"),
            guard::Protected::new(
                &self.p.outdir_abs().join(".agingflow"),
                "agingflow's state folder",
            ),
        ];
    }

    /// Stores the outputs of a stage that has just been committed (now at their final paths) in
    /// the run cache on a thread of its own, so that its dependents start meanwhile. Each file is
    /// hard-linked or copied under a temporary name and renamed, and every object is verified
    /// before use, so a run killed halfway leaves nothing wrong behind (at worst a run not
    /// stored). agingflow replaces an output by renaming, never writes into it, so the linked
    /// bytes stay those hashed.
    fn store_in_background(&self, stage: &Stage, entry: StageLock) {
        let cache = self.cache.clone();
        let (name, outdir, rels) = (
            stage.name.clone(),
            self.p.outdir_abs(),
            stage.outputs.clone(),
        );
        let job = std::thread::spawn(move || {
            if let Err(e) = cache.store(&name, &entry, &outdir, &rels) {
                tracing::warn!("{name}: {e}");
            }
        });
        self.stores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(job);
    }

    /// Waits until every output handed to the background stores is in the run cache.
    pub fn finish_stores(&self) {
        let jobs: Vec<_> =
            std::mem::take(&mut *self.stores.lock().unwrap_or_else(|p| p.into_inner()));
        for j in jobs {
            let _ = j.join();
        }
    }

    /// Forgets every remembered hash: this invocation reads every file it hashes again, and its
    /// stages are not handed the memo (`run --force`, `--force-all`: what is forced is re-read,
    /// never taken on trust).
    pub fn forget_memo(&mut self) {
        self.memo = std::sync::Arc::new(
            stage_cli::hashes::HashMemo::fresh(&Self::memo_path(self.p)).own(own_dirs(self.p)),
        );
        hash::use_memo(self.memo.clone());
        self.memo_to_stages = false;
    }

    fn memo_path(p: &Pipeline) -> PathBuf {
        p.outdir_abs()
            .join(".agingflow")
            .join("cache")
            .join("hashes")
    }

    /// Saves the hash memo (a failure only costs hashing again next time: logged).
    pub fn save_memo(&self) {
        let path = Self::memo_path(self.p);
        let saved = self.memo.save(|path, bytes| {
            if let Some(d) = path.parent() {
                guard::create_dirs(d).map_err(std::io::Error::other)?;
            }
            guard::write_cache_file(path, bytes).map_err(std::io::Error::other)
        });
        if let Err(e) = saved {
            tracing::debug!("hash memo {}: {e}", path.display());
        }
    }

    /// Writes a file the user asked for (a JUnit report): never a protected path.
    pub fn write_own(&self, path: &Path, bytes: &[u8]) -> Result<(), guard::GuardError> {
        guard::check_with(path, &self.protected)?;
        guard::write_file(path, bytes)
    }

    fn abs(&self, rel: &str) -> PathBuf {
        self.p.dir.join(rel)
    }

    pub(crate) fn state_dir(&self, sub: &str) -> PathBuf {
        self.p.outdir_abs().join(".agingflow").join(sub)
    }

    /// The log file of a stage.
    pub fn log_path(&self, stage: &str) -> PathBuf {
        self.state_dir("logs").join(format!("{stage}.log"))
    }

    /// A path relative to the pipeline directory (with `..` where it lies outside).
    pub(crate) fn rel(&self, path: &Path) -> String {
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| self.p.dir.join(path));
        relative_to(&abs, &self.root)
    }

    /// The program of a stage: the name recorded in the key and the file to run and hash.
    fn program(&self, stage: &Stage) -> Result<(String, PathBuf), String> {
        let name = match &stage.action {
            Action::Uses(b) => builtin::binary_name(b),
            Action::Run(argv) => argv.first().cloned().unwrap_or_default(),
        };
        if name.contains('/') {
            let path = self.p.dir.join(&name);
            return if path.is_file() {
                Ok((name, path))
            } else {
                Err(format!("program `{name}` not found"))
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
            .ok_or_else(|| format!("program `{name}` not found next to agingflow nor on PATH"))
    }

    fn binary_hash(&self, path: &Path) -> Option<String> {
        let mut memo = self.binaries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = memo.get(path) {
            return Some(h.clone());
        }
        let h = hash::file(path).ok()?;
        memo.insert(path.to_owned(), h.clone());
        Some(h)
    }

    /// The argv of a stage with outputs at `out(port)`.
    fn argv(&self, stage: &Stage, out: &dyn Fn(&str) -> String) -> Vec<String> {
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
    fn dep_files(&self, stage: &Stage) -> Result<Vec<PathBuf>, String> {
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
                .map_err(|e| format!("bad glob `{pattern}` in deps: {e}"))?;
            if stop_signal() != 0 {
                return Err("stopped by a signal".to_owned());
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
                return Err(format!(
                    "deps entry `{pattern}` of stage `{}` matches no file",
                    stage.name
                ));
            }
        }
        Ok(files)
    }

    fn deps(&self, stage: &Stage) -> Result<BTreeMap<String, String>, String> {
        let files = self.dep_files(stage)?;
        files
            .par_iter()
            .map(|f| {
                hash::file(f)
                    .map(|h| (self.rel(f), h))
                    .map_err(|e| format!("{}: {e}", f.display()))
            })
            .collect()
    }

    /// The item cache of a stage (per curve results its binary reuses across runs):
    /// `<outdir>/.agingflow/cache/items/<stage>/<binary hash>`, so another binary starts afresh.
    pub fn item_cache_dir(&self, stage: &Stage) -> Option<PathBuf> {
        let (_, program) = self.program(stage).ok()?;
        let h = self.binary_hash(&program)?;
        Some(
            self.cache
                .root()
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
    ) -> Result<StageLock, String> {
        let (name, program) = self.program(stage)?;
        let binary = self.binary_hash(&program).map(|h| FileHash {
            path: name,
            blake3: h,
        });
        let mut inputs = BTreeMap::new();
        for (port, r) in &stage.inputs {
            let path = self.p.output_path(r).unwrap_or_default();
            let h = input_hash(r).ok_or_else(|| {
                format!("input `{port}` ({path}) is missing: run its stage first")
            })?;
            inputs.insert(port.clone(), FileHash { path, blake3: h });
        }
        Ok(StageLock {
            argv: argv_final(self, stage),
            binary,
            with: stage.with.clone(),
            inputs,
            deps: self.deps(stage)?,
            reads: Default::default(),
            reads_list: None,
            outputs: BTreeMap::new(),
        })
    }

    /// The reasons a stage is stale against its lock entry (empty: up to date).
    pub fn staleness(&self, stage: &Stage, locked: Option<&StageLock>) -> Vec<Reason> {
        self.staleness_with(stage, locked, true)
    }

    /// [`Ctx::staleness`]; with `every_read` false, the files the stage read are checked a chunk
    /// at a time and the rest are not once one has changed (`run` only needs to know that the
    /// stage is stale: when a campaign's manifest changed, its 12 000 raw files are not hashed
    /// before ingest starts; `plan` and `why` list every reason).
    pub fn staleness_with(
        &self,
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
        let argv = self.argv(stage, &|port| self.p.in_outdir(&stage.outputs[port]));
        if argv != old.argv {
            reasons.push(Reason::Argv {
                old: old.argv.clone(),
                new: argv,
            });
        }
        match self.program(stage) {
            Err(message) => reasons.push(Reason::Error { message }),
            Ok((name, path)) => {
                let new = self.binary_hash(&path);
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
        let keys: HashSet<&String> = stage.with.keys().chain(old.with.keys()).collect();
        let mut keys: Vec<_> = keys.into_iter().collect();
        keys.sort();
        for k in keys {
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
            jobs.push(Job::Input(port, self.p.output_path(r).unwrap_or_default()));
        }
        for (port, rel) in &stage.outputs {
            jobs.push(Job::Output(port, self.p.in_outdir(rel)));
        }
        let check = |job: &Job| -> Option<Reason> {
            match job {
                Job::Input(port, path) => {
                    let new = hash::path(&self.abs(path)).ok().flatten();
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
                    let new = hash::file(&self.abs(path)).ok();
                    let old_hash = old.reads.get(*path).cloned();
                    (new != old_hash).then(|| Reason::Read {
                        path: path.to_string(),
                        old: old_hash,
                        new,
                    })
                }
                Job::Output(port, path) => {
                    let new = hash::path(&self.abs(path)).ok().flatten();
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
        match self.deps(stage) {
            Err(message) => reasons.push(Reason::Error { message }),
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

    /// Reads the lock file, lets `f` change it and writes it back, under a lock shared by every
    /// runner process and thread.
    fn update_lock(&self, stage: &str, entry: StageLock) -> Result<(), String> {
        let _in_process = self.lock_mutex.lock().unwrap_or_else(|p| p.into_inner());
        let _across = FileLock::acquire(&self.state_dir("locks").join("lockfile.lock"))?;
        self.locks
            .commit(&self.p.lock_path(), stage, entry, |name| {
                self.p.stage(name).is_some()
            })
            .map_err(|e| e.to_string())
    }

    /// Whether the stage names the lock file in its `with` values or its command.
    fn names_lock_file(&self, stage: &Stage) -> bool {
        let lock = guard::resolve(&self.p.lock_path());
        named_values(stage)
            .iter()
            .any(|n| !n.is_empty() && guard::resolve(&self.p.dir.join(n)) == lock)
    }

    /// Writes the lock file with the entries this and other runs committed to its journal (see
    /// `lock::LockCache`): at the end of a run, before a stage that reads the lock file, by `gc`,
    /// and when the context of a run is dropped.
    pub fn flush_lock(&self) -> Result<(), String> {
        if !journal_of(self.p).exists() {
            return Ok(());
        }
        let _in_process = self.lock_mutex.lock().unwrap_or_else(|p| p.into_inner());
        let _across = FileLock::acquire(&self.state_dir("locks").join("lockfile.lock"))?;
        self.locks
            .fold(&self.p.lock_path(), |name| self.p.stage(name).is_some())
            .map_err(|e| e.to_string())
    }
}

/// The values a stage names that may be files: its `with` strings and the words of its command
/// without a placeholder.
fn named_values(stage: &Stage) -> Vec<&str> {
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

/// The folders of agingflow's own files, whose hashes the memo keeps without ctime: the output
/// directory, as the runner names its files and resolved.
fn own_dirs(p: &Pipeline) -> Vec<PathBuf> {
    let out = p.outdir_abs();
    let real = guard::resolve(&out);
    if real == out {
        vec![out]
    } else {
        vec![out, real]
    }
}

/// The journal of the lock file's entries committed during runs
/// (`<outdir>/.agingflow/<lock name>.journal`, see `lock::LockCache`).
pub(crate) fn journal_of(p: &Pipeline) -> PathBuf {
    let name = p
        .lock_path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    p.outdir_abs()
        .join(".agingflow")
        .join(format!("{name}.journal"))
}

/// A path relative to `base` (both absolute), `..` where it lies outside.
pub fn relative_to(path: &Path, base: &Path) -> String {
    normalize(Path::new(&guard::relative(path, base)))
}

/// An exclusive advisory lock on a file, released on drop.
pub(crate) struct FileLock {
    file: File,
}

impl FileLock {
    pub(crate) fn acquire(path: &Path) -> Result<FileLock, String> {
        if let Some(dir) = path.parent() {
            guard::create_dirs(dir).map_err(|e| e.to_string())?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::info!(
                    "waiting for {} (another agingflow run holds it)",
                    path.display()
                );
                file.lock()
                    .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", path.display()));
            }
        }
        Ok(FileLock { file })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// How a stage ended in a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ran,
    /// The outputs of an earlier run with the same key, restored from the run cache.
    Restored,
    UpToDate,
    Failed(String),
    Skipped(String),
    NotSelected,
}

impl Outcome {
    /// Whether the stage's outputs are good to read: it ran, was restored, was up to date or was
    /// not selected.
    pub(crate) fn ok(&self) -> bool {
        matches!(
            self,
            Outcome::Ran | Outcome::Restored | Outcome::UpToDate | Outcome::NotSelected
        )
    }
}

/// Runs one stage if it is stale (or forced), holding its lock.
pub fn run_stage(ctx: &Ctx, stage: &Stage, forced: bool) -> Outcome {
    let _lock =
        match FileLock::acquire(&ctx.state_dir("locks").join(format!("{}.lock", stage.name))) {
            Ok(l) => l,
            Err(e) => return Outcome::Failed(e),
        };
    // A missing `deps` file is reported before anything runs.
    if let Err(e) = ctx.dep_files(stage) {
        return Outcome::Failed(e);
    }
    // Decided again under the lock: another runner may have just run this stage.
    let locked = ctx.locks.entry(&ctx.p.lock_path(), &stage.name);
    // Enough to know that it is stale: not every file it read is hashed once one has changed.
    let reasons = ctx.staleness_with(stage, locked.as_ref(), false);
    if let Some(Reason::InputMissing { port, path }) = reasons
        .iter()
        .find(|r| matches!(r, Reason::InputMissing { .. }))
    {
        return Outcome::Failed(format!(
            "input `{port}` ({path}) is missing: run its stage first"
        ));
    }
    if let Some(Reason::Error { message }) =
        reasons.iter().find(|r| matches!(r, Reason::Error { .. }))
    {
        return Outcome::Failed(message.clone());
    }
    if reasons.is_empty() && !forced {
        return Outcome::UpToDate;
    }
    for r in &reasons {
        tracing::debug!("{}: {r}", stage.name);
    }
    if stop_signal() != 0 {
        return Outcome::Skipped("the run was stopped".into());
    }
    // A stage that reads the lock file (the report's provenance) sees every entry committed.
    if ctx.names_lock_file(stage)
        && let Err(e) = ctx.flush_lock()
    {
        return Outcome::Failed(e);
    }
    execute(ctx, stage, locked.as_ref(), forced)
}

/// Hashes of a stage's inputs and deps taken before it starts, compared with their hashes after it
/// ends: a file changed while the stage ran fails the stage, so the lock never records a hash of
/// data the outputs were not made from.
#[derive(Clone)]
struct Before {
    inputs: BTreeMap<String, FileHash>,
    deps: BTreeMap<String, String>,
}

fn hash_inputs(ctx: &Ctx, stage: &Stage) -> Result<Before, String> {
    let mut inputs = BTreeMap::new();
    for (port, r) in &stage.inputs {
        let path = ctx.p.output_path(r).unwrap_or_default();
        let h = hash::path(&ctx.abs(&path))
            .ok()
            .flatten()
            .ok_or_else(|| format!("input `{port}` ({path}) is missing: run its stage first"))?;
        inputs.insert(port.clone(), FileHash { path, blake3: h });
    }
    Ok(Before {
        inputs,
        deps: ctx.deps(stage)?,
    })
}

fn execute(ctx: &Ctx, stage: &Stage, locked: Option<&StageLock>, forced: bool) -> Outcome {
    let n = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = format!("{}-{}-{n}", stage.name, std::process::id());
    let staging_rel = ctx.p.in_outdir(&format!(".agingflow/staging/{id}"));
    let staging = ctx.abs(&staging_rel);
    let reads_file = ctx.state_dir("staging").join(format!("{id}.reads"));
    let result = execute_in(
        ctx,
        stage,
        locked,
        forced,
        &staging,
        &staging_rel,
        &reads_file,
    );
    let _ = guard::remove_scratch(&staging);
    let _ = guard::remove_scratch(&reads_file);
    let dropped_file = reads_file.with_extension("dropped");
    if result == Outcome::Ran
        && let Ok(text) = std::fs::read_to_string(&dropped_file)
    {
        let mut d = ctx.dropped.lock().unwrap_or_else(|e| e.into_inner());
        for line in text.lines().filter(|l| !l.is_empty()) {
            d.push((stage.name.clone(), line.to_owned()));
        }
    }
    let _ = guard::remove_scratch(&dropped_file);
    result
}

/// The last lines of a stage's log, indented, for the failure message.
fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &all[all.len().saturating_sub(lines)..];
    tail.iter().map(|l| format!("\n    | {l}")).collect()
}

/// How a stage's process ended.
enum Ended {
    Exited(std::process::ExitStatus),
    Stopped(usize),
    TimedOut(Duration),
}

/// Waits for a stage's process group, stopping it on a runner signal or its time limit: SIGTERM
/// to the group, then SIGKILL after [`GRACE`]. A thread blocks in `wait` for the stage's exit, so
/// the next stage starts as soon as this one ends (polling with naps cost up to 20 ms a stage);
/// the runner's signals and the time limit are looked at every 20 ms meanwhile.
fn wait_stage(child: &mut std::process::Child, limit: Option<Duration>) -> std::io::Result<Ended> {
    use std::sync::mpsc::RecvTimeoutError;
    let group = rustix::process::Pid::from_child(child);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        scope.spawn(move || {
            let _ = tx.send(child.wait());
        });
        let exited =
            |r: Result<std::io::Result<std::process::ExitStatus>, RecvTimeoutError>| match r {
                Ok(status) => Some(status),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(Err(std::io::Error::other(
                    "the thread waiting for the stage ended",
                ))),
            };
        let start = Instant::now();
        let ended = loop {
            if let Some(status) = exited(rx.recv_timeout(Duration::from_millis(20))) {
                return status.map(Ended::Exited);
            }
            let sig = stop_signal();
            if sig != 0 {
                break Ended::Stopped(sig);
            }
            if let Some(t) = limit
                && start.elapsed() >= t
            {
                break Ended::TimedOut(t);
            }
        };
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
        let term = Instant::now();
        let mut leader_gone = false;
        loop {
            if leader_gone {
                std::thread::sleep(Duration::from_millis(10));
            } else {
                leader_gone = exited(rx.recv_timeout(Duration::from_millis(10))).is_some();
            }
            if leader_gone && rustix::process::test_kill_process_group(group).is_err() {
                break;
            }
            if term.elapsed() >= GRACE {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                if !leader_gone {
                    let _ = rx.recv();
                }
                break;
            }
        }
        // Reap the group's other members, if the leader went first: wait until none is left.
        let reap = Instant::now();
        while rustix::process::test_kill_process_group(group).is_ok() && reap.elapsed() < GRACE {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(ended)
    })
}

fn execute_in(
    ctx: &Ctx,
    stage: &Stage,
    locked: Option<&StageLock>,
    forced: bool,
    staging: &Path,
    staging_rel: &str,
    reads_file: &Path,
) -> Outcome {
    let fail = |m: String| Outcome::Failed(m);
    // Where the runner's own time goes around the stage, for `-v`.
    let t0 = Instant::now();
    let marks = std::cell::RefCell::new(Vec::<(&str, f64)>::new());
    let mark = |what: &'static str| marks.borrow_mut().push((what, t0.elapsed().as_secs_f64()));
    for rel in stage.outputs.values() {
        let parent = staging.join(rel);
        if let Some(dir) = parent.parent()
            && let Err(e) = guard::create_dirs(dir)
        {
            return fail(e.to_string());
        }
    }
    let (_, program) = match ctx.program(stage) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    mark("program found");
    let before = match hash_inputs(ctx, stage) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    mark("inputs hashed");
    // A run with this key seen before (and whose reads still hold) is restored, not run.
    if !forced {
        let key = match record(ctx, stage, before.clone(), BTreeMap::new(), BTreeMap::new()) {
            Ok(k) => k,
            Err(e) => return fail(e),
        };
        mark("key made");
        let hash_now = |p: &str| hash::file(&ctx.abs(p)).ok();
        if let Some(hit) = ctx.cache.lookup(&key, &hash_now) {
            match restore(ctx, stage, locked, staging, key, &hit) {
                Ok(o) => return o,
                // A cache that cannot be used is no failure: the stage runs.
                Err(e) => {
                    tracing::warn!("{}: {e}; running the stage instead", stage.name);
                    let _ = guard::remove_scratch(staging);
                    for rel in stage.outputs.values() {
                        if let Some(dir) = staging.join(rel).parent()
                            && let Err(e) = guard::create_dirs(dir)
                        {
                            return fail(e.to_string());
                        }
                    }
                }
            }
        }
    }
    mark("run cache looked up");
    let staged = |port: &str| normalize(&Path::new(staging_rel).join(&stage.outputs[port]));
    let argv = ctx.argv(stage, &staged);
    let log_path = ctx.log_path(&stage.name);
    let log = match guard::create_log(&log_path) {
        Ok(f) => f,
        Err(e) => return fail(e.to_string()),
    };
    let log_err = match log.try_clone() {
        Ok(f) => f,
        Err(e) => return fail(format!("cannot open {}: {e}", log_path.display())),
    };
    let mut cmd = Command::new(&program);
    if let Some(dir) = ctx.item_cache_dir(stage) {
        cmd.env(tables::items::ENV, dir);
    }
    let memo = Ctx::memo_path(ctx.p);
    if ctx.memo_to_stages && memo.is_file() {
        cmd.env(stage_cli::hashes::MEMO_ENV, memo);
    }
    cmd.args(argv.iter().skip(1))
        .current_dir(&ctx.p.dir)
        .env(READS_ENV, reads_file)
        .env(stage_cli::DROPPED_ENV, reads_file.with_extension("dropped"))
        .env("AGINGFLOW_STAGE", &stage.name)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err));
    // Its own process group, so that a signal to the runner reaches the whole stage through it.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    if stop_signal() != 0 {
        return Outcome::Skipped("the run was stopped".into());
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot start {}: {e}", program.display())),
    };
    mark("stage started");
    let log_rel = ctx.rel(&log_path);
    let status = match wait_stage(&mut child, stage.timeout.or(ctx.default_timeout)) {
        Ok(Ended::Exited(s)) => s,
        Ok(Ended::Stopped(sig)) => {
            return fail(format!(
                "stopped: the runner got signal {sig}; log: {log_rel}"
            ));
        }
        Ok(Ended::TimedOut(t)) => {
            return fail(format!(
                "timed out after {} (timeout: {} s); log: {log_rel}{}",
                secs_text(t),
                t.as_secs_f64(),
                log_tail(&log_path, 10)
            ));
        }
        Err(e) => return fail(format!("cannot wait for {}: {e}", program.display())),
    };
    if !status.success() {
        let how = match status.code() {
            Some(c) => format!("exit code {c}"),
            None => "killed by a signal".to_owned(),
        };
        return fail(format!("{how}; log: {log_rel}{}", log_tail(&log_path, 10)));
    }
    for (port, rel) in &stage.outputs {
        if std::fs::symlink_metadata(staging.join(rel)).is_err() {
            return fail(format!(
                "the stage did not write output `{port}` ({rel}); log: {log_rel}{}",
                log_tail(&log_path, 10)
            ));
        }
    }
    if let Some(mut msg) = failed_checks(ctx, stage, staging, "checks failed:") {
        let kept = ctx.state_dir("failed").join(&stage.name);
        let _ = guard::rename_scratch(staging, &kept);
        msg.push_str(&format!(
            "\n    outputs kept for inspection in {}",
            ctx.rel(&kept)
        ));
        return fail(msg);
    }
    mark("stage ended");
    // What the stage read must not have changed while it ran.
    let after = match hash_inputs(ctx, stage) {
        Ok(a) => a,
        Err(e) => return fail(format!("{e} (it vanished while the stage ran)")),
    };
    for (port, f) in &before.inputs {
        if after.inputs.get(port).map(|a| &a.blake3) != Some(&f.blake3) {
            return fail(format!(
                "input `{port}` ({}) changed while the stage ran: its outputs are not kept; run again",
                f.path
            ));
        }
    }
    if after.deps != before.deps {
        let changed: Vec<&String> = before
            .deps
            .keys()
            .chain(after.deps.keys())
            .filter(|k| before.deps.get(*k) != after.deps.get(*k))
            .collect();
        return fail(format!(
            "dependency {} changed while the stage ran: its outputs are not kept; run again",
            changed.first().map(|s| s.as_str()).unwrap_or("?")
        ));
    }
    mark("inputs hashed again");
    let reads = match reads_of(ctx, reads_file, &before) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    mark("reads hashed");
    // Directory outputs carry agingflow's marker, so the next run may replace them.
    let mut outputs = BTreeMap::new();
    for (port, rel) in &stage.outputs {
        let out = staging.join(rel);
        if std::fs::symlink_metadata(&out).is_ok_and(|m| m.is_dir())
            && let Err(e) = guard::mark_dir(&out)
        {
            return fail(e.to_string());
        }
        // The stage has exited: nothing writes its outputs any more, so their hashes are
        // remembered (see `hash::path_settled`).
        let hash = match hash::path_settled(&out) {
            Ok(Some(h)) => h,
            Ok(None) => return fail(format!("output `{port}` vanished")),
            Err(e) => return fail(format!("cannot hash output `{port}`: {e}")),
        };
        outputs.insert(
            port.clone(),
            FileHash {
                path: ctx.p.in_outdir(rel),
                blake3: hash,
            },
        );
    }
    let entry = match record(ctx, stage, before, outputs, reads) {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    mark("outputs hashed");
    // Into the run cache from their final paths once committed, while dependents run (a cache
    // that cannot take them is a warning).
    let stored = entry.clone();
    let o = commit(ctx, stage, locked, staging, entry, true, Outcome::Ran);
    mark("committed");
    if o == Outcome::Ran {
        ctx.store_in_background(stage, stored);
    }
    let times: Vec<String> = marks
        .borrow()
        .iter()
        .map(|(what, t)| format!("{what} {t:.3}"))
        .collect();
    tracing::debug!(
        "{}: seconds from preparing: {}",
        stage.name,
        times.join(", ")
    );
    o
}

/// Outputs and lock entry are one commit: every output moves into place, then the lock is
/// written; when any step fails, the outputs moved so far are put back. `done` on success.
/// `fresh_reads`: the entry's reads were resolved by `reads_of` just now (their paths are real).
fn commit(
    ctx: &Ctx,
    stage: &Stage,
    locked: Option<&StageLock>,
    staging: &Path,
    entry: StageLock,
    fresh_reads: bool,
    done: Outcome,
) -> Outcome {
    let applied = match commit_outputs(ctx, stage, locked, staging, &entry, fresh_reads) {
        Ok(a) => a,
        Err(e) => return Outcome::Failed(e),
    };
    match ctx.update_lock(&stage.name, entry) {
        Ok(()) => {
            applied.finish();
            done
        }
        Err(e) => {
            applied.rollback();
            Outcome::Failed(format!("{e}; the previous outputs were restored"))
        }
    }
}

/// The message of the stage's failed checks on the outputs in `staging`, after `header`; None
/// when all pass or checks are off.
fn failed_checks(ctx: &Ctx, stage: &Stage, staging: &Path, header: &str) -> Option<String> {
    if ctx.no_checks || stage.checks.is_empty() {
        return None;
    }
    let results = evaluate_checks(stage, |port| staging.join(&stage.outputs[port]));
    let failed: Vec<_> = results.iter().filter(|r| !r.outcome.passed).collect();
    if failed.is_empty() {
        return None;
    }
    let mut msg = String::from(header);
    for r in failed {
        msg.push_str(&format!(
            "\n    {}: {}: {}",
            r.port,
            r.expect,
            r.outcome.detail.trim_end()
        ));
    }
    Some(msg)
}

/// Places the outputs of a cached run in `staging`, evaluates the stage's checks on them and
/// commits them with their lock entry, as a run would. `Err` when the cache could not supply
/// them (the stage then runs); a failed check or commit is the stage's failure.
fn restore(
    ctx: &Ctx,
    stage: &Stage,
    locked: Option<&StageLock>,
    staging: &Path,
    key: StageLock,
    hit: &Hit,
) -> Result<Outcome, String> {
    ctx.cache.materialize(hit, staging, &stage.outputs)?;
    if let Some(msg) = failed_checks(
        ctx,
        stage,
        staging,
        "checks failed on the outputs restored from the run cache:",
    ) {
        return Ok(Outcome::Failed(msg));
    }
    let entry = StageLock {
        reads: hit.record.reads.clone(),
        outputs: hit.record.outputs.clone(),
        ..key
    };
    Ok(commit(
        ctx,
        stage,
        locked,
        staging,
        entry,
        false,
        Outcome::Restored,
    ))
}

fn secs_text(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Moves a stage's outputs into place together, after checking each target: not a protected
/// path, not one of the files the stage read, and a directory in the way only when agingflow made
/// it (a directory output of an older agingflow, recorded in the lock file unchanged, is marked
/// first).
fn commit_outputs(
    ctx: &Ctx,
    stage: &Stage,
    locked: Option<&StageLock>,
    staging: &Path,
    entry: &StageLock,
    fresh_reads: bool,
) -> Result<guard::Applied, String> {
    // What the stage read is protected for the rest of the run (registered once, looked up by
    // path), beside the lock file and the state folder.
    let extra = ctx.protected.clone();
    // Resolved on all cores: an ingest reads thousands of files. Reads `reads_of` resolved just
    // now are real paths below the pipeline folder already (relative to its real path, no `..`):
    // not resolved a second time.
    let what = format!("a file stage `{}` read", stage.name);
    let rels: Vec<&String> = entry.reads.keys().collect();
    let resolver = guard::Resolver::new();
    let (reads, real): (Vec<PathBuf>, Vec<PathBuf>) = rels
        .par_iter()
        .map(|rel| {
            let path = ctx.abs(rel);
            let below = Path::new(rel.as_str())
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            let real = if fresh_reads && below {
                ctx.root.join(rel.as_str())
            } else {
                resolver.resolve(&path)
            };
            (path, real)
        })
        .unzip();
    for (path, real) in reads.iter().zip(&real) {
        guard::protect_as(path, real, &what);
    }
    let mut moves = Vec::new();
    let outdir = guard::resolve(&ctx.p.outdir_abs());
    for (port, rel) in &stage.outputs {
        let target = ctx.abs(&ctx.p.in_outdir(rel));
        guard::check_with(&target, &extra)
            .map_err(|e| format!("output not moved into place, nothing changed: {e}"))?;
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir())
            && std::fs::symlink_metadata(target.join(guard::MARKER)).is_err()
            && let Some(old) = locked.and_then(|l| l.outputs.get(port))
            && hash::path(&target).ok().flatten().as_deref() == Some(old.blake3.as_str())
        {
            guard::mark_dir(&target).map_err(|e| e.to_string())?;
        }
        // A target reached through a symlink that leaves the output directory is refused.
        if !guard::resolve(&target).starts_with(&outdir) {
            return Err(format!(
                "output `{port}` ({rel}) would be written outside the output directory {} (through a symlink): refused",
                ctx.p.outdir
            ));
        }
        // A file in the way is replaced only when agingflow wrote it: this stage's output of
        // record, or a table agingflow wrote.
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_file())
            && locked
                .and_then(|l| l.outputs.get(port))
                .map(|f| f.path.as_str())
                != Some(ctx.p.in_outdir(rel).as_str())
            && !tables::is_agingflow_table(&target)
        {
            return Err(format!(
                "output not moved into place, nothing changed: {} exists and agingflow has no record of writing it (not in the lock file as output `{port}`); move it away or choose another output path",
                ctx.p.in_outdir(rel)
            ));
        }
        moves.push((staging.join(rel), target));
    }
    guard::Transaction::prepare(&moves, &extra)
        .and_then(guard::Transaction::apply)
        .map_err(|e| format!("output not moved into place, nothing changed: {e}"))
}

/// The files a stage reported reading, relative to the pipeline directory, with their hashes now;
/// a file whose hash the stage reported and that differs now changed while the stage ran.
fn reads_of(
    ctx: &Ctx,
    reads_file: &Path,
    before: &Before,
) -> Result<BTreeMap<String, String>, String> {
    let listed = std::fs::read_to_string(reads_file).unwrap_or_default();
    let known: HashSet<String> = before
        .inputs
        .values()
        .map(|f| f.path.clone())
        .chain(before.deps.keys().cloned())
        .collect();
    let lines: Vec<&str> = listed.lines().filter(|l| !l.trim().is_empty()).collect();
    // Paths made relative (symlinks resolved) on all cores: a campaign reports thousands. A
    // regular file is `lstat`ed once, for its resolution and its hash (through the memo).
    let resolver = guard::Resolver::new();
    // (path, the hash the stage reported, the hash now where already known).
    type Now = Option<std::io::Result<String>>;
    type Parsed = (String, Option<String>, Now);
    let parsed: Vec<Parsed> = lines
        .par_iter()
        .map(|line| {
            let (path, hash) = match line.rsplit_once('\t') {
                Some((p, h)) => (p, Some(h.trim().to_owned())),
                None => (*line, None),
            };
            let abs = ctx.p.dir.join(path.trim());
            match std::fs::symlink_metadata(&abs) {
                Ok(m) if m.file_type().is_file() => {
                    let real = resolver.resolve_plain(&abs);
                    let rel = relative_to(&real, &ctx.root);
                    let now = (!known.contains(&rel)).then(|| hash::file_known(&abs, &m));
                    (rel, hash, now)
                }
                _ => (relative_to(&resolver.resolve(&abs), &ctx.root), hash, None),
            }
        })
        .collect();
    let mut seen: BTreeMap<String, (Option<String>, Now)> = BTreeMap::new();
    for (rel, hash, now) in parsed {
        if known.contains(&rel) {
            continue;
        }
        let entry = seen.entry(rel).or_insert((None, None));
        if hash.is_some() {
            entry.0 = hash;
        }
        if entry.1.is_none() {
            entry.1 = now;
        }
    }
    let checked: Vec<(String, (Option<String>, Now))> = seen.into_iter().collect();
    checked
        .into_par_iter()
        .map(|(p, (reported, now))| {
            let now = now
                .unwrap_or_else(|| hash::file(&ctx.abs(&p)))
                .map_err(|e| format!("file read {p}: {e}"))?;
            if let Some(r) = reported
                && r != now
            {
                return Err(format!(
                    "file {p} changed while the stage ran (the stage read another version): its outputs are not kept; run again"
                ));
            }
            Ok((p, now))
        })
        .collect()
}

/// The lock entry of a stage that just succeeded.
fn record(
    ctx: &Ctx,
    stage: &Stage,
    before: Before,
    outputs: BTreeMap<String, FileHash>,
    reads: BTreeMap<String, String>,
) -> Result<StageLock, String> {
    let (name, program) = ctx.program(stage)?;
    let binary = ctx.binary_hash(&program).map(|h| FileHash {
        path: name,
        blake3: h,
    });
    Ok(StageLock {
        argv: argv_final(ctx, stage),
        binary,
        with: stage.with.clone(),
        inputs: before.inputs,
        deps: before.deps,
        reads: std::sync::Arc::new(reads),
        reads_list: None,
        outputs,
    })
}

fn argv_final(ctx: &Ctx, stage: &Stage) -> Vec<String> {
    ctx.argv(stage, &|port| ctx.p.in_outdir(&stage.outputs[port]))
}

/// What every executor does before its first stage: the state folder made, the lock file found
/// writable, killed runs' staging removed.
pub(crate) fn prepare_run(ctx: &Ctx) -> Result<(), String> {
    guard::create_dirs(&ctx.state_dir("staging"))
        .map_err(|e| format!("cannot create the output directory: {e}"))?;
    check_writable(ctx)?;
    clean_stale_staging(ctx);
    Ok(())
}

/// Removes the staging folders and read lists of killed runs. A staging folder exists only while
/// its stage's lock (`locks/<stage>.lock`) is held, so one whose lock can be taken now is stale.
/// The lock, not the process id in the name, decides: under the Slurm executor the stage may run
/// on another node, where that process id means nothing here.
fn clean_stale_staging(ctx: &Ctx) {
    let dir = ctx.state_dir("staging");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let stem = name.strip_suffix(".reads").unwrap_or(&name);
        // `<stage>-<pid>-<n>`
        let mut parts = stem.rsplitn(3, '-');
        let (_, pid, stage) = (parts.next(), parts.next(), parts.next());
        let (Some(_), Some(stage)) = (pid.and_then(|p| p.parse::<i32>().ok()), stage) else {
            continue;
        };
        let lock = ctx.state_dir("locks").join(format!("{stage}.lock"));
        let in_use = std::fs::OpenOptions::new()
            .write(true)
            .open(&lock)
            .is_ok_and(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
        if !in_use {
            tracing::debug!("removing stale staging {name}");
            let _ = guard::remove_scratch(&e.path());
        }
    }
}

/// Whether the runner can write the lock file beside the pipeline file: found before any stage
/// runs, not after its outputs moved.
fn check_writable(ctx: &Ctx) -> Result<(), String> {
    let lock = ctx.p.lock_path();
    let probe = lock.with_file_name(format!(
        ".{}.agingflow-tmp.probe.{}",
        lock.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut made = guard::write_file(&probe, b"");
    let _ = guard::remove_scratch(&probe);
    if made.is_ok() && std::fs::symlink_metadata(&lock).is_ok_and(|m| !m.is_file()) {
        made = Err(guard::GuardError::Input {
            path: lock.clone(),
            problem: "is not a file (a directory or something else stands there)".into(),
        });
    }
    made.map_err(|e| {
        format!(
            "cannot write the lock file {} beside the pipeline file: {e}; nothing was run",
            lock.display()
        )
    })
}

/// Evaluates a stage's rules with each output port at `path(port)`.
pub fn evaluate_checks(stage: &Stage, path: impl Fn(&str) -> PathBuf) -> Vec<CheckResult> {
    stage
        .checks
        .iter()
        .map(|c| CheckResult {
            stage: stage.name.clone(),
            port: c.port.clone(),
            expect: c.expect.clone(),
            outcome: checks::evaluate(&c.rule, &path(&c.port)),
        })
        .collect()
}

/// What `plan` and `status` say of a stage.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub stage: String,
    /// `run`, `up-to-date` or `skip` (not selected).
    pub action: &'static str,
    pub reasons: Vec<Reason>,
}

/// Which stages a run selects and forces.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub force: Vec<String>,
    pub force_all: bool,
    pub only: Option<String>,
    pub until: Option<String>,
    pub from: Option<String>,
}

impl Selection {
    /// The selected stage names; an error names an unknown stage.
    pub fn stages(&self, p: &Pipeline) -> Result<HashSet<String>, String> {
        for name in self
            .force
            .iter()
            .chain(&self.only)
            .chain(&self.until)
            .chain(&self.from)
        {
            if p.stage(name).is_none() {
                let known: Vec<_> = p.stages.iter().map(|s| s.name.as_str()).collect();
                return Err(format!(
                    "no stage `{name}` in {}; stages: {}",
                    p.file.display(),
                    known.join(", ")
                ));
            }
        }
        let mut set: HashSet<String> = p.stages.iter().map(|s| s.name.clone()).collect();
        if let Some(only) = &self.only {
            set = HashSet::from([only.clone()]);
        }
        if let Some(until) = &self.until {
            let mut keep = HashSet::new();
            let mut todo = vec![until.clone()];
            while let Some(n) = todo.pop() {
                if keep.insert(n.clone())
                    && let Some(s) = p.stage(&n)
                {
                    todo.extend(s.inputs.values().map(|r| r.stage.clone()));
                }
            }
            set.retain(|n| keep.contains(n));
        }
        if let Some(from) = &self.from {
            let mut keep = HashSet::new();
            let mut todo = vec![from.clone()];
            while let Some(n) = todo.pop() {
                if keep.insert(n.clone()) {
                    todo.extend(p.children(&n).iter().map(|s| s.name.clone()));
                }
            }
            set.retain(|n| keep.contains(n));
        }
        if set.is_empty() {
            return Err(format!(
                "the selection ({}) names no stage to run: {}",
                self.describe(),
                "--only, --until and --from narrow one another, and these leave nothing"
            ));
        }
        Ok(set)
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (flag, v) in [
            ("--only", &self.only),
            ("--until", &self.until),
            ("--from", &self.from),
        ] {
            if let Some(v) = v {
                parts.push(format!("{flag} {v}"));
            }
        }
        parts.join(" ")
    }

    pub(crate) fn forced(&self, name: &str) -> bool {
        self.force_all || self.force.iter().any(|f| f == name)
    }
}

/// What `run` would do, without running: a stage downstream of one that will run is marked with
/// an `upstream` reason (it runs unless the upstream output comes out byte-identical). A stale
/// stage whose key (with the outputs its upstream stages would restore) is in the run cache is
/// planned as `restore`.
pub fn plan(ctx: &Ctx, sel: &Selection) -> Result<Vec<Planned>, String> {
    let selected = sel.stages(ctx.p)?;
    let lock = ctx.locks.read(&ctx.p.lock_path());
    let mut will_run: HashSet<String> = HashSet::new();
    // Stage name to the outputs (port to hash) it would restore.
    let mut will_restore: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let mut out = Vec::new();
    for stage in ctx.p.topo_order() {
        if !selected.contains(&stage.name) {
            out.push(Planned {
                stage: stage.name.clone(),
                action: "skip",
                reasons: vec![],
            });
            continue;
        }
        let mut reasons = Vec::new();
        let forced = sel.forced(&stage.name);
        if forced {
            reasons.push(Reason::Forced);
        }
        let current = |r: &PortRef| {
            hash::path(&ctx.abs(&ctx.p.output_path(r).unwrap_or_default()))
                .ok()
                .flatten()
        };
        // An upstream restore that brings back the bytes there now changes nothing here.
        let mut upstream: Vec<&str> = stage
            .inputs
            .values()
            .filter(|r| {
                will_run.contains(&r.stage)
                    || will_restore
                        .get(&r.stage)
                        .is_some_and(|o| o.get(&r.port) != current(r).as_ref())
            })
            .map(|r| r.stage.as_str())
            .collect();
        upstream.sort();
        upstream.dedup();
        let own = ctx.staleness(stage, lock.stages.get(&stage.name));
        // An input about to be rewritten upstream says more than its current hash.
        let own: Vec<Reason> = own
            .into_iter()
            .filter(|r| {
                upstream.is_empty()
                    || !matches!(r, Reason::Input { .. } | Reason::InputMissing { .. })
            })
            .collect();
        reasons.extend(own);
        reasons.extend(upstream.iter().map(|s| Reason::Upstream {
            stage: s.to_string(),
        }));
        let mut action = if reasons.is_empty() {
            "up-to-date"
        } else {
            "run"
        };
        if action == "run" && !forced && !upstream.iter().any(|u| will_run.contains(*u)) {
            let input_hash = |r: &PortRef| match will_restore.get(&r.stage) {
                Some(o) => o.get(&r.port).cloned(),
                None => current(r),
            };
            let hash_now = |p: &str| hash::file(&ctx.abs(p)).ok();
            if let Ok(key) = ctx.key_entry(stage, &input_hash)
                && let Some(hit) = ctx.cache.lookup(&key, &hash_now)
            {
                action = "restore";
                will_restore.insert(
                    stage.name.clone(),
                    hit.record
                        .outputs
                        .iter()
                        .map(|(port, f)| (port.clone(), f.blake3.clone()))
                        .collect(),
                );
            }
        }
        if action == "run" {
            will_run.insert(stage.name.clone());
        }
        out.push(Planned {
            stage: stage.name.clone(),
            action,
            reasons,
        });
    }
    Ok(out)
}

/// One finished stage of a run.
#[derive(Debug, Clone)]
pub struct Finished {
    pub stage: String,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

/// Where a stage is in a run.
/// A stage settled without running (skipped): reported and listed, with no time.
fn record_unrun(
    stage: &str,
    o: &Outcome,
    report: &(dyn Fn(&Finished) + Sync),
    finished: &mut Vec<Finished>,
) {
    let f = Finished {
        stage: stage.to_owned(),
        outcome: o.clone(),
        elapsed: Duration::ZERO,
    };
    report(&f);
    finished.push(f);
}

/// Runs the selected stages, up to `jobs` at once, calling `report` as each one finishes.
pub fn run(
    ctx: &Ctx,
    sel: &Selection,
    jobs: usize,
    keep_going: bool,
    report: &(dyn Fn(&Finished) + Sync),
) -> Result<Vec<Finished>, String> {
    let selected = sel.stages(ctx.p)?;
    prepare_run(ctx)?;
    let order = ctx.p.topo_order();
    // Each stage's place in the order, its distinct upstream stages and its dependents: a stage
    // becomes ready when its last upstream stage is done, so each event costs what it touches,
    // not a pass over every stage (4 000 `foreach` items made the run quadratic).
    let place: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut upstream_left: Vec<usize> = vec![0; order.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); order.len()];
    for (i, s) in order.iter().enumerate() {
        let ups: BTreeSet<usize> = s
            .inputs
            .values()
            .filter_map(|r| place.get(r.stage.as_str()).copied())
            .collect();
        upstream_left[i] = ups.len();
        for u in ups {
            dependents[u].push(i);
        }
    }
    let mut outcome: Vec<Option<Outcome>> = vec![None; order.len()];
    // Stages whose upstream stages all succeeded and which are to run, by place in the order.
    let mut ready: BTreeSet<usize> = BTreeSet::new();
    let mut finished = Vec::new();
    let (tx, rx) = std::sync::mpsc::channel::<Finished>();
    let jobs = jobs.max(1);

    // The stages with no upstream stage: ready, or settled as not selected.
    let mut roots = Vec::new();
    for (i, s) in order.iter().enumerate() {
        if upstream_left[i] == 0 {
            if selected.contains(&s.name) {
                ready.insert(i);
            } else {
                roots.push(i);
            }
        }
    }
    // Marks stage `i` done and settles or readies what that frees, in order.
    let mut done = |i: usize,
                    o: Outcome,
                    outcome: &mut Vec<Option<Outcome>>,
                    ready: &mut BTreeSet<usize>,
                    finished: &mut Vec<Finished>| {
        let mut todo = vec![(i, o)];
        while let Some((i, o)) = todo.pop() {
            outcome[i] = Some(o);
            for &d in &dependents[i] {
                upstream_left[d] -= 1;
                if upstream_left[d] > 0 {
                    continue;
                }
                let s = order[d];
                let bad = s.inputs.values().find(|r| {
                    place
                        .get(r.stage.as_str())
                        .and_then(|&u| outcome[u].as_ref())
                        .is_some_and(|o| !o.ok())
                });
                let settled = if !selected.contains(&s.name) {
                    Some(Outcome::NotSelected)
                } else {
                    bad.map(|r| Outcome::Skipped(format!("upstream `{}` did not succeed", r.stage)))
                };
                match settled {
                    Some(o) => {
                        if o != Outcome::NotSelected {
                            record_unrun(&s.name, &o, report, finished);
                        }
                        todo.push((d, o));
                    }
                    None => {
                        ready.insert(d);
                    }
                }
            }
        }
    };
    for i in roots {
        done(
            i,
            Outcome::NotSelected,
            &mut outcome,
            &mut ready,
            &mut finished,
        );
    }
    std::thread::scope(|scope| {
        let mut running = 0usize;
        let mut stop = false;
        loop {
            // Start what is ready, in order, while there is room; after a failure or a signal
            // every ready stage is skipped instead.
            while let Some(&i) = ready.first() {
                let why = if stop_signal() != 0 {
                    Some("the run was stopped by a signal")
                } else if stop {
                    Some("the run stopped after a failure (use --keep-going)")
                } else {
                    None
                };
                if why.is_none() && running >= jobs {
                    break;
                }
                ready.remove(&i);
                let s: &Stage = order[i];
                if let Some(why) = why {
                    let o = Outcome::Skipped(why.into());
                    record_unrun(&s.name, &o, report, &mut finished);
                    done(i, o, &mut outcome, &mut ready, &mut finished);
                    continue;
                }
                running += 1;
                let tx = tx.clone();
                let forced = sel.forced(&s.name);
                scope.spawn(move || {
                    let start = Instant::now();
                    let outcome = run_stage(ctx, s, forced);
                    let _ = tx.send(Finished {
                        stage: s.name.clone(),
                        outcome,
                        elapsed: start.elapsed(),
                    });
                });
            }
            if running == 0 {
                break;
            }
            let Ok(f) = rx.recv() else { break };
            running -= 1;
            if !f.outcome.ok() && !keep_going {
                stop = true;
            }
            report(&f);
            let o = f.outcome.clone();
            let i = place.get(f.stage.as_str()).copied();
            finished.push(f);
            if let Some(i) = i {
                done(i, o, &mut outcome, &mut ready, &mut finished);
            }
        }
    });
    // The printed total includes storing the last outputs in the run cache.
    ctx.finish_stores();
    Ok(finished)
}
