//! The Slurm executor against a real Slurm (`make test-slurm`, which starts a single-node cluster
//! and sets SLURM_CONF): the demo byte-identical to a local run with the same lock file, a
//! `foreach` stage as a job array, a failed job's dependents not run, SIGTERM leaving no job in the
//! queue, and SIGKILL then a rerun running no stage twice.
//!
//! Built only with `--features slurm`; every test says so and returns early when no cluster
//! answers (`sinfo` fails), so a machine without Slurm builds and passes `make test` untouched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::{Run, agingflow, command};

/// Whether a Slurm cluster answers here; prints why not.
fn cluster() -> bool {
    let ok = Command::new("sinfo")
        .args(["-h", "-o", "%t"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if !ok {
        eprintln!(
            "skipped: no Slurm cluster answers (`sinfo` failed); `make test-slurm` starts one"
        );
    }
    ok
}

/// The jobs `dir`/out's run recorded (`.agingflow/slurm/jobs.json`), none when there is no record.
fn recorded_jobs(dir: &Path) -> Vec<serde_json::Value> {
    let bytes = std::fs::read(dir.join("out/.agingflow/slurm/jobs.json")).unwrap_or_default();
    let jobs: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    jobs["jobs"].as_array().cloned().unwrap_or_default()
}

/// Jobs of `dir`/out's run still pending or running, by their recorded ids.
fn alive_jobs(dir: &Path) -> Vec<String> {
    let ids: Vec<String> = recorded_jobs(dir)
        .iter()
        .filter_map(|j| j["id"].as_str().map(str::to_owned))
        .collect();
    if ids.is_empty() {
        return vec![];
    }
    let o = Command::new("squeue")
        .args([
            "-h",
            "-r",
            "-t",
            "pending,running,completing,configuring,suspended",
        ])
        .args(["-o", "%i", "-j", &ids.join(",")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Every file below `root` except the runner's state, with its bytes.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel.starts_with(".agingflow") {
                continue;
            }
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// A checkout-like folder: `pipelines/demo.yaml` and `fixtures/demo` as in the project.
fn demo_checkout(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    copy_dir(&root.join("fixtures/demo"), &dir.join("fixtures/demo"));
    std::fs::create_dir_all(dir.join("pipelines")).unwrap();
    std::fs::copy(
        root.join("pipelines/demo.yaml"),
        dir.join("pipelines/demo.yaml"),
    )
    .unwrap();
    // The project's root (outdir ../build/demo lies inside it).
    std::fs::create_dir_all(dir.join(".git")).unwrap();
}

fn overhead_line(r: &Run) -> Option<String> {
    r.stdout
        .lines()
        .find(|l| l.starts_with("slurm: "))
        .map(str::to_owned)
}

#[test]
fn the_demo_on_slurm_matches_a_local_run_with_the_same_lock_file() {
    if !cluster() {
        return;
    }
    let local = tempfile::tempdir().unwrap();
    let cluster_dir = tempfile::tempdir().unwrap();
    demo_checkout(local.path());
    demo_checkout(cluster_dir.path());
    let t = Instant::now();
    let r = agingflow(&local.path().join("pipelines"), &["run", "demo.yaml"]);
    let took_local = t.elapsed();
    assert_eq!(r.code, Some(0), "local run: {r:?}");
    let t = Instant::now();
    let s = agingflow(
        &cluster_dir.path().join("pipelines"),
        &["run", "demo.yaml", "--executor", "slurm"],
    );
    let took = t.elapsed();
    assert_eq!(s.code, Some(0), "slurm run: {s:?}");
    assert_eq!(s.stages("ran").len(), r.stages("ran").len(), "{}", s.stdout);
    eprintln!(
        "demo through Slurm in {:.1} s (locally {:.1} s, -j 2); {}",
        took.as_secs_f64(),
        took_local.as_secs_f64(),
        overhead_line(&s).unwrap_or_default()
    );
    let (a, b) = (
        tree(&local.path().join("build/demo")),
        tree(&cluster_dir.path().join("build/demo")),
    );
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same outputs"
    );
    for (k, v) in &a {
        assert!(
            b[k] == *v,
            "{k} differs between the local and the Slurm run"
        );
    }
    assert!(
        a.len() > 20,
        "the demo wrote its tables and report: {}",
        a.len()
    );
    assert_eq!(
        std::fs::read(local.path().join("pipelines/demo.lock")).unwrap(),
        std::fs::read(cluster_dir.path().join("pipelines/demo.lock")).unwrap(),
        "the lock files are byte-identical"
    );
    // Every stage's job left its Slurm output and its stage log.
    let logs = cluster_dir.path().join("build/demo/.agingflow/logs");
    let slurm_logs = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("slurm-"))
        .count();
    assert_eq!(slurm_logs, s.stages("ran").len());
    assert!(logs.join("spectrum.log").is_file());
    // A second run submits nothing.
    let again = agingflow(
        &cluster_dir.path().join("pipelines"),
        &["run", "demo.yaml", "--executor", "slurm"],
    );
    assert_eq!(again.code, Some(0), "{again:?}");
    assert!(again.stages("ran").is_empty(), "{}", again.stdout);
    assert!(overhead_line(&again).is_none(), "no job: {}", again.stdout);
}

const FOREACH: &str = r#"version: 1
name: glasses
outdir: out
executor: slurm
resources: { cpus: 1, mem_mb: 1024, time_min: 10 }
stages:
  ingest:
    foreach: { glob: "campaigns/*/campaign.yaml" }
    uses: ingest
    with: { manifest: "${item.path}" }
    outputs: { relaxation-raw: "${item}/relaxation_raw.parquet", indentation-raw: "${item}/indentation_raw.parquet" }
  clean:
    foreach: { glob: "campaigns/*/campaign.yaml" }
    uses: clean
    inputs: { relaxation-raw: "ingest@${item}.relaxation-raw" }
    outputs: { relaxation-clean: "${item}/relaxation_clean.parquet", relaxation-tests: "${item}/relaxation_tests.parquet" }
  count:
    run: [sh, -c, 'echo "$#" > "$0"', "${outputs.n}", "${inputs.t}"]
    inputs: { t: "clean@*.relaxation-tests" }
    outputs: { n: count.txt }
"#;

#[test]
fn a_foreach_stage_is_one_job_array() {
    if !cluster() {
        return;
    }
    let mut trees = Vec::new();
    let mut locks = Vec::new();
    for executor in ["local", "slurm"] {
        let d = tempfile::tempdir().unwrap();
        tests::small_campaign_of(&d.path().join("campaigns/glassA"), Some("GlassA"));
        tests::small_campaign_of(&d.path().join("campaigns/glassB"), Some("GlassB"));
        std::fs::write(d.path().join("p.yaml"), FOREACH).unwrap();
        let r = agingflow(d.path(), &["run", "p.yaml", "--executor", executor]);
        assert_eq!(r.code, Some(0), "{executor}: {r:?}");
        assert_eq!(r.stages("ran").len(), 5, "{}", r.stdout);
        if executor == "slurm" {
            let jobs = recorded_jobs(d.path());
            assert_eq!(jobs.len(), 3, "two arrays and one job: {jobs:?}");
            assert_eq!(jobs[0]["array"], true);
            assert_eq!(
                jobs[0]["stages"],
                serde_json::json!(["ingest@glassA", "ingest@glassB"])
            );
            assert_eq!(jobs[2]["stages"], serde_json::json!(["count"]));
            // One Slurm output per array task.
            let id = jobs[0]["id"].as_str().unwrap();
            for k in 0..2 {
                assert!(
                    d.path()
                        .join(format!("out/.agingflow/logs/slurm-{id}_{k}.out"))
                        .is_file()
                );
            }
        }
        trees.push(tree(&d.path().join("out")));
        locks.push(std::fs::read(d.path().join("p.lock")).unwrap());
    }
    assert_eq!(trees[0], trees[1], "outputs byte-identical");
    assert_eq!(locks[0], locks[1], "lock files byte-identical");
}

const CHAIN: &str = r#"version: 1
name: chain
outdir: out
executor: slurm
resources: { cpus: 1, mem_mb: 100 }
stages:
  upper:
    run: [sh, -c, 'echo upper >> ../runs.txt; sleep 0; tr a-z A-Z < "$0" > "$1"', data/raw.txt, "${outputs.o}"]
    deps: [data/raw.txt]
    outputs: { o: upper.txt }
  length:
    run: [sh, -c, 'echo length >> ../runs.txt; wc -c < "$0" > "$1"', "${inputs.i}", "${outputs.o}"]
    inputs: { i: upper.o }
    outputs: { o: length.txt }
  side:
    run: [sh, -c, 'echo side >> ../runs.txt; echo side > "$0"', "${outputs.o}"]
    outputs: { o: side.txt }
"#;

fn chain(dir: &Path, text: &str) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/raw.txt"), "hello glass\n").unwrap();
    std::fs::write(dir.join("p.yaml"), text).unwrap();
}

fn runs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(dir.join("../runs.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// A fresh folder `<tmp>/w` (the stages count their runs in `<tmp>/runs.txt`).
fn work() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    std::fs::create_dir_all(&w).unwrap();
    (t, w)
}

#[test]
fn a_failed_job_runs_no_dependent_and_leaves_the_outputs() {
    if !cluster() {
        return;
    }
    let (_t, d) = work();
    chain(&d, CHAIN);
    let r = agingflow(&d, &["run", "p.yaml"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let before = std::fs::read(d.join("out/upper.txt")).unwrap();
    let lock_before = std::fs::read_to_string(d.join("p.lock")).unwrap();

    tests::edit(&d, "sleep 0;", "echo broken >&2; exit 3;");
    tests::edit(&d, r#"echo side > "$0""#, r#"echo side2 > "$0""#);
    let r = agingflow(&d, &["run", "p.yaml", "--keep-going"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stages("failed"), ["upper"]);
    assert_eq!(r.stages("skipped"), ["length"]);
    assert_eq!(r.stages("ran"), ["side"], "the independent job still runs");
    assert!(
        r.stdout
            .contains("exit code 3; log: out/.agingflow/logs/upper.log"),
        "{}",
        r.stdout
    );
    let log = std::fs::read_to_string(d.join("out/.agingflow/logs/upper.log")).unwrap();
    assert!(log.contains("broken"), "{log}");
    assert_eq!(std::fs::read(d.join("out/upper.txt")).unwrap(), before);
    // upper's and length's entries as they were; side's new.
    let lock: serde_yaml::Value = serde_yaml::from_str(&lock_before).unwrap();
    let now: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(d.join("p.lock")).unwrap()).unwrap();
    assert_eq!(lock["stages"]["upper"], now["stages"]["upper"]);
    assert_eq!(lock["stages"]["length"], now["stages"]["length"]);
    assert_ne!(lock["stages"]["side"], now["stages"]["side"]);
    // length's job was never run: the run counter holds each stage once from the first run,
    // then upper (failed) and side.
    assert_eq!(runs(&d), ["length", "side", "side", "upper", "upper"]);
    assert!(alive_jobs(&d).is_empty());

    // Without --keep-going the same failure also stops the run.
    tests::edit(&d, r#"echo side2 > "$0""#, r#"echo side3 > "$0""#);
    let r = agingflow(&d, &["run", "p.yaml"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stages("failed"), ["upper"]);
    assert!(r.stages("skipped").contains(&"length".to_owned()));
    assert!(alive_jobs(&d).is_empty());
}

/// Starts `agingflow run p.yaml` in `dir` and waits until a job of it runs.
/// The chain with a stage of 60 s, started under Slurm, once a job of it runs (`None`, skipping,
/// without a cluster).
fn slow_chain_running() -> Option<(tempfile::TempDir, PathBuf, std::process::Child)> {
    if !cluster() {
        return None;
    }
    let (t, d) = work();
    chain(&d, &CHAIN.replace("sleep 0;", "sleep 60;"));
    let child = start_and_wait_running(&d);
    Some((t, d, child))
}

fn start_and_wait_running(dir: &Path) -> std::process::Child {
    let mut child = command("agingflow")
        .args(["run", "p.yaml"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if runs(dir).iter().any(|r| r == "upper") {
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("no job of the run started within 60 s");
}

#[test]
fn sigterm_cancels_every_job_of_the_run() {
    let Some((_t, d, child)) = slow_chain_running() else {
        return;
    };
    assert!(!alive_jobs(&d).is_empty());
    kill(child.id(), "TERM");
    let t = Instant::now();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(143), "{stdout}");
    assert!(
        t.elapsed() < Duration::from_secs(45),
        "stopped in {:?}",
        t.elapsed()
    );
    assert!(alive_jobs(&d).is_empty(), "jobs left: {:?}", alive_jobs(&d));
    assert!(
        !d.join("out/upper.txt").exists(),
        "no output of a cancelled stage"
    );
    assert!(stdout.contains("stopped by signal 15"), "{stdout}");
    let staging: Vec<_> = std::fs::read_dir(d.join("out/.agingflow/staging"))
        .unwrap()
        .collect();
    assert!(staging.is_empty(), "staging cleaned: {staging:?}");
}

#[test]
fn sigkill_then_rerun_adopts_the_jobs_and_runs_no_stage_twice() {
    if !cluster() {
        return;
    }
    let reference = {
        let (t, d) = work();
        chain(&d, CHAIN);
        let r = agingflow(&d, &["run", "p.yaml", "--executor", "local"]);
        assert_eq!(r.code, Some(0), "{r:?}");
        (t, tree(&d.join("out")))
    };
    let (_t, d) = work();
    chain(&d, &CHAIN.replace("sleep 0;", "sleep 5;"));
    let child = start_and_wait_running(&d);
    kill(child.id(), "KILL");
    let _ = child.wait_with_output();
    let left = alive_jobs(&d);
    assert!(!left.is_empty(), "the killed runner's jobs go on");
    let r = agingflow(&d, &["run", "p.yaml"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(runs(&d), ["length", "side", "upper"], "each stage ran once");
    assert!(alive_jobs(&d).is_empty());
    assert_eq!(
        tree(&d.join("out")),
        reference.1,
        "outputs as a local run's"
    );
    let again = agingflow(&d, &["run", "p.yaml"]);
    assert_eq!(
        again.stages("up to date"),
        ["length", "side", "upper"],
        "{}",
        again.stdout
    );
    assert_eq!(runs(&d).len(), 3);
}

fn kill(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

#[test]
fn a_job_killed_under_slurm_is_reported_with_its_state_and_exit_code() {
    let Some((_t, d, child)) = slow_chain_running() else {
        return;
    };
    let upper = recorded_jobs(&d)
        .iter()
        .find(|j| j["stages"] == serde_json::json!(["upper"]))
        .and_then(|j| j["id"].as_str())
        .unwrap()
        .to_owned();
    // The job's own process dies at once (as on a node failure or the OOM killer): no outcome.
    let ok = Command::new("scancel")
        .args(["--signal=KILL", "--batch", &upper])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("failed") && l.contains("upper"))
        .unwrap_or_else(|| panic!("upper failed: {stdout}"));
    assert!(
        line.contains(&format!("Slurm job {upper} ended"))
            && line.contains("without an outcome")
            && line.contains(&format!("log: out/.agingflow/logs/slurm-{upper}.out")),
        "{line}"
    );
    assert!(line.contains("exit code"), "{line}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("skipped") && l.contains("length")),
        "{stdout}"
    );
    assert!(alive_jobs(&d).is_empty());
    assert!(!d.join("out/upper.txt").exists());
}

#[test]
fn two_slurm_runs_of_one_folder_take_turns_and_run_each_stage_once() {
    if !cluster() {
        return;
    }
    let (_t, d) = work();
    chain(&d, &CHAIN.replace("sleep 0;", "sleep 3;"));
    let first = start_and_wait_running(&d);
    let second = agingflow(&d, &["run", "p.yaml"]);
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0));
    assert_eq!(second.code, Some(0), "{second:?}");
    assert_eq!(
        second.stages("up to date"),
        ["length", "side", "upper"],
        "the second run waited for the first: {}",
        second.stdout
    );
    assert_eq!(runs(&d), ["length", "side", "upper"], "each stage ran once");
    assert!(alive_jobs(&d).is_empty());
}
