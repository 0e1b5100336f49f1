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
        n_raw: raw.time_s.len() as i64,
        status: "ok".into(),
        ..Default::default()
    };
    let mut clean = RelaxationClean {
        test_id: raw.test_id.clone(),
        material: raw.material.clone(),
        tg_k: raw.tg_k,
        temperature_k: raw.temperature_k,
        aging_time_s: raw.aging_time_s,
        strain: raw.strain,
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
    if rows.len() < 3 {
        return fail(&mut test, clean, "too_short", &mut flags);
    }
    if rows.windows(2).any(|w| w[1].0 <= w[0].0) {
        return fail(&mut test, clean, "non_monotone_time", &mut flags);
    }
    // End of the strain step: the first sample at 98 % of the applied strain, else the stress peak.
    let strains: Vec<f64> = rows.iter().filter_map(|r| r.2).collect();
    let plateau = {
        let mut s = strains.clone();
        s.sort_by(f64::total_cmp);
        s.get(s.len().saturating_sub(1) * 9 / 10).copied()
    };
    let step = match plateau {
        Some(p) if p > 0.0 && strains.len() * 2 > rows.len() => {
            rows.iter().position(|r| r.2.is_some_and(|e| e >= 0.98 * p))
        }
        _ => None,
    };
    let step = step.or_else(|| {
        // The first sample of the largest stress.
        rows.iter()
            .enumerate()
            .fold(None, |best: Option<(usize, f64)>, (i, r)| match best {
                Some((_, s)) if s >= r.1 => best,
                _ => Some((i, r.1)),
            })
            .map(|(i, _)| i)
    });
    let Some(k) = step else {
        return fail(&mut test, clean, "no_step", &mut flags);
    };
    let (t_step, sigma0) = (rows[k].0, rows[k].1);
    test.step_end_s = Some(t_step);
    test.sigma0_mpa = Some(sigma0);
    if sigma0.is_nan() || sigma0 <= 0.0 {
        return fail(&mut test, clean, "negative_stress", &mut flags);
    }
    let after: Vec<(f64, f64)> = rows[k + 1..].iter().map(|r| (r.0 - t_step, r.1)).collect();
    let (t, s): (Vec<f64>, Vec<f64>) = if opts.resample > 0 {
        log_resample(&after, opts.resample)
    } else {
        after.iter().copied().unzip()
    };
    test.n_kept = t.len() as i64;
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
        "too_short"
    } else if flags.contains(&"non_decaying") {
        "non_decaying"
    } else {
        "ok"
    };
    let status = status.to_owned();
    flags.sort_unstable();
    flags.dedup();
    test.flags = flags.join(",");
    test.status = status;
    (clean, test)
}

/// Bin means of (t', stress) over `n` bins evenly spaced in log t' from the first to the last point.
fn log_resample(pts: &[(f64, f64)], n: usize) -> (Vec<f64>, Vec<f64>) {
    let pts: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.0 > 0.0).collect();
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
        return (vec![], vec![]);
    };
    let (lo, hi) = (first.0.ln(), last.0.ln());
    if hi.is_nan() || hi <= lo {
        return pts.iter().copied().unzip();
    }
    let width = (hi - lo) / n as f64;
    let (mut t, mut s) = (Vec::new(), Vec::new());
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
        }
    }
    (t, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(time: Vec<f64>, stress: Vec<Option<f64>>, strain: Vec<Option<f64>>) -> RelaxationRaw {
        RelaxationRaw {
            test_id: "t".into(),
            material: "G".into(),
            tg_k: 680.0,
            temperature_k: 633.0,
            aging_time_s: 1800.0,
            strain: Some(0.001),
            source_file: "t".into(),
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
        assert_eq!(t.step_end_s, Some(33.0));
        assert_eq!(t.sigma0_mpa, Some(90.0));
        assert!(
            c.time_s.len() > 100 && c.time_s.len() <= 200,
            "{}",
            c.time_s.len()
        );
        assert!(c.time_s.windows(2).all(|w| w[1] > w[0]));
        assert!((c.phi[0] - (-(c.time_s[0] / 1000.0).sqrt()).exp()).abs() < 1e-3);
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
