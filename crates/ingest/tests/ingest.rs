//! ingest on the demo fixture (checked against truth.json), on broken inputs (every message names
//! the file and line; snapshots), and its determinism whatever the thread count.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ingest::{Params, run};
use tables::{IndentationRaw, RelaxationRaw, read_curves};

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo")
}

fn params(manifest: &Path, out: &Path) -> Params {
    Params {
        manifest: manifest.to_owned(),
        relaxation_raw: out.join("relaxation_raw.parquet"),
        indentation_raw: out.join("indentation_raw.parquet"),
        dsc_raw: Some(out.join("dsc_raw.parquet")),
        dma_sweeps_raw: Some(out.join("dma_sweeps_raw.parquet")),
        skip_bad_files: false,
        parts: false,
        allow_outside: false,
    }
}

#[test]
fn the_demo_campaign_agrees_with_its_truth() {
    let out = tempfile::tempdir().unwrap();
    let s = run(&params(&demo().join("campaign.yaml"), out.path())).unwrap();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo().join("truth.json")).unwrap()).unwrap();
    let rt = truth["relaxation"].as_array().unwrap();
    let it = truth["indentation"].as_array().unwrap();
    assert_eq!(s.relaxation_tests, rt.len());
    assert_eq!(s.indents, it.len());
    let (curves, meta) =
        read_curves::<RelaxationRaw>(&out.path().join("relaxation_raw.parquet")).unwrap();
    assert_eq!(meta.get("agingflow.stage"), Some("ingest"));
    assert_eq!(curves.len(), rt.len());
    for c in &curves {
        let t = rt
            .iter()
            .find(|t| t["test_id"] == c.test_id.as_str())
            .unwrap_or_else(|| panic!("{} not in truth", c.test_id));
        assert_eq!(c.material, t["material"].as_str().unwrap());
        assert_eq!(c.tg_k, t["tg_k"].as_f64());
        assert_eq!(c.temperature_k, t["temperature_k"].as_f64().unwrap());
        assert_eq!(c.aging_time_s, t["aging_time_s"].as_f64().unwrap());
        assert_eq!(c.strain, t["strain"].as_f64());
        assert_eq!(
            c.time_s.len(),
            t["n_points"].as_u64().unwrap() as usize,
            "{}",
            c.test_id
        );
        assert_eq!(c.source_file, t["file"].as_str().unwrap());
        // Units: time in s (UA files are in minutes), temperature in K, strain a fraction.
        let dt = c.time_s[1] - c.time_s[0];
        assert!(
            (dt - t["sampling_s"].as_f64().unwrap()).abs() < 1e-3,
            "{}: dt {dt}",
            c.test_id
        );
        let tk = c.temperature_meas_k[5].unwrap();
        assert!((tk - c.temperature_k).abs() < 0.5, "{tk}");
        let strain_end = c.strain_meas.last().unwrap().unwrap();
        assert!((strain_end - 0.001).abs() < 1e-5, "{strain_end}");
        // The first sample after the ramp holds the true model value within the noise.
        let (sigma0, beta, tau) = (
            t["sigma0_mpa"].as_f64().unwrap(),
            t["beta"].as_f64().unwrap(),
            t["tau_s"].as_f64().unwrap(),
        );
        let (amp, off, step_end) = (
            t["amplitude"].as_f64().unwrap(),
            t["offset"].as_f64().unwrap(),
            t["step_end_s"].as_f64().unwrap(),
        );
        let k = c.time_s.iter().position(|&x| x >= step_end).unwrap();
        let expected = sigma0 * (amp * (-((c.time_s[k] - step_end) / tau).powf(beta)).exp() + off);
        let got = c.stress_mpa[k].unwrap();
        assert!(
            (got - expected).abs() < 5.0 * t["noise_mpa"].as_f64().unwrap(),
            "{}: {got} vs {expected}",
            c.test_id
        );
    }
    // Sorted by (material, temperature, aging time, id).
    let keys: Vec<(f64, f64)> = curves
        .iter()
        .map(|c| (c.temperature_k, c.aging_time_s))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]));
    let (indents, _) =
        read_curves::<IndentationRaw>(&out.path().join("indentation_raw.parquet")).unwrap();
    assert_eq!(indents.len(), it.len());
    for c in &indents {
        let t = it
            .iter()
            .find(|t| t["indent_id"] == c.indent_id.as_str())
            .unwrap();
        assert_eq!(c.aging_time_s, t["aging_time_s"].as_f64().unwrap());
        assert_eq!(c.temperature_k, t["temperature_k"].as_f64().unwrap());
        assert_eq!(c.tip_radius_nm, t["tip_radius_nm"].as_f64().unwrap());
        assert_eq!(c.depth_nm.len(), t["n_points"].as_u64().unwrap() as usize);
        let segs: Vec<u64> = t["segment_points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        if t["format"] == "hysitron-classic" {
            let mut counts = vec![0u64; segs.len()];
            for s in &c.segment {
                counts[*s as usize] += 1;
            }
            assert_eq!(counts, segs, "{}", c.indent_id);
        } else {
            assert!(
                c.segment.iter().all(|s| *s == 0),
                "TI 990 exports carry no segment breaks"
            );
        }
    }
}

