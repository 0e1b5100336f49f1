//! temp
use coverage::*;
fn main() {
    for (name, ins) in [
        ("all", Instrument::REALISTIC),
        (
            "cut",
            Instrument {
                tau_over_span: [2.0, 6.0],
                ..Instrument::REALISTIC
            },
        ),
        (
            "drift",
            Instrument {
                drift_mpa_per_h: Setting::Range([0.05, 0.5]),
                ..Instrument::REALISTIC
            },
        ),
    ] {
        let out = curve_study(2026, 1000, &ins);
        for flag in [
            "ill_conditioned",
            "tau_extrapolated",
            "not_kww",
            "autocorrelated_residuals",
        ] {
            let v: Vec<&CurveOutcome> = out
                .iter()
                .filter(|o| o.status == "ok" && o.flags.split(',').any(|f| f == flag))
                .collect();
            let cov = |q: usize| {
                v.iter()
                    .filter(|o| o.z[q].is_some_and(|z| z.abs() <= 1.96))
                    .count() as f64
                    / v.len().max(1) as f64
            };
            println!(
                "{name} {flag}: n={} beta {:.3} lntau {:.3}",
                v.len(),
                cov(0),
                cov(1)
            );
        }
    }
}
