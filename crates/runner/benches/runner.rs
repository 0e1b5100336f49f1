//! Benchmark of the runner's own cost (`make bench`): a no-op `run` of a 10-stage pipeline, and the
//! overhead per executed stage (spawn, hashing, staging, moving outputs, lock file) over running
//! the same programs directly; and `foreach` of 1 250 to 10 000 trivial items, from scratch and
//! a no-op rerun (linear since issue 37: 2 000 items took 21 s and 4 000 77 s before). Uses the
//! release `agingflow` binary beside this benchmark.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const STAGE: &str = "echo \"$1 $2\" > \"$0\"";

fn pipeline() -> String {
    let mut s = String::from("version: 1\nname: bench\noutdir: out\nstages:\n");
    for i in 0..10 {
        s.push_str(&format!(
            "  s{i}:\n    run: [sh, -c, '{STAGE}', \"${{outputs.o}}\", \"{i}\""
        ));
        if i % 2 == 1 {
            s.push_str(&format!(
                ", \"${{inputs.i}}\"]\n    inputs: {{ i: s{}.o }}\n",
                i - 1
            ));
        } else {
            s.push_str("]\n");
        }
        s.push_str(&format!(
            "    with: {{ n: \"{i}\" }}\n    outputs: {{ o: s{i}.txt }}\n"
        ));
    }
    s
}

fn agingflow() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("agingflow");
    assert!(
        bin.is_file(),
        "{} missing: run `cargo build --release --bins` first",
        bin.display()
    );
    bin
}

fn time(mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `agingflow ARGS` in `dir`; panics with its stderr when it fails.
fn agingflow_in(bin: &Path, dir: &Path, args: &[&str]) {
    let st = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

fn main() {
    let bin = agingflow();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yaml"), pipeline()).unwrap();
    let run = |args: &[&str]| agingflow_in(&bin, dir.path(), args);
    run(&["run", "p.yaml"]);
    let rounds = 30;
    let noop = median(
        (0..rounds)
            .map(|_| time(|| run(&["run", "p.yaml"])))
            .collect(),
    );
    let forced = median(
        (0..10)
            .map(|_| time(|| run(&["run", "p.yaml", "--force-all", "-j", "1"])))
            .collect(),
    );
    let direct = median(
        (0..10)
            .map(|_| {
                time(|| {
                    for i in 0..10 {
                        let out = dir.path().join(format!("direct{i}.txt"));
                        let st = Command::new("sh")
                            .args(["-c", STAGE])
                            .arg(&out)
                            .arg(i.to_string())
                            .status()
                            .unwrap();
                        assert!(st.success());
                    }
                })
            })
            .collect(),
    );
    let per_stage = forced.saturating_sub(direct) / 10;
    println!("runner benchmark (release build, 10-stage pipeline, medians)");
    println!(
        "  no-op run:                     {:>8.1} ms  (target < 50 ms)",
        noop.as_secs_f64() * 1e3
    );
    println!(
        "  forced run, -j 1:              {:>8.1} ms",
        forced.as_secs_f64() * 1e3
    );
    println!(
        "  same 10 programs run directly: {:>8.1} ms",
        direct.as_secs_f64() * 1e3
    );
    println!(
        "  runner overhead per stage:     {:>8.2} ms",
        per_stage.as_secs_f64() * 1e3
    );
    foreach_scaling(&bin);
}

/// `foreach` over N trivial items: the run from scratch and a no-op rerun, once each per N.
fn foreach_scaling(bin: &Path) {
    println!("foreach of N trivial items (-j 2; one run each):");
    println!("  N        from scratch (s)  per item (ms)  no-op rerun (s)");
    for n in [1_250, 2_500, 5_000, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        let items: Vec<String> = (0..n).map(|k| format!("i{k}")).collect();
        std::fs::write(
            dir.path().join("p.yaml"),
            format!(
                "version: 1\nname: many\noutdir: out\nstages:\n  make:\n    foreach: [{}]\n    run: [sh, -c, 'echo \"$1\" > \"$0\"', \"${{outputs.o}}\", \"${{item}}\"]\n    outputs: {{ o: \"${{item}}.txt\" }}\n",
                items.join(", ")
            ),
        )
        .unwrap();
        let run = || time(|| agingflow_in(bin, dir.path(), &["run", "p.yaml", "-j", "2"]));
        let scratch = run();
        let noop = run();
        println!(
            "  {n:<8} {:>16.2}  {:>13.2}  {:>15.2}",
            scratch.as_secs_f64(),
            scratch.as_secs_f64() * 1e3 / n as f64,
            noop.as_secs_f64()
        );
    }
}
