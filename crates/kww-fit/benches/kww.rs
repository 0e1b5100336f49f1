//! Benchmark (`make bench`): the kww-fit stage as a user runs it (the binary, its defaults, on a
//! campaign of 10 000 curves x 500 points in 1000 series of 10 aging times) on 1 and 2 threads,
//! for `--model kww` and `--model kww_offset`, against scipy's `curve_fit` with its defaults on
//! the same curves in the same run (one process, then one per core); and the aging law of one
//! series of 100 to 10 000 aging times. Writes bench/kww.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use kww_fit::Variant;
use rayon::prelude::*;
use tables::{KwwFit, RelaxationClean};

const POINTS: usize = 500;

/// The campaign: `series` series of `ages` aging times; tau follows a two-stage law and beta rises
/// then falls with ln t_a, each curve with white noise of SD 0.002 and, for `kww_offset`, an
/// offset of 0.03.
fn campaign(series: usize, ages: usize, offset: bool) -> Vec<RelaxationClean> {
    let t: Vec<f64> = (0..POINTS)
        .map(|i| (9000f64.ln() * i as f64 / (POINTS - 1) as f64).exp())
        .collect();
    (0..series * ages)
        .into_par_iter()
        .map(|k| {
            let (s, a) = (k / ages, k % ages);
            let mut rng = rng::Rng::new(11, k as u64);
            let aging_time_s = 600.0 * 2f64.powi(a as i32);
            let x = (aging_time_s / 600.0).ln() / (2f64.powi(ages as i32 - 1)).ln();
            let tau = rng.range(500.0, 3000.0) * (1.0 + 4.0 * x * x);
            let beta = 0.45 + 0.15 * x - 0.2 * (x - 0.6).powi(2) + 0.01 * rng.normal();
            let (amp, c) = if offset { (0.97, 0.03) } else { (1.0, 0.0) };
            let phi: Vec<f64> = t
                .iter()
                .map(|&x| amp * physics::kww::phi(x, tau, beta) + c + 0.002 * rng.normal())
                .collect();
            RelaxationClean {
                test_id: format!("s{s:04}/a{a:02}"),
                material: "G".into(),
                series: Some(format!("s{s:04}")),
                tg_k: Some(680.0),
                temperature_k: 633.0,
                aging_time_s,
                strain: Some(0.001),
                stress_mpa: phi.iter().map(|p| p * 90.0).collect(),
                n_samples: vec![1; POINTS],
                time_s: t.clone(),
                phi,
                ..Default::default()
            }
        })
        .collect()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The stage binary on `input` with `--model model --threads threads`: (wall seconds, the bytes
/// of its two outputs).
fn stage(input: &Path, dir: &Path, model: &str, threads: usize) -> (f64, Vec<u8>) {
    let (fits, law) = (
        dir.join(format!("fits-{model}-{threads}.parquet")),
        dir.join(format!("law-{model}-{threads}.parquet")),
    );
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_agingflow-kww-fit"))
        .arg("--relaxation-clean")
        .arg(input)
        .arg("--kww-fits")
        .arg(&fits)
        .arg("--aging-law")
        .arg(&law)
        .args(["--model", model, "--threads", &threads.to_string()])
        .output()
        .unwrap();
    let wall = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "kww-fit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = [std::fs::read(&fits).unwrap(), std::fs::read(&law).unwrap()].concat();
    (wall, bytes)
}

/// scipy's curve_fit with its defaults on the curves (bench/kww_scipy.py), with `processes`
/// processes: (wall seconds, beta per curve, NaN where it failed), or None without the venv.
fn scipy(curves: &[RelaxationClean], model: &str, processes: usize) -> Option<(f64, Vec<f64>)> {
    let python = root().join("target/bench-venv/bin/python");
    if !python.is_file() {
        return None;
    }
    let dir = root().join("target/bench-kww");
    let src = dir.join(format!("curves-{model}.bin"));
    if !src.is_file() {
        let mut raw: Vec<f64> = vec![curves.len() as f64, POINTS as f64];
        for c in curves {
            raw.extend(&c.time_s);
            raw.extend(&c.phi);
            // The same automatic start as kww-fit's: [A, ln tau, beta].
            raw.extend(physics::kww_models::initial_guess(&c.time_s, &c.phi));
        }
        let bytes: Vec<u8> = raw.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&src, bytes).unwrap();
    }
    let dst = dir.join(format!("betas-{model}-{processes}.bin"));
    let out = Command::new(&python)
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("OMP_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .arg(root().join("bench/kww_scipy.py"))
        .arg(&src)
        .arg(model)
        .arg(processes.to_string())
        .arg(&dst)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scipy peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wall: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let betas = std::fs::read(&dst)
        .unwrap()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    Some((wall, betas))
}

/// Runs per measurement; the median's wall time is reported.
const RUNS: usize = 3;

/// The median wall time of `runs` runs of `f` (seconds first), with the first run's result; every
/// run's result must be the same.
fn median_of<T: PartialEq>(runs: usize, mut f: impl FnMut() -> (f64, T)) -> (f64, T) {
    let (first_s, first) = f();
    let mut walls = vec![first_s];
    for _ in 1..runs {
        let (s, r) = f();
        assert!(r == first, "a rerun gave different results");
        walls.push(s);
    }
    walls.sort_by(f64::total_cmp);
    (walls[walls.len() / 2], first)
}

/// [`median_of`] for a measurement that may be unavailable (None from the first run: skipped).
fn median_of_opt<T>(runs: usize, mut f: impl FnMut() -> Option<(f64, T)>) -> Option<(f64, T)> {
    let (first_s, first) = f()?;
    let mut walls = vec![first_s];
    for _ in 1..runs {
        let (s, _) = f()?;
        walls.push(s);
    }
    walls.sort_by(f64::total_cmp);
    Some((walls[walls.len() / 2], first))
}

fn main() {
    let series: usize = std::env::var("AGINGFLOW_BENCH_SERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let dir = root().join("target/bench-kww");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut md = String::from(
        "# KWW fits against scipy\n\nWritten by `make bench` (crates/kww-fit/benches/kww.rs, bench/kww_scipy.py), release build, one run; the peer ran in the same run on the same curves. Every time is the median of three runs, the peer's as well.\n\n",
    );
    md.push_str(&format!(
        "The stage as a user runs it: `agingflow-kww-fit --model M --threads N` on a table of {} curves x {POINTS} points in {series} series of 10 aging times (reading, fitting with the stage's defaults, the aging law of every series, writing). The peer: `scipy.optimize.curve_fit(f, t, phi, p0)` with its defaults (Levenberg-Marquardt, default tolerances, no bounds), `f` the same model written as a user writes it (`a*exp(-(t/tau)**beta)` [+ c]), `p0` kww-fit's own automatic guess; one process, then one process per core.\n\n| model | agingflow 1 thread | agingflow 2 threads | scipy 1 process | scipy 2 processes | ratio per core | ratio on 2 cores | scipy failures | max abs(beta difference) where both converged |\n|---|---|---|---|---|---|---|---|---|\n",
        series * 10
    ));
    for model in ["kww", "kww_offset"] {
        let curves = campaign(series, 10, model == "kww_offset");
        let input = dir.join(format!("clean-{model}.parquet"));
        tables::write_curves(
            &input,
            curves.clone(),
            &tables::Provenance::new("bench", serde_json::json!({})),
        )
        .unwrap();
        // Each side the median of three runs (single runs on a shared machine vary by 10-20 %).
        let (one_s, one) = median_of(RUNS, || stage(&input, &dir, model, 1));
        let (two_s, two) = median_of(RUNS, || stage(&input, &dir, model, 2));
        assert!(
            one == two,
            "kww-fit's outputs differ between 1 and 2 threads"
        );
        let (ours, _): (Vec<KwwFit>, _) =
            tables::read_rows(&dir.join(format!("fits-{model}-1.parquet"))).unwrap();
        println!(
            "kww-fit --model {model}: {} curves: 1 thread {one_s:.2} s, 2 threads {two_s:.2} s ({:.0} curves/s), outputs byte-identical",
            curves.len(),
            curves.len() as f64 / two_s
        );
        let peer = median_of_opt(RUNS, || scipy(&curves, model, 1))
            .zip(median_of_opt(RUNS, || scipy(&curves, model, 2)));
        match peer {
            None => {
                println!(
                    "kww-fit vs scipy: skipped (no target/bench-venv; `make bench` makes it where python3 is installed)"
                );
                md.push_str(&format!(
                    "| {model} | {one_s:.2} s | {two_s:.2} s | - | - | - | - | - | - |\n"
                ));
            }
            Some(((s1, betas), (s2, _))) => {
                let failed = betas.iter().filter(|b| !b.is_finite()).count();
                let worst = ours
                    .iter()
                    .zip(&betas)
                    .filter_map(|(r, b)| r.beta.filter(|_| b.is_finite()).map(|a| (a - b).abs()))
                    .fold(0.0f64, f64::max);
                let line = format!(
                    "| {model} | {one_s:.2} s | {two_s:.2} s | {s1:.2} s | {s2:.2} s | {:.1}x | {:.1}x | {failed} | {worst:.1e} |",
                    s1 / one_s,
                    s2 / two_s
                );
                println!("kww-fit vs scipy defaults (same run): {line}");
                md.push_str(&line);
                md.push('\n');
            }
        }
    }
    md.push_str(&aging_law_scaling());
    std::fs::write(root().join("bench/kww.md"), md).unwrap();
}

/// The aging law of one series of n aging times (the kww-fit rows it reads made directly).
fn aging_law_scaling() -> String {
    let mut md = String::from(
        "\nThe aging law of one series of n aging times (two-stage law, turning point, the non-monotonicity test with 999 bootstrap replicates), 1 thread:\n\n| n | seconds |\n|---|---|\n",
    );
    for n in [100usize, 200, 400, 800, 10_000] {
        let mut rng = rng::Rng::new(5, n as u64);
        let fits: Vec<KwwFit> = (0..n)
            .map(|i| {
                let x = i as f64 / (n - 1) as f64;
                let aging_time_s = 60.0 * (1e5f64).powf(x);
                let ln_tau = 7.0
                    + if x < 0.5 {
                        0.3 * x
                    } else {
                        0.15 + 0.8 * (x - 0.5)
                    };
                let beta = 0.45 + 0.15 * x - 0.2 * (x - 0.6).powi(2) + 0.01 * rng.normal();
                let tau = (ln_tau + 0.05 * rng.normal()).exp();
                KwwFit {
                    test_id: format!("t{i:05}"),
                    material: "G".into(),
                    temperature_k: 633.0,
                    aging_time_s,
                    model: Variant::Kww.name().into(),
                    beta: Some(beta),
                    beta_se: Some(0.01),
                    tau_s: Some(tau),
                    tau_se_s: Some(0.05 * tau),
                    status: tables::Status::Ok.into(),
                    ..Default::default()
                }
            })
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let t = Instant::now();
        let rows = pool.install(|| kww_fit::law::aging_law(&fits, 7));
        let s = t.elapsed().as_secs_f64();
        assert!(rows.iter().any(|r| r.mu.is_some()));
        println!("aging law, one series of {n} aging times: {s:.3} s");
        md.push_str(&format!("| {n} | {s:.3} |\n"));
    }
    md
}
