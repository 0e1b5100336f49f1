//! The acceptance of issue 14 on synthetic curves with noise 1e-3 over 3.5 decades of t':
//! log-normal distributions recovered in centre and width, KWW curves against their exact
//! distribution within the bands, two modes as two peaks, one exponential as one narrow peak,
//! and shift-only against broadening-only sequences told apart by the per-series trends.

use crate::common;

use common::*;
use physics::kww::distribution_ln_tau;
use rayon::prelude::*;
use spectrum::{CurveInput, SpectrumOptions, TrendOptions, analyse, invert, summarise};

fn input<'a>(t: &'a [f64], y: &'a [f64], stream: u64) -> CurveInput<'a> {
    CurveInput {
        time_s: t,
        phi: y,
        n_samples: &[],
        offset: false,
        t0_s: 0.0,
        stream,
    }
}

#[test]
fn log_normal_centre_within_0_1_and_width_within_10_percent() {
    // Widths of 1 to 1.5 in ln tau (KWW beta of about 0.6 to 0.8 spans 1.1 to 2.0; aged glasses
    // are broader still). Narrower distributions (SD 0.3 to 0.8) are not recovered to 10 % in
    // every seed: below about one unit of ln tau the exponential kernel's resolution at noise
    // 1e-3 broadens them (CHANGELOG.md, spectra).
    let t = times(200, 3.5);
    let o = SpectrumOptions {
        bootstrap: 100,
        ..Default::default()
    };
    for &(centre_s, sd) in &[
        (10.0f64, 1.0),
        (30.0, 1.2),
        (100.0, 1.0),
        (300.0, 1.2),
        (60.0, 1.5),
        (30.0, 1.5),
    ] {
        let truth = phi_lognormal(&t, &[(1.0, centre_s.ln(), sd)]);
        let worst = (0..20u64)
            .into_par_iter()
            .map(|seed| {
                let y = noisy(&truth, 1e-3, seed);
                let s = invert(&input(&t, &y, seed), &o).unwrap();
                let (dc, dw) = (s.moments.mean - centre_s.ln(), s.moments.sd / sd - 1.0);
                assert!(
                    dc.abs() < 0.1,
                    "centre {centre_s} s, sd {sd}, seed {seed}: centre off by {dc}"
                );
                assert!(
                    dw.abs() < 0.1,
                    "centre {centre_s} s, sd {sd}, seed {seed}: width off by {dw}"
                );
                assert_eq!(
                    s.n_peaks,
                    Some(1),
                    "centre {centre_s} s, sd {sd}, seed {seed}"
                );
                (dc.abs(), dw.abs())
            })
            .reduce(|| (0.0, 0.0), |a, b| (a.0.max(b.0), a.1.max(b.1)));
        println!(
            "log-normal {centre_s} s, sd {sd}: worst |centre error| {:.3}, |width error| {:.1} %",
            worst.0,
            100.0 * worst.1
        );
    }
}

