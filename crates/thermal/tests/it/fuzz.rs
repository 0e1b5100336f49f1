//! Property test: arbitrary scans (any length, reversed or jumbled temperatures, missing, NaN,
//! infinite and huge values, one or many frequencies) never make the analysis panic, and every
//! row it returns has a status. AGINGFLOW_FUZZ_INPUTS sets how many (default 500);
//! AGINGFLOW_FUZZ_SECONDS (`make fuzz`) runs for that long instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tables::{DmaSweepRaw, DscRaw};
use thermal::{dma, dsc};

/// The shared fuzz generator (`rng`), with the scans' own draws.
struct Gen(rng::Rng);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn value(&mut self, typical: f64) -> Option<f64> {
        match self.next() % 40 {
            0 => None,
            1 => Some(f64::NAN),
            2 => Some(f64::INFINITY),
            3 => Some(-1e300),
            4 => Some(0.0),
            _ => Some(typical * (1.0 + 0.1 * (self.unit() - 0.5))),
        }
    }
    fn temperatures(&mut self, n: usize) -> Vec<f64> {
        let (start, step) = (300.0 + 400.0 * self.unit(), 0.5 * self.unit());
        let mode = self.next() % 4;
        (0..n)
            .map(|i| {
                let t = start + step * i as f64;
                match mode {
                    0 => t,
                    1 => start + step * (n - i) as f64, // cooling
                    2 => t + 20.0 * (self.unit() - 0.5), // jumbled
                    _ => {
                        if self.next().is_multiple_of(50) {
                            f64::NAN
                        } else {
                            t
                        }
                    } // broken rows
                }
            })
            .collect()
    }
}

/// How long a property test runs: the shared fuzz budget (`rng::fuzz`: until
/// AGINGFLOW_FUZZ_SECONDS from now under `make fuzz`, else AGINGFLOW_FUZZ_INPUTS or `cases`).
fn budget(cases: usize) -> (Option<std::time::Instant>, usize) {
    let b = rng::fuzz::Budget::from_env(cases);
    (b.deadline, b.cases)
}

#[test]
fn the_analysis_never_panics_on_arbitrary_scans() {
    let (deadline, n) = budget(500);
    let mut g = Gen(rng::Rng::new(0x9E37_79B9_7F4A_7C15, 0));
    let (mut rows_seen, mut done) = (0usize, 0usize);
    for k in 0..n {
        if deadline.is_some_and(|d| std::time::Instant::now() > d) {
            break;
        }
        let len = match g.next() % 5 {
            0 => (g.next() % 10) as usize,
            1 => (g.next() % 100) as usize,
            _ => (g.next() % 1500) as usize,
        };
        let t = g.temperatures(len);
        // A glass-transition-like step and a peak under the noise, sometimes.
        let shaped = g.next().is_multiple_of(2);
        let hf: Vec<Option<f64>> = t
            .iter()
            .map(|&x| {
                let base = if shaped {
                    -0.08 / (1.0 + (-(x - 600.0) / 3.0).exp())
                } else {
                    0.0
                };
                g.value(1.0).map(|v| base + 0.001 * v)
            })
            .collect();
        let scan = DscRaw {
            scan_id: format!("s{k}"),
            material: "G".into(),
            aging_time_s: (g.next().is_multiple_of(2)).then_some(77400.0),
            time_s: vec![None; len],
            temperature_k: t.clone(),
            heat_flow_w_g: hf.clone(),
            heat_flow_w: vec![None; len],
            ..Default::default()
        };
        let opts = dsc::DscOptions {
            exo_up: [None, Some(true), Some(false)][(g.next() % 3) as usize],
            ..Default::default()
        };
        for r in dsc::analyse(&scan, &opts) {
            assert!(!r.status.is_empty(), "{r:?}");
            rows_seen += 1;
        }
        let nf = 1 + (g.next() % 4) as usize;
        let freqs: Vec<f64> = (0..len)
            .map(|i| match g.next() % 60 {
                0 => f64::NAN,
                1 => -1.0,
                _ => [1.0, 2.0, 5.0, 10.0][i % nf],
            })
            .collect();
        let sweep = DmaSweepRaw {
            scan_id: format!("m{}", k % 3),
            material: "G".into(),
            aging_time_s: k.is_multiple_of(2).then_some(77400.0),
            time_s: vec![None; len],
            temperature_k: t.clone(),
            frequency_hz: freqs,
            storage_modulus_mpa: t.iter().map(|_| g.value(9e4)).collect(),
            loss_modulus_mpa: t
                .iter()
                .map(|&x| {
                    g.value(1.0)
                        .map(|v| 8000.0 * v / (1.0 + ((x - 700.0) / 10.0).powi(2)))
                })
                .collect(),
            tan_delta: t.iter().map(|_| g.value(0.05)).collect(),
            ..Default::default()
        };
        let (_, rows) = dma::analyse(&sweep, &dma::DmaOptions::default());
        for r in rows
            .iter()
            .chain(&dma::changes(&rows))
            .chain(&dma::activations(&rows))
        {
            assert!(!r.status.is_empty(), "{r:?}");
            rows_seen += 1;
        }
        done += 1;
    }
    eprintln!("fuzz: {done} DSC scans and DMA sweeps, {rows_seen} rows, 0 panics");
    assert!(done > 0);
}

