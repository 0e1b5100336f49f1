//! The phenomenological model: the beta = 1/2 check, each scenario's direction, and the demo.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use model_compare::{Scenario, Window, predict};
use physics::kww_models::refit_plain;
use physics::relaxation_model::{kww_half, phi_transient};

#[test]
fn a_static_beta_half_distribution_refits_to_beta_half() {
    let g = kww_half(-40.0, 14.0, 0.02);
    assert!(g.truncated_mass < 1e-6);
    let t: Vec<f64> = (0..200)
        .map(|k| 10f64.powf(-2.0 + 5.0 * k as f64 / 199.0))
        .collect();
    // A = 0: modes do not age; tau0 = 1000 s.
    let phi = phi_transient(&t, 1800.0, 1000.0, 0.0, 0.5, &g);
    for (ti, p) in t.iter().zip(&phi) {
        assert!((p - (-(ti / 1000.0).sqrt()).exp()).abs() < 1e-6);
    }
    let (beta, tau) = refit_plain(&t, &phi).unwrap();
    assert!((beta - 0.5).abs() < 1e-4, "beta {beta}");
    assert!((tau / 1000.0 - 1.0).abs() < 1e-3, "tau {tau}");
}

#[test]
fn each_scenario_moves_beta_its_own_way() {
    let w = Window {
        t_min_s: 5.0,
        t_max_s: 9000.0,
        n_points: 150,
    };
    let tas = [1800.0, 3600.0, 5400.0, 9000.0, 18_000.0, 36_000.0, 77_400.0];
    let betas = |s: Scenario, p: &[f64]| -> Vec<f64> {
        tas.iter()
            .map(|&t| predict(s, p, t, &w).unwrap().0)
            .collect()
    };
    let transient = betas(Scenario::Transient, &[0.0, 30.0, 1.2]);
    assert!(
        transient.windows(2).all(|x| x[1] > x[0]),
        "transient rises: {transient:?}"
    );
    // A log-normal distribution of growing width (fixed centre: tau0 = 1000 s, A = 0).
    let broadening = betas(Scenario::Broadening, &[1000f64.ln(), 0.0, 1.2, 0.5]);
    assert!(
        broadening.windows(2).all(|x| x[1] < x[0]),
        "broadening falls: {broadening:?}"
    );
    let combined = betas(Scenario::Combined, &[0.0, 30.0, 1.5, 0.4]);
    let peak = combined
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert!(
        peak > 0 && peak < tas.len() - 1,
        "combined rises then falls: {combined:?}"
    );
    assert!(
        combined[..=peak].windows(2).all(|x| x[1] > x[0])
            && combined[peak..].windows(2).all(|x| x[1] < x[0]),
        "{combined:?}"
    );
}

#[test]
fn on_the_demo_the_combined_scenario_ranks_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tests::demo_fits(d);
    let p = model_compare::Params {
        kww_fits: d.join("f.parquet"),
        model_curves: d.join("mc.parquet"),
        model_fits: d.join("mf.parquet"),
    };
    assert_eq!(model_compare::run(&p).unwrap(), 4);
    let (fits, _) = tables::read_rows::<tables::ModelFit>(&p.model_fits).unwrap();
    let at633: Vec<_> = fits.iter().filter(|f| f.temperature_k == 633.0).collect();
    let best = at633.iter().find(|f| f.rank == 1).unwrap();
    assert_eq!(best.scenario, "combined");
    let min_bic = at633
        .iter()
        .map(|f| f.bic.unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best.bic.unwrap(), min_bic, "combined is first by BIC too");
    // The combined beta(t_a), at the measured aging times, peaks at the measured turning point.
    let (curves, _) = tables::read_rows::<tables::ModelCurve>(&p.model_curves).unwrap();
    let c: Vec<_> = curves
        .iter()
        .filter(|c| {
            c.temperature_k == 633.0 && c.scenario == "combined" && c.beta_measured.is_some()
        })
        .collect();
    let peak = c
        .iter()
        .max_by(|a, b| a.beta_model.unwrap().total_cmp(&b.beta_model.unwrap()))
        .unwrap();
    eprintln!(
        "combined beta(t_a) at 633 K: {:?}",
        c.iter()
            .map(|c| (c.aging_time_s, c.beta_model.unwrap()))
            .collect::<Vec<_>>()
    );
    assert!(
        [5400.0, 9000.0, 18_000.0].contains(&peak.aging_time_s),
        "peak at {}",
        peak.aging_time_s
    );
}
