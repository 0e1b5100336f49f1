//! The report on the demo campaign (summary snapshot, HTML parsed back, byte-identical reruns,
//! a headless-Chromium screenshot), and on campaigns with relaxation only or one temperature.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo")
}

/// Runs every stage's library on a campaign and the report; returns the report directory.
fn analyse(manifest: &Path, d: &Path) -> PathBuf {
    let t = |n: &str| d.join(n);
    ingest::run(&ingest::Params {
        manifest: manifest.to_owned(),
        relaxation_raw: t("raw.parquet"),
        indentation_raw: t("ind.parquet"),
        dsc_raw: Some(d.join("dsc.parquet")),
        dma_sweeps_raw: Some(d.join("dma.parquet")),
        skip_bad_files: false,
        allow_outside: false,
    })
    .unwrap();
    clean::run(&clean::Params {
        relaxation_raw: t("raw.parquet"),
        relaxation_clean: t("clean.parquet"),
        relaxation_tests: t("tests.parquet"),
        options: clean::Options::default(),
    })
    .unwrap();
    let _ = kww_fit::run(&kww_fit::Params {
        relaxation_clean: t("clean.parquet"),
        kww_fits: t("fits.parquet"),
        aging_law: t("law.parquet"),
        fit: kww_fit::FitOptions::default(),
    });
    indentation_stats::run(&indentation_stats::Params {
        indentation_raw: t("ind.parquet"),
        indents: t("indents.parquet"),
        tau_c_stats: t("stats.parquet"),
        options: indentation_stats::IndentOptions::default(),
    })
    .unwrap();
    thermal::run(&thermal::Params {
        dsc_raw: Some(t("dsc.parquet")),
        dma_sweeps_raw: Some(t("dma.parquet")),
        transitions: t("transitions.parquet"),
        dma_sweeps: t("sweeps.parquet"),
        dsc: thermal::dsc::DscOptions::default(),
        dma: thermal::dma::DmaOptions::default(),
    })
    .unwrap();
    activation_energy::run(&activation_energy::Params {
        kww_fits: t("fits.parquet"),
        activation_energy: t("ea.parquet"),
        transitions: Some(t("transitions.parquet")),
        tolerance: 0.01,
    })
    .unwrap();
    model_compare::run(&model_compare::Params {
        kww_fits: t("fits.parquet"),
        model_curves: t("mc.parquet"),
        model_fits: t("mf.parquet"),
    })
    .unwrap();
    // A run whose curves all fail would be an error; the report then goes without spectra.
    let _ = spectrum::run(&spectrum::Params {
        relaxation_clean: t("clean.parquet"),
        kww_fits: Some(t("fits.parquet")),
        model_fits: Some(t("mf.parquet")),
        spectra: t("spectra.parquet"),
        spectrum_moments: t("sm.parquet"),
        spectrum_series: Some(t("ss.parquet")),
        spectrum_trends: None,
        spectrum: spectrum::SpectrumOptions {
            bootstrap: 30,
            ..Default::default()
        },
        trends: spectrum::TrendOptions::default(),
    });
    let p = report::Params {
        kww_fits: Some(t("fits.parquet")),
        aging_law: Some(t("law.parquet")),
        relaxation_clean: Some(t("clean.parquet")),
        indents: Some(t("indents.parquet")),
        indentation_raw: Some(t("ind.parquet")),
        tau_c_stats: Some(t("stats.parquet")),
        activation_energy: Some(t("ea.parquet")),
        model_curves: Some(t("mc.parquet")),
        model_fits: Some(t("mf.parquet")),
        transitions: Some(t("transitions.parquet")),
        dma_sweeps: Some(t("sweeps.parquet")),
        dsc_raw: Some(t("dsc.parquet")),
        spectra: Some(t("spectra.parquet")),
        spectrum_moments: Some(t("sm.parquet")),
        spectrum_series: Some(t("ss.parquet")),
        pipeline: None,
        lock: None,
        report_dir: t("report"),
    };
    report::run(&p).unwrap();
    // A second run gives the same bytes.
    let first = read_tree(&t("report"));
    report::run(&p).unwrap();
    let second = read_tree(&t("report"));
    let changed: Vec<&str> = first
        .iter()
        .zip(&second)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.0.as_str())
        .collect();
    assert!(
        first.len() == second.len() && changed.is_empty(),
        "the report is not byte-identical on a rerun: {changed:?}"
    );
    t("report")
}

fn read_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["", "figures"] {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        out.extend(
            names
                .into_iter()
                .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap())),
        );
    }
    out
}

