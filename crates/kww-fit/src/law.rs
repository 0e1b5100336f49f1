//! Per series (material, series label, strain, temperature): the two-stage aging law
//! tau = A t_a^mu (continuous segmented regression of ln tau on ln t_a with a fitted breakpoint,
//! errors propagated from the SEs of ln tau), the turning point of beta (the vertex of two
//! half-parabolas in ln t_a over the seven aging times around the highest beta, weighted by
//! 1/SE^2, with a profile interval), and the test of the paper's claim
//! that beta has an interior maximum: weighted isotonic regression (the best monotone trend)
//! against unimodal regression, the p-value from a parametric bootstrap under the monotone fit.
//! A quadratic term's significance is not used: a monotone but curved beta(ln t_a) makes it
//! "significant" without any maximum.

use std::collections::BTreeMap;

use rayon::prelude::*;

use fit::{Model, Options, least_squares};
use tables::{AgingLaw, KwwFit, SeriesKey};

/// The hinge y = a + mu1 (x - xb) for x <= xb, a + mu2 (x - xb) after; params [a, mu1, mu2, xb].
/// Within this of the breakpoint (in ln t_a), an aging time is at the knot: the point both
/// stages share, counted in the first.
const KNOT: f64 = 1e-9;

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
            // At the knot the hinge has two one-sided slopes in the breakpoint: their mean. The
            // least squares often end with the breakpoint on an aging time (the profile's
            // minimum at a kink); taking either side's slope made the mus' errors depend on
            // which side of that aging time the last step stopped, by up to 70 % for 1e-12.
            let (j1, j2, jb) = if d.abs() <= KNOT {
                (0.0, 0.0, -0.5 * (p[1] + p[2]))
            } else if d < 0.0 {
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
    /// The errors rest on the scatter about the law (unweighted, or weighted with a chi-square
    /// significant at 5 %): intervals use t on n - 4 degrees of freedom, else the normal 1.96.
    pub scaled_by_scatter: bool,
    /// The quantile of the 95 % intervals.
    pub quantile: f64,
}

/// Segmented regression of y = ln tau on x = ln t_a: a grid over breakpoints between the second
/// and the second-to-last distinct x, then all four parameters refined by least squares;
/// the breakpoint interval is a profile interval of ln t_b. Unweighted (see [`two_stage_weighted`]).
pub fn two_stage(x: &[f64], y: &[f64]) -> Option<TwoStage> {
    two_stage_weighted(x, y, None)
}

