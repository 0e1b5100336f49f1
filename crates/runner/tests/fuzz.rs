//! Property tests: mutated pipeline files and check rules never make the runner's parsers panic.
//! AGINGFLOW_FUZZ_SECONDS (`make fuzz`) runs each for that long; otherwise a fixed count.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rng::Rng;
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

/// The shared fuzz budget (`rng::fuzz`) as (cases, deadline).
fn budget(default: usize) -> (usize, Option<Instant>) {
    let b = rng::fuzz::Budget::from_env(default);
    (b.cases, b.deadline)
}

#[test]
fn the_pipeline_parser_never_panics() {
    let (n, deadline) = budget(100_000);
    let mut g = Rng::new(0xA61F_0F10, 0);
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
    let mut g = Rng::new(0x000C_4EC4, 0);
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
    let mut g = Rng::new(0x5EC0_11F5, 0);
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
        let ctx = runner::ctx::Ctx::new(&p, true);
        let finished =
            runner::local::run(&ctx, &runner::plan::Selection::default(), 1, false, &|_| {});
        match finished {
            Ok(f) if f.iter().all(|s| s.outcome == runner::exec::Outcome::Ran) => ran += 1,
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

/// Every regular file below `dir` whose name is not agingflow's state, for "what changed".
fn files_of(dir: &Path) -> Vec<std::path::PathBuf> {
    tree(dir).into_keys().collect()
}

#[test]
fn the_run_cache_survives_damage_and_symlinks() {
    // Each case is two real runs of a two-stage shell pipeline; `make fuzz` runs longer.
    let (n, deadline) = budget(40);
    let mut g = Rng::new(0xCAC4_E0B1, 0);
    let (mut restored, mut reran, mut done) = (0usize, 0usize, 0usize);
    let text = "version: 1\noutdir: out\nstages:\n  a:\n    run: [sh, -c, 'cat data/raw.txt > \"$0\"; echo \"$PWD/data/raw.txt\" >> \"$AGINGFLOW_READS\"', \"${outputs.o}\"]\n    outputs: { o: a.txt }\n  b:\n    run: [sh, -c, 'mkdir -p \"$1\"; cat \"$0\" > \"$1/x\"; cat \"$0\" \"$0\" > \"$1/y\"', \"${inputs.i}\", \"${outputs.o}\"]\n    inputs: { i: a.o }\n    outputs: { o: b }\n";
    for _ in 0..n {
        if deadline.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        done += 1;
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("p");
        let victim = d.path().join("victim");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::write(root.join("data/raw.txt"), "raw\n").unwrap();
        std::fs::write(root.join("p.yaml"), text).unwrap();
        let p = runner::pipeline::load(&root.join("p.yaml")).unwrap();
        let run = |p: &runner::pipeline::Pipeline| {
            let ctx = runner::ctx::Ctx::new(p, true);
            runner::local::run(&ctx, &runner::plan::Selection::default(), 1, false, &|_| {})
                .unwrap()
        };
        run(&p);
        // A victim holding exactly the bytes of each cache file, for symlinks to point at.
        let cache = root.join("out/.agingflow/cache");
        let files = files_of(&cache);
        for (i, f) in files.iter().enumerate() {
            std::fs::write(victim.join(i.to_string()), std::fs::read(f).unwrap()).unwrap();
        }
        let before_victim = tree(&victim);
        // Up to four random kinds of damage to random cache files.
        for _ in 0..1 + g.below(4) {
            let i = g.below(files.len());
            let f = &files[i];
            // (Never written through: a file made a symlink to the victim by an earlier step is
            // replaced, not followed.)
            let _ = std::fs::remove_file(f);
            let _ = match g.below(5) {
                0 => std::fs::write(f, b""),
                1 => std::fs::write(f, b"{ not what it was"),
                2 => Ok(()),
                3 => std::os::unix::fs::symlink(victim.join(i.to_string()), f),
                _ => std::os::unix::fs::symlink(f, f),
            };
        }
        // The outputs gone: the second run restores what it can trust and runs the rest.
        std::fs::remove_file(root.join("out/a.txt")).unwrap();
        std::fs::remove_dir_all(root.join("out/b")).unwrap();
        let second = run(&p);
        for f in &second {
            match f.outcome {
                runner::exec::Outcome::Restored => restored += 1,
                runner::exec::Outcome::Ran => reran += 1,
                ref o => panic!("{}: {o:?}", f.stage),
            }
        }
        for (path, want) in [("a.txt", "raw\n"), ("b/x", "raw\n"), ("b/y", "raw\nraw\n")] {
            let out = root.join("out").join(path);
            let t = std::fs::symlink_metadata(&out).unwrap().file_type();
            assert!(t.is_file(), "{path} is {t:?}");
            assert_eq!(std::fs::read_to_string(&out).unwrap(), want);
        }
        // gc with the damage still there removes nothing outside and never the victim.
        let lock = runner::lock::LockFile::read(&p.lock_path());
        let keep: Vec<_> = lock.stages.into_values().collect();
        let _ = runner::cache::Cache::new(&p.outdir_abs()).gc(&keep, &[], g.below(2) == 0);
        assert_eq!(
            tree(&victim),
            before_victim,
            "a file outside the cache changed"
        );
    }
    eprintln!(
        "fuzz: {done} damaged run caches: {restored} stages restored, {reran} run again; outputs right and regular, nothing outside changed, 0 panics"
    );
    assert!(reran > 0);
}

#[test]
fn globs_end_on_random_symlink_graphs() {
    let (n, deadline) = budget(300);
    let mut g = Rng::new(0x61_0B5, 0);
    let (mut done, mut matched) = (0usize, 0usize);
    let names = ["a", "b", "c", ".h"];
    let patterns = [
        "**/*",
        "**/*.txt",
        "*/**/f*",
        "a/**",
        "**/b/*.txt",
        "*/*/*",
        ".h/**/*",
    ];
    for _ in 0..n {
        if deadline.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        done += 1;
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("r");
        // A small random tree: folders, files, and symlinks to `.`, `..`, other folders, files,
        // themselves or nothing.
        let mut dirs = vec![root.clone()];
        std::fs::create_dir_all(&root).unwrap();
        for _ in 0..3 + g.below(10) {
            let parent = dirs[g.below(dirs.len())].clone();
            let name = names[g.below(names.len())];
            let path = parent.join(name);
            match g.below(4) {
                0 => {
                    if std::fs::create_dir(&path).is_ok() {
                        dirs.push(path);
                    }
                }
                1 => {
                    let _ = std::fs::write(path.with_extension("txt"), "f");
                    let _ = std::fs::write(parent.join(format!("f{name}")), "f");
                }
                _ => {
                    let to = match g.below(5) {
                        0 => std::path::PathBuf::from("."),
                        1 => std::path::PathBuf::from(".."),
                        2 => dirs[g.below(dirs.len())].clone(),
                        3 => path.clone(),
                        _ => std::path::PathBuf::from("nowhere"),
                    };
                    let _ = std::os::unix::fs::symlink(to, &path);
                }
            }
        }
        let pattern = root.join(patterns[g.below(patterns.len())]);
        let (tx, rx) = std::sync::mpsc::channel();
        let pat = pattern.to_string_lossy().into_owned();
        std::thread::spawn(move || {
            let _ = tx.send(guard::walk::glob(&pat, guard::walk::Hidden::Skip, &|| {
                false
            }));
        });
        let found = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{}: the walk did not end", pattern.display()))
            .unwrap();
        let mut unique = found.clone();
        unique.dedup();
        assert_eq!(unique.len(), found.len(), "sorted and each path once");
        for f in &found {
            assert!(f.starts_with(&root), "{}", f.display());
            assert!(
                std::fs::symlink_metadata(f).is_ok(),
                "{} exists",
                f.display()
            );
        }
        matched += found.len();
    }
    eprintln!(
        "fuzz: {done} random symlink graphs globbed: {matched} paths, every walk ended, 0 panics"
    );
    assert!(matched > 0);
}

#[test]
fn diff_revisions_and_rules_never_act_as_options_or_panic() {
    if std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no git on this machine");
        return;
    }
    let (n, deadline) = budget(200);
    let mut g = Rng::new(0xD1FF_0001, 0);
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    std::fs::write(root.join("p.yaml"), "version: 1\noutdir: out\nstages:\n  s:\n    run: [sh, -c, 'echo s > \"$0\"', \"${outputs.o}\"]\n    outputs: { o: s.txt }\n").unwrap();
    std::fs::write(root.join("p.lock"), "version: 1\nstages: {}\n").unwrap();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(root)
            .output()
            .unwrap()
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "one"]);
    let before = tree(root);
    let p = runner::pipeline::load(&root.join("p.yaml")).unwrap();
    let rev_pieces = [
        "HEAD",
        "~1",
        "^",
        "..",
        "-",
        "--output=x",
        "--",
        ":",
        "@{0}",
        "main",
        "x",
        "\n",
        " ",
        "{",
        "-p",
        "--exec=touch y",
    ];
    let rule_pieces = [
        "beta",
        ">",
        ">=",
        "0.5",
        "(",
        ")",
        " ",
        "kww_fits.",
        "tau_s",
        "-1",
        "nan",
        "1e999",
        "nosuch",
        "summary.",
        "[",
        "]",
    ];
    let (mut revs, mut refused, mut rules) = (0usize, 0usize, 0usize);
    for _ in 0..n {
        if deadline.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        let rev: String = (0..1 + g.below(4))
            .map(|_| rev_pieces[g.below(rev_pieces.len())])
            .collect();
        revs += 1;
        if runner::diff::lock_at(&p, &rev).is_err() {
            refused += 1;
        }
        if rev.starts_with('-') {
            assert!(runner::diff::lock_at(&p, &rev).is_err(), "{rev:?} taken");
        }
        let rule: String = (0..1 + g.below(6))
            .map(|_| rule_pieces[g.below(rule_pieces.len())])
            .collect();
        if let Ok(r) = runner::diff::FailOn::parse(&rule) {
            rules += 1;
            let _ = r.crossed(g.below(3) as f64);
        }
    }
    // Nothing in the repository was written by git on our behalf.
    let after = tree(root);
    let added: Vec<_> = after
        .keys()
        .filter(|k| !before.contains_key(*k) && !k.components().any(|c| c.as_os_str() == ".git"))
        .collect();
    assert!(added.is_empty(), "files appeared: {added:?}");
    eprintln!(
        "fuzz: {revs} random revisions ({refused} refused, none taken as an option, nothing written), {rules} rules parsed, 0 panics"
    );
}
