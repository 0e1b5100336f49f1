//! Per material and temperature: the two-stage aging law tau = A t_a^mu (continuous segmented
//! regression of ln tau on ln t_a with a fitted breakpoint) and the aging time of the largest beta
//! with a parametric-bootstrap interval.

use std::collections::BTreeMap;

use fit::{Model, Options, least_squares};
use tables::{AgingLaw, KwwFit};

/// The hinge y = a + mu1 (x - xb) for x <= xb, a + mu2 (x - xb) after; params [a, mu1, mu2, xb].
struct Hinge<'a> {
    x: &'a [f64],
}

impl Model for Hinge<'_> {
    fn n_params(&self) -> usize {
        4
    }
    fn n_obs(&self) -> usize {
        self.x.len()
    }
    fn eval(&self, p: &[f64], out: &mut [f64]) {
        for (o, &x) in out.iter_mut().zip(self.x) {
            let d = x - p[3];
            *o = p[0] + if d <= 0.0 { p[1] * d } else { p[2] * d };
        }
    }
    fn jacobian(&self, p: &[f64], jac: &mut [f64]) -> bool {
        for (i, &x) in self.x.iter().enumerate() {
            let d = x - p[3];
            let (j1, j2, jb) = if d <= 0.0 {
                (d, 0.0, -p[1])
            } else {
                (0.0, d, -p[2])
            };
            jac[i * 4..i * 4 + 4].copy_from_slice(&[1.0, j1, j2, jb]);
        }
        true
    }
}

/// A straight-line fit y = a + b x: (a, b, se_b, rss).
fn line(x: &[f64], y: &[f64]) -> (f64, f64, f64, f64) {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let b = sxy / sxx;
    let a = my - b * mx;
    let rss: f64 = x.iter().zip(y).map(|(u, v)| (v - a - b * u).powi(2)).sum();
    let se = if x.len() > 2 {
        (rss / (n - 2.0) / sxx).sqrt()
    } else {
        f64::NAN
    };
    (a, b, se, rss)
}

/// The result of the segmented regression.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoStage {
    pub mu: [f64; 2],
    pub mu_se: [f64; 2],
    /// ln of the intercept at the breakpoint.
    pub a: f64,
    pub breakpoint_s: f64,
    pub breakpoint_ci_s: (f64, f64),
}

/// Segmented regression of y = ln tau on x = ln t_a: a grid over breakpoints between the second
/// and the second-to-last distinct x, then all four parameters refined by least squares;
/// the breakpoint interval is the t-interval of ln t_b.
pub fn two_stage(x: &[f64], y: &[f64]) -> Option<TwoStage> {
    let mut xs: Vec<f64> = x.to_vec();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if x.len() < 5 || xs.len() < 4 {
        return None;
    }
    let (lo, hi) = (xs[1], xs[xs.len() - 2]);
    let model = Hinge { x };
    let mut best: Option<(f64, Vec<f64>)> = None;
    for k in 0..=100 {
        let xb = lo + (hi - lo) * k as f64 / 100.0;
        // Linear least squares in (a, mu1, mu2) at fixed xb.
        let rows: Vec<f64> = x
            .iter()
            .flat_map(|&v| {
                let d = v - xb;
                if d <= 0.0 {
                    [1.0, d, 0.0]
                } else {
                    [1.0, 0.0, d]
                }
            })
            .collect();
        let sol = fit::linalg::lstsq(&rows, x.len(), 3, y);
        let p = vec![sol[0], sol[1], sol[2], xb];
        let mut f = vec![0.0; x.len()];
        model.eval(&p, &mut f);
        let rss: f64 = f.iter().zip(y).map(|(a, b)| (a - b).powi(2)).sum();
        if best.as_ref().is_none_or(|b| rss < b.0) {
            best = Some((rss, p));
        }
    }
    let (_, p0) = best?;
    let opts = Options {
        bounds: vec![
            fit::Bound::Free,
            fit::Bound::Free,
            fit::Bound::Free,
            fit::Bound::Both(lo, hi),
        ],
        ..Options::default()
    };
    let f = least_squares(&model, y, None, &p0, &opts).ok()?;
    let df = (x.len() - 4) as f64;
    let tq = if df >= 1.0 {
        fit::stats::t_quantile(0.975, df)
    } else {
        f64::NAN
    };
    let (xb, se_b) = (f.params[3], f.se[3]);
    Some(TwoStage {
        mu: [f.params[1], f.params[2]],
        mu_se: [f.se[1], f.se[2]],
        a: f.params[0],
        breakpoint_s: xb.exp(),
        breakpoint_ci_s: ((xb - tq * se_b).exp(), (xb + tq * se_b).exp()),
    })
}

