//! Staging and commit mechanics beneath the execution of a stage: the state folder prepared and
//! killed runs' staging removed before the first stage, the lock file found writable, and a
//! stage's staged outputs moved into place together (never onto a protected path, a file the
//! stage read, or a file agingflow has no record of writing).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::hash;
use crate::lock::StageLock;
use crate::pipeline::Stage;

/// Moves a stage's outputs into place together, after checking each target: not a protected
/// path, not one of the files the stage read, and a directory in the way only when agingflow made
/// it (a directory output of an older agingflow, recorded in the lock file unchanged, is marked
/// first).
pub(crate) fn commit_outputs(
    ctx: &Ctx,
    stage: &Stage,
    locked: Option<&StageLock>,
    staging: &Path,
    entry: &StageLock,
    fresh_reads: bool,
) -> Result<guard::Applied> {
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
            let path = ctx.keys.abs(rel);
            let below = Path::new(rel.as_str())
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            let real = if fresh_reads && below {
                ctx.keys.root.join(rel.as_str())
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
        let target = ctx.keys.abs(&ctx.p.in_outdir(rel));
        guard::check_with(&target, &extra).map_err(Error::NotMoved)?;
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir())
            && std::fs::symlink_metadata(target.join(guard::MARKER)).is_err()
            && let Some(old) = locked.and_then(|l| l.outputs.get(port))
            && hash::path(&target).ok().flatten().as_deref() == Some(old.blake3.as_str())
        {
            guard::mark_dir(&target)?;
        }
        // A target reached through a symlink that leaves the output directory is refused.
        if !guard::resolve(&target).starts_with(&outdir) {
            return Err(Error::OutsideOutdir {
                port: port.clone(),
                rel: rel.clone(),
                outdir: ctx.p.outdir.clone(),
            });
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
            return Err(Error::NotOurs {
                path: ctx.p.in_outdir(rel),
                port: port.clone(),
            });
        }
        moves.push((staging.join(rel), target));
    }
    guard::Transaction::prepare(&moves, &extra)
        .and_then(guard::Transaction::apply)
        .map_err(Error::NotMoved)
}

/// writable, killed runs' staging removed.
pub(crate) fn prepare_run(ctx: &Ctx) -> Result<()> {
    guard::create_dirs(&ctx.state_dir("staging")).map_err(Error::OutputDir)?;
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
fn check_writable(ctx: &Ctx) -> Result<()> {
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
    made.map_err(|source| Error::LockNotWritable { path: lock, source })
}
