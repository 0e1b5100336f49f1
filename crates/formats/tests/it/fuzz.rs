//! Property test: generated inputs (valid exports of every format, mutated, and raw noise) never
//! make a reader panic. AGINGFLOW_FUZZ_INPUTS sets how many (default 1 000 000);
//! AGINGFLOW_FUZZ_SECONDS (`make fuzz`) runs for a set time instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use formats::{Format, ReadOptions, parse, parse_auto, write};
use rng::Rng;

fn templates() -> Vec<Vec<u8>> {
    let step_rows = [vec![1.0, 2.0, 3.0], vec![2.0, 1.5, 4.0]];
    let step = write::TriosStep {
        instrument: "DMA 850",
        sample: "s",
        step: "Stress Relaxation",
        names: &["Step time", "Stress", "Date"],
        units: &["s", "MPa", ""],
        rows: &step_rows,
    };
    let rows: Vec<Vec<f64>> = (0..6)
        .map(|k| vec![k as f64 * 0.1, 360.0, 90.0 - k as f64, 0.1, 9e4])
        .collect();
    vec![
        write::ta_universal("DMA Q800", "s", &["Time (min)", "Temperature (°C)", "Stress (MPa)", "Strain (%)", "Relaxation Modulus (MPa)"], &[rows.clone(), rows.clone()]),
        write::trios_text(&step),
        b"[Version]\nTA Instruments LIMS export format version\t0\n[Step]\nStep name\tx\nNumber of points\t2\nVariables\tTime\tStress\nUnits\ts\tMPa\nData point\t1\t2\nData point\t2\tFRT\n".to_vec(),
        write::hysitron_classic("Mon Apr 29 10:41:06 2019", &[vec![[1.0, 2.0, 0.0, 0.1, 0.2]], vec![[3.0, 4.0, 0.005, 0.1, 0.2], [5.0, 6.0, 0.01, 0.1, 0.2]]]),
        write::hysitron_ti990("Mon Apr 14 16:00:13 2025", &[[-4.5, 2000.0, 0.0], [-4.4, 2001.0, 0.005], [-4.3, 2002.0, 0.01]]),
        formats::text::to_windows_1252("File Version: Hysitron HighLoad\r\nNumber of Segments: 2\r\nSegment Begin Time: 0 s\r\nSegment Begin Time: 0.1 s\r\nDrift Measurement Data Points: 1\r\nTime_s\tDisp_nm\r\n0\t1\r\nTest Data Points: 2\r\nTime_s\tDisp_nm\tForce_µN\r\n0\t1\t2\r\n0.2\t2\t3\r\n"),
        b"t [s];sigma [MPa]\n0;90\n1;89.5\n2;89\n".to_vec(),
        write::trios_json(&step),
        write::trios_excel(&step),
        write::keysight_xlsx(&[vec![[1.0, 0.001, 0.0], [2.0, 0.002, 0.1]], vec![[1.5, 0.003, 0.0]]]),
    ]
}

const INTERESTING: &[&[u8]] = &[
    b"\t",
    b"\n",
    b"\r",
    b"\r\n",
    b"\0",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"-",
    b".",
    b",",
    b"e",
    b"E",
    b"1e999",
    b"NaN",
    b"inf",
    b"StartOfData",
    b"Nsig\t",
    b"[step]",
    b"[Step]",
    b"Data point\t",
    b" Data Points: ",
    b"Number of Points = ",
    b"Depth (nm)\tLoad (\xb5N)\n",
    b"Sig1\t",
    b"\xb5",
    b"\xc2\xb5",
    b"\xce\xbc",
    b"9999999999999999999",
    b"(",
    b")",
    b"_",
];

fn mutate(g: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + g.below(6) {
        let at = g.below(v.len() + 1);
        match g.below(8) {
            0 if !v.is_empty() => {
                let i = g.below(v.len());
                v[i] = g.next_u64() as u8;
            }
            1 => {
                let s = INTERESTING[g.below(INTERESTING.len())];
                v.splice(at..at, s.iter().copied());
            }
            2 if !v.is_empty() => {
                let end = (at + g.below(16)).min(v.len());
                v.drain(at.min(end)..end);
            }
            3 => v.truncate(at),
            4 if !v.is_empty() => {
                // Duplicate a chunk (repeated lines, blocks).
                let start = g.below(v.len());
                let end = (start + g.below(64)).min(v.len());
                let chunk: Vec<u8> = v[start..end].to_vec();
                v.splice(at..at, chunk);
            }
            5 => v.insert(at.min(v.len()), b"0123456789"[g.below(10)]),
            6 => {
                let n = g.below(8);
                v.splice(at..at, (0..n).map(|_| g.next_u64() as u8));
            }
            _ => {}
        }
    }
    v
}

const FORMATS: [Format; 9] = [
    Format::TaUniversal,
    Format::TriosText,
    Format::TriosLims,
    Format::HysitronTxt,
    Format::HysitronHld,
    Format::Csv,
    Format::TriosJson,
    Format::TriosExcel,
    Format::KeysightXls,
];

#[test]
fn readers_never_panic_on_generated_inputs() {
    // AGINGFLOW_FUZZ_SECONDS (`make fuzz`) runs for that long instead of a fixed count.
    let budget = rng::fuzz::Budget::from_env(1_000_000);
    let (n, deadline) = (budget.cases, budget.deadline);
    let templates = templates();
    // The templates themselves parse (CSV needs the manifest's `format: csv`).
    for (i, t) in templates.iter().enumerate() {
        if i != 6 {
            parse_auto(t, ReadOptions::default()).unwrap();
        }
    }
    let mut g = Rng::new(0x5EED_2023_0771, 0);
    let (mut ok, mut err) = (0usize, 0usize);
    let mut n_done = 0;
    for k in 0..n {
        if k % 1024 == 0 && deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            break;
        }
        n_done += 1;
        let input = if k % 16 == 0 {
            (0..g.below(200)).map(|_| g.next_u64() as u8).collect()
        } else {
            mutate(&mut g, &templates[k % templates.len()])
        };
        let opts = ReadOptions {
            decimal_comma: k % 2 == 0,
        };
        // Each input goes through sniffing and one explicit reader (rotating), so every reader
        // sees every template's mutations.
        match parse_auto(&input, opts) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(!e.message.is_empty());
                err += 1;
            }
        }
        let _ = parse(&input, FORMATS[(k / templates.len()) % FORMATS.len()], opts);
    }
    eprintln!(
        "fuzz: {n_done} generated inputs through sniffing and the readers: {ok} read, {err} refused with an error, 0 panics"
    );
    assert_eq!(ok + err, n_done);
    assert!(
        ok > n_done / 20,
        "mutations should leave many inputs readable ({ok} of {n_done})"
    );
}
