//! A small stage program for the runner's tests: writes a `kww_fits` table with some bad rows.
//!
//! `agingflow-testkit table --out PATH --rows N --bad K` writes N fits, the first K of them with
//! status `fit_failed` and r_squared 0.5.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if args.first().map(String::as_str) != Some("table") {
        eprintln!("usage: agingflow-testkit table --out PATH --rows N --bad K");
        return ExitCode::from(2);
    }
    let (Some(out), Some(rows), Some(bad)) = (get("--out"), get("--rows"), get("--bad")) else {
        eprintln!("usage: agingflow-testkit table --out PATH --rows N --bad K");
        return ExitCode::from(2);
    };
    let (Ok(rows), Ok(bad)) = (rows.parse::<usize>(), bad.parse::<usize>()) else {
        eprintln!("--rows and --bad take whole numbers");
        return ExitCode::from(2);
    };
    let fits: Vec<tables::KwwFit> = (0..rows)
        .map(|i| tables::KwwFit {
            test_id: format!("dma/t{i:03}"),
            material: "TestGlass".into(),
            temperature_k: 633.0,
            aging_time_s: 1800.0 * (i + 1) as f64,
            model: "kww".into(),
            r_squared: Some(if i < bad { 0.5 } else { 0.999 }),
            status: if i < bad {
                "fit_failed".into()
            } else {
                "ok".into()
            },
            ..Default::default()
        })
        .collect();
    let prov = tables::Provenance::new("testkit", serde_json::json!({"rows": rows, "bad": bad}));
    match tables::write_rows(&PathBuf::from(out), fits, &prov) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
