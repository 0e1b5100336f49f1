//! indentation-stats against known truth: Hertz recovery, pop-in detection, tau_c, the group
//! statistics, the demo campaign, and a real Hysitron file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use indentation_stats::indent::{IndentOptions, analyze, first_popin};
use indentation_stats::stats::{fwhm_of_normalised, group_stats, weibull_mle};
use physics::indentation::{hertz_depth_nm, tau_c_gpa};
use rng::Rng;
use tables::{Indent, IndentationRaw};

fn raw(depth: Vec<f64>, load: Vec<f64>) -> IndentationRaw {
    let n = depth.len();
    IndentationRaw {
        indent_id: "i".into(),
        material: "G".into(),
        temperature_k: 633.0,
        aging_time_s: 0.0,
        tip_radius_nm: 360.0,
        source_file: "i".into(),
        segment: vec![1; n],
        time_s: (0..n).map(|k| k as f64 / 200.0).collect(),
        depth_nm: depth,
        load_un: load,
    }
}

/// Load control at 600 uN/s and 200 Hz to `max_un`: Hertz (E_r, R = 360 nm, h0) with bursts
/// (load, size nm, samples) at constant load, and Gaussian noise. Returns the curve and, per
/// burst, the noise-free load just before it.
fn loading(
    er: f64,
    h0: f64,
    bursts: &[(f64, f64, usize)],
    max_un: f64,
    noise: (f64, f64),
    rng: &mut Rng,
) -> (IndentationRaw, Vec<f64>) {
    let (mut depth, mut load, mut truth) = (vec![], vec![], vec![]);
    let dp = 600.0 / 200.0;
    let mut extra = 0.0;
    let mut next = 0;
    let mut p = 0.0;
    while p <= max_un {
        let d = h0 + hertz_depth_nm(p, er, 360.0) + extra;
        depth.push(d + noise.1 * rng.normal());
        load.push(p + noise.0 * rng.normal());
        if let Some(&(pb, size, w)) = bursts.get(next)
            && p + dp > pb
        {
            truth.push(p);
            for j in 1..=w {
                depth.push(d + size * j as f64 / w as f64 + noise.1 * rng.normal());
                load.push(p + noise.0 * rng.normal());
            }
            extra += size;
            next += 1;
        }
        p += dp;
    }
    (raw(depth, load), truth)
}

#[test]
fn hertz_recovers_the_modulus_and_contact() {
    // Noise-free: to 1e-6.
    let mut rng = Rng::new(1, 0);
    let (c, _) = loading(100.0, 3.0, &[(150.0, 5.0, 2)], 300.0, (0.0, 0.0), &mut rng);
    let r = analyze(&c, &IndentOptions::default());
    assert_eq!(r.status, "ok");
    assert!((r.er_gpa.unwrap() - 100.0).abs() < 1e-4, "{:?}", r.er_gpa);
    assert!((r.h0_nm.unwrap() - 3.0).abs() < 1e-6, "{:?}", r.h0_nm);
    // 100 noisy seeds: E_r within 3 % and h0 within 0.5 nm in at least 95.
    let mut good = 0;
    for seed in 0..100 {
        let mut rng = Rng::new(seed, 1);
        let (c, _) = loading(100.0, 3.0, &[(150.0, 5.0, 2)], 300.0, (0.5, 0.2), &mut rng);
        let r = analyze(&c, &IndentOptions::default());
        if r.er_gpa.is_some_and(|e| (e / 100.0 - 1.0).abs() <= 0.03)
            && r.h0_nm.is_some_and(|h| (h - 3.0).abs() <= 0.5)
        {
            good += 1;
        }
    }
    eprintln!("Hertz: {good} of 100 seeds within 3 % (E_r) and 0.5 nm (h0)");
    assert!(good >= 95, "{good}");
}

