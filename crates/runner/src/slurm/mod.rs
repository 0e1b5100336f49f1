//! The Slurm executor (`run --executor slurm`): every stage that will run becomes a batch job.
//!
//! The runner plans as it does locally, then submits one `sbatch` job per stage that will run (a
//! job array per `foreach` stage), each with `--dependency=afterok:` on the jobs of the stages it
//! reads from and `--kill-on-invalid-dep=yes`, so the cluster starts a stage as soon as its
//! inputs are committed and never starts one whose upstream failed. A job runs `agingflow job
//! PIPELINE --stage NAME`, which is the local executor's [`crate::exec::run_stage`] for that one stage:
//! the per-stage lock, staleness decided again under it, staging, checks, the run cache, outputs
//! moved into place and the lock file updated only on success. So every invariant of a local run
//! holds on the cluster, and a stage whose job runs twice runs its binary once (the second finds
//! it up to date). The job writes its outcome to `<outdir>/.agingflow/slurm/outcomes/<stage>.json`;
//! Slurm's own output of the job goes to `<outdir>/.agingflow/logs/slurm-<job>.out`, the stage's to
//! `<stage>.log` as locally.
//!
//! The runner watches the outcome files (every 0.2 s) and the queue (`squeue -h -t all -r -j IDS`,
//! every 2 s; `sacct` needs an accounting daemon). The ids it submitted are recorded in
//! `<outdir>/.agingflow/slurm/jobs.json` as soon as `sbatch` answers, so a runner killed with
//! SIGKILL leaves jobs that the next run adopts (still pending or running, for a stage it would
//! run) or cancels (any other); two Slurm runs of one output folder take turns (a lock in that
//! folder). SIGINT or SIGTERM cancels every job of the run (`scancel`) and
//! waits until none is left in the queue. No shell string is built from pipeline values: `sbatch`
//! gets an argv, and the batch script holds the job's argv single-quoted word by word.
//!
//! About 800 lines: the scheduler's loop (submit, watch, adopt, cancel) is one state machine; the
//! Slurm commands and the job side are `client.rs` and `job.rs`.

mod client;
mod job;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::exec::{Finished, Outcome};
use crate::pipeline::{Pipeline, Stage};
use crate::plan::{self, Selection};
use crate::process::{FileLock, stop_signal};
use crate::staging::prepare_run;
use client::{
    QUEUE_FORMAT, QueueState, batch_script, cancel, exit_code, job_name, minutes, queue, slurm,
};
pub use client::{parse_queue, sh_quote};
pub use job::{JobOptions, JobOutcome, job_main};
use job::{outcome_of, outcome_path, unix_now};

/// How often the outcome files are looked at.
const OUTCOME_POLL: Duration = Duration::from_millis(200);
/// How often the queue is asked (once for all the run's jobs).
const QUEUE_POLL: Duration = Duration::from_secs(2);
/// How long a cancelled run waits for its jobs to leave the queue.
const CANCEL_WAIT: Duration = Duration::from_secs(120);

/// One job or job array the runner submitted (or adopted), as recorded in `jobs.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct JobRecord {
    /// The job id (of the array, for an array).
    id: String,
    /// Its stages: one, or one per array task in task order.
    stages: Vec<String>,
    array: bool,
}

