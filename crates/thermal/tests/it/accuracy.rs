//! The thermal analysis against the simulator's truth, on scans with noise and baseline drift
//! drawn per seed: T_g onset and alpha peak within 1 K, beta intensity within 10 %, its fall
//! with aging detected, E_beta of a multi-frequency sweep within 10 %.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use simulate::spec::{DmaSpec, DscSpec, ScanSpec, Setting};
use tables::{DmaSweepRaw, DscRaw, Transition};
use thermal::{dma, dsc};

fn scan(condition: &str, aging: Option<f64>, tg: Option<f64>, beta: Option<f64>) -> ScanSpec {
    ScanSpec {
        condition: condition.into(),
        aging_time_s: aging,
        aging_temperature_k: aging.map(|_| 633.0),
        tg_onset_k: tg,
        beta_intensity_k: beta,
        format: "ta-universal".into(),
    }
}

pub fn dsc_spec() -> DscSpec {
    DscSpec {
        heating_rate_k_min: 20.0,
        mass_mg: 10.0,
        start_k: 550.0,
        end_k: 800.0,
        // 0.6 s per point at 20 K/min; noise 10 uW on 10 mg (a Q2000 is quieter).
        points_per_k: 5.0,
        step_sigma_k: 4.0,
        step_w_g: 0.08,
        crystallization: Some((760.0, 3.0, 1.5)),
        baseline_slope_w_g_k: Setting::Range([-5e-4, 5e-4]),
        noise_w_g: 0.001,
        scans: vec![
            scan("as-cast", None, Some(680.0), None),
            scan("aged", Some(77400.0), Some(684.0), None),
        ],
    }
}

pub fn dma_spec(frequencies: Vec<f64>) -> DmaSpec {
    DmaSpec {
        heating_rate_k_min: 3.0,
        frequencies_hz: frequencies,
        start_k: 420.0,
        end_k: 760.0,
        points_per_k: 2.0,
        storage_glass_mpa: 90_000.0,
        storage_slope_per_k: 2e-4,
        storage_onset_1hz_k: 690.0,
        storage_sigma_k: 6.0,
        storage_drop_fraction: 0.6,
        loss_max_mpa: 8000.0,
        alpha_peak_1hz_k: 715.0,
        alpha_theta1_k: 20.0,
        alpha_theta2_k: 6.0,
        alpha_shift_per_decade_k: 4.0,
        beta_peak_1hz_k: 560.0,
        beta_sigma_k: 25.0,
        beta_energy_kj_mol: 26.0 * physics::GAS_CONSTANT_J_MOL_K * 680.0 / 1e3,
        background: 0.02,
        background_drift_per_k: Setting::Range([-2e-5, 2e-5]),
        noise_fraction: 0.003,
        scans: vec![
            scan("as-cast", None, None, Some(8.0)),
            scan("aged", Some(77400.0), None, Some(5.0)),
        ],
    }
}

fn dsc_raw(id: &str, s: &simulate::thermal::Scan, aging: Option<f64>) -> DscRaw {
    DscRaw {
        scan_id: id.into(),
        material: "G".into(),
        aging_time_s: aging,
        time_s: s.time_s.iter().map(|t| Some(*t)).collect(),
        temperature_k: s.temperature_k.clone(),
        heat_flow_w_g: s.values.iter().map(|v| Some(v[0])).collect(),
        heat_flow_w: vec![None; s.time_s.len()],
        ..Default::default()
    }
}

fn dma_raw(id: &str, s: &simulate::thermal::Scan, aging: Option<f64>) -> DmaSweepRaw {
    DmaSweepRaw {
        scan_id: id.into(),
        material: "G".into(),
        aging_time_s: aging,
        time_s: s.time_s.iter().map(|t| Some(*t)).collect(),
        temperature_k: s.temperature_k.clone(),
        frequency_hz: s.values.iter().map(|v| v[0]).collect(),
        storage_modulus_mpa: s.values.iter().map(|v| Some(v[1])).collect(),
        loss_modulus_mpa: s.values.iter().map(|v| Some(v[2])).collect(),
        tan_delta: s.values.iter().map(|v| Some(v[3])).collect(),
        ..Default::default()
    }
}