#[test]
fn popins_are_found_at_the_right_load() {
    let opts = IndentOptions::default();
    let (mut within, mut censored_ok) = (0, 0);
    for k in 0..200u64 {
        let mut rng = Rng::new(77, k);
        let pc = 150.0 + 20.0 * rng.normal();
        let (c, truth) = loading(100.0, 3.0, &[(pc, 5.0, 2)], 400.0, (0.5, 0.2), &mut rng);
        let found = first_popin(&c.depth_nm, &c.load_un, &opts);
        if found.is_some_and(|f| (f.load_un - truth[0]).abs() <= 3.0 + 1e-9 + 3.0 * 0.5) {
            within += 1;
        }
        // The same curve without a burst.
        let (c, _) = loading(100.0, 3.0, &[], 400.0, (0.5, 0.2), &mut rng);
        if first_popin(&c.depth_nm, &c.load_un, &opts).is_none() {
            censored_ok += 1;
        }
    }
    eprintln!(
        "pop-in load within one step in {within}/200; burst-free censored in {censored_ok}/200"
    );
    assert!(within >= 198, "{within}");
    assert!(censored_ok >= 198, "{censored_ok}");
    // A 0.5 nm step is below the noise rule; with two bursts the first is taken.
    let mut rng = Rng::new(3, 3);
    let (c, _) = loading(100.0, 3.0, &[(150.0, 0.5, 1)], 400.0, (0.5, 0.2), &mut rng);
    assert!(first_popin(&c.depth_nm, &c.load_un, &opts).is_none());
    let (c, truth) = loading(
        100.0,
        3.0,
        &[(150.0, 5.0, 2), (250.0, 8.0, 1)],
        400.0,
        (0.5, 0.2),
        &mut rng,
    );
    let f = first_popin(&c.depth_nm, &c.load_un, &opts).unwrap();
    assert!(
        (f.load_un - truth[0]).abs() < 5.0,
        "{} vs {}",
        f.load_un,
        truth[0]
    );
    assert!((f.burst_nm - 5.0).abs() < 1.5, "burst {}", f.burst_nm);
}

#[test]
fn tau_c_and_units() {
    // E_r = 100 GPa, R = 0.36 um, P = 0.150 mN gives 4.0559 GPa (inputs in uN and nm).
    assert!((tau_c_gpa(100.0, 150.0, 360.0) - 4.0559).abs() < 1e-4);
    // The same from the formula in mN, um and GPa by hand.
    let by_hand = 0.31
        * (6.0 * 100f64.powi(2) * 0.150 / (std::f64::consts::PI.powi(3) * 0.36f64.powi(2))).cbrt();
    assert!((tau_c_gpa(100.0, 150.0, 360.0) - by_hand).abs() < 1e-12);
    // Hertz in SI by hand: P = 4/3 E sqrt(R) h^1.5 with E in Pa, R and h in m, P in N.
    let h = hertz_depth_nm(150.0, 100.0, 360.0) * 1e-9;
    let p = 4.0 / 3.0 * 100e9 * (360e-9f64).sqrt() * h.powf(1.5);
    assert!((p * 1e6 - 150.0).abs() < 1e-9);
}

fn indent(v: f64) -> Indent {
    Indent {
        material: "G".into(),
        temperature_k: 633.0,
        aging_time_s: 0.0,
        tau_c_gpa: Some(v),
        status: "ok".into(),
        ..Default::default()
    }
}

