//! Slurm's client commands as the executor uses them: `sbatch` scripts (every word quoted, no
//! shell string built from pipeline values), job names, `squeue` read per task, `scancel`,
//! `scontrol`'s exit code. A failure names the command.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

/// A word for a POSIX shell, single-quoted: nothing in it is expanded.
pub fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r#"'\''"#))
}

/// The batch script of a job: the job's argv, each word quoted; the stage's worker threads set to
/// the CPUs Slurm gave the task.
pub fn batch_script(argv: &[String], what: &str) -> String {
    let words: Vec<String> = argv.iter().map(|w| sh_quote(w)).collect();
    format!(
        "#!/bin/sh\n# Written by agingflow for {}.\nRAYON_NUM_THREADS=\"${{SLURM_CPUS_PER_TASK:-1}}\"\nexport RAYON_NUM_THREADS\nexec {}\n",
        what.replace('\n', " "),
        words.join(" ")
    )
}

/// A job name's characters: letters, digits, `-`, `_`, `.`; anything else `_`.
pub(super) fn job_name(tag: &str, unit: &str) -> String {
    let clean: String = unit
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("af-{tag}-{clean}")
}

/// Minutes for `--time`, rounded up.
pub(super) fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}

/// A Slurm client command, with its standard output on success or a message naming it.
pub(super) fn slurm(program: &str, args: &[String]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "cannot run `{program}` ({e}): the slurm executor needs Slurm's client commands (sbatch, squeue, scancel) on PATH"
            )
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A job's state as `squeue` says it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueState {
    pub state: String,
    pub reason: String,
    /// The job's name (`af-<tag>-<stage>` for agingflow's).
    pub name: String,
}

impl QueueState {
    /// Whether the job may still run (or is running).
    pub fn alive(&self) -> bool {
        matches!(
            self.state.as_str(),
            "PENDING"
                | "RUNNING"
                | "CONFIGURING"
                | "COMPLETING"
                | "SUSPENDED"
                | "REQUEUED"
                | "REQUEUE_HOLD"
                | "REQUEUE_FED"
                | "RESIZING"
                | "SIGNALING"
                | "STAGE_OUT"
                | "STOPPED"
                | "RESV_DEL_HOLD"
        )
    }
}

/// The `squeue -o` format [`parse_queue`] reads.
pub(super) const QUEUE_FORMAT: &str = "%i|%T|%j|%r";

/// `squeue -h -t all -r -o '%i|%T|%j|%r'` output: handle (`ID` or `ID_K`) to state.
pub fn parse_queue(text: &str) -> HashMap<String, QueueState> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().splitn(4, '|');
            let (id, state) = (f.next()?.trim(), f.next()?.trim());
            if id.is_empty() || state.is_empty() {
                return None;
            }
            let name = f.next().unwrap_or("").trim().to_owned();
            Some((
                id.to_owned(),
                QueueState {
                    state: state.to_owned(),
                    name,
                    reason: f.next().unwrap_or("").trim().to_owned(),
                },
            ))
        })
        .collect()
}

/// The states of the jobs `ids` (job or array ids): one `squeue` call. Ids Slurm no longer knows
/// are absent (`squeue` fails when it knows none of them).
pub(super) fn queue(ids: &[String]) -> Result<HashMap<String, QueueState>, String> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let args: Vec<String> = [
        "-h",
        "-t",
        "all",
        "-r",
        "-o",
        QUEUE_FORMAT,
        "-j",
        &ids.join(","),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match slurm("squeue", &args) {
        Ok(text) => Ok(parse_queue(&text)),
        Err(e) if e.contains("Invalid job id") => Ok(HashMap::new()),
        Err(e) => Err(e),
    }
}

/// Cancels the jobs (handles `ID` or `ID_K`); `pending_only` leaves running ones alone.
pub(super) fn cancel(handles: &[String], pending_only: bool) {
    if handles.is_empty() {
        return;
    }
    let mut args: Vec<String> = Vec::new();
    if pending_only {
        args.extend(["--state".to_owned(), "PENDING".to_owned()]);
    }
    args.extend(handles.iter().cloned());
    if let Err(e) = slurm("scancel", &args) {
        tracing::warn!("{e}");
    }
}

/// The `ExitCode=` (`code:signal`) that `scontrol show job -o` gives a job, while Slurm still
/// knows it.
pub(super) fn exit_code(handle: &str) -> Option<String> {
    let text = slurm(
        "scontrol",
        &["show".into(), "job".into(), "-o".into(), handle.into()],
    )
    .ok()?;
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("ExitCode="))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(sh_quote("plain"), "'plain'");
        assert_eq!(sh_quote("it's $(rm -rf ~)"), r#"'it'\''s $(rm -rf ~)'"#);
        let s = batch_script(&["/bin/agingflow".into(), "a b".into(), "`x`".into()], "t");
        assert!(s.ends_with("exec '/bin/agingflow' 'a b' '`x`'\n"), "{s}");
    }

    #[test]
    fn the_queue_is_read_per_task() {
        let q = parse_queue(
            "12|RUNNING|af-x-a|None\n13_0|COMPLETED|af-x-b|None\n13_1|PENDING|af-x-b|Dependency\n\n",
        );
        assert!(q["12"].alive());
        assert!(!q["13_0"].alive());
        assert_eq!(q["13_1"].reason, "Dependency");
        assert!(q["13_1"].alive());
        assert_eq!(q["12"].name, "af-x-a");
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn job_names_and_minutes() {
        assert_eq!(job_name("abcd", "fit@glass A"), "af-abcd-fit_glass_A");
        assert_eq!(minutes(Duration::from_secs(61)), 2);
        assert_eq!(minutes(Duration::from_secs(1)), 1);
    }
}