#[test]
fn output_is_byte_identical_for_one_and_two_threads() {
    let outs: Vec<(Vec<u8>, Vec<u8>)> = [1, 2]
        .iter()
        .map(|&n| {
            let out = tempfile::tempdir().unwrap();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap();
            pool.install(|| run(&params(&demo().join("campaign.yaml"), out.path())))
                .unwrap();
            (
                std::fs::read(out.path().join("relaxation_raw.parquet")).unwrap(),
                std::fs::read(out.path().join("indentation_raw.parquet")).unwrap(),
            )
        })
        .collect();
    assert!(outs[0] == outs[1], "outputs differ between 1 and 2 threads");
}

/// A small valid UA export, and a small valid Hysitron export.
fn ua(rows: &[[f64; 3]]) -> Vec<u8> {
    let seg: Vec<Vec<f64>> = rows.iter().map(|r| r.to_vec()).collect();
    formats::write::ta_universal(
        "DMA Q800",
        "s",
        &["Time (min)", "Stress (MPa)", "Strain (%)"],
        &[seg],
    )
}

fn utf16(text: &str) -> Vec<u8> {
    formats::text::to_utf16le_bom(text)
}

const UA_HEAD: &str = "CLOSED\nInstrument\tDMA Q800\nNsig\t3\nSig1\tTime (min)\nSig2\tStress (MPa)\nSig3\tStrain (%)\n";

fn hys_txt(n_declared: usize, rows: &str) -> Vec<u8> {
    formats::text::to_windows_1252(&format!(
        "Mon Apr 29 10:41:06 2019\n\nNumber of Points = {n_declared}\nDepth (nm)\tLoad (µN)\tTime (s)\n{rows}"
    ))
}

fn manifest_for(file: &str, kind: &str, extra: &str) -> String {
    match kind {
        "relax" => format!(
            "campaign: broken\nmaterials:\n  G: {{ tg_k: 680 }}\nrelaxation:\n  - file: {file}\n    material: G\n    temperature_k: 633\n    aging_time_s: 1800\n    strain: 0.001\n{extra}"
        ),
        _ => format!(
            "campaign: broken\nmaterials:\n  G: {{ tg_k: 680 }}\nindentation:\n  - files: \"{file}\"\n    material: G\n    temperature_k: 633\n    aging_time_s: 0\n    tip_radius_nm: 360\n{extra}"
        ),
    }
}

/// Runs ingest on one raw file with a manifest; returns the error with the directory redacted.
fn broken(
    name: &str,
    kind: &str,
    bytes: &[u8],
    extra: &str,
    manifest_override: Option<&str>,
) -> String {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(name), bytes).unwrap();
    let m = manifest_override
        .map(str::to_owned)
        .unwrap_or_else(|| manifest_for(name, kind, extra));
    std::fs::write(d.path().join("campaign.yaml"), m).unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = run(&params(&d.path().join("campaign.yaml"), out.path()))
        .expect_err(name)
        .to_string();
    assert!(
        !out.path().join("relaxation_raw.parquet").exists() || kind == "indent",
        "{name}: no output on failure"
    );
    assert_eq!(
        std::fs::read_dir(out.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp."))
            .count(),
        0
    );
    err.replace(&d.path().display().to_string(), "<dir>")
}

