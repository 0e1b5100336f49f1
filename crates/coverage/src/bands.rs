//! The spectrum's uncertainty on truths of known shape: how often its pointwise bands hold the
//! noise-free inversion at the same weight (what a band claims: the noise's effect at the chosen
//! lambda, not the regularisation's bias), and how often the moments' intervals (+- 1.96 SE)
//! hold the noise-free inversion's moments. Truths as in the peak table (KWW with beta 0.3-0.9,
//! log-normal ln tau of SD 0.6-1.5 cut 0-60 % by the window), 3.5 decades, noise 1e-3.

use rayon::prelude::*;
use spectrum::{Bands, CurveInput, SpectrumOptions, invert};

/// One curve's outcome: (band points holding the target, band points), z of the mean and the
/// SD of ln tau (None without an SE).
struct Outcome {
    kww: bool,
    /// The row's status would be `ok` (no flag voids it: `beyond_window`).
    ok: bool,
    held: usize,
    points: usize,
    /// Band points (inside the window, the true density at least 5 % of its maximum there)
    /// holding the true density, and their number.
    held_true: usize,
    points_true: usize,
    z: [Option<f64>; 2],
}

fn trial(seed: u64, k: u64, o: &SpectrumOptions) -> Option<Outcome> {
    let (t, y, truth) = crate::peaks::unimodal_truth(seed, k);
    let mut r = rng::Rng::new(seed ^ 0x9e37, k);
    let noisy: Vec<f64> = y.iter().map(|v| v + 1e-3 * r.normal()).collect();
    fn input<'a>(t: &'a [f64], phi: &'a [f64], k: u64) -> CurveInput<'a> {
        CurveInput {
            time_s: t,
            phi,
            n_samples: &[],
            offset: false,
            t0_s: 0.0,
            stream: k,
        }
    }
    let s = invert(&input(&t, &noisy, k), o).ok()?;
    let target = invert(
        &input(&t, &y, k),
        &SpectrumOptions {
            lambda: Some(s.lambda),
            bands: Bands::None,
            ..o.clone()
        },
    )
    .ok()?;
    let (lo, hi) = (s.h_low.as_ref()?, s.h_high.as_ref()?);
    let top = target.h.iter().fold(0.0f64, |m, v| m.max(*v));
    let (t_min, t_max) = (t[0].ln(), t[t.len() - 1].ln());
    let mut held = 0;
    let mut points = 0;
    for j in 0..target.h.len() {
        let x = target.ln_tau[j];
        if x < t_min || x > t_max || target.h[j] < 0.05 * top {
            continue;
        }
        points += 1;
        if lo[j] <= target.h[j] && target.h[j] <= hi[j] {
            held += 1;
        }
    }
    let dens: Vec<f64> = target.ln_tau.iter().map(|x| truth.density(*x)).collect();
    let inside = |x: f64| x >= t_min && x <= t_max;
    let top_true = target
        .ln_tau
        .iter()
        .zip(&dens)
        .filter(|(x, _)| inside(**x))
        .fold(0.0f64, |m, (_, d)| m.max(*d));
    let (mut held_true, mut points_true) = (0, 0);
    for j in 0..dens.len() {
        if !inside(target.ln_tau[j]) || dens[j] < 0.05 * top_true {
            continue;
        }
        points_true += 1;
        if lo[j] <= dens[j] && dens[j] <= hi[j] {
            held_true += 1;
        }
    }
    let z = |est: f64, truth: f64, se: Option<f64>| {
        se.filter(|s| *s > 0.0 && est.is_finite() && truth.is_finite())
            .map(|s| (est - truth) / s)
    };
    Some(Outcome {
        kww: matches!(truth, crate::peaks::Truth::Kww { .. }),
        ok: tables::status::settled(tables::status::OK, &s.flags.join(",")) == tables::status::OK,
        held,
        points,
        held_true,
        points_true,
        z: [
            z(s.moments.mean, target.moments.mean, s.mean_se),
            z(s.moments.sd, target.moments.sd, s.sd_se),
        ],
    })
}

/// Prints the table (markdown) for `n` unimodal curves under each band method (the stage's
/// other options at their defaults).
pub fn print_table(seed: u64, n: u64) {
    println!("## Spectrum bands and moments: {n} unimodal truths (3.5 decades, noise 1e-3)\n");
    println!(
        "Target: the same inversion of the noise-free curve at the noisy curve's lambda. Band points: grid points inside the window where the target is at least 5 % of its maximum. The true distribution (KWW or log-normal density of ln tau) is what the regularisation smooths: a band that holds it holds the bias too.\n"
    );
    println!(
        "| bands | truths | quantity | curves | intervals | mean z | median z | 95 % coverage |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let default = SpectrumOptions::default().bootstrap;
    for (bands, replicates) in [
        (Bands::Posterior, default),
        (Bands::Bootstrap, default),
        (Bands::Bootstrap, 200),
    ] {
        let o = SpectrumOptions {
            seed,
            bands,
            bootstrap: replicates,
            ..SpectrumOptions::default()
        };
        let out: Vec<Option<Outcome>> =
            (0..n).into_par_iter().map(|k| trial(seed, k, &o)).collect();
        let all: Vec<&Outcome> = out.iter().flatten().collect();
        let method = match bands {
            Bands::Bootstrap => format!("bootstrap, {} replicates", o.bootstrap),
            b => b.name().to_string(),
        };
        for (truths, kww, ok_only) in [
            ("all", None, false),
            ("KWW", Some(true), false),
            ("log-normal", Some(false), false),
            ("KWW, rows `ok`", Some(true), true),
            ("log-normal, rows `ok`", Some(false), true),
        ] {
            let done: Vec<&Outcome> = all
                .iter()
                .filter(|o| kww.is_none_or(|k| o.kww == k) && (o.ok || !ok_only))
                .copied()
                .collect();
            let name = format!("{method} | {truths}");
            for (what, count) in [
                (
                    "h, pointwise",
                    (|o: &Outcome| (o.held, o.points)) as fn(&Outcome) -> _,
                ),
                ("h, pointwise, holding the true distribution", |o| {
                    (o.held_true, o.points_true)
                }),
            ] {
                let (held, points) = done.iter().fold((0, 0), |(a, b), o| {
                    let (h, p) = count(o);
                    (a + h, b + p)
                });
                println!(
                    "| {name} | {what} | {} | {points} points | | | {:.1} % |",
                    done.len(),
                    100.0 * held as f64 / points.max(1) as f64
                );
            }
            for (i, q) in ["mean ln tau", "SD of ln tau"].iter().enumerate() {
                let z: Vec<Option<f64>> = done.iter().map(|o| o.z[i]).collect();
                let u = crate::summarize(&z, None);
                println!(
                    "| {name} | {q} | {} | {} | {:+.2} | {:+.2} | {:.1} % |",
                    done.len(),
                    u.n,
                    u.mean_z,
                    u.median_z,
                    100.0 * u.coverage
                );
            }
        }
    }
    println!();
}
