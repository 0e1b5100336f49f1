//! The scaled campaign (`make bench`): about 2000 relaxation tests of 3600 points and 10 000
//! indents of 2450 points (the paper's load function), simulated (not committed), then the whole
//! pipeline in release binaries with `-j 2`; per stage the wall time, CPU time, peak memory and
//! throughput from the stage's log, the end-to-end time, and the same at twice the size. Results
//! go to stdout and bench/scale.md (which `make bench` folds into bench/results.md);
//! `AGINGFLOW_SCALE_X1_ONLY=1` runs the first size only and leaves bench/scale.md alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let d = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    assert!(
        d.join("agingflow").is_file(),
        "build the release binaries first (`make bench` does)"
    );
    d
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        dir_bytes(&p)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

const STAGES: [&str; 8] = [
    "ingest",
    "clean",
    "kww-fit",
    "indentation-stats",
    "activation-energy",
    "model-compare",
    "spectrum",
    "report",
];

fn pipeline(campaign: &Path) -> String {
    format!(
        r#"version: 1
name: scale
outdir: out
stages:
  ingest:
    uses: ingest
    with: {{ manifest: {m}, parts: true, verbose: true }}
    outputs: {{ relaxation-raw: relaxation_raw, indentation-raw: indentation_raw }}
  clean:
    uses: clean
    inputs: {{ relaxation-raw: ingest.relaxation-raw }}
    with: {{ verbose: true }}
    outputs: {{ relaxation-clean: relaxation_clean.parquet, relaxation-tests: relaxation_tests.parquet }}
  kww-fit:
    uses: kww-fit
    inputs: {{ relaxation-clean: clean.relaxation-clean }}
    with: {{ verbose: true }}
    outputs: {{ kww-fits: kww_fits.parquet, aging-law: aging_law.parquet }}
  indentation-stats:
    uses: indentation-stats
    inputs: {{ indentation-raw: ingest.indentation-raw }}
    with: {{ verbose: true }}
    outputs: {{ indents: indents.parquet, tau-c-stats: tau_c_stats.parquet }}
  activation-energy:
    uses: activation-energy
    inputs: {{ kww-fits: kww-fit.kww-fits }}
    with: {{ verbose: true }}
    outputs: {{ activation-energy: activation_energy.parquet }}
  model-compare:
    uses: model-compare
    inputs: {{ kww-fits: kww-fit.kww-fits }}
    with: {{ verbose: true }}
    outputs: {{ model-curves: model_curves.parquet, model-fits: model_fits.parquet }}
  spectrum:
    uses: spectrum
    inputs: {{ relaxation-clean: clean.relaxation-clean, kww-fits: kww-fit.kww-fits, model-fits: model-compare.model-fits }}
    with: {{ verbose: true, bootstrap: 100 }}
    outputs: {{ spectra: spectra.parquet, spectrum-moments: spectrum_moments.parquet, spectrum-series: spectrum_series.parquet, spectrum-trends: spectrum_trends.parquet }}
  report:
    uses: report
    inputs:
      kww-fits: kww-fit.kww-fits
      aging-law: kww-fit.aging-law
      relaxation-clean: clean.relaxation-clean
      indents: indentation-stats.indents
      tau-c-stats: indentation-stats.tau-c-stats
      activation-energy: activation-energy.activation-energy
      model-curves: model-compare.model-curves
      model-fits: model-compare.model-fits
      spectra: spectrum.spectra
      spectrum-moments: spectrum.spectrum-moments
      spectrum-series: spectrum.spectrum-series
    with: {{ verbose: true }}
    outputs: {{ report-dir: report }}
"#,
        m = campaign.join("campaign.yaml").display()
    )
}

/// (wall s, cpu s, peak MB) from a stage log's debug line.
fn stage_figures(log: &str) -> (f64, f64, f64) {
    let line = log
        .lines()
        .find(|l| l.contains("peak memory"))
        .unwrap_or("");
    let num = |key: &str| {
        line.split(key)
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.trim_end_matches(',').parse().ok())
            .unwrap_or(f64::NAN)
    };
    (num("wall time "), num("cpu time "), num("peak memory "))
}

