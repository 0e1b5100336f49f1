//! A DSC scan to its transitions (ASTM E1356 style tangent constructions on the heat flow).
//!
//! The scan is first split into heating, cooling and isothermal segments from its temperature
//! signal in recorded order ([`segments`]); each heating segment (without its start-up and
//! stop transients) is analysed on its own and gives its rows, numbered by `segment` (1, 2, ...).
//! A scan with no heating segment but one cooling run is analysed as recorded in reverse
//! (flag `cooling_scan`), as before segments existed.
//!
//! In a heating segment, read exo up:
//! - the crystallisation exotherm, if the segment reaches one: the strongest rising lobe of the
//!   smoothed slope that a falling lobe follows (a peak, not a step), and not the return of an
//!   endotherm (a valley before it: decomposition, melting; flag `endotherm_above_tg`); its
//!   onset is where the tangent at the leading inflection meets the baseline before it;
//! - the glass transition below it: the strongest endothermic lobe (the heat capacity rises);
//!   onset and end where the inflection tangent meets the baselines before and after, midpoint
//!   where the curve lies half-way between the two baselines.
//!
//! The sign convention (endotherm up or down) is the manifest's `endo:`, else `--exo`, else
//! detected: the glass transition is a step, not a peak, and the heat capacity rises across it
//! on heating, so of the two readings the one whose strongest endothermic lobe is most
//! significant *and* most step-like (the level does not come back after it) wins
//! ([`step_score`]). The choice is recorded per scan (`endo` column; flags `endo_detected`,
//! `endo_from_manifest`, `endo_from_option`, `endo_not_detected`). A lobe must stand 8 SDs of the
//! slope's scatter above its median, else the transition is `not_found`; a temperature outside
//! its segment's range is `outside_segment`.

use tables::{DscRaw, Transition};

use crate::curve::{self, Construction, Grid};
use crate::rows::{MIN_SIGNIFICANCE, row, set_construction};

/// Analysis settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DscOptions {
    /// Heat flow positive for exothermic events (`Some(true)`: endotherm down), or None to detect
    /// it per scan. A scan's `endo` (from the manifest) wins over this.
    pub exo_up: Option<bool>,
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
            exo_up: None,
            step_k: 0.5,
            smooth_k: 3.0,
            baseline_k: 20.0,
        }
    }
}

/// What the temperature does over a stretch of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    Heating,
    Cooling,
    Isothermal,
}

/// A run of samples `[from, to)` (indices in recorded order) of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub kind: SegmentKind,
    pub from: usize,
    pub to: usize,
}

/// Splits a temperature signal (recorded order, finite values) into heating, cooling and
/// isothermal segments. The rate at each sample is the change over +-5 samples; a ramp (heating
/// or cooling by its sign) starts where the rate passes 30 % of the scan's typical ramp rate (the
/// 90th percentile of |rate|) and ends where it falls below 15 % (hysteresis). Runs shorter than 10
/// samples join the run before them (the first run the one after it), and a heating or cooling
/// run that spans less than 2 K is isothermal.
pub fn segments(t_k: &[f64]) -> Vec<Segment> {
    let n = t_k.len();
    if n == 0 {
        return Vec::new();
    }
    let half = 5usize;
    let rate: Vec<f64> = (0..n)
        .map(|i| {
            let (a, b) = (i.saturating_sub(half), (i + half).min(n - 1));
            if b > a {
                (t_k[b] - t_k[a]) / (b - a) as f64
            } else {
                0.0
            }
        })
        .collect();
    let mut mags: Vec<f64> = rate
        .iter()
        .map(|r| r.abs())
        .filter(|r| r.is_finite())
        .collect();
    mags.sort_by(f64::total_cmp);
    let typical = mags.get(mags.len() * 9 / 10).copied().unwrap_or(0.0);
    // With hysteresis: a ramp starts above 30 % of the typical rate and ends below 15 %, so a
    // ramp near the threshold does not flicker between kinds.
    let mut current = SegmentKind::Isothermal;
    let mut class = |r: f64| {
        current = if typical.is_nan() || typical <= 0.0 {
            SegmentKind::Isothermal
        } else if r > 0.3 * typical {
            SegmentKind::Heating
        } else if r < -0.3 * typical {
            SegmentKind::Cooling
        } else if r.abs() < 0.15 * typical
            || (current == SegmentKind::Heating && r < 0.0)
            || (current == SegmentKind::Cooling && r > 0.0)
        {
            SegmentKind::Isothermal
        } else {
            current
        };
        current
    };
    let mut runs: Vec<Segment> = Vec::new();
    for (i, &r) in rate.iter().enumerate() {
        let k = class(r);
        match runs.last_mut() {
            Some(last) if last.kind == k => last.to = i + 1,
            _ => runs.push(Segment {
                kind: k,
                from: i,
                to: i + 1,
            }),
        }
    }
    let span = |s: &Segment| {
        let (lo, hi) = t_k[s.from..s.to]
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &t| {
                (lo.min(t), hi.max(t))
            });
        hi - lo
    };
    for s in &mut runs {
        if s.kind != SegmentKind::Isothermal && span(s) < 2.0 {
            s.kind = SegmentKind::Isothermal;
        }
    }
    // Short runs join a neighbour; then neighbours of one kind merge.
    let min_len = 10;
    let mut merged: Vec<Segment> = Vec::new();
    for s in runs {
        match merged.last_mut() {
            Some(last) if last.kind == s.kind || s.to - s.from < min_len => last.to = s.to,
            Some(last) if last.to - last.from < min_len => {
                last.to = s.to;
                last.kind = s.kind;
            }
            _ => merged.push(s),
        }
    }
    let mut out: Vec<Segment> = Vec::new();
    for s in merged {
        match out.last_mut() {
            Some(last) if last.kind == s.kind => last.to = s.to,
            _ => out.push(s),
        }
    }
    out
}