fn find<'a>(rows: &'a [Transition], t: &str, f: Option<f64>) -> &'a Transition {
    rows.iter()
        .find(|r| r.transition == t && (f.is_none() || r.frequency_hz == f))
        .unwrap_or_else(|| panic!("no {t} row in {rows:?}"))
}

#[test]
fn dsc_tangent_temperatures_hold_the_truth_within_one_kelvin() {
    let spec = dsc_spec();
    let mut worst = [0f64; 4];
    let mut z = Vec::new();
    let mut err = Vec::new();
    for seed in 0..100u64 {
        for (k, sc) in spec.scans.iter().enumerate() {
            let mut rng = rng::Rng::new(seed, k as u64);
            let (s, truth) = simulate::thermal::dsc(&spec, sc, 680.0, &mut rng);
            let rows = dsc::analyse(
                &dsc_raw("s", &s, sc.aging_time_s),
                &dsc::DscOptions::default(),
            );
            for (i, (name, want)) in [
                ("tg_onset", truth.tg_onset_k),
                ("tg_midpoint", truth.tg_midpoint_k),
                ("tg_end", truth.tg_end_k),
                (
                    "crystallization_onset",
                    truth.crystallization_onset_k.unwrap(),
                ),
            ]
            .into_iter()
            .enumerate()
            {
                let r = find(&rows, name, None);
                assert_eq!(r.status, "ok", "seed {seed} {name}: {r:?}");
                let got = r.temperature_k.unwrap();
                worst[i] = worst[i].max((got - want).abs());
                if i == 0 {
                    z.push((got - want) / r.temperature_se_k.unwrap());
                    err.push(got - want);
                }
            }
        }
    }
    eprintln!(
        "DSC worst |error| (K): onset {:.3}, midpoint {:.3}, end {:.3}, crystallisation {:.3}",
        worst[0], worst[1], worst[2], worst[3]
    );
    let cover = z.iter().filter(|z| z.abs() <= 1.96).count() as f64 / z.len() as f64;
    eprintln!(
        "T_g onset: mean error {:+.3} K, mean z {:+.2}, 95 % coverage {:.3}",
        err.iter().sum::<f64>() / err.len() as f64,
        z.iter().sum::<f64>() / z.len() as f64,
        cover
    );
    for (name, w) in ["onset", "midpoint", "end", "crystallisation onset"]
        .iter()
        .zip(worst)
    {
        assert!(w <= 1.0, "{name}: worst error {w:.3} K");
    }
}

#[test]
fn dma_alpha_peak_and_beta_intensity_hold_the_truth_and_aging_is_seen() {
    let spec = dma_spec(vec![1.0]);
    let (mut worst_alpha, mut worst_onset, mut worst_i) = (0f64, 0f64, 0f64);
    let mut detected = 0;
    let (mut za, mut zi) = (Vec::new(), Vec::new());
    let b_intensity = |r: &[Transition]| find(r, "beta_peak", Some(1.0)).intensity.unwrap();
    for seed in 0..100u64 {
        let mut rows = Vec::new();
        for (k, sc) in spec.scans.iter().enumerate() {
            let mut rng = rng::Rng::new(1000 + seed, k as u64);
            let (s, truth) = simulate::thermal::dma(&spec, sc, &mut rng);
            let (_, r) = dma::analyse(
                &dma_raw(&sc.condition, &s, sc.aging_time_s),
                &dma::DmaOptions::default(),
            );
            let t = &truth[0];
            let a = find(&r, "alpha_peak_loss", Some(1.0));
            assert_eq!(a.status, "ok", "seed {seed}: {a:?}");
            worst_alpha = worst_alpha.max((a.temperature_k.unwrap() - t.alpha_peak_loss_k).abs());
            za.push((a.temperature_k.unwrap() - t.alpha_peak_loss_k) / a.temperature_se_k.unwrap());
            zi.push(
                (b_intensity(&r) - t.beta_intensity_k)
                    / find(&r, "beta_peak", Some(1.0)).intensity_se.unwrap(),
            );
            let o = find(&r, "tg_storage_onset", Some(1.0));
            assert_eq!(o.status, "ok", "seed {seed}: {o:?}");
            worst_onset = worst_onset.max((o.temperature_k.unwrap() - t.tg_storage_onset_k).abs());
            let b = find(&r, "beta_peak", Some(1.0));
            assert_eq!(b.status, "ok", "seed {seed}: {b:?}");
            worst_i = worst_i.max((b.intensity.unwrap() / t.beta_intensity_k - 1.0).abs());
            rows.extend(r);
        }
        let ch = dma::changes(&rows);
        assert_eq!(ch.len(), 1, "{ch:?}");
        if ch[0].flags.contains("decreased") {
            detected += 1;
        }
    }
    eprintln!(
        "DMA worst: alpha peak {worst_alpha:.3} K, E' onset {worst_onset:.3} K, beta intensity {:.1} %; decrease detected in {detected} of 100",
        100.0 * worst_i
    );
    let summary = |z: &[f64]| {
        (
            z.iter().sum::<f64>() / z.len() as f64,
            z.iter().filter(|z| z.abs() <= 1.96).count() as f64 / z.len() as f64,
        )
    };
    let (ma, ca) = summary(&za);
    let (mi, ci) = summary(&zi);
    eprintln!(
        "alpha peak: mean z {ma:+.2}, coverage {ca:.3}; beta intensity: mean z {mi:+.2}, coverage {ci:.3}"
    );
    assert!(worst_alpha <= 1.0, "alpha peak off by {worst_alpha:.3} K");
    assert!(worst_onset <= 1.0, "E' onset off by {worst_onset:.3} K");
    assert!(
        worst_i <= 0.10,
        "beta intensity off by {:.1} %",
        100.0 * worst_i
    );
    assert_eq!(detected, 100);
}