#[test]
fn kww_curves_agree_with_the_exact_distribution_within_the_bands() {
    let t = times(200, 3.5);
    let (lo, hi) = (t[0].ln(), t[t.len() - 1].ln());
    for bands in [spectrum::Bands::Bootstrap, spectrum::Bands::Posterior] {
        let o = SpectrumOptions {
            bands,
            ..Default::default()
        };
        for &(beta, tau_s) in &[(0.5f64, 100.0f64), (0.5, 30.0), (0.6, 100.0), (0.7, 50.0)] {
            let clean: Vec<f64> = t.iter().map(|x| (-(x / tau_s).powf(beta)).exp()).collect();
            let (inside, total, one_peak) = (0..10u64)
                .into_par_iter()
                .map(|seed| {
                    let y = noisy(&clean, 1e-3, seed);
                    let s = invert(&input(&t, &y, seed), &o).unwrap();
                    let (low, high) = (s.h_low.unwrap(), s.h_high.unwrap());
                    let mut n = (0usize, 0usize, usize::from(s.n_peaks == Some(1)));
                    for (j, x) in s.ln_tau.iter().enumerate() {
                        // The window the data resolve: tau within the measured t'.
                        if *x < lo || *x > hi {
                            continue;
                        }
                        let d = distribution_ln_tau(*x, tau_s.ln(), beta);
                        n.1 += 1;
                        if d >= low[j] && d <= high[j] {
                            n.0 += 1;
                        }
                    }
                    n
                })
                .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
            let b = bands.name();
            println!("{b}: KWW beta {beta}, tau {tau_s} s: one peak in {one_peak}/10 seeds");
            let share = inside as f64 / total as f64;
            println!(
                "{b}: KWW beta {beta}, tau {tau_s} s: {:.1} % of in-window grid points inside the 95 % bands",
                100.0 * share
            );
            // The acceptance's case, beta = 1/2 (closed form, docs/physics.md): at least 90 % of the
            // points inside 95 % bands. The bootstrap's bands hold the noise's effect, not the
            // regularisation's bias, and narrower distributions are smoothed more than they allow
            // for: measured and printed, not claimed (beta 0.6: 86 %, 0.7: 73 % on these seeds).
            // The posterior's carry part of the smoothing: 96.8-99.7 % in all four cases.
            if beta == 0.5 || bands == spectrum::Bands::Posterior {
                assert!(
                    share >= 0.9,
                    "{b} bands, beta {beta}, tau {tau_s}: only {:.1} % inside",
                    100.0 * share
                );
            }
        }
    }
}

#[test]
fn two_modes_a_decade_and_a_half_apart_are_two_peaks_and_one_exponential_is_one_narrow_peak() {
    let t = times(200, 3.5);
    // Peaks count as resolved where the bootstrap band says the dip between them is real.
    let o = SpectrumOptions {
        bootstrap: 100,
        ..Default::default()
    };
    let two = phi_lognormal(
        &t,
        &[
            (0.5, 20f64.ln(), 0.3),
            (0.5, (20.0 * 10f64.powf(1.5)).ln(), 0.3),
        ],
    );
    let one: Vec<f64> = t.iter().map(|x| (-x / 100.0).exp()).collect();
    let two_peaks: usize = (0..20u64)
        .into_par_iter()
        .map(|seed| {
            let s = invert(&input(&t, &noisy(&two, 1e-3, seed), seed), &o).unwrap();
            usize::from(s.n_peaks == Some(2))
        })
        .sum();
    println!("two modes: two peaks in {two_peaks}/20 seeds");
    assert!(
        two_peaks >= 19,
        "two modes: two peaks in only {two_peaks}/20 seeds"
    );
    (0..20u64).into_par_iter().for_each(|seed| {
        let s = invert(&input(&t, &noisy(&one, 1e-3, seed), seed), &o).unwrap();
        assert_eq!(s.n_peaks, Some(1), "one exponential, seed {seed}");
        assert!(
            s.moments.sd < 0.3,
            "one exponential, seed {seed}: width {}",
            s.moments.sd
        );
        assert!(
            (s.moments.mean - 100f64.ln()).abs() < 0.05,
            "one exponential, seed {seed}: centre {}",
            s.moments.mean
        );
    });
}

/// A series of seven aging times whose log-normal D moves: (ln centre, sd) per aging time.
fn sequence(seed: u64, params: impl Fn(f64) -> (f64, f64)) -> Vec<tables::SpectrumMoments> {
    let t = times(200, 3.5);
    let ages = [1800.0, 3600.0, 5400.0, 9000.0, 18000.0, 36000.0, 77400.0];
    let o = SpectrumOptions {
        bootstrap: 50,
        seed,
        ..Default::default()
    };
    ages.iter()
        .enumerate()
        .map(|(i, &ta)| {
            let u = (ta / 1800.0f64).ln() / (77400.0f64 / 1800.0).ln();
            let (c, sd) = params(u);
            let y = noisy(
                &phi_lognormal(&t, &[(1.0, c, sd)]),
                1e-3,
                seed * 100 + i as u64,
            );
            let curve = tables::RelaxationClean {
                test_id: format!("t{i}"),
                material: "G".into(),
                temperature_k: 633.0,
                aging_time_s: ta,
                phi: y.clone(),
                stress_mpa: y,
                n_samples: vec![1; t.len()],
                time_s: t.clone(),
                ..Default::default()
            };
            analyse(&curve, None, None, &o).1
        })
        .collect()
}

