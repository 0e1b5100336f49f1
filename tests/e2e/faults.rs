//! Faults: the runner killed with SIGKILL at random moments of a real pipeline, then run again,
//! must end with outputs byte-identical to an undisturbed run and a valid lock file, with no
//! half-written file at an output path and no damaged entry in the run cache; a corrupt Parquet
//! input is reported clearly and leaves the previous outputs untouched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tests::{agingflow, command, outputs};

const PIPELINE: &str = r#"version: 1
name: faults
outdir: out
stages:
  ingest:
    uses: ingest
    with: { manifest: campaign/campaign.yaml }
    outputs: { relaxation-raw: relaxation_raw.parquet, indentation-raw: indentation_raw.parquet }
  clean:
    uses: clean
    inputs: { relaxation-raw: ingest.relaxation-raw }
    outputs: { relaxation-clean: relaxation_clean.parquet, relaxation-tests: relaxation_tests.parquet }
  kww-fit:
    uses: kww-fit
    inputs: { relaxation-clean: clean.relaxation-clean }
    outputs: { kww-fits: kww_fits.parquet, aging-law: aging_law.parquet }
  indentation-stats:
    uses: indentation-stats
    inputs: { indentation-raw: ingest.indentation-raw }
    outputs: { indents: indents.parquet, tau-c-stats: tau_c_stats.parquet }
  activation-energy:
    uses: activation-energy
    inputs: { kww-fits: kww-fit.kww-fits }
    outputs: { activation-energy: activation_energy.parquet }
  report:
    uses: report
    inputs: { kww-fits: kww-fit.kww-fits, aging-law: kww-fit.aging-law, indents: indentation-stats.indents, tau-c-stats: indentation-stats.tau-c-stats, activation-energy: activation-energy.activation-energy }
    outputs: { report-dir: report }
"#;

fn setup(dir: &Path) {
    tests::small_campaign(&dir.join("campaign"));
    std::fs::write(dir.join("p.yaml"), PIPELINE).unwrap();
}

fn valid_lock(dir: &Path) -> serde_yaml::Value {
    let text = std::fs::read_to_string(dir.join("p.lock")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("the lock file parses");
    assert!(doc["stages"].is_mapping());
    doc
}

/// Every object of the run cache holds the bytes its name says (a killed write leaves only a
/// temporary name, never a wrong object), every tree listing hashes to its name, every item
/// cache entry carries the hash of its payload, and every table ingest kept matches the hash its
/// sidecar names (a table without a sidecar is never used).
fn cache_intact(dir: &Path, trial: usize) {
    let cache = dir.join("out/.agingflow/cache");
    let mut items = vec![cache.join("items")];
    while let Some(d) = items.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                items.push(p);
            } else if name.contains(".agingflow-tmp.") || name.ends_with(".json") {
            } else if name.ends_with(".parquet") {
                let Ok(side) = std::fs::read(p.with_extension("json")) else {
                    continue;
                };
                let side: serde_json::Value = serde_json::from_slice(&side).unwrap();
                assert_eq!(
                    side["blake3"].as_str(),
                    Some(blake3::hash(&std::fs::read(&p).unwrap()).to_hex().as_str()),
                    "trial {trial}: kept table {} differs from its sidecar",
                    p.display()
                );
            } else {
                let bytes = std::fs::read(&p).unwrap();
                assert!(
                    bytes.len() >= 32 && blake3::hash(&bytes[32..]).as_bytes() == &bytes[..32],
                    "trial {trial}: item cache entry {} damaged",
                    p.display()
                );
            }
        }
    }
    let mut todo = vec![cache.join("objects"), cache.join("trees")];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                todo.push(p);
                continue;
            }
            if name.contains(".agingflow-tmp.") {
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            if p.starts_with(cache.join("objects")) {
                assert_eq!(
                    blake3::hash(&bytes).to_hex().to_string(),
                    name,
                    "trial {trial}: cache object {} holds other bytes",
                    p.display()
                );
            } else {
                let mut h = blake3::Hasher::new();
                let text = String::from_utf8(bytes).unwrap();
                let mut lines: Vec<(&str, &str)> =
                    text.lines().filter_map(|l| l.split_once('\t')).collect();
                lines.sort();
                for (rel, hash) in lines {
                    h.update(rel.as_bytes());
                    h.update(b"\0");
                    h.update(hash.as_bytes());
                    h.update(b"\n");
                }
                assert_eq!(
                    h.finalize().to_hex().to_string(),
                    name,
                    "trial {trial}: tree listing {} damaged",
                    p.display()
                );
            }
        }
    }
}

