//! The runner's acceptance tests: caching, early cutoff, failures, parallelism, concurrent runs,
//! portable lock files, pipeline-file errors and data-quality checks, with shell one-liners and
//! `agingflow-testkit` as stages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tests::{Run, agingflow, command};

/// A pipeline of four stages: src -> upper -> length, and an independent `side`.
const DIAMOND: &str = r#"version: 1
name: diamond
outdir: out
params: { mode: upper, unused: 1 }
stages:
  src:
    run: [sh, -c, 'cat data/raw.txt > "$0"; echo "$PWD/data/raw.txt" >> "$AGINGFLOW_READS"', "${outputs.o}"]
    with: { level: "1" }
    outputs: { o: src.txt }
  upper:
    run: [sh, -c, 'if [ "$2" = upper ]; then tr a-z A-Z; else cat; fi < "$0" > "$1"', "${inputs.i}", "${outputs.o}", "${with.mode}"]
    inputs: { i: src.o }
    with: { mode: "${params.mode}" }
    outputs: { o: upper.txt }
  length:
    run: [sh, -c, 'wc -c < "$0" | tr -d " " > "$1"', "${inputs.i}", "${outputs.o}"]
    inputs: { i: upper.o }
    outputs: { o: length.txt }
  side:
    run: [sh, -c, 'echo side > "$0"', "${outputs.o}"]
    outputs: { o: side.txt }
"#;

fn setup(pipeline: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/raw.txt"), "hello glass\n").unwrap();
    std::fs::write(dir.path().join("p.yaml"), pipeline).unwrap();
    dir
}

