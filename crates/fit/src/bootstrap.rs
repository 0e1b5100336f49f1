//! Seeded residual bootstrap, parallel over replicates and identical for any thread count: each
//! replicate draws from its own stream (seed, replicate) and results are kept in replicate order.

use rayon::prelude::*;

use crate::lm::{Fit, Model, Options, least_squares};

/// Refits `model` to `fitted + resampled residuals` `replicates` times, starting from the fit;
/// returns each replicate's parameters (None where a refit failed), in replicate order.
pub fn residual_bootstrap(
    model: &dyn Model,
    y: &[f64],
    w: Option<&[f64]>,
    fit: &Fit,
    opts: &Options,
    replicates: usize,
    seed: u64,
) -> Vec<Option<Vec<f64>>> {
    let residuals: Vec<f64> = y.iter().zip(&fit.fitted).map(|(a, b)| a - b).collect();
    let n = residuals.len();
    (0..replicates)
        .into_par_iter()
        .map(|b| {
            let mut rng = rng::Rng::new(seed, b as u64);
            let y_star: Vec<f64> = fit
                .fitted
                .iter()
                .map(|f| f + residuals[(rng.next_u64() % n as u64) as usize])
                .collect();
            least_squares(model, &y_star, w, &fit.params, opts)
                .ok()
                .map(|f| f.params)
        })
        .collect()
}