/// The part of a heating segment a transition may be measured on: without the start-up
/// transient (until the ramp reaches 90 % of its median rate, then 5 K more) and the stop
/// transient (from where the rate falls below 90 % again, and 2 K before it).
fn steady_part(t_k: &[f64], seg: &Segment) -> (usize, usize) {
    let (from, to) = (seg.from, seg.to);
    if to - from < 12 {
        return (from, to);
    }
    let step: Vec<f64> = (from..to - 1).map(|i| t_k[i + 1] - t_k[i]).collect();
    let mut sorted = step.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    if median.is_nan() || median <= 0.0 {
        return (from, to);
    }
    let ramp_from = from + step.iter().position(|d| *d >= 0.9 * median).unwrap_or(0);
    let ramp_to = from
        + step
            .iter()
            .rposition(|d| *d >= 0.9 * median)
            .map_or(step.len(), |i| i + 1);
    let a = (ramp_from..ramp_to)
        .find(|&i| t_k[i] >= t_k[ramp_from] + 5.0)
        .unwrap_or(ramp_from);
    let b = (a..=ramp_to)
        .rev()
        .find(|&i| t_k[i.min(to - 1)] <= t_k[ramp_to.min(to - 1)] - 2.0)
        .map_or(ramp_to, |i| i + 1);
    if b > a + 8 { (a, b) } else { (from, to) }
}

/// One reading of a heating segment's data: the grid, its smoothed value and slope, in the
/// exo-up view `sign * heat flow`.
struct View {
    g: Grid,
    val: Vec<f64>,
    slope: Vec<f64>,
}

impl View {
    fn new(pts: &[(f64, f64)], sign: f64, o: &DscOptions) -> Self {
        let flipped: Vec<(f64, f64)> = pts.iter().map(|&(t, y)| (t, sign * y)).collect();
        let g = curve::bin(&flipped, o.step_k);
        let (val, slope) = curve::smooth(&g, o.smooth_k);
        View { g, val, slope }
    }
    /// The running median's half-width for a lobe's scatter: 40 K of grid.
    fn detrend_half(&self) -> usize {
        let n = self.g.t.len();
        if n < 2 {
            return 1;
        }
        let step = (self.g.t[n - 1] - self.g.t[0]) / (n - 1) as f64;
        ((40.0 / step.max(1e-9)) as usize).clamp(4, n)
    }
    fn edge(&self, i: usize) -> bool {
        i < 3 || i + 3 >= self.g.t.len()
    }
}

