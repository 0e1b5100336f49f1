//! Writers of the instrument formats, byte-compatible with the real exports, for the simulator
//! (and for round-trip tests of the readers). Deterministic: the same values give the same bytes.

use std::fmt::Write as _;

use crate::text::{to_utf16le_bom, to_windows_1252};

/// A number with `sig` significant digits, as TA and Hysitron software print them
/// (`129.7958`, `0.01250000`, `6.66667E-4`).
pub fn sig(x: f64, sig: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{:.*}", sig.saturating_sub(1), 0.0);
    }
    let mag = x.abs().log10().floor() as i32;
    if (-3..7).contains(&mag) {
        let decimals = (sig as i32 - 1 - mag).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.*E}", sig.saturating_sub(1))
    }
}

/// A Universal Analysis export: `signals` are the `SigN` names (`Time (min)` first); `segments`
/// are runs of rows, each preceded by a marker row with a negative time, as the instrument writes.
pub fn ta_universal(
    instrument: &str,
    sample: &str,
    signals: &[&str],
    segments: &[Vec<Vec<f64>>],
) -> Vec<u8> {
    ta_universal_module(
        instrument,
        "DMA Stress Relaxation",
        &[
            "1: Equilibrate at aging temperature",
            "2: Isothermal (aging)",
            "3: Strain step, then data storage on",
        ],
        sample,
        signals,
        segments,
    )
}

/// [`ta_universal`] with the module and method lines of another experiment (a DSC or a DMA
/// temperature ramp).
pub fn ta_universal_module(
    instrument: &str,
    module: &str,
    methods: &[&str],
    sample: &str,
    signals: &[&str],
    segments: &[Vec<Vec<f64>>],
) -> Vec<u8> {
    let mut t = String::new();
    let _ = writeln!(t, "CLOSED");
    let _ = writeln!(t, "Version\t2.0");
    let _ = writeln!(t, "Language\tEnglish");
    let _ = writeln!(t, "Instrument\t{instrument}");
    let _ = writeln!(t, "Module\t{module}");
    let _ = writeln!(t, "Sample\t{sample}");
    let _ = writeln!(t, "Size\t10.000\t0.549\t0.043\tmm");
    let _ = writeln!(t, "Nsig\t{}", signals.len());
    for (i, s) in signals.iter().enumerate() {
        let _ = writeln!(t, "Sig{}\t{s}", i + 1);
    }
    let _ = writeln!(t, "Date\t2026-01-15");
    let _ = writeln!(t, "Time\t09:00:00");
    for m in methods {
        let _ = writeln!(t, "OrgMethod\t{m}");
    }
    let _ = writeln!(t, "OrgFile\tC:\\TA\\Data\\DMA\\{sample}.001");
    let _ = writeln!(t, "StartOfData");
    for (k, seg) in segments.iter().enumerate() {
        let mut marker = vec![-3.0 + k as f64 * 0.0; signals.len()];
        if let Some(m) = marker.get_mut(1) {
            *m = (k + 1) as f64;
        }
        t.push_str(
            &marker
                .iter()
                .map(|v| format!("{v:.6}"))
                .collect::<Vec<_>>()
                .join("\t"),
        );
        t.push('\n');
        for row in seg {
            t.push_str(
                &row.iter()
                    .map(|v| sig(*v, 7))
                    .collect::<Vec<_>>()
                    .join("\t"),
            );
            t.push('\n');
        }
    }
    to_utf16le_bom(&t)
}

/// A TRIOS text export with one step.
pub fn trios_text(
    instrument: &str,
    sample: &str,
    step: &str,
    names: &[&str],
    units: &[&str],
    rows: &[Vec<f64>],
) -> Vec<u8> {
    let mut t = String::new();
    let _ = writeln!(t, "Filename\t{sample}.tri");
    let _ = writeln!(t, "Instrument name\t{instrument}");
    let _ = writeln!(t, "Operator\tagingflow-simulate");
    let _ = writeln!(t, "rundate\t1/15/2026");
    let _ = writeln!(t, "Sample name\t{sample}");
    let _ = writeln!(t, "proceduresegments\t{step}#End of test");
    let _ = writeln!(t, "[File Parameters]");
    let _ = writeln!(t, "Instrument type\tDMA 850");
    let _ = writeln!(t, "[step]");
    let _ = writeln!(t, "{step} - 1");
    let _ = writeln!(t, "{}", names.join("\t"));
    let _ = writeln!(t, "{}", units.join("\t"));
    for row in rows {
        t.push_str(
            &row.iter()
                .map(|v| sig(*v, 10))
                .collect::<Vec<_>>()
                .join("\t"),
        );
        t.push('\n');
    }
    t.into_bytes()
}

