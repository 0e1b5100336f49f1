//! Per series (material, series, strain, temperature): the centre and the width of D(ln tau) at
//! each aging time from the measured spectra, from what the KWW fits imply and from each model
//! scenario of model-compare, and how each moves with ln t_a (a weighted line, its interval,
//! and whether the change is both significant and larger than a stated threshold). Pure.

use std::collections::BTreeMap;

use physics::kww::{EULER_GAMMA, distribution_mean_ln_tau, distribution_sd_ln_tau};
use tables::{KwwFit, ModelFit, SeriesKey, SpectrumMoments, SpectrumSeries, SpectrumTrend};

/// When a trend counts as a move.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendOptions {
    /// The least change of the centre over the series, in ln tau.
    pub centre_change: f64,
    /// The least change of the width over the series, relative to its mean.
    pub width_change: f64,
    /// Two-sided level of the slope's interval.
    pub level: f64,
}

impl Default for TrendOptions {
    fn default() -> Self {
        TrendOptions {
            centre_change: 0.1,
            width_change: 0.1,
            level: 0.95,
        }
    }
}

/// A value and its standard error, where known.
type Est = (f64, Option<f64>);

/// (value, SE) pairs per aging time, in t_a order.
type ByAge = BTreeMap<u64, Vec<Est>>;

/// One source's centre and width points of one series.
#[derive(Debug, Default)]
struct Points {
    centre: ByAge,
    width: ByAge,
}

