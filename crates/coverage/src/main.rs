//! agingflow-coverage: the coverage study's tables (markdown on stdout), for `make coverage`.
//!
//! Usage: agingflow-coverage [CURVES [CAMPAIGNS [SCENARIO_CAMPAIGNS [SPECTRA]]]]   (defaults
//! 1000, 200, 200 per scenario and 1000 unimodal plus 1000 bimodal spectra)

use coverage::{Instrument, Setting, TruthShape, curve_study, summarize};

/// One table row: bias and coverage over the curves whose fit is `ok` (what a person may use),
/// with how many were not `ok` and how many the fit flagged for a drift.
fn row(name: &str, all: &[coverage::CurveOutcome]) {
    let out: Vec<&coverage::CurveOutcome> = all
        .iter()
        .filter(|o| o.status == tables::Status::Ok)
        .collect();
    let mut cells = vec![format!("| {name} | {} |", all.len())];
    for q in 0..3 {
        let z: Vec<Option<f64>> = out.iter().map(|o| o.z[q]).collect();
        let s = summarize(&z, None);
        cells.push(format!(
            " {:+.2} / {:+.2} | {:.1} % |",
            s.mean_z,
            s.median_z,
            100.0 * s.coverage
        ));
    }
    let has = |o: &coverage::CurveOutcome, f: &str| o.flags.split(',').any(|x| x == f);
    let plain = out.iter().filter(|o| o.model == "kww").count();
    let marked = out
        .iter()
        .filter(|o| has(o, "autocorrelated_residuals"))
        .count();
    let drift = out.iter().filter(|o| has(o, "drift")).count();
    let unmarked: Vec<Option<f64>> = out
        .iter()
        .filter(|o| !has(o, "autocorrelated_residuals"))
        .map(|o| o.z[0])
        .collect();
    let u = summarize(&unmarked, None);
    let mut se: Vec<f64> = out.iter().filter_map(|o| o.beta_se).collect();
    se.sort_by(f64::total_cmp);
    let median_se = se.get(se.len() / 2).copied().unwrap_or(f64::NAN);
    cells.push(format!(
        " {plain} | {marked} | {:.1} % | {drift} | {} | {median_se:.4} |",
        100.0 * u.coverage,
        all.len() - out.len()
    ));
    println!("{}", cells.concat());
}

fn main() {
    let mut args = std::env::args().skip(1);
    let curves: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let campaigns: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let scenario_campaigns: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let spectra: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    println!(
        "## Curves: {curves} per row, settings drawn at random (ramp 1-8 s, sampling 0.5-5 s, hold 10-60 s, offset 0-8 %) unless the row fixes one\n"
    );
    println!(
        "| settings | curves | beta: mean / median z | beta: 95 % coverage | ln tau: mean / median z | ln tau: coverage | ln <tau>: mean / median z | ln <tau>: coverage | plain kww chosen | flagged autocorrelated | beta coverage, unflagged curves | flagged drift | not ok (left out) | median beta SE |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let r = Instrument::REALISTIC;
    let strata = [
        ("all drawn", r),
        (
            "sampling 5 s",
            Instrument {
                sampling_s: Setting::Fixed(5.0),
                ..r
            },
        ),
        (
            "ramp 8 s",
            Instrument {
                ramp_s: Setting::Fixed(8.0),
                ..r
            },
        ),
        (
            "no offset",
            Instrument {
                offset: Setting::Fixed(0.0),
                ..r
            },
        ),
        (
            "8 % offset",
            Instrument {
                offset: Setting::Fixed(0.08),
                ..r
            },
        ),
        (
            "drift 0.05-0.5 MPa/h",
            Instrument {
                drift_mpa_per_h: Setting::Range([0.05, 0.5]),
                ..r
            },
        ),
        (
            "drift -0.5 to -0.05 MPa/h",
            Instrument {
                drift_mpa_per_h: Setting::Range([-0.5, -0.05]),
                ..r
            },
        ),
        (
            "drift 0.05-0.5 MPa/h, drift term off (0)",
            Instrument {
                drift_mpa_per_h: Setting::Range([0.05, 0.5]),
                declared_drift_mpa_per_h: Some(0.0),
                ..r
            },
        ),
        (
            "drift -0.5 to -0.05 MPa/h, drift term off (0)",
            Instrument {
                drift_mpa_per_h: Setting::Range([-0.5, -0.05]),
                declared_drift_mpa_per_h: Some(0.0),
                ..r
            },
        ),
        (
            "all drawn, log-time weights",
            Instrument {
                weighting: kww_fit::Weighting::LogTime,
                ..r
            },
        ),
        (
            "log-normal ln tau, SD 0.6-1.5",
            Instrument {
                truth: TruthShape::LogNormal([0.6, 1.5]),
                ..r
            },
        ),
        (
            "log-normal ln tau, SD 0.6-1.5, log-time weights",
            Instrument {
                truth: TruthShape::LogNormal([0.6, 1.5]),
                weighting: kww_fit::Weighting::LogTime,
                ..r
            },
        ),
        (
            "two modes 1.5 decades apart, half each",
            Instrument {
                truth: TruthShape::TwoModes {
                    decades: 1.5,
                    weight: 0.5,
                },
                ..r
            },
        ),
        (
            "window cut: tau 2-6 x span",
            Instrument {
                tau_over_span: [2.0, 6.0],
                ..r
            },
        ),
        (
            "window cut: tau 2-6 x span, drift 0.05-0.5 MPa/h",
            Instrument {
                tau_over_span: [2.0, 6.0],
                drift_mpa_per_h: Setting::Range([0.05, 0.5]),
                ..r
            },
        ),
        (
            "no drift, drift term off (0)",
            Instrument {
                declared_drift_mpa_per_h: Some(0.0),
                ..r
            },
        ),
        // Last, so that the rows above keep their seeds.
        (
            "window cut: tau 2-6 x span, drift term off (0)",
            Instrument {
                tau_over_span: [2.0, 6.0],
                declared_drift_mpa_per_h: Some(0.0),
                ..r
            },
        ),
    ];
    // CURVES = 0 leaves the curve table's rows out.
    for (k, (name, ins)) in strata.iter().enumerate().filter(|_| curves > 0) {
        let out = curve_study(2026 + k as u64, curves, ins);
        row(name, &out);
        if k == 0 {
            let g: Vec<_> = out
                .iter()
                .filter(|o| o.glass == coverage::Glass::Metallic)
                .cloned()
                .collect();
            row("  metallic only", &g);
            let g: Vec<_> = out
                .iter()
                .filter(|o| o.glass == coverage::Glass::Polymer)
                .cloned()
                .collect();
            row("  polymer only", &g);
        }
    }
    if campaigns > 0 {
        println!();
        coverage::campaign::print_table(2026, campaigns);
    }
    if scenario_campaigns > 0 {
        println!();
        coverage::scenarios::print_table(2026, scenario_campaigns);
        coverage::scenarios::print_table_curves(2026, scenario_campaigns);
    }
    if spectra > 0 {
        coverage::peaks::print_table(2026, spectra);
        coverage::bands::print_table(2026, spectra);
    }
}
