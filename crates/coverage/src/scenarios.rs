//! Coverage of model-compare's scenario parameters: campaigns drawn from each scenario (its
//! parameters at random in the ranges the demo's fits reach), the measured beta and ln tau at
//! each aging time the scenario's refitted values plus Gaussian noise of a standard error drawn
//! per point (what kww-fit reports on such curves), fitted with the same scenario; z = (estimate -
//! truth) / SE per parameter, and the share of 95 % intervals holding the truth.

use model_compare::{Measured, Scenario, Window, fit_scenario, predict};
use rayon::prelude::*;

use crate::{Summary, summarize};

/// The aging times of the demo's reference series.
const AGES_S: [f64; 7] = [1800.0, 3600.0, 5400.0, 9000.0, 18000.0, 36000.0, 77400.0];

/// The parameter names, in model-compare's order.
pub const NAMES: [&str; 4] = ["ln tau0", "A", "sigma0", "width growth"];

/// One campaign from scenario `s`: the z of each parameter (None where no SE).
pub fn trial(s: Scenario, seed: u64, k: u64) -> Option<Vec<Option<f64>>> {
    let mut rng = rng::Rng::new(seed, k);
    let mut p = vec![
        rng.range(500f64.ln(), 3000f64.ln()),
        rng.range(5.0, 30.0),
        rng.range(0.8, 1.6),
    ];
    if s != Scenario::Transient {
        p.push(rng.range(0.1, 0.5));
    }
    let w = Window {
        t_min_s: 1.0,
        t_max_s: 8800.0,
        n_points: 200,
    };
    let mut m = Measured {
        aging_time_s: vec![],
        beta: vec![],
        beta_se: vec![],
        ln_tau: vec![],
        ln_tau_se: vec![],
        windows: vec![],
    };
    for &t_a in &AGES_S {
        let (b, tau) = predict(s, &p, t_a, &w)?;
        let (se_b, se_t) = (rng.range(0.003, 0.012), rng.range(0.02, 0.2));
        m.aging_time_s.push(t_a);
        m.beta.push(b + se_b * rng.normal());
        // As model-compare's `measured` floors them.
        m.beta_se.push(se_b.max(0.005));
        m.ln_tau.push(tau.ln() + se_t * rng.normal());
        m.ln_tau_se.push(se_t.max(1.0));
        m.windows.push(w);
    }
    let f = fit_scenario(s, &m)?;
    Some(
        f.params
            .iter()
            .zip(&f.se)
            .zip(&p)
            .map(|((e, se), t)| (se.is_finite() && *se > 0.0).then(|| (e - t) / se))
            .collect(),
    )
}

/// `n` campaigns of scenario `s`: per parameter, its summary.
pub fn study(s: Scenario, seed: u64, n: u64) -> Vec<Summary> {
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

/// Prints the table (markdown).
pub fn print_table(seed: u64, n: u64) {
    println!(
        "## Scenario parameters (model-compare): {n} campaigns per scenario drawn from it, fitted with it\n"
    );
    println!("| scenario | parameter | intervals | no SE | mean z | median z | 95 % coverage |");
    println!("|---|---|---|---|---|---|---|");
    for s in Scenario::ALL {
        for (name, r) in NAMES.iter().zip(study(s, seed, n)) {
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
