//! kww-fit against known truth: noise-free recovery, Monte Carlo error calibration, the biases of
//! docs/physics.md, the two-stage law, bad curves, and the demo campaign end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kww_fit::law::two_stage;
use kww_fit::{FitOptions, Variant, fit_curve};
use physics::kww::phi;
use rng::Rng;
use tables::{KwwFit, RelaxationClean};

fn log_times(t0: f64, t1: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| (t0.ln() + (t1 / t0).ln() * k as f64 / (n - 1) as f64).exp())
        .collect()
}

fn curve(t: Vec<f64>, phi: Vec<f64>) -> RelaxationClean {
    RelaxationClean {
        test_id: "t".into(),
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
}

/// One variant, without the drift term: these tests are about the KWW fit itself on curves
/// that do not drift (the drift term's prior widens the errors beyond the spread of such curves
/// by design; its coverage on drifting curves is the coverage study's drift rows).
fn only(v: Variant) -> FitOptions {
    FitOptions {
        variants: vec![v],
        drift_mpa_per_h: None,
        ..FitOptions::default()
    }
}

#[test]
fn noise_free_curves_are_recovered_without_initial_values() {
    for &beta in &[0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0] {
        for &tau in &[10.0, 100.0, 1000.0, 10_000.0] {
            let t = log_times(1.0, 1e5, 200);
            let p: Vec<f64> = t.iter().map(|&x| phi(x, tau, beta)).collect();
            let r = fit_curve(&curve(t, p), &only(Variant::Kww));
            assert_eq!(r.status, "ok", "beta {beta} tau {tau}");
            let (b, ta) = (r.beta.unwrap(), r.tau_s.unwrap());
            assert!((b - beta).abs() < 1e-6, "beta {beta} tau {tau}: beta {b}");
            assert!(
                ((ta - tau) / tau).abs() < 1e-6,
                "beta {beta} tau {tau}: tau {ta}"
            );
        }
    }
}

#[test]
fn reported_errors_match_the_monte_carlo_spread() {
    let (tau, beta, noise) = (1000.0, 0.5, 0.002);
    for &end in &[0.1 * tau, tau, 10.0 * tau] {
        let t = log_times(1.0, end, 200);
        let truth: Vec<f64> = t.iter().map(|&x| phi(x, tau, beta)).collect();
        let reps = 500;
        let mut betas = Vec::new();
        let mut ln_taus = Vec::new();
        let mut ses = Vec::new();
        let mut corrs = Vec::new();
        for k in 0..reps {
            let mut rng = Rng::new(2023, k);
            let y: Vec<f64> = truth.iter().map(|p| p + noise * rng.normal()).collect();
            let r = fit_curve(&curve(t.clone(), y), &only(Variant::Kww));
            assert!(r.beta.is_some(), "{r:?}");
            betas.push(r.beta.unwrap());
            ln_taus.push(r.tau_s.unwrap().ln());
            ses.push(r.beta_se.unwrap());
            corrs.push(r.corr_ln_tau_beta.unwrap());
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (mb, mt) = (mean(&betas), mean(&ln_taus));
        let sb = (betas.iter().map(|b| (b - mb).powi(2)).sum::<f64>() / (reps - 1) as f64).sqrt();
        let st = (ln_taus.iter().map(|b| (b - mt).powi(2)).sum::<f64>() / (reps - 1) as f64).sqrt();
        let emp_corr = betas
            .iter()
            .zip(&ln_taus)
            .map(|(b, l)| (b - mb) * (l - mt))
            .sum::<f64>()
            / ((reps - 1) as f64 * sb * st);
        let (se, corr) = (mean(&ses), mean(&corrs));
        eprintln!(
            "window to {end} s: SE(beta) {se:.5} vs spread {sb:.5}; corr {corr:.3} vs {emp_corr:.3}"
        );
        assert!(
            (se / sb - 1.0).abs() < 0.10,
            "window {end}: SE {se} vs spread {sb}"
        );
        assert!(
            (corr - emp_corr).abs() < 0.05,
            "window {end}: corr {corr} vs {emp_corr}"
        );
    }
}

#[test]
fn offset_and_hidden_t0_biases_are_removed() {
    let (tau, beta) = (1000.0, 0.5);
    let t = log_times(1.0, 1e4, 200);
    let mut rng = Rng::new(5, 0);
    // A true 10 % residual offset.
    let y: Vec<f64> = t
        .iter()
        .map(|&x| 0.9 * phi(x, tau, beta) + 0.1 + 1e-4 * rng.normal())
        .collect();
    let c = curve(t.clone(), y);
    let plain = fit_curve(&c, &only(Variant::Kww));
    let off = fit_curve(&c, &only(Variant::KwwOffset));
    assert!(
        (off.beta.unwrap() - 0.5).abs() <= 0.001,
        "kww_offset beta {:?}",
        off.beta
    );
    assert!(
        off.bic.unwrap() < plain.bic.unwrap(),
        "BIC prefers kww_offset"
    );
    assert!(
        (plain.beta.unwrap() - 0.5).abs() > 0.01,
        "ignoring the offset biases beta: {:?}",
        plain.beta
    );
    let auto = fit_curve(
        &c,
        &FitOptions {
            variants: vec![Variant::Kww, Variant::KwwOffset],
            ..FitOptions::default()
        },
    );
    assert_eq!(auto.model, "kww_offset");
    // A hidden 5 s offset of the step.
    let y: Vec<f64> = t.iter().map(|&x| if x <= 5.0 { 1.0 } else { phi(x - 5.0, tau, beta) } + 1e-4 * rng.normal()).collect();
    let c = curve(t, y);
    let t0 = fit_curve(&c, &only(Variant::KwwOffsetT0));
    assert!(
        (t0.beta.unwrap() - 0.5).abs() <= 0.001,
        "kww_offset_t0 beta {:?}",
        t0.beta
    );
    assert!((t0.t0_s.unwrap() - 5.0).abs() < 0.5, "t0 {:?}", t0.t0_s);
    let plain = fit_curve(&c, &only(Variant::Kww));
    assert!(
        (plain.beta.unwrap() - 0.5).abs() > 0.01,
        "ignoring a hidden t0 biases beta: {:?}",
        plain.beta
    );
}

/// "Within 2 SE" is a statement about a distribution: it is checked as coverage over 200 data
/// sets per size. With 7 aging times the fit has 3 degrees of freedom, so s^2 and the SEs are
/// themselves noisy and per-parameter coverage sits near 90 %, not 95 %.
#[test]
fn the_two_stage_law_is_recovered() {
    for n in [7usize, 10, 14] {
        let sets = 200;
        let (mut in1, mut in2, mut break_ok) = (0, 0, 0);
        for seed in 1..=sets as u64 {
            let mut rng = Rng::new(seed, n as u64);
            let ta: Vec<f64> = log_times(1800.0, 77_400.0, n);
            let x: Vec<f64> = ta.iter().map(|t| t.ln()).collect();
            let y: Vec<f64> = ta
                .iter()
                .map(|&t| {
                    (physics::kww::two_stage_tau_s(t, 9000.0, 3000.0, 0.3, 0.8)
                        * (1.0 + 0.03 * rng.normal()))
                    .ln()
                })
                .collect();
            let s = two_stage(&x, &y).expect("a fit");
            in1 += usize::from((s.mu[0] - 0.3).abs() <= 2.0 * s.mu_se[0]);
            in2 += usize::from((s.mu[1] - 0.8).abs() <= 2.0 * s.mu_se[1]);
            break_ok += usize::from((s.breakpoint_s / 9000.0).max(9000.0 / s.breakpoint_s) <= 1.5);
            assert!(s.breakpoint_ci_s.0 < s.breakpoint_s && s.breakpoint_s < s.breakpoint_ci_s.1);
        }
        let f = |c: usize| c as f64 / sets as f64;
        eprintln!(
            "{n} aging times: mu1 within 2 SE {:.3}, mu2 within 2 SE {:.3}, breakpoint within 1.5x {:.3}",
            f(in1),
            f(in2),
            f(break_ok)
        );
        assert!(
            f(in1) >= 0.85 && f(in2) >= 0.85,
            "{n}: coverage {} {}",
            f(in1),
            f(in2)
        );
        assert!(
            f(break_ok) >= 0.95,
            "{n}: breakpoint within 1.5x in {}",
            f(break_ok)
        );
    }
}

#[test]
fn bad_curves_give_flagged_rows() {
    let t = log_times(1.0, 1e4, 100);
    let good: Vec<f64> = t.iter().map(|&x| phi(x, 1000.0, 0.5)).collect();
    let cases: Vec<(RelaxationClean, &str)> = vec![
        (curve(t.clone(), vec![0.7; 100]), "constant"),
        (
            curve(
                t.clone(),
                good.iter()
                    .enumerate()
                    .map(|(i, p)| if i % 7 == 0 { f64::NAN } else { *p })
                    .collect(),
            ),
            "non_finite_values",
        ),
        (
            curve(t.clone(), good.iter().map(|p| -p).collect()),
            "negative_stress",
        ),
        (curve(t[..5].to_vec(), good[..5].to_vec()), "too_few_points"),
        (
            curve(t.iter().rev().copied().collect(), good.clone()),
            "non_monotone_time",
        ),
    ];
    for (c, want) in &cases {
        let r = fit_curve(c, &FitOptions::default());
        assert_eq!(r.status, *want);
        assert!(r.beta.is_none());
    }
    // In a batch through the stage, the good curve is fitted and every bad one has its row.
    let dir = tempfile::tempdir().unwrap();
    let mut curves: Vec<RelaxationClean> = cases
        .into_iter()
        .enumerate()
        .map(|(i, (mut c, _))| {
            c.test_id = format!("bad{i}");
            c
        })
        .collect();
    curves.push(RelaxationClean {
        test_id: "good".into(),
        ..curve(t, good)
    });
    let prov = tables::Provenance::new("test", serde_json::json!({}));
    tables::write_curves(&dir.path().join("c.parquet"), curves, &prov).unwrap();
    let p = kww_fit::Params {
        relaxation_clean: dir.path().join("c.parquet"),
        kww_fits: dir.path().join("f.parquet"),
        aging_law: dir.path().join("l.parquet"),
        fit: FitOptions::default(),
    };
    let (ok, flagged) = kww_fit::run(&p).unwrap();
    assert_eq!((ok, flagged), (1, 5));
    let (rows, _) = tables::read_rows::<KwwFit>(&p.kww_fits).unwrap();
    assert_eq!(rows.len(), 6);
}

#[test]
fn the_demo_campaign_end_to_end() {
    let demo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ingest::run(&ingest::Params {
        manifest: demo.join("campaign.yaml"),
        relaxation_raw: d.join("raw.parquet"),
        indentation_raw: d.join("ind.parquet"),
        dsc_raw: Some(d.join("dsc.parquet")),
        dma_sweeps_raw: Some(d.join("dma.parquet")),
        skip_bad_files: false,
        parts: false,
        allow_outside: false,
    })
    .unwrap();
    clean::run(&clean::Params {
        relaxation_raw: d.join("raw.parquet"),
        relaxation_clean: d.join("clean.parquet"),
        relaxation_tests: d.join("tests.parquet"),
        options: clean::Options::default(),
    })
    .unwrap();
    let p = kww_fit::Params {
        relaxation_clean: d.join("clean.parquet"),
        kww_fits: d.join("fits.parquet"),
        aging_law: d.join("law.parquet"),
        fit: FitOptions::default(),
    };
    kww_fit::run(&p).unwrap();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo.join("truth.json")).unwrap()).unwrap();
    let (fits, _) = tables::read_rows::<KwwFit>(&p.kww_fits).unwrap();
    assert_eq!(fits.len(), 19);
    for f in &fits {
        let t = truth["relaxation"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["test_id"] == f.test_id.as_str())
            .unwrap();
        let (bt, tt) = (t["beta"].as_f64().unwrap(), t["tau_s"].as_f64().unwrap());
        let (b, tau, se_b, se_lt) = (
            f.beta.unwrap(),
            f.tau_s.unwrap(),
            f.beta_se.unwrap(),
            f.tau_se_s.unwrap() / f.tau_s.unwrap(),
        );
        assert_eq!(f.status, "ok", "{}", f.test_id);
        // Tolerance: 4 standard errors where the window reaches 1/e; where tau is extrapolated
        // (docs/physics.md) beta and tau are biased beyond their SEs: 0.02 in beta, a factor 2 in tau.
        if f.flags.contains("tau_extrapolated") {
            assert!((b - bt).abs() <= 0.02, "{}: beta {b} vs {bt}", f.test_id);
            assert!(
                (tau / tt).ln().abs() <= 2f64.ln(),
                "{}: tau {tau} vs {tt}",
                f.test_id
            );
        } else {
            assert!(
                (b - bt).abs() <= 4.0 * se_b,
                "{}: beta {b} +- {se_b} vs {bt}",
                f.test_id
            );
            assert!(
                (tau / tt).ln().abs() <= 4.0 * se_lt,
                "{}: tau {tau} (ln se {se_lt}) vs {tt}",
                f.test_id
            );
        }
    }
    let (law, _) = tables::read_rows::<tables::AgingLaw>(&p.aging_law).unwrap();
    let at633: Vec<_> = law.iter().filter(|l| l.temperature_k == 633.0).collect();
    assert_eq!(at633.len(), 2);
    // The bent line's vertex and its profile interval hold the true peak at 9000 s, and the
    // interior maximum is significant.
    let tp = at633[0].beta_turning_point_s.unwrap();
    let (lo, hi) = (
        at633[0].beta_turning_point_ci_low_s.unwrap(),
        at633[0].beta_turning_point_ci_high_s.unwrap(),
    );
    assert!(
        lo <= 9000.0 && 9000.0 <= hi,
        "turning point {tp} [{lo}, {hi}]"
    );
    assert!(at633[0].beta_turning_point_p_value.unwrap() < 0.05);
    assert!(at633[1].mu.unwrap() > at633[0].mu.unwrap(), "mu2 > mu1");
    let bp = at633[0].breakpoint_s.unwrap();
    assert!(
        at633[0].breakpoint_ci_low_s.unwrap() <= 9000.0
            && 9000.0 <= at633[0].breakpoint_ci_high_s.unwrap(),
        "breakpoint {bp}"
    );
}

