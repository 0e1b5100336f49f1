//! Helpers for the end-to-end tests: find the built binaries, run them in a directory, read what
//! they printed.

// Test helpers: a missing binary or a broken PATH should stop the test loudly.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The directory holding the workspace's binaries (`target/debug`), next to the test executable.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps")
        .to_path_buf();
    assert!(
        dir.join("agingflow").is_file(),
        "{} has no agingflow binary: build the binaries first (`make test` does, or `cargo build --workspace --bins`)",
        dir.display()
    );
    dir
}

/// A command for one of the workspace's binaries, with the binaries' directory first on PATH.
pub fn command(binary: &str) -> Command {
    let dir = bin_dir();
    let mut cmd = Command::new(dir.join(binary));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![dir];
    paths.extend(std::env::split_paths(&path));
    cmd.env(
        "PATH",
        std::env::join_paths(paths).expect("PATH entries are valid"),
    );
    cmd.env_remove("RUST_LOG");
    cmd
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// The stages a `run` printed with the given status word (`ran`, `failed`, ...), sorted.
    pub fn stages(&self, word: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .stdout
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix(word)?;
                rest.starts_with(' ')
                    .then(|| rest.split_whitespace().next().map(str::to_owned))?
            })
            .collect();
        v.sort();
        v
    }
}

/// Runs `agingflow ARGS` in `dir`.
pub fn agingflow(dir: &Path, args: &[&str]) -> Run {
    command("agingflow")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("agingflow starts")
        .into()
}

/// The shipped demo campaign's manifest.
pub fn demo_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/campaign.yaml")
}

/// Runs the ingest, clean and kww-fit libraries on the demo campaign into `d`: r.parquet and
/// i.parquet (raw), c.parquet and t.parquet (clean), f.parquet and l.parquet (fits, aging law).
pub fn demo_fits(d: &Path) {
    ingest::run(&ingest::Params {
        manifest: demo_manifest(),
        relaxation_raw: d.join("r.parquet"),
        indentation_raw: d.join("i.parquet"),
        dsc_raw: Some(d.join("dsc.parquet")),
        dma_sweeps_raw: Some(d.join("dma.parquet")),
        skip_bad_files: false,
        parts: false,
        allow_outside: false,
    })
    .expect("ingest of the demo");
    clean::run(&clean::Params {
        relaxation_raw: d.join("r.parquet"),
        relaxation_clean: d.join("c.parquet"),
        relaxation_tests: d.join("t.parquet"),
        options: clean::Options::default(),
    })
    .expect("clean of the demo");
    kww_fit::run(&kww_fit::Params {
        relaxation_clean: d.join("c.parquet"),
        kww_fits: d.join("f.parquet"),
        aging_law: d.join("l.parquet"),
        fit: kww_fit::FitOptions::default(),
    })
    .expect("kww-fit of the demo");
}

/// A small simulated campaign in `dir`: the demo's truth at three aging times and two
/// temperatures, 8 indents per group (campaign.yaml, dma/, indents/, truth.json).
pub fn small_campaign(dir: &Path) {
    small_campaign_of(dir, None);
}

/// [`small_campaign`] with the glass renamed (another campaign of "another glass").
pub fn small_campaign_of(dir: &Path, material: Option<&str>) {
    let mut spec = small_spec();
    if let Some(name) = material {
        spec.materials[0].name = name.to_owned();
    }
    simulate::simulate(&spec, dir, 1, &|_| {}).expect("the small campaign is written");
}

/// The truth spec of [`small_campaign`], for a test that changes it further.
pub fn small_spec() -> simulate::spec::TruthSpec {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo");
    let mut spec = simulate::read_spec(&demo.join("truth-spec.yaml")).expect("the demo spec");
    let m = &mut spec.materials[0];
    let r = m.relaxation.as_mut().expect("the demo has relaxation");
    r.series
        .retain(|s| s.temperature_k == 633.0 || s.temperature_k == 643.0);
    for s in &mut r.series {
        s.aging_times_s
            .retain(|t| [1800.0, 9000.0, 77_400.0].contains(t));
    }
    let i = m.indentation.as_mut().expect("the demo has indentation");
    i.groups.truncate(3);
    i.indents_per_group = 8;
    spec
}

/// Every file under `dir`/out except the runner's state (`.agingflow`), with its bytes.
pub fn outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.join("out")];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(dir.join("out"))
                .expect("below out/")
                .to_string_lossy()
                .into_owned();
            if rel.starts_with(".agingflow") {
                continue;
            }
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).expect("an output is readable"));
            }
        }
    }
    out
}

/// Replaces the first `from` in `dir`/p.yaml by `to` (a test's pipeline file changed between runs).
pub fn edit(dir: &Path, from: &str, to: &str) {
    let p = dir.join("p.yaml");
    let text = std::fs::read_to_string(&p).expect("the pipeline file is readable");
    assert!(text.contains(from), "{from} not in the pipeline");
    std::fs::write(&p, text.replacen(from, to, 1)).expect("the pipeline file is writable");
}
