//! A DMA temperature sweep to its transitions, at each frequency:
//!
//! - `alpha_peak_loss`, `alpha_peak_tan_delta`: the maximum of a cubic fitted to the bin means
//!   within 90 % of the smoothed maximum (`not_reached` when the maximum is the scan's end);
//! - `tg_storage_onset`: the tangent construction on E' (glassy baseline, inflection of the drop);
//! - `beta_peak`: E''/E''_max below the alpha peak fitted by an alpha flank, a Gaussian beta
//!   hump and a linear background, by least squares, with three flanks tried (the exponential one
//!   of `physics::thermal::alpha_loss`, exp of a cubic in T, exp of a cubic in ln of the distance
//!   from the peak) and the one that fits the scan below the peak best kept; the beta
//!   relaxation's temperature is the hump's centre and its intensity the hump's area, in K
//!   (E''/E''_max times kelvin), with SEs from the fit's covariance. A hump below twice its SE
//!   or held by a bound is `not_resolved` with no numbers. The fitted curve without the hump is
//!   `alpha_flank_norm`.

use fit::{Bound, Model, Options, least_squares};
use physics::thermal::{alpha_loss, alpha_loss_peak_k, gaussian};
use tables::{DmaSweep, DmaSweepRaw, Transition};

use crate::curve::{self, Grid};
use crate::rows::{MIN_SIGNIFICANCE, row, set_construction};

/// Analysis settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DmaOptions {
    pub step_k: f64,
    pub smooth_k: f64,
    pub baseline_k: f64,
}

impl Default for DmaOptions {
    fn default() -> Self {
        DmaOptions {
            step_k: 1.0,
            smooth_k: 3.0,
            baseline_k: 30.0,
        }
    }
}

/// The frequencies of a sweep, in order (values within 1e-6 relative are one).
pub fn frequencies(scan: &DmaSweepRaw) -> Vec<f64> {
    let mut f: Vec<f64> = scan
        .frequency_hz
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    f.sort_by(f64::total_cmp);
    f.dedup_by(|a, b| (*a - *b).abs() <= 1e-6 * b.abs());
    f
}

/// The maximum of a cubic through the bin means within `frac` of the smoothed maximum (a cubic,
/// not a parabola: an asymmetric peak pulls a parabola's vertex towards its broader flank): (T,
/// SE by the delta method on the cubic's covariance).
fn peak(g: &Grid, frac: f64, smooth_k: f64) -> Result<(f64, f64), &'static str> {
    let (sm, _) = curve::smooth(g, smooth_k);
    let (k, &m) = sm
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .max_by(|a, b| a.1.total_cmp(b.1))
        .ok_or("not_found")?;
    if k + 2 >= g.t.len() || k < 2 {
        return Err("not_reached");
    }
    let (mut lo, mut hi) = (k, k);
    while lo > 0 && sm[lo - 1] > frac * m {
        lo -= 1;
    }
    while hi + 1 < g.t.len() && sm[hi + 1] > frac * m {
        hi += 1;
    }
    while hi - lo < 7 && (lo > 0 || hi + 1 < g.t.len()) {
        lo = lo.saturating_sub(1);
        hi = (hi + 1).min(g.t.len() - 1);
    }
    // y = p0 + p1 u + p2 u^2 + p3 u^3, u = (T - T_k) / h.
    let (x0, h) = (g.t[k], (g.t[hi] - g.t[lo]).max(1e-9) / 2.0);
    let rows: Vec<f64> = (lo..=hi)
        .flat_map(|i| {
            let u = (g.t[i] - x0) / h;
            let w = g.n[i].sqrt();
            [w, w * u, w * u * u, w * u * u * u]
        })
        .collect();
    let yw: Vec<f64> = (lo..=hi).map(|i| g.y[i] * g.n[i].sqrt()).collect();
    let n = hi - lo + 1;
    if n < 6 {
        return Err("not_found");
    }
    let p = fit::linalg::lstsq(&rows, n, 4, &yw);
    // Stationary points: p1 + 2 p2 u + 3 p3 u^2 = 0; the maximum has 2 p2 + 6 p3 u < 0.
    let (a, b, c) = (3.0 * p[3], 2.0 * p[2], p[1]);
    let roots: Vec<f64> = if a.abs() < 1e-12 * b.abs().max(1e-300) {
        vec![-c / b]
    } else {
        let disc = b * b - 4.0 * a * c;
        if disc < 0.0 {
            return Err("not_found");
        }
        let q = -0.5 * (b + b.signum() * disc.sqrt());
        vec![q / a, c / q]
    };
    let Some(u) = roots
        .into_iter()
        .filter(|u| u.is_finite() && 2.0 * p[2] + 6.0 * p[3] * u < 0.0)
        .min_by(|x, y| x.abs().total_cmp(&y.abs()))
    else {
        return Err("not_found");
    };
    if x0 + u * h < g.t[lo] || x0 + u * h > g.t[hi] {
        return Err("not_found");
    }
    let rss: f64 = rows
        .chunks(4)
        .zip(&yw)
        .map(|(r, y)| (y - r.iter().zip(&p).map(|(a, b)| a * b).sum::<f64>()).powi(2))
        .sum();
    let s2 = rss / (n - 4) as f64;
    let mut ata = vec![0.0; 16];
    for r in rows.chunks(4) {
        for i in 0..4 {
            for j in 0..4 {
                ata[i * 4 + j] += r[i] * r[j];
            }
        }
    }
    // du/dp = -(dg/dp) / (dg/du), g = p1 + 2 p2 u + 3 p3 u^2.
    let dgdu = 2.0 * p[2] + 6.0 * p[3] * u;
    let grad = [0.0, -1.0 / dgdu, -2.0 * u / dgdu, -3.0 * u * u / dgdu];
    let se = curve::invert(&ata, 4)
        .map(|inv| {
            let mut v = 0.0;
            for i in 0..4 {
                for j in 0..4 {
                    v += grad[i] * grad[j] * inv[i * 4 + j] * s2;
                }
            }
            h * v.max(0.0).sqrt()
        })
        .unwrap_or(f64::NAN);
    Ok((x0 + u * h, se))
}