/// A classic TriboScan text export (Windows-1252, LF, a blank line between load-function
/// segments); each row is depth (nm), load (µN), time (s), depth (V), load (V).
pub fn hysitron_classic(date: &str, segments: &[Vec<[f64; 5]>]) -> Vec<u8> {
    let n: usize = segments.iter().map(Vec::len).sum();
    let mut t = format!(
        "{date}\n\nNumber of Points = {n}\nDepth (nm)\tLoad (µN)\tTime (s)\tDepth (V)\tLoad (V)\n"
    );
    for (k, seg) in segments.iter().enumerate() {
        if k > 0 {
            t.push('\n');
        }
        for r in seg {
            let _ = writeln!(
                t,
                "{:.6}\t{:.6}\t{:.6}\t{:.6}\t{:.6}",
                r[0], r[1], r[2], r[3], r[4]
            );
        }
    }
    to_windows_1252(&t)
}

/// A TI 990 / TriboScan 12 text export: mixed line ends as the instrument writes them, every data
/// row ended by a bare CR; rows are depth (nm), load (µN), time (s).
pub fn hysitron_ti990(date: &str, rows: &[[f64; 3]]) -> Vec<u8> {
    let mut t = format!(
        "{date}\n\n\rNumber of Points = {}\n\rDepth (nm)\tLoad (µN)\tTime (s)\r",
        rows.len()
    );
    for r in rows {
        let _ = write!(t, "{:.6}\t{:.6}\t{:.6}\r", r[0], r[1], r[2]);
    }
    to_windows_1252(&t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, ReadOptions, parse_auto};

    #[test]
    fn significant_digits() {
        assert_eq!(sig(129.79581, 7), "129.7958");
        assert_eq!(sig(0.0125, 7), "0.01250000");
        assert_eq!(sig(6.66667e-4, 6), "6.66667E-4");
        assert_eq!(sig(-3.0, 7), "-3.000000");
        assert_eq!(sig(0.0, 7), "0.000000");
    }

    #[test]
    fn every_writer_round_trips_through_its_reader() {
        let seg = vec![
            vec![0.5, 633.0 - 273.15, 90.0, 0.1, 90000.0],
            vec![1.0, 359.85, 80.0, 0.1, 80000.0],
        ];
        let ua = ta_universal(
            "DMA Q800 V21.3 Build 96",
            "s1",
            &[
                "Time (min)",
                "Temperature (°C)",
                "Stress (MPa)",
                "Strain (%)",
                "Relaxation Modulus (MPa)",
            ],
            &[seg.clone(), seg],
        );
        let p = parse_auto(&ua, ReadOptions::default()).unwrap();
        assert_eq!(p.format, Format::TaUniversal);
        let b = &p.blocks[0];
        assert_eq!(b.rows(), 4);
        assert_eq!(b.segment, vec![0, 0, 1, 1]);
        assert_eq!(b.find(&["Stress"]).unwrap().values[1], Some(80.0));
        assert_eq!(b.find(&["temperature"]).unwrap().unit, "°C");

        let tr = trios_text(
            "DMA 850",
            "s2",
            "Stress Relaxation",
            &["Step time", "Stress"],
            &["s", "MPa"],
            &[vec![1.0, 2.0], vec![3.5, 4.25]],
        );
        let p = parse_auto(&tr, ReadOptions::default()).unwrap();
        assert_eq!(p.format, Format::TriosText);
        assert_eq!(
            p.blocks[0].find(&["stress"]).unwrap().values,
            vec![Some(2.0), Some(4.25)]
        );

        let cl = hysitron_classic(
            "Mon Apr 29 10:41:06 2019",
            &[
                vec![[1.0, 2.0, 0.0, 0.1, 0.2]],
                vec![[3.0, 4.0, 0.005, 0.1, 0.2], [5.0, 6.0, 0.01, 0.1, 0.2]],
            ],
        );
        let p = parse_auto(&cl, ReadOptions::default()).unwrap();
        assert_eq!(p.format, Format::HysitronTxt);
        assert_eq!(p.blocks[0].segment, vec![0, 1, 1]);
        assert_eq!(p.blocks[0].find(&["Load"]).unwrap().unit, "µN");

        let ti = hysitron_ti990(
            "Mon Apr 14 16:00:13 2025",
            &[[-4.5, 2000.0, 0.0], [-4.4, 2001.0, 0.005]],
        );
        let p = parse_auto(&ti, ReadOptions::default()).unwrap();
        assert_eq!(
            p.blocks[0].find(&["depth"]).unwrap().values,
            vec![Some(-4.5), Some(-4.4)]
        );
    }
}