#[test]
fn fits_are_identical_for_one_and_two_threads() {
    let curves: Vec<RelaxationClean> = (0..64)
        .map(|k| {
            let t = log_times(1.0, 1e4, 200);
            let mut rng = Rng::new(9, k);
            let y = t
                .iter()
                .map(|&x| {
                    0.97 * phi(x, 500.0 + 10.0 * k as f64, 0.45) + 0.03 + 0.002 * rng.normal()
                })
                .collect();
            RelaxationClean {
                test_id: format!("t{k:03}"),
                ..curve(t, y)
            }
        })
        .collect();
    let opts = FitOptions {
        bootstrap: 20,
        ..FitOptions::default()
    };
    let run = |n: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap();
        pool.install(|| {
            use rayon::prelude::*;
            curves
                .par_iter()
                .map(|c| fit_curve(c, &opts))
                .collect::<Vec<_>>()
        })
    };
    let (a, b) = (run(1), run(2));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(format!("{x:?}"), format!("{y:?}"), "bit-identical fits");
    }
}

/// Issue 36: a DMA whose stress drifts by 0.4 MPa/h (sigma0 90 MPa, 8800 s, tau beyond the
/// window). Without the drift term the fit absorbs the drift into its offset and slow tail and
/// misses the truth by many standard errors; with it (`--drift-mpa-per-h 0.5`) the intervals
/// hold the truth, over 200 noisy replicates.
#[test]
fn a_drifting_instrument_widens_the_interval_instead_of_biasing_it() {
    let (tau, beta, c, noise) = (20_000.0, 0.45, 0.05, 0.1 / 90.0);
    let drift_phi_per_s = 0.4 / 3600.0 / 90.0;
    let t = log_times(2.0, 8800.0, 200);
    let (mut held, mut held_without, mut seen) = (0, 0, 0);
    let reps = 200;
    for k in 0..reps {
        let mut rng = Rng::new(36, k);
        let y: Vec<f64> = t
            .iter()
            .map(|&x| {
                (1.0 - c) * phi(x, tau, beta) + c + drift_phi_per_s * x + noise * rng.normal()
            })
            .collect();
        let auto = FitOptions {
            variants: vec![Variant::KwwOffset],
            drift_mpa_per_h: Some(kww_fit::DEFAULT_DRIFT_MPA_PER_H),
            ..FitOptions::default()
        };
        let r = fit_curve(&curve(t.clone(), y.clone()), &auto);
        let covers = |r: &KwwFit| (r.beta.unwrap() - beta).abs() <= 1.96 * r.beta_se.unwrap();
        held += usize::from(covers(&r));
        seen += usize::from(r.flags.split(',').any(|f| f == "drift"));
        assert!(r.drift_per_h.is_some(), "{r:?}");
        let without = fit_curve(&curve(t.clone(), y), &only(Variant::KwwOffset));
        held_without += usize::from(covers(&without));
        // Without the term, a drift the data show voids the row.
        if without.flags.split(',').any(|f| f == "drift_not_modelled") {
            assert_eq!(without.status, "drift_not_modelled");
        } else {
            assert_eq!(without.status, "ok");
        }
    }
    eprintln!(
        "beta intervals holding the truth: {held}/{reps} with the drift term, {held_without}/{reps} without; drift flagged in {seen}"
    );
    assert!(held as f64 >= 0.90 * reps as f64, "{held}/{reps}");
    // Without it the nominal 95 % intervals hold far less often (58 % here).
    assert!(
        (held_without as f64) < 0.75 * reps as f64,
        "{held_without}/{reps}"
    );
}

