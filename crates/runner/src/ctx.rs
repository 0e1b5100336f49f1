//! The context of one runner invocation: the pipeline and how its stages are keyed, the lock file
//! as last read (and the journal runs commit to), the run cache, the hash memo, the paths no output
//! may touch, and what the stages that ran dropped. Shared by every thread of a run; it decides
//! nothing about staleness and starts no process.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rayon::prelude::*;

use crate::cache::Cache;
use crate::error::Result;
use crate::hash;
use crate::key::{Keys, named_values};
use crate::lock::StageLock;
use crate::pipeline::{Pipeline, Stage};
use crate::process::FileLock;

/// Everything a runner invocation shares between threads.
pub struct Ctx<'a> {
    pub p: &'a Pipeline,
    /// How its stages are keyed (program, argv, deps; paths relative to the pipeline folder).
    pub keys: Keys<'a>,
    pub no_checks: bool,
    lock_mutex: Mutex<()>,
    /// The lock file as last read or written here (parsing and emitting it is not free).
    pub locks: crate::lock::LockCache,
    /// Outputs of stages that just ran, being stored in the run cache while their dependents
    /// run (joined when the context is dropped, so before the runner exits).
    stores: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Paths no output may be, contain or lie inside, beyond those registered with
    /// `guard::protect` (the lock file and `.agingflow/`, which the runner itself writes).
    pub(crate) protected: Vec<guard::Protected>,
    /// Time limit of stages without a `timeout:` of their own (`run --timeout`).
    pub default_timeout: Option<Duration>,
    /// The run cache below the output directory.
    pub cache: Cache,
    /// The hash memo (`<outdir>/.agingflow/cache/hashes`), consulted by every hash this
    /// invocation takes and saved by [`Ctx::save_memo`].
    memo: std::sync::Arc<stage_cli::hashes::HashMemo>,
    /// Whether stages are handed the memo (not after [`Ctx::forget_memo`]).
    pub(crate) memo_to_stages: bool,
    /// What the stages that ran in this invocation dropped whole (stage, `kind<TAB>id<TAB>why`
    /// as `stage_cli::report_dropped` wrote it), for the run's summary.
    pub dropped: Mutex<Vec<(String, String)>>,
}

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
        let cache = Cache::new(&p.outdir_abs());
        let mut ctx = Ctx {
            p,
            keys: Keys::new(p),
            no_checks,
            lock_mutex: Mutex::new(()),
            locks: crate::lock::LockCache::with_journal(cache.reads_dir(), journal_of(p)),
            stores: Mutex::new(Vec::new()),
            protected: Vec::new(),
            default_timeout: None,
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
            if let Ok(files) = self.keys.dep_files(s) {
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
                let paths: Vec<PathBuf> = l.reads.keys().map(|r| self.keys.abs(r)).collect();
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
    pub(crate) fn store_in_background(&self, stage: &Stage, entry: StageLock) {
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

    pub(crate) fn memo_path(p: &Pipeline) -> PathBuf {
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

    pub(crate) fn state_dir(&self, sub: &str) -> PathBuf {
        self.p.outdir_abs().join(".agingflow").join(sub)
    }

    /// The log file of a stage.
    pub fn log_path(&self, stage: &str) -> PathBuf {
        self.state_dir("logs").join(format!("{stage}.log"))
    }

    /// A path relative to the pipeline directory (with `..` where it lies outside).
    pub fn rel(&self, path: &Path) -> String {
        self.keys.rel(path)
    }

    /// The item cache of a stage (per curve results its binary reuses across runs):
    /// `<outdir>/.agingflow/cache/items/<stage>/<binary hash>`, so another binary starts afresh.
    pub fn item_cache_dir(&self, stage: &Stage) -> Option<PathBuf> {
        self.keys.item_cache_dir(stage, self.cache.root())
    }

    /// Reads the lock file, lets `f` change it and writes it back, under a lock shared by every
    /// runner process and thread.
    pub(crate) fn update_lock(&self, stage: &str, entry: StageLock) -> Result<()> {
        let _in_process = self.lock_mutex.lock().unwrap_or_else(|p| p.into_inner());
        let _across = FileLock::acquire(&self.state_dir("locks").join("lockfile.lock"))?;
        self.locks
            .commit(&self.p.lock_path(), stage, entry, |name| {
                self.p.stage(name).is_some()
            })
            .map_err(Into::into)
    }

    /// Whether the stage names the lock file in its `with` values or its command.
    pub(crate) fn names_lock_file(&self, stage: &Stage) -> bool {
        let lock = guard::resolve(&self.p.lock_path());
        named_values(stage)
            .iter()
            .any(|n| !n.is_empty() && guard::resolve(&self.p.dir.join(n)) == lock)
    }

    /// Writes the lock file with the entries this and other runs committed to its journal (see
    /// `lock::LockCache`): at the end of a run, before a stage that reads the lock file, by `gc`,
    /// and when the context of a run is dropped.
    pub fn flush_lock(&self) -> Result<()> {
        if !journal_of(self.p).exists() {
            return Ok(());
        }
        let _in_process = self.lock_mutex.lock().unwrap_or_else(|p| p.into_inner());
        let _across = FileLock::acquire(&self.state_dir("locks").join("lockfile.lock"))?;
        self.locks
            .fold(&self.p.lock_path(), |name| self.p.stage(name).is_some())
            .map_err(Into::into)
    }
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
