//! Hostile and careless use (issue 11): every reproduction of the table as a test. None of
//! them may lose or alter a byte of a file that is not an agingflow output; each gets a message
//! that names the real cause.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tests::{Run, agingflow, command};

mod inputs;

/// Every file below `dir` (symlinks not followed) with its bytes: what must not change.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                todo.push(p);
            } else if t.is_file() {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Asserts that every file of `before` is still there with the same bytes.
fn unchanged(before: &BTreeMap<PathBuf, Vec<u8>>) {
    for (p, bytes) in before {
        let now = std::fs::read(p).unwrap_or_else(|e| panic!("{} is gone: {e}", p.display()));
        assert!(now == *bytes, "{} was altered", p.display());
    }
}

fn stage(binary: &str, dir: &Path, args: &[&str]) -> Run {
    command(binary)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
        .into()
}

/// The first file (by name) below `dir` that is not agingflow's marker.
fn first_file_under(dir: &Path) -> PathBuf {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != ".agingflow-output"))
        .collect();
    entries.sort();
    match entries.first() {
        Some(e) if e.is_dir() => first_file_under(e),
        Some(e) => e.clone(),
        None => panic!("no file under {}", dir.display()),
    }
}

/// A small campaign in `dir/c` and its tables from ingest, clean and kww-fit in `dir/t`.
fn campaign_with_tables(dir: &Path) {
    tests::small_campaign(&dir.join("c"));
    std::fs::create_dir_all(dir.join("t")).unwrap();
    let r = stage(
        "agingflow-ingest",
        dir,
        &[
            "--manifest",
            "c/campaign.yaml",
            "--relaxation-raw",
            "t/rr.parquet",
            "--indentation-raw",
            "t/ir.parquet",
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let r = stage(
        "agingflow-clean",
        dir,
        &[
            "--relaxation-raw",
            "t/rr.parquet",
            "--relaxation-clean",
            "t/rc.parquet",
            "--relaxation-tests",
            "t/rt.parquet",
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let r = stage(
        "agingflow-kww-fit",
        dir,
        &[
            "--relaxation-clean",
            "t/rc.parquet",
            "--kww-fits",
            "t/kww_fits.parquet",
            "--aging-law",
            "t/law.parquet",
            "--bootstrap",
            "0",
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
}

// Row 1: the report's directory.
#[test]
fn the_report_never_empties_a_folder_that_is_not_its_own() {
    let d = tempfile::tempdir().unwrap();
    campaign_with_tables(d.path());
    let c = d.path().join("work");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::copy(
        d.path().join("t/kww_fits.parquet"),
        c.join("kww_fits.parquet"),
    )
    .unwrap();
    std::fs::write(c.join("thesis.tex"), "\\chapter{Aging}").unwrap();
    let before = snapshot(&c);
    let report = |dir: &str| {
        stage(
            "agingflow-report",
            &c,
            &["--kww-fits", "kww_fits.parquet", "--report-dir", dir],
        )
    };
    for target in [".", "..", "./", "../work"] {
        let r = report(target);
        assert_ne!(r.code, Some(0), "--report-dir {target}: {r:?}");
        assert!(
            r.stderr.contains("refusing"),
            "--report-dir {target}: {}",
            r.stderr
        );
        unchanged(&before);
    }
    // A folder holding the input and other files.
    std::fs::create_dir_all(c.join("data")).unwrap();
    std::fs::copy(c.join("kww_fits.parquet"), c.join("data/kww_fits.parquet")).unwrap();
    std::fs::write(c.join("data/notes.txt"), "lab notes").unwrap();
    let before = snapshot(&c);
    let r = stage(
        "agingflow-report",
        &c,
        &[
            "--kww-fits",
            "data/kww_fits.parquet",
            "--report-dir",
            "data",
        ],
    );
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("contains an input table"), "{}", r.stderr);
    unchanged(&before);
    // A user's folder without the input: refused too, saying what to do.
    std::fs::create_dir_all(c.join("mine")).unwrap();
    std::fs::write(c.join("mine/plot.py"), "import numpy").unwrap();
    let before = snapshot(&c);
    let r = report("mine");
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(
        r.stderr.contains("agingflow did not make") && r.stderr.contains("plot.py"),
        "{}",
        r.stderr
    );
    unchanged(&before);
    // Its own folder is replaced; once a user adds a file to it, it is not.
    assert_eq!(report("report").code, Some(0));
    assert_eq!(report("report").code, Some(0));
    assert!(c.join("report/index.html").is_file());
    std::fs::write(c.join("report/my-notes.txt"), "keep me").unwrap();
    let before = snapshot(&c);
    let r = report("report");
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("my-notes.txt"), "{}", r.stderr);
    unchanged(&before);
    // Nothing of agingflow's is left beside.
    let stray: Vec<_> = std::fs::read_dir(&c)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("agingflow-"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

// Row 2: an output may not be an input, the manifest, a raw file, or another output.
#[test]
fn a_stage_alone_never_writes_over_what_it_reads() {
    let d = tempfile::tempdir().unwrap();
    campaign_with_tables(d.path());
    let before = snapshot(d.path());
    let raw = std::fs::read_dir(d.path().join("c/dma"))
        .unwrap()
        .flatten()
        .find(|e| e.file_type().unwrap().is_dir())
        .map(|e| {
            std::fs::read_dir(e.path())
                .unwrap()
                .flatten()
                .next()
                .unwrap()
                .path()
        })
        .unwrap();
    let raw = raw
        .strip_prefix(d.path())
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let ingest = |rr: &str, ir: &str| {
        stage(
            "agingflow-ingest",
            d.path(),
            &[
                "--manifest",
                "c/campaign.yaml",
                "--relaxation-raw",
                rr,
                "--indentation-raw",
                ir,
            ],
        )
    };
    for (rr, ir, says) in [
        (raw.as_str(), "x.parquet", "a raw file the manifest names"),
        ("c/campaign.yaml", "x.parquet", "the manifest"),
        ("x.parquet", "c/./campaign.yaml", "the manifest"),
        ("y.parquet", "y.parquet", "another output of this stage"),
        ("c/dma", "x.parquet", "a raw file"),
    ] {
        let r = ingest(rr, ir);
        assert_ne!(r.code, Some(0), "{rr} {ir}: {r:?}");
        assert!(r.stderr.contains(says), "{rr} {ir}: {}", r.stderr);
        unchanged(&before);
    }
    let r = stage(
        "agingflow-clean",
        d.path(),
        &[
            "--relaxation-raw",
            "t/rr.parquet",
            "--relaxation-clean",
            "t/rr.parquet",
            "--relaxation-tests",
            "t/rt2.parquet",
        ],
    );
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("is an input table"), "{}", r.stderr);
    // Through a symlink to the input.
    std::os::unix::fs::symlink(d.path().join("t"), d.path().join("alias")).unwrap();
    let r = stage(
        "agingflow-kww-fit",
        d.path(),
        &[
            "--relaxation-clean",
            "t/rc.parquet",
            "--kww-fits",
            "alias/rc.parquet",
            "--aging-law",
            "law2.parquet",
        ],
    );
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("is an input table"), "{}", r.stderr);
    unchanged(&before);
}

/// A pipeline in the campaign's own folder (`outdir: .`) with ingest's outputs named `A` and `B`.
fn ingest_here(dir: &Path, a: &str, b: &str) -> Run {
    std::fs::write(
        dir.join("p.yaml"),
        format!(
            "version: 1\noutdir: .\nstages:\n  ingest:\n    uses: ingest\n    with: {{ manifest: campaign.yaml }}\n    outputs: {{ relaxation-raw: \"{a}\", indentation-raw: \"{b}\" }}\n"
        ),
    )
    .unwrap();
    agingflow(dir, &["run", "p.yaml"])
}

#[test]
fn the_runner_never_moves_an_output_over_what_a_stage_reads() {
    let d = tempfile::tempdir().unwrap();
    let c = d.path().join("c");
    tests::small_campaign(&c);
    let raw = "dma/TiZrHfCuNiBe/633K_1800s.txt";
    assert!(c.join(raw).is_file());
    let before = snapshot(&c);
    for (a, b, says) in [
        (raw, "i.parquet", "a file stage `ingest` read"),
        (
            "campaign.yaml",
            "i.parquet",
            "a file named by stage `ingest`",
        ),
    ] {
        let r = ingest_here(&c, a, b);
        assert_eq!(r.code, Some(1), "{a}: {r:?}");
        assert!(r.stdout.contains(says), "{a}: {}", r.stdout);
        unchanged(&before);
        let s = agingflow(&c, &["status", "p.yaml"]);
        assert_eq!(s.code, Some(1), "status after a refused output: {s:?}");
    }
    // The pipeline file and its lock file are refused before anything runs.
    for name in ["p.yaml", "p.lock", ".agingflow/x.parquet"] {
        let r = ingest_here(&c, name, "i.parquet");
        assert_eq!(r.code, Some(2), "{name}: {r:?}");
        assert!(
            r.stderr.contains("give it another path"),
            "{name}: {}",
            r.stderr
        );
    }
}

fn write_pipeline(dir: &Path, text: &str) {
    std::fs::write(dir.join("p.yaml"), text).unwrap();
}

// Row 3: a user's directory where an output file goes.
#[test]
fn a_users_directory_in_the_way_of_an_output_is_kept() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("out/res")).unwrap();
    std::fs::write(d.path().join("out/res/thesis.txt"), "chapter 1").unwrap();
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nstages:\n  s:\n    run: [sh, -c, 'echo result > \"$0\"', \"${outputs.o}\"]\n    outputs: { o: res }\n",
    );
    let before = snapshot(d.path());
    let r = agingflow(d.path(), &["run", "p.yaml"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stdout.contains("out/res") && r.stdout.contains("a directory"),
        "{}",
        r.stdout
    );
    unchanged(&before);
    // A directory output of the runner's own is replaced run after run.
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nstages:\n  s:\n    run: [sh, -c, 'mkdir -p \"$0\" && echo $1 > \"$0/f.txt\"', \"${outputs.o}\", \"${with.v}\"]\n    with: { v: \"1\" }\n    outputs: { o: tree }\n",
    );
    assert_eq!(agingflow(d.path(), &["run", "p.yaml"]).code, Some(0));
    std::fs::write(
        d.path().join("p.yaml"),
        std::fs::read_to_string(d.path().join("p.yaml"))
            .unwrap()
            .replace("v: \"1\"", "v: \"2\""),
    )
    .unwrap();
    let r = agingflow(d.path(), &["run", "p.yaml"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/tree/f.txt")).unwrap(),
        "2\n"
    );
}

const TWO_OUTPUTS: &str = "version: 1\noutdir: out\nstages:\n  s:\n    run: [sh, -c, 'echo $2 > \"$0\"; echo $2 > \"$1\"', \"${outputs.a}\", \"${outputs.b}\", \"${with.v}\"]\n    with: { v: \"old\" }\n    outputs: { a: a.txt, b: sub/b.txt }\n";

// Row 4: all or nothing.
#[test]
fn a_stage_whose_outputs_cannot_all_move_changes_none() {
    let d = tempfile::tempdir().unwrap();
    write_pipeline(d.path(), TWO_OUTPUTS);
    assert_eq!(agingflow(d.path(), &["run", "p.yaml"]).code, Some(0));
    let lock = std::fs::read(d.path().join("p.lock")).unwrap();
    // b.txt's place is taken by a user's folder: neither output changes, the lock neither.
    std::fs::remove_file(d.path().join("out/sub/b.txt")).unwrap();
    std::fs::create_dir_all(d.path().join("out/sub/b.txt")).unwrap();
    std::fs::write(d.path().join("out/sub/b.txt/mine"), "x").unwrap();
    write_pipeline(d.path(), &TWO_OUTPUTS.replace("\"old\"", "\"new\""));
    let r = agingflow(d.path(), &["run", "p.yaml"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("nothing changed"), "{}", r.stdout);
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/a.txt")).unwrap(),
        "old\n"
    );
    assert!(d.path().join("out/sub/b.txt/mine").is_file());
    assert_eq!(std::fs::read(d.path().join("p.lock")).unwrap(), lock);
    // A lock file that cannot be written is found before the stage runs.
    std::fs::remove_dir_all(d.path().join("out/sub/b.txt")).unwrap();
    std::fs::remove_file(d.path().join("p.lock")).unwrap();
    std::fs::create_dir(d.path().join("p.lock")).unwrap();
    let r = agingflow(d.path(), &["run", "p.yaml"]);
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("nothing was run"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/a.txt")).unwrap(),
        "old\n"
    );
}

// Row 4, second part: a read-only pipeline folder, for a user who is not root.
#[test]
fn a_read_only_pipeline_folder_fails_before_the_stage_runs() {
    let setpriv = Path::new("/usr/bin/setpriv");
    if !setpriv.is_file() {
        eprintln!("skipped: needs setpriv (util-linux) to run the runner as an unprivileged user");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    write_pipeline(d.path(), TWO_OUTPUTS);
    std::fs::create_dir_all(d.path().join("out")).unwrap();
    // The pipeline folder read-only, the output folder writable, both owned by `nobody`.
    let chown = |p: &Path| {
        std::process::Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(p)
            .status()
            .unwrap()
    };
    assert!(chown(d.path()).success());
    let mut perm = std::fs::metadata(d.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o555);
    std::fs::set_permissions(d.path(), perm).unwrap();
    let exe = tests::bin_dir().join("agingflow");
    let out = std::process::Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&exe)
        .args(["run", "p.yaml"])
        .current_dir(d.path())
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", tests::bin_dir().display()),
        )
        .output()
        .unwrap();
    let r: Run = out.into();
    let mut perm = std::fs::metadata(d.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(d.path(), perm).unwrap();
    if r.stderr.contains("Permission denied")
        && r.stderr.contains("agingflow")
        && r.code == Some(126)
    {
        eprintln!("skipped: `nobody` cannot execute the test binaries here");
        return;
    }
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(
        r.stderr.contains("nothing was run") && r.stderr.contains("permission"),
        "{}",
        r.stderr
    );
    assert!(
        !d.path().join("out/a.txt").exists(),
        "an output moved into place"
    );
}

// Row 5: an input changed while its stage ran.
#[test]
fn a_file_changed_during_its_stage_fails_the_stage() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("raw.txt"), "one").unwrap();
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nstages:\n  slow:\n    run: [sh, -c, 'cat raw.txt > \"$0\"; touch started; sleep 1', \"${outputs.o}\"]\n    deps: [raw.txt]\n    outputs: { o: o.txt }\n",
    );
    let child = command("agingflow")
        .args(["run", "p.yaml"])
        .current_dir(d.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !d.path().join("started").exists() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::write(d.path().join("raw.txt"), "two").unwrap();
    let r: Run = child.wait_with_output().unwrap().into();
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stdout.contains("changed while the stage ran"),
        "{}",
        r.stdout
    );
    assert!(!d.path().join("out/o.txt").exists());
    assert!(
        !d.path().join("p.lock").exists()
            || !std::fs::read_to_string(d.path().join("p.lock"))
                .unwrap()
                .contains("slow")
    );
    // A read the stage reports with the hash of what it read, which differs from the file now.
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nstages:\n  reader:\n    run: [sh, -c, 'echo x > \"$0\"; printf \"%s\\t%s\\n\" \"$PWD/raw.txt\" 0000 >> \"$AGINGFLOW_READS\"', \"${outputs.o}\"]\n    outputs: { o: o.txt }\n",
    );
    let r = agingflow(d.path(), &["run", "p.yaml"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stdout.contains("raw.txt changed while the stage ran"),
        "{}",
        r.stdout
    );
}

// Row 6: containment.
#[test]
fn outputs_stay_inside_the_output_directory_and_the_project() {
    let d = tempfile::tempdir().unwrap();
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("x.txt"), "victim").unwrap();
    std::fs::create_dir_all(d.path().join("out")).unwrap();
    std::os::unix::fs::symlink(victim.path(), d.path().join("out/link")).unwrap();
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nstages:\n  s:\n    run: [sh, -c, 'echo evil > \"$0\"', \"${outputs.o}\"]\n    outputs: { o: link/x.txt }\n",
    );
    let r = agingflow(d.path(), &["run", "p.yaml"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stdout.contains("outside the output directory"),
        "{}",
        r.stdout
    );
    assert_eq!(
        std::fs::read_to_string(victim.path().join("x.txt")).unwrap(),
        "victim"
    );
    // An outdir outside the pipeline's folder: refused unless asked for, and never absolute in the
    // lock file.
    let outside = victim.path().join("build");
    for outdir in [
        outside.to_string_lossy().into_owned(),
        "../../../..".to_owned(),
    ] {
        write_pipeline(
            d.path(),
            &format!(
                "version: 1\noutdir: {outdir}\nstages:\n  s:\n    run: [sh, -c, 'echo ok > \"$0\"', \"${{outputs.o}}\"]\n    outputs: {{ o: r.txt }}\n"
            ),
        );
        let r = agingflow(d.path(), &["plan", "p.yaml"]);
        assert_eq!(r.code, Some(2), "{outdir}: {r:?}");
        assert!(r.stderr.contains("outdir_outside: true"), "{}", r.stderr);
    }
    write_pipeline(
        d.path(),
        &format!(
            "version: 1\noutdir: {}\nstages:\n  s:\n    run: [sh, -c, 'echo ok > \"$0\"', \"${{outputs.o}}\"]\n    outputs: {{ o: r.txt }}\n",
            outside.display()
        ),
    );
    let r = agingflow(d.path(), &["run", "p.yaml", "--allow-outside"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(outside.join("r.txt").is_file());
    let lock = std::fs::read_to_string(d.path().join("p.lock")).unwrap();
    assert!(!lock.contains(&*victim.path().to_string_lossy()), "{lock}");
    assert!(lock.contains("../"), "{lock}");
}

// Row 10: signals and time limits.
fn pgrep(pattern: &str) -> Vec<String> {
    let out = std::process::Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn sigterm_and_sigint_stop_the_stages_and_leave_no_trace() {
    for trial in 0..10 {
        let d = tempfile::tempdir().unwrap();
        let marker = format!(
            "{}",
            100_000 + trial * 7 + std::process::id() as usize % 1000 * 100
        );
        write_pipeline(
            d.path(),
            &format!(
                "version: 1\noutdir: out\nstages:\n  quick:\n    run: [sh, -c, 'echo q > \"$0\"', \"${{outputs.o}}\"]\n    outputs: {{ o: q.txt }}\n  long:\n    run: [sh, -c, 'touch started; sleep {marker}; echo x > \"$0\"', \"${{outputs.o}}\"]\n    inputs: {{ i: quick.o }}\n    outputs: {{ o: l.txt }}\n"
            ),
        );
        let child = command("agingflow")
            .args(["run", "p.yaml"])
            .current_dir(d.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while !d.path().join("started").exists() && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(20 * (trial as u64 % 5)));
        let lock_before = std::fs::read(d.path().join("p.lock")).unwrap();
        let (sig, code) = if trial % 2 == 0 {
            ("-TERM", 143)
        } else {
            ("-INT", 130)
        };
        std::process::Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
        let r: Run = child.wait_with_output().unwrap().into();
        assert_eq!(r.code, Some(code), "trial {trial}: {r:?}");
        assert!(
            r.stdout.contains("failed") && r.stdout.contains("ran, "),
            "{}",
            r.stdout
        );
        assert!(
            pgrep(&format!("sleep {marker}")).is_empty(),
            "trial {trial}: a stage is left running"
        );
        let staging: Vec<_> = std::fs::read_dir(d.path().join("out/.agingflow/staging"))
            .unwrap()
            .flatten()
            .collect();
        assert!(
            staging.is_empty(),
            "trial {trial}: staging left: {staging:?}"
        );
        assert_eq!(
            std::fs::read(d.path().join("p.lock")).unwrap(),
            lock_before,
            "trial {trial}"
        );
        assert!(!d.path().join("out/l.txt").exists());
    }
}

#[test]
fn stale_staging_of_a_killed_run_is_removed_and_stages_time_out() {
    let d = tempfile::tempdir().unwrap();
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nstages:\n  slow:\n    run: [sh, -c, 'sleep 30; echo x > \"$0\"', \"${outputs.o}\"]\n    timeout: 1s\n    outputs: { o: s.txt }\n",
    );
    // What a SIGKILLed runner leaves: staging of a process that no longer exists.
    let stale = d.path().join("out/.agingflow/staging/slow-999999999-0");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(
        d.path()
            .join("out/.agingflow/staging/slow-999999999-0.reads"),
        "",
    )
    .unwrap();
    let t = Instant::now();
    let r = agingflow(d.path(), &["run", "p.yaml"]);
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "the timeout did not stop the stage"
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("timed out after"), "{}", r.stdout);
    assert!(!stale.exists(), "stale staging kept");
    assert_eq!(
        std::fs::read_dir(d.path().join("out/.agingflow/staging"))
            .unwrap()
            .count(),
        0
    );
    // The runner's flag sets a limit for stages without their own.
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nstages:\n  slow:\n    run: [sh, -c, 'sleep 30; echo x > \"$0\"', \"${outputs.o}\"]\n    outputs: { o: s.txt }\n",
    );
    let r = agingflow(d.path(), &["run", "p.yaml", "--timeout", "1"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("timed out after"), "{}", r.stdout);
    let r = agingflow(d.path(), &["run", "p.yaml", "--timeout", "soon"]);
    assert_eq!(r.code, Some(2), "{r:?}");
}

// Row 7: a rule nested 20 000 parentheses deep.
#[test]
fn a_deeply_nested_rule_is_refused_without_a_crash() {
    let d = tempfile::tempdir().unwrap();
    for (open, close) in [(20_000, 20_000), (40, 40)] {
        let rule = format!("{}beta > 0{}", "(".repeat(open), ")".repeat(close));
        write_pipeline(
            d.path(),
            &format!(
                "version: 1\noutdir: out\nstages:\n  t:\n    run: [agingflow-testkit, table, --out, \"${{outputs.f}}\", --rows, \"3\", --bad, \"0\"]\n    outputs: {{ f: f.parquet }}\n    checks:\n      - table: f\n        expect: \"{rule}\"\n"
            ),
        );
        for cmd in ["plan", "run", "check", "status"] {
            let r = agingflow(d.path(), &[cmd, "p.yaml"]);
            assert_eq!(r.code, Some(2), "{cmd}: {:?}", r.code);
            assert!(
                r.stderr.contains("nest more than"),
                "{cmd}: {}",
                &r.stderr[..r.stderr.len().min(300)]
            );
        }
    }
    let long = vec!["beta > 0"; 5000].join(" and ");
    write_pipeline(
        d.path(),
        &format!(
            "version: 1\noutdir: out\nstages:\n  t:\n    run: [agingflow-testkit, table, --out, \"${{outputs.f}}\", --rows, \"3\", --bad, \"0\"]\n    outputs: {{ f: f.parquet }}\n    checks:\n      - table: f\n        expect: \"{long}\"\n"
        ),
    );
    let r = agingflow(d.path(), &["plan", "p.yaml"]);
    assert_eq!(r.code, Some(2), "{:?}", r.code);
    assert!(
        r.stderr.contains("comparisons"),
        "{}",
        &r.stderr[..r.stderr.len().min(300)]
    );
}