/// The aging time of the largest (SE-weighted mean) beta, and the 2.5 and 97.5 % points of that
/// aging time over `replicates` parametric resamples beta_i + N(0, se_i).
pub fn turning_point(
    fits: &[&KwwFit],
    replicates: usize,
    seed: u64,
) -> Option<(f64, f64, (f64, f64))> {
    let mut by_age: BTreeMap<u64, (f64, Vec<(f64, f64)>)> = BTreeMap::new();
    for f in fits {
        if let (Some(b), se) = (f.beta, f.beta_se) {
            let se = se.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(0.01);
            by_age
                .entry(f.aging_time_s.to_bits())
                .or_insert((f.aging_time_s, vec![]))
                .1
                .push((b, se));
        }
    }
    if by_age.len() < 3 {
        return None;
    }
    let groups: Vec<(f64, Vec<(f64, f64)>)> = by_age.into_values().collect();
    // SE-weighted mean beta per aging time, with each beta optionally perturbed by `noise`.
    let mean = |g: &[(f64, f64)], noise: &mut dyn FnMut() -> f64| {
        let (num, den) = g.iter().fold((0.0, 0.0), |acc, (b, se)| {
            let w = 1.0 / (se * se);
            (acc.0 + w * (b + se * noise()), acc.1 + w)
        });
        num / den
    };
    let argmax = |vals: &[f64]| {
        vals.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0)
    };
    let means: Vec<f64> = groups.iter().map(|(_, g)| mean(g, &mut || 0.0)).collect();
    let k = argmax(&means);
    let mut rng = rng::Rng::new(seed, 0);
    let mut picks: Vec<f64> = Vec::with_capacity(replicates);
    for _ in 0..replicates {
        let vals: Vec<f64> = groups
            .iter()
            .map(|(_, g)| mean(g, &mut || rng.normal()))
            .collect();
        picks.push(groups[argmax(&vals)].0);
    }
    Some((
        groups[k].0,
        means[k],
        (
            fit::stats::quantile(&picks, 0.025),
            fit::stats::quantile(&picks, 0.975),
        ),
    ))
}

/// Every material and temperature's aging law rows (from fits with status `ok`, t_a > 0).
pub fn aging_law(fits: &[KwwFit], seed: u64) -> Vec<AgingLaw> {
    let mut groups: BTreeMap<(String, u64), Vec<&KwwFit>> = BTreeMap::new();
    for f in fits
        .iter()
        .filter(|f| f.status == "ok" && f.aging_time_s > 0.0 && f.tau_s.is_some_and(|t| t > 0.0))
    {
        groups
            .entry((f.material.clone(), f.temperature_k.to_bits()))
            .or_default()
            .push(f);
    }
    let mut out = Vec::new();
    for ((material, tbits), g) in groups {
        let temperature_k = f64::from_bits(tbits);
        let x: Vec<f64> = g.iter().map(|f| f.aging_time_s.ln()).collect();
        let y: Vec<f64> = g.iter().filter_map(|f| f.tau_s.map(f64::ln)).collect();
        let tp = turning_point(&g, 1000, seed);
        let base = AgingLaw {
            material: material.clone(),
            temperature_k,
            beta_turning_point_s: tp.map(|t| t.0),
            beta_max: tp.map(|t| t.1),
            beta_turning_point_ci_low_s: tp.map(|t| t.2.0),
            beta_turning_point_ci_high_s: tp.map(|t| t.2.1),
            ..Default::default()
        };
        let range = |sel: &dyn Fn(f64) -> bool| {
            let v: Vec<f64> = g
                .iter()
                .map(|f| f.aging_time_s)
                .filter(|t| sel(*t))
                .collect();
            (
                v.iter().copied().reduce(f64::min),
                v.iter().copied().reduce(f64::max),
                v.len() as i64,
            )
        };
        match two_stage(&x, &y) {
            Some(s) => {
                for seg in 0..2 {
                    let sel = |t: f64| {
                        if seg == 0 {
                            t <= s.breakpoint_s
                        } else {
                            t > s.breakpoint_s
                        }
                    };
                    let (lo, hi, n) = range(&sel);
                    out.push(AgingLaw {
                        segment: seg as i64 + 1,
                        mu: Some(s.mu[seg]),
                        mu_se: Some(s.mu_se[seg]).filter(|v| v.is_finite()),
                        // ln tau = a + mu (ln t_a - ln t_b)  =>  A = exp(a - mu ln t_b).
                        prefactor: Some((s.a - s.mu[seg] * s.breakpoint_s.ln()).exp()),
                        aging_time_min_s: lo,
                        aging_time_max_s: hi,
                        breakpoint_s: Some(s.breakpoint_s),
                        breakpoint_ci_low_s: Some(s.breakpoint_ci_s.0).filter(|v| v.is_finite()),
                        breakpoint_ci_high_s: Some(s.breakpoint_ci_s.1).filter(|v| v.is_finite()),
                        n_points: n,
                        status: "ok".into(),
                        ..base.clone()
                    });
                }
            }
            None if x.len() >= 2 => {
                let (a, b, se, _) = line(&x, &y);
                let (lo, hi, n) = range(&|_| true);
                out.push(AgingLaw {
                    segment: 1,
                    mu: Some(b),
                    mu_se: Some(se).filter(|v| v.is_finite()),
                    prefactor: Some(a.exp()),
                    aging_time_min_s: lo,
                    aging_time_max_s: hi,
                    n_points: n,
                    status: "single_stage".into(),
                    flags: "too_few_aging_times_for_two_stages".into(),
                    ..base
                });
            }
            None => out.push(AgingLaw {
                segment: 1,
                n_points: x.len() as i64,
                status: "too_few_aging_times".into(),
                ..base
            }),
        }
    }
    out
}
