//! A DSC scan to its transitions (ASTM E1356 style tangent constructions on the heat flow):
//!
//! - the crystallisation exotherm, if the scan reaches one: the strongest rising lobe of the
//!   smoothed slope that a falling lobe follows (a peak, not a step); its onset is where the
//!   tangent at the leading inflection meets the baseline before it;
//! - the glass transition below it: the strongest endothermic lobe (the heat capacity rises);
//!   onset and end where the inflection tangent meets the baselines before and after, midpoint
//!   where the curve lies half-way between the two baselines.
//!
//! Heat flow is taken as exo up (TA's default); `--exo down` flips it first. A lobe must stand
//! 8 SDs of the slope's scatter above its median, else the transition is `not_found`.

use tables::{DscRaw, Transition};

use crate::curve::{self, Construction, Grid};
use crate::rows::{MIN_SIGNIFICANCE, row, set_construction};

/// Analysis settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DscOptions {
    /// Heat flow positive for exothermic events.
    pub exo_up: bool,
    /// Grid step of the bin means, K.
    pub step_k: f64,
    /// Half-width of the local quadratic smoothing, K.
    pub smooth_k: f64,
    /// Baseline span fitted each side, K.
    pub baseline_k: f64,
}

impl Default for DscOptions {
    fn default() -> Self {
        DscOptions {
            exo_up: true,
            step_k: 0.5,
            smooth_k: 3.0,
            baseline_k: 20.0,
        }
    }
}

/// The transitions of one scan: tg_onset, tg_midpoint, tg_end, crystallization_onset (a row each,
/// with a status where it could not be measured).
pub fn analyse(scan: &DscRaw, o: &DscOptions) -> Vec<Transition> {
    let sign = if o.exo_up { 1.0 } else { -1.0 };
    let hf: Vec<Option<f64>> = if scan.heat_flow_w_g.iter().any(Option::is_some) {
        scan.heat_flow_w_g.clone()
    } else {
        scan.heat_flow_w.clone()
    };
    let hf: Vec<Option<f64>> = hf.iter().map(|v| v.map(|x| sign * x)).collect();
    let (pts, mut flags) = curve::prepare(&scan.temperature_k, &hf);
    let names = ["tg_onset", "tg_midpoint", "tg_end", "crystallization_onset"];
    let mut rows: Vec<Transition> = names
        .iter()
        .map(|n| {
            row(
                &scan.scan_id,
                &scan.material,
                &scan.series,
                scan.aging_time_s,
                "dsc",
                n,
            )
        })
        .collect();
    let g = curve::bin(&pts, o.step_k);
    let span = g.t.last().copied().unwrap_or(0.0) - g.t.first().copied().unwrap_or(0.0);
    if g.t.len() < 40 || span < 30.0 {
        for r in &mut rows {
            r.status = "scan_too_short".into();
        }
        return finish(rows, &flags);
    }
    let (_, slope) = curve::smooth(&g, o.smooth_k);
    // Crystallisation: a rising lobe followed, within four lobe widths, by a falling one.
    let mut tg_to = g.t.len();
    let edge = |i: usize| i < 3 || i + 3 >= g.t.len();
    if let Some(l) = curve::lobe(&slope, 1.0, 0, g.t.len())
        && l.significance >= MIN_SIGNIFICANCE
        && !edge(l.at)
    {
        let width = g.t[l.hi] - g.t[l.lo];
        let until =
            g.t.iter()
                .position(|&t| t > g.t[l.hi] + 4.0 * width)
                .unwrap_or(g.t.len());
        let falls = curve::lobe(&slope, -1.0, l.hi, until)
            .is_some_and(|f| f.significance >= MIN_SIGNIFICANCE && f.at > l.hi);
        if falls {
            tg_to = l.lo;
            let r = &mut rows[3];
            match curve::construct(&g, &l, o.baseline_k, g.t[0], g.t[l.lo]) {
                Some(c) => {
                    let at = c
                        .before
                        .as_ref()
                        .and_then(|b| curve::intersect(b, &c.tangent));
                    set_construction(r, at, c.before.as_ref(), &c.tangent);
                    unflip(r, sign);
                }
                None => r.status = "not_found".into(),
            }
        }
    }
    if rows[3].status.is_empty() {
        rows[3].status = "not_reached".into();
    }
    // The glass transition: the endothermic (falling) lobe below any crystallisation.
    let tg = curve::lobe(&slope, -1.0, 0, tg_to)
        .filter(|l| l.significance >= MIN_SIGNIFICANCE && !edge(l.at));
    match tg.and_then(|l| {
        let hi_k = if tg_to < g.t.len() {
            g.t[tg_to]
        } else {
            g.t[g.t.len() - 1]
        };
        curve::construct(&g, &l, o.baseline_k, g.t[0], hi_k)
    }) {
        Some(c) => glass_transition(&mut rows, &g, &c, sign),
        None => {
            for r in &mut rows[..3] {
                r.status = "not_found".into();
            }
            flags.push("no_glass_transition");
        }
    }
    finish(rows, &flags)
}

/// Onset, end and midpoint from the construction.
fn glass_transition(rows: &mut [Transition], g: &Grid, c: &Construction, sign: f64) {
    let onset = c
        .before
        .as_ref()
        .and_then(|b| curve::intersect(b, &c.tangent));
    let end = c
        .after
        .as_ref()
        .and_then(|a| curve::intersect(a, &c.tangent));
    set_construction(&mut rows[0], onset, c.before.as_ref(), &c.tangent);
    set_construction(&mut rows[2], end, c.after.as_ref(), &c.tangent);
    // Midpoint: the curve half-way between the baselines (ASTM E1356), between onset and end.
    let mid = match (&c.before, &c.after, onset, end) {
        (Some(b), Some(a), Some((t0, _)), Some((t1, _))) => {
            let f = |i: usize| g.y[i] - 0.5 * (b.at(g.t[i]) + a.at(g.t[i]));
            let idx: Vec<usize> = (0..g.t.len())
                .filter(|&i| g.t[i] >= t0 && g.t[i] <= t1)
                .collect();
            idx.windows(2).find_map(|w| {
                let (f0, f1) = (f(w[0]), f(w[1]));
                (f0.signum() != f1.signum()).then(|| {
                    let t = g.t[w[0]] + (g.t[w[1]] - g.t[w[0]]) * f0 / (f0 - f1);
                    // SE: the tangent's crossing of the mid-line.
                    let k = c.tangent.b - 0.5 * (b.b + a.b);
                    let var = c.tangent.var_at(t) + 0.25 * (b.var_at(t) + a.var_at(t));
                    (t, var.sqrt() / k.abs())
                })
            })
        }
        _ => None,
    };
    set_construction(&mut rows[1], mid, c.before.as_ref(), &c.tangent);
    for r in rows[..3].iter_mut() {
        unflip(r, sign);
    }
}

/// Construction lines back in the file's sign convention.
fn unflip(r: &mut Transition, sign: f64) {
    for v in [
        &mut r.baseline_intercept,
        &mut r.baseline_slope_per_k,
        &mut r.tangent_intercept,
        &mut r.tangent_slope_per_k,
    ] {
        if let Some(x) = v.as_mut() {
            *x *= sign;
        }
    }
}

fn finish(mut rows: Vec<Transition>, flags: &[&str]) -> Vec<Transition> {
    for r in &mut rows {
        let mut f: Vec<&str> = flags.to_vec();
        if !r.flags.is_empty() {
            f.push(&r.flags);
        }
        r.flags = f.join(",");
    }
    rows
}