/// [`two_stage`] with the SE of each ln tau: the fit is weighted by 1/SE^2 and the errors are the
/// propagated ones, scaled up by the root of the reduced chi-square when the scatter about the
/// law exceeds the SEs (never down). Without weights the residual scatter alone sets them. The
/// late aging times, whose tau lies furthest beyond the test window, have the largest SEs; an
/// unweighted fit pools them with the precise early ones and understates the error of mu2.
pub fn two_stage_weighted(x: &[f64], y: &[f64], se: Option<&[f64]>) -> Option<TwoStage> {
    let w: Option<Vec<f64>> = se.map(|s| {
        s.iter()
            .map(|v| {
                if v.is_finite() && *v > 0.0 {
                    1.0 / v
                } else {
                    1.0
                }
            })
            .collect()
    });
    let mut xs: Vec<f64> = x.to_vec();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if x.len() < 5 || xs.len() < 4 {
        return None;
    }
    let (lo, hi) = (xs[1], xs[xs.len() - 2]);
    let model = Hinge { x };
    let wi = |i: usize| w.as_ref().map_or(1.0, |w| w[i]);
    // Linear least squares in (a, mu1, mu2) at a fixed breakpoint xb: (RSS, params). Some 400
    // solves a series: the buffers are kept across them.
    let yw: Vec<f64> = y.iter().enumerate().map(|(i, v)| v * wi(i)).collect();
    let scratch = std::cell::RefCell::new(LineScratch::default());
    let at = |xb: f64| -> (f64, Vec<f64>) {
        let mut guard = scratch.borrow_mut();
        let LineScratch {
            rows,
            rhs,
            diag,
            sol,
            fitted,
        } = &mut *guard;
        rows.clear();
        rows.extend(x.iter().enumerate().flat_map(|(i, &v)| {
            let d = v - xb;
            let r = if d <= 0.0 {
                [1.0, d, 0.0]
            } else {
                [1.0, 0.0, d]
            };
            r.map(|c| c * wi(i))
        }));
        rhs.clear();
        rhs.extend_from_slice(&yw);
        fit::linalg::lstsq_in_place(rows, x.len(), 3, rhs, diag, sol);
        let p = vec![sol[0], sol[1], sol[2], xb];
        fitted.clear();
        fitted.resize(x.len(), 0.0);
        model.eval(&p, fitted);
        let rss: f64 = fitted
            .iter()
            .zip(y)
            .enumerate()
            .map(|(i, (a, b))| ((a - b) * wi(i)).powi(2))
            .sum();
        (rss, p)
    };
    const GRID: usize = 400;
    let profile: Vec<(f64, f64)> = (0..=GRID)
        .map(|k| {
            let xb = lo + (hi - lo) * k as f64 / GRID as f64;
            (xb, at(xb).0)
        })
        .collect();
    let best = profile
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|q| at(q.0));
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
    let mut f = least_squares(&model, y, w.as_deref(), &p0, &opts).ok()?;
    let df = (x.len() - 4) as f64;
    // The fit's SEs are scaled by sqrt(chi2/df). With weights, keep that only when the scatter
    // is significantly larger than the SEs say; else use the propagated SEs as known.
    let scaled = w.is_none() || (df >= 1.0 && fit::stats::chi2_sf(f.rss, df) < 0.05);
    if !scaled && df >= 1.0 {
        let s = (f.rss / df).sqrt();
        for e in &mut f.se {
            *e /= s;
        }
    }
    let tq = if !scaled {
        1.959_963_984_540_054
    } else if df >= 1.0 {
        fit::stats::t_quantile(0.975, df)
    } else {
        f64::NAN
    };
    // The breakpoint's interval from the profile: the breakpoints whose RSS (the other three
    // parameters refitted) is within the quantile's square (times the reduced chi-square where
    // the scatter sets the errors) of the minimum. A Wald interval on ln t_b assumes a
    // likelihood quadratic in the breakpoint, which a hinge on a few aging times is not: on
    // simulated campaigns whose ln tau SEs were right it held the truth in 86.5 % of 400.
    let xb = f.params[3];
    let rss_min = at(xb).0.min(f.rss);
    let threshold = if scaled {
        (f.rss / df.max(1.0)) * tq * tq
    } else {
        tq * tq
    };
    let inside = profile
        .iter()
        .filter(|q| q.1 - rss_min <= threshold)
        .map(|q| q.0)
        .chain([xb]);
    let (ci_lo, ci_hi) = inside.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    Some(TwoStage {
        mu: [f.params[1], f.params[2]],
        mu_se: [f.se[1], f.se[2]],
        a: f.params[0],
        breakpoint_s: xb.exp(),
        breakpoint_ci_s: (ci_lo.exp(), ci_hi.exp()),
        scaled_by_scatter: scaled,
        quantile: tq,
    })
}

/// The turning point of beta: the vertex of two half-parabolas beta = b - c1 (x - xp)^2 before
/// xp, b - c2 (x - xp)^2 after (x = ln t_a; a smooth, possibly asymmetric maximum), fitted with
/// weights 1/SE^2 over the aging times around the highest beta.
#[derive(Debug, Clone, PartialEq)]
pub struct TurningPoint {
    pub aging_time_s: f64,
    /// The fitted beta at the vertex.
    pub beta_max: f64,
    /// 95 % profile interval of the vertex (clipped to the fitted window of aging times).
    pub ci_s: (f64, f64),
    /// The interval reached the first or last aging time of the window.
    pub ci_at_edge: bool,
    /// Curvatures c1, c2 before and after (per unit ln t_a squared).
    pub curvatures: (f64, f64),
    /// Weighted chi-square over its degrees of freedom (n - 4).
    pub chi2_reduced: f64,
}

/// The shape each side of the vertex: d = x - xp to the basis value, -d^2 (half-parabolas
/// meeting with zero slope). A bent line (basis d) was tried first: its kink is not what a
/// smooth beta(ln t_a) does, and on simulated campaigns with a smooth peak its vertex fell early
/// and its interval held the truth in 82 % of 200 campaigns (fitted over the whole series).
fn side(d: f64) -> f64 {
    -d * d
}