/// The alpha peak's flank under the beta hump.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Flank {
    /// A alpha(T; T_a, theta1, theta2) (`physics::thermal::alpha_loss`: an exponential
    /// low-temperature flank), params [A, T_a, theta1, theta2].
    Alpha,
    /// exp(k0 + k1 u + k2 u^2 + k3 u^3), u = (T - `t_peak`) / `scale`: any flank whose logarithm
    /// is smooth (a Gaussian's exactly; a Havriliak-Negami loss in T, a Lorentzian side closely).
    /// A cubic has one local maximum besides its minimum, the alpha peak's, so it cannot grow a
    /// hump of its own. Params [k0, k1, k2, k3].
    LogCubic { t_peak: f64, scale: f64 },
    /// The same cubic in v = ln(1 + (`t_peak` - T) / `scale`) (T below the peak; 0 above): a
    /// flank falling as a power of the distance from the peak (a Lorentzian side) is a straight
    /// line in v.
    LogCubicLn { t_peak: f64, scale: f64 },
}

/// Where above the alpha peak (a fraction of its maximum) a log-cubic flank's fit ends.
const FLANK_TOP: f64 = 0.8;

/// The coordinate a log-cubic flank is a cubic in.
fn flank_coordinate(flank: Flank, t: f64, t_peak: f64, scale: f64) -> f64 {
    match flank {
        Flank::LogCubicLn { .. } => (1.0 + (t_peak - t).max(0.0) / scale).ln(),
        _ => (t - t_peak) / scale,
    }
}

/// E''/E''_max = flank(T) + B gauss(T; T_b, s) + c0 + c1 (T - t_ref); params [flank's four, B,
/// T_b, s, c0, c1].
struct LossModel<'a> {
    t: &'a [f64],
    t_ref: f64,
    flank: Flank,
}

const NP: usize = 9;

impl LossModel<'_> {
    fn value(&self, p: &[f64], t: f64, with_beta: bool) -> f64 {
        let beta = if with_beta {
            gaussian(t, p[5], p[6], p[4])
        } else {
            0.0
        };
        let flank = match self.flank {
            Flank::Alpha => alpha_loss(t, p[0], p[1], p[2], p[3]),
            Flank::LogCubic { t_peak, scale } | Flank::LogCubicLn { t_peak, scale } => {
                let u = flank_coordinate(self.flank, t, t_peak, scale);
                (p[0] + u * (p[1] + u * (p[2] + u * p[3])))
                    .clamp(-700.0, 700.0)
                    .exp()
            }
        };
        flank + beta + p[7] + p[8] * (t - self.t_ref)
    }
}