#[test]
fn broken_inputs_give_clear_errors_naming_file_and_line() {
    let good_ua_rows = [[0.0, 90.0, 0.1], [0.5, 80.0, 0.1]];
    let good_ua = ua(&good_ua_rows);
    let mut cases: Vec<(&str, String)> = Vec::new();
    // 1. truncated file: the last row stops mid-way.
    let mut t = String::from_utf16_lossy(
        &good_ua[2..]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect::<Vec<_>>(),
    );
    let last_tab = t.trim_end().rfind('\t').unwrap();
    t.truncate(last_tab);
    cases.push(("truncated", broken("t.txt", "relax", &utf16(&t), "", None)));
    // 2. wrong Nsig.
    cases.push((
        "wrong_nsig",
        broken(
            "t.txt",
            "relax",
            &utf16(&format!(
                "{}StartOfData\n0\t1\t2\n",
                UA_HEAD.replace("Nsig\t3", "Nsig\t4")
            )),
            "",
            None,
        ),
    ));
    // 3. text in a numeric column.
    cases.push((
        "text_in_numeric",
        broken(
            "i.txt",
            "indent",
            &hys_txt(2, "1.0\t2.0\t0.0\n1.5\tn/a\t0.005\n"),
            "",
            None,
        ),
    ));
    // 4. decimal comma (CSV, not declared).
    cases.push((
        "decimal_comma",
        broken(
            "t.csv",
            "relax",
            b"t [s];sigma [MPa]\n0;90\n1;89,5\n",
            "    format: csv\n    columns: { time: \"t [s]\", stress: \"sigma [MPa]\" }\n",
            None,
        ),
    ));
    // 5. empty file.
    cases.push(("empty_file", broken("t.txt", "relax", b"", "", None)));
    // 6. missing StartOfData.
    cases.push((
        "missing_startofdata",
        broken("t.txt", "relax", &utf16(UA_HEAD), "", None),
    ));
    // 7. unknown format.
    cases.push((
        "unknown_format",
        broken("t.txt", "relax", b"NOT AN EXPORT\x01\x02", "", None),
    ));
    // 8. manifest glob matching nothing.
    cases.push((
        "glob_matches_nothing",
        broken(
            "i.txt",
            "indent",
            b"x",
            "",
            Some(&manifest_for("nothere/*.txt", "indent", "")),
        ),
    ));
    // 9. missing stress signal.
    let no_stress = formats::write::ta_universal(
        "DMA Q800",
        "s",
        &["Time (min)", "Strain (%)"],
        &[vec![vec![0.0, 0.1]]],
    );
    cases.push((
        "missing_stress",
        broken("t.txt", "relax", &no_stress, "", None),
    ));
    // 10. UTF-16 without BOM and cut to an odd length.
    let mut odd = good_ua[2..].to_vec();
    odd.push(b'x');
    cases.push((
        "utf16_without_bom_odd_length",
        broken("t.txt", "relax", &odd, "", None),
    ));
    // 11. count mismatch.
    cases.push((
        "count_mismatch",
        broken(
            "i.txt",
            "indent",
            &hys_txt(3, "1.0\t2.0\t0.0\n1.5\t2.5\t0.005\n"),
            "",
            None,
        ),
    ));
    // 12. duplicate test id.
    let dup = "campaign: d\nmaterials:\n  G: { tg_k: 680 }\nrelaxation:\n  - file: t.txt\n    id: same\n    material: G\n    temperature_k: 633\n    aging_time_s: 1800\n  - file: t.txt\n    id: same\n    material: G\n    temperature_k: 633\n    aging_time_s: 3600\n";
    cases.push((
        "duplicate_test_id",
        broken("t.txt", "relax", &good_ua, "", Some(dup)),
    ));
    // 13. the .hys binary.
    let mut hys = vec![0x37, 0x56, 0x49, 0x33];
    hys.extend_from_slice(b"Hysitron Raw Data File\0\0\x01");
    cases.push((
        "hys_binary",
        broken(
            "i.hys",
            "indent",
            &hys,
            "",
            Some(&manifest_for("*.hys", "indent", "")),
        ),
    ));
    // 14. a unit agingflow cannot convert.
    let psi = formats::write::ta_universal(
        "DMA Q800",
        "s",
        &["Time (min)", "Stress (psi)"],
        &[vec![vec![0.0, 1.0]]],
    );
    cases.push(("unknown_unit", broken("t.txt", "relax", &psi, "", None)));
    // 15. unknown key in the manifest.
    cases.push((
        "manifest_unknown_key",
        broken("t.txt", "relax", &good_ua, "    temprature_k: 600\n", None),
    ));
    // 16. material not declared.
    cases.push((
        "unknown_material",
        broken(
            "t.txt",
            "relax",
            &good_ua,
            "",
            Some(&manifest_for("t.txt", "relax", "").replace("material: G", "material: Vitreloy")),
        ),
    ));
    // 17. .hld block with fewer rows than declared.
    let hld = "File Version: Hysitron HighLoad FBControls 6.1 Release\r\nTest Data Points: 3\r\nTime_s\tDisp_nm\tForce_µN\r\n0\t1\t2\r\n0.1\t2\t3\r\n";
    cases.push((
        "hld_count_mismatch",
        broken(
            "i.hld",
            "indent",
            &formats::text::to_windows_1252(hld),
            "",
            Some(&manifest_for("*.hld", "indent", "")),
        ),
    ));
    // 18. a CSV mapping that names a missing column.
    cases.push((
        "csv_mapping_missing_column",
        broken(
            "t.csv",
            "relax",
            b"time_s,stress\n0,90\n",
            "    format: csv\n    columns: { time: \"time_s\", stress: \"sigma [MPa]\" }\n",
            None,
        ),
    ));
    // 19. a row with too few values in a Hysitron file.
    cases.push((
        "short_row",
        broken(
            "i.txt",
            "indent",
            &hys_txt(2, "1.0\t2.0\t0.0\n1.5\t2.5\n"),
            "",
            None,
        ),
    ));
    assert!(cases.len() >= 15);
    for (name, msg) in &cases {
        assert!(
            msg.contains("<dir>/") || msg.contains("campaign.yaml"),
            "{name}: names no file: {msg}"
        );
        insta::assert_snapshot!(format!("ingest_error_{name}"), msg);
    }
}

