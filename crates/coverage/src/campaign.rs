//! The campaign-level study: random campaigns (a beta that rises then falls, or a monotone one;
//! a two-stage tau; an E_a that rises in deep aging; four temperatures; the instrument drawn per
//! test), every curve through clean and kww-fit, then the aging law, the turning point and its
//! test, and the Arrhenius fits, each compared with the truth. tau_c mean and FWHM are checked on
//! tau_c values drawn from their true distribution (the pop-in detection has its own tests).

use rayon::prelude::*;
use simulate::spec::{RelaxationSpec, Setting, TauSpec};

use crate::{Instrument, Summary, fit_raw, raw_curve, summarize};

/// The truth of one campaign and the estimates' z values and coverage, per quantity.
#[derive(Debug, Clone, Default)]
pub struct CampaignOutcome {
    /// Per quantity name: (z, covered) for each estimate of the campaign.
    pub items: Vec<(&'static str, Option<f64>, Option<bool>)>,
    /// p-value of the non-monotonicity test.
    pub p_value: Option<f64>,
}

const AGES_REF: [f64; 7] = [1800.0, 3600.0, 5400.0, 9000.0, 18000.0, 36000.0, 77400.0];
const AGES_OTHER: [f64; 4] = [1800.0, 9000.0, 36000.0, 77400.0];
const TEMPS: [f64; 4] = [613.0, 623.0, 633.0, 643.0];

fn pchip_ln(knots: &[(f64, f64)], t: f64) -> f64 {
    let k: Vec<(f64, f64)> = knots.iter().map(|(x, y)| (x.ln(), *y)).collect();
    physics::interp::pchip(&k, t.ln())
}

/// One random campaign; `monotone` draws a beta that only rises.
pub fn campaign_trial(seed: u64, k: u64, monotone: bool, ins: &Instrument) -> CampaignOutcome {
    let mut rng = rng::Rng::new(seed ^ 0xca3b, k);
    let b1 = rng.range(0.35, 0.45);
    let tp = rng.range(5000f64.ln(), 20000f64.ln()).exp();
    let bmax = b1 + rng.range(0.04, 0.12);
    let beta = if monotone {
        vec![(1800.0, b1), (tp, b1 + 0.5 * (bmax - b1)), (77400.0, bmax)]
    } else {
        vec![
            (1800.0, b1),
            (tp, bmax),
            (77400.0, bmax - rng.range(0.03, 0.1)),
        ]
    };
    let tb = rng.range(5000f64.ln(), 20000f64.ln()).exp();
    let tau = TauSpec {
        breakpoint_s: tb,
        tau_at_breakpoint_s: rng.range(1500.0, 4000.0),
        mu1: rng.range(0.2, 0.4),
        mu2: rng.range(0.6, 1.0),
    };
    let e0 = rng.range(130.0, 170.0);
    let ea = vec![(1800.0, e0), (tb, e0), (77400.0, rng.range(240.0, 320.0))];
    let spec = RelaxationSpec {
        reference_temperature_k: 633.0,
        series: vec![],
        beta: beta.clone(),
        tau: tau.clone(),
        ea_kj_mol: ea.clone(),
        strain: 0.001,
        modulus_gpa: 90.0,
        span_s: 9000.0,
        sampling_s: ins.sampling_s,
        noise_mpa: Setting::Fixed(0.1),
        ramp_s: ins.ramp_s,
        offset_fraction: ins.offset,
        equilibration_s: ins.hold_s,
        drift_mpa_per_h: ins.drift_mpa_per_h,
        replicates: 1,
    };
    let mut fits = Vec::new();
    for &t_k in &TEMPS {
        let ages: &[f64] = if t_k == 633.0 { &AGES_REF } else { &AGES_OTHER };
        for &t_a in ages {
            let id = format!("{t_k}K_{t_a}s");
            let (raw, _) = raw_curve(&id, &spec, t_k, t_a, &mut rng);
            fits.push(fit_raw(&raw));
        }
    }
    let mut out = CampaignOutcome::default();
    let law = kww_fit::law::aging_law(&fits, 7);
    let at_ref: Vec<&tables::AgingLaw> = law.iter().filter(|l| l.temperature_k == 633.0).collect();
    let z = |est: Option<f64>, se: Option<f64>, truth: f64| match (est, se) {
        (Some(e), Some(s)) if s > 0.0 => Some((e - truth) / s),
        _ => None,
    };
    // mu1, mu2: mu +- 1.96 SE, or t on n - 4 degrees of freedom where the law says its errors
    // rest on the scatter (7 aging times: 3).
    for (seg, truth, name) in [(1, tau.mu1, "mu1"), (2, tau.mu2, "mu2")] {
        let row = at_ref.iter().find(|l| l.segment == seg);
        let tq = if row.is_some_and(|l| l.flags.contains("errors_scaled_by_scatter")) {
            fit::stats::t_quantile(0.975, (AGES_REF.len() - 4) as f64)
        } else {
            1.959_964
        };
        let zz = row.and_then(|l| z(l.mu, l.mu_se, truth));
        out.items.push((name, zz, zz.map(|z| z.abs() <= tq)));
    }
    // Breakpoint and turning point: their intervals, in ln t_a.
    let ci = |est: Option<f64>, lo: Option<f64>, hi: Option<f64>, truth: f64| match (est, lo, hi) {
        (Some(e), Some(l), Some(h)) if h > l => (
            Some((e.ln() - truth.ln()) / ((h.ln() - l.ln()) / 3.92)),
            Some(l <= truth && truth <= h),
        ),
        _ => (None, None),
    };
    if let Some(l) = at_ref.first() {
        let (zb, cb) = ci(
            l.breakpoint_s,
            l.breakpoint_ci_low_s,
            l.breakpoint_ci_high_s,
            tb,
        );
        out.items.push(("breakpoint", zb, cb));
        out.p_value = l.beta_turning_point_p_value;
        if !monotone {
            let (zt, ct) = ci(
                l.beta_turning_point_s,
                l.beta_turning_point_ci_low_s,
                l.beta_turning_point_ci_high_s,
                tp,
            );
            out.items.push(("turning point", zt, ct));
        }
    }
    // E_a at each aging time measured at every temperature.
    for row in activation_energy::activation_energies(&fits, 0.01) {
        let truth = pchip_ln(&ea, row.aging_time_s);
        let zz = z(row.ea_kj_mol, row.ea_se_kj_mol, truth);
        let cov = match (row.ea_ci_low_kj_mol, row.ea_ci_high_kj_mol) {
            (Some(l), Some(h)) => Some(l <= truth && truth <= h),
            _ => None,
        };
        out.items.push(("E_a", zz, cov));
    }
    // tau_c: 200 indents, 2 % censored, per aging time; mean +- 1.96 SD/sqrt(n), FWHM +- 1.96 SE.
    for (mean, fwhm) in [(4.0, 0.20), (4.6, 0.12), (4.6, 0.30)] {
        let sigma = fwhm / indentation_stats::stats::FWHM_PER_SIGMA;
        let vals: Vec<f64> = (0..196)
            .map(|_| mean * (1.0 + sigma * rng.normal()))
            .collect();
        let n = vals.len() as f64;
        let m = vals.iter().sum::<f64>() / n;
        let sd = (vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let zm = (m - mean) / (sd / n.sqrt());
        out.items
            .push(("tau_c mean", Some(zm), Some(zm.abs() <= 1.96)));
        if let Some((f, se)) = indentation_stats::stats::fwhm_of_normalised(&vals) {
            let zf = (f - fwhm) / se;
            out.items
                .push(("tau_c FWHM", Some(zf), Some(zf.abs() <= 1.96)));
        }
    }
    out
}

/// `n` campaigns in parallel (in trial order whatever the thread count).
pub fn campaign_study(seed: u64, n: u64, monotone: bool, ins: &Instrument) -> Vec<CampaignOutcome> {
    (0..n)
        .into_par_iter()
        .map(|k| campaign_trial(seed, k, monotone, ins))
        .collect()
}

/// The quantities in table order.
pub const QUANTITIES: [&str; 7] = [
    "mu1",
    "mu2",
    "breakpoint",
    "turning point",
    "E_a",
    "tau_c mean",
    "tau_c FWHM",
];

/// Summary of one quantity over campaigns.
pub fn quantity(out: &[CampaignOutcome], name: &str) -> Summary {
    let (z, c): (Vec<Option<f64>>, Vec<Option<bool>>) = out
        .iter()
        .flat_map(|o| o.items.iter().filter(|i| i.0 == name).map(|i| (i.1, i.2)))
        .unzip();
    summarize(&z, Some(&c))
}

/// Share of p-values below 0.05.
pub fn rejection_rate(out: &[CampaignOutcome]) -> (f64, usize) {
    let p: Vec<f64> = out.iter().filter_map(|o| o.p_value).collect();
    (
        p.iter().filter(|p| **p < 0.05).count() as f64 / p.len().max(1) as f64,
        p.len(),
    )
}

/// Prints the campaign table (markdown).
pub fn print_table(seed: u64, n: u64) {
    let ins = Instrument::REALISTIC;
    let out = campaign_study(seed, n, false, &ins);
    println!("## Campaigns: {n}, beta rising then falling, settings drawn per test\n");
    println!("| quantity | intervals | mean z | median z | 95 % coverage |");
    println!("|---|---|---|---|---|");
    for q in QUANTITIES {
        let s = quantity(&out, q);
        println!(
            "| {q} | {} | {:+.2} | {:+.2} | {:.1} % |",
            s.n,
            s.mean_z,
            s.median_z,
            100.0 * s.coverage
        );
    }
    let (power, k) = rejection_rate(&out);
    println!(
        "\nTurning-point test (p < 0.05): power {:.1} % of {k} campaigns with a true interior maximum",
        100.0 * power
    );
    let mono = campaign_study(seed + 1, n, true, &ins);
    let (size, k) = rejection_rate(&mono);
    println!(
        "false rejections {:.1} % of {k} campaigns whose beta only rises\n",
        100.0 * size
    );
    println!(
        "(z for the breakpoint and turning point: (ln estimate - ln truth) / (interval width / 3.92); mu1, mu2: +- 1.96 SE, or t on n - 4 = 3 degrees of freedom where flagged errors_scaled_by_scatter)"
    );
}