impl Model for LossModel<'_> {
    fn n_params(&self) -> usize {
        NP
    }
    fn n_obs(&self) -> usize {
        self.t.len()
    }
    fn eval(&self, p: &[f64], out: &mut [f64]) {
        for (o, &t) in out.iter_mut().zip(self.t) {
            *o = self.value(p, t, true);
        }
    }
}

/// The fitted beta relaxation: centre, its SE, intensity (K), its SE, the parameters and the
/// flank they belong to.
struct BetaFit {
    centre: (f64, f64),
    intensity: (f64, f64),
    params: Vec<f64>,
    t_ref: f64,
    flank: Flank,
    flags: Vec<&'static str>,
    /// Weighted RSS per point at and below the alpha peak (where the hump is): how the flanks
    /// are compared.
    rss_below: f64,
}

/// Fits the loss model to the normalised E'' with both flanks and keeps the one that describes
/// the scan below the alpha peak better (same number of parameters): the simulator's
/// exponential flank where the scan has one, a log-cubic where its flank is Gaussian, a
/// Havriliak-Negami loss or any other smooth shape. A hump that cannot be resolved (its area
/// below twice its SE, or its height, centre or width held by a bound) is flagged
/// `beta_not_resolved`, which takes `ok` away (tables::status).
fn fit_beta(g: &Grid, t_peak: f64) -> Result<BetaFit, &'static str> {
    let alpha = fit_beta_with(g, t_peak, Flank::Alpha);
    let kmax = g.t.iter().position(|&t| t >= t_peak).ok_or("not_found")?;
    let t_ref = g.t.first().copied().unwrap_or(t_peak);
    let cubic = fit_beta_with(
        g,
        t_peak,
        Flank::LogCubic {
            t_peak: g.t[kmax],
            scale: ((t_peak - t_ref) / 2.0).max(1.0),
        },
    );
    let half_lo = (0..kmax).rev().find(|&i| g.y[i] < 0.5);
    let power = fit_beta_with(
        g,
        t_peak,
        Flank::LogCubicLn {
            t_peak: g.t[kmax],
            scale: half_lo.map_or(10.0, |i| (g.t[kmax] - g.t[i]).max(1.0)),
        },
    );
    let first_err = [&alpha, &cubic, &power]
        .into_iter()
        .find_map(|r| r.as_ref().err().copied())
        .unwrap_or("fit_failed");
    [alpha, cubic, power]
        .into_iter()
        .flatten()
        .min_by(|a, b| a.rss_below.total_cmp(&b.rss_below))
        .ok_or(first_err)
}