#[test]
fn killing_the_runner_at_random_moments_loses_nothing() {
    // The undisturbed run, and its duration.
    let clean = tempfile::tempdir().unwrap();
    setup(clean.path());
    let t = Instant::now();
    let r = agingflow(clean.path(), &["run", "p.yaml", "-j", "2"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let span = t.elapsed();
    let want = outputs(clean.path());
    assert!(
        want.contains_key("report/index.html") && want.len() > 10,
        "{:?}",
        want.keys().collect::<Vec<_>>()
    );

    let mut seed: u64 = 0x5EED;
    let mut rand = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let trials = 20;
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    for trial in 0..trials {
        // Start from scratch every fourth trial; two trials later drop the outputs and the lock
        // file but keep the run cache (the rerun restores from it, each entry verified by its
        // hash); otherwise kill a run that resumes a killed one.
        if trial % 4 == 0 {
            let _ = std::fs::remove_dir_all(dir.path().join("out"));
            let _ = std::fs::remove_file(dir.path().join("p.lock"));
        } else if trial % 4 == 2 {
            for e in std::fs::read_dir(dir.path().join("out"))
                .into_iter()
                .flatten()
                .flatten()
            {
                if e.file_name() != ".agingflow" {
                    let p = e.path();
                    let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
                }
            }
            let _ = std::fs::remove_file(dir.path().join("p.lock"));
        }
        let delay = Duration::from_millis(rand() % (span.as_millis() as u64).max(1));
        let mut child = command("agingflow")
            .args(["run", "p.yaml", "-j", "2"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Whatever the moment, no output path holds a half-written file: every table present
        // is readable or absent, never truncated.
        for (rel, bytes) in outputs(dir.path()) {
            if rel.ends_with(".parquet") {
                assert!(
                    tables::read_any(&dir.path().join("out").join(&rel)).is_ok(),
                    "trial {trial}: {rel} ({} bytes) unreadable after a kill",
                    bytes.len()
                );
            }
        }
        if dir.path().join("p.lock").exists() {
            valid_lock(dir.path());
        }
        cache_intact(dir.path(), trial);
        // Let any stage the killed runner left behind finish before the rerun.
        std::thread::sleep(Duration::from_millis(50));
        let r = agingflow(dir.path(), &["run", "p.yaml", "-j", "2"]);
        assert_eq!(
            r.code,
            Some(0),
            "trial {trial} (killed after {delay:?}): {r:?}"
        );
        let got = outputs(dir.path());
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "trial {trial}"
        );
        for (k, v) in &want {
            assert!(
                got[k] == *v,
                "trial {trial}: {k} differs from the undisturbed run"
            );
        }
        valid_lock(dir.path());
        let status = agingflow(dir.path(), &["status", "p.yaml"]);
        assert_eq!(
            status.code,
            Some(0),
            "trial {trial}: everything up to date after the rerun: {}",
            status.stdout
        );
    }
}

#[test]
fn a_corrupt_table_is_reported_and_changes_nothing_downstream() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    assert_eq!(agingflow(dir.path(), &["run", "p.yaml"]).code, Some(0));
    let before = outputs(dir.path());
    // Corrupt ingest's output behind the runner's back.
    std::fs::write(
        dir.path().join("out/relaxation_raw.parquet"),
        b"PAR1 not really",
    )
    .unwrap();
    let r = agingflow(dir.path(), &["run", "p.yaml", "--only", "clean"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    let log = std::fs::read_to_string(dir.path().join("out/.agingflow/logs/clean.log")).unwrap();
    assert!(
        log.contains("relaxation_raw.parquet") && log.contains("not a readable Parquet table"),
        "{log}"
    );
    let after = outputs(dir.path());
    for k in ["relaxation_clean.parquet", "relaxation_tests.parquet"] {
        assert!(before[k] == after[k], "{k} changed");
    }
    // A plain run notices ingest's output changed on disk and rebuilds it.
    let r = agingflow(dir.path(), &["run", "p.yaml"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stages("ran").contains(&"ingest".to_string()),
        "{}",
        r.stdout
    );
    assert!(
        outputs(dir.path()) == before,
        "the rebuilt outputs equal the first run's"
    );
}

/// Free bytes on the filesystem holding `dir` (from `df`).
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)?
        .trim()
        .parse()
        .ok()
}

#[test]
fn a_full_disk_fails_the_stage_and_keeps_the_previous_outputs() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&out)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!(
            "SKIP: cannot mount a tmpfs here (needs root and mount permission); the disk-full test did not run"
        );
        return;
    }
    let result = std::panic::catch_unwind(|| {
        let r = agingflow(dir.path(), &["run", "p.yaml"]);
        assert_eq!(r.code, Some(0), "{r:?}");
        let before = outputs(dir.path());
        // Fill the disk, leaving 64 KiB: enough for logs, not for ingest's tables.
        let free = free_bytes(&out).unwrap();
        std::fs::write(
            out.join("filler"),
            vec![0u8; (free.saturating_sub(64 * 1024)) as usize],
        )
        .unwrap();
        // Without its item cache, so that ingest writes its tables again rather than linking
        // the ones it kept.
        std::fs::remove_dir_all(out.join(".agingflow/cache/items/ingest")).unwrap();
        let r = agingflow(dir.path(), &["run", "p.yaml", "--force", "ingest"]);
        assert_eq!(r.code, Some(1), "{r:?}");
        assert!(r.stdout.contains("failed      ingest"), "{}", r.stdout);
        assert!(
            !r.stdout.contains("not a readable Parquet table"),
            "a full disk is not a broken table: {}",
            r.stdout
        );
        let log = std::fs::read_to_string(out.join(".agingflow/logs/ingest.log")).unwrap();
        assert!(
            log.contains("No space left on device") && log.contains("the disk is full"),
            "the log says why: {log}"
        );
        std::fs::remove_file(out.join("filler")).unwrap();
        let after = outputs(dir.path());
        assert!(before == after, "previous outputs untouched");
        let staging: Vec<_> = std::fs::read_dir(out.join(".agingflow/staging"))
            .unwrap()
            .collect();
        assert!(staging.is_empty(), "staging cleaned after the failure");
        // With space again, the run completes and nothing differs.
        let r = agingflow(dir.path(), &["run", "p.yaml"]);
        assert_eq!(r.code, Some(0), "{r:?}");
        assert!(outputs(dir.path()) == before);
    });
    let _ = std::process::Command::new("umount").arg(&out).status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