#[test]
fn cooling_short_and_broken_scans_are_flagged_not_fatal() {
    let spec = {
        let mut s = simulate::spec::DscSpec {
            heating_rate_k_min: 20.0,
            mass_mg: 10.0,
            start_k: 550.0,
            end_k: 800.0,
            points_per_k: 5.0,
            step_sigma_k: 4.0,
            step_w_g: 0.08,
            crystallization: Some((760.0, 3.0, 1.5)),
            baseline_slope_w_g_k: simulate::spec::Setting::Fixed(2e-4),
            noise_w_g: 0.001,
            scans: vec![],
        };
        s.scans.push(simulate::spec::ScanSpec {
            condition: "as-cast".into(),
            aging_time_s: None,
            aging_temperature_k: None,
            tg_onset_k: Some(680.0),
            beta_intensity_k: None,
            format: "ta-universal".into(),
        });
        s
    };
    let mut rng = rng::Rng::new(3, 0);
    let (s, truth) = simulate::thermal::dsc(&spec, &spec.scans[0], 680.0, &mut rng);
    let raw = |t: Vec<f64>, y: Vec<Option<f64>>| DscRaw {
        scan_id: "s".into(),
        material: "G".into(),
        time_s: vec![None; t.len()],
        heat_flow_w: vec![None; t.len()],
        temperature_k: t,
        heat_flow_w_g: y,
        ..Default::default()
    };
    let y: Vec<Option<f64>> = s.values.iter().map(|v| Some(v[0])).collect();
    // Reversed (recorded as a cooling scan would be): flagged, and the same numbers.
    let mut tr = s.temperature_k.clone();
    tr.reverse();
    let mut yr = y.clone();
    yr.reverse();
    let rows = dsc::analyse(&raw(tr, yr), &dsc::DscOptions::default());
    let onset = rows.iter().find(|r| r.transition == "tg_onset").unwrap();
    assert!(onset.flags.contains("cooling_scan"), "{onset:?}");
    assert!((onset.temperature_k.unwrap() - truth.tg_onset_k).abs() < 1.0);
    // Broken rows (missing and NaN heat flow, NaN temperature): dropped, the rest analysed.
    let mut tb = s.temperature_k.clone();
    let mut yb = y.clone();
    for i in (0..tb.len()).step_by(17) {
        yb[i] = None;
        if i % 3 == 0 {
            tb[i] = f64::NAN;
        } else {
            yb[i] = Some(f64::NAN);
        }
    }
    let rows = dsc::analyse(&raw(tb, yb), &dsc::DscOptions::default());
    let onset = rows.iter().find(|r| r.transition == "tg_onset").unwrap();
    assert_eq!(onset.status, "ok");
    assert!((onset.temperature_k.unwrap() - truth.tg_onset_k).abs() < 1.0);
    // Too short to hold a transition: every row says so.
    let rows = dsc::analyse(
        &raw(s.temperature_k[..60].to_vec(), y[..60].to_vec()),
        &dsc::DscOptions::default(),
    );
    assert!(
        rows.iter().all(|r| r.status == "scan_too_short"),
        "{rows:?}"
    );
    // Stopped before the crystallisation: T_g measured, crystallisation not reached.
    let cut = s.temperature_k.iter().position(|&t| t > 730.0).unwrap();
    let rows = dsc::analyse(
        &raw(s.temperature_k[..cut].to_vec(), y[..cut].to_vec()),
        &dsc::DscOptions::default(),
    );
    let find = |n: &str| rows.iter().find(|r| r.transition == n).unwrap();
    assert_eq!(find("tg_onset").status, "ok");
    assert_eq!(find("crystallization_onset").status, "not_reached");
}