#[test]
fn bad_files_can_be_skipped() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("ind")).unwrap();
    std::fs::write(d.path().join("ind/a.txt"), hys_txt(1, "1.0\t2.0\t0.0\n")).unwrap();
    std::fs::write(d.path().join("ind/b.txt"), b"garbage").unwrap();
    std::fs::write(
        d.path().join("campaign.yaml"),
        manifest_for("ind/*.txt", "indent", ""),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut p = params(&d.path().join("campaign.yaml"), out.path());
    assert!(run(&p).is_err());
    p.skip_bad_files = true;
    let s = run(&p).unwrap();
    assert_eq!((s.indents, s.files_skipped, s.relaxation_tests), (1, 1, 0));
    let (rows, _) = read_curves::<RelaxationRaw>(&p.relaxation_raw).unwrap();
    assert!(
        rows.is_empty(),
        "an empty table with the schema for a campaign with no relaxation"
    );
    // UTF-16LE without a BOM is read (docs/formats.md rule 1).
    let no_bom = &ua(&[[0.0, 90.0, 0.1], [1.0, 85.0, 0.1]])[2..];
    std::fs::write(d.path().join("t.txt"), no_bom).unwrap();
    std::fs::write(
        d.path().join("campaign.yaml"),
        manifest_for("t.txt", "relax", ""),
    )
    .unwrap();
    let p = params(&d.path().join("campaign.yaml"), out.path());
    run(&p).unwrap();
    let (rows, _) = read_curves::<RelaxationRaw>(&p.relaxation_raw).unwrap();
    assert_eq!(rows[0].time_s, vec![0.0, 60.0]);
}

#[test]
fn thermal_scans_of_the_demo_are_read_in_kelvin_with_their_conditions() {
    let out = tempfile::tempdir().unwrap();
    let s = run(&params(&demo().join("campaign.yaml"), out.path())).unwrap();
    assert_eq!((s.dsc_scans, s.dma_sweeps), (2, 2));
    let (dsc, _) = read_curves::<tables::DscRaw>(&out.path().join("dsc_raw.parquet")).unwrap();
    let (dma, _) =
        read_curves::<tables::DmaSweepRaw>(&out.path().join("dma_sweeps_raw.parquet")).unwrap();
    for d in &dsc {
        // 550 to 800 K at 4 points per K; degrees C converted; W/g kept.
        assert_eq!(d.temperature_k.len(), 1001, "{}", d.scan_id);
        assert!((d.temperature_k[0] - 550.0).abs() < 1e-3);
        assert!(d.heat_flow_w_g.iter().all(Option::is_some));
        assert_eq!(d.mass_mg, Some(10.0));
    }
    let aged = dsc
        .iter()
        .find(|d| d.series.as_deref() == Some("aged"))
        .unwrap();
    assert_eq!(aged.aging_time_s, Some(77400.0));
    assert_eq!(aged.aging_temperature_k, Some(633.0));
    for d in &dma {
        let mut f = d.frequency_hz.clone();
        f.sort_by(f64::total_cmp);
        f.dedup();
        assert_eq!(f, vec![0.5, 1.0, 2.0, 5.0, 10.0], "{}", d.scan_id);
        assert!(
            d.storage_modulus_mpa
                .iter()
                .flatten()
                .all(|e| *e > 1e4 && *e < 1e5)
        );
    }
}

