//! Coverage of model-compare's scenario parameters: campaigns drawn from each scenario (its
//! parameters at random in the ranges the demo's fits reach), the measured beta and ln tau at
//! each aging time the scenario's refitted values plus Gaussian noise of a standard error drawn
//! per point (what kww-fit reports on such curves), fitted with the same scenario; z = (estimate -
//! truth) / SE per parameter, and the share of 95 % intervals holding the truth.

use model_compare::{
    BETA_FLOOR, LN_TAU_FLOOR, Measured, Scenario, ScenarioFit, Window, fit_scenario, predict,
};
use rayon::prelude::*;

use crate::{Summary, summarize};

/// The aging times of the demo's reference series.
const AGES_S: [f64; 7] = [1800.0, 3600.0, 5400.0, 9000.0, 18000.0, 36000.0, 77400.0];

/// The parameter names, in model-compare's order.
pub const NAMES: [&str; 4] = ["ln tau0", "A", "sigma0", "width growth"];

/// A scenario's parameters drawn in the ranges the demo's fits reach: ln tau0 (tau0 500-3000 s),
/// A (5-30 s^1/2), sigma0 (0.8-1.6) and, but for `transient`, the width growth (0.1-0.5).
fn draw_params(s: Scenario, rng: &mut rng::Rng) -> Vec<f64> {
    let mut p = vec![
        rng.range(500f64.ln(), 3000f64.ln()),
        rng.range(5.0, 30.0),
        rng.range(0.8, 1.6),
    ];
    if s != Scenario::Transient {
        p.push(rng.range(0.1, 0.5));
    }
    p
}

/// (estimate - truth) / SE of each parameter of a fit (None where it has no SE).
fn z_of(f: &ScenarioFit, truth: &[f64]) -> Vec<Option<f64>> {
    f.params
        .iter()
        .zip(&f.se)
        .zip(truth)
        .map(|((e, se), t)| (se.is_finite() && *se > 0.0).then(|| (e - t) / se))
        .collect()
}

/// One campaign from scenario `s`: the z of each parameter (None where no SE).
pub fn trial(s: Scenario, seed: u64, k: u64) -> Option<Vec<Option<f64>>> {
    let mut rng = rng::Rng::new(seed, k);
    let p = draw_params(s, &mut rng);
    let w = Window {
        t_min_s: 1.0,
        t_max_s: 8800.0,
        n_points: 200,
    };
    let mut m = Measured::default();
    for &t_a in &AGES_S {
        let (b, tau) = predict(s, &p, t_a, &w)?;
        let (se_b, se_t) = (rng.range(0.003, 0.012), rng.range(0.02, 0.2));
        m.aging_time_s.push(t_a);
        m.beta.push(b + se_b * rng.normal());
        // As model-compare's `measured` floors them.
        m.beta_se.push(se_b.max(BETA_FLOOR));
        m.ln_tau.push(tau.ln() + se_t * rng.normal());
        m.ln_tau_se.push(se_t.max(LN_TAU_FLOOR));
        m.windows.push(w);
    }
    Some(z_of(&fit_scenario(s, &m)?, &p))
}

/// `n` campaigns of scenario `s` by `trial` (one of [`trial`], [`trial_curves`]): per
/// parameter, its summary.
pub fn study(
    s: Scenario,
    seed: u64,
    n: u64,
    trial: fn(Scenario, u64, u64) -> Option<Vec<Option<f64>>>,
) -> Vec<Summary> {
    let out: Vec<Option<Vec<Option<f64>>>> =
        (0..n).into_par_iter().map(|k| trial(s, seed, k)).collect();
    let k = if s == Scenario::Transient { 3 } else { 4 };
    (0..k)
        .map(|j| {
            let z: Vec<Option<f64>> = out.iter().map(|o| o.as_ref().and_then(|v| v[j])).collect();
            summarize(&z, None)
        })
        .collect()
}

/// Prints one table (markdown) under `title`, campaigns made by `trial`.
fn print_study(
    title: &str,
    seed: u64,
    n: u64,
    trial: fn(Scenario, u64, u64) -> Option<Vec<Option<f64>>>,
) {
    println!("{title}\n");
    println!("| scenario | parameter | intervals | no SE | mean z | median z | 95 % coverage |");
    println!("|---|---|---|---|---|---|---|");
    for s in Scenario::ALL {
        for (name, r) in NAMES.iter().zip(study(s, seed, n, trial)) {
            println!(
                "| {} | {name} | {} | {} | {:+.2} | {:+.2} | {:.1} % |",
                s.name(),
                r.n,
                r.missing,
                r.mean_z,
                r.median_z,
                100.0 * r.coverage
            );
        }
    }
    println!();
}