/// [`fit_beta`] with one flank: the alpha flank's model on the data up to where E'' falls to
/// half its maximum above the peak (the log-cubic to 0.8 of it: a cubic describes the top, not
/// the whole high side).
fn fit_beta_with(g: &Grid, t_peak: f64, flank: Flank) -> Result<BetaFit, &'static str> {
    let kmax = g.t.iter().position(|&t| t >= t_peak).ok_or("not_found")?;
    let half_hi = (kmax..g.t.len())
        .find(|&i| g.y[i] < 0.5)
        .unwrap_or(g.t.len() - 1);
    let half_lo = (0..kmax)
        .rev()
        .find(|&i| g.y[i] < 0.5)
        .ok_or("alpha_flank_not_in_scan")?;
    let last = match flank {
        Flank::Alpha => half_hi,
        // A cubic describes the peak's top, not its whole high side.
        Flank::LogCubic { .. } | Flank::LogCubicLn { .. } => (kmax..g.t.len())
            .find(|&i| g.y[i] < FLANK_TOP)
            .unwrap_or(g.t.len() - 1),
    };
    let idx: Vec<usize> = (0..=last).collect();
    if idx.len() < 3 * NP {
        return Err("scan_too_short");
    }
    let t: Vec<f64> = idx.iter().map(|&i| g.t[i]).collect();
    let y: Vec<f64> = idx.iter().map(|&i| g.y[i]).collect();
    let w: Vec<f64> = idx.iter().map(|&i| g.n[i].sqrt()).collect();
    let t_ref = t[0];
    let theta1 = ((t_peak - g.t[half_lo]) / 2f64.ln()).max(1.0);
    let theta2 = ((g.t[half_hi] - t_peak) / 2f64.ln()).max(1.0);
    let model = LossModel {
        t: &t,
        t_ref,
        flank,
    };
    let c0 = y[..y.len().min(5)]
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .max(0.0)
        * 0.5;
    // Start: the alpha peak alone (height 1 at t_peak), then the beta hump where the data lie
    // furthest above it, below the half-maximum point.
    let head: [f64; 4] = match flank {
        Flank::Alpha => {
            let centre = t_peak - alpha_loss_peak_k(0.0, theta1, theta2);
            let a0 = 1.0 / alpha_loss(t_peak, 1.0, centre, theta1, theta2);
            [a0, centre, theta1, theta2]
        }
        Flank::LogCubic { t_peak: tp, scale } | Flank::LogCubicLn { t_peak: tp, scale } => {
            // ln(E'' - c0) against u, weighted by E'' (the peak's top counts, the noise floor
            // does not).
            let pts: Vec<(f64, f64, f64)> = t
                .iter()
                .zip(&y)
                .filter(|(_, v)| **v - c0 > 1e-3)
                .map(|(&x, &v)| (flank_coordinate(flank, x, tp, scale), (v - c0).ln(), v))
                .collect();
            if pts.len() < 8 {
                return Err("alpha_flank_not_in_scan");
            }
            let rows: Vec<f64> = pts
                .iter()
                .flat_map(|&(u, _, v)| [v, v * u, v * u * u, v * u * u * u])
                .collect();
            let yw: Vec<f64> = pts.iter().map(|&(_, l, v)| v * l).collect();
            let k = fit::linalg::lstsq(&rows, pts.len(), 4, &yw);
            [k[0], k[1], k[2], k[3]]
        }
    };
    let mut p0 = vec![
        head[0], head[1], head[2], head[3], 0.0, t_ref, 10.0, c0, 0.0,
    ];
    let resid: Vec<f64> = t
        .iter()
        .zip(&y)
        .map(|(&x, &v)| v - model.value(&p0, x, false))
        .collect();
    let below = g.t[half_lo] - theta1;
    let (kb, rb) = resid
        .iter()
        .enumerate()
        .filter(|(i, _)| t[*i] < below)
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, r)| (i, *r))
        .unwrap_or((0, 0.01));
    p0[4] = rb.max(1e-3);
    p0[5] = t[kb];
    p0[6] = ((below - t_ref) / 6.0).clamp(3.0, 40.0);
    let span = t[t.len() - 1] - t_ref;
    let head_bounds = match flank {
        Flank::Alpha => vec![
            Bound::Lower(0.0),
            Bound::Both(t_ref, t[t.len() - 1] + span),
            Bound::Both(0.3, span),
            Bound::Both(0.3, span),
        ],
        Flank::LogCubic { .. } | Flank::LogCubicLn { .. } => vec![Bound::Free; 4],
    };
    let opts = Options {
        bounds: head_bounds
            .into_iter()
            .chain([
                Bound::Lower(0.0),
                // Below the alpha peak's low-side half maximum: a hump beyond it is the alpha
                // peak's own misfit (or an excess wing), not a resolved beta relaxation.
                Bound::Both(t_ref, g.t[half_lo]),
                Bound::Both(1.0, span),
                Bound::Free,
                Bound::Free,
            ])
            .collect(),
        max_iters: 500,
        ..Options::default()
    };
    let f = least_squares(&model, &y, Some(&w), &p0, &opts).map_err(|_| "fit_failed")?;
    let p = &f.params;
    let root2pi = (2.0 * std::f64::consts::PI).sqrt();
    let intensity = p[4] * p[6] * root2pi;
    // Delta method on B s sqrt(2 pi).
    let (vb, vs, cbs) = (f.cov[4 * NP + 4], f.cov[6 * NP + 6], f.cov[4 * NP + 6]);
    let var_i = root2pi * root2pi * (p[6] * p[6] * vb + p[4] * p[4] * vs + 2.0 * p[4] * p[6] * cbs);
    let mut flags = Vec::new();
    if f.at_bound.iter().any(|b| *b) {
        flags.push("at_bound");
    }
    if !f.converged {
        flags.push("not_converged");
    }
    let se_i = var_i.max(0.0).sqrt();
    let resolved = intensity.is_finite() && se_i.is_finite() && intensity >= 2.0 * se_i;
    if f.at_bound[4..=6].iter().any(|b| *b) || !resolved {
        flags.push("beta_not_resolved");
    }
    let (sw, n_below) = t
        .iter()
        .zip(&y)
        .zip(&w)
        .filter(|((x, _), _)| **x <= g.t[half_lo])
        .fold((0.0, 0usize), |(s, n), ((&x, &v), &wi)| {
            (s + (wi * (v - model.value(p, x, true))).powi(2), n + 1)
        });
    Ok(BetaFit {
        centre: (p[5], f.se[5]),
        intensity: (intensity, se_i),
        params: p.clone(),
        t_ref,
        flank,
        flags,
        rss_below: sw / n_below.max(1) as f64,
    })
}