/// Every figure of Tong et al. (2023) that the demo campaign has data for.
const FIGURES: [&str; 13] = [
    "relaxation_curves",
    "beta_vs_aging_time",
    "tau_vs_aging_time",
    "indentation_curves",
    "tau_c_distributions",
    "tau_c_gaussians",
    "tau_c_mean_and_fwhm",
    "activation_energy",
    "dma_loss_beta",
    "dsc_tg",
    "spectra_by_aging_time",
    "spectra_centre_width",
    "model_scenarios",
];

#[test]
fn the_demo_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = analyse(&demo().join("campaign.yaml"), dir.path());
    assert!(assert_no_empty_frames(&report) >= 2 * FIGURES.len());
    // summary.json, snapshotted.
    let summary = std::fs::read_to_string(report.join("summary.json")).unwrap();
    insta::assert_snapshot!("demo_summary_json", summary);
    let md = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(
        md.contains("narrows then broadens") && md.contains("combined"),
        "{md}"
    );
    // index.html parsed back: every figure present and not empty, no external URL, no script.
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    let dom = tl::parse(&html, tl::ParserOptions::default()).unwrap();
    let parser = dom.parser();
    for name in FIGURES {
        let fig = dom
            .get_element_by_id(name)
            .unwrap_or_else(|| panic!("figure {name} missing"))
            .get(parser)
            .unwrap();
        let inner = fig.inner_html(parser);
        assert!(
            inner.contains("<svg") && inner.contains("<polyline") || inner.contains("<circle"),
            "figure {name} is empty"
        );
        assert!(
            report.join(format!("figures/{name}.svg")).is_file()
                && report.join(format!("figures/{name}.png")).is_file(),
            "{name} files"
        );
    }
    assert_eq!(
        dom.query_selector("script").map(|q| q.count()).unwrap_or(0),
        0,
        "no script"
    );
    for attr in ["href", "src"] {
        for node in dom.nodes() {
            if let Some(tag) = node.as_tag()
                && let Some(Some(v)) = tag.attributes().get(attr)
            {
                let v = v.as_utf8_str();
                assert!(!v.contains("://"), "external URL {v}");
            }
        }
    }
    assert!(
        !html.contains("http://")
            || html
                .matches("http://")
                .all(|_| html.contains("xmlns=\"http://www.w3.org/2000/svg\"")),
        "only the SVG namespace may name a URL"
    );
    assert!(
        html.contains("class=\"flagged\""),
        "flagged fits are highlighted"
    );
    // Axis labels in the SI style: `quantity / unit`, dimensionless ones bare (no "(1)");
    // every figure at both widths in all three formats; PNGs at 300 dpi.
    for name in FIGURES {
        let svg = std::fs::read_to_string(report.join(format!("figures/{name}.svg"))).unwrap();
        assert!(
            !svg.contains("(1)"),
            "{name}: a dimensionless label with a unit"
        );
        assert!(
            svg.contains(" / "),
            "{name}: no axis label in the quantity / unit style"
        );
        for (stem, px) in [(name.to_owned(), 2067), (format!("{name}.85mm"), 1004)] {
            for ext in ["svg", "pdf", "png"] {
                assert!(
                    report.join(format!("figures/{stem}.{ext}")).is_file(),
                    "{stem}.{ext}"
                );
            }
            let png = std::fs::read(report.join(format!("figures/{stem}.png"))).unwrap();
            let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
            assert_eq!(width, px, "{stem}.png: width at 300 dpi");
            let phys = png
                .windows(4)
                .position(|w| w == b"pHYs")
                .expect("pHYs chunk");
            let ppm =
                u32::from_be_bytes([png[phys + 4], png[phys + 5], png[phys + 6], png[phys + 7]]);
            assert_eq!(ppm, 11811, "{stem}.png: 300 dpi is 11811 px/m");
            let pdf = std::fs::read(report.join(format!("figures/{stem}.pdf"))).unwrap();
            assert!(pdf.starts_with(b"%PDF-"), "{stem}.pdf");
        }
    }
}

/// Every panel of every drawn figure has data in its frame (no empty frames), at both widths.
fn assert_no_empty_frames(report: &Path) -> usize {
    let mut frames = 0;
    for e in std::fs::read_dir(report.join("figures")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "svg") {
            continue;
        }
        let svg = std::fs::read_to_string(&p).unwrap();
        for body in svg.split("<g clip-path=\"url(#").skip(1) {
            let inner = body.split("</g>").next().unwrap_or("");
            frames += 1;
            assert!(
                inner.contains("<polyline") || inner.contains("<circle"),
                "{}: an empty frame",
                p.display()
            );
        }
    }
    frames
}