#[test]
fn group_statistics() {
    let mut rng = Rng::new(4, 0);
    let values: Vec<f64> = (0..200).map(|_| 4.0 + 0.2 * rng.normal()).collect();
    let rows: Vec<Indent> = values.iter().map(|&v| indent(v)).collect();
    let s = &group_stats(&rows)[0];
    assert!((s.tau_c_mean_gpa.unwrap() / 4.0 - 1.0).abs() < 0.005);
    let want = 2.0 * (2.0 * 2f64.ln()).sqrt() * 0.05;
    assert!(
        (s.tau_c_fwhm.unwrap() / want - 1.0).abs() < 0.10,
        "{} vs {want}",
        s.tau_c_fwhm.unwrap()
    );
    // Invariant under permutation and scaling.
    let mut permuted = values.clone();
    permuted.reverse();
    permuted.swap(3, 150);
    let scaled: Vec<f64> = values.iter().map(|v| v * 7.5).collect();
    let f = fwhm_of_normalised(&values).unwrap();
    assert!((fwhm_of_normalised(&permuted).unwrap().0 - f.0).abs() < 1e-12);
    assert!((fwhm_of_normalised(&scaled).unwrap().0 - f.0).abs() < 1e-12);
    // Weibull(m = 10) by maximum likelihood.
    let draws: Vec<f64> = (0..200)
        .map(|_| 4.0 * (-(1.0 - rng.uniform()).ln()).powf(0.1))
        .collect();
    let (m, scale) = weibull_mle(&draws).unwrap();
    assert!((m / 10.0 - 1.0).abs() < 0.2, "m {m}");
    assert!((scale / 4.0 - 1.0).abs() < 0.05, "scale {scale}");
    // Censored and failed indents are counted, not used.
    let mut rows = rows;
    rows.push(Indent {
        status: "censored".into(),
        tau_c_gpa: None,
        ..indent(0.0)
    });
    rows.push(Indent {
        status: "fit_failed".into(),
        tau_c_gpa: None,
        ..indent(0.0)
    });
    let s = &group_stats(&rows)[0];
    assert_eq!((s.n_indents, s.n_popins, s.n_censored), (202, 200, 1));
}

#[test]
fn the_demo_campaign_narrows_then_broadens() {
    let demo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ingest::run(&ingest::Params {
        manifest: demo.join("campaign.yaml"),
        relaxation_raw: d.join("r.parquet"),
        indentation_raw: d.join("i.parquet"),
        dsc_raw: Some(d.join("dsc.parquet")),
        dma_sweeps_raw: Some(d.join("dma.parquet")),
        skip_bad_files: false,
        parts: false,
        allow_outside: false,
    })
    .unwrap();
    let p = indentation_stats::Params {
        indentation_raw: d.join("i.parquet"),
        indents: d.join("indents.parquet"),
        tau_c_stats: d.join("stats.parquet"),
        options: IndentOptions::default(),
    };
    indentation_stats::run(&p).unwrap();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo.join("truth.json")).unwrap()).unwrap();
    let (stats, _) = tables::read_rows::<tables::TauCStats>(&p.tau_c_stats).unwrap();
    assert_eq!(stats.len(), 6);
    for s in &stats {
        let g = truth["tau_c_groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["aging_time_s"].as_f64() == Some(s.aging_time_s))
            .unwrap();
        let (m, fw) = (
            g["tau_c_mean_gpa"].as_f64().unwrap(),
            g["tau_c_fwhm"].as_f64().unwrap(),
        );
        // Tolerance: 4 standard errors of the mean (std / sqrt n) and 3 of the FWHM, as reported.
        let se_mean = s.tau_c_std_gpa.unwrap() / (s.n_popins as f64).sqrt();
        assert!(
            (s.tau_c_mean_gpa.unwrap() - m).abs() <= 4.0 * se_mean,
            "t_a {}: mean {:?} vs {m}",
            s.aging_time_s,
            s.tau_c_mean_gpa
        );
        assert!(
            (s.tau_c_fwhm.unwrap() - fw).abs() <= 3.0 * s.tau_c_fwhm_se.unwrap(),
            "t_a {}: FWHM {:?} vs {fw}",
            s.aging_time_s,
            s.tau_c_fwhm
        );
        assert!(
            s.n_popins >= 45,
            "t_a {}: {} pop-ins",
            s.aging_time_s,
            s.n_popins
        );
    }
    let fwhm: Vec<f64> = stats.iter().map(|s| s.tau_c_fwhm.unwrap()).collect();
    let mean: Vec<f64> = stats.iter().map(|s| s.tau_c_mean_gpa.unwrap()).collect();
    let narrowest = fwhm
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(
        stats[narrowest].aging_time_s, 9000.0,
        "narrowest at the turning point: {fwhm:?}"
    );
    assert!(
        fwhm[0] > fwhm[narrowest] && fwhm[5] > fwhm[narrowest],
        "narrows then broadens: {fwhm:?}"
    );
    assert!(
        mean[3] - mean[0] > 4.0 * stats[0].tau_c_std_gpa.unwrap() / 50f64.sqrt(),
        "rises: {mean:?}"
    );
    for k in 4..6 {
        assert!(
            (mean[k] / mean[3] - 1.0).abs() < 0.03,
            "plateau after 9000 s: {mean:?}"
        );
    }
}