/// The resampled curves and transitions of one sweep, a curve per frequency.
pub fn analyse(scan: &DmaSweepRaw, o: &DmaOptions) -> (Vec<DmaSweep>, Vec<Transition>) {
    let (mut curves, mut rows) = (Vec::new(), Vec::new());
    for f in frequencies(scan) {
        let at_f: Vec<usize> = (0..scan.temperature_k.len())
            .filter(|&i| (scan.frequency_hz[i] - f).abs() <= 1e-6 * f)
            .collect();
        let temps: Vec<f64> = at_f.iter().map(|&i| scan.temperature_k[i]).collect();
        let col = |v: &[Option<f64>]| -> Vec<Option<f64>> { at_f.iter().map(|&i| v[i]).collect() };
        let (e1, flags1) = curve::prepare(&temps, &col(&scan.storage_modulus_mpa));
        let (e2, _) = curve::prepare(&temps, &col(&scan.loss_modulus_mpa));
        let (td, _) = curve::prepare(&temps, &col(&scan.tan_delta));
        let (g1, g2, gt) = (
            curve::bin(&e1, o.step_k),
            curve::bin(&e2, o.step_k),
            curve::bin(&td, o.step_k),
        );
        let mk = |name: &str| {
            let mut r = row(
                &scan.scan_id,
                &scan.material,
                &scan.series,
                scan.aging_time_s,
                "dma",
                name,
            );
            r.frequency_hz = Some(f);
            r
        };
        let mut alpha = mk("alpha_peak_loss");
        let mut tan_peak = mk("alpha_peak_tan_delta");
        let mut onset = mk("tg_storage_onset");
        let mut beta = mk("beta_peak");
        let span =
            |g: &Grid| g.t.last().copied().unwrap_or(0.0) - g.t.first().copied().unwrap_or(0.0);
        if g2.t.len() < 30 || span(&g2) < 30.0 {
            for r in [&mut alpha, &mut tan_peak, &mut onset, &mut beta] {
                r.status = "scan_too_short".into();
            }
        } else {
            set_peak(&mut alpha, peak(&g2, 0.9, o.smooth_k));
            set_peak(&mut tan_peak, peak(&gt, 0.9, o.smooth_k));
            // E' onset: the strongest falling lobe of E'.
            let (_, s1) = curve::smooth(&g1, o.smooth_k);
            match curve::lobe(&s1, -1.0, 0, g1.t.len())
                .filter(|l| l.significance >= MIN_SIGNIFICANCE)
                .and_then(|l| {
                    curve::construct(&g1, &l, o.baseline_k, g1.t[0], g1.t[g1.t.len() - 1])
                }) {
                Some(c) => {
                    let at = c
                        .before
                        .as_ref()
                        .and_then(|b| curve::intersect(b, &c.tangent));
                    set_construction(&mut onset, at, c.before.as_ref(), &c.tangent);
                }
                None => onset.status = "not_found".into(),
            }
        }
        // Normalised loss and the beta fit.
        let (sm, _) = curve::smooth(&g2, o.smooth_k);
        let emax = sm
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        let norm = Grid {
            t: g2.t.clone(),
            y: g2.y.iter().map(|v| v / emax).collect(),
            n: g2.n.clone(),
        };
        let mut flank: Option<(Vec<f64>, f64, Flank)> = None;
        if beta.status.is_empty() {
            match alpha
                .temperature_k
                .ok_or("no_alpha_peak")
                .and_then(|tp| fit_beta(&norm, tp))
            {
                Ok(b) => {
                    beta.flags = b.flags.join(",");
                    beta.status = tables::status::settled(tables::status::OK, &beta.flags);
                    // A hump not resolved has no temperature or intensity: what the fit holds
                    // there is its bound or its noise, not the scan's.
                    if beta.status == tables::status::OK {
                        beta.temperature_k = Some(b.centre.0);
                        beta.temperature_se_k = b.centre.1.is_finite().then_some(b.centre.1);
                        beta.intensity = Some(b.intensity.0);
                        beta.intensity_se = b.intensity.1.is_finite().then_some(b.intensity.1);
                    }
                    flank = Some((b.params.clone(), b.t_ref, b.flank));
                }
                Err(why) => beta.status = why.into(),
            }
        }
        for r in [&mut alpha, &mut tan_peak, &mut onset, &mut beta] {
            let mut fl: Vec<&str> = flags1.clone();
            if !r.flags.is_empty() {
                fl.push(&r.flags);
            }
            r.flags = fl.join(",");
        }
        rows.extend([alpha, tan_peak, onset, beta]);
        // The resampled curve on the loss grid (E' and tan delta at the nearest bins).
        let near = |g: &Grid, t: f64| -> Option<f64> {
            let k = g.t.partition_point(|&x| x < t);
            [k.checked_sub(1), Some(k)]
                .into_iter()
                .flatten()
                .filter(|&i| i < g.t.len() && (g.t[i] - t).abs() <= 0.5 * o.step_k)
                .min_by(|&a, &b| (g.t[a] - t).abs().total_cmp(&(g.t[b] - t).abs()))
                .map(|i| g.y[i])
        };
        let mut c = DmaSweep {
            curve_id: format!("{}@{}Hz", scan.scan_id, f),
            scan_id: scan.scan_id.clone(),
            material: scan.material.clone(),
            series: scan.series.clone(),
            aging_time_s: scan.aging_time_s,
            frequency_hz: f,
            loss_max_mpa: emax.is_finite().then_some(emax),
            ..Default::default()
        };
        for (i, &t) in g2.t.iter().enumerate() {
            c.temperature_k.push(t);
            c.storage_modulus_mpa.push(near(&g1, t));
            c.loss_modulus_mpa.push(Some(g2.y[i]));
            c.tan_delta.push(near(&gt, t));
            c.loss_norm.push(emax.is_finite().then(|| g2.y[i] / emax));
            c.alpha_flank_norm.push(flank.as_ref().map(|(p, tr, fl)| {
                LossModel {
                    t: &[],
                    t_ref: *tr,
                    flank: *fl,
                }
                .value(p, t, false)
            }));
        }
        curves.push(c);
    }
    (curves, rows)
}