/// Issue 36: a curve that is not KWW (a log-normal distribution of ln tau, SD 1.2, centre
/// 300 s), recorded every second for 8800 s with noise 1e-3 and resampled into 200 log-time bins.
/// With the default (sample) weights beta is within 0.02 of a fit that weights every recorded
/// sample alike; with `log-time` within 0.02 of a fit that weights each log-time interval alike
/// (noise-free, from the true step); the two differ by far more than their SEs, and the curve
/// says so (`not_kww`, `beta_weighting_shift`).
#[test]
fn the_weighting_is_a_stated_choice_and_a_non_kww_curve_is_flagged() {
    let (centre, sd) = (300f64.ln(), 1.2);
    let phi_true = |t: f64| {
        let n = 2000;
        let (lo, hi) = (centre - 8.0 * sd, centre + 8.0 * sd);
        let h = (hi - lo) / n as f64;
        (0..=n)
            .map(|k| {
                let x = lo + h * k as f64;
                let d = (-(x - centre).powi(2) / (2.0 * sd * sd)).exp()
                    / (sd * (2.0 * std::f64::consts::PI).sqrt());
                let f = d * (-t * (-x).exp()).exp();
                if k == 0 || k == n { 0.5 * f * h } else { f * h }
            })
            .sum::<f64>()
    };
    let mut rng = Rng::new(36, 1);
    let samples: Vec<(f64, f64)> = (1..=8800)
        .map(|k| {
            let t = k as f64;
            (t, phi_true(t) + 1e-3 * rng.normal())
        })
        .collect();
    // 200 log-spaced bins: means and counts (as clean resamples).
    let edges: Vec<f64> = (0..=200)
        .map(|i| (8800f64.ln() * i as f64 / 200.0).exp())
        .collect();
    let (mut bt, mut by, mut bm) = (Vec::new(), Vec::new(), Vec::new());
    let mut centres = Vec::new();
    for w in edges.windows(2) {
        let inside: Vec<&(f64, f64)> = samples
            .iter()
            .filter(|(t, _)| *t >= w[0] && *t < w[1])
            .collect();
        if inside.is_empty() {
            continue;
        }
        let m = inside.len() as f64;
        bt.push(inside.iter().map(|p| p.0).sum::<f64>() / m);
        by.push(inside.iter().map(|p| p.1).sum::<f64>() / m);
        bm.push(inside.len() as i64);
        centres.push(bt[bt.len() - 1]);
    }
    let binned = |t: Vec<f64>, y: Vec<f64>, m: Vec<i64>| RelaxationClean {
        n_samples: m,
        ..curve(t, y)
    };
    let opts = |w: kww_fit::Weighting| FitOptions {
        variants: vec![Variant::Kww],
        weighting: w,
        ..FitOptions::default()
    };
    let default = fit_curve(
        &binned(bt.clone(), by.clone(), bm.clone()),
        &opts(kww_fit::Weighting::Samples),
    );
    let log_time = fit_curve(
        &binned(bt.clone(), by.clone(), bm.clone()),
        &opts(kww_fit::Weighting::LogTime),
    );
    // References: every recorded sample alike; every log-time bin alike, noise-free.
    let all = fit_curve(
        &curve(
            samples.iter().map(|p| p.0).collect(),
            samples.iter().map(|p| p.1).collect(),
        ),
        &opts(kww_fit::Weighting::Samples),
    );
    let ideal = fit_curve(
        &curve(
            centres.clone(),
            centres.iter().map(|&t| phi_true(t)).collect(),
        ),
        &opts(kww_fit::Weighting::Samples),
    );
    let b = |r: &KwwFit| r.beta.unwrap();
    eprintln!(
        "beta: samples {:.4} +- {:.4} (every sample alike {:.4}), log-time {:.4} +- {:.4} (ideal {:.4}); shift {:?}, flags {}",
        b(&default),
        default.beta_se.unwrap(),
        b(&all),
        b(&log_time),
        log_time.beta_se.unwrap(),
        b(&ideal),
        default.beta_weighting_shift,
        default.flags
    );
    assert_eq!(default.weighting, "samples");
    assert_eq!(log_time.weighting, "log-time");
    assert!((b(&default) - b(&all)).abs() < 0.02);
    assert!((b(&log_time) - b(&ideal)).abs() < 0.02);
    assert!(
        default.flags.split(',').any(|f| f == "not_kww"),
        "{default:?}"
    );
    let shift = default.beta_weighting_shift.unwrap();
    assert!((shift - (b(&log_time) - b(&default))).abs() < 1e-12);
}