/// The buffers of the small least-squares problems a profile solves by the hundred.
#[derive(Default)]
struct LineScratch {
    rows: Vec<f64>,
    rhs: Vec<f64>,
    diag: [f64; 3],
    sol: [f64; 3],
    fitted: Vec<f64>,
}

/// Weighted linear least squares of the peak model at a fixed vertex: (params [b, s1, s2], RSS).
fn bent_line_at(
    scratch: &mut LineScratch,
    x: &[f64],
    y: &[f64],
    w: &[f64],
    xp: f64,
) -> ([f64; 3], f64) {
    let LineScratch {
        rows,
        rhs,
        diag,
        sol,
        ..
    } = scratch;
    rows.clear();
    rows.extend(x.iter().zip(w).flat_map(|(&v, &wi)| {
        let d = v - xp;
        let r = wi.sqrt();
        if d <= 0.0 {
            [r, r * side(d), 0.0]
        } else {
            [r, 0.0, r * side(d)]
        }
    }));
    rhs.clear();
    rhs.extend(y.iter().zip(w).map(|(v, wi)| v * wi.sqrt()));
    fit::linalg::lstsq_in_place(rows, x.len(), 3, rhs, diag, sol);
    let p = *sol;
    let rss = x
        .iter()
        .zip(y)
        .zip(w)
        .map(|((&v, &yi), &wi)| {
            let d = v - xp;
            let f = p[0]
                + if d <= 0.0 {
                    p[1] * side(d)
                } else {
                    p[2] * side(d)
                };
            wi * (yi - f).powi(2)
        })
        .sum();
    ([p[0], p[1], p[2]], rss)
}