#[test]
fn beta_activation_energy_of_a_multi_frequency_sweep_within_ten_percent() {
    let spec = dma_spec(vec![0.5, 1.0, 2.0, 5.0, 10.0]);
    let mut worst = 0f64;
    for seed in 0..20u64 {
        let sc = &spec.scans[0];
        let mut rng = rng::Rng::new(5000 + seed, 0);
        let (s, _) = simulate::thermal::dma(&spec, sc, &mut rng);
        let (curves, rows) = dma::analyse(&dma_raw("mf", &s, None), &dma::DmaOptions::default());
        assert_eq!(curves.len(), 5);
        let act = dma::activations(&rows);
        assert_eq!(act.len(), 1, "{act:?}");
        let e = act[0].energy_kj_mol.unwrap();
        worst = worst.max((e / spec.beta_energy_kj_mol - 1.0).abs());
    }
    eprintln!(
        "E_beta worst relative error {:.1} % (truth {:.1} kJ/mol)",
        100.0 * worst,
        spec.beta_energy_kj_mol
    );
    assert!(worst <= 0.10, "E_beta off by {:.1} %", 100.0 * worst);
}
/// Issue 35: the heat-flow convention is detected from the glass-transition step, on the
/// simulator's exo-up scans (with crystallisation exotherms and aged overshoots) and on the same
/// scans written endotherm up (sign flipped): right on every one of 100 seeds x 2 scans.
#[test]
fn the_endotherm_direction_is_detected_both_ways() {
    let spec = dsc_spec();
    for seed in 0..100u64 {
        for (k, sc) in spec.scans.iter().enumerate() {
            let mut rng = rng::Rng::new(seed, k as u64);
            let (s, _) = simulate::thermal::dsc(&spec, sc, 680.0, &mut rng);
            let mut raw = dsc_raw("s", &s, sc.aging_time_s);
            let rows = dsc::analyse(&raw, &dsc::DscOptions::default());
            assert!(
                rows.iter()
                    .all(|r| r.endo.as_deref() == Some("down") && r.flags.contains("endo_detected")),
                "seed {seed} scan {k}: {rows:?}"
            );
            for v in raw.heat_flow_w_g.iter_mut().flatten() {
                *v = -*v;
            }
            let flipped = dsc::analyse(&raw, &dsc::DscOptions::default());
            assert!(
                flipped.iter().all(|r| r.endo.as_deref() == Some("up")),
                "seed {seed} scan {k} flipped: {flipped:?}"
            );
            let t = |rows: &[tables::Transition], n: &str| {
                rows.iter()
                    .find(|r| r.transition == n)
                    .and_then(|r| r.temperature_k)
            };
            assert_eq!(
                t(&rows, "tg_midpoint"),
                t(&flipped, "tg_midpoint"),
                "seed {seed}"
            );
        }
    }
}
