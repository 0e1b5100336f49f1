//! The runner's commands (`run`, `plan`, `status`, `why`, `dag`, `check`, and `agingflow <stage>`):
//! argument parsing and what each prints. Exit codes: 0 success, 1 a stage failed, something is
//! stale (`status`) or a rule fails (`check`), 2 usage or pipeline-file error, 3 internal error,
//! 130/143 a run stopped by SIGINT/SIGTERM.
//!
//! One module of about 900 lines, on purpose: clap's definitions (which are the `--help` text) sit
//! beside the function each command runs, so an option and what it does are read together.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand, ValueEnum};
use stage_cli::{CommonArgs, EXIT_DATA, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE};

use crate::ctx::Ctx;
use crate::exec::{Finished, Outcome};
use crate::lock::LockFile;
use crate::pipeline::{self, Pipeline};
use crate::plan::{self, Selection};

/// agingflow: reproducible analysis of glass aging campaigns.
///
/// Runs the stages of a pipeline file (a DAG of stage binaries exchanging Parquet tables), rerunning
/// only what changed: a stage is stale when its command, its binary, its `with` values or the
/// content of any file it reads or writes differs from the lock file. `agingflow <stage> ...` runs
/// one stage binary (`agingflow-<stage>`) directly.
///
/// agingflow never writes over what it reads: an output that is, contains or lies inside an input,
/// the manifest, a raw file, the pipeline or lock file is refused, and a directory is replaced only
/// when agingflow made it. Exit codes: 0 ok, 1 a stage failed (or stale, or a rule fails), 2 usage
/// or pipeline-file error, 3 internal error, 130/143 stopped by SIGINT/SIGTERM.
#[derive(Parser, Debug)]
#[command(name = "agingflow", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Accept an `outdir` outside the pipeline's folder and its project (the nearest folder
    /// holding `.git`); same as `outdir_outside: true` in the pipeline file
    #[arg(long, global = true)]
    pub allow_outside: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run what is stale, independent stages in parallel
    Run {
        #[command(flatten)]
        file: FileArg,
        #[command(flatten)]
        select: SelectArgs,
        /// How many stages may run at once [default: number of cores]
        #[arg(short, long, value_name = "N")]
        jobs: Option<usize>,
        /// Go on with independent stages after a failure (the exit code is still 1)
        #[arg(long)]
        keep_going: bool,
        /// Do not evaluate the stages' data-quality checks
        #[arg(long)]
        no_checks: bool,
        /// Time limit of every stage without a `timeout:` of its own: seconds, or 90s, 10m, 2h.
        /// A stage over its limit is stopped (SIGTERM to its process group, SIGKILL 5 s later)
        /// and fails like any other
        #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
        timeout: Option<std::time::Duration>,
        /// Where stages run: `local` (child processes, -j at once) or `slurm` (one sbatch job per
        /// stale stage, a job array per `foreach` stage, chained with afterok dependencies; needs
        /// sbatch, squeue and scancel, and a file system shared with the cluster's nodes)
        /// [default: the pipeline file's `executor:`, else local]
        #[arg(long, value_enum, value_name = "EXECUTOR")]
        executor: Option<pipeline::Executor>,
        /// Live lines of the stages that run longer than two seconds (done of total, rate,
        /// time left) on stderr: `auto` when stderr is a terminal, `always`, or `never`.
        /// Local executor only
        #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
        progress: crate::live::ProgressMode,
    },
    /// Run one stage inside a Slurm job (what `run --executor slurm` submits)
    #[command(hide = true)]
    Job {
        #[command(flatten)]
        file: FileArg,
        /// The stage; several for a job array (the task's is the SLURM_ARRAY_TASK_ID-th)
        #[arg(long, required = true, value_name = "STAGE")]
        stage: Vec<String>,
        /// Run this stage even if it is up to date (repeatable)
        #[arg(long, value_name = "STAGE")]
        force: Vec<String>,
        #[arg(long)]
        no_checks: bool,
        #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
        timeout: Option<std::time::Duration>,
    },
    /// Say what `run` would do and why, without running anything
    Plan {
        #[command(flatten)]
        file: FileArg,
        #[command(flatten)]
        select: SelectArgs,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Say for each stage whether it is up to date; exit 1 when anything is stale
    Status {
        #[command(flatten)]
        file: FileArg,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Say which parts of a stage's key changed since its last run, old and new
    Why {
        /// The stage
        stage: String,
        #[command(flatten)]
        file: FileArg,
    },
    /// Print the graph of stages
    Dag {
        #[command(flatten)]
        file: FileArg,
        /// Output format
        #[arg(long, value_enum, default_value_t = DagFormat::Text)]
        format: DagFormat,
    },
    /// Evaluate every `checks` rule on the current outputs; exit 1 if any fails
    Check {
        #[command(flatten)]
        file: FileArg,
        /// Also write the results as JUnit XML to this file
        #[arg(long, value_name = "PATH")]
        junit: Option<PathBuf>,
    },
    /// Remove from the run cache what the lock file does not name
    ///
    /// The run cache (`<outdir>/.agingflow/cache`) keeps the outputs of every successful stage
    /// run, so that a stage whose key was seen before is restored instead of run, and so that
    /// `agingflow diff` can compare old results. `gc` keeps what the lock file names (and, with
    /// --all-commits, what it named in every git commit that changed it) and removes the rest.
    Gc {
        #[command(flatten)]
        file: FileArg,
        /// Also keep what the lock file named in every git commit that changed it
        #[arg(long)]
        all_commits: bool,
        /// Say what would be removed; remove nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Compare results between git revisions: result tables' numbers and summary.json
    ///
    /// Reads the lock file at REV (default HEAD) and at REV2 (default: the working tree), finds
    /// the outputs they name in the run cache, and prints per result table and numeric column how
    /// many rows changed and by how much (rows matched by the table's keys), and every changed
    /// number of the report's summary.json. Outputs missing from the cache are listed as missing.
    /// Exit codes: 0, or 1 when a --fail-on rule is crossed, 2 usage.
    Diff {
        /// The old revision (a git revision)
        #[arg(default_value = "HEAD")]
        rev: String,
        /// The new revision [default: the working tree]
        rev2: Option<String>,
        /// The pipeline file
        #[arg(
            long,
            short = 'p',
            default_value = "agingflow.yaml",
            value_name = "FILE"
        )]
        pipeline: PathBuf,
        /// Print JSON instead of text
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print Markdown (for a pull-request comment) instead of text
        #[arg(long)]
        markdown: bool,
        /// Exit 1 when the largest |change| of a column or summary number crosses a limit:
        /// `beta > 0.005` (column `beta` of any result table), `kww_fits.tau_s > 1`, or a
        /// summary.json path (repeatable)
        #[arg(long, value_name = "RULE")]
        fail_on: Vec<String>,
    },
    /// Run a stage binary: `agingflow kww-fit --help` runs `agingflow-kww-fit --help`
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

#[derive(Args, Debug)]
pub struct FileArg {
    /// The pipeline file
    #[arg(default_value = "agingflow.yaml", value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Args, Debug, Default)]
pub struct SelectArgs {
    /// Run this stage even if it is up to date (repeatable)
    #[arg(long, value_name = "STAGE")]
    pub force: Vec<String>,
    /// Run every selected stage even if up to date
    #[arg(long)]
    pub force_all: bool,
    /// Run only this stage (its inputs must exist)
    #[arg(long, value_name = "STAGE")]
    pub only: Option<String>,
    /// Run this stage and the stages it depends on
    #[arg(long, value_name = "STAGE")]
    pub until: Option<String>,
    /// Run this stage and the stages that depend on it
    #[arg(long, value_name = "STAGE")]
    pub from: Option<String>,
}

impl SelectArgs {
    fn selection(&self) -> Selection {
        Selection {
            force: self.force.clone(),
            force_all: self.force_all,
            only: self.only.clone(),
            until: self.until.clone(),
            from: self.from.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    Text,
    Json,
    Markdown,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DagFormat {
    Text,
    Mermaid,
    Dot,
}

fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    pipeline::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a positive duration (seconds, or 90s, 10m, 2h)"))
}

static ALLOW_OUTSIDE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs a command and returns its exit code.
pub fn main(cli: Cli) -> ExitCode {
    stage_cli::init(&cli.common);
    ALLOW_OUTSIDE.store(cli.allow_outside, std::sync::atomic::Ordering::Relaxed);
    let code = match std::panic::catch_unwind(|| dispatch(cli.command)) {
        Ok(code) => code,
        Err(_) => EXIT_INTERNAL,
    };
    ExitCode::from(code)
}

fn load(file: &Path) -> Result<Pipeline, u8> {
    let opts = pipeline::LoadOptions {
        allow_outside: ALLOW_OUTSIDE.load(std::sync::atomic::Ordering::Relaxed),
    };
    pipeline::load_with(file, opts).map_err(|e| {
        eprintln!("{e}");
        let n = e.diags.len();
        eprintln!(
            "agingflow: {n} error{} in {}",
            if n == 1 { "" } else { "s" },
            file.display()
        );
        EXIT_USAGE
    })
}

fn dispatch(command: Command) -> u8 {
    let result = match command {
        Command::Run {
            file,
            select,
            jobs,
            keep_going,
            no_checks,
            timeout,
            executor,
            progress,
        } => cmd_run(
            &file.file,
            &select.selection(),
            RunOptions {
                jobs,
                keep_going,
                no_checks,
                timeout,
                executor,
                progress,
            },
        ),
        Command::Job {
            file,
            stage,
            force,
            no_checks,
            timeout,
        } => cmd_job(&file.file, &stage, &force, no_checks, timeout),
        Command::Plan { file, select, json } => cmd_plan(&file.file, &select.selection(), json),
        Command::Status { file, json } => cmd_status(&file.file, json),
        Command::Why { stage, file } => cmd_why(&file.file, &stage),
        Command::Dag { file, format } => cmd_dag(&file.file, format),
        Command::Check { file, junit } => cmd_check(&file.file, junit.as_deref()),
        Command::Gc {
            file,
            all_commits,
            dry_run,
        } => cmd_gc(&file.file, all_commits, dry_run),
        Command::Diff {
            rev,
            rev2,
            pipeline,
            json,
            markdown,
            fail_on,
        } => {
            let format = match (json, markdown) {
                (true, _) => DiffFormat::Json,
                (_, true) => DiffFormat::Markdown,
                _ => DiffFormat::Text,
            };
            cmd_diff(&pipeline, &rev, rev2.as_deref(), format, &fail_on)
        }
        Command::External(args) => cmd_external(args),
    };
    result.unwrap_or_else(|code| code)
}

fn usage(msg: impl std::fmt::Display) -> u8 {
    eprintln!("agingflow: {msg}");
    EXIT_USAGE
}

fn secs(d: std::time::Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The options of `run`.
struct RunOptions {
    jobs: Option<usize>,
    keep_going: bool,
    no_checks: bool,
    timeout: Option<std::time::Duration>,
    executor: Option<pipeline::Executor>,
    progress: crate::live::ProgressMode,
}

/// SIGTERM and SIGINT set [`crate::process::STOP`]: running stages are stopped (their process groups, or
/// their Slurm jobs), no new one starts.
fn stop_on_signals() {
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) =
            signal_hook::flag::register_usize(sig, crate::process::STOP.clone(), sig as usize)
        {
            eprintln!("agingflow: cannot install the handler of signal {sig}: {e}");
        }
    }
}

/// The options of a run that its Slurm jobs repeat.
fn job_options(no_checks: bool, timeout: Option<std::time::Duration>) -> crate::slurm::JobOptions {
    crate::slurm::JobOptions {
        no_checks,
        timeout,
        allow_outside: ALLOW_OUTSIDE.load(std::sync::atomic::Ordering::Relaxed),
    }
}

fn cmd_job(
    file: &Path,
    stages: &[String],
    force: &[String],
    no_checks: bool,
    timeout: Option<std::time::Duration>,
) -> Result<u8, u8> {
    let p = load(file)?;
    stop_on_signals();
    Ok(crate::slurm::job_main(
        &p,
        stages,
        force,
        &job_options(no_checks, timeout),
    ))
}

/// The result line of a stage, on stdout.
fn print_finished(f: &Finished) {
    let (word, extra) = match &f.outcome {
        Outcome::Ran => ("ran", String::new()),
        Outcome::Restored => ("restored", "from the run cache".to_owned()),
        Outcome::UpToDate => ("up to date", String::new()),
        Outcome::Failed(m) => ("failed", m.clone()),
        Outcome::Skipped(m) => ("skipped", m.clone()),
        Outcome::NotSelected => return,
    };
    let time = if matches!(f.outcome, Outcome::Skipped(_)) {
        String::new()
    } else {
        secs(f.elapsed)
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{word:<11} {:<24} {time:>9}{}",
        f.stage,
        if extra.is_empty() {
            String::new()
        } else {
            format!("  {extra}")
        }
    );
    let _ = out.flush();
}

fn cmd_run(file: &Path, sel: &Selection, o: RunOptions) -> Result<u8, u8> {
    let RunOptions {
        jobs,
        keep_going,
        no_checks,
        timeout,
        executor,
        progress,
    } = o;
    let p = load(file)?;
    // SIGTERM and SIGINT end the run with the summary and exit code 128 + signal.
    stop_on_signals();
    // The run cache's lock, shared with other runs, exclusive of `gc`: nothing this run stores
    // or names in the lock file is collected under it. Taken before the context, so released
    // after the context has joined the stores it started. (A cache folder that cannot be made
    // has nothing for gc to collect: the run goes on, and fails where it must write.)
    let _held = crate::cache::Cache::new(&p.outdir_abs())
        .hold(false, "agingflow run: waiting for `agingflow gc` to finish")
        .inspect_err(|e| tracing::debug!("{e}"))
        .ok();
    let mut ctx = Ctx::new(&p, no_checks);
    ctx.default_timeout = timeout;
    if sel.force_all || !sel.force.is_empty() {
        ctx.forget_memo();
    }
    let jobs = jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let start = Instant::now();
    let executor = executor.unwrap_or(p.executor);
    let live = crate::live::Live::new(
        executor == pipeline::Executor::Local && progress.enabled(),
        ctx.state_dir("staging"),
    );
    let print = |f: &Finished| live.print(|| print_finished(f));
    let finished = match executor {
        pipeline::Executor::Local => std::thread::scope(|scope| {
            if live.on() {
                scope.spawn(|| live.draw_until_stopped());
            }
            let finished = crate::local::run(&ctx, sel, jobs, keep_going, &print);
            live.stop();
            finished
        })
        .map_err(usage)?,
        pipeline::Executor::Slurm => {
            let opts = job_options(no_checks, timeout);
            let (finished, overhead) =
                crate::slurm::run(&ctx, sel, keep_going, &opts, &print).map_err(usage)?;
            if let Some(line) = overhead.summary() {
                println!("{line}");
            }
            finished
        }
    };
    ctx.save_memo();
    if let Err(e) = ctx.flush_lock() {
        eprintln!("agingflow: cannot write the lock file: {e}");
        return Ok(EXIT_DATA);
    }
    let count = |pred: fn(&Outcome) -> bool| finished.iter().filter(|f| pred(&f.outcome)).count();
    let ran = count(|o| *o == Outcome::Ran);
    let restored = count(|o| *o == Outcome::Restored);
    let fresh = count(|o| *o == Outcome::UpToDate);
    let failed = count(|o| matches!(o, Outcome::Failed(_)));
    let skipped = count(|o| matches!(o, Outcome::Skipped(_)));
    let restored = if restored > 0 {
        format!("{restored} restored from the run cache, ")
    } else {
        String::new()
    };
    let dropped = dropped_summary(&ctx.dropped.lock().unwrap_or_else(|e| e.into_inner()));
    println!(
        "{ran} ran, {restored}{fresh} up to date, {failed} failed, {skipped} skipped{dropped} in {}",
        secs(start.elapsed())
    );
    let sig = crate::process::STOP.load(std::sync::atomic::Ordering::SeqCst);
    if sig != 0 {
        println!("stopped by signal {sig}: the lock file holds only the stages that finished");
        return Ok((128 + sig).min(255) as u8);
    }
    Ok(if failed + skipped > 0 {
        EXIT_DATA
    } else {
        EXIT_OK
    })
}

/// `, 1 test dropped (clean: T1 non_monotone_time)` for what the stages that ran dropped whole
/// (at most five named per kind), or nothing.
fn dropped_summary(dropped: &[(String, String)]) -> String {
    let mut by_kind: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (stage, line) in dropped {
        let mut f = line.splitn(3, '\t');
        let (kind, id, why) = (
            f.next().unwrap_or("item"),
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
        );
        by_kind
            .entry(kind)
            .or_default()
            .push(format!("{stage}: {id} {why}"));
    }
    let mut out = String::new();
    for (kind, mut items) in by_kind {
        items.sort();
        let n = items.len();
        let more = if n > 5 {
            format!(", and {} more", n - 5)
        } else {
            String::new()
        };
        items.truncate(5);
        out.push_str(&format!(
            ", {n} {kind}{} dropped ({}{more})",
            if n == 1 { "" } else { "s" },
            items.join("; ")
        ));
    }
    out
}

fn cmd_gc(file: &Path, all_commits: bool, dry_run: bool) -> Result<u8, u8> {
    let p = load(file)?;
    let ctx = Ctx::new(&p, false);
    // No run stores into the cache or commits a lock file from before gc reads the lock file
    // until it has removed what that does not name.
    let _held = ctx
        .cache
        .hold(
            true,
            "agingflow gc: waiting for the runs using the run cache to finish",
        )
        .map_err(usage)?;
    // Entries a killed run left in the lock's journal are named by the lock file first.
    ctx.flush_lock().map_err(usage)?;
    // An unreadable lock would keep nothing: gc refuses rather than empty the cache.
    let lock_path = p.lock_path();
    let lock = if lock_path.exists() {
        LockFile::read_checked(&lock_path).map_err(usage)?
    } else {
        LockFile::read(&lock_path)
    };
    let mut keep: Vec<crate::lock::StageLock> = lock.stages.into_values().collect();
    if all_commits {
        let dir = std::fs::canonicalize(&p.dir).unwrap_or_else(|_| p.dir.clone());
        let name = p
            .lock_path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let revs = std::process::Command::new("git")
            .args(["rev-list", "--all", "--", &name])
            .current_dir(&dir)
            .output();
        match revs {
            Ok(o) if o.status.success() => {
                for rev in String::from_utf8_lossy(&o.stdout).lines() {
                    match crate::diff::lock_at(&p, rev.trim()) {
                        Ok(l) => keep.extend(l.stages.into_values()),
                        Err(e) => tracing::debug!("{e}"),
                    }
                }
            }
            _ => {
                return Err(usage(
                    "--all-commits: the pipeline is not in a git repository",
                ));
            }
        }
    }
    let items: Vec<PathBuf> = p
        .stages
        .iter()
        .filter_map(|s| ctx.item_cache_dir(s))
        .collect();
    let gc = ctx
        .cache
        .gc(&keep, &items, dry_run)
        .map_err(|e| usage(format!("run cache {}: {e}", ctx.cache.root().display())))?;
    let n = gc.removed.len();
    let root = ctx.cache.root();
    let rel = |f: &Path| f.strip_prefix(root).unwrap_or(f).display().to_string();
    if dry_run {
        for f in &gc.removed {
            println!("would remove {}", rel(f));
        }
    }
    for f in &gc.foreign {
        println!(
            "left {}: not a file of the run cache's (agingflow removes only what it can identify as its own)",
            rel(f)
        );
    }
    println!(
        "{} {n} file{} ({:.1} MB) from the run cache {}",
        if dry_run { "would remove" } else { "removed" },
        if n == 1 { "" } else { "s" },
        gc.bytes as f64 / 1e6,
        root.display()
    );
    Ok(EXIT_OK)
}

fn cmd_diff(
    file: &Path,
    rev: &str,
    rev2: Option<&str>,
    format: DiffFormat,
    fail_on: &[String],
) -> Result<u8, u8> {
    use crate::diff::{self, FailOn, Side};
    let rules: Vec<FailOn> = fail_on
        .iter()
        .map(|r| FailOn::parse(r))
        .collect::<Result<_, _>>()
        .map_err(usage)?;
    let p = load(file)?;
    let ctx = Ctx::new(&p, false);
    // `A..B` is the two revisions A and B.
    let (rev, rev2) = match (rev.split_once(".."), rev2) {
        (Some((a, b)), None) if !a.is_empty() && !b.is_empty() && !b.starts_with('.') => {
            (a, Some(b))
        }
        (Some(_), _) => {
            return Err(usage(format!(
                "`{rev}`: expected `A..B`, or two revisions `A B`"
            )));
        }
        (None, r) => (rev, r),
    };
    let old = Side {
        label: rev.to_owned(),
        lock: diff::lock_at(&p, rev).map_err(usage)?,
        worktree: false,
    };
    let new = match rev2 {
        Some(r) => Side {
            label: r.to_owned(),
            lock: diff::lock_at(&p, r).map_err(usage)?,
            worktree: false,
        },
        None => Side {
            label: "working tree".to_owned(),
            lock: {
                // Checked, then with the entries of its journal (a run killed midway).
                LockFile::read_checked(&p.lock_path()).map_err(usage)?;
                (*ctx.locks.read(&p.lock_path())).clone()
            },
            worktree: true,
        },
    };
    // A side whose lock names no stage has nothing to compare: a gate on it fails.
    let mut code = EXIT_OK;
    for side in [&old, &new] {
        if side.lock.stages.is_empty() {
            eprintln!(
                "agingflow diff: the lock file at {} names no stage, so nothing can be compared",
                side.label
            );
            if !rules.is_empty() {
                code = EXIT_DATA;
            }
        }
    }
    let report = diff::compare(&p, &ctx.cache, &old, &new);
    match format {
        DiffFormat::Text => print!("{}", diff::text(&report)),
        DiffFormat::Markdown => print!("{}", diff::markdown(&report)),
        DiffFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|_| EXIT_INTERNAL)?
        ),
    }
    for rule in &rules {
        if !rule.names_something(&report) {
            eprintln!(
                "agingflow diff: --fail-on `{}`: `{}` is neither a numeric column of a result table nor a number of summary.json, so the rule could never fail",
                rule.name, rule.name
            );
            code = code.max(EXIT_USAGE);
            continue;
        }
        match rule.measure(&report) {
            None if report.missing.is_empty() => {
                // Nothing of that name changed or was compared: no change crosses the limit.
                eprintln!(
                    "agingflow diff: --fail-on `{}`: nothing named `{}` changed",
                    rule.name, rule.name
                );
            }
            None => {
                eprintln!(
                    "agingflow diff: --fail-on `{}`: outputs are missing from the run cache, so the rule cannot be decided",
                    rule.name
                );
                code = code.max(EXIT_DATA);
            }
            Some(v) if rule.crossed(v) => {
                eprintln!(
                    "agingflow diff: --fail-on `{} {} {}`: largest |change| {v} crosses the limit",
                    rule.name,
                    if rule.or_equal { ">=" } else { ">" },
                    rule.limit
                );
                code = code.max(EXIT_DATA);
            }
            Some(_) => {}
        }
    }
    Ok(code)
}

fn cmd_plan(file: &Path, sel: &Selection, json: bool) -> Result<u8, u8> {
    let p = load(file)?;
    let ctx = Ctx::new(&p, false);
    let plan = plan::plan(&ctx, sel).map_err(usage)?;
    if json {
        let doc = serde_json::json!({ "pipeline": p.name, "stages": plan });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|_| EXIT_INTERNAL)?
        );
    } else {
        for s in &plan {
            println!("{:<11} {}", s.action, s.stage);
            for r in &s.reasons {
                println!("{:<11}   {r}", "");
            }
            if s.action == plan::Action::Restore {
                println!(
                    "{:<11}   restored from cache: a run with this key is stored, nothing runs",
                    ""
                );
            }
        }
    }
    Ok(EXIT_OK)
}

