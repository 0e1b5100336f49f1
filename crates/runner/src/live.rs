//! The live lines of `agingflow run`: while stages run, one line each for those that have run
//! for more than two seconds and report their progress (`stage_cli::Progress`, through the file
//! `AGINGFLOW_PROGRESS` names in the staging folder), redrawn on stderr four times a second and
//! cleared before a stage's result line is printed. On a terminal only (`--progress auto`), or
//! `always`, or `never`; logs and CI output stay clean. The stages report, the runner draws.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stage_cli::progress::Record;

/// When `run` draws live progress lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Never.
    Never,
    /// When stderr is a terminal.
    Auto,
    /// Always (ANSI cursor movements even into a file or pipe).
    Always,
}

impl ProgressMode {
    pub fn enabled(self) -> bool {
        match self {
            ProgressMode::Never => false,
            ProgressMode::Auto => std::io::IsTerminal::is_terminal(&std::io::stderr()),
            ProgressMode::Always => true,
        }
    }
}

/// A stage is shown once it has run this long.
const AFTER_S: f64 = 2.0;
const TICK: Duration = Duration::from_millis(250);

/// The live lines of one run.
pub struct Live {
    on: bool,
    /// The runner's staging folder, where the stages write their progress.
    staging: PathBuf,
    /// How many lines are on the screen now.
    drawn: Mutex<usize>,
    done: AtomicBool,
}

impl Live {
    pub fn new(on: bool, staging: PathBuf) -> Self {
        Live {
            on,
            staging,
            drawn: Mutex::new(0),
            done: AtomicBool::new(false),
        }
    }

    pub fn on(&self) -> bool {
        self.on
    }

    /// Runs `print` (which writes a result line) with the live lines out of its way.
    pub fn print(&self, print: impl FnOnce()) {
        let mut drawn = self.drawn.lock().unwrap_or_else(|e| e.into_inner());
        clear(&mut drawn);
        print();
    }

    /// Redraws until [`Live::stop`]; the lines are cleared at the end.
    pub fn draw_until_stopped(&self) {
        while !self.done.load(Ordering::Relaxed) {
            std::thread::sleep(TICK);
            let lines = self.lines();
            let mut drawn = self.drawn.lock().unwrap_or_else(|e| e.into_inner());
            clear(&mut drawn);
            for l in &lines {
                eprintln!("{l}\x1b[K");
            }
            *drawn = lines.len();
        }
        let mut drawn = self.drawn.lock().unwrap_or_else(|e| e.into_inner());
        clear(&mut drawn);
    }

    pub fn stop(&self) {
        self.done.store(true, Ordering::Relaxed);
    }

    /// A line per running stage of this runner that reports progress and has run long enough,
    /// in the order of the stages' names.
    fn lines(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.staging) else {
            return Vec::new();
        };
        let mut out: Vec<(String, Record)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stage = stage_of(&name, std::process::id())?;
                let record = Record::parse(&std::fs::read_to_string(e.path()).ok()?)?;
                (record.elapsed_s >= AFTER_S).then_some((stage, record))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.iter()
            .map(|(stage, r)| format!("  {stage:<22} {}", r.text()))
            .collect()
    }
}

/// The stage of a progress file `<stage>-<pid>-<n>.progress` written for runner `pid`.
fn stage_of(name: &str, pid: u32) -> Option<String> {
    let rest = name.strip_suffix(".progress")?;
    let (head, n) = rest.rsplit_once('-')?;
    n.parse::<u64>().ok()?;
    let (stage, p) = head.rsplit_once('-')?;
    (p == pid.to_string()).then(|| stage.to_owned())
}

fn clear(drawn: &mut usize) {
    if *drawn > 0 {
        eprint!("\x1b[{}A\r\x1b[J", *drawn);
        *drawn = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_files_name_their_stage_and_runner() {
        assert_eq!(
            stage_of("kww-fit-41-3.progress", 41).as_deref(),
            Some("kww-fit")
        );
        assert_eq!(stage_of("kww-fit-41-3.progress", 42), None);
        assert_eq!(stage_of("kww-fit-41-3.reads", 41), None);
        assert_eq!(stage_of("x.progress", 41), None);
    }

    #[test]
    fn only_stages_running_long_enough_get_a_line() {
        let d = tempfile::tempdir().unwrap();
        let pid = std::process::id();
        std::fs::write(
            d.path().join(format!("spectrum-{pid}-0.progress")),
            "12\t40\t6000\trow groups of curves\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join(format!("clean-{pid}-1.progress")),
            "1\t40\t500\trow groups of tests\n",
        )
        .unwrap();
        std::fs::write(d.path().join("spectrum-1-0.progress"), "1\t2\t9000\tx\n").unwrap();
        let live = Live::new(true, d.path().to_owned());
        assert_eq!(
            live.lines(),
            vec!["  spectrum               12/40 row groups of curves  30 %  2.0/s  14 s left"]
        );
    }
}
