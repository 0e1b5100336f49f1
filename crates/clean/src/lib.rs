//! agingflow-clean: from a recorded relaxation test to the curve the KWW fit needs. Finds the end
//! of the strain step (from the strain signal, else the stress peak), sets t' from it, takes
//! sigma0 there, drops the pre-step part, resamples evenly in log t' (bin means), and flags short,
//! noisy or non-decaying tests. `clean_curve` is pure; `io` streams the tables.

mod io;

use std::path::PathBuf;

use tables::{RelaxationClean, RelaxationRaw, RelaxationTest};

pub use io::run;

/// Options of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Points evenly spaced in log t' (0 keeps every point).
    pub resample: usize,
    /// Fewer kept points than this flags `too_short`.
    pub min_points: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            resample: 200,
            min_points: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub relaxation_raw: PathBuf,
    pub relaxation_clean: PathBuf,
    pub relaxation_tests: PathBuf,
    pub options: Options,
}

#[derive(Debug, thiserror::Error)]
pub enum CleanError {
    #[error(transparent)]
    Table(#[from] tables::TableError),
}

/// Cleans one test: the kept curve (possibly empty) and its row of `relaxation_tests`.
pub fn clean_curve(raw: &RelaxationRaw, opts: &Options) -> (RelaxationClean, RelaxationTest) {
    let mut test = RelaxationTest {
        test_id: raw.test_id.clone(),
        material: raw.material.clone(),
        tg_k: raw.tg_k,
        temperature_k: raw.temperature_k,
        aging_time_s: raw.aging_time_s,
        strain: raw.strain,
        series: raw.series.clone(),
        n_raw: raw.time_s.len() as i64,
        status: tables::Status::Ok.into(),
        ..Default::default()
    };
    let mut clean = RelaxationClean {
        test_id: raw.test_id.clone(),
        material: raw.material.clone(),
        tg_k: raw.tg_k,
        temperature_k: raw.temperature_k,
        aging_time_s: raw.aging_time_s,
        strain: raw.strain,
        series: raw.series.clone(),
        ..Default::default()
    };
    // What ingest noticed about the file carries over.
    let mut flags: Vec<&str> = raw.flags.split(',').filter(|f| !f.is_empty()).collect();
    // Rows with a time and a stress, in recorded order.
    let rows: Vec<(f64, f64, Option<f64>)> = raw
        .time_s
        .iter()
        .zip(&raw.stress_mpa)
        .zip(&raw.strain_meas)
        .filter_map(|((t, s), e)| {
            s.filter(|s| s.is_finite() && t.is_finite())
                .map(|s| (*t, s, e.filter(|e| e.is_finite())))
        })
        .collect();
    if rows.len() < raw.time_s.len() {
        flags.push("missing_values");
    }
    let fail =
        |test: &mut RelaxationTest, clean: RelaxationClean, status: &str, flags: &mut Vec<&str>| {
            test.status = status.to_owned();
            flags.sort_unstable();
            flags.dedup();
            test.flags = flags.join(",");
            (clean, test.clone())
        };
    // Samples that share a time stamp (a clock of coarse resolution) are one sample: averaged.
    let (rows, merged) = merge_repeated_times(rows);
    if merged > 0 {
        flags.push("repeated_times_averaged");
    }
    if rows.len() < 3 {
        return fail(&mut test, clean, "too_short", &mut flags);
    }
    if rows.windows(2).any(|w| w[1].0 <= w[0].0) {
        return fail(&mut test, clean, "non_monotone_time", &mut flags);
    }
    test.sample_interval_s = sample_interval(&rows);
    clean.sample_interval_s = test.sample_interval_s;
    let step = match raw.step_s {
        // The manifest says when the step ended: kept from the first sample after it.
        Some(end_s) => match rows.iter().position(|r| r.0 > end_s) {
            Some(first) => {
                flags.push("step_from_manifest");
                Step {
                    end_s,
                    se_s: 0.0,
                    first,
                    from_stress: false,
                }
            }
            None => return fail(&mut test, clean, "no_data_after_step", &mut flags),
        },
        None => match locate_step(&rows) {
            Some(step) => step,
            None => return fail(&mut test, clean, "no_step", &mut flags),
        },
    };
    // The first sample is already at full strain: the step itself was not recorded (an export
    // that starts after it). Its time is unknown; the recorded time is taken as the time since
    // the step (what such exports write), never the first sample's time.
    let unknown_step = raw.step_s.is_none() && step.first == 0;
    if step.from_stress && !unknown_step {
        flags.push("step_from_stress");
    }
    let (t_step, sigma0) = if unknown_step {
        flags.push("step_not_recorded");
        (0.0, rows[0].1)
    } else {
        (step.end_s, rows[step.first].1)
    };
    if !unknown_step {
        test.step_end_s = Some(t_step);
        test.step_end_se_s = Some(step.se_s);
        clean.step_end_se_s = Some(step.se_s);
    }
    test.sigma0_mpa = Some(sigma0);
    if sigma0.is_nan() || sigma0 <= 0.0 {
        return fail(&mut test, clean, "negative_stress", &mut flags);
    }
    let after: Vec<(f64, f64)> = rows[step.first..]
        .iter()
        .map(|r| (r.0 - t_step, r.1))
        .filter(|p| p.0 > 0.0)
        .collect();
    let (t, s, m): (Vec<f64>, Vec<f64>, Vec<i64>) = if opts.resample > 0 {
        log_resample(&after, opts.resample)
    } else {
        let (t, s) = after.iter().copied().unzip();
        (t, s, vec![1; after.len()])
    };
    test.n_kept = t.len() as i64;
    clean.n_samples = m;
    clean.phi = s.iter().map(|v| v / sigma0).collect();
    clean.time_s = t;
    clean.stress_mpa = s;
    // Warnings on the kept curve.
    let n = clean.phi.len();
    if n < opts.min_points {
        flags.push("too_short");
    }
    if n >= 2 {
        let (first, last) = (clean.phi[0], clean.phi[n - 1]);
        if last > 0.98 * first || last >= 0.98 {
            flags.push("non_decaying");
        }
        // Noise: the scatter of second differences of phi.
        let d2: Vec<f64> = clean
            .phi
            .windows(3)
            .map(|w| w[0] - 2.0 * w[1] + w[2])
            .collect();
        if !d2.is_empty() {
            let mut a: Vec<f64> = d2.iter().map(|d| d.abs()).collect();
            a.sort_by(f64::total_cmp);
            let noise = a[a.len() / 2] / 0.6745 / 6f64.sqrt();
            if noise > 0.02 {
                flags.push("noisy");
            }
        }
    }
    let status = if n < opts.min_points {
        tables::Status::TooShort
    } else if flags.contains(&"non_decaying") {
        tables::Status::NonDecaying
    } else {
        tables::Status::Ok
    };
    let status = String::from(status);
    flags.sort_unstable();
    flags.dedup();
    test.flags = flags.join(",");
    test.status = status;
    (clean, test)
}

/// Bin means of (t', stress) over `n` bins evenly spaced in log t' from the first to the last
/// point, with the number of samples in each.
fn log_resample(pts: &[(f64, f64)], n: usize) -> (Vec<f64>, Vec<f64>, Vec<i64>) {
    let pts: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.0 > 0.0).collect();
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
        return (vec![], vec![], vec![]);
    };
    let (lo, hi) = (first.0.ln(), last.0.ln());
    if hi.is_nan() || hi <= lo {
        let (t, s) = pts.iter().copied().unzip();
        return (t, s, vec![1; pts.len()]);
    }
    let width = (hi - lo) / n as f64;
    let (mut t, mut s, mut counts) = (Vec::new(), Vec::new(), Vec::new());
    let mut i = 0;
    for b in 0..n {
        let edge = if b + 1 == n {
            f64::INFINITY
        } else {
            lo + width * (b + 1) as f64
        };
        let (mut st, mut ss, mut m) = (0.0, 0.0, 0usize);
        while i < pts.len() && pts[i].0.ln() < edge {
            st += pts[i].0.ln();
            ss += pts[i].1;
            m += 1;
            i += 1;
        }
        if m > 0 {
            // The bin's point sits at the geometric mean time.
            t.push((st / m as f64).exp());
            s.push(ss / m as f64);
            counts.push(m as i64);
        }
    }
    (t, s, counts)
}