fn set_peak(r: &mut Transition, p: Result<(f64, f64), &'static str>) {
    match p {
        Ok((t, se)) => {
            r.temperature_k = Some(t);
            r.temperature_se_k = se.is_finite().then_some(se);
            r.status = tables::Status::Ok.into();
        }
        Err(why) => r.status = why.into(),
    }
}

/// Per material and frequency, each aged scan's beta intensity against the as-cast one (a scan
/// without an aging time, or with 0): `beta_intensity_change` = I_aged / I_as-cast - 1, flagged
/// `decreased` or `increased` where the 95 % interval excludes 0.
pub fn changes(rows: &[Transition]) -> Vec<Transition> {
    let ok = |r: &&Transition| {
        r.transition == "beta_peak" && r.status == tables::Status::Ok && r.intensity.is_some()
    };
    let mut out = Vec::new();
    for aged in rows
        .iter()
        .filter(ok)
        .filter(|r| r.aging_time_s.is_some_and(|t| t > 0.0))
    {
        let refs: Vec<&Transition> = rows
            .iter()
            .filter(ok)
            .filter(|r| {
                r.material == aged.material
                    && r.frequency_hz == aged.frequency_hz
                    && r.aging_time_s.is_none_or(|t| t == 0.0)
            })
            .collect();
        let Some(base) = refs.first() else { continue };
        let mut r = row(
            &aged.scan_id,
            &aged.material,
            &aged.series,
            aged.aging_time_s,
            "dma",
            "beta_intensity_change",
        );
        r.frequency_hz = aged.frequency_hz;
        let (i1, i0) = (
            aged.intensity.unwrap_or(f64::NAN),
            base.intensity.unwrap_or(f64::NAN),
        );
        let ratio = i1 / i0;
        let rel = |v: Option<f64>, x: f64| v.map(|s| s / x).unwrap_or(f64::NAN);
        let se = ratio.abs()
            * (rel(aged.intensity_se, i1).powi(2) + rel(base.intensity_se, i0).powi(2)).sqrt();
        r.intensity = ratio.is_finite().then_some(ratio - 1.0);
        r.intensity_se = se.is_finite().then_some(se);
        r.temperature_k = aged.temperature_k;
        let mut flags = Vec::new();
        if refs.len() > 1 {
            flags.push("several_as_cast_scans");
        }
        if ratio - 1.0 + 1.96 * se < 0.0 {
            flags.push("decreased");
        } else if ratio - 1.0 - 1.96 * se > 0.0 {
            flags.push("increased");
        }
        r.flags = flags.join(",");
        r.status = if r.intensity.is_some() {
            tables::Status::Ok.as_str()
        } else {
            tables::Status::NoIntensity.as_str()
        }
        .into();
        out.push(r);
    }
    out
}