fn cmd_status(file: &Path, json: bool) -> Result<u8, u8> {
    let p = load(file)?;
    let ctx = Ctx::new(&p, false);
    let plan = plan::plan(&ctx, &Selection::default()).map_err(usage)?;
    let stale = plan.iter().any(|s| s.action.stale());
    if json {
        let stages: Vec<_> = plan
            .iter()
            .map(|s| serde_json::json!({"stage": s.stage, "up_to_date": !s.action.stale(), "reasons": s.reasons}))
            .collect();
        let doc = serde_json::json!({ "pipeline": p.name, "up_to_date": !stale, "stages": stages });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|_| EXIT_INTERNAL)?
        );
    } else {
        for s in &plan {
            let word = if s.action.stale() {
                "stale"
            } else {
                "up to date"
            };
            let first = s
                .reasons
                .first()
                .map(|r| format!("  ({r})"))
                .unwrap_or_default();
            println!("{word:<11} {}{first}", s.stage);
        }
    }
    Ok(if stale { EXIT_DATA } else { EXIT_OK })
}

fn cmd_why(file: &Path, stage: &str) -> Result<u8, u8> {
    let p = load(file)?;
    let ctx = Ctx::new(&p, false);
    let Some(s) = p.stage(stage) else {
        let known: Vec<_> = p.stages.iter().map(|s| s.name.as_str()).collect();
        return Err(usage(format!(
            "no stage `{stage}` in {}; stages: {}",
            file.display(),
            known.join(", ")
        )));
    };
    let lock = LockFile::read_with_lists(&p.lock_path(), &ctx.cache.reads_dir());
    let reasons = crate::stale::staleness(&ctx.keys, s, lock.stages.get(stage));
    if reasons.is_empty() {
        println!("{stage} is up to date");
    } else {
        println!("{stage} is stale:");
        for r in reasons {
            println!("  {r}");
        }
    }
    Ok(EXIT_OK)
}

