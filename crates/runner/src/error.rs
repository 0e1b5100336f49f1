//! The runner's typed errors: what can stop a stage from being keyed, run or committed, and a run
//! from starting. Their texts are the messages a user reads (in a stage's failure line or on
//! stderr), so each names the file, stage or port concerned.

use std::path::PathBuf;

/// Why the runner could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A stage's program is neither a file below the pipeline folder nor on `PATH`.
    #[error("program `{name}` not found{}", if *.relative { "" } else { " next to agingflow nor on PATH" })]
    ProgramNotFound { name: String, relative: bool },
    /// An input port's file does not exist (its stage has not run).
    #[error("input `{port}` ({path}) is missing: run its stage first")]
    InputMissing { port: String, path: String },
    /// A `deps` pattern that is not a glob.
    #[error("bad glob `{pattern}` in deps: {message}")]
    BadGlob { pattern: String, message: String },
    /// A `deps` pattern that matches nothing.
    #[error("deps entry `{pattern}` of stage `{stage}` matches no file")]
    DepsMatchNothing { pattern: String, stage: String },
    /// A file could not be read or hashed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A read file that could not be hashed (path relative to the pipeline folder).
    #[error("file read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// A file the stage read changed while it ran.
    #[error(
        "file {path} changed while the stage ran (the stage read another version): its outputs are not kept; run again"
    )]
    ReadChanged { path: String },
    /// A lock file (advisory) could not be opened or taken.
    #[error("cannot {what} {}: {source}", path.display())]
    Lock {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A runner signal (SIGINT, SIGTERM) stopped the work.
    #[error("stopped by a signal")]
    Stopped,
    /// `--only`, `--force`, `--until` or `--from` names no stage of the pipeline.
    #[error("no stage `{name}` in {}; stages: {known}", file.display())]
    UnknownStage {
        name: String,
        file: PathBuf,
        known: String,
    },
    /// The selection flags leave no stage.
    #[error(
        "the selection ({0}) names no stage to run: --only, --until and --from narrow one another, and these leave nothing"
    )]
    EmptySelection(String),
    /// The output directory's state folder could not be made.
    #[error("cannot create the output directory: {0}")]
    OutputDir(guard::GuardError),
    /// The lock file cannot be written where the pipeline file is.
    #[error("cannot write the lock file {} beside the pipeline file: {source}; nothing was run", path.display())]
    LockNotWritable {
        path: PathBuf,
        source: guard::GuardError,
    },
    /// Moving outputs into place or writing agingflow's files was refused or failed.
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
    /// An output was refused before anything moved.
    #[error("output not moved into place, nothing changed: {0}")]
    NotMoved(guard::GuardError),
    /// An output path reached through a symlink that leaves the output directory.
    #[error(
        "output `{port}` ({rel}) would be written outside the output directory {outdir} (through a symlink): refused"
    )]
    OutsideOutdir {
        port: String,
        rel: String,
        outdir: String,
    },
    /// A file stands where an output goes and agingflow has no record of writing it.
    #[error(
        "output not moved into place, nothing changed: {path} exists and agingflow has no record of writing it (not in the lock file as output `{port}`); move it away or choose another output path"
    )]
    NotOurs { path: String, port: String },
    /// The run cache could not supply or take a run.
    #[error("{0}")]
    Cache(String),
    /// The Slurm executor: a command, the queue or a job.
    #[error("{0}")]
    Slurm(String),
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The runner's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