/// Consecutive rows with the same time averaged into one (stress, and strain where every row
/// of the run has one); the number of rows merged away. A clock of coarse resolution stamps the
/// samples of [N, N + r) with N (it truncates), so their mean time is about N + r / 2: each
/// averaged run is placed there, r being the median step between distinct stamps (a run at
/// the last stamp too).
fn merge_repeated_times(
    rows: Vec<(f64, f64, Option<f64>)>,
) -> (Vec<(f64, f64, Option<f64>)>, usize) {
    if rows.windows(2).all(|w| w[1].0 != w[0].0) {
        return (rows, 0);
    }
    let mut stamps: Vec<f64> = rows.iter().map(|r| r.0).collect();
    stamps.dedup();
    let mut steps: Vec<f64> = stamps
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .collect();
    steps.sort_by(f64::total_cmp);
    let half_step = steps.get(steps.len() / 2).map_or(0.0, |r| 0.5 * r);
    let mut out: Vec<(f64, f64, Option<f64>)> = Vec::with_capacity(rows.len());
    let mut i = 0;
    while i < rows.len() {
        let mut j = i + 1;
        while j < rows.len() && rows[j].0 == rows[i].0 {
            j += 1;
        }
        let run = &rows[i..j];
        let n = run.len() as f64;
        let stress = run.iter().map(|r| r.1).sum::<f64>() / n;
        let strain = run.iter().map(|r| r.2).sum::<Option<f64>>().map(|e| e / n);
        let at = if j - i > 1 {
            rows[i].0 + half_step
        } else {
            rows[i].0
        };
        out.push((at, stress, strain));
        i = j;
    }
    let merged = rows.len() - out.len();
    (out, merged)
}

