//! Benchmark of ingest (`make bench`): the demo truth spec scaled to over 100 MB of raw files,
//! read by the release binary on all cores; prints MB/s, rows/s and peak memory.

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

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        total += if p.is_dir() {
            dir_bytes(&p)
        } else {
            std::fs::metadata(&p).unwrap().len()
        };
    }
    total
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = root.join("target/bench/ingest");
    let campaign = work.join("campaign");
    let scale: usize = std::env::var("AGINGFLOW_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let t = Instant::now();
    let st = Command::new(bin("agingflow-simulate"))
        .args([
            "--spec",
            &root.join("fixtures/demo/truth-spec.yaml").to_string_lossy(),
            "--out-dir",
            &campaign.to_string_lossy(),
            "--scale",
            &scale.to_string(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let raw = dir_bytes(&campaign.join("dma")) + dir_bytes(&campaign.join("indents"));
    println!(
        "simulated scale {scale}: {:.1} MB of raw files in {:.2} s",
        raw as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    // Warm the page cache once, then time.
    let run = |threads: Option<usize>| {
        let mut cmd = Command::new(bin("agingflow-ingest"));
        cmd.args([
            "--manifest",
            &campaign.join("campaign.yaml").to_string_lossy(),
        ])
        .args([
            "--relaxation-raw",
            &work.join("relaxation_raw.parquet").to_string_lossy(),
        ])
        .args([
            "--indentation-raw",
            &work.join("indentation_raw.parquet").to_string_lossy(),
            "-v",
        ]);
        if let Some(n) = threads {
            cmd.args(["--threads", &n.to_string()]);
        }
        let t = Instant::now();
        let out = cmd.output().unwrap();
        let secs = t.elapsed().as_secs_f64();
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{log}");
        let peak = log
            .lines()
            .find_map(|l| l.split("peak memory ").nth(1))
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("?")
            .to_owned();
        let points: f64 = log
            .lines()
            .find(|l| l.contains("relaxation tests ("))
            .map(|l| {
                l.split('(')
                    .skip(1)
                    .filter_map(|p| p.split_whitespace().next()?.parse::<f64>().ok())
                    .sum()
            })
            .unwrap_or(0.0);
        (secs, peak, points)
    };
    run(None);
    for threads in [Some(1), None] {
        let (secs, peak, points) = run(threads);
        let label = threads
            .map(|n| format!("{n} thread"))
            .unwrap_or_else(|| "all cores".into());
        println!(
            "ingest ({label}): {secs:.2} s, {:.0} MB/s of raw text, {:.2} M rows/s, peak memory {peak} MB",
            raw as f64 / 1e6 / secs,
            points / 1e6 / secs
        );
    }
}
