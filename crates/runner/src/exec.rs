//! Executing one stage end to end: its lock taken, staleness decided again under it, the run
//! cache looked up (a hit restored), the program spawned with its outputs pointed into staging,
//! its checks evaluated, what it read verified unchanged, then outputs and lock entry committed
//! together. Both schedulers (local and Slurm) run a stage only through [`run_stage`].
//!
//! A stage runs with its outputs pointed into `<outdir>/.agingflow/staging/<stage>-<pid>-<n>/`; only
//! when it exits 0, has written every output and passes its checks are the outputs renamed into
//! place and its lock entry written. A stage is run under an exclusive file lock
//! (`<outdir>/.agingflow/locks/<stage>.lock`) and its staleness is decided again once the lock is
//! held, so two runners on one pipeline never run the same stage twice. The inputs and deps are
//! hashed before it starts and again after it ends: a file changed while the stage ran fails the
//! stage, so the lock never records a hash of data the outputs were not made from.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::cache::Hit;
use crate::checks::{self, CheckResult};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::hash;
use crate::key::Before;
use crate::lock::{FileHash, StageLock};
use crate::pipeline::{Stage, normalize, relative_to};
use crate::process::{Ended, FileLock, log_tail, stop_signal, wait_stage};
use crate::staging::commit_outputs;
use crate::stale::{Reason, staleness_with};

/// The environment variable a stage appends the paths it read to (see `stage_cli::report_read`).
pub const READS_ENV: &str = "AGINGFLOW_READS";

static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A stage's failure, as the run's summary prints it.
fn fail(e: impl std::fmt::Display) -> Outcome {
    Outcome::Failed(e.to_string())
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
            Err(e) => return fail(e),
        };
    // A missing `deps` file is reported before anything runs.
    if let Err(e) = ctx.keys.dep_files(stage) {
        return fail(e);
    }
    // Decided again under the lock: another runner may have just run this stage.
    let locked = ctx.locks.entry(&ctx.p.lock_path(), &stage.name);
    // Enough to know that it is stale: not every file it read is hashed once one has changed.
    let reasons = staleness_with(&ctx.keys, stage, locked.as_ref(), false);
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
        return fail(e);
    }
    execute(ctx, stage, locked.as_ref(), forced)
}

fn execute(ctx: &Ctx, stage: &Stage, locked: Option<&StageLock>, forced: bool) -> Outcome {
    let n = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = format!("{}-{}-{n}", stage.name, std::process::id());
    let staging_rel = ctx.p.in_outdir(&format!(".agingflow/staging/{id}"));
    let staging = ctx.keys.abs(&staging_rel);
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
    let _ = guard::remove_scratch(&reads_file.with_extension("progress"));
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

fn execute_in(
    ctx: &Ctx,
    stage: &Stage,
    locked: Option<&StageLock>,
    forced: bool,
    staging: &Path,
    staging_rel: &str,
    reads_file: &Path,
) -> Outcome {
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
    let (_, program) = match ctx.keys.program(stage) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    mark("program found");
    let before = match ctx.keys.hash_inputs(stage) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    mark("inputs hashed");
    // A run with this key seen before (and whose reads still hold) is restored, not run.
    if !forced {
        let key = match ctx
            .keys
            .record(stage, before.clone(), BTreeMap::new(), BTreeMap::new())
        {
            Ok(k) => k,
            Err(e) => return fail(e),
        };
        mark("key made");
        let hash_now = |p: &str| hash::file(&ctx.keys.abs(p)).ok();
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
    let argv = ctx.keys.argv(stage, &staged);
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
        // What the stage has done of its work, for the live lines (see crate::live).
        .env(
            stage_cli::PROGRESS_ENV,
            reads_file.with_extension("progress"),
        )
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
    let after = match ctx.keys.hash_inputs(stage) {
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
    let entry = match ctx.keys.record(stage, before, outputs, reads) {
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
        Err(e) => return fail(e),
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
) -> Result<Outcome> {
    ctx.cache
        .materialize(hit, staging, &stage.outputs)
        .map_err(Error::Cache)?;
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

/// The files a stage reported reading, relative to the pipeline directory, with their hashes now;
/// a file whose hash the stage reported and that differs now changed while the stage ran.
fn reads_of(ctx: &Ctx, reads_file: &Path, before: &Before) -> Result<BTreeMap<String, String>> {
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
                    let rel = relative_to(&real, &ctx.keys.root);
                    let now = (!known.contains(&rel)).then(|| hash::file_known(&abs, &m));
                    (rel, hash, now)
                }
                _ => (
                    relative_to(&resolver.resolve(&abs), &ctx.keys.root),
                    hash,
                    None,
                ),
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
                .unwrap_or_else(|| hash::file(&ctx.keys.abs(&p)))
                .map_err(|source| Error::Read {
                    path: p.clone(),
                    source,
                })?;
            if let Some(r) = reported
                && r != now
            {
                return Err(Error::ReadChanged { path: p });
            }
            Ok((p, now))
        })
        .collect()
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
/// One finished stage of a run.
#[derive(Debug, Clone)]
pub struct Finished {
    pub stage: String,
    pub outcome: Outcome,
    pub elapsed: Duration,
}