impl JobRecord {
    /// The handle of stage `k` of this job: `ID` or `ID_K`.
    fn handle(&self, k: usize) -> String {
        if self.array {
            format!("{}_{k}", self.id)
        } else {
            self.id.clone()
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct JobsFile {
    jobs: Vec<JobRecord>,
}

/// The run's state below `<outdir>/.agingflow/slurm`.
struct State {
    dir: PathBuf,
    /// Every job of this run (submitted or adopted), in submission order.
    jobs: Vec<JobRecord>,
}

impl State {
    fn jobs_path(&self) -> PathBuf {
        self.dir.join("jobs.json")
    }

    fn save(&self) -> Result<(), String> {
        let text = serde_json::to_vec_pretty(&JobsFile {
            jobs: self.jobs.clone(),
        })
        .map_err(|e| e.to_string())?;
        guard::write_file(&self.jobs_path(), &text).map_err(|e| e.to_string())
    }

    fn previous(&self) -> Vec<JobRecord> {
        std::fs::read(self.jobs_path())
            .ok()
            .and_then(|b| serde_json::from_slice::<JobsFile>(&b).ok())
            .map(|f| f.jobs)
            .unwrap_or_default()
    }

    /// The outcome a job wrote for `stage`, if it is the job `handle`'s.
    fn outcome(&self, stage: &str, handle: &str) -> Option<JobOutcome> {
        let bytes = std::fs::read(outcome_path(&self.dir, stage)).ok()?;
        let o: JobOutcome = serde_json::from_slice(&bytes).ok()?;
        (o.job == handle).then_some(o)
    }
}

/// What became of each stage, reported as it is settled.
struct Book<'r> {
    finished: Vec<Finished>,
    done: HashMap<String, Outcome>,
    report: &'r (dyn Fn(&Finished) + Sync),
}

impl Book<'_> {
    /// The tracked stages not yet settled, in name order.
    fn open<C: FromIterator<String>>(&self, tracked: &BTreeMap<String, Tracked>) -> C {
        tracked
            .keys()
            .filter(|n| !self.done.contains_key(*n))
            .cloned()
            .collect()
    }

    fn settle(&mut self, name: &str, o: Outcome, elapsed: Duration) {
        if o != Outcome::NotSelected {
            let f = Finished {
                stage: name.to_owned(),
                outcome: o.clone(),
                elapsed,
            };
            (self.report)(&f);
            self.finished.push(f);
        }
        self.done.insert(name.to_owned(), o);
    }
}

/// A stage of this run on the cluster.
struct Tracked {
    handle: String,
    /// Its job's record (index into `State::jobs`).
    job: usize,
    submitted: f64,
    /// The queue said it ended without an outcome (once: the file may lag on a shared FS).
    ended_quietly: bool,
    /// A job of an earlier run (not counted in the overhead: its submission time is unknown).
    adopted: bool,
}

/// Per job: from ready (submitted, or the last upstream job ended) to start, and from end to the
/// runner noticing it.
#[derive(Debug, Default, Clone)]
pub struct Overhead {
    pub start_latency_s: Vec<f64>,
    pub notice_latency_s: Vec<f64>,
    /// How long each `sbatch` call took.
    pub submit_s: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        f64::NAN
    } else {
        s[s.len() / 2]
    }
}

impl Overhead {
    /// One line for the run's summary.
    pub fn summary(&self) -> Option<String> {
        if self.start_latency_s.is_empty() {
            return None;
        }
        let max = |v: &[f64]| v.iter().copied().fold(f64::NAN, f64::max);
        Some(format!(
            "slurm: {} jobs; sbatch: median {:.3} s a call; ready (submitted, or upstream ended) to start: median {:.2} s, max {:.2} s; end to the runner's notice: median {:.2} s, max {:.2} s",
            self.start_latency_s.len(),
            median(&self.submit_s),
            median(&self.start_latency_s),
            max(&self.start_latency_s),
            median(&self.notice_latency_s),
            max(&self.notice_latency_s),
        ))
    }
}

/// The stages that read outputs of `name`, transitively, among `among`.
fn dependents(p: &Pipeline, name: &str, among: &HashSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut todo = vec![name.to_owned()];
    while let Some(n) = todo.pop() {
        for c in p.children(&n) {
            if seen.insert(c.name.clone()) {
                todo.push(c.name.clone());
                if among.contains(&c.name) {
                    out.push(c.name.clone());
                }
            }
        }
    }
    out
}

/// The units of submission among `to_submit` (in topological order): a `foreach` stage's
/// expansions together as one array, when none reads another; every other stage alone.
fn units(p: &Pipeline, to_submit: &[&Stage]) -> Vec<Vec<String>> {
    let mut by_template: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for s in to_submit {
        let template = match s.name.split_once('@') {
            Some((t, _)) => t,
            None => s.name.as_str(),
        };
        if !by_template.contains_key(template) {
            order.push(template);
        }
        by_template
            .entry(template)
            .or_default()
            .push(s.name.clone());
    }
    let mut out = Vec::new();
    for t in order {
        let members = by_template.remove(t).unwrap_or_default();
        let set: HashSet<&String> = members.iter().collect();
        let inner = members.iter().any(|m| {
            p.stage(m)
                .is_some_and(|s| s.inputs.values().any(|r| set.contains(&r.stage)))
        });
        if members.len() > 1 && !inner && members.iter().all(|m| m.contains('@')) {
            out.push(members);
        } else {
            out.extend(members.into_iter().map(|m| vec![m]));
        }
    }
    out
}

