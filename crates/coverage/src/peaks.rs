//! The spectrum's peak count on truths of known modality: the false-peak rate on unimodal ones
//! (KWW with beta 0.3-0.9 and tau from a thirtieth of the window's end to its end; log-normal
//! distributions of ln tau, SD 0.6-1.5, placed so that the window cuts 0-60 % of their mass)
//! and the detection rate of two log-normal modes 1.5 decades apart inside the window. Curves
//! over 3.5 decades of t' (1 to 3162 s, 200 log-spaced points), noise 1e-3, 100 bootstrap
//! replicates (the bands the peak count uses), as the spectrum stage runs.

use rayon::prelude::*;
use simulate::relaxation::Shape;
use spectrum::{CurveInput, SpectrumOptions, invert};

/// The window's cut of a log-normal's mass and z = Phi^-1(1 - cut) (cut 0: the centre 3 SD
/// inside the window).
const CUTS: [(f64, f64); 6] = [
    (0.0, 3.0),
    (0.1, 1.281_552),
    (0.2, 0.841_621),
    (0.3, 0.524_401),
    (0.45, 0.125_661),
    (0.6, -0.253_347),
];

fn times() -> Vec<f64> {
    (0..200)
        .map(|i| 10f64.powf(3.5 * i as f64 / 199.0))
        .collect()
}

/// The peak count of one noisy curve (None: `peaks_not_resolved`, the window cuts it).
fn peaks(t: &[f64], y: &[f64], seed: u64, k: u64) -> Option<usize> {
    let mut r = rng::Rng::new(seed ^ 0x9e37, k);
    let noisy: Vec<f64> = y.iter().map(|v| v + 1e-3 * r.normal()).collect();
    let input = CurveInput {
        time_s: t,
        phi: &noisy,
        n_samples: &[],
        offset: false,
        t0_s: 0.0,
        stream: k,
    };
    let o = SpectrumOptions {
        bootstrap: 100,
        seed,
        ..SpectrumOptions::default()
    };
    invert(&input, &o).ok().and_then(|s| s.n_peaks)
}

/// One unimodal truth: (kind, its peak count).
fn unimodal(seed: u64, k: u64) -> (&'static str, Option<usize>) {
    let (kind, t, y, _) = unimodal_curve(seed, k);
    (kind, peaks(&t, &y, seed, k))
}

/// A unimodal truth's distribution of ln tau.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Truth {
    Kww { ln_tau: f64, beta: f64 },
    LogNormal { centre: f64, sd: f64 },
}

impl Truth {
    /// The density per unit ln tau (mass 1).
    pub(crate) fn density(self, x: f64) -> f64 {
        match self {
            Truth::Kww { ln_tau, beta } => physics::kww::distribution_ln_tau(x, ln_tau, beta),
            Truth::LogNormal { centre, sd } => {
                let z = (x - centre) / sd;
                (-0.5 * z * z).exp() / (sd * (2.0 * std::f64::consts::PI).sqrt())
            }
        }
    }
}

/// One unimodal truth's noise-free curve: (t', phi, its distribution).
pub(crate) fn unimodal_truth(seed: u64, k: u64) -> (Vec<f64>, Vec<f64>, Truth) {
    let (_, t, y, truth) = unimodal_curve(seed, k);
    (t, y, truth)
}

/// One unimodal truth: (kind, t', noise-free phi, its distribution).
fn unimodal_curve(seed: u64, k: u64) -> (&'static str, Vec<f64>, Vec<f64>, Truth) {
    let t = times();
    let t_max = t[t.len() - 1];
    let mut r = rng::Rng::new(seed, k);
    let (kind, y, truth): (&str, Vec<f64>, Truth) = if r.uniform() < 0.5 {
        let beta = r.range(0.3, 0.9);
        let tau = r.range((t_max / 30.0).ln(), t_max.ln()).exp();
        (
            "KWW",
            t.iter().map(|&x| physics::kww::phi(x, tau, beta)).collect(),
            Truth::Kww {
                ln_tau: tau.ln(),
                beta,
            },
        )
    } else {
        let sd = r.range(0.6, 1.5);
        let (_, z) = CUTS[((r.uniform() * CUTS.len() as f64) as usize).min(CUTS.len() - 1)];
        let centre = t_max.ln() - z * sd;
        let shape = Shape::LogNormal { sd_ln_tau: sd };
        (
            "log-normal",
            t.iter().map(|&x| shape.phi(x, centre.exp(), 1.0)).collect(),
            Truth::LogNormal { centre, sd },
        )
    };
    (kind, t, y, truth)
}

/// One bimodal truth: two log-normal modes 1.5 decades apart (SD 0.3-0.6 each, the faster
/// carrying 35-65 % of the mass), both inside the window: its peak count.
fn bimodal(seed: u64, k: u64) -> Option<usize> {
    let t = times();
    let mut r = rng::Rng::new(seed ^ 0xb1, k);
    let c1 = r.range(5f64.ln(), 20f64.ln());
    let c2 = c1 + 1.5 * std::f64::consts::LN_10;
    let (s1, s2, w) = (r.range(0.3, 0.6), r.range(0.3, 0.6), r.range(0.35, 0.65));
    let (m1, m2) = (
        Shape::LogNormal { sd_ln_tau: s1 },
        Shape::LogNormal { sd_ln_tau: s2 },
    );
    let y: Vec<f64> = t
        .iter()
        .map(|&x| w * m1.phi(x, c1.exp(), 1.0) + (1.0 - w) * m2.phi(x, c2.exp(), 1.0))
        .collect();
    peaks(&t, &y, seed, k)
}

/// Prints the table (markdown): `n` unimodal and `n` bimodal curves.
pub fn print_table(seed: u64, n: u64) {
    let uni: Vec<(&str, Option<usize>)> =
        (0..n).into_par_iter().map(|k| unimodal(seed, k)).collect();
    let bi: Vec<Option<usize>> = (0..n).into_par_iter().map(|k| bimodal(seed, k)).collect();
    println!("## Spectrum peaks: {n} unimodal and {n} bimodal truths (3.5 decades, noise 1e-3)\n");
    println!("| truths | curves | two or more peaks | one peak | not resolved (window cuts) |");
    println!("|---|---|---|---|---|");
    // (two or more peaks, one peak, not resolved).
    let counts = |v: &[Option<usize>]| {
        (
            v.iter().filter(|p| p.is_some_and(|n| n >= 2)).count(),
            v.iter().filter(|p| **p == Some(1)).count(),
            v.iter().filter(|p| p.is_none()).count(),
        )
    };
    for kind in ["KWW", "log-normal"] {
        let v: Vec<Option<usize>> = uni.iter().filter(|u| u.0 == kind).map(|u| u.1).collect();
        let (many, one, none) = counts(&v);
        println!(
            "| unimodal {kind} | {} | {many} ({:.1} %) | {one} | {none} |",
            v.len(),
            100.0 * many as f64 / v.len().max(1) as f64
        );
    }
    let (_, one, none) = counts(&bi);
    let two = bi.iter().filter(|p| **p == Some(2)).count();
    println!(
        "| two modes 1.5 decades apart | {} | {two} ({:.1} %, detected) | {one} | {none} |",
        bi.len(),
        100.0 * two as f64 / bi.len().max(1) as f64
    );
    println!();
}