#[test]
fn a_scan_without_the_signal_it_needs_is_refused_naming_file_and_signal() {
    // The real TGA export (Universal Analysis, UTF-16): it reads, but it has no heat flow, so as
    // a DSC scan it is refused.
    let real = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/instrument-samples/ta-universal-analysis-txt-utf16_TGA-Q500_example.txt");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut manifests = vec![];
    if real.exists() {
        std::fs::copy(&real, d.join("tga.txt")).unwrap();
        manifests.push(("tga.txt", "dsc", "heat flow"));
    } else {
        eprintln!(
            "SKIP (real file): {} is absent; the real-file case needs ../shared beside the project",
            real.display()
        );
    }
    // A DMA sweep written without a loss modulus.
    std::fs::write(
        d.join("sweep.txt"),
        utf16("CLOSED\nVersion\t2.0\nNsig\t3\nSig1\tTime (min)\nSig2\tTemperature (°C)\nSig3\tStorage Modulus (MPa)\nStartOfData\n0\t300\t90000\n1\t303\t89000\n"),
    )
    .unwrap();
    manifests.push(("sweep.txt", "dma_sweeps", "loss modulus"));
    std::fs::create_dir_all(d.join("out")).unwrap();
    for (file, section, signal) in manifests {
        let extra = if section == "dma_sweeps" {
            "    frequency_hz: 1\n"
        } else {
            ""
        };
        let text = format!(
            "campaign: c\nmaterials:\n  G: {{ tg_k: 680 }}\n{section}:\n  - file: {file}\n    material: G\n    condition: as-cast\n{extra}"
        );
        std::fs::write(d.join("m.yaml"), text).unwrap();
        let err = run(&params(&d.join("m.yaml"), &d.join("out")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(file) && err.contains(&format!("no {signal} signal")),
            "{err}"
        );
        assert!(!d.join("out/dsc_raw.parquet").exists());
    }
}

#[test]
fn a_thermal_section_without_its_output_is_left_unread() {
    // A pipeline written before thermal scans existed keeps working on a manifest that has them.
    let out = tempfile::tempdir().unwrap();
    let mut p = params(&demo().join("campaign.yaml"), out.path());
    p.dsc_raw = None;
    let s = run(&p).unwrap();
    assert_eq!((s.dsc_scans, s.dma_sweeps), (0, 2));
    assert!(!out.path().join("dsc_raw.parquet").exists());
}

/// One campaign written as TRIOS text, TRIOS Excel (.xlsx) and TRIOS JSON (relaxation tests,
/// DSC scans and DMA sweeps) reads to the same curves: the Excel and JSON files carry the values
/// at full precision, the text at 10 significant digits.
#[test]
fn trios_excel_and_json_campaigns_read_like_trios_text() {
    let dir = tempfile::tempdir().unwrap();
    let read = |format: &str| {
        let mut spec = simulate::read_spec(&demo().join("truth-spec.yaml")).unwrap();
        for m in &mut spec.materials {
            if let Some(r) = &mut m.relaxation {
                for s in &mut r.series {
                    s.format = format.to_owned();
                }
            }
            for s in m.dsc.iter_mut().flat_map(|d| d.scans.iter_mut()) {
                s.format = format.to_owned();
            }
            for s in m.dma_sweeps.iter_mut().flat_map(|d| d.scans.iter_mut()) {
                s.format = format.to_owned();
            }
        }
        let at = dir.path().join(format);
        simulate::simulate(&spec, &at.join("campaign"), 1, &|_| {}).unwrap();
        let out = at.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let s = run(&params(&at.join("campaign/campaign.yaml"), &out)).unwrap();
        let (r, _) = read_curves::<RelaxationRaw>(&out.join("relaxation_raw.parquet")).unwrap();
        let (d, _) = read_curves::<tables::DscRaw>(&out.join("dsc_raw.parquet")).unwrap();
        let (m, _) =
            read_curves::<tables::DmaSweepRaw>(&out.join("dma_sweeps_raw.parquet")).unwrap();
        (s, r, d, m)
    };
    let (st, rt, dt, mt) = read("trios-text");
    assert!(st.relaxation_tests > 10 && !dt.is_empty() && !mt.is_empty());
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300);
    for format in ["trios-excel", "trios-json"] {
        let (s, r, d, m) = read(format);
        assert_eq!(s.relaxation_tests, st.relaxation_tests, "{format}");
        assert_eq!(r.len(), rt.len(), "{format}");
        for (a, b) in r.iter().zip(&rt) {
            assert_eq!(a.time_s.len(), b.time_s.len(), "{format} {}", a.test_id);
            assert!(a.source_file.ends_with(if format == "trios-excel" {
                ".xlsx"
            } else {
                ".json"
            }));
            for k in 0..a.time_s.len() {
                assert!(
                    close(a.time_s[k], b.time_s[k]),
                    "{format} {} time {k}",
                    a.test_id
                );
                match (a.stress_mpa[k], b.stress_mpa[k]) {
                    (Some(x), Some(y)) => assert!(close(x, y), "{format} {} stress {k}", a.test_id),
                    (x, y) => assert_eq!(x.is_some(), y.is_some()),
                }
            }
            assert_eq!(a.strain, b.strain);
        }
        assert_eq!(d.len(), dt.len(), "{format}: DSC scans");
        assert_eq!(m.len(), mt.len(), "{format}: DMA sweeps");
        for (a, b) in d.iter().zip(&dt) {
            assert_eq!(a.temperature_k.len(), b.temperature_k.len());
            assert!(
                a.temperature_k
                    .iter()
                    .zip(&b.temperature_k)
                    .all(|(x, y)| close(*x, *y))
            );
        }
        for (a, b) in m.iter().zip(&mt) {
            assert_eq!(a.temperature_k.len(), b.temperature_k.len());
        }
    }
}

