//! The stage's process: the runner's stop signal, waiting for a stage's process group under a
//! time limit (SIGTERM, then SIGKILL), the tail of its log, and the advisory file locks that keep
//! two runners apart.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The signal that asked this runner to stop (SIGTERM, SIGINT), 0 while none has. Set by the
/// handlers `commands::run` installs; running stages are then stopped and no new one starts.
pub static STOP: LazyLock<Arc<AtomicUsize>> = LazyLock::new(|| Arc::new(AtomicUsize::new(0)));

pub(crate) fn stop_signal() -> usize {
    STOP.load(Ordering::SeqCst)
}

/// How long a stage has, after SIGTERM to its process group, before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// An exclusive advisory lock on a file, released on drop.
pub(crate) struct FileLock {
    file: File,
}

impl FileLock {
    pub(crate) fn acquire(path: &Path) -> Result<FileLock> {
        if let Some(dir) = path.parent() {
            guard::create_dirs(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|source| Error::Lock {
                what: "open",
                path: path.to_owned(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::info!(
                    "waiting for {} (another agingflow run holds it)",
                    path.display()
                );
                file.lock().map_err(|source| Error::Lock {
                    what: "lock",
                    path: path.to_owned(),
                    source,
                })?;
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(Error::Lock {
                    what: "lock",
                    path: path.to_owned(),
                    source,
                });
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

/// The last lines of a stage's log, indented, for the failure message.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &all[all.len().saturating_sub(lines)..];
    tail.iter().map(|l| format!("\n    | {l}")).collect()
}

/// How a stage's process ended.
pub(crate) enum Ended {
    Exited(std::process::ExitStatus),
    Stopped(usize),
    TimedOut(Duration),
}

/// Waits for a stage's process group, stopping it on a runner signal or its time limit: SIGTERM
/// to the group, then SIGKILL after [`GRACE`]. A thread blocks in `wait` for the stage's exit, so
/// the next stage starts as soon as this one ends (polling with naps cost up to 20 ms a stage);
/// the runner's signals and the time limit are looked at every 20 ms meanwhile.
pub(crate) fn wait_stage(
    child: &mut std::process::Child,
    limit: Option<Duration>,
) -> std::io::Result<Ended> {
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