#[test]
fn a_real_hysitron_file_goes_through() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/data/instrument-samples/hysitron-triboscan-txt_RobinSteel0000LC.txt",
    );
    if !path.is_file() {
        eprintln!("SKIP: {} is absent (needs ../shared)", path.display());
        return;
    }
    let parsed = formats::parse_auto(
        &std::fs::read(&path).unwrap(),
        formats::ReadOptions::default(),
    )
    .unwrap();
    let b = &parsed.blocks[0];
    let col = |n: &str| {
        b.find(&[n])
            .unwrap()
            .values
            .iter()
            .map(|v| v.unwrap())
            .collect::<Vec<f64>>()
    };
    let mut c = raw(col("Depth"), col("Load"));
    c.segment = b.segment.iter().map(|s| i64::from(*s)).collect();
    let r = analyze(&c, &IndentOptions::default());
    eprintln!(
        "steel: status {}, E_r {:?} GPa, pop-in {:?} uN, flags {}",
        r.status, r.er_gpa, r.popin_load_un, r.flags
    );
    assert!(!r.status.is_empty());
    match r.er_gpa {
        Some(e) => assert!(
            e > 20.0 && e < 1000.0 || !r.flags.is_empty() || r.status != "ok",
            "E_r {e}"
        ),
        None => assert_ne!(r.status, "ok"),
    }
}

/// A real Keysight G200 NanoSuite export (../shared/data, skipped without it): 12 `Test NNN`
/// sheets become 12 indents (mN converted to µN), each with a pop-in or censored.
#[test]
fn a_keysight_g200_workbook_gives_one_indent_per_sheet() {
    let file = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/instrument-samples/agilent-g200-xls_Popin.xls");
    if !file.is_file() {
        eprintln!(
            "SKIP: {} is absent (../shared beside the project)",
            file.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = d.join("campaign.yaml");
    std::fs::write(
        &manifest,
        format!(
            "campaign: G200 pop-ins\nmaterials:\n  sample:\n    tg_k: 700\nindentation:\n- file: {}\n  id: popin\n  material: sample\n  temperature_k: 298.15\n  aging_time_s: 0\n  tip_radius_nm: 500\n",
            file.display()
        ),
    )
    .unwrap();
    ingest::run(&ingest::Params {
        manifest: manifest.clone(),
        relaxation_raw: d.join("r.parquet"),
        indentation_raw: d.join("i.parquet"),
        dsc_raw: None,
        dma_sweeps_raw: None,
        skip_bad_files: false,
        parts: false,
        allow_outside: true,
    })
    .unwrap();
    let (raw, _) = tables::read_curves::<tables::IndentationRaw>(&d.join("i.parquet")).unwrap();
    let ids: Vec<&str> = raw.iter().map(|c| c.indent_id.as_str()).collect();
    let want: Vec<String> = (1..=12).map(|i| format!("popin/test-{i:03}")).collect();
    assert_eq!(ids, want);
    // Test 001's last row: 996.9236085339262 nm, 95.10316156281021 mN (xlrd).
    let t1 = &raw[0];
    assert_eq!(t1.depth_nm.len(), 380);
    assert_eq!(t1.depth_nm[379], 996.9236085339262);
    assert!((t1.load_un[379] - 95.10316156281021e3).abs() < 1e-9);
    assert_eq!(t1.time_s[379], 149.1999999999985);
    let p = indentation_stats::Params {
        indentation_raw: d.join("i.parquet"),
        indents: d.join("indents.parquet"),
        tau_c_stats: d.join("stats.parquet"),
        options: IndentOptions::default(),
    };
    indentation_stats::run(&p).unwrap();
    let (indents, _) = tables::read_rows::<tables::Indent>(&p.indents).unwrap();
    assert_eq!(indents.len(), 12);
    let popins = indents.iter().filter(|i| i.status == "ok").count();
    let censored = indents.iter().filter(|i| i.status == "censored").count();
    eprintln!(
        "G200: {popins} indents with a pop-in, {censored} censored, statuses {:?}",
        indents
            .iter()
            .map(|i| (
                i.indent_id.as_str(),
                i.status.as_str(),
                i.flags.as_str(),
                i.popin_load_un
            ))
            .collect::<Vec<_>>()
    );
    // Each indent says what it is: a pop-in, censored, or a failed Hertz fit with its reason
    // (test 010 has too few points on the Hertz branch before its pop-in).
    for i in &indents {
        assert!(
            i.status == "ok" || i.status == "censored" || !i.flags.is_empty(),
            "{}: {} {}",
            i.indent_id,
            i.status,
            i.flags
        );
    }
    assert!(popins >= 10, "only {popins} pop-ins in 12 pop-in tests");
    assert!(
        indents
            .iter()
            .filter_map(|i| i.popin_load_un)
            .all(|p| p > 50.0 && p < 5000.0),
        "pop-in loads out of the µN range of the file"
    );
}

/// The folder of real files beside the project (`../shared/data`), or None with a message.
fn shared_data() -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: {} is absent; the real-file tests need ../shared beside the project",
            dir.display()
        );
        None
    }
}