/// The median interval between recorded samples.
fn sample_interval(rows: &[(f64, f64, Option<f64>)]) -> Option<f64> {
    let mut d: Vec<f64> = rows.windows(2).map(|w| w[1].0 - w[0].0).collect();
    if d.is_empty() {
        return None;
    }
    d.sort_by(f64::total_cmp);
    Some(d[d.len() / 2])
}

/// Where the strain step ends and the first sample to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Step {
    /// End of the step on the recorded time axis.
    end_s: f64,
    se_s: f64,
    /// The first sample at full strain (the first kept).
    first: usize,
    /// Located from the stress (no usable strain signal).
    from_stress: bool,
}

/// A straight line through points: (intercept, slope, their covariance matrix per unit variance
/// [var a, cov ab, var b]), None for fewer than two distinct x.
fn line_fit(pts: &[(f64, f64)]) -> Option<(f64, f64, [f64; 3])> {
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx.is_nan() || sxx <= 0.0 {
        return None;
    }
    let b = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    let a = my - b * mx;
    Some((a, b, [1.0 / n + mx * mx / sxx, -mx / sxx, 1.0 / sxx]))
}

/// Robust scatter (MAD / 0.6745) of values.
fn robust_sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let med = s[s.len() / 2];
    let mut d: Vec<f64> = s.iter().map(|x| (x - med).abs()).collect();
    d.sort_by(f64::total_cmp);
    d[d.len() / 2] / 0.6745
}

