//! The readers on real, unmodified instrument exports from ../shared/data/instrument-samples.
//! Skipped, with a message, where that folder is absent (a user's clone has no ../shared).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use formats::{Encoding, Format, ReadOptions, parse_auto};

fn sample(name: &str) -> Option<Vec<u8>> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/instrument-samples");
    if !dir.is_dir() {
        eprintln!(
            "SKIP: {} is absent; the real-file tests need ../shared beside the project",
            dir.display()
        );
        return None;
    }
    Some(std::fs::read(dir.join(name)).unwrap())
}

fn max(v: &[Option<f64>]) -> f64 {
    v.iter()
        .flatten()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
}

#[test]
fn hysitron_classic_text() {
    let Some(bytes) = sample("hysitron-triboscan-txt_RobinSteel0000LC.txt") else {
        return;
    };
    let p = parse_auto(&bytes, ReadOptions::default()).unwrap();
    assert_eq!(p.format, Format::HysitronTxt);
    assert_eq!(p.encoding, Encoding::Windows1252);
    let b = &p.blocks[0];
    assert_eq!(b.rows(), 5304);
    let mut sizes = vec![0usize; 5];
    for s in &b.segment {
        sizes[*s as usize] += 1;
    }
    assert_eq!(sizes, vec![201, 104, 2000, 1000, 1999]);
    let load = b.find(&["Load"]).unwrap();
    assert_eq!(load.unit, "µN");
    assert_eq!(max(&load.values), 3000.027013);
    assert_eq!(max(&b.find(&["depth"]).unwrap().values), 159.745188);
    assert_eq!(b.columns.len(), 5);
}

#[test]
fn hysitron_ti990_text_and_its_reencoded_copy() {
    let Some(bytes) = sample("hysitron-ti990-txt_grain1_6um_indent01_HL_QS_LC.txt") else {
        return;
    };
    let Some(copy) = sample("hysitron-ti990-txt_test_indent_REENCODED-utf8-lf.txt") else {
        return;
    };
    let p = parse_auto(&bytes, ReadOptions::default()).unwrap();
    let q = parse_auto(&copy, ReadOptions::default()).unwrap();
    assert_eq!(p.format, Format::HysitronTxt);
    assert_eq!(q.encoding, Encoding::Utf8);
    let depth = &p.blocks[0].find(&["Depth"]).unwrap().values;
    assert_eq!(depth.len(), 16390);
    let (i, min) = depth.iter().enumerate().map(|(i, d)| (i, d.unwrap())).fold(
        (0, f64::INFINITY),
        |a, (i, d)| if d < a.1 { (i, d) } else { a },
    );
    assert_eq!((i, min), (1004, -994.714075));
    for name in ["Depth", "Load", "Time"] {
        assert_eq!(
            p.blocks[0].find(&[name]).unwrap().values,
            q.blocks[0].find(&[name]).unwrap().values,
            "{name}"
        );
    }
}

#[test]
fn hysitron_hld() {
    let Some(bytes) = sample("hysitron-hld_Exp-50mN_0000.hld") else {
        return;
    };
    let p = parse_auto(&bytes, ReadOptions::default()).unwrap();
    assert_eq!(p.format, Format::HysitronHld);
    let rows: Vec<(String, usize)> = p
        .blocks
        .iter()
        .map(|b| (b.name.clone(), b.rows()))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("Sample Approach".into(), 312),
            ("Drift Measurement".into(), 913),
            ("Test".into(), 1068)
        ]
    );
    let test = &p.blocks[2];
    let names: Vec<&str> = test.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "Time",
            "Disp",
            "Force",
            "LoadCell",
            "PiezoDisp",
            "Disp",
            "Force",
            "Piezo"
        ]
    );
    assert_eq!(test.columns[2].unit, "µN");
    assert_eq!(test.columns[7].unit, "LowV");
    // Segments from the header's begin times: 4 segments, in order.
    assert_eq!(test.segment.first(), Some(&0));
    assert_eq!(test.segment.last(), Some(&3));
    assert!(test.segment.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        p.header
            .iter()
            .any(|(k, v)| k == "Contact Threshold" && v.starts_with("250"))
    );
}

#[test]
fn hysitron_hys_binary_is_refused_by_name() {
    let Some(bytes) = sample("hysitron-hys-binary_Gyroids_Position_177_0000_LC.hys") else {
        return;
    };
    let e = parse_auto(&bytes, ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("Hysitron .hys binary"), "{e}");
}

#[test]
fn ta_universal_analysis_utf16() {
    let Some(bytes) = sample("ta-universal-analysis-txt-utf16_TGA-Q500_example.txt") else {
        return;
    };
    let p = parse_auto(&bytes, ReadOptions::default()).unwrap();
    assert_eq!(p.format, Format::TaUniversal);
    assert_eq!(p.encoding, Encoding::Utf16Le);
    let b = &p.blocks[0];
    assert_eq!(b.columns.len(), 5);
    assert_eq!(b.rows(), 15577);
    let time = b.find(&["Time"]).unwrap();
    assert_eq!(time.unit, "min");
    let (factor, offset) =
        formats::cell::conversion(formats::cell::Quantity::Time, &time.unit).unwrap();
    let last_s = time.values.last().unwrap().unwrap() * factor + offset;
    assert!((last_s - 129.7958 * 60.0).abs() < 1e-9, "{last_s}");
    assert_eq!(time.values[1], Some(0.004166667));
    assert!(
        p.header.iter().filter(|(k, _)| k == "OrgMethod").count() >= 10,
        "repeated keys kept"
    );
}

#[test]
fn trios_text_creep_and_lims() {
    let Some(bytes) = sample("ta-trios-text-export_DHR_creep_experiment.txt") else {
        return;
    };
    let p = parse_auto(&bytes, ReadOptions::default()).unwrap();
    assert_eq!(p.format, Format::TriosText);
    let b = &p.blocks[0];
    assert_eq!(b.rows(), 483);
    for (name, unit) in [("Stress", "MPa"), ("Strain", "%")] {
        let c = b.find(&[name]).unwrap();
        assert_eq!(c.unit, unit);
        assert!(
            c.values.iter().all(Option::is_some),
            "{name} is numeric throughout"
        );
    }
    assert!(
        b.find(&["Date and time"])
            .unwrap()
            .values
            .iter()
            .all(Option::is_none),
        "text cells are missing values"
    );

    let Some(bytes) = sample("ta-trios-lims-export-v0_ARES-G2_frequency_sweep_tts.txt") else {
        return;
    };
    let p = parse_auto(&bytes, ReadOptions::default()).unwrap();
    assert_eq!(p.format, Format::TriosLims);
    assert_eq!(p.blocks.len(), 20);
    assert!(p.blocks.iter().all(|b| b.rows() == 17));
    assert_eq!(p.blocks[0].name, "Frequency sweep (150.0 °C)");
}