/// The weighted mean of values with SEs (1/SE^2; plain mean and its standard error when an SE is
/// missing).
fn combine(v: &[Est]) -> Est {
    if v.iter().all(|(_, s)| s.is_some_and(|s| s > 0.0)) {
        let (mut sw, mut swx) = (0.0, 0.0);
        for (x, s) in v {
            let w = 1.0 / s.unwrap_or(1.0).powi(2);
            sw += w;
            swx += w * x;
        }
        return (swx / sw, Some((1.0 / sw).sqrt()));
    }
    let n = v.len() as f64;
    let m = v.iter().map(|(x, _)| x).sum::<f64>() / n;
    let se = (v.len() >= 2)
        .then(|| (v.iter().map(|(x, _)| (x - m).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt());
    (m, se)
}

/// The KWW fit's implied centre and width with delta-method SEs from (ln tau, beta).
pub fn kww_implied(f: &KwwFit) -> Option<(Est, Est)> {
    let (beta, tau) = (f.beta?, f.tau_s?);
    if f.status != tables::Status::Ok || !(beta > 0.0 && beta < 1.0) || tau <= 0.0 {
        return None;
    }
    let ln_tau = tau.ln();
    let centre = distribution_mean_ln_tau(ln_tau, beta);
    let width = distribution_sd_ln_tau(beta);
    let (sb, st) = (f.beta_se, f.tau_se_s.map(|s| s / tau));
    let rho = f.corr_ln_tau_beta.unwrap_or(0.0);
    // d centre / d ln tau = 1, d centre / d beta = gamma / beta^2;
    // d width / d beta = -(pi^2/6) / (beta^3 width).
    let dcb = EULER_GAMMA / (beta * beta);
    let centre_se = match (sb, st) {
        (Some(sb), Some(st)) => Some(
            (st * st + dcb * dcb * sb * sb + 2.0 * rho * dcb * st * sb)
                .max(0.0)
                .sqrt(),
        ),
        _ => None,
    };
    let width_se = sb.map(|sb| {
        let d = std::f64::consts::PI.powi(2) / 6.0 / (beta.powi(3) * width.max(1e-12));
        d * sb
    });
    Some(((centre, centre_se), (width, width_se)))
}

/// A scenario's log-normal at aging time t_a: centre ln(tau0 + A sqrt(t_a)) and width
/// sigma0 (+ c ln(1 + t_a / t'_max) where it broadens), from model_fits' parameters.
pub fn scenario_distribution(f: &ModelFit, aging_time_s: f64, t_max_s: f64) -> Option<(f64, f64)> {
    let p: serde_json::Value = serde_json::from_str(&f.params).ok()?;
    let tau0 = p.get("tau0_s")?.as_f64()?;
    let a = p.get("a_s_per_sqrt_s")?.as_f64()?;
    let sigma0 = p.get("sigma0_ln")?.as_f64()?;
    let growth = p
        .get("width_growth")
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    let centre = (tau0 + a * aging_time_s.sqrt()).ln();
    let width = if f.scenario == "transient" {
        sigma0
    } else {
        sigma0 + growth * (aging_time_s / t_max_s).ln_1p()
    };
    (centre.is_finite() && width.is_finite()).then_some((centre, width))
}

/// The per-aging-time table and the trends, for every series.
pub fn summarise(
    moments: &[SpectrumMoments],
    fits: &[KwwFit],
    models: &[ModelFit],
    o: &TrendOptions,
) -> (Vec<SpectrumSeries>, Vec<SpectrumTrend>) {
    let mut by: BTreeMap<(SeriesKey, String), Points> = BTreeMap::new();
    for m in moments.iter().filter(|m| m.status == tables::Status::Ok) {
        let (Some(c), Some(w)) = (m.mean_ln_tau, m.sd_ln_tau) else {
            continue;
        };
        let key = SeriesKey::new(&m.material, &m.series, m.strain, m.temperature_k);
        let e = by.entry((key, "spectrum".into())).or_default();
        let t = m.aging_time_s.to_bits();
        e.centre.entry(t).or_default().push((c, m.mean_ln_tau_se));
        e.width.entry(t).or_default().push((w, m.sd_ln_tau_se));
    }
    // The window of each series and aging time, as model-compare takes it: the first ok fit's.
    let mut t_max: BTreeMap<(SeriesKey, u64), f64> = BTreeMap::new();
    for f in fits {
        let key = SeriesKey::new(&f.material, &f.series, f.strain, f.temperature_k);
        if f.status == tables::Status::Ok && f.aging_time_s > 0.0 {
            t_max
                .entry((key.clone(), f.aging_time_s.to_bits()))
                .or_insert(f.time_max_s.unwrap_or(1e4));
        }
        if let Some((c, w)) = kww_implied(f) {
            let e = by.entry((key, "kww".into())).or_default();
            let t = f.aging_time_s.to_bits();
            e.centre.entry(t).or_default().push(c);
            e.width.entry(t).or_default().push(w);
        }
    }
    for f in models.iter().filter(|f| f.status == tables::Status::Ok) {
        let key = SeriesKey::new(&f.material, &f.series, f.strain, f.temperature_k);
        for ((k, t), tm) in t_max.range((key.clone(), 0)..=(key.clone(), u64::MAX)) {
            if *k != key {
                continue;
            }
            if let Some((c, w)) = scenario_distribution(f, f64::from_bits(*t), *tm) {
                let e = by.entry((key.clone(), f.scenario.clone())).or_default();
                e.centre.entry(*t).or_default().push((c, None));
                e.width.entry(*t).or_default().push((w, None));
            }
        }
    }
    let mut rows = Vec::new();
    let mut trends = Vec::new();
    for ((key, source), pts) in &by {
        let mut series_points: Vec<(f64, Est, Est)> = Vec::new();
        for (t, cs) in &pts.centre {
            let ws = &pts.width[t];
            let (c, w) = (combine(cs), combine(ws));
            let t_a = f64::from_bits(*t);
            rows.push(SpectrumSeries {
                material: key.material.clone(),
                series: key.series.clone(),
                strain: key.strain(),
                temperature_k: key.temperature_k(),
                source: source.clone(),
                aging_time_s: t_a,
                centre_ln_tau: Some(c.0),
                centre_se: c.1,
                width_ln_tau: Some(w.0),
                width_se: w.1,
                n_curves: cs.len() as i64,
            });
            if t_a > 0.0 {
                series_points.push((t_a.ln(), c, w));
            }
        }
        let model = !matches!(source.as_str(), "spectrum" | "kww");
        let mean_width =
            series_points.iter().map(|p| p.2.0).sum::<f64>() / series_points.len().max(1) as f64;
        let centre_pts: Vec<_> = series_points.iter().map(|p| (p.0, p.1)).collect();
        let width_pts: Vec<_> = series_points.iter().map(|p| (p.0, p.2)).collect();
        let mut c = trend(&centre_pts, o.centre_change, model, o.level);
        let mut w = trend(&width_pts, o.width_change * mean_width, model, o.level);
        let pattern = match (c.moves, w.moves) {
            (false, false) => "no_change",
            (true, false) => "shift",
            (false, true) if w.change.unwrap_or(0.0) > 0.0 => "broadening",
            (false, true) => "narrowing",
            (true, true) if w.change.unwrap_or(0.0) > 0.0 => "shift_and_broadening",
            (true, true) => "shift_and_narrowing",
        };
        for (q, t) in [("centre", &mut c), ("width", &mut w)] {
            trends.push(SpectrumTrend {
                material: key.material.clone(),
                series: key.series.clone(),
                strain: key.strain(),
                temperature_k: key.temperature_k(),
                source: source.clone(),
                quantity: q.into(),
                slope: t.slope,
                slope_se: t.se,
                slope_ci_low: t.ci.map(|c| c.0),
                slope_ci_high: t.ci.map(|c| c.1),
                change: t.change,
                p_value: t.p,
                moves: t.moves as i64,
                pattern: pattern.into(),
                n_aging_times: series_points.len() as i64,
                status: t.status.into(),
                flags: std::mem::take(&mut t.flags).join(","),
            });
        }
    }
    (rows, trends)
}

#[derive(Debug, Default)]
struct Trend {
    slope: Option<f64>,
    se: Option<f64>,
    ci: Option<(f64, f64)>,
    change: Option<f64>,
    p: Option<f64>,
    moves: bool,
    status: &'static str,
    flags: Vec<&'static str>,
}

/// The weighted line of value on ln t_a: slope, SE (scaled by the scatter only when the
/// chi-square says the SEs do not explain it, then with t(n - 2)), interval, change over the
/// span, p-value; `moves` when the interval excludes zero and |change| >= `threshold`. For a
/// model scenario (exact values) the change alone decides.
fn trend(pts: &[(f64, Est)], threshold: f64, exact: bool, level: f64) -> Trend {
    let n = pts.len();
    if n < 3 {
        return Trend {
            status: "too_few_aging_times",
            ..Default::default()
        };
    }
    let weighted = !exact && pts.iter().all(|p| p.1.1.is_some_and(|s| s > 0.0));
    let w: Vec<f64> = pts
        .iter()
        .map(|p| {
            if weighted {
                1.0 / p.1.1.unwrap_or(1.0).powi(2)
            } else {
                1.0
            }
        })
        .collect();
    let sw: f64 = w.iter().sum();
    let xm = pts.iter().zip(&w).map(|(p, w)| w * p.0).sum::<f64>() / sw;
    let ym = pts.iter().zip(&w).map(|(p, w)| w * p.1.0).sum::<f64>() / sw;
    let sxx: f64 = pts
        .iter()
        .zip(&w)
        .map(|(p, w)| w * (p.0 - xm).powi(2))
        .sum();
    if sxx <= 0.0 {
        return Trend {
            status: "one_aging_time",
            ..Default::default()
        };
    }
    let sxy: f64 = pts
        .iter()
        .zip(&w)
        .map(|(p, w)| w * (p.0 - xm) * (p.1.0 - ym))
        .sum();
    let slope = sxy / sxx;
    let span = pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max)
        - pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let change = slope * span;
    if exact {
        return Trend {
            slope: Some(slope),
            change: Some(change),
            moves: change.abs() >= threshold,
            status: tables::Status::Ok.as_str(),
            ..Default::default()
        };
    }
    let chi2: f64 = pts
        .iter()
        .zip(&w)
        .map(|(p, w)| w * (p.1.0 - ym - slope * (p.0 - xm)).powi(2))
        .sum();
    let df = (n - 2) as f64;
    let mut flags = Vec::new();
    let (se, q) = if !weighted {
        let s2 = chi2 / df;
        (
            (s2 / sxx).sqrt(),
            fit::stats::t_quantile(0.5 + level / 2.0, df),
        )
    } else if fit::stats::chi2_sf(chi2, df) < 0.05 {
        flags.push("errors_scaled_by_scatter");
        (
            (chi2 / df / sxx).sqrt(),
            fit::stats::t_quantile(0.5 + level / 2.0, df),
        )
    } else {
        ((1.0 / sxx).sqrt(), normal_quantile(0.5 + level / 2.0))
    };
    if !weighted {
        flags.push("unweighted");
    }
    let z = slope / se;
    let p = if weighted && flags.is_empty() {
        2.0 * normal_sf(z.abs())
    } else {
        2.0 * (1.0 - fit::stats::t_cdf(z.abs(), df))
    };
    let ci = (slope - q * se, slope + q * se);
    Trend {
        slope: Some(slope),
        se: Some(se),
        ci: Some(ci),
        change: Some(change),
        p: Some(p.clamp(0.0, 1.0)),
        moves: (ci.0 > 0.0 || ci.1 < 0.0) && change.abs() >= threshold,
        status: tables::Status::Ok.as_str(),
        flags,
    }
}

/// The upper tail of the standard normal.
fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    // The incomplete gamma function: erfc(x) = Q(1/2, x^2) for x >= 0.
    if x >= 0.0 {
        fit::stats::gamma_q(0.5, x * x)
    } else {
        2.0 - fit::stats::gamma_q(0.5, x * x)
    }
}

/// The `p` quantile of the standard normal (bisection on its tail).
fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0, 40.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if 1.0 - normal_sf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}
