//! Property tests: mutated pipeline files and check rules never make the runner's parsers panic.
//! AGINGFLOW_FUZZ_SECONDS (`make fuzz`) runs each for that long; otherwise a fixed count.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use runner::checks::{Rule, evaluate};
use runner::pipeline::parse;

const PIPELINE: &str = "version: 1\nname: demo\noutdir: ../build/demo\nparams: { seed: 7 }\nstages:\n  ingest:\n    uses: ingest\n    with:\n      manifest: ../fixtures/demo/campaign.yaml\n    outputs:\n      relaxation-raw: relaxation_raw.parquet\n      indentation-raw: indentation_raw.parquet\n  clean:\n    uses: clean\n    inputs:\n      relaxation-raw: ingest.relaxation-raw\n    outputs: { relaxation-clean: c.parquet, relaxation-tests: t.parquet }\n  kww-fit:\n    uses: kww-fit\n    inputs: { relaxation-clean: clean.relaxation-clean }\n    with: { bootstrap: 200, seed: \"${params.seed}\" }\n    outputs: { kww-fits: f.parquet, aging-law: l.parquet }\n    checks:\n      - table: kww-fits\n        expect: \"status == 'ok' and r_squared >= 0.99\"\n  extra:\n    run: [\"python3\", \"x.py\", \"${inputs.fits}\", \"${outputs.plot}\"]\n    inputs: { fits: kww-fit.kww-fits }\n    deps: [\"x.py\"]\n    outputs: { plot: extra.png }\n";

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
    "~",
    "null",
    "${",
    "${params.",
    "}",
    ".",
    "..",
    "/",
    "uses: ",
    "run: ",
    "inputs: ",
    "outputs: ",
    "checks:",
    "#",
    "\t",
    "1e999",
    "\u{FEFF}",
];
const RULE_PIECES: &[&str] = &[
    "status",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "'ok'",
    "'",
    "and",
    "or",
    "(",
    ")",
    "count",
    "1e3",
    "-2.5",
    "null",
    "true",
    " ",
    "r_squared",
    "beta",
    "0.99",
];

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn budget(default: usize) -> (usize, Option<Instant>) {
    match std::env::var("AGINGFLOW_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(s) => (usize::MAX, Some(Instant::now() + Duration::from_secs(s))),
        None => (default, None),
    }
}

#[test]
fn the_pipeline_parser_never_panics() {
    let (n, deadline) = budget(100_000);
    let mut g = Gen(0xA61F_0F10);
    let (mut ok, mut done) = (0usize, 0usize);
    for k in 0..n {
        if k % 256 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        done += 1;
        let mut text: Vec<char> = PIPELINE.chars().collect();
        for _ in 0..1 + g.below(4) {
            let at = g.below(text.len() + 1);
            match g.below(3) {
                0 if !text.is_empty() => {
                    let end = (at + g.below(12)).min(text.len());
                    text.drain(at.min(end)..end);
                }
                1 => {
                    let p = PIECES[g.below(PIECES.len())];
                    text.splice(at..at, p.chars());
                }
                _ => text.insert(
                    at.min(text.len()),
                    char::from_u32(32 + g.below(95) as u32).unwrap_or(' '),
                ),
            }
        }
        let text: String = text.into_iter().collect();
        match parse(&text, Path::new("p.yaml"), Path::new("/tmp")) {
            Ok(_) => ok += 1,
            Err(e) => assert!(
                !e.diags.is_empty() && e.diags.iter().all(|d| d.pos.line >= 1 && d.pos.col >= 1),
                "{e}"
            ),
        }
    }
    eprintln!(
        "fuzz: {done} generated pipeline files: {ok} valid, the rest refused with positioned errors, 0 panics"
    );
    assert!(ok > 0);
}

#[test]
fn the_rule_parser_and_evaluator_never_panic() {
    let (n, deadline) = budget(200_000);
    let mut g = Gen(0x000C_4EC4);
    // A real table to evaluate parsed rules on.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    let rows: Vec<tables::KwwFit> = (0..5)
        .map(|i| tables::KwwFit {
            test_id: format!("t{i}"),
            r_squared: Some(0.9 + 0.02 * i as f64),
            beta: (i % 2 == 0).then_some(0.5),
            status: "ok".into(),
            ..Default::default()
        })
        .collect();
    tables::write_rows(
        &path,
        rows,
        &tables::Provenance::new("fuzz", serde_json::json!({})),
    )
    .unwrap();
    let (mut parsed, mut done) = (0usize, 0usize);
    for k in 0..n {
        if k % 256 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        done += 1;
        let mut rule = String::new();
        for _ in 0..1 + g.below(9) {
            rule.push_str(RULE_PIECES[g.below(RULE_PIECES.len())]);
            if g.below(3) > 0 {
                rule.push(' ');
            }
        }
        if let Ok(r) = Rule::parse(&rule) {
            parsed += 1;
            // Evaluation reads the table; do it for one parsed rule in 64.
            if parsed % 64 == 0 {
                let _ = evaluate(&r, &path);
            }
        }
    }
    eprintln!(
        "fuzz: {done} generated rules: {parsed} parsed (1 in 64 evaluated on a table), 0 panics"
    );
    assert!(parsed > 0);
}