fn run(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["run", "p.yaml"];
    args.extend_from_slice(extra);
    agingflow(dir, &args)
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_second_run_with_nothing_changed_runs_nothing() {
    let d = setup(DIAMOND);
    let first = run(d.path(), &[]);
    assert_eq!(first.code, Some(0), "{first:?}");
    assert_eq!(
        first.stages("ran"),
        names(&["length", "side", "src", "upper"])
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/upper.txt")).unwrap(),
        "HELLO GLASS\n"
    );
    let second = run(d.path(), &[]);
    assert_eq!(second.code, Some(0), "{second:?}");
    assert!(second.stages("ran").is_empty(), "{}", second.stdout);
    assert_eq!(
        second.stages("up to date"),
        names(&["length", "side", "src", "upper"])
    );
    let status = agingflow(d.path(), &["status", "p.yaml"]);
    assert_eq!(status.code, Some(0), "{status:?}");
}

#[test]
fn a_changed_with_value_reruns_its_stage_and_descendants_only() {
    let d = setup(DIAMOND);
    assert_eq!(run(d.path(), &[]).code, Some(0));
    tests::edit(d.path(), "mode: upper", "mode: lower");
    let plan = agingflow(d.path(), &["plan", "p.yaml", "--json"]);
    assert_eq!(plan.code, Some(0), "{plan:?}");
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let action = |s: &str| {
        json["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["stage"] == s)
            .unwrap()
            .clone()
    };
    assert_eq!(action("upper")["action"], "run");
    let reasons = action("upper")["reasons"].as_array().unwrap().clone();
    assert!(
        reasons.iter().any(|r| r["kind"] == "with"
            && r["key"] == "mode"
            && r["old"] == "upper"
            && r["new"] == "lower"),
        "{reasons:?}"
    );
    assert_eq!(action("length")["action"], "run");
    assert_eq!(action("length")["reasons"][0]["kind"], "upstream");
    assert_eq!(action("src")["action"], "up-to-date");
    assert_eq!(action("side")["action"], "up-to-date");
    let status = agingflow(d.path(), &["status", "p.yaml"]);
    assert_eq!(
        status.code,
        Some(1),
        "status exits 1 when stale: {status:?}"
    );
    let why = agingflow(d.path(), &["why", "upper", "p.yaml"]);
    assert!(
        why.stdout.contains("with `mode` changed: upper -> lower"),
        "{}",
        why.stdout
    );

    let r = run(d.path(), &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stages("ran"), names(&["length", "upper"]));
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/upper.txt")).unwrap(),
        "hello glass\n"
    );

    // A param no stage uses changes no key.
    tests::edit(d.path(), "unused: 1", "unused: 2");
    let r = run(d.path(), &[]);
    assert!(r.stages("ran").is_empty(), "{}", r.stdout);
}

#[test]
fn a_changed_byte_in_a_reported_read_reruns_but_touch_does_not() {
    let d = setup(DIAMOND);
    assert_eq!(run(d.path(), &[]).code, Some(0));
    let lock = std::fs::read_to_string(d.path().join("p.lock")).unwrap();
    assert!(
        lock.contains("data/raw.txt"),
        "the read file is recorded: {lock}"
    );

    // touch every file, outputs and lock file included, an hour into the future.
    let t = command("agingflow").get_program().to_owned(); // keep PATH helpers warm
    drop(t);
    let st = std::process::Command::new("sh")
        .args(["-c", "find . -type f -exec touch -d '+1 hour' {} +"])
        .current_dir(d.path())
        .status()
        .unwrap();
    assert!(st.success());
    let r = run(d.path(), &[]);
    assert!(
        r.stages("ran").is_empty(),
        "touch must rerun nothing: {}",
        r.stdout
    );

    // One byte changed in the raw file.
    std::fs::write(d.path().join("data/raw.txt"), "hellO glass\n").unwrap();
    let plan = agingflow(d.path(), &["plan", "p.yaml", "--json"]);
    assert!(
        plan.stdout.contains("\"kind\": \"read\""),
        "{}",
        plan.stdout
    );
    let r = run(d.path(), &[]);
    assert!(r.stages("ran").contains(&"src".to_string()), "{}", r.stdout);
    assert!(
        !r.stages("ran").contains(&"side".to_string()),
        "{}",
        r.stdout
    );
}

#[test]
fn byte_identical_output_stops_propagation() {
    let d = setup(DIAMOND);
    assert_eq!(run(d.path(), &[]).code, Some(0));
    // `level` changes src's key but not what it writes.
    tests::edit(d.path(), "level: \"1\"", "level: \"2\"");
    let r = run(d.path(), &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stages("ran"), names(&["src"]));
    assert_eq!(r.stages("up to date"), names(&["length", "side", "upper"]));
}

fn lock_entry(dir: &Path, stage: &str) -> serde_yaml::Value {
    let text = std::fs::read_to_string(dir.join("p.lock")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    doc["stages"][stage].clone()
}

#[test]
fn a_failed_or_killed_stage_leaves_outputs_and_lock_untouched() {
    let d = setup(DIAMOND);
    assert_eq!(run(d.path(), &[]).code, Some(0));
    let before_out = std::fs::read(d.path().join("out/upper.txt")).unwrap();
    let before_lock = lock_entry(d.path(), "upper");

    // upper now writes half its output and is killed with SIGKILL; side changes too.
    tests::edit(
        d.path(),
        r#"'if [ "$2" = upper ]"#,
        r#"'printf partial > "$1"; kill -9 $$; if [ "$2" = upper ]"#,
    );
    tests::edit(d.path(), "echo side", "echo side2");
    let r = run(d.path(), &["--keep-going", "-j", "1"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stages("failed"), names(&["upper"]));
    assert!(r.stdout.contains("killed by a signal"), "{}", r.stdout);
    assert_eq!(r.stages("skipped"), names(&["length"]));
    assert_eq!(
        r.stages("ran"),
        names(&["side"]),
        "the independent branch finishes with --keep-going"
    );
    assert_eq!(
        std::fs::read(d.path().join("out/upper.txt")).unwrap(),
        before_out
    );
    assert_eq!(lock_entry(d.path(), "upper"), before_lock);
    assert!(d.path().join("out/.agingflow/logs/upper.log").is_file());
    let staging: Vec<_> = std::fs::read_dir(d.path().join("out/.agingflow/staging"))
        .unwrap()
        .collect();
    assert!(staging.is_empty(), "staging cleaned: {staging:?}");

    // A plain non-zero exit, without --keep-going: the run stops and says where the log is.
    tests::edit(
        d.path(),
        "printf partial > \"$1\"; kill -9 $$;",
        "echo broken >&2; exit 3;",
    );
    let r = run(d.path(), &["-j", "1"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stdout
            .contains("exit code 3; log: out/.agingflow/logs/upper.log"),
        "{}",
        r.stdout
    );
    let log = std::fs::read_to_string(d.path().join("out/.agingflow/logs/upper.log")).unwrap();
    assert!(log.contains("broken"), "{log}");
    assert_eq!(
        std::fs::read(d.path().join("out/upper.txt")).unwrap(),
        before_out
    );
    assert_eq!(lock_entry(d.path(), "upper"), before_lock);
}

fn interval(path: &Path) -> (f64, f64) {
    let text = std::fs::read_to_string(path).unwrap();
    let v: Vec<f64> = text
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    (v[0], v[1])
}

const TWO_SLEEPERS: &str = r#"version: 1
outdir: out
stages:
  a:
    run: [sh, -c, 's=$(date +%s.%N); sleep 1; echo "$s $(date +%s.%N)" > "$0"', "${outputs.o}"]
    outputs: { o: a.txt }
  b:
    run: [sh, -c, 's=$(date +%s.%N); sleep 1; echo "$s $(date +%s.%N)" > "$0"', "${outputs.o}"]
    outputs: { o: b.txt }
"#;

#[test]
fn independent_stages_overlap_with_two_jobs_and_not_with_one() {
    for (jobs, overlap) in [("2", true), ("1", false)] {
        let d = setup(TWO_SLEEPERS);
        let r = run(d.path(), &["-j", jobs]);
        assert_eq!(r.code, Some(0), "{r:?}");
        let (a0, a1) = interval(&d.path().join("out/a.txt"));
        let (b0, b1) = interval(&d.path().join("out/b.txt"));
        let overlaps = a0.max(b0) < a1.min(b1);
        assert_eq!(overlaps, overlap, "-j {jobs}: a {a0}..{a1}, b {b0}..{b1}");
    }
}

const COUNTED: &str = r#"version: 1
outdir: out
stages:
  a:
    run: [sh, -c, 'echo a >> runs.log; sleep 0.3; echo a > "$0"', "${outputs.o}"]
    outputs: { o: a.txt }
  b:
    run: [sh, -c, 'echo b >> runs.log; sleep 0.3; cat "$0" > "$1"', "${inputs.i}", "${outputs.o}"]
    inputs: { i: a.o }
    outputs: { o: b.txt }
  c:
    run: [sh, -c, 'echo c >> runs.log; sleep 0.3; echo c > "$0"', "${outputs.o}"]
    outputs: { o: c.txt }
  d:
    run: [sh, -c, 'echo d >> runs.log; cat "$0" "$1" > "$2"', "${inputs.b}", "${inputs.c}", "${outputs.o}"]
    inputs: { b: b.o, c: c.o }
    outputs: { o: d.txt }
"#;

#[test]
fn two_concurrent_runs_never_run_a_stage_twice() {
    for _ in 0..3 {
        let d = setup(COUNTED);
        let spawn = || {
            command("agingflow")
                .args(["run", "p.yaml", "-j", "2"])
                .current_dir(d.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (p1, p2) = (spawn(), spawn());
        let (o1, o2): (Run, Run) = (
            p1.wait_with_output().unwrap().into(),
            p2.wait_with_output().unwrap().into(),
        );
        assert_eq!(o1.code, Some(0), "{o1:?}");
        assert_eq!(o2.code, Some(0), "{o2:?}");
        let mut runs: Vec<String> = std::fs::read_to_string(d.path().join("runs.log"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        runs.sort();
        assert_eq!(
            runs,
            names(&["a", "b", "c", "d"]),
            "each stage exactly once"
        );
        let mut ran = o1.stages("ran");
        ran.extend(o2.stages("ran"));
        ran.sort();
        assert_eq!(ran, names(&["a", "b", "c", "d"]));
        // Both left a valid lock file with every stage, and nothing is stale.
        for s in ["a", "b", "c", "d"] {
            assert!(lock_entry(d.path(), s)["argv"].is_sequence(), "{s}");
        }
        assert_eq!(agingflow(d.path(), &["status", "p.yaml"]).code, Some(0));
    }
}

#[test]
fn lock_files_of_two_checkouts_are_byte_identical() {
    let a = setup(DIAMOND);
    let outer = tempfile::tempdir().unwrap();
    let b_path = outer.path().join("some/deeper/checkout");
    std::fs::create_dir_all(b_path.join("data")).unwrap();
    std::fs::copy(a.path().join("p.yaml"), b_path.join("p.yaml")).unwrap();
    std::fs::copy(a.path().join("data/raw.txt"), b_path.join("data/raw.txt")).unwrap();
    assert_eq!(run(a.path(), &[]).code, Some(0));
    assert_eq!(run(&b_path, &["-j", "1"]).code, Some(0));
    let la = std::fs::read(a.path().join("p.lock")).unwrap();
    let lb = std::fs::read(b_path.join("p.lock")).unwrap();
    assert_eq!(String::from_utf8_lossy(&la), String::from_utf8_lossy(&lb));
    let text = String::from_utf8(la).unwrap();
    assert!(
        !text.contains(&*a.path().to_string_lossy()),
        "no absolute path in the lock file"
    );
}

/// Broken pipeline files: each message has file:line:column, snapshotted.
#[test]
fn broken_pipeline_files_are_reported_with_positions() {
    let cases: &[(&str, &str)] = &[
        ("bad_yaml", "version: 1\nstages:\n  a: [run: x\n"),
        (
            "unknown_key",
            "version: 1\nstages:\n  a:\n    run: [echo]\n    outptus: { o: a.txt }\n",
        ),
        (
            "unknown_stage",
            "version: 1\nstages:\n  fit:\n    uses: kww-fitt\n",
        ),
        (
            "cycle",
            "version: 1\nstages:\n  a:\n    run: [cat, '${inputs.i}']\n    inputs: { i: b.o }\n    outputs: { o: a.txt }\n  b:\n    run: [cat, '${inputs.i}']\n    inputs: { i: a.o }\n    outputs: { o: b.txt }\n",
        ),
        (
            "missing_reference",
            "version: 1\nstages:\n  a:\n    run: [echo]\n    outputs: { o: a.txt }\n  b:\n    run: [echo]\n    inputs: { i: nothere.o, j: a.nope }\n    outputs: { o: b.txt }\n",
        ),
        (
            "duplicate_output",
            "version: 1\nstages:\n  a:\n    run: [echo]\n    outputs: { o: same.parquet }\n  b:\n    run: [echo]\n    outputs: { o: ./same.parquet }\n",
        ),
        (
            "output_escaping",
            "version: 1\noutdir: build\nstages:\n  a:\n    run: [echo]\n    outputs: { o: ../../etc/passwd, p: /tmp/x }\n",
        ),
        (
            "wrong_type",
            "version: 1\nstages:\n  a:\n    run: echo hello\n    with: 5\n    deps: { a: b }\n",
        ),
        ("empty_file", ""),
        (
            "missing_uses_or_run",
            "version: 1\nstages:\n  a:\n    with: { x: 1 }\n    outputs: { o: a.txt }\n",
        ),
        (
            "bad_version_and_rule",
            "version: 2\nstages:\n  a:\n    run: [echo]\n    outputs: { o: a.txt }\n    checks:\n      - table: o\n        expect: \"status = 'ok'\"\n      - table: nope\n        expect: \"count >= 1\"\n",
        ),
        (
            "builtin_ports",
            "version: 1\nstages:\n  clean:\n    uses: clean\n    inputs: { relaxation-raw: ingest.relaxation-raw, extra: x.y }\n    outputs: { relaxation-clean: c.parquet }\n",
        ),
        (
            "unknown_placeholder",
            "version: 1\nparams: { a: 1 }\nstages:\n  a:\n    run: [echo, '${params.b}', '${inputs.x}', '${env.HOME}']\n    outputs: { o: a.txt }\n",
        ),
        (
            "several_errors_at_once",
            "version: 1\nbogus: 1\nstages:\n  a:\n    uses: nope\n  b:\n    run: []\n    inputs: { i: a }\n",
        ),
    ];
    assert!(cases.len() >= 10);
    for (name, text) in cases {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("broken.yaml"), text).unwrap();
        let r = agingflow(d.path(), &["plan", "broken.yaml"]);
        assert_eq!(r.code, Some(2), "{name}: {r:?}");
        assert!(
            r.stdout.is_empty(),
            "{name}: nothing runs or plans: {}",
            r.stdout
        );
        for line in r.stderr.lines().filter(|l| l.contains("error:")) {
            let loc = line.split(": error:").next().unwrap();
            let parts: Vec<&str> = loc.split(':').collect();
            assert_eq!(parts.len(), 3, "{name}: `{line}` lacks file:line:column");
            assert_eq!(parts[0], "broken.yaml");
            assert!(
                parts[1].parse::<usize>().unwrap() >= 1 && parts[2].parse::<usize>().unwrap() >= 1,
                "{line}"
            );
        }
        assert!(r.stderr.contains("error:"), "{name}: {}", r.stderr);
        insta::assert_snapshot!(format!("pipeline_error_{name}"), r.stderr);
    }
}

const CHECKED: &str = r#"version: 1
name: checked
outdir: out
stages:
  fits:
    run: [agingflow-testkit, table, --out, "${outputs.kww-fits}", --rows, "6", --bad, "${with.bad}"]
    with: { bad: "0" }
    outputs: { kww-fits: kww_fits.parquet }
    checks:
      - table: kww-fits
        expect: "status == 'ok'"
      - table: kww-fits
        expect: "r_squared >= 0.99 or status != 'ok'"
      - table: kww-fits
        expect: "count >= 6"
      - table: kww-fits
        expect: "count >= 7"
"#;

#[test]
fn check_evaluates_rules_and_writes_junit() {
    let d = setup(CHECKED);
    // The `count >= 7` rule fails: the stage counts as failed and its outputs do not land.
    let r = run(d.path(), &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("count >= 7"), "{}", r.stdout);
    assert!(
        !d.path().join("out/kww_fits.parquet").exists(),
        "a failing check keeps the output out"
    );
    assert!(
        d.path()
            .join("out/.agingflow/failed/fits/kww_fits.parquet")
            .is_file(),
        "kept for inspection"
    );

    // With --no-checks it lands; `check` then reports, writes JUnit and exits 1.
    tests::edit(d.path(), "bad: \"0\"", "bad: \"2\"");
    let r = run(d.path(), &["--no-checks"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let c = agingflow(d.path(), &["check", "p.yaml", "--junit", "junit.xml"]);
    assert_eq!(c.code, Some(1), "{c:?}");
    assert!(
        c.stdout.contains("FAIL fits.kww-fits: status == 'ok'"),
        "{}",
        c.stdout
    );
    assert!(
        c.stdout.contains("test_id='dma/t000'"),
        "failing rows named by key: {}",
        c.stdout
    );
    let xml = std::fs::read_to_string(d.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 4);
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap())
        .collect();
    assert_eq!(
        failed,
        vec!["kww-fits: status == 'ok'", "kww-fits: count >= 7"]
    );
    let root = doc.root_element();
    assert_eq!(root.attribute("tests"), Some("4"));
    assert_eq!(root.attribute("failures"), Some("2"));
    assert!(
        cases
            .iter()
            .all(|c| c.attribute("classname") == Some("fits"))
    );

    // All rules hold: exit 0.
    let text = std::fs::read_to_string(d.path().join("p.yaml")).unwrap();
    std::fs::write(
        d.path().join("p.yaml"),
        text.replace("bad: \"2\"", "bad: \"0\"")
            .replace("count >= 7", "count <= 7"),
    )
    .unwrap();
    assert_eq!(run(d.path(), &[]).code, Some(0));
    let c = agingflow(d.path(), &["check", "p.yaml"]);
    assert_eq!(c.code, Some(0), "{c:?}");
    assert!(c.stdout.contains("4 passed, 0 failed"), "{}", c.stdout);
}

#[test]
fn selection_flags_and_the_graph() {
    let d = setup(DIAMOND);
    let r = run(d.path(), &["--until", "upper"]);
    assert_eq!(r.stages("ran"), names(&["src", "upper"]), "{}", r.stdout);
    let r = run(d.path(), &["--only", "length"]);
    assert_eq!(r.stages("ran"), names(&["length"]), "{}", r.stdout);
    let r = run(d.path(), &["--from", "upper", "--force", "upper"]);
    assert_eq!(
        r.stages("ran"),
        names(&["upper"]),
        "early cutoff spares length: {}",
        r.stdout
    );
    let r = run(d.path(), &["--force-all"]);
    assert_eq!(r.stages("ran"), names(&["length", "side", "src", "upper"]));
    let r = run(d.path(), &["--only", "nope"]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("no stage `nope`"), "{}", r.stderr);
    let dot = agingflow(d.path(), &["dag", "p.yaml", "--format", "dot"]);
    assert!(
        dot.stdout.contains("\"src\" -> \"upper\" [label=\"o->i\"]"),
        "{}",
        dot.stdout
    );
    let mermaid = agingflow(d.path(), &["dag", "p.yaml", "--format", "mermaid"]);
    assert!(
        mermaid.stdout.starts_with("flowchart LR"),
        "{}",
        mermaid.stdout
    );
    // A missing output on disk makes its stage stale.
    std::fs::remove_file(d.path().join("out/side.txt")).unwrap();
    let why = agingflow(d.path(), &["why", "side", "p.yaml"]);
    assert!(
        why.stdout.contains("output `o` (out/side.txt) is missing"),
        "{}",
        why.stdout
    );
    let _ = Duration::ZERO;
}

#[test]
fn stage_subcommands_exec_their_binary() {
    let d = tempfile::tempdir().unwrap();
    let r = agingflow(d.path(), &["testkit", "nonsense"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains("usage: agingflow-testkit"),
        "{}",
        r.stderr
    );
    let r = agingflow(d.path(), &["no-such-stage"]);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("unknown command `no-such-stage`"),
        "{}",
        r.stderr
    );
}

/// A polystyrene-like relaxation export: TSV with `Time` and `Relaxation Modulus` in Pa under a
/// units row, recorded from 0.2 s after the step every 0.2 s by a clock of 1-s resolution (each
/// stamp five times), KWW with tau 100 s and beta 0.5; `backwards` puts one stamp out of order.
fn export(backwards: bool) -> String {
    let mut noise = rng::Rng::new(35, u64::from(backwards));
    let mut s = String::from("Time\tRelaxation Modulus\ns\tPa\n");
    for k in 0..5000 {
        let t = 0.2 + 0.2 * k as f64;
        let stamp = if backwards && k == 2500 {
            3.0
        } else {
            t.floor()
        };
        // Noise of 0.2 % of the initial modulus, as a rheometer's transducer gives.
        let g = 1e9 * ((-(t / 100.0f64).powf(0.5)).exp() + 2e-3 * noise.normal());
        s.push_str(&format!("{stamp}\t{g:.6e}\n"));
    }
    s
}

/// Issue 35: polystyrene-like relaxation exports (TSV, `Time` and `Relaxation Modulus` in Pa
/// with a units row, recorded from 0.2 s after the step, a clock of 1-s resolution so every
/// time stamp repeats five times) are analysed, not dropped; a test whose clock runs backwards
/// is dropped for that reason, and `agingflow run`'s summary line says so.
#[test]
fn repeated_time_stamps_are_averaged_and_a_dropped_test_is_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("ps")).unwrap();
    std::fs::write(d.join("ps/ps-01.tsv"), export(false)).unwrap();
    std::fs::write(d.join("ps/ps-02.tsv"), export(true)).unwrap();
    let entry = |f: &str, ta: u32| {
        format!(
            "- file: ps/{f}\n  material: PS\n  temperature_k: 353\n  aging_time_s: {ta}\n  strain: 0.01\n  format: csv\n  columns: {{ time: Time, modulus: Relaxation Modulus }}\n"
        )
    };
    std::fs::write(
        d.join("campaign.yaml"),
        format!(
            "campaign: PS\nmaterials:\n  PS:\n    tg_k: 373\nrelaxation:\n{}{}",
            entry("ps-01.tsv", 0),
            entry("ps-02.tsv", 3600)
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("p.yaml"),
        "version: 1\noutdir: out\nstages:\n  ingest:\n    uses: ingest\n    with: { manifest: campaign.yaml }\n    outputs: { relaxation-raw: raw.parquet, indentation-raw: ind.parquet }\n  clean:\n    uses: clean\n    inputs: { relaxation-raw: ingest.relaxation-raw }\n    outputs: { relaxation-clean: clean.parquet, relaxation-tests: tests.parquet }\n  kww-fit:\n    uses: kww-fit\n    inputs: { relaxation-clean: clean.relaxation-clean }\n    with: { model: kww_offset }\n    outputs: { kww-fits: fits.parquet, aging-law: law.parquet }\n  report:\n    uses: report\n    inputs: { kww-fits: kww-fit.kww-fits, relaxation-tests: clean.relaxation-tests }\n    outputs: { report-dir: report }\n",
    )
    .unwrap();
    let r = run(d, &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let summary = r
        .stdout
        .lines()
        .rev()
        .find(|l| l.contains(" ran, "))
        .unwrap();
    assert!(
        summary.contains("1 test dropped (clean: ps/ps-02 non_monotone_time"),
        "{summary}"
    );
    // The report lists it too.
    let page = std::fs::read_to_string(d.join("out/report/index.html")).unwrap();
    let at = page.find("Tests dropped before the fit").unwrap();
    assert!(page[at..].contains("ps/ps-02") && page[at..].contains("non_monotone_time"));
    let (tests, _) =
        tables::read_rows::<tables::RelaxationTest>(&d.join("out/tests.parquet")).unwrap();
    let t1 = tests.iter().find(|t| t.test_id == "ps/ps-01").unwrap();
    assert_eq!(t1.status, "ok", "{t1:?}");
    assert!(t1.flags.contains("repeated_times_averaged"), "{t1:?}");
    assert!(t1.flags.contains("step_not_recorded"), "{t1:?}");
    assert!(t1.flags.contains("stress_from_modulus"), "{t1:?}");
    assert_eq!(t1.step_end_s, None);
    // 1-s stamps from 1 to 999 s: the 200 log-spaced bins below 10 s hold one stamp or none.
    assert!(t1.n_kept >= 100, "{t1:?}");
    let (fits, _) = tables::read_rows::<tables::KwwFit>(&d.join("out/fits.parquet")).unwrap();
    let f1 = fits.iter().find(|f| f.test_id == "ps/ps-01").unwrap();
    eprintln!("{f1:?}");
    // Stamps floored to the second shift each point by 0.4 s on average: tau and beta stay close.
    assert!((f1.beta.unwrap() - 0.5).abs() < 0.03, "{f1:?}");
    assert!((f1.tau_s.unwrap() / 100.0 - 1.0).abs() < 0.1, "{f1:?}");
}

/// Issue 35: `agingflow init` on a folder of plain tables (TSV relaxation exports with a units
/// row, the real PMMA DSC CSV where ../shared is present) writes one entry per file with
/// `format: csv` and the columns it found; the manifest ingests as written once its TODOs are
/// set, and the pipeline it writes names every stage the demo runs.
#[test]
fn init_reads_plain_tables_and_writes_the_full_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let raw = d.join("raw");
    std::fs::create_dir_all(raw.join("PS")).unwrap();
    std::fs::write(raw.join("PS/353K_0s.tsv"), export(false)).unwrap();
    std::fs::write(raw.join("PS/353K_3600s.tsv"), export(false)).unwrap();
    let pmma =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/real/UMET_DSC_N2_10K_1.csv");
    let with_dsc = pmma.is_file();
    if with_dsc {
        std::fs::create_dir_all(raw.join("PMMA")).unwrap();
        std::fs::copy(&pmma, raw.join("PMMA/dsc_10K.csv")).unwrap();
    } else {
        eprintln!("SKIP (DSC part): {} is absent", pmma.display());
    }
    let r = agingflow(
        d,
        &[
            "init",
            "raw",
            "--pattern",
            "{material}/{temperature_k}K_{aging_time_s}s",
            "--pattern",
            "{material}/{*}",
            "--set",
            "tg_k=380",
            "--set",
            "relaxation.strain=0.01",
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let m = std::fs::read_to_string(raw.join("campaign.yaml")).unwrap();
    eprintln!("{m}");
    assert_eq!(
        m.matches("format: csv").count(),
        2 + usize::from(with_dsc),
        "{m}"
    );
    assert_eq!(
        m.matches("columns: { time: Time, modulus: Relaxation Modulus }")
            .count(),
        2,
        "{m}"
    );
    if with_dsc {
        assert!(
            m.contains("columns: { time: Time, temperature: Temp, heat_flow: Heat Flow }"),
            "{m}"
        );
    }
    assert!(!m.contains("null  # TODO:"), "{m}");
    let p = std::fs::read_to_string(raw.join("agingflow.yaml")).unwrap();
    for stage in [
        "ingest:",
        "clean:",
        "kww-fit:",
        "indentation-stats:",
        "activation-energy:",
        "model-compare:",
        "spectrum:",
        "report:",
        "parts: true",
    ] {
        assert!(p.contains(stage), "{stage} missing from\n{p}");
    }
    assert_eq!(p.contains("thermal:"), with_dsc, "{p}");
    // The manifest as written ingests.
    let out = agingflow(
        d,
        &[
            "ingest",
            "--manifest",
            "raw/campaign.yaml",
            "--relaxation-raw",
            "r.parquet",
            "--indentation-raw",
            "i.parquet",
            "--dsc-raw",
            "dsc.parquet",
        ],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
}

/// Issue 35: the pipeline `agingflow init` writes for the demo's raw files runs every stage the
/// demo runs (thermal and spectrum included), with ingest's table folders.
#[test]
fn the_pipeline_init_writes_runs_every_stage_of_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo");
    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap();
            if p.is_dir() {
                copy_tree(&p, &to.join(name));
            } else {
                std::fs::copy(&p, to.join(name)).unwrap();
            }
        }
    }
    for sub in ["dma", "indents", "thermal"] {
        copy_tree(&demo.join(sub), &d.join("raw").join(sub));
    }
    let r = agingflow(
        d,
        &[
            "init",
            "raw",
            "--pattern",
            "{material}/{temperature_k}K_{aging_time_s}s",
            "--pattern",
            "{material}/{*}_{series}_{temperature_k}K_{aging_time_s}s",
            "--pattern",
            "{material}/{*}_{series}",
            "--set",
            "tg_k=680",
            "--set",
            "relaxation.strain=0.001",
            "--set",
            "tip_radius_nm=360",
            "--set",
            "dsc.heating_rate_k_min=20",
            "--set",
            "dsc.mass_mg=10",
            "--set",
            "dma_sweeps.heating_rate_k_min=3",
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let run = agingflow(d, &["run", "raw/agingflow.yaml"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stages("ran"),
        names(&[
            "activation-energy",
            "clean",
            "indentation-stats",
            "ingest",
            "kww-fit",
            "model-compare",
            "report",
            "spectrum",
            "thermal",
        ]),
        "{}",
        run.stdout
    );
    assert!(d.join("raw/build/relaxation_raw").is_dir());
    assert!(d.join("raw/build/report/index.html").is_file());
}