/// Ingests `files` (path, tip radius nm) as one array each and analyses them.
fn analyse_real(files: &[(std::path::PathBuf, f64)]) -> Vec<Indent> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut m =
        String::from("campaign: real\nmaterials:\n  sample:\n    tg_k: 700\nindentation:\n");
    for (k, (f, r)) in files.iter().enumerate() {
        m.push_str(&format!(
            "- file: {}\n  id: f{k}\n  material: sample\n  temperature_k: 298.15\n  aging_time_s: {k}\n  tip_radius_nm: {r}\n",
            f.display()
        ));
    }
    let manifest = d.join("campaign.yaml");
    std::fs::write(&manifest, m).unwrap();
    ingest::run(&ingest::Params {
        manifest,
        relaxation_raw: d.join("r.parquet"),
        indentation_raw: d.join("i.parquet"),
        dsc_raw: None,
        dma_sweeps_raw: None,
        skip_bad_files: false,
        parts: false,
        allow_outside: true,
    })
    .unwrap();
    let p = indentation_stats::Params {
        indentation_raw: d.join("i.parquet"),
        indents: d.join("indents.parquet"),
        tau_c_stats: d.join("stats.parquet"),
        options: IndentOptions::default(),
    };
    indentation_stats::run(&p).unwrap();
    tables::read_rows::<Indent>(&p.indents).unwrap().0
}

/// Issue 35: real Hysitron TI 990 HighLoad indents (merrypopins, 6 um tip, load control to
/// 200 mN). Two touch the surface, lift off to -800 nm and only then load: their first pop-in
/// must be in the loading segment, never in the lift-off. The third has no lift-off and a large
/// pop-in the merrypopins authors labelled at 55.69 mN, 238.7 nm.
#[test]
fn real_ti990_lift_offs_are_not_pop_ins() {
    let Some(data) = shared_data() else { return };
    let real = data.join("real");
    let names = [
        "grain9_6um_indent03_HL_QS_LC.txt",
        "grain11_6um_indent01_HL_QS_LC.txt",
        "grain10_6um_indent03_HL_QS_LC.txt",
    ];
    let files: Vec<(std::path::PathBuf, f64)> =
        names.iter().map(|n| (real.join(n), 6000.0)).collect();
    let rows = analyse_real(&files);
    assert_eq!(rows.len(), 3);
    for r in &rows {
        eprintln!(
            "{}: {} [{}] pop-in {:?} uN at {:?} nm, E_r {:?} GPa, R2 {:?}",
            r.indent_id,
            r.status,
            r.flags,
            r.popin_load_un,
            r.popin_depth_nm,
            r.er_gpa,
            r.hertz_r_squared
        );
        let (p, h) = (r.popin_load_un.unwrap(), r.popin_depth_nm.unwrap());
        assert!(
            p > 1000.0 && h > 0.0,
            "{}: pop-in at {p} uN, {h} nm",
            r.indent_id
        );
    }
    let lifted: Vec<&Indent> = rows.iter().filter(|r| r.indent_id != "f2").collect();
    for r in lifted {
        assert!(r.flags.contains("contact_before_loading"), "{r:?}");
    }
    // The large pop-in of grain10, read off the file: line 4672 (sample 4668) holds 235.837 nm
    // at 54.923 mN, the next sample 250.056 nm at 53.099 mN (a 14 nm burst in 5 ms); no sample
    // before it reaches 55 mN. (The 55.69 mN, 238.7 nm of the issue is no sample of this file.)
    let clean = rows.iter().find(|r| r.indent_id == "f2").unwrap();
    assert_eq!(clean.status, "ok", "{clean:?}");
    assert_eq!(clean.popin_load_un, Some(54923.466601), "{clean:?}");
    assert_eq!(clean.popin_depth_nm, Some(235.837263), "{clean:?}");
    assert!(clean.popin_burst_nm.unwrap() > 14.0, "{clean:?}");
}