/// Broken Excel and JSON exports: each error names the file and the sheet and row, or the line.
#[test]
fn broken_excel_and_json_exports_are_named() {
    use formats::write::{Cell, keysight_xlsx, trios_excel, trios_json, xlsx};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let t = |s: &str| Cell::Text(s.to_owned());
    let good_g200 = keysight_xlsx(&[vec![[1.0, 0.001, 0.0], [2.0, 0.002, 0.1]]]);
    let rows = [vec![1.0, 2.0], vec![2.0, 1.5]];
    let step = formats::write::TriosStep {
        instrument: "DMA 850",
        sample: "s",
        step: "Stress Relaxation",
        names: &["Step time", "Stress"],
        units: &["s", "MPa"],
        rows: &rows,
    };
    let good_trios = trios_excel(&step);
    let good_json = trios_json(&step);
    let no_units = xlsx(&[(
        "Test 001".into(),
        vec![
            vec![
                t("Segment"),
                t("Displacement Into Surface"),
                t("Load On Sample"),
            ],
            vec![t("Surface Marker"), Cell::Num(1.0), Cell::Num(0.001)],
        ],
    )]);
    let trios_no_units = xlsx(&[
        ("Details".into(), vec![vec![t("Filename"), t("x")]]),
        (
            "Stress Relaxation".into(),
            vec![
                vec![t("Stress Relaxation")],
                vec![t("Step time"), t("Stress")],
                vec![Cell::Num(1.0), Cell::Num(2.0)],
            ],
        ),
    ]);
    let json_text = String::from_utf8(good_json.clone()).unwrap();
    // (section, file, bytes, declared format, what the error must say)
    type Case<'a> = (&'a str, &'a str, Vec<u8>, &'a str, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "indentation",
            "cut.xlsx",
            good_g200[..good_g200.len() / 2].to_vec(),
            "auto",
            vec!["cut.xlsx", "Excel workbook"],
        ),
        (
            "indentation",
            "wrong.xlsx",
            good_trios.clone(),
            "keysight-xls",
            vec!["wrong.xlsx", "no `Test NNN` sheet", "Details"],
        ),
        (
            "indentation",
            "nounits.xlsx",
            no_units,
            "auto",
            vec!["nounits.xlsx:2:", "sheet `Test 001`", "units row"],
        ),
        (
            "relaxation",
            "trios-nounits.xlsx",
            trios_no_units,
            "auto",
            vec![
                "trios-nounits.xlsx:3:",
                "sheet `Stress Relaxation`",
                "units row",
            ],
        ),
        (
            "relaxation",
            "cut.json",
            json_text.as_bytes()[..json_text.len() / 2].to_vec(),
            "trios-json",
            vec!["cut.json:", "not a TRIOS JSON export"],
        ),
        (
            "relaxation",
            "norows.json",
            json_text.replace("\"Rows\"", "\"Rowz\"").into_bytes(),
            "trios-json",
            vec!["norows.json:", "missing field `Rows`"],
        ),
    ];
    for (kind, name, bytes, format, want) in cases {
        std::fs::write(d.join(name), &bytes).unwrap();
        let (section, extra) = if kind == "indentation" {
            ("indentation", "  tip_radius_nm: 500\n")
        } else {
            ("relaxation", "  strain: 0.001\n")
        };
        let manifest = d.join(format!("{name}.yaml"));
        std::fs::write(
            &manifest,
            format!(
                "campaign: broken\nmaterials:\n  m:\n    tg_k: 700\n{section}:\n- file: {name}\n  format: {format}\n  material: m\n  temperature_k: 600\n  aging_time_s: 60\n{extra}"
            ),
        )
        .unwrap();
        let out = d.join(format!("out-{name}"));
        std::fs::create_dir_all(&out).unwrap();
        let e = run(&params(&manifest, &out)).unwrap_err().to_string();
        for w in want {
            assert!(e.contains(w), "{name}: {w:?} not in: {e}");
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            copy_tree(&p, &to.join(name));
        } else {
            std::fs::copy(&p, to.join(name)).unwrap();
        }
    }
}