fn run_size(root: &Path, size: usize, out: &mut String) -> f64 {
    let bins = bin_dir();
    let work = root.join(format!("target/bench/scale/x{size}"));
    let campaign = work.join("campaign");
    let mut spec = simulate::read_spec(&root.join("fixtures/demo/truth-spec.yaml")).unwrap();
    {
        let m = &mut spec.materials[0];
        let r = m.relaxation.as_mut().unwrap();
        r.sampling_s = simulate::spec::Setting::Fixed(2.5);
        r.replicates = 106 * size;
        let i = m.indentation.as_mut().unwrap();
        i.indents_per_group = 1667 * size;
        i.load.max_un = 3000.0;
        i.load.hold_s = 2.0;
        i.load.unload_s = 5.0;
    }
    // A fresh campaign: the incremental rows of the last run added a file the simulator did not
    // write (and it refuses to overwrite a folder holding one).
    let _ = std::fs::remove_dir_all(&campaign);
    let t = Instant::now();
    let summary = simulate::simulate(&spec, &campaign, 1, &|_| {}).unwrap();
    let sim_s = t.elapsed().as_secs_f64();
    let raw = dir_bytes(&campaign.join("dma")) + dir_bytes(&campaign.join("indents"));
    std::fs::write(work.join("pipeline.yaml"), pipeline(&campaign)).unwrap();
    let _ = std::fs::remove_dir_all(work.join("out"));
    let t = Instant::now();
    let status = Command::new(bins.join("agingflow"))
        .args(["run", "pipeline.yaml", "-j", "2", "--force-all"])
        .current_dir(&work)
        .status()
        .unwrap();
    let total = t.elapsed().as_secs_f64();
    assert!(
        status.success(),
        "the pipeline failed; see {}",
        work.join("out/.agingflow/logs").display()
    );
    let _ = writeln!(
        out,
        "\n### x{size}: {} relaxation tests, {} indents, {:.0} MB of raw files (simulated in {sim_s:.1} s)\n\n| stage | wall (s) | CPU (s) | peak memory (MB) | throughput |\n|---|---|---|---|---|",
        summary.relaxation_files,
        summary.indentation_files,
        raw as f64 / 1e6
    );
    for s in STAGES {
        let log = std::fs::read_to_string(work.join(format!("out/.agingflow/logs/{s}.log")))
            .unwrap_or_default();
        let (wall, cpu, mb) = stage_figures(&log);
        let tp = match s {
            "ingest" => format!("{:.0} MB/s of raw text", raw as f64 / 1e6 / wall),
            "clean" | "kww-fit" | "spectrum" => {
                format!("{:.0} tests/s", summary.relaxation_files as f64 / wall)
            }
            "indentation-stats" => {
                format!("{:.0} indents/s", summary.indentation_files as f64 / wall)
            }
            _ => String::new(),
        };
        let _ = writeln!(out, "| {s} | {wall:.2} | {cpu:.2} | {mb:.0} | {tp} |");
    }
    let _ = writeln!(
        out,
        "| **end to end** (`agingflow run -j 2`) | **{total:.2}** | | | |"
    );
    // The spectrum stage once more on the same inputs with the fast bands (not part of the run):
    // what `--bands posterior` costs against the default's bootstrap above.
    let fast = work.join("posterior");
    let _ = std::fs::create_dir_all(&fast);
    let o = Command::new(bins.join("agingflow-spectrum"))
        .arg("--relaxation-clean")
        .arg(work.join("out/relaxation_clean.parquet"))
        .arg("--kww-fits")
        .arg(work.join("out/kww_fits.parquet"))
        .arg("--model-fits")
        .arg(work.join("out/model_fits.parquet"))
        .arg("--spectra")
        .arg(fast.join("spectra.parquet"))
        .arg("--spectrum-moments")
        .arg(fast.join("spectrum_moments.parquet"))
        .args(["--bands", "posterior", "--verbose", "--threads", "2"])
        .output()
        .unwrap();
    let (wall, cpu, mb) = stage_figures(&String::from_utf8_lossy(&o.stderr));
    let _ = writeln!(
        out,
        "\nThe spectrum stage alone on the same inputs with `--bands posterior` (the posterior covariance instead of the bootstrap, 2 threads): {wall:.2} s wall, {cpu:.2} s CPU, {mb:.0} MB, {:.0} tests/s.",
        summary.relaxation_files as f64 / wall
    );
    if size == 1 {
        incremental(&bins, &work, &campaign, out);
    }
    total
}