/// Points (x = ln t_a, beta, weight 1/SE^2) of the fits of a series, sorted by x.
fn beta_points(fits: &[&KwwFit]) -> Vec<(f64, f64, f64)> {
    let mut pts: Vec<(f64, f64, f64)> = fits
        .iter()
        .filter_map(|f| {
            let b = f.beta?;
            let se = f
                .beta_se
                .filter(|s| s.is_finite() && *s > 0.0)
                .unwrap_or(0.01);
            Some((f.aging_time_s.ln(), b, 1.0 / (se * se)))
        })
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

/// The aging times the turning point is fitted on: the `PEAK_WINDOW_AGES` consecutive distinct
/// aging times centred (as far as the series allows) on the one with the highest weighted mean
/// beta. The window's size trades the half-parabolas' misfit of a real peak's flanks against the
/// power of the scatter test that widens the interval where the misfit shows. Measured on 400
/// simulated campaigns (a smooth peak between 1800 and 77400 s, 7 aging times, kww-fit's default
/// drift term): 5 aging times held the truth in 89.0 % (1 degree of freedom: the misfit is seldom
/// seen), 6 in 91.2 % (mean z +0.52), 7 in 98.2 % (mean z +0.42). (With the narrower errors of a
/// fit without the drift term, 5 held 94-97 % and the whole series misfit with chi2/df 50-130.)
pub const PEAK_WINDOW_AGES: usize = 7;

fn peak_window(pts: &[(f64, f64, f64)]) -> Vec<(f64, f64, f64)> {
    let mut ages: Vec<(f64, f64, f64)> = Vec::new(); // (x, sum w, sum w y)
    for &(x, y, w) in pts {
        match ages.last_mut() {
            Some(a) if a.0 == x => {
                a.1 += w;
                a.2 += w * y;
            }
            _ => ages.push((x, w, w * y)),
        }
    }
    let Some(top) = ages
        .iter()
        .enumerate()
        .max_by(|a, b| (a.1.2 / a.1.1).total_cmp(&(b.1.2 / b.1.1)))
        .map(|(i, _)| i)
    else {
        return Vec::new();
    };
    let n = PEAK_WINDOW_AGES.min(ages.len());
    let first = top.saturating_sub(n / 2).min(ages.len() - n);
    let (lo, hi) = (ages[first].0, ages[first + n - 1].0);
    pts.iter()
        .copied()
        .filter(|p| p.0 >= lo && p.0 <= hi)
        .collect()
}

/// The turning point with its profile interval, fitted on the aging times around the highest
/// beta (`peak_window`): the set of vertices whose weighted RSS is within s^2 F(1, n - 4) of the
/// minimum when the scatter about the model is significantly larger than the SEs (chi-square on
/// n - 4 degrees of freedom at 5 %; s^2 its reduced value), else within chi-square(1) = 3.84 (the
/// SEs taken as known). The interval is clipped to the window. Needs four distinct aging times
/// and five points in the window; None when the model does not rise and then fall.
pub fn turning_point(fits: &[&KwwFit]) -> Option<TurningPoint> {
    let pts = peak_window(&beta_points(fits));
    let (x, y, w): (Vec<f64>, Vec<f64>, Vec<f64>) = (
        pts.iter().map(|p| p.0).collect(),
        pts.iter().map(|p| p.1).collect(),
        pts.iter().map(|p| p.2).collect(),
    );
    let mut xs = x.clone();
    xs.dedup();
    if xs.len() < 4 || x.len() < 5 {
        return None;
    }
    let (lo, hi) = (xs[0], xs[xs.len() - 1]);
    const GRID: usize = 400;
    let mut scratch = LineScratch::default();
    let profile: Vec<(f64, [f64; 3], f64)> = (0..=GRID)
        .map(|k| {
            let xp = lo + (hi - lo) * k as f64 / GRID as f64;
            let (p, rss) = bent_line_at(&mut scratch, &x, &y, &w, xp);
            (xp, p, rss)
        })
        .collect();
    let best = profile
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.2.total_cmp(&b.1.2))
        .map(|(i, _)| i)?;
    // Refine the vertex between the grid neighbours (golden section on the profile).
    let (mut a, mut b) = (
        profile[best.saturating_sub(1)].0,
        profile[(best + 1).min(GRID)].0,
    );
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let (c, d) = (b - g * (b - a), a + g * (b - a));
        if bent_line_at(&mut scratch, &x, &y, &w, c).1 < bent_line_at(&mut scratch, &x, &y, &w, d).1
        {
            b = d;
        } else {
            a = c;
        }
    }
    let xp = 0.5 * (a + b);
    let (p, rss_min) = bent_line_at(&mut scratch, &x, &y, &w, xp);
    // Both curvatures positive: beta rises to the vertex and falls after it, each side seen at
    // two aging times at least. With one aging time on a side (the vertex just inside the first
    // or last) its half-parabola passes through that time's mean for any vertex: the curvature
    // is then as large as the distance is small, its sign set by rounding, not by the data.
    let before = xs.iter().filter(|v| **v < xp - KNOT).count();
    let after = xs.iter().filter(|v| **v > xp + KNOT).count();
    if !(p[1] > 0.0 && p[2] > 0.0 && before >= 2 && after >= 2) {
        return None;
    }
    let df = (x.len() - 4) as f64;
    let chi2_reduced = rss_min / df.max(1.0);
    let threshold = if df >= 1.0 && fit::stats::chi2_sf(rss_min, df) < 0.05 {
        chi2_reduced * fit::stats::t_quantile(0.975, df.max(1.0)).powi(2)
    } else {
        3.841_458_820_694_124
    };
    let inside: Vec<f64> = profile
        .iter()
        .filter(|q| q.2 - rss_min <= threshold)
        .map(|q| q.0)
        .chain([xp])
        .collect();
    let ci_lo = inside.iter().copied().fold(f64::INFINITY, f64::min);
    let ci_hi = inside.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(TurningPoint {
        aging_time_s: xp.exp(),
        beta_max: p[0],
        ci_s: (ci_lo.exp(), ci_hi.exp()),
        ci_at_edge: ci_lo <= lo || ci_hi >= hi,
        curvatures: (p[1], p[2]),
        chi2_reduced,
    })
}

/// One block of pool-adjacent-violators: weighted mean, weight, sum w y^2, points pooled.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    mean: f64,
    weight: f64,
    sum_wy2: f64,
    count: usize,
}

impl Block {
    /// Its weighted RSS about its mean: sum w y^2 - W m^2.
    fn rss(&self) -> f64 {
        (self.sum_wy2 - self.weight * self.mean * self.mean).max(0.0)
    }
}