/// Issue 35: on every real indentation export in ../shared/data (TI 990, TriboScan classic,
/// .hld, G200), no `ok` row has a pop-in at depth <= 0 or load <= 0, and every row that is not
/// `ok` says why.
#[test]
fn no_real_indent_is_ok_with_an_impossible_pop_in() {
    let Some(data) = shared_data() else { return };
    let s = data.join("instrument-samples");
    let files = vec![
        (
            s.join("hysitron-ti990-txt_grain1_6um_indent01_HL_QS_LC.txt"),
            6000.0,
        ),
        (
            s.join("hysitron-triboscan-txt_RobinSteel0000LC.txt"),
            1000.0,
        ),
        (s.join("hysitron-hld_Exp-50mN_0000.hld"), 1000.0),
        (s.join("agilent-g200-xls_Popin.xls"), 500.0),
        (data.join("real/grain9_6um_indent03_HL_QS_LC.txt"), 6000.0),
        (data.join("real/grain11_6um_indent01_HL_QS_LC.txt"), 6000.0),
        (data.join("real/grain10_6um_indent03_HL_QS_LC.txt"), 6000.0),
    ];
    let rows = analyse_real(&files);
    assert!(rows.len() >= 18, "{} indents", rows.len());
    for r in &rows {
        eprintln!(
            "{}: {} [{}] pop-in {:?} uN at {:?} nm, E_r {:?} GPa",
            r.indent_id, r.status, r.flags, r.popin_load_un, r.popin_depth_nm, r.er_gpa
        );
        if r.status == "ok" {
            assert!(
                r.popin_depth_nm.unwrap() > 0.0 && r.popin_load_un.unwrap() > 0.0,
                "{r:?}"
            );
        } else if r.status != "censored" {
            assert!(!r.flags.is_empty() || r.er_gpa.is_none(), "{r:?}");
        }
    }
}