fn cmd_dag(file: &Path, format: DagFormat) -> Result<u8, u8> {
    let p = load(file)?;
    let mut out = String::new();
    let edges: Vec<(String, String, String)> = p
        .topo_order()
        .iter()
        .flat_map(|s| {
            s.inputs.iter().map(|(port, r)| {
                (
                    r.stage.clone(),
                    s.name.clone(),
                    format!("{}->{port}", r.port),
                )
            })
        })
        .collect();
    match format {
        DagFormat::Text => {
            for s in p.topo_order() {
                let from: Vec<String> = s
                    .inputs
                    .values()
                    .map(|r| format!("{}.{}", r.stage, r.port))
                    .collect();
                let to: Vec<&str> = s.outputs.keys().map(String::as_str).collect();
                out.push_str(&format!("{}\n", s.name));
                if !from.is_empty() {
                    out.push_str(&format!("  reads  {}\n", from.join(", ")));
                }
                out.push_str(&format!("  writes {}\n", to.join(", ")));
            }
        }
        DagFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            for s in p.topo_order() {
                out.push_str(&format!("  {}[\"{}\"]\n", mermaid_id(&s.name), s.name));
            }
            for (a, b, label) in &edges {
                out.push_str(&format!(
                    "  {} -->|{label}| {}\n",
                    mermaid_id(a),
                    mermaid_id(b)
                ));
            }
        }
        DagFormat::Dot => {
            out.push_str(&format!("digraph \"{}\" {{\n  rankdir=LR;\n", p.name));
            for s in p.topo_order() {
                out.push_str(&format!("  \"{}\";\n", s.name));
            }
            for (a, b, label) in &edges {
                out.push_str(&format!("  \"{a}\" -> \"{b}\" [label=\"{label}\"];\n"));
            }
            out.push_str("}\n");
        }
    }
    print!("{out}");
    Ok(EXIT_OK)
}

