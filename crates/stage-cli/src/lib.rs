//! What every agingflow stage binary shares: the common flags, logging set up once, the exit codes
//! of docs/pipeline.md, progress on a terminal, and the protocol by which a stage tells the
//! runner which files it read.
//!
//! A stage's `main` is a few lines:
//! ```text
//! fn main() -> std::process::ExitCode {
//!     let args = Args::parse();
//!     stage_cli::run(&args.common, || my_stage::run(&args.into_params()?).map_err(StageError::data))
//! }
//! ```

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

pub mod hashes;

pub mod progress;

pub use anyhow;
pub use clap;
pub use progress::{PROGRESS_ENV, Progress};
pub use tracing;

/// A finite number, or why the text is not one.
fn finite_f64(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !v.is_finite() {
        return Err(format!("`{text}` is not a finite number"));
    }
    Ok(v)
}

/// A clap value parser for a positive, finite number: `nan`, `inf`, zero and negative values are
/// refused with a message rather than let through to the numerics.
pub fn positive_f64(text: &str) -> Result<f64, String> {
    let v = finite_f64(text)?;
    if v <= 0.0 {
        return Err(format!("`{text}` must be greater than zero"));
    }
    Ok(v)
}

/// A clap value parser for a finite number that is zero or more.
pub fn non_negative_f64(text: &str) -> Result<f64, String> {
    let v = finite_f64(text)?;
    if v < 0.0 {
        return Err(format!("`{text}` must be zero or more"));
    }
    Ok(v)
}

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: failure of the data (bad input, nothing fitted).
pub const EXIT_DATA: u8 = 1;
/// Exit code: usage error (bad flags or options).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: internal error (a bug).
pub const EXIT_INTERNAL: u8 = 3;

/// The environment variable naming the file a stage appends the paths it read to.
pub const READS_ENV: &str = "AGINGFLOW_READS";
/// The file the runner names for what a stage dropped whole (see [`report_dropped`]).
pub const DROPPED_ENV: &str = "AGINGFLOW_DROPPED";

/// Flags every stage accepts.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// More log output on stderr: -v for debug, -vv for trace (RUST_LOG overrides)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log format on stderr
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Worker threads for parallel work [default: number of cores]; results never depend on it
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
}

/// How log lines are written.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines
    #[default]
    Text,
    /// One JSON object per line
    Json,
}

/// Why a stage failed, which decides its exit code.
#[derive(Debug)]
pub enum StageError {
    /// The data is bad or nothing usable came out (exit 1).
    Data(anyhow::Error),
    /// The options are wrong (exit 2).
    Usage(anyhow::Error),
    /// A bug (exit 3).
    Internal(anyhow::Error),
}

impl StageError {
    pub fn data(e: impl Into<anyhow::Error>) -> Self {
        StageError::Data(e.into())
    }
    pub fn usage(e: impl Into<anyhow::Error>) -> Self {
        StageError::Usage(e.into())
    }
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        StageError::Internal(e.into())
    }
    /// The exit code of docs/pipeline.md.
    pub fn exit_code(&self) -> u8 {
        match self {
            StageError::Data(_) => EXIT_DATA,
            StageError::Usage(_) => EXIT_USAGE,
            StageError::Internal(_) => EXIT_INTERNAL,
        }
    }
    fn error(&self) -> &anyhow::Error {
        match self {
            StageError::Data(e) | StageError::Usage(e) | StageError::Internal(e) => e,
        }
    }
}

/// Sets up logging to stderr (once) and the worker pool.
pub fn init(common: &CommonArgs) {
    let default = match common.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second call (tests) keeps the first subscriber.
    let _ = match common.log_format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .without_time()
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if let Some(n) = common.threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
}

