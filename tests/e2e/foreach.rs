//! `foreach:` on a real pipeline: two simulated campaigns of two glasses, each chain (ingest,
//! clean, kww-fit) expanded per campaign from a glob, and one report gathering both (a reduce).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tests::agingflow;

const PIPELINE: &str = r#"version: 1
name: glasses
outdir: out
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
  kww-fit:
    foreach: { glob: "campaigns/*/campaign.yaml" }
    uses: kww-fit
    inputs: { relaxation-clean: "clean@${item}.relaxation-clean" }
    outputs: { kww-fits: "${item}/kww_fits.parquet", aging-law: "${item}/aging_law.parquet" }
  count:
    run: [sh, -c, 'echo "$#" > "$0"', "${outputs.n}", "${inputs.fits}"]
    inputs: { fits: "kww-fit@*.kww-fits" }
    outputs: { n: count.txt }
  report:
    uses: report
    inputs: { kww-fits: "kww-fit@*.kww-fits", aging-law: "kww-fit@*.aging-law" }
    outputs: { report-dir: report }
"#;

#[test]
fn a_foreach_pipeline_runs_each_campaign_and_one_report_across_both() {
    let d = tempfile::tempdir().unwrap();
    tests::small_campaign_of(&d.path().join("campaigns/glassA"), Some("GlassA"));
    tests::small_campaign_of(&d.path().join("campaigns/glassB"), Some("GlassB"));
    std::fs::write(d.path().join("p.yaml"), PIPELINE).unwrap();
    let r = agingflow(d.path(), &["run", "p.yaml"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let mut want: Vec<String> = ["ingest", "clean", "kww-fit"]
        .iter()
        .flat_map(|s| [format!("{s}@glassA"), format!("{s}@glassB")])
        .chain(["count".to_string(), "report".to_string()])
        .collect();
    want.sort();
    assert_eq!(r.stages("ran"), want, "{}", r.stdout);
    for g in ["glassA", "glassB"] {
        assert!(d.path().join(format!("out/{g}/kww_fits.parquet")).is_file());
    }
    // The reduce handed both tables to the run stage, as two arguments.
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/count.txt"))
            .unwrap()
            .trim(),
        "2"
    );
    // One report across both glasses.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("out/report/summary.json")).unwrap())
            .unwrap();
    let materials: std::collections::BTreeSet<&str> = summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["material"].as_str())
        .collect();
    assert_eq!(
        materials.into_iter().collect::<Vec<_>>(),
        ["GlassA", "GlassB"]
    );
    // A change in one campaign reruns its chain and the gathering stages only.
    let raw = d.path().join("campaigns/glassB/campaign.yaml");
    let text = std::fs::read_to_string(&raw).unwrap();
    std::fs::write(&raw, format!("{text}\n# edited\n")).unwrap();
    let again = agingflow(d.path(), &["run", "p.yaml"]);
    assert_eq!(again.code, Some(0), "{again:?}");
    assert!(
        again.stages("ran").contains(&"ingest@glassB".to_string())
            && !again.stages("ran").contains(&"ingest@glassA".to_string()),
        "{}",
        again.stdout
    );
}

// Issue 37: `foreach: { glob: "*" }` in the project folder matches neither hidden names (`.git`)
// nor the lock file, the pipeline file or the output directory.
#[test]
fn a_foreach_glob_never_matches_the_projects_own_files() {
    let d = tempfile::tempdir().unwrap();
    for f in ["a.txt", "b.txt"] {
        std::fs::write(d.path().join(f), f).unwrap();
    }
    std::fs::create_dir_all(d.path().join(".git")).unwrap();
    std::fs::write(
        d.path().join("p.yaml"),
        "version: 1\noutdir: out\nstages:\n  copy:\n    foreach: { glob: \"*\" }\n    run: [sh, -c, 'cat \"$1\" > \"$0\"', \"${outputs.o}\", \"${item.path}\"]\n    outputs: { o: \"${item}.copy\" }\n",
    )
    .unwrap();
    for round in 0..2 {
        let r = agingflow(d.path(), &["run", "p.yaml"]);
        assert_eq!(r.code, Some(0), "{r:?}");
        let mut all = r.stages("ran");
        all.extend(r.stages("up to date"));
        all.sort();
        assert_eq!(
            all,
            ["copy@a.txt", "copy@b.txt"],
            "round {round}: {}",
            r.stdout
        );
    }
}

// Issue 37: items with dots (documented as allowed) gathered by a reduce `make@*.o`.
#[test]
fn dotted_items_are_gathered_by_a_reduce() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("p.yaml"),
        "version: 1\noutdir: out\nstages:\n  make:\n    foreach: [sample.A, v1.2, plain]\n    run: [sh, -c, 'echo \"$1\" > \"$0\"', \"${outputs.o}\", \"${item}\"]\n    outputs: { o: \"${item}.o\" }\n  all:\n    run: [sh, -c, 'cat \"$@\" | sort > \"$0\"', \"${outputs.o}\", \"${inputs.x}\"]\n    inputs: { x: \"make@*.o\" }\n    outputs: { o: all.txt }\n",
    )
    .unwrap();
    let r = agingflow(d.path(), &["run", "p.yaml"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/all.txt")).unwrap(),
        "plain\nsample.A\nv1.2\n"
    );
}