/// `agingflow init` on the demo's raw files, with the demo's naming pattern and the values its
/// file names do not carry, writes a manifest whose ingest output is byte-identical to the
/// shipped manifest's.
#[test]
fn init_on_the_demo_files_reproduces_the_shipped_manifest() {
    use ingest::init::{InitOptions, run as init};
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("campaign");
    for sub in ["dma", "indents", "thermal"] {
        copy_tree(&demo().join(sub), &raw.join(sub));
    }
    // A file init cannot use is listed, not fatal.
    std::fs::write(raw.join("notes.txt"), "measured by A. N. Other\n").unwrap();
    let set = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let opts = InitOptions {
        dir: raw.clone(),
        patterns: vec![
            "{material}/{temperature_k}K_{aging_time_s}s".into(),
            "{material}/{*}_{series}_{temperature_k}K_{aging_time_s}s".into(),
            "{material}/{*}_{series}".into(),
        ],
        set: vec![
            set(
                "campaign",
                "TiZrHfCuNiBe aging at 633 K (synthetic demo, docs/physics.md)",
            ),
            set("tg_k", "680"),
            set("kind", "metallic"),
            set("relaxation.strain", "0.001"),
            set("tip_radius_nm", "360"),
            set("dsc.heating_rate_k_min", "20"),
            set("dsc.mass_mg", "10"),
            set("dma_sweeps.heating_rate_k_min", "3"),
        ],
        ..Default::default()
    };
    let s = init(&opts).unwrap();
    assert_eq!(
        (s.relaxation, s.indentation, s.dsc, s.dma_sweeps, s.todo),
        (19, 6, 2, 2, 0),
        "{s:?}"
    );
    assert_eq!(s.skipped.len(), 1, "{:?}", s.skipped);
    assert!(s.skipped[0].0.ends_with("notes.txt"));
    let written = std::fs::read_to_string(raw.join("campaign.yaml")).unwrap();
    assert!(raw.join("agingflow.yaml").is_file());
    // Never over an existing file without --force.
    let again = init(&opts).unwrap_err().to_string();
    assert!(
        again.contains("already exists") && again.contains("--force"),
        "{again}"
    );
    init(&InitOptions {
        force: true,
        ..opts.clone()
    })
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(raw.join("campaign.yaml")).unwrap(),
        written
    );
    // Not even --force replaces a file init did not write: a raw file given as --out is kept.
    let victim = raw.join("dma/TiZrHfCuNiBe/633K_1800s.txt");
    let before = std::fs::read(&victim).unwrap();
    let refused = init(&InitOptions {
        out: Some(victim.clone()),
        pipeline: Some(dir.path().join("p.yaml")),
        force: true,
        ..opts.clone()
    })
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("not written by `agingflow init`"),
        "{refused}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), before);
    // The same ingest output, byte for byte.
    let (a, b) = (dir.path().join("shipped"), dir.path().join("init"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    run(&params(&demo().join("campaign.yaml"), &a)).unwrap();
    run(&params(&raw.join("campaign.yaml"), &b)).unwrap();
    for t in [
        "relaxation_raw.parquet",
        "indentation_raw.parquet",
        "dsc_raw.parquet",
        "dma_sweeps_raw.parquet",
    ] {
        assert!(
            std::fs::read(a.join(t)).unwrap() == std::fs::read(b.join(t)).unwrap(),
            "{t} differs; the manifest init wrote:\n{written}"
        );
    }
    // Without the settings, the values nobody gave are marked, and the manifest is refused.
    let bare = dir.path().join("bare.yaml");
    let s = init(&InitOptions {
        dir: raw.clone(),
        patterns: vec!["{material}/{temperature_k}K_{aging_time_s}s".into()],
        out: Some(bare.clone()),
        pipeline: Some(dir.path().join("bare-pipeline.yaml")),
        ..Default::default()
    })
    .unwrap();
    assert!(s.todo >= 7, "{s:?}");
    let text = std::fs::read_to_string(&bare).unwrap();
    assert!(text.contains("tip_radius_nm: null  # TODO"), "{text}");
    assert!(campaign::load_with(&bare, true).is_err());
}

/// Runs `f` on another thread; fails the test when it has not finished within `secs` (a walk
/// that loops would otherwise hang the suite).
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .expect("finished in time (a symlink loop?)")
}

