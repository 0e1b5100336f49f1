//! docs/ci.md's recipes, run: the lines of its GitHub Actions workflow that start with
//! `agingflow` or `git checkout` are run in order on a small pipeline in a real git repository,
//! with the variables the workflow sets, and gate as the page says.

use std::path::Path;
use std::process::Command;

use tests::{agingflow, command};

const PIPELINE: &str = r#"version: 1
name: gated
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
    with: { bootstrap: 20, model: kww_offset }
    outputs: { kww-fits: kww_fits.parquet, aging-law: aging_law.parquet }
    checks:
      - table: kww-fits
        expect: "count >= 6"
      - table: kww-fits
        expect: "beta > 0 and beta <= 1"
"#;

/// The commands of the fenced YAML block number `which` of docs/ci.md that the test runs.
fn commands(which: usize) -> Vec<String> {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ci.md");
    let text = std::fs::read_to_string(&page).unwrap();
    let block = text
        .split("```yaml\n")
        .nth(which + 1)
        .and_then(|b| b.split("```").next())
        .unwrap_or_else(|| panic!("docs/ci.md has no YAML block {which}"));
    block
        .lines()
        .map(|l| l.trim().trim_start_matches("- ").trim())
        .filter(|l| l.starts_with("agingflow ") || l.starts_with("git checkout"))
        .map(str::to_owned)
        .collect()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `lines` with `sh -c` as the workflow would, returning each line's exit code.
fn run_lines(dir: &Path, lines: &[String], base: &str, head: &str) -> Vec<(String, i32)> {
    // `command` puts the workspace's binaries first on PATH.
    let path = command("agingflow")
        .get_envs()
        .find(|(k, _)| *k == "PATH")
        .and_then(|(_, v)| v.map(|v| v.to_owned()))
        .unwrap();
    lines
        .iter()
        .map(|line| {
            let out = Command::new("sh")
                .args(["-c", line])
                .current_dir(dir)
                .env("PATH", &path)
                .env("PIPELINE", "p.yaml")
                .env("OUTDIR", "out")
                .env("BASE", base)
                .env("GITHUB_SHA", head)
                .env("CI_COMMIT_SHA", head)
                .output()
                .unwrap();
            let code = out.status.code().unwrap_or(-1);
            if code != 0 {
                eprintln!(
                    "`{line}` exited {code}:\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            (line.clone(), code)
        })
        .collect()
}

#[test]
fn the_ci_recipes_gate_as_documented() {
    if Command::new("git").arg("--version").output().is_err() {
        eprintln!("skipped: no git on this machine");
        return;
    }
    let github = commands(0);
    let gitlab = commands(1);
    let agingflow_lines = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|l| l.starts_with("agingflow "))
            .cloned()
            .collect()
    };
    assert_eq!(agingflow_lines(&github), agingflow_lines(&gitlab));
    assert!(
        github.iter().any(|l| l.starts_with("agingflow check"))
            && github.iter().any(|l| l.contains("--fail-on")),
        "{github:?}"
    );

    // The analysis repository as its users keep it: pipeline, campaign and lock file committed,
    // outputs ignored.
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    tests::small_campaign(&w.join("campaign"));
    std::fs::write(w.join("p.yaml"), PIPELINE).unwrap();
    std::fs::write(w.join(".gitignore"), "out/\n").unwrap();
    git(w, &["init", "-q"]);
    let commit = |message: &str| {
        let r = agingflow(w, &["run", "p.yaml"]);
        assert_eq!(r.code, Some(0), "{r:?}");
        git(w, &["add", "."]);
        git(w, &["commit", "-q", "-m", message]);
        git(w, &["rev-parse", "HEAD"])
    };
    let base = commit("base");
    // A pull request that changes only the bootstrap: SEs move, beta and tau do not.
    tests::edit(w, "bootstrap: 20", "bootstrap: 30");
    let head = commit("more replicates");

    // CI starts from a fresh clone: no outputs, no run cache.
    let ci = tempfile::tempdir().unwrap();
    let d = &ci.path().join("repo");
    git(ci.path(), &["clone", "-q", &w.to_string_lossy(), "repo"]);
    git(d, &["checkout", "-q", &head]);
    for (line, code) in run_lines(d, &github, &base, &head) {
        assert_eq!(code, 0, "`{line}`");
    }
    let junit = std::fs::read_to_string(d.join("out/checks.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, 2, "{junit}");
    let md = std::fs::read_to_string(d.join("out/diff.md")).unwrap();
    assert!(md.contains("kww_fits"), "{md}");

    // A pull request that changes the model: the diff gate says whether beta or tau moved more
    // than the limits, as `diff --json` measures it (the run cache kept between CI jobs).
    tests::edit(w, "model: kww_offset", "model: kww");
    let (base, head) = (head, commit("plain kww"));
    git(d, &["fetch", "-q", "origin"]);
    git(d, &["checkout", "-q", &head]);
    let results = run_lines(d, &github, &base, &head);
    let json = agingflow(d, &["diff", &base, "HEAD", "-p", "p.yaml", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let largest = |name: &str| -> f64 {
        doc["tables"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t["columns"].as_array().unwrap().iter())
            .filter(|c| c["column"] == name)
            .filter_map(|c| c["max_abs_change"].as_f64())
            .fold(0.0, f64::max)
    };
    let crossed = largest("beta") > 0.02 || largest("tau_s") > 50.0;
    assert!(largest("beta") > 0.0, "{}", json.stdout);
    for (line, code) in results {
        let want = if line.starts_with("agingflow diff") && crossed {
            1
        } else {
            0
        };
        assert_eq!(code, want, "`{line}` (beta moved {})", largest("beta"));
    }
}