/// The end of the strain step, to a fraction of a sample.
///
/// With a strain signal (more than half the rows): the plateau level p is the median of the
/// samples above 90 % of the top decile; samples below 2 % of p are before the ramp, samples
/// within 4 sigma of p (sigma: the plateau's robust scatter, at least 0.01 % of p) are
/// at full strain, those between are on the ramp. Two or more ramp samples: the ramp line is
/// fitted and intersected with the plateau; the SE propagates the scatter of the ramp and
/// plateau samples. Fewer: the end lies in an interval (from the last sample before the ramp, or
/// bounded by the slowest ramp through the single ramp sample, to the first sample at full
/// strain), estimated by its middle with the SE of a uniform distribution (width / sqrt 12).
///
/// Without a strain signal the stress does the same: the first sample of the largest stress is
/// the first at full strain, the rising edge (2 % to 98 % of the peak) is the ramp, and the end
/// is where the ramp line meets the stress peak level, kept inside the last sampling interval.
fn locate_step(rows: &[(f64, f64, Option<f64>)]) -> Option<Step> {
    let strains: Vec<f64> = rows.iter().filter_map(|r| r.2).collect();
    let plateau = {
        let mut s = strains.clone();
        s.sort_by(f64::total_cmp);
        s.get(s.len().saturating_sub(1) * 9 / 10).copied()
    };
    if let Some(p) = plateau.filter(|p| *p > 0.0 && strains.len() * 2 > rows.len()) {
        // Scatter on the plateau (the top half of the samples near p).
        let mut top: Vec<f64> = strains.iter().copied().filter(|e| *e > 0.9 * p).collect();
        top.sort_by(f64::total_cmp);
        let (p, sd) = (top[top.len() / 2], robust_sd(&top));
        let full = p - (1e-4 * p).max(4.0 * sd);
        let first = rows.iter().position(|r| r.2.is_some_and(|e| e >= full))?;
        if let Some(step) = interval_step(rows, first, p, sd, |r| r.2, false) {
            return Some(step);
        }
    }
    // The stress: the first sample of the largest stress.
    let first = rows
        .iter()
        .enumerate()
        .fold(None, |best: Option<(usize, f64)>, (i, r)| match best {
            Some((_, s)) if s >= r.1 => best,
            _ => Some((i, r.1)),
        })
        .map(|(i, _)| i)?;
    let peak = rows[first].1;
    let before: Vec<f64> = rows[..first].iter().map(|r| r.1).collect();
    let sd = robust_sd(&before);
    interval_step(rows, first, peak, sd, |r| Some(r.1), true).or(Some(Step {
        end_s: rows[first].0,
        se_s: 0.0,
        first,
        from_stress: true,
    }))
}