/// Scales column `col` of the last line of the first file (in name order) below `dir` whose last
/// line has such a number: one raw curve changes.
fn perturb(dir: &Path, col: usize) -> PathBuf {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "txt") {
                files.push(p);
            }
        }
    }
    files.sort();
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let end = bytes
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .unwrap_or(0)
            + 1;
        let start = bytes[..end]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let Ok(line) = std::str::from_utf8(&bytes[start..end]) else {
            continue;
        };
        let mut cols: Vec<String> = line.split('\t').map(str::to_owned).collect();
        let Some(v) = cols.get(col).and_then(|c| c.trim().parse::<f64>().ok()) else {
            continue;
        };
        cols[col] = format!("{:.6}", v * 0.98 + 1e-3);
        let mut changed = bytes[..start].to_vec();
        changed.extend(cols.join("\t").as_bytes());
        changed.extend(&bytes[end..]);
        std::fs::write(&f, changed).unwrap();
        return f;
    }
    panic!("no raw file to change below {}", dir.display());
}

/// Adds one relaxation test: a copy of the manifest's first DMA file under a new name, its entry
/// inserted after the first one (so every later entry moves down a line).
fn add_dma_file(campaign: &Path, suffix: &str) -> PathBuf {
    let manifest = campaign.join("campaign.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let start = text.find("relaxation:\n- file: ").unwrap() + "relaxation:\n".len();
    let end = start + 2 + text[start + 2..].find("\n- ").unwrap() + 1;
    let entry = &text[start..end];
    let rel = entry.lines().next().unwrap()["- file: ".len()..].trim();
    let new_rel = rel.replace(".txt", &format!("_{suffix}.txt"));
    std::fs::copy(campaign.join(rel), campaign.join(&new_rel)).unwrap();
    let new_text = format!(
        "{}{}{}",
        &text[..end],
        entry.replacen(rel, &new_rel, 1),
        &text[end..]
    );
    std::fs::write(&manifest, new_text).unwrap();
    campaign.join(new_rel)
}

/// After the full run: nothing changed (a no-op run), one DMA file added, one changed, then one
/// indent file changed, each followed by a plain run, three times over (a new file, or the same file changed again, each
/// time): the median end-to-end time and the three, and which stages ran in the median run (the
/// caches serve the unchanged files, row groups and curves). One run varies by 10 to 20 % on a
/// shared 2-core machine.
fn incremental(bins: &Path, work: &Path, campaign: &Path, out: &mut String) {
    let _ = writeln!(
        out,
        "\n### x1, incremental: one raw file changed after the full run, then `agingflow run -j 2` (three times each)\n\n| change | end to end, median (s) | the three runs (s) | stages run in the median run (wall s) |\n|---|---|---|---|"
    );
    for (what, dir, col) in [
        ("nothing changed (no-op)", campaign.to_path_buf(), 3),
        ("one DMA file added", campaign.to_path_buf(), 0),
        ("one DMA file changed", campaign.join("dma"), 2),
        ("one indent file changed", campaign.join("indents"), 1),
    ] {
        let mut runs: Vec<(f64, Vec<String>)> = Vec::new();
        for rep in 1..=3 {
            let f = match col {
                0 => add_dma_file(&dir, &format!("added{rep}")),
                3 => dir.clone(),
                _ => perturb(&dir, col),
            };
            let t = Instant::now();
            let o = Command::new(bins.join("agingflow"))
                .args(["run", "pipeline.yaml", "-j", "2"])
                .current_dir(work)
                .output()
                .unwrap();
            let total = t.elapsed().as_secs_f64();
            assert!(
                o.status.success(),
                "incremental run after changing {}",
                f.display()
            );
            let ran: Vec<String> = String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| {
                    let rest = l.strip_prefix("ran ")?;
                    let mut w = rest.split_whitespace();
                    Some(format!("{} {}", w.next()?, w.next()?))
                })
                .collect();
            runs.push((total, ran));
        }
        let times: Vec<String> = runs.iter().map(|(t, _)| format!("{t:.2}")).collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (median, ran) = &runs[1];
        let _ = writeln!(
            out,
            "| {what} | {median:.2} | {} | {} |",
            times.join(", "),
            ran.join(", ")
        );
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = String::from(
        "# Scaled-campaign benchmark\n\nWritten by `make bench` (tests/benches/scale.rs): release binaries, the whole demo pipeline with `-j 2` on generated data.\n",
    );
    let t1 = run_size(&root, 1, &mut out);
    if std::env::var_os("AGINGFLOW_SCALE_X1_ONLY").is_some() {
        // For a quick look while developing: x1 only, printed, bench/scale.md left as it is.
        print!("{out}");
        return;
    }
    let t2 = run_size(&root, 2, &mut out);
    let _ = writeln!(
        out,
        "\nDoubling the data: {:.2} times the end-to-end time.",
        t2 / t1
    );
    print!("{out}");
    std::fs::write(root.join("bench/scale.md"), &out).unwrap();
}
