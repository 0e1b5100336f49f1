//! The small seeded coverage study `make test` runs (the full one is `make coverage`).
//!
//! Bands: with n intervals of true coverage 95 %, the observed share has SD sqrt(0.95 0.05 / n);
//! a band of 3 SD around 95 % fails by chance in 0.3 % of seeds and catches a real drop of a few
//! percent. The seed is fixed, so a pass is reproducible; the bands are what justify it.

use coverage::campaign::{campaign_study, quantity, rejection_rate};
use coverage::{Instrument, curve_study, summarize};

fn band(n: usize) -> (f64, f64) {
    let sd = (0.95 * 0.05 / n as f64).sqrt();
    (0.95 - 3.0 * sd, (0.95 + 3.0 * sd).min(1.0))
}

#[test]
fn curve_intervals_hold_the_truth_on_realistic_instrument_timing() {
    let out = curve_study(11, 400, &Instrument::REALISTIC);
    for (q, name) in ["beta", "ln tau", "ln mean tau"].iter().enumerate() {
        let z: Vec<Option<f64>> = out.iter().map(|o| o.z[q]).collect();
        let s = summarize(&z, None);
        let (lo, hi) = band(s.n);
        eprintln!(
            "{name}: mean z {:+.3}, median z {:+.3}, coverage {:.3} (band {lo:.3}-{hi:.3})",
            s.mean_z, s.median_z, s.coverage
        );
        assert_eq!(s.missing, 0, "{name}: fits without an SE");
        assert!(
            s.coverage >= lo && s.coverage <= hi,
            "{name}: coverage {:.3} outside {lo:.3}-{hi:.3}",
            s.coverage
        );
        // Mean z: its SD is 1/sqrt(n) = 0.05; 0.3 is the acceptance's bias bound.
        assert!(s.mean_z.abs() <= 0.3, "{name}: mean z {:+.3}", s.mean_z);
    }
}

#[test]
fn campaign_intervals_hold_the_truth() {
    let out = campaign_study(12, 40, false, &Instrument::REALISTIC);
    for q in [
        "mu1",
        "breakpoint",
        "E_a",
        "tau_c mean",
        "tau_c FWHM",
        "mu2",
        "turning point",
    ] {
        let s = quantity(&out, q);
        let (lo, hi) = band(s.n);
        eprintln!(
            "{q}: {} intervals, coverage {:.3} (band {lo:.3}-{hi:.3}), mean z {:+.2}",
            s.n, s.coverage, s.mean_z
        );
        assert!(s.n >= 40, "{q}: only {} intervals", s.n);
        assert!(
            s.coverage >= lo && s.coverage <= hi,
            "{q}: coverage {:.3} outside {lo:.3}-{hi:.3}",
            s.coverage
        );
    }
    let (power, n) = rejection_rate(&out);
    eprintln!("turning-point test: power {power:.3} over {n} campaigns");
    assert!(power >= 0.9, "power {power}");
}

#[test]
fn the_non_monotonicity_test_keeps_its_size_on_monotone_trends() {
    // 1000 series of 7 aging times whose beta is flat or rises (the null's least favourable
    // case is flat), SEs 0.002 to 0.006, through the same test aging_law runs (199 replicates).
    let ages = [1800.0, 3600.0, 5400.0, 9000.0, 18000.0, 36000.0, 77400.0];
    let mut rejected = 0;
    for k in 0..1000u64 {
        let mut rng = rng::Rng::new(31, k);
        let slope = if k % 2 == 0 {
            0.0
        } else {
            rng.range(0.0, 0.02)
        };
        let fits: Vec<tables::KwwFit> = ages
            .iter()
            .map(|&t: &f64| {
                let se = rng.range(0.002, 0.006);
                tables::KwwFit {
                    aging_time_s: t,
                    beta: Some(0.45 + slope * (t / 1800.0).ln() + se * rng.normal()),
                    beta_se: Some(se),
                    ..Default::default()
                }
            })
            .collect();
        let refs: Vec<&tables::KwwFit> = fits.iter().collect();
        let p = kww_fit::law::non_monotonicity_p_value(&refs, 199, k).expect("seven aging times");
        if p < 0.05 {
            rejected += 1;
        }
    }
    // At most 5 %, plus 3 SD of a binomial share over 1000 (0.021).
    eprintln!("false rejections: {rejected} of 1000");
    assert!(
        rejected <= 71,
        "{rejected} of 1000 monotone series rejected"
    );
}