/// Prints the table (markdown).
pub fn print_table(seed: u64, n: u64) {
    print_study(
        &format!(
            "## Scenario parameters (model-compare): {n} campaigns per scenario drawn from it, fitted with it"
        ),
        seed,
        n,
        trial,
    );
}

/// The recorded span after the step of the curves [`trial_curves`] simulates (s).
const SPAN_S: f64 = 8800.0;

/// One test of scenario `s` at aging time `t_a`, recorded as a DMA records it (2 s sampling, a
/// 30 s hold, a 2 s ramp, 90 MPa at phi = 1, 0.1 MPa noise): phi(t') from the scenario's own
/// distribution (physics::relaxation_model), not from its KWW refit.
fn scenario_curve(s: Scenario, p: &[f64], t_a: f64, rng: &mut rng::Rng) -> tables::RelaxationRaw {
    let (hold, ramp, dt, sigma0, strain) = (30.0, 2.0, 2.0, 90.0, 0.001);
    let step_end = hold + ramp;
    let n = ((step_end + SPAN_S) / dt).floor() as usize + 1;
    let time: Vec<f64> = (0..n).map(|k| k as f64 * dt).collect();
    let after: Vec<f64> = time
        .iter()
        .filter(|t| **t >= step_end)
        .map(|t| t - step_end)
        .collect();
    let sigma = match s {
        Scenario::Transient => p[2],
        _ => p[2] + p[3] * (t_a / SPAN_S).ln_1p(),
    };
    let grid = model_compare::model_grid(sigma.max(1e-6));
    let (tau0, a) = (p[0].exp(), p[1]);
    let phi = match s {
        Scenario::Broadening => {
            physics::relaxation_model::phi_static(&after, tau0 + a * t_a.sqrt(), &grid)
        }
        _ => physics::relaxation_model::phi_transient(&after, t_a, tau0, a, 0.5, &grid),
    };
    let first = n - after.len();
    let stress: Vec<Option<f64>> = time
        .iter()
        .enumerate()
        .map(|(k, &t)| {
            let clean = if t < hold {
                0.0
            } else if k < first {
                sigma0 * (t - hold) / ramp
            } else {
                sigma0 * phi[k - first]
            };
            Some(clean + 0.1 * rng.normal())
        })
        .collect();
    let strain_meas: Vec<Option<f64>> = time
        .iter()
        .map(|&t| {
            let e = if t < hold {
                0.0
            } else if t < step_end {
                strain * (t - hold) / ramp
            } else {
                strain
            };
            Some(e + 1e-7 * rng.normal())
        })
        .collect();
    tables::RelaxationRaw {
        step_s: None,
        test_id: format!("{t_a}"),
        material: "G".into(),
        tg_k: Some(680.0),
        temperature_k: 600.0,
        aging_time_s: t_a,
        strain: Some(strain),
        series: None,
        source_file: "scenario".into(),
        flags: String::new(),
        temperature_meas_k: vec![None; n],
        stress_mpa: stress,
        strain_meas,
        time_s: time,
    }
}

/// [`trial`] through curves: each aging time's test simulated from the scenario's distribution,
/// cleaned and fitted by kww-fit with its defaults, gathered by model-compare's `measured`, then
/// fitted with the scenario.
pub fn trial_curves(s: Scenario, seed: u64, k: u64) -> Option<Vec<Option<f64>>> {
    let mut rng = rng::Rng::new(seed ^ 0xc0de, k);
    let p = draw_params(s, &mut rng);
    let fits: Vec<tables::KwwFit> = AGES_S
        .iter()
        .map(|&t_a| crate::fit_raw(&scenario_curve(s, &p, t_a, &mut rng)))
        .collect();
    let m = model_compare::measured(&fits).into_values().next()?;
    Some(z_of(&fit_scenario(s, &m)?, &p))
}

/// Prints the through-curves table (markdown).
pub fn print_table_curves(seed: u64, n: u64) {
    print_study(
        &format!(
            "## Scenario parameters through curves: {n} campaigns per scenario, each test simulated from the scenario's distribution (2 s sampling, 0.1 MPa noise, 8800 s), through clean, kww-fit (defaults) and model-compare"
        ),
        seed,
        n,
        trial_curves,
    );
}