/// Runs a stage's body: sets up logging, maps its error to an exit code, and turns a panic into
/// exit code 3 with a message instead of a crash.
pub fn run(common: &CommonArgs, body: impl FnOnce() -> Result<(), StageError>) -> ExitCode {
    init(common);
    let start = std::time::Instant::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    if let Some(mb) = peak_memory_mb() {
        let cpu = cpu_time_s()
            .map(|c| format!("{c:.2} s"))
            .unwrap_or_else(|| "?".into());
        tracing::debug!(
            "wall time {:.3} s, cpu time {cpu}, peak memory {mb:.1} MB",
            start.elapsed().as_secs_f64()
        );
    }
    match result {
        Ok(Ok(())) => ExitCode::from(EXIT_OK),
        Ok(Err(e)) => {
            tracing::error!("{:#}", e.error());
            ExitCode::from(e.exit_code())
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            tracing::error!("internal error: {msg}");
            ExitCode::from(EXIT_INTERNAL)
        }
    }
}

/// The process's peak resident memory in MB (Linux: VmHWM), for benchmarks and `-v` logs.
pub fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// User plus system CPU time of the process so far, in seconds (Linux: /proc/self/stat, in
/// clock ticks of 1/100 s).
pub fn cpu_time_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The read list as last opened: its path and the open file.
static READS_LOCK: Mutex<Option<(std::path::PathBuf, std::fs::File)>> = Mutex::new(None);

/// Tells the runner that this stage read `path` (a raw file named by a manifest, say), so that a
/// change to that file makes the stage stale. Does nothing when the stage runs on its own.
///
/// Protocol: the runner sets `AGINGFLOW_READS` to a file path; the stage appends one line per file,
/// its absolute path, optionally followed by a tab and the BLAKE3 hash (hex) of the bytes it read,
/// so that the runner can tell when the file changed while the stage ran. Files passed as inputs
/// or `deps` need not be reported.
pub fn report_read(path: &Path) {
    // Whatever a stage read, it may not overwrite.
    guard::protect(path, "a file this stage read");
    if let Some(list) = std::env::var_os(READS_ENV) {
        let hash = std::fs::read(path).ok().map(|b| blake3::hash(&b));
        report_read_to(Path::new(&list), path, hash);
    }
}

/// Says that the stage dropped a whole test, scan or indent (`kind` is `test`, `scan` or
/// `indent`; `why` the status it got): a warning in the log and, under the runner, a line
/// (`kind<TAB>id<TAB>why`) in the file `AGINGFLOW_DROPPED` names, which the runner's summary
/// counts and lists.
pub fn report_dropped(kind: &str, id: &str, why: &str) {
    tracing::warn!("{kind} {id} dropped: {why}");
    if let Some(list) = std::env::var_os(DROPPED_ENV) {
        report_dropped_to(Path::new(&list), kind, id, why);
    }
}

/// Appends a dropped line to `list`, but only to the runner's own file: one in an
/// `.agingflow/staging` folder that guard does not protect (a stage run by hand with the
/// variable pointing elsewhere writes nothing).
fn report_dropped_to(list: &Path, kind: &str, id: &str, why: &str) -> bool {
    let ours = list
        .parent()
        .is_some_and(|d| d.ends_with(".agingflow/staging"))
        && guard::check(list).is_ok();
    if !ours {
        return false;
    }
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let line = format!("{}\t{}\t{}\n", clean(kind), clean(id), clean(why));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(list)
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()))
        .is_ok()
}

/// [`report_read`] for a file whose bytes the stage holds: their hash is what it read.
pub fn report_read_bytes(path: &Path, bytes: &[u8]) {
    report_read_hash(path, blake3::hash(bytes));
}

/// [`report_read`] for a file whose hash the stage knows without reading it (from the runner's
/// memo, see [`hashes`]): a stage that reuses what it computed from the file earlier.
pub fn report_read_hash(path: &Path, hash: blake3::Hash) {
    report_read_hashes(&[(path, hash)]);
}

