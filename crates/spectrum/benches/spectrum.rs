//! Benchmark (`make bench`): time per curve of the spectrum inversion (200 points over 3.5
//! decades, a 100-point grid), without bands, with the posterior bands and with the bootstrap,
//! on one thread; and one
//! regularised nonnegative solve against scipy.optimize.nnls (Lawson-Hanson, in a virtual
//! environment under target/) on the same stacked problem, solutions compared.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use spectrum::{Bands, CurveInput, SpectrumOptions, invert};

fn curve(k: u64) -> (Vec<f64>, Vec<f64>) {
    let mut r = rng::Rng::new(3, k);
    let (tau, beta) = (r.range(10.0, 1000.0), r.range(0.35, 0.7));
    let t: Vec<f64> = (0..200)
        .map(|i| 10f64.powf(3.5 * i as f64 / 199.0))
        .collect();
    let y = t
        .iter()
        .map(|&x| physics::kww::phi(x, tau, beta) + 1e-3 * r.normal())
        .collect();
    (t, y)
}

fn main() {
    let n: usize = std::env::var("AGINGFLOW_BENCH_CURVES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let data: Vec<_> = (0..n as u64).map(curve).collect();
    println!(
        "## spectrum: {n} KWW curves, 200 points over 3.5 decades, noise 1e-3, 100-point grid, 1 thread\n"
    );
    println!("| what | ms per curve (median) | ms per curve (max) |\n|---|---|---|");
    let mut lambdas = Vec::new();
    for bands in [Bands::None, Bands::Posterior, Bands::Bootstrap] {
        let o = SpectrumOptions {
            bands,
            ..Default::default()
        };
        let mut ms = Vec::new();
        for (k, (t, y)) in data.iter().enumerate() {
            let inp = CurveInput {
                time_s: t,
                phi: y,
                n_samples: &[],
                offset: false,
                t0_s: 0.0,
                stream: k as u64,
            };
            let start = Instant::now();
            let s = invert(&inp, &o).unwrap();
            ms.push(start.elapsed().as_secs_f64() * 1e3);
            if bands == Bands::None {
                lambdas.push((s.lambda, s.ln_tau.clone(), s.h.clone()));
            }
        }
        ms.sort_by(f64::total_cmp);
        let what = match bands {
            Bands::None => "GCV choice of lambda + nonnegative solve (no bands)".to_string(),
            Bands::Posterior => {
                "the same + bands and moments' SEs from the posterior covariance (--bands posterior)"
                    .to_string()
            }
            Bands::Bootstrap => format!(
                "the same + bands and SEs from {} bootstrap replicates, each re-choosing lambda (the default)",
                o.bootstrap
            ),
        };
        println!(
            "| {what} | {:.2} | {:.2} |",
            ms[ms.len() / 2],
            ms[ms.len() - 1]
        );
    }
    peer(&data, &lambdas);
}

/// The stacked problem [K/sqrt(n); sqrt(lambda) D2] h = [y/sqrt(n); 0] of one curve, as the
/// inversion builds it (equal weights, no offset).
fn stacked(
    t: &[f64],
    y: &[f64],
    ln_tau: &[f64],
    lambda: f64,
) -> (Vec<f64>, Vec<f64>, usize, usize) {
    let (n, k) = (t.len(), ln_tau.len());
    let dx = ln_tau[1] - ln_tau[0];
    let sw = (1.0 / n as f64).sqrt();
    let rows = n + k;
    let mut a = vec![0.0; rows * k];
    let mut b = vec![0.0; rows];
    for i in 0..n {
        for j in 0..k {
            a[i * k + j] = sw * (-t[i] * (-ln_tau[j]).exp()).exp() * dx;
        }
        b[i] = sw * y[i];
    }
    let s = lambda.sqrt();
    for m in 0..k {
        let r = n + m;
        if m > 0 {
            a[r * k + m - 1] = s;
        }
        a[r * k + m] = -2.0 * s;
        if m + 1 < k {
            a[r * k + m + 1] = s;
        }
    }
    (a, b, rows, k)
}

fn peer(data: &[(Vec<f64>, Vec<f64>)], lambdas: &[(f64, Vec<f64>, Vec<f64>)]) {
    let m = data.len().min(50);
    // Ours: the Gram matrix and FNNLS (what the inversion does at the chosen lambda).
    let mut ours_ms = Vec::new();
    let mut ours_h = Vec::new();
    for ((t, y), (lam, ln_tau, _)) in data.iter().zip(lambdas).take(m) {
        let (a, b, rows, k) = stacked(t, y, ln_tau, *lam);
        let start = Instant::now();
        let mut g = vec![0.0; k * k];
        let mut q = vec![0.0; k];
        for r in 0..rows {
            let row = &a[r * k..(r + 1) * k];
            for p in 0..k {
                q[p] += row[p] * b[r];
                for s in 0..k {
                    g[p * k + s] += row[p] * row[s];
                }
            }
        }
        let x = fit::nnls::nnls_gram(&g, k, &q, None).unwrap().x;
        ours_ms.push(start.elapsed().as_secs_f64() * 1e3);
        ours_h.push(x);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-peers");
    std::fs::create_dir_all(&dir).unwrap();
    let py = dir.join("venv/bin/python");
    if !py.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(dir.join("venv"))
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
            && Command::new(&py)
                .args(["-m", "pip", "install", "-q", "numpy", "scipy"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
        if !ok {
            println!("\nscipy peer skipped: could not create a virtual environment with scipy");
            return;
        }
    }
    let input = dir.join("nnls_problems.txt");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for ((t, y), (lam, ln_tau, _)) in data.iter().zip(lambdas).take(m) {
        let (a, b, rows, k) = stacked(t, y, ln_tau, *lam);
        writeln!(f, "{rows} {k}").unwrap();
        for v in a.iter().chain(&b) {
            write!(f, "{v:e} ").unwrap();
        }
        writeln!(f).unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let script = r#"
import sys, time, numpy as np
from scipy.optimize import nnls
lines = open(sys.argv[1]).read().split('\n')
out = []
for i in range(0, len(lines) - 1, 2):
    rows, k = map(int, lines[i].split())
    v = np.array(lines[i + 1].split(), dtype=float)
    a = v[:rows * k].reshape(rows, k); b = v[rows * k:]
    t0 = time.perf_counter(); x, _ = nnls(a, b, maxiter=50 * k); dt = time.perf_counter() - t0
    out.append(' '.join([repr(float(dt * 1e3))] + [repr(float(z)) for z in x]))
print('\n'.join(out))
"#;
    let res = Command::new(&py)
        .arg("-c")
        .arg(script)
        .arg(&input)
        .output()
        .unwrap();
    if !res.status.success() {
        println!(
            "\nscipy peer failed: {}",
            String::from_utf8_lossy(&res.stderr)
        );
        return;
    }
    let text = String::from_utf8_lossy(&res.stdout);
    let (mut peer_ms, mut worst) = (Vec::new(), 0.0f64);
    for (line, ours) in text.lines().zip(&ours_h) {
        let v: Vec<f64> = line
            .split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect();
        peer_ms.push(v[0]);
        let top = ours.iter().fold(0.0f64, |a, x| a.max(*x));
        for (a, b) in ours.iter().zip(&v[1..]) {
            worst = worst.max((a - b).abs() / top);
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (o, p) = (med(&mut ours_ms), med(&mut peer_ms));
    println!(
        "\n### one regularised nonnegative solve at the chosen lambda ({m} curves, 300 x 100 stacked)\n"
    );
    println!("| solver | ms (median) |\n|---|---|");
    println!("| agingflow fit::nnls (Gram form, FNNLS) incl. forming the Gram matrix | {o:.3} |");
    println!("| scipy.optimize.nnls (Lawson-Hanson on the stacked matrix) | {p:.3} |");
    println!(
        "\nratio scipy / agingflow: {:.2}; largest difference of the solutions: {worst:.1e} of max h",
        p / o
    );
}