/// Weighted isotonic (non-decreasing) regression by pool-adjacent-violators, one point at a time:
/// after m points its blocks are the isotonic fit of those m points, so the fits of every prefix
/// come from one pass (linear time, each point pooled at most once).
#[derive(Default)]
struct Pava {
    blocks: Vec<Block>,
    /// The RSS of the blocks up to each one, summed left to right.
    cum_rss: Vec<f64>,
}

impl Pava {
    fn push(&mut self, y: f64, w: f64) {
        // The new point's block, merged with the last block while that one's mean is larger (the
        // same sums in the same order as merging the new block into the last in place).
        let mut b = Block {
            mean: y,
            weight: w,
            sum_wy2: w * y * y,
            count: 1,
        };
        while let Some(last) = self.blocks.last()
            && last.mean > b.mean
        {
            let wt = last.weight + b.weight;
            b = Block {
                mean: (last.mean * last.weight + b.mean * b.weight) / wt,
                weight: wt,
                sum_wy2: last.sum_wy2 + b.sum_wy2,
                count: last.count + b.count,
            };
            self.blocks.pop();
        }
        let before = self.cum_rss.get(self.blocks.len().wrapping_sub(1)).copied();
        self.cum_rss.truncate(self.blocks.len());
        self.blocks.push(b);
        self.cum_rss.push(before.unwrap_or(0.0) + b.rss());
    }

    /// The weighted RSS of the isotonic fit of the points pushed so far.
    fn rss(&self) -> f64 {
        self.cum_rss.last().copied().unwrap_or(0.0)
    }
}

/// The isotonic RSS of every prefix of the points: out[m] for the first m, m = 0..=n.
fn prefix_isotonic_rss<'a>(
    pava: &mut Pava,
    out: &mut Vec<f64>,
    points: impl Iterator<Item = (&'a f64, &'a f64)>,
) {
    pava.blocks.clear();
    pava.cum_rss.clear();
    out.clear();
    out.push(0.0);
    for (&y, &w) in points {
        pava.push(y, w);
        out.push(pava.rss());
    }
}

/// The buffers of [`unimodality`], kept across bootstrap replicates (no allocation per replicate).
#[derive(Default)]
struct Scratch {
    pava: Pava,
    rising: Vec<f64>,
    falling: Vec<f64>,
}

/// The isotonic fit's values (non-decreasing), for the bootstrap's null model.
fn isotonic_fit(y: &[f64], w: &[f64]) -> Vec<f64> {
    let mut pava = Pava::default();
    for (&yi, &wi) in y.iter().zip(w) {
        pava.push(yi, wi);
    }
    pava.blocks
        .iter()
        .flat_map(|b| std::iter::repeat_n(b.mean, b.count))
        .collect()
}

/// What the test needs of one data set (points sorted by x, ties pooled).
struct Unimodality {
    /// RSS(best monotone) - RSS(best unimodal), the statistic.
    statistic: f64,
    rss_increasing: f64,
    rss_decreasing: f64,
    rss_unimodal: f64,
}

fn unimodality(y: &[f64], w: &[f64]) -> Unimodality {
    unimodality_in(&mut Scratch::default(), y, w)
}

fn unimodality_in(scratch: &mut Scratch, y: &[f64], w: &[f64]) -> Unimodality {
    // Best rise-then-fall with the peak's block ending at m: the non-decreasing fit of y[..m]
    // plus the non-increasing fit of y[m..], which is the non-decreasing fit of y[m..] read
    // backwards. Both for every m from two passes: linear in n, not quadratic.
    let n = y.len();
    let Scratch {
        pava,
        rising,
        falling,
    } = scratch;
    prefix_isotonic_rss(pava, rising, y.iter().zip(w));
    prefix_isotonic_rss(pava, falling, y.iter().rev().zip(w.iter().rev()));
    let (rss_increasing, rss_decreasing) = (rising[n], falling[n]);
    let rss_unimodal = (1..n)
        .map(|m| rising[m] + falling[n - m])
        .fold(f64::INFINITY, f64::min);
    Unimodality {
        statistic: (rss_increasing.min(rss_decreasing) - rss_unimodal).max(0.0),
        rss_increasing,
        rss_decreasing,
        rss_unimodal,
    }
}

