//! The phenomenological model: the beta = 1/2 check, each scenario's direction, and the demo.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use model_compare::{Scenario, Window, predict, predict_gradient};
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

/// The analytic derivatives of the refitted (beta, ln tau) against central differences of
/// `predict`, for each scenario, at typical and at degenerate parameters (tau0 far below A sqrt(t)).
#[test]
fn the_analytic_jacobian_matches_central_differences() {
    let w = Window {
        t_min_s: 5.0,
        t_max_s: 9000.0,
        n_points: 150,
    };
    let cases: [(Scenario, &[f64]); 6] = [
        (Scenario::Transient, &[0.0, 30.0, 1.2]),
        (Scenario::Transient, &[-12.0, 8.0, 2.2]),
        (Scenario::Broadening, &[1000f64.ln(), 5.0, 1.2, 0.5]),
        (Scenario::Broadening, &[-3.0, 20.0, 2.0, 0.25]),
        (Scenario::Combined, &[0.0, 30.0, 1.5, 0.4]),
        (Scenario::Combined, &[5.0, 0.01, 0.8, 0.1]),
    ];
    for (s, p) in cases {
        for t_a in [1800.0, 36_000.0] {
            let (_, sens) = predict_gradient(s, p, t_a, &w).unwrap();
            let sens = sens.unwrap();
            for j in 0..p.len() {
                let h = 1e-4 * p[j].abs().max(1e-2);
                let (mut up, mut down) = (p.to_vec(), p.to_vec());
                up[j] += h;
                down[j] -= h;
                let (bu, tu) = predict(s, &up, t_a, &w).unwrap();
                let (bd, td) = predict(s, &down, t_a, &w).unwrap();
                let fd = [(bu - bd) / (2.0 * h), (tu.ln() - td.ln()) / (2.0 * h)];
                for q in 0..2 {
                    assert!(
                        (sens[j][q] - fd[q]).abs() < 2e-3 * (fd[q].abs() + 1e-3),
                        "{s:?} {p:?} t_a {t_a} param {j} output {q}: {} vs {}",
                        sens[j][q],
                        fd[q]
                    );
                }
            }
        }
    }
}

/// tau falling slightly with aging: the transient scenario's best A is its bound 0. The fit lands
/// on it exactly, converged (not at its iteration limit), with no standard error for A and finite
/// ones for the others.
#[test]
fn a_best_on_its_bound_is_reached_exactly() {
    let w = Window {
        t_min_s: 2.0,
        t_max_s: 9000.0,
        n_points: 120,
    };
    let tas = [1800.0, 3600.0, 9000.0, 18_000.0, 36_000.0, 77_400.0];
    let truth = [3000f64.ln(), 0.0, 2.0];
    let mut m = model_compare::Measured {
        aging_time_s: tas.to_vec(),
        beta: vec![],
        beta_se: vec![0.01; tas.len()],
        ln_tau: vec![],
        ln_tau_se: vec![0.05; tas.len()],
        windows: vec![w; tas.len()],
    };
    for (i, &t) in tas.iter().enumerate() {
        let (b, tau) = predict(Scenario::Transient, &truth, t, &w).unwrap();
        m.beta.push(b);
        m.ln_tau.push(tau.ln() - 0.03 * i as f64);
    }
    let f = model_compare::fit_scenario(Scenario::Transient, &m).unwrap();
    assert_eq!(f.params[1], 0.0, "A at its bound 0: {:?}", f.params);
    assert!(f.converged);
    assert!(f.se[1].is_nan());
    assert!(f.se[0].is_finite() && f.se[2].is_finite(), "{:?}", f.se);
    assert!((f.params[2] - 2.0).abs() < 0.05, "sigma0 {}", f.params[2]);
}

#[test]
fn a_coarser_grid_gives_the_same_phi() {
    use physics::relaxation_model::{Grid, lognormal, lognormal_phi_gradient};
    // y = I(t') spans the whole decay: from 1e-4 of a mode's time to 1e3 of it.
    let y: Vec<f64> = (0..141)
        .map(|k| 10f64.powf(-4.0 + 0.05 * k as f64))
        .collect();
    // The largest difference of [phi, d phi/d y, d phi/d sigma] from a grid 50 times finer
    // (phi absolute, as a fraction of 1; the derivatives relative to their size, or to 1).
    let worst = |grid: &dyn Fn(f64) -> Grid| {
        let mut worst = [0.0f64; 3];
        for &sigma in &[0.05, 0.1, 0.2, 0.37, 0.5, 0.8, 1.0, 1.5, 2.2, 3.0, 4.5, 6.0] {
            let fine = lognormal(sigma, 5.0, (0.01 * sigma).min(0.005));
            let (a, b) = (
                lognormal_phi_gradient(&y, &grid(sigma), sigma),
                lognormal_phi_gradient(&y, &fine, sigma),
            );
            for (ga, gb) in a.iter().zip(&b) {
                for c in 0..3 {
                    let scale = if c == 0 { 1.0 } else { gb[c].abs().max(1.0) };
                    worst[c] = worst[c].max((ga[c] - gb[c]).abs() / scale);
                }
            }
        }
        worst
    };
    let now = worst(&model_compare::model_grid);
    let before = worst(&|sigma| lognormal(sigma, 5.0, 0.1));
    eprintln!(
        "largest differences from a fine grid: step <= min(0.4, sigma/2) {now:?}, step 0.1 {before:?}"
    );
    // phi, what the refit sees: within the mass the +- 5 sigma truncation leaves out (5.7e-7).
    // What remains is the truncation's end effect (each end's weight counts whole, of the order of
    // the step times the density there), largest for d phi/d y at y -> 0, E[1/s], whose integrand
    // peaks sigma beyond the centre. The step of 0.1 was coarse against small sigmas: every
    // component is now closer to the fine grid than it was.
    assert!(now[0] < 5.7e-7, "{now:?}");
    assert!((0..3).all(|c| now[c] < before[c]), "{now:?} {before:?}");
    let n = |sigma: f64| model_compare::model_grid(sigma).ln_s.len();
    assert_eq!((n(0.05), n(1.5), n(6.0)), (21, 39, 151));
}
