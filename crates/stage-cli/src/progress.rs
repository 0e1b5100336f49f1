//! Progress of a stage's long work: drawn on stderr when a person runs the stage in a terminal,
//! or, under the runner, written to the file the runner names (`AGINGFLOW_PROGRESS`) for the
//! runner to draw; nothing at all when stderr is a log or a pipe.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// The file a stage under the runner writes its progress to: one line,
/// `done<TAB>total<TAB>elapsed_ms<TAB>label`, replaced whole (at most 5 times a second).
pub const PROGRESS_ENV: &str = "AGINGFLOW_PROGRESS";

/// How often progress is redrawn or rewritten, at most.
const EVERY_MS: u64 = 200;

#[derive(Debug)]
enum Sink {
    Silent,
    Terminal,
    /// The runner's file in its `.agingflow/staging` folder.
    Runner(PathBuf),
}

/// A counter of work done out of a total (0: unknown), shared by the threads doing the work.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: usize,
    done: AtomicUsize,
    last_ms: AtomicU64,
    start: Instant,
    sink: Sink,
}

impl Progress {
    /// `label` names the units counted ("row groups of curves"); `total` is how many (0 when not
    /// known beforehand).
    pub fn new(label: &str, total: usize) -> Self {
        let sink = match std::env::var_os(PROGRESS_ENV) {
            Some(p) if runners_file(Path::new(&p)) => Sink::Runner(PathBuf::from(p)),
            _ if std::io::stderr().is_terminal() => Sink::Terminal,
            _ => Sink::Silent,
        };
        let p = Progress {
            label: label.replace(['\t', '\n', '\r'], " "),
            total,
            done: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            start: Instant::now(),
            sink,
        };
        // The runner learns of the work, and its total, at once.
        p.emit(0, 0);
        p
    }

    /// Counts `n` more items done.
    pub fn add(&self, n: usize) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if matches!(self.sink, Sink::Silent) {
            return;
        }
        let ms = self.start.elapsed().as_millis() as u64;
        let last = self.last_ms.load(Ordering::Relaxed);
        if (ms >= last + EVERY_MS || done == self.total)
            && self
                .last_ms
                .compare_exchange(last, ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.emit(done, ms);
        }
    }

    /// Counts `n` items done when the returned guard is dropped (work with several exits).
    pub fn on_drop(&self, n: usize) -> Tally<'_> {
        Tally { progress: self, n }
    }

    fn emit(&self, done: usize, ms: u64) {
        match &self.sink {
            Sink::Silent => {}
            // A person watching a stage alone sees nothing for the first two seconds.
            Sink::Terminal if ms >= 2000 => {
                let line = text(&self.label, done, self.total, ms as f64 / 1000.0);
                eprint!("\r{line}\x1b[K");
            }
            Sink::Terminal => {}
            Sink::Runner(path) => {
                let record = format!("{done}\t{}\t{ms}\t{}\n", self.total, self.label);
                // Progress is a courtesy: a file that cannot be written costs nothing else.
                let _ = guard::write_file(path, record.as_bytes());
            }
        }
    }

    /// Ends the display: clears the terminal's line (the runner removes its file).
    pub fn finish(&self) {
        if matches!(self.sink, Sink::Terminal) && self.start.elapsed().as_millis() >= 2000 {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Adds its count to its [`Progress`] when dropped.
pub struct Tally<'a> {
    progress: &'a Progress,
    n: usize,
}

impl Drop for Tally<'_> {
    fn drop(&mut self) {
        self.progress.add(self.n);
    }
}

/// Only the runner's own file: a `.progress` file in an `.agingflow/staging` folder that guard
/// does not protect (a stage run by hand with the variable pointing elsewhere writes nothing).
fn runners_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "progress")
        && path
            .parent()
            .is_some_and(|d| d.ends_with(".agingflow/staging"))
        && guard::check(path).is_ok()
}

/// One progress record as a stage wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub done: usize,
    pub total: usize,
    pub elapsed_s: f64,
    pub label: String,
}

impl Record {
    /// Parses a record (None for a partial or foreign line).
    pub fn parse(line: &str) -> Option<Record> {
        let mut f = line.trim_end_matches('\n').splitn(4, '\t');
        let done = f.next()?.parse().ok()?;
        let total = f.next()?.parse().ok()?;
        let ms: u64 = f.next()?.parse().ok()?;
        let label = f.next()?.to_owned();
        Some(Record {
            done,
            total,
            elapsed_s: ms as f64 / 1000.0,
            label,
        })
    }

    pub fn text(&self) -> String {
        text(&self.label, self.done, self.total, self.elapsed_s)
    }
}

/// `412/2014 row groups of curves  20 %  35.1/s  45 s left`: what is done, of how many, the rate
/// and the time left at that rate (without a total: what is done and the rate).
pub fn text(label: &str, done: usize, total: usize, elapsed_s: f64) -> String {
    let rate = if elapsed_s > 0.0 {
        done as f64 / elapsed_s
    } else {
        0.0
    };
    let rate_text = if rate >= 10.0 {
        format!("{rate:.0}/s")
    } else {
        format!("{rate:.1}/s")
    };
    if total == 0 {
        return format!("{done} {label}  {rate_text}");
    }
    let pct = 100.0 * done as f64 / total as f64;
    let left = if rate > 0.0 {
        let s = (total.saturating_sub(done)) as f64 / rate;
        if s >= 90.0 {
            format!("{:.0} min left", s / 60.0)
        } else {
            format!("{s:.0} s left")
        }
    } else {
        "time left unknown".to_owned()
    };
    format!("{done}/{total} {label}  {pct:.0} %  {rate_text}  {left}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_reads_as_a_line() {
        let r = Record::parse("412\t2014\t11750\trow groups of curves\n").unwrap();
        assert_eq!(r.done, 412);
        assert_eq!(r.total, 2014);
        assert_eq!(
            r.text(),
            "412/2014 row groups of curves  20 %  35/s  46 s left"
        );
        assert_eq!(Record::parse("412\t20"), None);
        assert_eq!(Record::parse("x\t1\t2\ty"), None);
        assert_eq!(text("files", 30, 0, 2.0), "30 files  15/s");
        assert_eq!(
            text("curves", 0, 10, 3.0),
            "0/10 curves  0 %  0.0/s  time left unknown"
        );
        assert_eq!(
            text("curves", 10, 1000, 1.0),
            "10/1000 curves  1 %  10/s  2 min left"
        );
    }

    #[test]
    fn under_the_runner_the_record_is_written_whole() {
        let d = tempfile::tempdir().unwrap();
        let staging = d.path().join("out/.agingflow/staging");
        std::fs::create_dir_all(&staging).unwrap();
        let file = staging.join("kww-fit-1-0.progress");
        let p = Progress {
            label: "curves".into(),
            total: 5,
            done: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            start: Instant::now(),
            sink: Sink::Runner(file.clone()),
        };
        p.add(2);
        p.add(3);
        let r = Record::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!((r.done, r.total, r.label.as_str()), (5, 5, "curves"));
    }

    #[test]
    fn only_the_runners_staging_file_is_written() {
        let d = tempfile::tempdir().unwrap();
        let staging = d.path().join("out/.agingflow/staging");
        std::fs::create_dir_all(&staging).unwrap();
        assert!(runners_file(&staging.join("spectrum-1-0.progress")));
        assert!(!runners_file(&staging.join("spectrum-1-0.reads")));
        assert!(!runners_file(&d.path().join("notes.progress")));
    }
}