/// p-value of an interior maximum of beta(t_a) against a monotone trend. Per aging time the betas
/// are pooled (weighted mean, weights 1/SE^2 summed); T = RSS(best monotone) - RSS(best
/// unimodal); under the null the data are the best monotone fit plus N(0, s^2 SE^2) noise, s^2 =
/// max(1, RSS(unimodal) / (k - 3)) for k aging times (so replicate scatter beyond the SEs widens
/// the null); p = (1 + #{T* >= T}) / (1 + B). None for fewer than four aging times.
pub fn non_monotonicity_p_value(fits: &[&KwwFit], replicates: usize, seed: u64) -> Option<f64> {
    let pts = beta_points(fits);
    let mut x: Vec<f64> = Vec::new();
    let (mut y, mut w): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for (xi, yi, wi) in pts {
        if x.last() == Some(&xi) {
            let k = y.len() - 1;
            y[k] = (y[k] * w[k] + yi * wi) / (w[k] + wi);
            w[k] += wi;
        } else {
            x.push(xi);
            y.push(yi);
            w.push(wi);
        }
    }
    let n = y.len();
    if n < 4 {
        return None;
    }
    let obs = unimodality(&y, &w);
    let null: Vec<f64> = if obs.rss_increasing <= obs.rss_decreasing {
        isotonic_fit(&y, &w)
    } else {
        let neg: Vec<f64> = y.iter().map(|v| -v).collect();
        isotonic_fit(&neg, &w).iter().map(|v| -v).collect()
    };
    let s = (obs.rss_unimodal / (n - 3) as f64).max(1.0).sqrt();
    let scale: Vec<f64> = w.iter().map(|wi| s / wi.sqrt()).collect();
    let mut rng = rng::Rng::new(seed, 0x7475_726e);
    let mut exceed = 0usize;
    let mut yb = vec![0.0; n];
    let mut z = vec![0.0; n];
    let mut scratch = Scratch::default();
    for _ in 0..replicates {
        rng.normals(&mut z);
        for i in 0..n {
            yb[i] = null[i] + scale[i] * z[i];
        }
        if unimodality_in(&mut scratch, &yb, &w).statistic >= obs.statistic {
            exceed += 1;
        }
    }
    Some((1 + exceed) as f64 / (1 + replicates) as f64)
}

/// Every series' aging law rows (from fits with status `ok`, t_a > 0).
pub fn aging_law(fits: &[KwwFit], seed: u64) -> Vec<AgingLaw> {
    let mut groups: BTreeMap<SeriesKey, Vec<&KwwFit>> = BTreeMap::new();
    for f in fits.iter().filter(|f| {
        f.status == tables::Status::Ok && f.aging_time_s > 0.0 && f.tau_s.is_some_and(|t| t > 0.0)
    }) {
        groups
            .entry(SeriesKey::new(
                &f.material,
                &f.series,
                f.strain,
                f.temperature_k,
            ))
            .or_default()
            .push(f);
    }
    // Series are independent and each one's bootstrap has its own seeded stream: in parallel,
    // rows in key order whatever the thread count.
    let groups: Vec<(SeriesKey, Vec<&KwwFit>)> = groups.into_iter().collect();
    let per_series: Vec<Vec<AgingLaw>> = groups
        .into_par_iter()
        .map(|(key, g)| series_law(&key, &g, seed))
        .collect();
    per_series.into_iter().flatten().collect()
}