/// The crystallisation search in a view: Some((rising lobe, its end index)) when an exotherm
/// peak is found, with a flag when a rising lobe was the return of an endotherm instead.
fn exotherm(v: &View) -> (Option<curve::Lobe>, Option<&'static str>) {
    let g = &v.g;
    let Some(l) = curve::lobe_detrended(&v.slope, 1.0, 0, g.t.len(), v.detrend_half())
        .filter(|l| l.significance >= MIN_SIGNIFICANCE && !v.edge(l.at))
    else {
        return (None, None);
    };
    let width = g.t[l.hi] - g.t[l.lo];
    let until =
        g.t.iter()
            .position(|&t| t > g.t[l.hi] + 4.0 * width)
            .unwrap_or(g.t.len());
    let falls = curve::lobe_detrended(&v.slope, -1.0, l.hi, until, v.detrend_half())
        .is_some_and(|f| f.significance >= MIN_SIGNIFICANCE && f.at > l.hi);
    if !falls {
        return (None, None);
    }
    // An endotherm's return: a valley before the rise, as deep as half the rise.
    let w = (l.hi - l.lo).max(2);
    let before = l.lo.saturating_sub(4 * w);
    let rise = v.val[l.hi] - v.val[l.lo];
    let valley = v.val[before..l.lo]
        .iter()
        .filter(|x| x.is_finite())
        .fold(f64::NEG_INFINITY, |a, &b| a.max(b))
        - v.val[l.lo];
    if rise.is_finite() && valley.is_finite() && valley > 0.5 * rise {
        return (None, Some("endotherm_above_tg"));
    }
    (Some(l), None)
}

/// The glass-transition lobe of a view (the strongest falling lobe below any crystallisation).
fn tg_lobe(v: &View, tg_to: usize) -> Option<curve::Lobe> {
    curve::lobe_detrended(&v.slope, -1.0, 0, tg_to, v.detrend_half())
        .filter(|l| l.significance >= MIN_SIGNIFICANCE && !v.edge(l.at))
}

/// How much a view's glass-transition lobe looks like a T_g: its significance times the share
/// of the level it drops that is still dropped two to four lobe widths later, against the
/// baseline before it extrapolated (1 for a step; between 0 and 1 for a step with an enthalpy
/// overshoot; 0 for a peak that comes back, such as an exotherm read upside down). 0 when there
/// is no significant lobe.
pub fn step_score(pts: &[(f64, f64)], sign: f64, o: &DscOptions) -> f64 {
    let v = View::new(pts, sign, o);
    let n = v.g.t.len();
    if n < 40 {
        return 0.0;
    }
    let tg_to = exotherm(&v).0.map_or(n, |l| l.lo);
    let Some(l) = tg_lobe(&v, tg_to) else {
        return 0.0;
    };
    let w = (l.hi - l.lo).max(2);
    let a = l.lo.saturating_sub(w / 2);
    let b = (l.hi + w / 2).min(n - 1);
    // The baseline before the lobe: a line through the smoothed values one width before `a`.
    let a0 = a.saturating_sub(w);
    let (t, val) = (&v.g.t, &v.val);
    let slope = if a > a0 && val[a0].is_finite() {
        (val[a] - val[a0]) / (t[a] - t[a0])
    } else {
        0.0
    };
    let base = |i: usize| val[a] + slope * (t[i] - t[a]);
    let drop = base(b) - val[b];
    if drop.is_nan() || drop <= 0.0 || !val[a].is_finite() {
        return 0.0;
    }
    let (c0, c1) = ((l.hi + 2 * w).min(n - 1), (l.hi + 4 * w).min(n - 1));
    let later: Vec<f64> = (c0..=c1)
        .filter(|&i| val[i].is_finite())
        .map(|i| base(i) - val[i])
        .collect();
    let Some(kept) = curve::median(&later) else {
        return 0.0;
    };
    l.significance * (kept / drop).clamp(0.0, 1.0)
}

