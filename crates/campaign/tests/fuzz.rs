//! Property test: mutated manifests never make the parser or the resolver panic.
//! AGINGFLOW_FUZZ_INPUTS sets how many (default 200 000).

#![allow(clippy::unwrap_used, clippy::expect_used)]

const GOOD: &str = "campaign: c\nmaterials:\n  G: { tg_k: 680, kind: metallic }\nrelaxation:\n  - file: a.txt\n    material: G\n    temperature_k: 633\n    aging_time_s: 1800\n    strain: 0.001\n    format: csv\n    columns: { time: \"t [s]\", stress: \"s [MPa]\" }\nindentation:\n  - files: \"ind/*.txt\"\n    material: G\n    temperature_k: 633\n    aging_time_s: 0\n    tip_radius_nm: 360\ndsc:\n  - file: d.txt\n    material: G\n    condition: as-cast\n    mass_mg: 10\n    heating_rate_k_min: 20\ndma_sweeps:\n  - file: m.txt\n    material: G\n    aging_time_s: 77400\n    temperature_k: 633\n    frequency_hz: 1\n";

const PIECES: &[&str] = &[
    ":",
    " ",
    "\n",
    "  ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    "*",
    "&a",
    "*a",
    "!!binary",
    "~",
    "null",
    "-1",
    "1e999",
    ".nan",
    "#",
    "\t",
    "???",
    "files: x\n",
    "id: y\n",
    "0x10",
    "condition: x\n",
    "mass_mg: -1\n",
    "frequency_hz: 0\n",
    "dsc:\n",
];

#[test]
fn the_manifest_parser_never_panics() {
    // AGINGFLOW_FUZZ_SECONDS (`make fuzz`) runs for that long instead of a fixed count.
    let budget = rng::fuzz::Budget::from_env(200_000);
    let (n, deadline) = (budget.cases, budget.deadline);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ind")).unwrap();
    std::fs::write(dir.path().join("a.txt"), "x").unwrap();
    std::fs::write(dir.path().join("d.txt"), "x").unwrap();
    std::fs::write(dir.path().join("m.txt"), "x").unwrap();
    std::fs::write(dir.path().join("ind/1.txt"), "x").unwrap();
    let mut s: u64 = 0x1234_5678_9ABC_DEF1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let (mut parsed, mut resolved, mut n_done) = (0, 0, 0usize);
    for k in 0..n {
        if k % 256 == 0 && deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            break;
        }
        n_done += 1;
        let mut text: Vec<char> = GOOD.chars().collect();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % (text.len() + 1);
            match next() % 3 {
                0 if !text.is_empty() => {
                    let end = (at + (next() % 8) as usize).min(text.len());
                    text.drain(at.min(end)..end);
                }
                1 => {
                    let p = PIECES[(next() as usize) % PIECES.len()];
                    text.splice(at..at, p.chars());
                }
                _ => text.insert(at.min(text.len()), char::from(b' ' + (next() % 95) as u8)),
            }
        }
        let text: String = text.into_iter().collect();
        if let Ok(m) = campaign::parse(&text, "m.yaml") {
            parsed += 1;
            if campaign::resolve(m, dir.path(), &text, "m.yaml").is_ok() {
                resolved += 1;
            }
        }
    }
    eprintln!("fuzz: {n_done} generated manifests: {parsed} parsed, {resolved} resolved, 0 panics");
    assert!(parsed > 0 && resolved > 0);
}