/// Issue 35: random indentation protocols (an approach at zero load, sometimes a touch and a
/// lift-off to negative depth, a drift hold, a preload, then the loading with bursts, noise of
/// any size): `analyze` never panics, and no row is `ok` with a pop-in at depth <= 0 or at a
/// load not above the contact load. AGINGFLOW_FUZZ_SECONDS runs it for that long (`make fuzz`).
#[test]
fn random_protocols_never_give_an_impossible_ok_pop_in() {
    let budget = rng::fuzz::Budget::from_env(300);
    let (n, deadline) = (budget.cases, budget.deadline);
    let mut rng = Rng::new(35, 0);
    let opts = IndentOptions::default();
    let mut done = 0;
    for k in 0..n {
        if deadline.is_some_and(|d| std::time::Instant::now() > d) {
            break;
        }
        let noise_un = 200.0 * rng.uniform();
        let noise_nm = 3.0 * rng.uniform();
        let (mut h, mut p) = (Vec::new(), Vec::new());
        let mut push = |h0: f64, p0: f64, rng: &mut Rng| {
            h.push(h0 + noise_nm * rng.normal());
            p.push(p0 + noise_un * rng.normal());
        };
        // Approach.
        for i in 0..(rng.uniform() * 300.0) as usize {
            push(-50.0 + i as f64 * 0.1, 0.0, &mut rng);
        }
        // A touch and a lift-off.
        if rng.uniform() < 0.5 {
            for i in 0..100 {
                push(
                    20.0 - 8.0 * i as f64,
                    2000.0 * (1.0 - i as f64 / 20.0).max(0.0),
                    &mut rng,
                );
            }
            for i in 0..100 {
                push(-800.0 + 8.0 * i as f64, 0.0, &mut rng);
            }
        }
        // A drift hold at a small preload.
        let pre = 5.0 + 50.0 * rng.uniform();
        for _ in 0..(rng.uniform() * 200.0) as usize {
            push(1.0, pre, &mut rng);
        }
        // Loading (Hertz, E_r 100 GPa, R 1000 nm) with one burst.
        let max_un = 1000.0 + 50_000.0 * rng.uniform();
        let burst_at = max_un * rng.uniform();
        let mut extra = 0.0;
        for i in 0..1000 {
            let load = max_un * i as f64 / 999.0;
            if extra == 0.0 && load > burst_at {
                extra = 5.0 + 20.0 * rng.uniform();
            }
            push(
                hertz_depth_nm(load.max(0.0), 100.0, 1000.0) + extra,
                load,
                &mut rng,
            );
        }
        let mut c = raw(h, p);
        c.tip_radius_nm = 1000.0;
        let r = analyze(&c, &opts);
        assert!(!r.status.is_empty());
        if r.status == "ok" {
            let (d, l) = (r.popin_depth_nm.unwrap(), r.popin_load_un.unwrap());
            assert!(d > 0.0 && l > opts.contact_load_un, "protocol {k}: {r:?}");
        }
        done += 1;
    }
    eprintln!("{done} random indentation protocols, 0 panics");
}

/// Issue 35: an array of 14 tungsten-like indents (E_r near 400 GPa) in which one reports 1467
/// GPa: that one is flagged `modulus_outlier` whatever its status, and an `ok` one loses `ok`.
#[test]
fn an_impossible_modulus_in_its_array_is_flagged() {
    let row = |k: usize, er: f64, status: &str| Indent {
        indent_id: format!("w/test-{k:03}"),
        material: "W".into(),
        temperature_k: 298.15,
        aging_time_s: 0.0,
        er_gpa: Some(er),
        status: status.into(),
        ..Default::default()
    };
    let mut rows: Vec<Indent> = (0..13)
        .map(|k| row(k, 400.0 + 3.0 * (k as f64 - 6.0), "ok"))
        .collect();
    rows.push(row(13, 1467.0, "censored"));
    rows.push(row(14, 1467.0, "ok"));
    indentation_stats::indent::mark_modulus_outliers(&mut rows);
    for r in &rows[..13] {
        assert_eq!((r.status.as_str(), r.flags.as_str()), ("ok", ""), "{r:?}");
    }
    assert_eq!(rows[13].status, "censored");
    assert_eq!(rows[13].flags, "modulus_outlier");
    assert_eq!(rows[14].status, "modulus_outlier");
}

/// Issue 35: a censored indent (no pop-in) whose loading yields gradually: the Hertz fit runs over
/// the plastic part, and its residuals say so (`hertz_misfit`, or R^2 below 0.9).
#[test]
fn a_hertz_fit_over_plastic_loading_is_flagged() {
    let mut rng = Rng::new(1467, 0);
    let (mut h, mut p) = (Vec::new(), Vec::new());
    for i in 0..2000 {
        let load = 20.0 + 10_000.0 * i as f64 / 1999.0;
        let elastic = hertz_depth_nm(load, 400.0, 360.0);
        // Plastic depth growing past 2 mN, smoothly: no burst, so no pop-in.
        let plastic = 0.02 * (load - 2000.0).max(0.0);
        h.push(elastic + plastic + 0.2 * rng.normal());
        p.push(load + 0.5 * rng.normal());
    }
    let r = analyze(&raw(h, p), &IndentOptions::default());
    assert_eq!(r.status, "censored", "{r:?}");
    assert!(
        r.flags.contains("hertz_misfit") || r.flags.contains("poor_hertz_fit"),
        "{r:?}"
    );
}
