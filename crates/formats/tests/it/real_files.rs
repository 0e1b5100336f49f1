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

/// Row `k` of a block, every column.
fn row(b: &formats::Block, k: usize) -> Vec<Option<f64>> {
    b.columns.iter().map(|c| c.values[k]).collect()
}

/// The first header value under `key`.
fn header<'a>(p: &'a formats::Parsed, key: &str) -> Option<&'a str> {
    p.header
        .iter()
        .find(|(a, _)| a == key)
        .map(|(_, v)| v.as_str())
}

/// Values read from the files by another route (Python's xlrd 2.0 and json, run once) and copied
/// here.
#[test]
fn keysight_g200_nanosuite_excel() {
    let Some(bytes) = sample("agilent-g200-xls_Popin.xls") else {
        return;
    };
    assert_eq!(formats::sniff(&bytes).unwrap(), Format::KeysightXls);
    let p = parse_auto(&bytes, ReadOptions::default()).unwrap();
    assert_eq!(p.format, Format::KeysightXls);
    let names: Vec<&str> = p.blocks.iter().map(|b| b.name.as_str()).collect();
    let want: Vec<String> = (1..=12).map(|i| format!("Test {i:03}")).collect();
    assert_eq!(names, want);
    let rows: Vec<usize> = p.blocks.iter().map(|b| b.rows()).collect();
    assert_eq!(
        rows,
        [380, 395, 375, 390, 377, 381, 375, 376, 379, 376, 384, 375]
    );
    let t1 = &p.blocks[0];
    let cols: Vec<(&str, &str)> = t1
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.unit.as_str()))
        .collect();
    assert_eq!(
        cols,
        [
            ("Displacement Into Surface", "nm"),
            ("Load On Sample", "mN"),
            ("Time On Sample", "s"),
            ("Harmonic Contact Stiffness", "N/m"),
            ("Hardness", "GPa"),
            ("Modulus", "GPa"),
        ]
    );
    // The first row: Hardness and Modulus are 1.7976931348623157e308 (invalid), dropped.
    assert_eq!(
        row(t1, 0),
        [
            Some(3.1883000387210036),
            Some(0.002927425567609017),
            Some(0.0),
            Some(151.18371534757296),
            None,
            None
        ]
    );
    assert_eq!(
        row(t1, 379)[..3],
        [
            Some(996.9236085339262),
            Some(95.10316156281021),
            Some(149.1999999999985)
        ]
    );
    // Excel row 101 of `Test 005`.
    let t5 = &p.blocks[4];
    assert_eq!(t5.lines[98], 101);
    assert_eq!(
        row(t5, 98),
        [
            Some(22.359080768906903),
            Some(0.14668045462702148),
            Some(35.99999999999895),
            Some(34047.631479292744),
            Some(5.801770644078256),
            Some(206.93924189527533)
        ]
    );
    // The `Surface Marker` row starts segment 0; the `END` marker below the data starts none.
    assert!(t1.segment.iter().all(|&s| s == 0));
    let get = |k: &str| header(&p, k);
    assert_eq!(
        get("Results: Test 1: Avg Modulus [100-200 nm] (GPa)"),
        Some("330.9")
    );
    assert_eq!(get("Required Inputs: Test 1: Poissons Ratio"), Some("0.3"));
}

#[test]
fn trios_excel_export() {
    let Some(bytes) = sample("ta-trios-excel-export_TGA_example.xls") else {
        return;
    };
    assert_eq!(formats::sniff(&bytes).unwrap(), Format::TriosExcel);
    let p = parse_auto(&bytes, ReadOptions::default()).unwrap();
    assert_eq!(p.format, Format::TriosExcel);
    let names: Vec<&str> = p.blocks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Isothermal 60.0 min",
            "Isothermal 5.0 min",
            "Ramp 2.00 °C/min to 550.00 °C",
            "Isothermal 20.0 min",
            "Ramp 100.00 °C/min to 30.00 °C"
        ]
    );
    let rows: Vec<usize> = p.blocks.iter().map(|b| b.rows()).collect();
    assert_eq!(rows, [3600, 300, 15646, 1200, 1166]);
    for b in &p.blocks {
        let cols: Vec<(&str, &str)> = b
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.unit.as_str()))
            .collect();
        // Two `Weight` columns, told apart by unit.
        assert_eq!(
            cols,
            [
                ("Time", "min"),
                ("Temperature", "°C"),
                ("Weight", "mg"),
                ("Weight", "%")
            ]
        );
    }
    assert_eq!(
        row(&p.blocks[0], 0),
        [Some(0.01), Some(35.38), Some(7.5895), Some(100.3034)]
    );
    assert_eq!(p.blocks[0].lines[0], 4);
    assert_eq!(
        row(&p.blocks[2], 15645),
        [Some(325.76), Some(548.93), Some(0.5546), Some(7.3293)]
    );
    let get = |k: &str| header(&p, k);
    assert_eq!(get("Instrument name"), Some("TGA"));
    assert_eq!(get("Signal #3"), Some("Weight (mg)"));
    assert_eq!(get("Sample Mass"), Some("7.567 mg"));
}

#[test]
fn trios_json_export() {
    let Some(bytes) = sample("ta-trios-json-export_ARES-G2_strain_sweep.json") else {
        return;
    };
    assert_eq!(formats::sniff(&bytes).unwrap(), Format::TriosJson);
    let p = parse_auto(&bytes, ReadOptions::default()).unwrap();
    assert_eq!(p.format, Format::TriosJson);
    assert_eq!(p.blocks.len(), 1);
    let b = &p.blocks[0];
    assert_eq!(b.name, "Amplitude - 1");
    assert_eq!(b.rows(), 2);
    // 58 column headers, one of them the step id.
    assert_eq!(b.columns.len(), 57);
    assert_eq!(
        (b.columns[0].name.as_str(), b.columns[0].unit.as_str()),
        ("Raw phase (normal force)", "°")
    );
    let col = |n: &str| b.columns.iter().find(|c| c.name == n).unwrap();
    assert_eq!(col("Stress").unit, "MPa");
    assert_eq!(
        col("Stress").values,
        [Some(9.90844424813986e-09), Some(4.87018516287208e-09)]
    );
    assert_eq!(col("Oscillation strain").unit, "%");
    assert_eq!(
        col("Step time").values,
        [Some(8.04050540924072), Some(17.1390018463135)]
    );
    assert_eq!(
        col("Temperature").values,
        [Some(29.9974994659424), Some(29.996000289917)]
    );
    // A header without values in the rows, and text columns, read as missing.
    assert_eq!(col("Viscosity").values, [None, None]);
    assert_eq!(col("Status bits").values, [None, None]);
    let get = |k: &str| header(&p, k);
    assert_eq!(get("Sample name"), Some("ARES-G2 - Strain Sweep on PDMS"));
}