// Issue 37: what a user means is taken, or refused with the reason; walks end.
#[test]
fn init_refuses_what_would_lose_the_manifest_and_ends_on_symlink_loops() {
    use ingest::init::{InitOptions, run as init};
    let d = tempfile::tempdir().unwrap();
    let raw = d.path().join("raw");
    std::fs::create_dir_all(raw.join("G")).unwrap();
    let rows = [[0.0, 90.0, 0.1], [0.5, 89.0, 0.1], [1.0, 88.5, 0.1]];
    std::fs::write(raw.join("G/633K_1800s.txt"), ua(&rows)).unwrap();
    std::fs::write(raw.join("G/633K_3600s.txt"), ua(&rows)).unwrap();
    let opts = |out: Option<&str>, pipeline: Option<&str>| InitOptions {
        dir: raw.clone(),
        patterns: vec!["{material}/{temperature_k}K_{aging_time_s}s".into()],
        out: out.map(|o| d.path().join(o)),
        pipeline: pipeline.map(|o| d.path().join(o)),
        force: true,
        ..Default::default()
    };
    // The manifest and the pipeline file on one path: refused, nothing written.
    for (out, pipeline) in [
        (Some("raw/agingflow.yaml"), None),
        (Some("same.yaml"), Some("same.yaml")),
    ] {
        let e = init(&opts(out, pipeline)).unwrap_err().to_string();
        assert!(e.contains("would be the same file"), "{e}");
        assert!(!d.path().join(out.unwrap()).exists());
    }
    // A field named twice: refused with the reason.
    let mut twice = opts(None, None);
    twice.patterns = vec!["{material}/{material}".into()];
    let e = init(&twice).unwrap_err().to_string();
    assert!(e.contains("appears twice"), "{e}");
    // Two links to `.`, one to `..`, and a file whose name holds a newline: init ends, lists
    // each file once and skips the newline with the reason.
    std::os::unix::fs::symlink(".", raw.join("G/s1")).unwrap();
    std::os::unix::fs::symlink(".", raw.join("G/s2")).unwrap();
    std::os::unix::fs::symlink("..", raw.join("G/up")).unwrap();
    std::fs::write(raw.join("G/633K_7200s\nx.txt"), ua(&rows)).unwrap();
    std::fs::hard_link(raw.join("G/633K_1800s.txt"), raw.join("copy.txt")).unwrap();
    let o = opts(None, None);
    let s = within(60, move || init(&o)).unwrap();
    assert_eq!(s.relaxation, 2, "{s:?}");
    assert!(
        s.skipped
            .iter()
            .any(|(f, why)| f.contains("\\n") && why.contains("line break")),
        "{:?}",
        s.skipped
    );
}

#[test]
fn manifests_refuse_overflow_line_breaks_and_one_file_listed_twice() {
    let d = tempfile::tempdir().unwrap();
    // `1e400` in a CSV stress cell: refused like `nan`, naming file and line.
    std::fs::write(
        d.path().join("t.csv"),
        "t [s];sigma [MPa]\n0;90\n1;1e400\n2;88\n",
    )
    .unwrap();
    let m = manifest_for(
        "t.csv",
        "relax",
        "    format: csv\n    columns: { time: \"t [s]\", stress: \"sigma [MPa]\" }\n",
    );
    std::fs::write(d.path().join("campaign.yaml"), &m).unwrap();
    let out = tempfile::tempdir().unwrap();
    let e = run(&params(&d.path().join("campaign.yaml"), out.path()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t.csv") && e.contains("1e400") && e.contains(":3"),
        "{e}"
    );

    // The same file by its path and through a symlink, or a hard link: refused naming both.
    let rows = [[0.0, 90.0, 0.1], [0.5, 89.0, 0.1], [1.0, 88.5, 0.1]];
    std::fs::write(d.path().join("a.txt"), ua(&rows)).unwrap();
    type Link = fn(&Path, &Path) -> std::io::Result<()>;
    let links: [(&str, Link); 2] = [
        ("symlink", |a, b| std::os::unix::fs::symlink(a, b)),
        ("hard link", |a, b| std::fs::hard_link(a, b)),
    ];
    for (how, make) in links {
        let _ = std::fs::remove_file(d.path().join("b.txt"));
        make(&d.path().join("a.txt"), &d.path().join("b.txt")).unwrap();
        let twice = format!(
            "{}  - file: b.txt\n    material: G\n    temperature_k: 633\n    aging_time_s: 3600\n    strain: 0.001\n",
            manifest_for("a.txt", "relax", "")
        );
        std::fs::write(d.path().join("campaign.yaml"), twice).unwrap();
        let e = run(&params(&d.path().join("campaign.yaml"), out.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("the same file as `a.txt`"), "{how}: {e}");
    }

    // A file whose name holds a line break, reached by a glob: refused, named.
    let g = d.path().join("g");
    std::fs::create_dir_all(&g).unwrap();
    std::fs::write(g.join("x\ny.txt"), ua(&rows)).unwrap();
    let globbed = "campaign: c\nmaterials:\n  G: { tg_k: 680 }\nrelaxation:\n  - files: \"g/*.txt\"\n    material: G\n    temperature_k: 633\n    aging_time_s: 1800\n    strain: 0.001\n";
    std::fs::write(d.path().join("campaign.yaml"), globbed).unwrap();
    let e = run(&params(&d.path().join("campaign.yaml"), out.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("line break") && e.contains("x\\ny.txt"), "{e}");
}