/// The step end from the samples before `first` (the first at full level `p`, signal scatter
/// `sd`), as described at [`locate_step`].
fn interval_step(
    rows: &[(f64, f64, Option<f64>)],
    first: usize,
    p: f64,
    sd: f64,
    signal: impl Fn(&(f64, f64, Option<f64>)) -> Option<f64>,
    from_stress: bool,
) -> Option<Step> {
    let t_full = rows[first].0;
    // Walk back over the ramp samples.
    let mut ramp: Vec<(f64, f64)> = Vec::new();
    let mut before: Option<f64> = None;
    for r in rows[..first].iter().rev() {
        match signal(r) {
            Some(e) if e > 0.02 * p => ramp.push((r.0, e)),
            Some(_) => {
                before = Some(r.0);
                break;
            }
            None => {}
        }
    }
    ramp.reverse();
    let last_gap = if first > 0 {
        t_full - rows[first - 1].0
    } else {
        return None;
    };
    if ramp.len() >= 2
        && let Some((a, b, v)) = line_fit(&ramp)
        && b > 0.0
    {
        let end = (p - a) / b;
        // d end / d (a, b, p) = (-1/b, -end/b, 1/b); ramp points and p carry the scatter sd.
        let var = sd * sd / (b * b) * (v[0] + 2.0 * end * v[1] + end * end * v[2] + 0.01);
        let lo = ramp[ramp.len() - 1].0;
        // A sample within the noise of full strain may still lie on the ramp: the first kept
        // sample is the first after the end the line gives.
        let next = rows.get(first + 1).map_or(t_full, |r| r.0);
        if end > lo && end <= next {
            return Some(Step {
                end_s: end,
                se_s: var.sqrt().max(1e-3 * last_gap),
                first: if end > t_full { first + 1 } else { first },
                from_stress,
            });
        }
    }
    // An interval: from the last ramp sample (or the last sample before the ramp) to the first
    // at full level, narrowed by the slowest ramp through a single ramp sample.
    let (lo, hi) = match (ramp.as_slice(), before) {
        ([(t_r, e_r)], Some(t_b)) => {
            let f = (e_r / p).clamp(1e-6, 1.0);
            (*t_r, t_full.min(t_r + (1.0 - f) * (t_r - t_b) / f))
        }
        ([.., (t_r, _)], _) => (*t_r, t_full),
        ([], Some(t_b)) => (t_b, t_full),
        ([], None) => (rows[first - 1].0, t_full),
    };
    Some(Step {
        end_s: 0.5 * (lo + hi),
        se_s: (hi - lo) / 12f64.sqrt(),
        first,
        from_stress,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(time: Vec<f64>, stress: Vec<Option<f64>>, strain: Vec<Option<f64>>) -> RelaxationRaw {
        RelaxationRaw {
            step_s: None,
            test_id: "t".into(),
            material: "G".into(),
            tg_k: Some(680.0),
            temperature_k: 633.0,
            aging_time_s: 1800.0,
            strain: Some(0.001),
            source_file: "t".into(),
            series: None,
            flags: String::new(),
            temperature_meas_k: vec![None; time.len()],
            time_s: time,
            stress_mpa: stress,
            strain_meas: strain,
        }
    }

    #[test]
    fn finds_the_step_and_resamples_in_log_time() {
        let n = 3000;
        let time: Vec<f64> = (0..n).map(|k| k as f64 * 3.0).collect();
        let strain: Vec<Option<f64>> = time
            .iter()
            .map(|&t| {
                Some(if t < 30.0 {
                    0.0
                } else if t < 33.0 {
                    (t - 30.0) / 3.0 * 0.001
                } else {
                    0.001
                })
            })
            .collect();
        let stress: Vec<Option<f64>> = time
            .iter()
            .map(|&t| {
                Some(if t < 33.0 {
                    0.0
                } else {
                    90.0 * (-((t - 33.0) / 1000.0).powf(0.5)).exp()
                })
            })
            .collect();
        let (c, t) = clean_curve(&raw(time, stress, strain), &Options::default());
        assert_eq!(t.status, "ok", "{t:?}");
        // No sample on the ramp: the end lies between 30 s (zero strain) and 33 s (full).
        assert_eq!(t.step_end_s, Some(31.5));
        assert!((t.step_end_se_s.unwrap() - 3.0 / 12f64.sqrt()).abs() < 1e-12);
        assert_eq!(t.sample_interval_s, Some(3.0));
        assert_eq!(t.sigma0_mpa, Some(90.0));
        assert_eq!(c.n_samples.iter().sum::<i64>(), t.n_raw - 11);
        assert!(
            c.time_s.len() > 100 && c.time_s.len() <= 200,
            "{}",
            c.time_s.len()
        );
        assert!(c.time_s.windows(2).all(|w| w[1] > w[0]));
        assert!((c.phi[0] - (-((c.time_s[0] - 1.5) / 1000.0).sqrt()).exp()).abs() < 1e-3);
    }

    /// A ramp of `ramp` s starting at `start`, sampled every `dt` s, noise on strain and stress.
    fn stepped(start: f64, ramp: f64, dt: f64, strain_signal: bool, seed: u64) -> RelaxationRaw {
        let mut rng = rng::Rng::new(seed, 0);
        let end = start + ramp;
        let n = (2000.0 / dt) as usize;
        let time: Vec<f64> = (0..n).map(|k| k as f64 * dt).collect();
        let strain = time
            .iter()
            .map(|&t| {
                let f = ((t - start) / ramp).clamp(0.0, 1.0);
                strain_signal.then(|| 0.001 * f + 1e-7 * rng.normal())
            })
            .collect();
        let stress = time
            .iter()
            .map(|&t| {
                let s = if t < end {
                    90.0 * ((t - start) / ramp).clamp(0.0, 1.0)
                } else {
                    90.0 * (-((t - end) / 1000.0).powf(0.5)).exp()
                };
                Some(s + 0.1 * rng.normal())
            })
            .collect();
        raw(time, stress, strain)
    }

    #[test]
    fn the_step_end_is_located_to_a_fraction_of_a_sample_with_an_honest_error() {
        // Ramps of 1 to 8 s, sampling 0.5 to 5 s, the ramp start anywhere between samples.
        let (mut z2, mut n, mut worst) = (0.0, 0, 0.0f64);
        for k in 0..400u64 {
            let mut rng = rng::Rng::new(99, k);
            let (ramp, dt) = (rng.range(1.0, 8.0), rng.range(0.5, 5.0));
            let start = rng.range(10.0, 60.0);
            let (_, t) = clean_curve(&stepped(start, ramp, dt, true, k), &Options::default());
            let (end, se) = (t.step_end_s.unwrap(), t.step_end_se_s.unwrap());
            let z = (end - (start + ramp)) / se;
            assert!(
                z.abs() < 4.0,
                "ramp {ramp} dt {dt}: end {end} vs {} (se {se})",
                start + ramp
            );
            assert!(
                se <= dt / 12f64.sqrt() + 1e-12,
                "se {se} above a uniform sample's"
            );
            z2 += z * z;
            n += 1;
            worst = worst.max((end - start - ramp).abs() / dt);
        }
        // The SE is the spread it claims (a uniform interval's SE is exact, the line fit's close).
        let rms = (z2 / n as f64).sqrt();
        assert!(rms > 0.5 && rms < 1.3, "rms z {rms}");
        assert!(worst < 0.5, "worst error {worst} samples");
        // Without a strain signal the stress peak gives it within the last sampling interval.
        let (_, t) = clean_curve(&stepped(30.3, 3.0, 2.0, false, 1), &Options::default());
        assert!(t.flags.contains("step_from_stress"), "{t:?}");
        let end = t.step_end_s.unwrap();
        assert!((end - 33.3).abs() < 2.0, "{end}");
    }

    #[test]
    fn bad_tests_are_flagged_not_fatal() {
        let t = |v: Vec<f64>| v;
        let cases: Vec<(RelaxationRaw, &str)> = vec![
            (
                raw(
                    t(vec![0.0, 1.0, 2.0, 3.0]),
                    vec![Some(5.0); 4],
                    vec![None; 4],
                ),
                "too_short",
            ),
            (
                raw(
                    t((0..100).map(|k| k as f64).collect()),
                    vec![Some(f64::NAN); 100],
                    vec![None; 100],
                ),
                "too_short",
            ),
            (
                raw(
                    t((0..100).map(|k| k as f64).collect()),
                    vec![Some(-3.0); 100],
                    vec![None; 100],
                ),
                "negative_stress",
            ),
            (
                raw(
                    t((0..100).map(|k| (100 - k) as f64).collect()),
                    vec![Some(3.0); 100],
                    vec![None; 100],
                ),
                "non_monotone_time",
            ),
            (
                raw(
                    t((0..100).map(|k| k as f64).collect()),
                    vec![Some(3.0); 100],
                    vec![None; 100],
                ),
                "non_decaying",
            ),
        ];
        for (r, want) in cases {
            let (_, test) = clean_curve(&r, &Options::default());
            assert_eq!(test.status, want, "{test:?}");
        }
    }
}