/// One series' aging law rows: the two segments (or one, or a row saying why none).
fn series_law(key: &SeriesKey, g: &[&KwwFit], seed: u64) -> Vec<AgingLaw> {
    let mut out = Vec::new();
    {
        let x: Vec<f64> = g.iter().map(|f| f.aging_time_s.ln()).collect();
        let y: Vec<f64> = g.iter().filter_map(|f| f.tau_s.map(f64::ln)).collect();
        let tp = turning_point(g);
        // Each series its own stream (seeded by its key): their p-values' Monte Carlo errors are
        // then independent, not one stream's luck shared by every series of a campaign.
        let stream = rng::stream_of(&format!(
            "{}\0{}\0{:x}\0{:x}",
            key.material,
            key.series.as_deref().unwrap_or(""),
            key.strain().map_or(0, f64::to_bits),
            key.temperature_k().to_bits()
        ));
        let p_value = non_monotonicity_p_value(g, 999, seed ^ stream);
        let mut law_flags: Vec<&str> = Vec::new();
        if tp.as_ref().is_some_and(|t| t.ci_at_edge) {
            law_flags.push("turning_point_ci_at_edge");
        }
        if tp.is_none() && p_value.is_some() {
            law_flags.push("no_rise_then_fall");
        }
        let base = AgingLaw {
            material: key.material.clone(),
            series: key.series.clone(),
            strain: key.strain(),
            temperature_k: key.temperature_k(),
            beta_turning_point_s: tp.as_ref().map(|t| t.aging_time_s),
            beta_max: tp.as_ref().map(|t| t.beta_max),
            beta_turning_point_ci_low_s: tp.as_ref().map(|t| t.ci_s.0),
            beta_turning_point_ci_high_s: tp.as_ref().map(|t| t.ci_s.1),
            beta_turning_point_p_value: p_value,
            flags: law_flags.join(","),
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
        let se_ln_tau: Vec<f64> = g
            .iter()
            .map(|f| match (f.tau_se_s, f.tau_s) {
                (Some(s), Some(t)) if t > 0.0 => s / t,
                _ => f64::NAN,
            })
            .collect();
        match two_stage_weighted(&x, &y, Some(&se_ln_tau)) {
            Some(s) => {
                for seg in 0..2 {
                    let sel = |t: f64| {
                        let first = t.ln() <= s.breakpoint_s.ln() + KNOT;
                        if seg == 0 { first } else { !first }
                    };
                    let (lo, hi, n) = range(&sel);
                    let mut flags: Vec<&str> =
                        base.flags.split(',').filter(|f| !f.is_empty()).collect();
                    if s.scaled_by_scatter {
                        flags.push("errors_scaled_by_scatter");
                    }
                    flags.sort_unstable();
                    out.push(AgingLaw {
                        segment: seg as i64 + 1,
                        flags: flags.join(","),
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
                        status: tables::Status::Ok.into(),
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
                    flags: {
                        let mut f: Vec<&str> =
                            base.flags.split(',').filter(|f| !f.is_empty()).collect();
                        f.push("too_few_aging_times_for_two_stages");
                        f.sort_unstable();
                        f.join(",")
                    },
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two series of the kww bench (ten aging times doubling from 600 s, one curve each): ln t_a;
    /// ln tau and its SE of one (s0008), beta and its SE of the other (s0088).
    type Series = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);
    fn bench_series() -> Series {
        let tau = [
            1430.1, 2018.46, 3204.83, 3395.33, 3990.3, 4341.38, 8174.48, 4133.3, 8745.95, 14354.5,
        ];
        let tau_se = [
            2.591, 4.013, 8.494, 9.741, 12.67, 14.83, 51.12, 13.11, 57.15, 161.3,
        ];
        let beta = [
            0.372293, 0.411851, 0.461465, 0.478953, 0.500052, 0.535621, 0.554871, 0.55268,
            0.583216, 0.578844,
        ];
        let beta_se = [
            0.0007472, 0.0007012, 0.0008845, 0.0008872, 0.001028, 0.0008114, 0.001148, 0.001618,
            0.001196, 0.001972,
        ];
        (
            (0..10).map(|a| (600.0 * 2f64.powi(a)).ln()).collect(),
            tau.iter().map(|t: &f64| t.ln()).collect(),
            tau_se.iter().zip(&tau).map(|(s, t)| s / t).collect(),
            beta.to_vec(),
            beta_se.to_vec(),
        )
    }

    /// The least squares end with the breakpoint on an aging time (2400 s here); which side of
    /// it the last step stopped, a matter of the last bits of the data, must not change the
    /// mus' errors (with one side's slope it moved mu1's by 70 %).
    #[test]
    fn the_mus_errors_do_not_depend_on_the_side_of_a_knot() {
        let (x, y, se, _, _) = bench_series();
        let base = two_stage_weighted(&x, &y, Some(&se)).unwrap();
        assert!(
            (base.breakpoint_s / 2400.0 - 1.0).abs() < 1e-6,
            "{}",
            base.breakpoint_s
        );
        for k in 1..=8 {
            let y2: Vec<f64> = y
                .iter()
                .enumerate()
                .map(|(i, v)| v * (1.0 + 1e-13 * ((i * k) % 7) as f64 - 3e-13))
                .collect();
            let s = two_stage_weighted(&x, &y2, Some(&se)).unwrap();
            for j in 0..2 {
                let rel = (s.mu_se[j] / base.mu_se[j] - 1.0).abs();
                assert!(
                    rel < 1e-5,
                    "{k}: mu{} SE {} against {}",
                    j + 1,
                    s.mu_se[j],
                    base.mu_se[j]
                );
            }
        }
    }

    /// A vertex just before the last aging time has one aging time after it: no turning point,
    /// whatever the last bits (it came and went with them).
    #[test]
    fn a_fall_seen_at_one_aging_time_is_no_turning_point() {
        let (x, _, _, beta, beta_se) = bench_series();
        for k in 0..8 {
            let fits: Vec<KwwFit> = (0..10)
                .map(|i| KwwFit {
                    aging_time_s: x[i].exp(),
                    beta: Some(beta[i] * (1.0 + 1e-14 * ((i * k) % 5) as f64)),
                    beta_se: Some(beta_se[i]),
                    status: tables::Status::Ok.into(),
                    ..Default::default()
                })
                .collect();
            let refs: Vec<&KwwFit> = fits.iter().collect();
            assert!(turning_point(&refs).is_none(), "{k}");
        }
    }

    /// The definition, quadratic: every split point's prefix and suffix fitted from scratch.
    fn unimodal_rss_by_definition(y: &[f64], w: &[f64]) -> (f64, f64, f64) {
        let whole = |y: &[f64], w: &[f64]| {
            let mut p = Pava::default();
            for (&a, &b) in y.iter().zip(w) {
                p.push(a, b);
            }
            p.rss()
        };
        let neg: Vec<f64> = y.iter().map(|v| -v).collect();
        let best = (1..y.len())
            .map(|m| whole(&y[..m], &w[..m]) + whole(&neg[m..], &w[m..]))
            .fold(f64::INFINITY, f64::min);
        (whole(y, w), whole(&neg, w), best)
    }

    #[test]
    fn the_linear_unimodal_regression_equals_the_definition() {
        let mut rng = rng::Rng::new(3, 1);
        for n in [4usize, 5, 9, 30, 200] {
            for _ in 0..50 {
                let y: Vec<f64> = (0..n)
                    .map(|i| {
                        let x = i as f64 / n as f64;
                        0.5 + 0.2 * x - 0.3 * (x - 0.6).powi(2) + 0.05 * rng.normal()
                    })
                    .collect();
                let w: Vec<f64> = (0..n).map(|_| rng.range(0.5, 4.0)).collect();
                let got = unimodality(&y, &w);
                let (inc, dec, uni) = unimodal_rss_by_definition(&y, &w);
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + b.abs());
                assert_eq!(
                    got.rss_increasing, inc,
                    "the prefix pass is the same arithmetic"
                );
                assert!(
                    close(got.rss_decreasing, dec),
                    "{} vs {dec}",
                    got.rss_decreasing
                );
                assert!(
                    close(got.rss_unimodal, uni),
                    "{} vs {uni}",
                    got.rss_unimodal
                );
            }
        }
    }

    #[test]
    fn a_prefix_pass_gives_each_prefixs_isotonic_rss() {
        let y = [3.0, 1.0, 2.0, 5.0, 4.0, 4.5, 0.0];
        let w = [1.0, 2.0, 1.0, 1.0, 3.0, 1.0, 1.0];
        let mut all = Vec::new();
        prefix_isotonic_rss(&mut Pava::default(), &mut all, y.iter().zip(&w));
        // y[..2] = (3, 1) with weights (1, 2): pooled mean 5/3, RSS 1 (16/9) + 2 (4/9) = 8/3.
        assert!((all[2] - 8.0 / 3.0).abs() < 1e-12);
        assert_eq!(all[0], 0.0);
        assert_eq!(all[1], 0.0);
        assert_eq!(all.len(), y.len() + 1);
    }
}
