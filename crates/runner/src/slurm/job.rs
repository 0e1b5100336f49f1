//! `agingflow job`: one stage run inside a Slurm job exactly as the local executor runs it
//! ([`crate::exec::run_stage`]), its outcome written for the runner to read.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::exec::{Outcome, run_stage};
use crate::pipeline::Pipeline;

/// Options of a run that its jobs must repeat.
#[derive(Debug, Clone, Default)]
pub struct JobOptions {
    pub no_checks: bool,
    pub timeout: Option<Duration>,
    pub allow_outside: bool,
}

/// What a job says when its stage ends (`outcomes/<stage>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobOutcome {
    /// `ID` or `ID_K` of the job that ran it.
    pub job: String,
    /// `ran`, `restored`, `up-to-date`, `failed` or `skipped`.
    pub outcome: String,
    #[serde(default)]
    pub message: String,
    /// Unix seconds when the job's process started and ended.
    pub started: f64,
    pub ended: f64,
}

pub(super) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn outcome_word(o: &Outcome) -> (&'static str, String) {
    match o {
        Outcome::Ran => ("ran", String::new()),
        Outcome::Restored => ("restored", String::new()),
        Outcome::UpToDate | Outcome::NotSelected => ("up-to-date", String::new()),
        Outcome::Failed(m) => ("failed", m.clone()),
        Outcome::Skipped(m) => ("skipped", m.clone()),
    }
}

pub(super) fn outcome_of(o: &JobOutcome) -> Outcome {
    match o.outcome.as_str() {
        "ran" => Outcome::Ran,
        "restored" => Outcome::Restored,
        "up-to-date" => Outcome::UpToDate,
        "skipped" => Outcome::Skipped(o.message.clone()),
        _ => Outcome::Failed(o.message.clone()),
    }
}

/// Where the job of `stage` writes its outcome, below the run's Slurm folder `dir`.
pub(super) fn outcome_path(dir: &Path, stage: &str) -> PathBuf {
    dir.join("outcomes").join(format!("{stage}.json"))
}

/// `agingflow job`: runs one stage of a pipeline inside a Slurm job (the array task's, when
/// several are named) as the local executor runs it, and writes its outcome for the runner.
/// Exit 0 when the stage ran, was restored or was up to date; 1 otherwise.
pub fn job_main(p: &Pipeline, stages: &[String], forced: &[String], opts: &JobOptions) -> u8 {
    let started = unix_now();
    let (name, handle) = match stages {
        [one] => (
            one.clone(),
            std::env::var("SLURM_JOB_ID").unwrap_or_else(|_| "local".into()),
        ),
        _ => {
            let k: Option<usize> = std::env::var("SLURM_ARRAY_TASK_ID")
                .ok()
                .and_then(|v| v.parse().ok());
            let Some(k) = k.filter(|k| *k < stages.len()) else {
                eprintln!(
                    "agingflow job: several stages need SLURM_ARRAY_TASK_ID below {}",
                    stages.len()
                );
                return stage_cli::EXIT_USAGE;
            };
            let array = std::env::var("SLURM_ARRAY_JOB_ID").unwrap_or_else(|_| "local".into());
            (stages[k].clone(), format!("{array}_{k}"))
        }
    };
    let Some(stage) = p.stage(&name) else {
        eprintln!(
            "agingflow job: no stage `{name}` in {} (the pipeline changed since the job was submitted?)",
            p.file.display()
        );
        return stage_cli::EXIT_USAGE;
    };
    let mut ctx = Ctx::new(p, opts.no_checks);
    ctx.default_timeout = opts.timeout;
    if forced.contains(&name) {
        ctx.forget_memo();
    }
    if let Err(e) = guard::create_dirs(&ctx.state_dir("staging")) {
        eprintln!("agingflow job: {e}");
        return stage_cli::EXIT_INTERNAL;
    }
    let outcome = run_stage(&ctx, stage, forced.contains(&name));
    ctx.save_memo();
    let (word, message) = outcome_word(&outcome);
    println!(
        "{word} {name}{}",
        if message.is_empty() {
            String::new()
        } else {
            format!(": {message}")
        }
    );
    let o = JobOutcome {
        job: handle,
        outcome: word.to_owned(),
        message,
        started,
        ended: unix_now(),
    };
    let path = outcome_path(&ctx.state_dir("slurm"), &name);
    let written = serde_json::to_vec(&o)
        .map_err(|e| e.to_string())
        .and_then(|b| {
            if let Some(d) = path.parent() {
                guard::create_dirs(d).map_err(|e| e.to_string())?;
            }
            guard::write_file(&path, &b).map_err(|e| e.to_string())
        });
    if let Err(e) = written {
        eprintln!("agingflow job: cannot write the outcome: {e}");
        return stage_cli::EXIT_INTERNAL;
    }
    if outcome.ok() {
        stage_cli::EXIT_OK
    } else {
        stage_cli::EXIT_DATA
    }
}
