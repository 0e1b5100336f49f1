//! Benchmark (`make bench`): 10 000 relaxation curves of 500 log-spaced points fitted with 1 and
//! 2 threads, for each model choice; checks the results are bit-identical across thread counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use kww_fit::{FitOptions, Variant, fit_curve};
use rayon::prelude::*;
use tables::RelaxationClean;

fn curves(n: usize) -> Vec<RelaxationClean> {
    (0..n)
        .map(|k| {
            let mut rng = rng::Rng::new(11, k as u64);
            let (tau, beta) = (rng.range(300.0, 30_000.0), rng.range(0.3, 0.7));
            let t: Vec<f64> = (0..500)
                .map(|i| (1.0f64.ln() + 9000f64.ln() * i as f64 / 499.0).exp())
                .collect();
            let phi: Vec<f64> = t
                .iter()
                .map(|&x| 0.97 * physics::kww::phi(x, tau, beta) + 0.03 + 0.002 * rng.normal())
                .collect();
            RelaxationClean {
                test_id: format!("t{k:05}"),
                material: "G".into(),
                tg_k: Some(680.0),
                temperature_k: 633.0,
                aging_time_s: 1800.0,
                strain: Some(0.001),
                stress_mpa: phi.iter().map(|p| p * 90.0).collect(),
                n_samples: vec![1; t.len()],
                time_s: t,
                phi,
                ..Default::default()
            }
        })
        .collect()
}

fn main() {
    let n: usize = std::env::var("AGINGFLOW_BENCH_CURVES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let data = curves(n);
    for (label, variants) in [
        ("kww_offset", vec![Variant::KwwOffset]),
        (
            "auto (kww and kww_offset, BIC)",
            FitOptions::default().variants,
        ),
        ("all 3 variants, BIC", Variant::ALL.to_vec()),
    ] {
        let opts = FitOptions {
            variants,
            ..FitOptions::default()
        };
        let mut results = Vec::new();
        let mut times = Vec::new();
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let t = Instant::now();
            let rows: Vec<_> =
                pool.install(|| data.par_iter().map(|c| fit_curve(c, &opts)).collect());
            times.push(t.elapsed().as_secs_f64());
            results.push(rows.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>());
        }
        let identical = results[0] == results[1];
        println!(
            "kww-fit {label}: {n} curves x 500 points: 1 thread {:.2} s ({:.0} curves/s), 2 threads {:.2} s ({:.0} curves/s), speed-up {:.2}, bit-identical: {identical}",
            times[0],
            n as f64 / times[0],
            times[1],
            n as f64 / times[1],
            times[0] / times[1]
        );
        assert!(identical, "results differ between 1 and 2 threads");
    }
    peer(&data);
}

/// scipy's curve_fit on the same curves, same model (kww_offset), in the same run, where
/// `make bench` could make its virtual environment (target/bench-venv).
fn peer(data: &[RelaxationClean]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("target/bench-venv/bin/python");
    if !python.is_file() {
        println!(
            "kww-fit vs scipy: skipped (no {}; `make bench` makes it where python3 is installed)",
            python.display()
        );
        return;
    }
    let dir = root.join("target/bench-kww");
    std::fs::create_dir_all(&dir).unwrap();
    let m = data[0].time_s.len();
    let mut raw: Vec<f64> = vec![data.len() as f64, m as f64];
    for c in data {
        raw.extend(&c.time_s);
        raw.extend(&c.phi);
    }
    let bytes: Vec<u8> = raw.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join("curves.bin"), bytes).unwrap();
    // The same model as the peer: kww_offset without the drift term (`--drift-mpa-per-h 0`;
    // kww-fit still runs its drift check and the other weighting's check fit). The default,
    // with the drift term, is timed too: a different model, so no beta comparison.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let timed = |opts: &FitOptions| {
        let t = Instant::now();
        let rows: Vec<_> = pool.install(|| data.iter().map(|c| fit_curve(c, opts)).collect());
        (rows, t.elapsed().as_secs_f64())
    };
    let (ours, ours_s) = timed(&FitOptions {
        variants: vec![Variant::KwwOffset],
        drift_mpa_per_h: None,
        ..FitOptions::default()
    });
    let (_, default_s) = timed(&FitOptions {
        variants: vec![Variant::KwwOffset],
        ..FitOptions::default()
    });
    // One core for the peer too: no BLAS threads.
    let out = std::process::Command::new(&python)
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("OMP_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .arg(root.join("bench/kww_scipy.py"))
        .arg(dir.join("curves.bin"))
        .arg(dir.join("betas.bin"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scipy peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scipy_s: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let betas: Vec<f64> = std::fs::read(dir.join("betas.bin"))
        .unwrap()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let (mut worst, mut compared) = (0.0f64, 0);
    for (r, b) in ours.iter().zip(&betas) {
        if let (Some(a), true) = (r.beta, b.is_finite()) {
            worst = worst.max((a - b).abs());
            compared += 1;
        }
    }
    let line = format!(
        "| KWW fits (kww_offset, no drift term: the peer's model), {} curves x {m} points, 1 core | {ours_s:.2} s | scipy curve_fit: {scipy_s:.2} s | {:.1}x | {compared} | {worst:.2e} |\n| the same curves with kww-fit's default drift term (another model) | {default_s:.2} s | scipy curve_fit: {scipy_s:.2} s | {:.1}x | - | - |",
        data.len(),
        scipy_s / ours_s,
        scipy_s / default_s
    );
    println!("kww-fit vs scipy (same run): {line}");
    let md = format!(
        "# KWW fits against scipy\n\nWritten by `make bench` (crates/kww-fit/benches/kww.rs, bench/kww_scipy.py), release build, same machine, same run.\n\n| work | agingflow | peer | ratio | curves compared | max abs(beta difference) |\n|---|---|---|---|---|---|\n{line}\n"
    );
    std::fs::write(root.join("bench/kww.md"), md).unwrap();
}