/// The transitions of one scan: tg_onset, tg_midpoint, tg_end, crystallization_onset for each
/// heating segment (a row each, with a status where it could not be measured).
pub fn analyse(scan: &DscRaw, o: &DscOptions) -> Vec<Transition> {
    let hf: Vec<Option<f64>> = if scan.heat_flow_w_g.iter().any(Option::is_some) {
        scan.heat_flow_w_g.clone()
    } else {
        scan.heat_flow_w.clone()
    };
    // Finite samples in recorded order.
    let pts: Vec<(f64, f64)> = scan
        .temperature_k
        .iter()
        .zip(&hf)
        .filter_map(|(&t, y)| match y {
            Some(y) if t.is_finite() && y.is_finite() => Some((t, *y)),
            _ => None,
        })
        .collect();
    let temps: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let segs = segments(&temps);
    let mut heatings: Vec<Vec<(f64, f64)>> = segs
        .iter()
        .filter(|s| s.kind == SegmentKind::Heating)
        .map(|s| {
            let (a, b) = steady_part(&temps, s);
            pts[a..b].to_vec()
        })
        .collect();
    let mut scan_flags: Vec<&str> = Vec::new();
    if heatings.is_empty() {
        // No heating: one cooling run is read as a scan recorded in reverse (the old reading);
        // anything else is analysed whole and flagged by `prepare`.
        heatings.push(pts.clone());
    }
    // Each heating sorted by temperature once, with `prepare`'s flags.
    let heatings: Vec<Sorted> = heatings.iter().map(|h| sorted_points(h)).collect();
    if segs.len() > 1 {
        scan_flags.push("segmented");
    }
    // The sign: the manifest's, the option's, or detected from the heating segments.
    let (exo_up, how) = match (scan.endo.as_deref(), o.exo_up) {
        (Some("up"), _) => (false, "endo_from_manifest"),
        (Some(_), _) => (true, "endo_from_manifest"),
        (None, Some(e)) => (e, "endo_from_option"),
        (None, None) => {
            let score = |sign: f64| {
                heatings
                    .iter()
                    .map(|(sorted, _)| step_score(sorted, sign, o))
                    .sum::<f64>()
            };
            let (up, down) = (score(1.0), score(-1.0));
            if up == 0.0 && down == 0.0 {
                (true, "endo_not_detected")
            } else {
                (up >= down, "endo_detected")
            }
        }
    };
    scan_flags.push(how);
    let endo = if exo_up { "down" } else { "up" };
    let mut rows = Vec::new();
    for (k, (h, flags)) in heatings.into_iter().enumerate() {
        let mut seg_rows = analyse_heating(scan, &h, flags, exo_up, o);
        for r in &mut seg_rows {
            r.segment = Some(k as i64 + 1);
            r.endo = Some(endo.to_owned());
        }
        rows.extend(finish(seg_rows, &scan_flags));
    }
    rows
}

/// Points sorted by temperature and `prepare`'s flags.
type Sorted = (Vec<(f64, f64)>, Vec<&'static str>);

/// Finite points sorted by temperature, with `prepare`'s flags.
fn sorted_points(pts: &[(f64, f64)]) -> Sorted {
    let t: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let y: Vec<Option<f64>> = pts.iter().map(|p| Some(p.1)).collect();
    curve::prepare(&t, &y)
}

/// The four rows of one heating segment (points sorted by temperature, `prepare`'s flags), read
/// with the given sign.
fn analyse_heating(
    scan: &DscRaw,
    pts: &[(f64, f64)],
    mut flags: Vec<&'static str>,
    exo_up: bool,
    o: &DscOptions,
) -> Vec<Transition> {
    let sign = if exo_up { 1.0 } else { -1.0 };
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
    let v = View::new(pts, sign, o);
    let g = &v.g;
    let span = g.t.last().copied().unwrap_or(0.0) - g.t.first().copied().unwrap_or(0.0);
    if g.t.len() < 40 || span < 30.0 {
        for r in &mut rows {
            r.status = "scan_too_short".into();
        }
        return finish(rows, &flags);
    }
    // Crystallisation: a rising lobe followed, within four lobe widths, by a falling one.
    let mut tg_to = g.t.len();
    let (exo, note) = exotherm(&v);
    if let Some(f) = note {
        flags.push(f);
    }
    if let Some(l) = exo {
        tg_to = l.lo;
        let r = &mut rows[3];
        match curve::construct(g, &l, o.baseline_k, g.t[0], g.t[l.lo]) {
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
    if rows[3].status.is_empty() {
        rows[3].status = if note.is_some() {
            "not_found"
        } else {
            "not_reached"
        }
        .into();
    }
    // The glass transition: the endothermic (falling) lobe below any crystallisation.
    match tg_lobe(&v, tg_to).and_then(|l| {
        let hi_k = if tg_to < g.t.len() {
            g.t[tg_to]
        } else {
            g.t[g.t.len() - 1]
        };
        curve::construct(g, &l, o.baseline_k, g.t[0], hi_k)
    }) {
        Some(c) => glass_transition(&mut rows, g, &c, sign),
        None => {
            for r in &mut rows[..3] {
                r.status = "not_found".into();
            }
            flags.push("no_glass_transition");
        }
    }
    // A temperature outside the segment's range is an extrapolation, not a measurement.
    let (lo, hi) = (g.t[0], g.t[g.t.len() - 1]);
    for r in &mut rows {
        if r.status == tables::Status::Ok && r.temperature_k.is_some_and(|t| t < lo || t > hi) {
            r.status = "outside_segment".into();
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