fn campaign_from(spec_edit: impl Fn(&mut simulate::spec::TruthSpec), dir: &Path) -> PathBuf {
    let mut spec = simulate::read_spec(&demo().join("truth-spec.yaml")).unwrap();
    spec_edit(&mut spec);
    simulate::simulate(&spec, &dir.join("campaign"), 1, &|_| {}).unwrap();
    dir.join("campaign/campaign.yaml")
}

#[test]
fn a_relaxation_only_campaign_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = campaign_from(|s| s.materials[0].indentation = None, dir.path());
    let report = analyse(&manifest, dir.path());
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(
        html.contains("No nanoindentation: the campaign has no indentation data."),
        "missing indentation said"
    );
    assert!(report.join("figures/beta_vs_aging_time.svg").is_file());
    assert!(!report.join("figures/tau_c_distributions.svg").exists());
    assert!(!report.join("figures/indentation_curves.svg").exists());
    assert!(assert_no_empty_frames(&report) > 0);
}

#[test]
fn a_single_temperature_campaign_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = campaign_from(
        |s| {
            if let Some(r) = s.materials[0].relaxation.as_mut() {
                r.series.retain(|x| x.temperature_k == 633.0);
            }
        },
        dir.path(),
    );
    let report = analyse(&manifest, dir.path());
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(
        html.contains("measures each aging time at a single temperature"),
        "missing E_a said"
    );
    assert!(!report.join("figures/activation_energy.svg").exists());
    assert!(assert_no_empty_frames(&report) > 0);
}

#[test]
fn a_campaign_with_two_strains_has_a_panel_per_strain() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = campaign_from(
        |s| {
            if let Some(r) = s.materials[0].relaxation.as_mut() {
                r.series.retain(|x| x.temperature_k == 633.0);
                let mut other = r.series[0].clone();
                other.strain = Some(0.002);
                other.label = Some("strain-0.2".into());
                r.series.push(other);
            }
        },
        dir.path(),
    );
    let report = analyse(&manifest, dir.path());
    let svg = std::fs::read_to_string(report.join("figures/beta_vs_aging_time.svg")).unwrap();
    assert_eq!(
        svg.matches("<g clip-path=").count(),
        2,
        "one beta panel per strain"
    );
    assert!(svg.contains("strain 0.2 %"), "the panel names its strain");
    assert!(assert_no_empty_frames(&report) > 0);
}

#[test]
fn a_campaign_without_thermal_scans_says_so_instead_of_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = campaign_from(
        |s| {
            s.materials[0].dsc = None;
            s.materials[0].dma_sweeps = None;
        },
        dir.path(),
    );
    let report = analyse(&manifest, dir.path());
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(
        html.contains("No DMA temperature sweep"),
        "Fig. 3b's absence not said"
    );
    assert!(html.contains("No DSC scan"), "Fig. S1's absence not said");
    assert!(!report.join("figures/dma_loss_beta.svg").exists());
    assert!(!report.join("figures/dsc_tg.svg").exists());
    // The relaxation figures are still there.
    assert!(report.join("figures/beta_vs_aging_time.svg").exists());
}

#[test]
fn the_demo_report_draws_the_thermal_figures() {
    let dir = tempfile::tempdir().unwrap();
    let report = analyse(&demo().join("campaign.yaml"), dir.path());
    for fig in ["dma_loss_beta", "dsc_tg"] {
        let svg = std::fs::read_to_string(report.join(format!("figures/{fig}.svg"))).unwrap();
        assert!(
            svg.contains("as-cast") && svg.contains("aged"),
            "{fig}: both conditions"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    let thermal = summary["thermal"].as_array().unwrap();
    assert!(thermal.iter().any(|r| r["transition"] == "tg_onset"));
    assert!(thermal.iter().any(|r| r["transition"] == "beta_activation"));
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

#[test]
fn the_page_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIP: no chromium on this machine; `make browser-test` installs it and runs this test"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = analyse(&demo().join("campaign.yaml"), dir.path());
    let shot = dir.path().join("shot.png");
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1000,3000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", report.join("index.html").display()))
        .output()
        .unwrap();
    assert!(
        shot.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = resvg::tiny_skia::Pixmap::decode_png(&std::fs::read(&shot).unwrap()).unwrap();
    let dark = img
        .pixels()
        .iter()
        .filter(|p| p.red() < 128 && p.green() < 128 && p.blue() < 128)
        .count();
    let colour = img
        .pixels()
        .iter()
        .filter(|p| p.red().abs_diff(p.green()) > 60 || p.green().abs_diff(p.blue()) > 60)
        .count();
    eprintln!(
        "screenshot {}x{}: {dark} dark and {colour} coloured pixels",
        img.width(),
        img.height()
    );
    assert!(dark > 5000 && colour > 2000, "the screenshot looks blank");
}