fn mermaid_id(name: &str) -> String {
    name.replace('-', "_")
}

fn cmd_check(file: &Path, junit: Option<&Path>) -> Result<u8, u8> {
    let p = load(file)?;
    let ctx = Ctx::new(&p, false);
    let mut results = Vec::new();
    for s in p.topo_order() {
        results.extend(crate::exec::evaluate_checks(s, |port| {
            p.dir.join(p.in_outdir(&s.outputs[port]))
        }));
    }
    for r in &results {
        let word = if r.outcome.passed { "pass" } else { "FAIL" };
        println!("{word} {}.{}: {}", r.stage, r.port, r.expect);
        if !r.outcome.passed {
            for line in r.outcome.detail.lines() {
                println!("     {line}");
            }
        }
    }
    let failed = results.iter().filter(|r| !r.outcome.passed).count();
    println!("{} passed, {failed} failed", results.len() - failed);
    if let Some(path) = junit {
        ctx.write_own(path, crate::checks::junit(&p.name, &results).as_bytes())
            .map_err(|e| usage(format!("--junit: {e}")))?;
    }
    Ok(if failed > 0 { EXIT_DATA } else { EXIT_OK })
}

fn cmd_external(args: Vec<OsString>) -> Result<u8, u8> {
    let Some(name) = args.first().map(|a| a.to_string_lossy().into_owned()) else {
        return Err(usage("no command given; see `agingflow --help`"));
    };
    let binary = format!("agingflow-{name}");
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(&binary)));
    let path = match beside.filter(|p| p.is_file()) {
        Some(p) => p,
        None => PathBuf::from(&binary),
    };
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(&path).args(&args[1..]).exec();
    Err(usage(format!(
        "unknown command `{name}`: cannot run {binary} ({err}); commands: run, plan, status, why, dag, check, or a stage ({})",
        crate::pipeline::builtin::names()
    )))
}