/// Runs the selected stages as Slurm jobs; the counterpart of [`crate::local::run`].
pub fn run(
    ctx: &Ctx,
    sel: &Selection,
    keep_going: bool,
    opts: &JobOptions,
    report: &(dyn Fn(&Finished) + Sync),
) -> Result<(Vec<Finished>, Overhead), String> {
    let p = ctx.p;
    prepare_run(ctx).map_err(|e| e.to_string())?;
    let dir = ctx.state_dir("slurm");
    guard::create_dirs(&dir.join("outcomes")).map_err(|e| e.to_string())?;
    // One Slurm run of an output folder at a time (a second waits): the job record has one
    // writer, and the jobs of an earlier run found below are those of a runner that is gone.
    let _runner_lock = FileLock::acquire(&dir.join("runner.lock")).map_err(|e| e.to_string())?;
    guard::create_dirs(&ctx.state_dir("logs")).map_err(|e| e.to_string())?;
    // Answers at once where Slurm's commands are missing, before anything is submitted.
    slurm("squeue", &["--version".to_owned()])?;

    let pipeline_abs = std::path::absolute(&p.file).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find agingflow itself: {e}"))?;
    // Names this output folder's jobs, however its path is spelled.
    let real = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
    let tag: String = blake3::hash(real.to_string_lossy().as_bytes()).to_hex()[..8].to_owned();

    let planned = plan::plan(ctx, sel).map_err(|e| e.to_string())?;
    let mut book = Book {
        finished: Vec::new(),
        done: HashMap::new(),
        report,
    };
    let mut to_run: Vec<&Stage> = Vec::new();
    for pl in &planned {
        match pl.action {
            plan::Action::Skip => book.settle(&pl.stage, Outcome::NotSelected, Duration::ZERO),
            plan::Action::UpToDate => book.settle(&pl.stage, Outcome::UpToDate, Duration::ZERO),
            _ => {
                if let Some(s) = p.stage(&pl.stage) {
                    to_run.push(s);
                }
            }
        }
    }
    let to_run_names: HashSet<String> = to_run.iter().map(|s| s.name.clone()).collect();

    let mut state = State {
        dir: dir.clone(),
        jobs: Vec::new(),
    };
    let mut tracked: BTreeMap<String, Tracked> = BTreeMap::new();

    // Jobs of a killed run: adopted where they would run a stage this run runs, else cancelled.
    // Only jobs that carry this output folder's name: a recorded id may belong to someone else
    // by now (a cluster whose ids started again).
    let previous = state.previous();
    let ids: Vec<String> = previous.iter().map(|j| j.id.clone()).collect();
    let q = queue(&ids)?;
    let prefix = format!("af-{tag}-");
    let mut to_cancel: Vec<String> = Vec::new();
    for job in previous {
        let mut adopt: Vec<(usize, String)> = Vec::new();
        for (k, stage) in job.stages.iter().enumerate() {
            let h = job.handle(k);
            let alive = q
                .get(&h)
                .is_some_and(|s| s.alive() && s.name.starts_with(&prefix));
            if !alive {
                continue;
            }
            if to_run_names.contains(stage) && !tracked.contains_key(stage) {
                adopt.push((k, h));
            } else {
                to_cancel.push(h);
            }
        }
        if adopt.is_empty() {
            continue;
        }
        let idx = state.jobs.len();
        state.jobs.push(job.clone());
        for (k, h) in adopt {
            tracing::info!(
                "{}: adopting Slurm job {h} of an earlier run",
                job.stages[k]
            );
            tracked.insert(
                job.stages[k].clone(),
                Tracked {
                    handle: h,
                    job: idx,
                    submitted: unix_now(),
                    ended_quietly: false,
                    adopted: true,
                },
            );
        }
    }
    // Jobs of this pipeline the record does not hold (a runner killed between sbatch and the
    // record): cancelled. A stage's lock makes a second job of it harmless anyway.
    if let Ok(text) = slurm(
        "squeue",
        &["--me", "-h", "-r", "-o", QUEUE_FORMAT].map(String::from),
    ) {
        let known: HashSet<String> = state
            .jobs
            .iter()
            .flat_map(|j| (0..j.stages.len()).map(|k| j.handle(k)))
            .collect();
        let mut mine: Vec<(String, QueueState)> = parse_queue(&text).into_iter().collect();
        mine.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, qs) in mine {
            if qs.name.starts_with(&prefix)
                && qs.alive()
                && !known.contains(&id)
                && !to_cancel.contains(&id)
            {
                to_cancel.push(id);
            }
        }
    }
    if !to_cancel.is_empty() {
        tracing::info!(
            "cancelling {} Slurm job(s) of an earlier run: {}",
            to_cancel.len(),
            to_cancel.join(" ")
        );
        cancel(&to_cancel, false);
    }
    state.save()?;

    // Submission: a unit once every upstream stage it reads has a job (or needs none).
    let to_submit: Vec<&Stage> = to_run
        .iter()
        .copied()
        .filter(|s| !tracked.contains_key(&s.name))
        .collect();
    let mut overhead = Overhead::default();
    let mut pending_units = units(p, &to_submit);
    let mut stop_submitting = false;
    while !pending_units.is_empty() {
        let ready = pending_units.iter().position(|u| {
            u.iter().all(|m| {
                p.stage(m).is_some_and(|s| {
                    s.inputs.values().all(|r| {
                        !to_run_names.contains(&r.stage)
                            || tracked.contains_key(&r.stage)
                            || book.done.contains_key(&r.stage)
                    })
                })
            })
        });
        let Some(i) = ready else {
            return Err("internal: no stage can be submitted (a cycle?)".into());
        };
        let unit = pending_units.remove(i);
        // An upstream that already failed (at submission) leaves nothing to run.
        let bad = unit.iter().find_map(|m| {
            p.stage(m)?.inputs.values().find_map(|r| {
                book.done
                    .get(&r.stage)
                    .filter(|o| !o.ok())
                    .map(|_| r.stage.clone())
            })
        });
        if stop_submitting || stop_signal() != 0 || bad.is_some() {
            let why = match bad {
                Some(b) => format!("upstream `{b}` did not succeed"),
                None if stop_signal() != 0 => "the run was stopped by a signal".into(),
                None => "the run stopped after a failure (use --keep-going)".into(),
            };
            for m in &unit {
                book.settle(m, Outcome::Skipped(why.clone()), Duration::ZERO);
            }
            continue;
        }
        let mut after: Vec<String> = unit
            .iter()
            .filter_map(|m| p.stage(m))
            .flat_map(|s| s.inputs.values())
            .filter_map(|r| tracked.get(&r.stage).map(|t| t.handle.clone()))
            .collect();
        after.sort();
        after.dedup();
        // An outcome an earlier job left for these stages is not this job's (a cluster whose
        // job ids started again could even give it the same id).
        for m in &unit {
            let _ = guard::remove_scratch(&outcome_path(&dir, m));
        }
        let asked = Instant::now();
        let submitted = submit(ctx, &exe, &pipeline_abs, &tag, &unit, &after, sel, opts);
        overhead.submit_s.push(asked.elapsed().as_secs_f64());
        match submitted {
            Ok(id) => {
                let rec = JobRecord {
                    id,
                    stages: unit.clone(),
                    array: unit.len() > 1,
                };
                let idx = state.jobs.len();
                for (k, m) in unit.iter().enumerate() {
                    tracked.insert(
                        m.clone(),
                        Tracked {
                            handle: rec.handle(k),
                            job: idx,
                            submitted: unix_now(),
                            ended_quietly: false,
                            adopted: false,
                        },
                    );
                }
                state.jobs.push(rec);
                if let Err(e) = state.save() {
                    tracing::warn!("cannot record the run's Slurm jobs: {e}");
                }
            }
            Err(e) => {
                for m in &unit {
                    book.settle(m, Outcome::Failed(e.clone()), Duration::ZERO);
                }
                if !keep_going {
                    stop_submitting = true;
                }
            }
        }
    }
    // A submission failed (without --keep-going): what is queued and not yet running is not
    // started.
    let mut halt_pending = stop_submitting;

    // Watching: outcome files often, the queue now and then.
    let mut ended_at: HashMap<String, f64> = HashMap::new();
    let mut last_queue: Option<Instant> = None;
    let mut stopping = false;
    loop {
        if std::mem::take(&mut halt_pending) {
            let open: Vec<String> = book.open(&tracked);
            let q = queue(&job_ids(&state, &open, &tracked)).unwrap_or_default();
            let pending: Vec<String> = open
                .iter()
                .filter(|n| {
                    q.get(&tracked[*n].handle)
                        .is_some_and(|s| s.state == "PENDING")
                })
                .cloned()
                .collect();
            let handles: Vec<String> = pending.iter().map(|n| tracked[n].handle.clone()).collect();
            cancel(&handles, true);
            for n in pending {
                book.settle(
                    &n,
                    Outcome::Skipped("the run stopped after a failure (use --keep-going)".into()),
                    Duration::ZERO,
                );
            }
        }
        let open: Vec<String> = book.open(&tracked);
        if open.is_empty() {
            break;
        }
        let sig = stop_signal();
        if sig != 0 && !stopping {
            stopping = true;
            let handles: Vec<String> = open.iter().map(|n| tracked[n].handle.clone()).collect();
            tracing::info!("signal {sig}: cancelling {} Slurm job(s)", handles.len());
            let before = queue(&job_ids(&state, &open, &tracked)).unwrap_or_default();
            cancel(&handles, false);
            wait_gone(&state, &open, &tracked);
            for n in &open {
                let t = &tracked[n];
                let never_started = before.get(&t.handle).is_some_and(|s| s.state == "PENDING");
                let o = match state.outcome(n, &t.handle) {
                    Some(o) => outcome_of(&o),
                    None if never_started => {
                        Outcome::Skipped("the run was stopped by a signal".into())
                    }
                    None => Outcome::Failed(format!(
                        "stopped: the runner got signal {sig}; its Slurm job {} was cancelled",
                        t.handle
                    )),
                };
                book.settle(n, o, Duration::ZERO);
            }
            continue;
        }
        let mut newly_failed: Vec<String> = Vec::new();
        for n in &open {
            let t = &tracked[n];
            if let Some(o) = state.outcome(n, &t.handle) {
                let now = unix_now();
                let ready = p
                    .stage(n)
                    .map(|s| {
                        s.inputs
                            .values()
                            .filter_map(|r| ended_at.get(&r.stage).copied())
                            .fold(t.submitted, f64::max)
                    })
                    .unwrap_or(t.submitted);
                if !t.adopted {
                    overhead.start_latency_s.push((o.started - ready).max(0.0));
                    overhead.notice_latency_s.push((now - o.ended).max(0.0));
                }
                ended_at.insert(n.clone(), o.ended);
                let outcome = outcome_of(&o);
                if !outcome.ok() {
                    newly_failed.push(n.clone());
                }
                book.settle(
                    n,
                    outcome,
                    Duration::from_secs_f64((o.ended - o.started).max(0.0)),
                );
            }
        }
        let queue_due = last_queue.is_none_or(|t| t.elapsed() >= QUEUE_POLL);
        if queue_due {
            last_queue = Some(Instant::now());
            let open: Vec<String> = book.open(&tracked);
            match queue(&job_ids(&state, &open, &tracked)) {
                Ok(q) => {
                    for n in &open {
                        let alive = q.get(&tracked[n].handle).is_some_and(QueueState::alive);
                        if alive {
                            continue;
                        }
                        let Some(t) = tracked.get_mut(n) else {
                            continue;
                        };
                        if !t.ended_quietly {
                            // Once more after the next look at the outcome files.
                            t.ended_quietly = true;
                            continue;
                        }
                        if state.outcome(n, &t.handle).is_some() {
                            // Settled on the next pass over the outcome files.
                            continue;
                        }
                        let how = match q.get(&t.handle) {
                            Some(s) if s.reason == "DependencyNeverSatisfied" => {
                                book.settle(
                                    n,
                                    Outcome::Skipped("an upstream job did not succeed".into()),
                                    Duration::ZERO,
                                );
                                continue;
                            }
                            Some(s) => format!("ended {} ({})", s.state, s.reason),
                            None => "is no longer known to Slurm".to_owned(),
                        };
                        let how = match exit_code(&t.handle) {
                            Some(code) => format!("{how}, exit code {code}"),
                            None => how,
                        };
                        let log = ctx.rel(&slurm_log(ctx, &t.handle));
                        book.settle(
                            n,
                            Outcome::Failed(format!(
                                "Slurm job {} {how} without an outcome; log: {log}",
                                t.handle
                            )),
                            Duration::ZERO,
                        );
                        newly_failed.push(n.clone());
                    }
                }
                Err(e) => tracing::warn!("{e}"),
            }
        }
        // A failure: its dependents will never start (Slurm cancels them, and so does this),
        // and without --keep-going nothing queued starts either.
        for f in newly_failed {
            let open: HashSet<String> = book.open(&tracked);
            let deps = dependents(p, &f, &open);
            let handles: Vec<String> = deps.iter().map(|d| tracked[d].handle.clone()).collect();
            cancel(&handles, false);
            for d in deps {
                book.settle(
                    &d,
                    Outcome::Skipped(format!("upstream `{f}` did not succeed")),
                    Duration::ZERO,
                );
            }
            if !keep_going {
                halt_pending = true;
            }
        }
        if !halt_pending {
            std::thread::sleep(OUTCOME_POLL);
        }
    }
    // The record is kept until the next run, which finds every job ended.
    Ok((book.finished, overhead))
}