/// Issue 35: random DSC protocols (heating, cooling and isothermal pieces of random lengths,
/// rates and noise, in any order, sometimes with NaN temperatures): the segment detector never
/// panics, its segments tile the scan in order, and the analysis gives every row a status and a
/// heating segment number no larger than the heating pieces. Same deadline variables as above.
#[test]
fn segments_of_random_protocols_tile_the_scan() {
    let (deadline, n) = budget(300);
    let mut g = Gen(rng::Rng::new(0x51ED_2701_F00D_CAFE, 0));
    let mut done = 0usize;
    for k in 0..n {
        if deadline.is_some_and(|d| std::time::Instant::now() > d) {
            break;
        }
        let mut t: Vec<f64> = Vec::new();
        let mut temp = 200.0 + 300.0 * g.unit();
        let pieces = 1 + (g.next() % 7) as usize;
        let mut heatings = 0;
        let mut pieces_seen = Vec::new();
        for _ in 0..pieces {
            let len = (g.next() % 400) as usize;
            let rate = match g.next() % 3 {
                0 => 0.0,
                1 => 0.1 + 2.0 * g.unit(),
                _ => -(0.1 + 2.0 * g.unit()),
            };
            heatings += usize::from(rate > 0.0);
            pieces_seen.push((len, rate));
            for _ in 0..len {
                temp += rate + 0.01 * (g.unit() - 0.5);
                t.push(if g.next().is_multiple_of(97) {
                    f64::NAN
                } else {
                    temp
                });
            }
        }
        let finite: Vec<f64> = t.iter().copied().filter(|x| x.is_finite()).collect();
        let segs = dsc::segments(&finite);
        let mut at = 0;
        for s in &segs {
            assert_eq!(s.from, at, "scan {k}: {segs:?}");
            assert!(s.to > s.from, "scan {k}: {segs:?}");
            at = s.to;
        }
        assert_eq!(at, finite.len(), "scan {k}");
        let len = t.len();
        let scan = DscRaw {
            scan_id: format!("p{k}"),
            material: "G".into(),
            time_s: vec![None; len],
            heat_flow_w_g: t
                .iter()
                .map(|&x| Some(-0.05 / (1.0 + (-(x - 400.0) / 3.0).exp()) + 1e-4 * g.unit()))
                .collect(),
            heat_flow_w: vec![None; len],
            temperature_k: t,
            ..Default::default()
        };
        for r in dsc::analyse(&scan, &dsc::DscOptions::default()) {
            assert!(!r.status.is_empty(), "{r:?}");
            assert!(
                r.segment.unwrap_or(1) as usize <= heatings.max(1),
                "{r:?} {:?} {pieces_seen:?}",
                segs.iter()
                    .map(|s| (s.kind, s.to - s.from, finite[s.from], finite[s.to - 1]))
                    .collect::<Vec<_>>()
            );
        }
        done += 1;
    }
    eprintln!("{done} random DSC protocols segmented, 0 panics");
}
