//! Benchmark (`make bench`): a simulated campaign of 20 100 indents (the demo's indentation truth,
//! scaled), ingested, then analysed by the release indentation-stats binary; prints indents/s and
//! peak memory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let b = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(
        b.is_file(),
        "{} missing: run `cargo build --release --bins` first",
        b.display()
    );
    b
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = root.join("target/bench/indents");
    std::fs::create_dir_all(&work).unwrap();
    // The demo spec without its relaxation part.
    let spec = std::fs::read_to_string(root.join("fixtures/demo/truth-spec.yaml")).unwrap();
    let start = spec.find("    relaxation:").unwrap();
    let end = spec.find("    indentation:").unwrap();
    let spec = format!("{}{}", &spec[..start], &spec[end..]);
    std::fs::write(work.join("spec.yaml"), spec).unwrap();
    let campaign = work.join("campaign");
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    run(Command::new(bin("agingflow-simulate")).args([
        "--spec",
        &work.join("spec.yaml").to_string_lossy(),
        "--out-dir",
        &campaign.to_string_lossy(),
        "--scale",
        "67",
    ]));
    run(Command::new(bin("agingflow-ingest")).args([
        "--manifest",
        &campaign.join("campaign.yaml").to_string_lossy(),
        "--relaxation-raw",
        &work.join("r.parquet").to_string_lossy(),
        "--indentation-raw",
        &work.join("i.parquet").to_string_lossy(),
    ]));
    for threads in ["1", "2"] {
        let t = Instant::now();
        let log = run(Command::new(bin("agingflow-indentation-stats")).args([
            "--indentation-raw",
            &work.join("i.parquet").to_string_lossy(),
            "--indents",
            &work.join("indents.parquet").to_string_lossy(),
            "--tau-c-stats",
            &work.join("stats.parquet").to_string_lossy(),
            "--threads",
            threads,
            "-v",
        ]));
        let secs = t.elapsed().as_secs_f64();
        let peak = log
            .lines()
            .find_map(|l| l.split("peak memory ").nth(1))
            .unwrap_or("?")
            .to_owned();
        let summary = log
            .lines()
            .find(|l| l.contains("indents with a pop-in"))
            .unwrap_or("")
            .trim()
            .to_owned();
        println!(
            "indentation-stats, 20 100 indents of 467 points, {threads} thread(s): {secs:.2} s, {:.0} indents/s, peak memory {peak} ({summary})",
            20_100.0 / secs
        );
    }
}