/// The job (or array) ids of the `open` stages, each once.
fn job_ids(state: &State, open: &[String], tracked: &BTreeMap<String, Tracked>) -> Vec<String> {
    let mut ids: Vec<String> = open
        .iter()
        .map(|n| state.jobs[tracked[n].job].id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Waits until none of the `open` stages' jobs is alive in the queue (or [`CANCEL_WAIT`]).
fn wait_gone(state: &State, open: &[String], tracked: &BTreeMap<String, Tracked>) {
    let start = Instant::now();
    let ids = job_ids(state, open, tracked);
    while start.elapsed() < CANCEL_WAIT {
        match queue(&ids) {
            Ok(q) => {
                if !open
                    .iter()
                    .any(|n| q.get(&tracked[n].handle).is_some_and(QueueState::alive))
                {
                    return;
                }
            }
            Err(e) => tracing::warn!("{e}"),
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    tracing::warn!(
        "some Slurm jobs were still in the queue {} s after scancel",
        CANCEL_WAIT.as_secs()
    );
}

/// Where Slurm writes the job's own output (`--output`).
fn slurm_log(ctx: &Ctx, handle: &str) -> PathBuf {
    ctx.state_dir("logs").join(format!("slurm-{handle}.out"))
}

/// Submits one unit (a stage, or a `foreach` stage's expansions as an array); its job id.
#[allow(clippy::too_many_arguments)]
fn submit(
    ctx: &Ctx,
    exe: &Path,
    pipeline: &Path,
    tag: &str,
    unit: &[String],
    after: &[String],
    sel: &Selection,
    opts: &JobOptions,
) -> Result<String, String> {
    let p = ctx.p;
    let stages: Vec<&Stage> = unit.iter().filter_map(|n| p.stage(n)).collect();
    let mut argv: Vec<String> = vec![
        exe.to_string_lossy().into_owned(),
        "job".into(),
        pipeline.to_string_lossy().into_owned(),
    ];
    if opts.allow_outside {
        argv.push("--allow-outside".into());
    }
    for s in &stages {
        argv.extend(["--stage".into(), s.name.clone()]);
        if sel.forced(&s.name) {
            argv.extend(["--force".into(), s.name.clone()]);
        }
    }
    if opts.no_checks {
        argv.push("--no-checks".into());
    }
    if let Some(t) = opts.timeout {
        argv.extend(["--timeout".into(), format!("{}s", t.as_secs_f64())]);
    }
    let unit_name = match unit {
        [one] => one.clone(),
        _ => format!(
            "{}@*",
            unit[0].split_once('@').map(|(t, _)| t).unwrap_or(&unit[0])
        ),
    };
    let script = p
        .outdir_abs()
        .join(".agingflow/slurm")
        .join(format!("{}.sh", unit_name.replace(['/', '*'], "_")));
    let what = format!("stage(s) {} of {}", unit.join(", "), pipeline.display());
    guard::write_file(&script, batch_script(&argv, &what).as_bytes()).map_err(|e| e.to_string())?;
    // The largest request of the unit's stages (they share a template).
    let mut res = p.resources_of(stages[0]);
    for s in &stages[1..] {
        let r = p.resources_of(s);
        res.cpus = res.cpus.max(r.cpus);
        res.memory_mb = res.memory_mb.max(r.memory_mb);
        res.time = res.time.max(r.time);
    }
    let logs = ctx.state_dir("logs");
    let mut args: Vec<String> = vec![
        "--parsable".into(),
        format!("--job-name={}", job_name(tag, &unit_name)),
        format!("--chdir={}", p.dir.display()),
        "--kill-on-invalid-dep=yes".into(),
        "--ntasks=1".into(),
    ];
    if unit.len() > 1 {
        args.push(format!("--array=0-{}", unit.len() - 1));
        args.push(format!("--output={}/slurm-%A_%a.out", logs.display()));
    } else {
        args.push(format!("--output={}/slurm-%j.out", logs.display()));
    }
    if let Some(c) = res.cpus {
        args.push(format!("--cpus-per-task={c}"));
    }
    if let Some(m) = res.memory_mb {
        args.push(format!("--mem={m}M"));
    }
    if let Some(t) = res.time {
        args.push(format!("--time={}", minutes(t)));
    }
    if let Some(part) = &res.partition {
        args.push(format!("--partition={part}"));
    }
    if !after.is_empty() {
        args.push(format!("--dependency=afterok:{}", after.join(":")));
    }
    args.push(script.to_string_lossy().into_owned());
    let out = slurm("sbatch", &args).map_err(|e| format!("cannot submit: {e}"))?;
    // `--parsable`: `ID` or `ID;CLUSTER`.
    let id = out.trim().split(';').next().unwrap_or_default().to_owned();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("sbatch answered `{}`, not a job id", out.trim()));
    }
    tracing::info!(
        "submitted {} as Slurm job {id}{}",
        unit.join(", "),
        if after.is_empty() {
            String::new()
        } else {
            format!(" after {}", after.join(", "))
        }
    );
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOREACH: &str = r#"version: 1
stages:
  fit:
    foreach: [a, b, c]
    run: [sh, -c, 'echo "$0" > "$1"', "${item}", "${outputs.o}"]
    outputs: { o: "${item}/fit.txt" }
  sum:
    run: [cat, "${inputs.all}", "${outputs.o}"]
    inputs: { all: "fit@*.o" }
    outputs: { o: sum.txt }
  late:
    run: [cp, "${inputs.s}", "${outputs.o}"]
    inputs: { s: sum.o }
    outputs: { o: late.txt }
"#;

    #[test]
    fn foreach_expansions_are_one_array_and_failures_reach_every_dependent() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::pipeline::parse(FOREACH, &dir.path().join("p.yaml"), dir.path()).unwrap();
        let order = p.topo_order();
        assert_eq!(
            units(&p, &order),
            vec![
                vec!["fit@a".to_owned(), "fit@b".into(), "fit@c".into()],
                vec!["sum".into()],
                vec!["late".into()],
            ]
        );
        // Only the stale expansions go into the array; one alone is a plain job.
        let some: Vec<&Stage> = order
            .iter()
            .copied()
            .filter(|s| s.name == "fit@b" || s.name == "late")
            .collect();
        assert_eq!(
            units(&p, &some),
            vec![vec!["fit@b".to_owned()], vec!["late".into()]]
        );
        let open: HashSet<String> = ["sum", "late", "fit@c"].map(String::from).into();
        let mut d = dependents(&p, "fit@a", &open);
        d.sort();
        assert_eq!(d, ["late", "sum"]);
        assert!(dependents(&p, "late", &open).is_empty());
        let rec = JobRecord {
            id: "41".into(),
            stages: vec!["fit@a".into(), "fit@b".into()],
            array: true,
        };
        assert_eq!(rec.handle(1), "41_1");
    }
}
