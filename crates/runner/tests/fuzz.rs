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

/// Every file below `dir` with its bytes (symlinks not followed).
fn tree(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                todo.push(e.path());
            } else if t.is_file() {
                out.insert(e.path(), std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

#[test]
fn outputs_never_escape_or_overwrite_through_symlinks() {
    // Each case is a real run (a shell stage), so the count is small; `make fuzz` runs longer.
    let (n, deadline) = budget(60);
    let mut g = Gen(0x5EC0_11F5);
    let (mut ran, mut refused, mut done) = (0usize, 0usize, 0usize);
    let targets = [
        "victim",
        "victim/x.txt",
        ".",
        "..",
        "data",
        "data/raw.txt",
        "p.yaml",
        "out",
    ];
    let outputs = [
        "a.txt",
        "link/x.txt",
        "link/new.txt",
        "l2/raw.txt",
        "sub/a.txt",
        "loop/loop/a.txt",
        "link",
        "deep/../link/x.txt",
    ];
    for _ in 0..n {
        if deadline.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        done += 1;
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("p");
        let victim = d.path().join("victim");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::create_dir_all(root.join("out")).unwrap();
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::write(victim.join("x.txt"), "victim").unwrap();
        std::fs::write(root.join("data/raw.txt"), "raw").unwrap();
        // Random symlinks inside the output directory.
        for name in ["link", "l2", "loop", "sub"] {
            if g.below(3) > 0 {
                let t = targets[g.below(targets.len())];
                let to = match t {
                    "victim" | "victim/x.txt" => d.path().join(t),
                    "data" | "data/raw.txt" | "p.yaml" => root.join(t),
                    other => std::path::PathBuf::from(other),
                };
                let _ = std::os::unix::fs::symlink(&to, root.join("out").join(name));
            }
        }
        let out = outputs[g.below(outputs.len())];
        let reads = g.below(2) == 0;
        let text = format!(
            "version: 1\noutdir: out\nstages:\n  s:\n    run: [sh, -c, 'echo new > \"$0\"{}', \"${{outputs.o}}\"]\n    outputs: {{ o: \"{out}\" }}\n",
            if reads {
                "; echo \"$PWD/data/raw.txt\" >> \"$AGINGFLOW_READS\""
            } else {
                ""
            }
        );
        std::fs::write(root.join("p.yaml"), &text).unwrap();
        let before_victim = tree(&victim);
        let before_data = tree(&root.join("data"));
        let before_pipeline = std::fs::read(root.join("p.yaml")).unwrap();
        let Ok(p) = runner::pipeline::load(&root.join("p.yaml")) else {
            refused += 1;
            continue;
        };
        let ctx = runner::engine::Ctx::new(&p, true);
        let finished = runner::engine::run(
            &ctx,
            &runner::engine::Selection::default(),
            1,
            false,
            &|_| {},
        );
        match finished {
            Ok(f) if f.iter().all(|s| s.outcome == runner::engine::Outcome::Ran) => ran += 1,
            _ => refused += 1,
        }
        assert_eq!(
            tree(&victim),
            before_victim,
            "{text}: a file outside the project changed"
        );
        assert_eq!(
            tree(&root.join("data")),
            before_data,
            "{text}: an input changed"
        );
        assert_eq!(std::fs::read(root.join("p.yaml")).unwrap(), before_pipeline);
        // Whatever was written lies inside the output directory, once symlinks are resolved.
        let outdir = std::fs::canonicalize(root.join("out")).unwrap();
        for f in tree(&root).keys() {
            if let Ok(real) = std::fs::canonicalize(f)
                && std::fs::read(f).ok().as_deref() == Some(b"new\n".as_slice())
            {
                assert!(
                    real.starts_with(&outdir),
                    "{text}: wrote {}",
                    real.display()
                );
            }
        }
    }
    eprintln!(
        "fuzz: {done} pipelines with symlinks in their output directory: {ran} ran, {refused} refused; nothing outside written"
    );
    assert!(ran > 0 && refused > 0);
}