#[test]
fn shift_only_and_broadening_only_sequences_are_told_apart_in_every_seed() {
    let results: Vec<(String, String)> = (0..100u64)
        .into_par_iter()
        .map(|seed| {
            let pattern = |rows: Vec<tables::SpectrumMoments>| {
                let (_, trends) = summarise(&rows, &[], &[], &TrendOptions::default());
                trends
                    .iter()
                    .find(|t| t.source == "spectrum")
                    .map(|t| t.pattern.clone())
                    .unwrap_or_default()
            };
            // Shift: the centre moves a decade (20 s to 200 s), the width stays 1.0.
            let shift = sequence(seed, |u| ((20.0f64).ln() + u * 10f64.ln(), 1.0));
            // Broadening: the centre stays at 60 s, the width grows from 0.6 to 1.2.
            let broad = sequence(seed + 1000, |u| ((60.0f64).ln(), 0.6 + 0.6 * u));
            (pattern(shift), pattern(broad))
        })
        .collect();
    let shifts = results.iter().filter(|r| r.0 == "shift").count();
    let broads = results.iter().filter(|r| r.1 == "broadening").count();
    println!(
        "shift-only classified shift in {shifts}/100 seeds, broadening-only classified broadening in {broads}/100"
    );
    for (seed, r) in results.iter().enumerate() {
        assert_eq!(
            r.0, "shift",
            "seed {seed}: shift-only sequence classified {}",
            r.0
        );
        assert_eq!(
            r.1, "broadening",
            "seed {seed}: broadening-only sequence classified {}",
            r.1
        );
    }
}