/// [`report_read_hash`] for several files, recorded with one write (a group of a campaign's
/// thousands of raw files that the stage reuses whole).
pub fn report_read_hashes(reads: &[(&Path, blake3::Hash)]) {
    let resolved: Vec<PathBuf> = reads
        .iter()
        .map(|(path, _)| guard::protect_resolved(path, "a file this stage read"))
        .collect();
    if let Some(list) = std::env::var_os(READS_ENV) {
        let lines: String = resolved
            .iter()
            .zip(reads)
            .map(|(abs, (_, h))| line_of(abs, Some(*h)))
            .collect();
        if let Some((path, _)) = reads.first() {
            write_lines(Path::new(&list), &lines, path);
        }
    }
}

/// Appends `path`, made absolute, and its hash to the list file `list`.
pub fn report_read_to(list: &Path, path: &Path, hash: Option<blake3::Hash>) {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    report_line(list, &abs, path, hash);
}

/// Appends the read of `path` (resolved: `abs`) to the list file.
fn report_line(list: &Path, abs: &Path, path: &Path, hash: Option<blake3::Hash>) {
    write_lines(list, &line_of(abs, hash), path);
}

/// The list's line for a read of `abs`.
fn line_of(abs: &Path, hash: Option<blake3::Hash>) -> String {
    match hash {
        Some(h) => format!("{}\t{}\n", abs.display(), h.to_hex()),
        None => format!("{}\n", abs.display()),
    }
}

/// Appends `line` (one or more whole lines) to the list file; `path` names the read in a warning.
fn write_lines(list: &Path, line: &str, path: &Path) {
    let mut open = READS_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    // The list stays open (one write a call, unbuffered: nothing is lost if the stage dies):
    // ingest reports 12 000 files, a group at a time.
    let file = match open.take().filter(|(p, _)| p == list) {
        Some(kept) => Ok(kept),
        None => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(list)
            .map(|f| (list.to_owned(), f)),
    };
    let written = file.and_then(|(p, mut f)| {
        let r = f.write_all(line.as_bytes());
        *open = Some((p, f));
        r
    });
    if let Err(e) = written {
        tracing::warn!(
            "cannot record read of {} in {}: {e}",
            path.display(),
            list.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_lines_go_only_to_the_runners_staging_file() {
        let d = tempfile::tempdir().unwrap();
        let staging = d.path().join("out/.agingflow/staging");
        std::fs::create_dir_all(&staging).unwrap();
        let ours = staging.join("clean-1-0.dropped");
        assert!(report_dropped_to(
            &ours,
            "test",
            "a\tb",
            "non_monotone_time"
        ));
        assert_eq!(
            std::fs::read_to_string(&ours).unwrap(),
            "test\ta b\tnon_monotone_time\n"
        );
        // A user's file named by hand is never touched.
        let theirs = d.path().join("notes.txt");
        std::fs::write(&theirs, "mine\n").unwrap();
        assert!(!report_dropped_to(&theirs, "test", "x", "y"));
        assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "mine\n");
    }

    #[test]
    fn errors_and_panics_map_to_the_contract_exit_codes() {
        let c = CommonArgs::default();
        assert_eq!(run(&c, || Ok(())), ExitCode::from(0));
        assert_eq!(
            run(&c, || Err(StageError::data(anyhow::anyhow!("bad row")))),
            ExitCode::from(1)
        );
        assert_eq!(
            run(&c, || Err(StageError::usage(anyhow::anyhow!("bad flag")))),
            ExitCode::from(2)
        );
        assert_eq!(
            run(&c, || Err(StageError::internal(anyhow::anyhow!("bug")))),
            ExitCode::from(3)
        );
        assert_eq!(run(&c, || panic!("boom")), ExitCode::from(3));
    }

    #[test]
    fn reads_are_appended_to_the_named_file() {
        let dir = std::env::temp_dir().join(format!("stage-cli-reads-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let list = dir.join("reads");
        let file = dir.join("raw.txt");
        std::fs::write(&file, "x").unwrap();
        report_read_to(&list, &file, None);
        report_read_to(&list, &file, Some(blake3::hash(b"x")));
        let text = std::fs::read_to_string(&list).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(
            text.lines().all(|l| l
                .split('\t')
                .next()
                .is_some_and(|p| p.ends_with("raw.txt") && Path::new(p).is_absolute())),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
