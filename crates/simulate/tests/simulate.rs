//! The simulator: byte-identical campaigns for a seed whatever the thread count, the committed
//! demo fixture regenerates exactly, and the truth it records is the truth it wrote.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo")
}

/// Every file below `dir` (relative path to bytes).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn generate(threads: usize) -> (tempfile::TempDir, simulate::Summary) {
    let spec = simulate::read_spec(&demo().join("truth-spec.yaml")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let s = pool
        .install(|| simulate::simulate(&spec, out.path(), 1, &|_| {}))
        .unwrap();
    (out, s)
}

#[test]
fn the_demo_fixture_regenerates_byte_identically_with_any_thread_count() {
    let (one, s) = generate(1);
    let (two, _) = generate(2);
    assert_eq!((s.relaxation_files, s.indentation_files), (19, 300));
    let (a, b) = (tree(one.path()), tree(two.path()));
    assert!(a == b, "1 and 2 threads differ");
    // The committed fixture is exactly what the spec gives (`make fixtures` changes nothing).
    let mut committed = tree(&demo());
    committed.remove("truth-spec.yaml");
    committed.remove("README.md");
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        a.keys().collect::<Vec<_>>()
    );
    for (k, v) in &a {
        assert!(
            committed[k] == *v,
            "{k} differs from the committed fixture: run `make fixtures`"
        );
    }
    let bytes: usize = committed.values().map(Vec::len).sum();
    assert!(bytes < 8_000_000, "the demo fixture is {bytes} bytes");
}

#[test]
fn truth_matches_the_spec() {
    let (out, _) = generate(2);
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("truth.json")).unwrap())
            .unwrap();
    let law = &truth["aging_law"][0];
    assert_eq!(law["beta_turning_point_s"], 9000.0);
    assert_eq!(law["mu1"], 0.3);
    let r: Vec<&serde_json::Value> = truth["relaxation"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["temperature_k"] == 633.0)
        .collect();
    assert_eq!(r.len(), 7);
    // beta peaks at the turning point; tau(9000 s) = 3000 s at 633 K.
    let at = |ta: f64| r.iter().find(|x| x["aging_time_s"] == ta).unwrap();
    assert!((at(9000.0)["beta"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    assert!((at(9000.0)["tau_s"].as_f64().unwrap() - 3000.0).abs() < 1e-9);
    assert!(r.iter().all(|x| x["beta"].as_f64().unwrap() <= 0.5 + 1e-12));
    let t1800 = at(1800.0)["tau_s"].as_f64().unwrap();
    assert!((t1800 - 3000.0 * (0.2f64).powf(0.3)).abs() < 1e-9);
    // tau_c from the recorded pop-in load follows the formula; censored indents have none.
    let ind = truth["indentation"].as_array().unwrap();
    let censored = ind.iter().filter(|i| i["popin"] == false).count();
    assert!(
        (1..=20).contains(&censored),
        "{censored} censored of {}",
        ind.len()
    );
    for i in ind.iter().filter(|i| i["popin"] == true) {
        let tc = physics::indentation::tau_c_gpa(
            i["er_gpa"].as_f64().unwrap(),
            i["popin_load_un"].as_f64().unwrap(),
            360.0,
        );
        assert!((tc - i["tau_c_gpa"].as_f64().unwrap()).abs() < 1e-12);
    }
}