/// Per scan with the beta peak at 2 or more frequencies: the Arrhenius energy of the peak
/// temperature against ln f (weighted least squares of 1/T on ln f; E = -R / slope).
pub fn activations(rows: &[Transition]) -> Vec<Transition> {
    let mut scans: Vec<&str> = rows.iter().map(|r| r.scan_id.as_str()).collect();
    scans.sort_unstable();
    scans.dedup();
    let mut out = Vec::new();
    for s in scans {
        let pts: Vec<(f64, f64, f64)> = rows
            .iter()
            .filter(|r| {
                r.scan_id == s && r.transition == "beta_peak" && r.status == tables::Status::Ok
            })
            .filter_map(|r| {
                let (f, t, se) = (r.frequency_hz?, r.temperature_k?, r.temperature_se_k?);
                // var(1/T) = se^2 / T^4.
                Some((f.ln(), 1.0 / t, t.powi(4) / (se * se)))
            })
            .collect();
        if pts.len() < 2 {
            continue;
        }
        let first = rows
            .iter()
            .find(|r| r.scan_id == s)
            .cloned()
            .unwrap_or_default();
        let mut r = row(
            s,
            &first.material,
            &first.series,
            first.aging_time_s,
            "dma",
            "beta_activation",
        );
        let sw: f64 = pts.iter().map(|p| p.2).sum();
        let x0 = pts.iter().map(|p| p.2 * p.0).sum::<f64>() / sw;
        let y0 = pts.iter().map(|p| p.2 * p.1).sum::<f64>() / sw;
        let sxx: f64 = pts.iter().map(|p| p.2 * (p.0 - x0).powi(2)).sum();
        let b = pts
            .iter()
            .map(|p| p.2 * (p.0 - x0) * (p.1 - y0))
            .sum::<f64>()
            / sxx;
        let var_b = 1.0 / sxx;
        let e = -physics::GAS_CONSTANT_J_MOL_K / b / 1e3;
        let se = physics::GAS_CONSTANT_J_MOL_K / (b * b) * var_b.sqrt() / 1e3;
        let mut flags = Vec::new();
        if pts.len() == 2 {
            flags.push("two_frequencies");
        }
        if e.is_finite() && e > 0.0 {
            r.energy_kj_mol = Some(e);
            r.energy_se_kj_mol = se.is_finite().then_some(se);
            r.status = tables::Status::Ok.into();
        } else {
            r.status = "no_arrhenius_shift".into();
        }
        r.flags = flags.join(",");
        out.push(r);
    }
    out
}