/// Issue 36: unimodal truths (log-normals of SD 0.6 and 1.5 in ln tau placed so that the window,
/// 1 s to 3162 s, cuts 0, 30 and 60 % of their mass; KWW with beta 0.3 and 0.9 and tau from a
/// thirtieth of the window's end to its end): at most 5 % of the curves report two or more peaks
/// (a cut window is `peaks_not_resolved`, null, not a count).
#[test]
fn unimodal_truths_seldom_show_two_peaks_whatever_the_window_cuts() {
    let t = times(200, 3.5);
    let o = SpectrumOptions {
        bootstrap: 100,
        ..Default::default()
    };
    let t_max = *t.last().unwrap();
    // (shape, parameter); the centre placed so that the mass beyond t_max is `cut`.
    let mut cases: Vec<(Vec<f64>, f64)> = Vec::new();
    for cut in [0.0, 0.3, 0.6] {
        for sd in [0.6, 1.5] {
            // Log-normal: the mass above ln t_max is 1 - Phi((ln t_max - c) / sd); c for `cut`
            // (cut 0: the centre 3 SD below the end).
            let z = match cut {
                c if c <= 0.0 => 3.0,
                c => physics_normal_quantile(1.0 - c),
            };
            let c = t_max.ln() - z * sd;
            cases.push((phi_lognormal(&t, &[(1.0, c, sd)]), cut));
        }
    }
    // KWW: tau from well inside the window to its end (the slow tail then runs past it).
    for beta in [0.3, 0.9] {
        for tau in [t_max / 30.0, t_max / 3.0, t_max] {
            cases.push((
                t.iter().map(|&x| physics::kww::phi(x, tau, beta)).collect(),
                tau,
            ));
        }
    }
    let results: Vec<(Option<usize>, f64)> = cases
        .par_iter()
        .enumerate()
        .flat_map(|(k, (y, cut))| {
            (0..2u64)
                .map(|seed| {
                    let s = invert(&input(&t, &noisy(y, 1e-3, 100 * k as u64 + seed), seed), &o)
                        .unwrap();
                    if s.n_peaks.is_some_and(|n| n >= 2) {
                        println!(
                            "case {k} ({cut}) seed {seed}: {:?} peaks, outside {:.2}, {:?}",
                            s.n_peaks, s.beyond_window_fraction, s.flags
                        );
                    }
                    (s.n_peaks, *cut)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let false_peaks = results
        .iter()
        .filter(|r| r.0.is_some_and(|n| n >= 2))
        .count();
    let unresolved = results.iter().filter(|r| r.0.is_none()).count();
    println!(
        "unimodal truths: {false_peaks} of {} report two or more peaks; {unresolved} not resolved (window cuts the distribution)",
        results.len()
    );
    assert!(
        false_peaks as f64 <= 0.05 * results.len() as f64,
        "{false_peaks} of {} false peaks",
        results.len()
    );
}

/// The standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9).
fn physics_normal_quantile(p: f64) -> f64 {
    let a = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239e0,
    ];
    let b = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    let c = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838e0,
        -2.549732539343734e0,
        4.374664141464968e0,
        2.938163982698783e0,
    ];
    let d = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996e0,
        3.754408661907416e0,
    ];
    let pl = 0.02425;
    if p < pl {
        let q = (-2.0 * p.ln()).sqrt();
        (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    } else if p <= 1.0 - pl {
        let q = p - 0.5;
        let r = q * q;
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    } else {
        -physics_normal_quantile(1.0 - p)
    }
}

/// The moments' SEs against the scatter of the moments over 40 noise draws of the same curves
/// (a log-normal of SD 1 and a KWW of beta 0.5, both inside the window): the bootstrap's median
/// SE within 30 % of the observed SD on both; the posterior's on the KWW curve, and 1.3-2 times
/// it on the log-normal (conservative). The coverage study (bench/coverage.md) measures both
/// over 1000 curves.
#[test]
fn the_moments_ses_match_their_scatter_over_noise_draws() {
    let t = times(200, 3.5);
    let truths = [
        ("log-normal", phi_lognormal(&t, &[(1.0, 60f64.ln(), 1.0)])),
        (
            "KWW",
            t.iter().map(|&x| physics::kww::phi(x, 80.0, 0.5)).collect(),
        ),
    ];
    for bands in [spectrum::Bands::Posterior, spectrum::Bands::Bootstrap] {
        let o = SpectrumOptions {
            bands,
            bootstrap: 100,
            ..Default::default()
        };
        for (name, clean) in &truths {
            let got: Vec<(f64, f64, f64, f64)> = (0..40u64)
                .into_par_iter()
                .map(|seed| {
                    let y = noisy(clean, 1e-3, 100 + seed);
                    let s = invert(&input(&t, &y, seed), &o).unwrap();
                    (
                        s.moments.mean,
                        s.mean_se.unwrap(),
                        s.moments.sd,
                        s.sd_se.unwrap(),
                    )
                })
                .collect();
            let sd = |v: Vec<f64>| {
                let m = v.iter().sum::<f64>() / v.len() as f64;
                (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
            };
            let median = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            for (what, scatter, se) in [
                (
                    "mean ln tau",
                    sd(got.iter().map(|g| g.0).collect()),
                    median(got.iter().map(|g| g.1).collect()),
                ),
                (
                    "SD of ln tau",
                    sd(got.iter().map(|g| g.2).collect()),
                    median(got.iter().map(|g| g.3).collect()),
                ),
            ] {
                let ratio = se / scatter;
                println!("{} {name} {what}: SE / scatter = {ratio:.2}", bands.name());
                // The posterior's SEs on the in-window log-normal are conservative (measured 1.7):
                // the prior's variance, not the noise's, in the moments' direction.
                let want = if bands == spectrum::Bands::Posterior && *name == "log-normal" {
                    1.3..=2.0
                } else {
                    0.7..=1.3
                };
                assert!(
                    want.contains(&ratio),
                    "{} bands, {name}, {what}: median SE {se:.4} against scatter {scatter:.4}",
                    bands.name()
                );
            }
        }
    }
}
