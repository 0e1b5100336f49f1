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
        parts: false,
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
        kww_fits: vec![t("fits.parquet")],
        relaxation_tests: vec![t("tests.parquet")],
        aging_law: vec![t("law.parquet")],
        relaxation_clean: vec![t("clean.parquet")],
        indents: vec![t("indents.parquet")],
        indentation_raw: vec![t("ind.parquet")],
        tau_c_stats: vec![t("stats.parquet")],
        activation_energy: vec![t("ea.parquet")],
        model_curves: vec![t("mc.parquet")],
        model_fits: vec![t("mf.parquet")],
        transitions: vec![t("transitions.parquet")],
        dma_sweeps: vec![t("sweeps.parquet")],
        dsc_raw: vec![t("dsc.parquet")],
        spectra: vec![t("spectra.parquet")],
        spectrum_moments: vec![t("sm.parquet")],
        spectrum_series: vec![t("ss.parquet")],
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
    // Issue 36: the demo's curves are unimodal (KWW truth); where the window cuts the
    // distribution no peaks are counted, and no `ok` curve reports two.
    let (moments, _) =
        tables::read_rows::<tables::SpectrumMoments>(&dir.path().join("sm.parquet")).unwrap();
    for m in &moments {
        assert!(
            m.status != "ok" || m.n_peaks.is_none_or(|n| n <= 1),
            "{}: {:?} peaks, {}",
            m.test_id,
            m.n_peaks,
            m.flags
        );
    }
    let unresolved = moments.iter().filter(|m| m.n_peaks.is_none()).count();
    eprintln!(
        "demo spectra: {unresolved} of {} with peaks not resolved",
        moments.len()
    );
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
        // Each panel's data group (clipped to its frame where something reaches beyond it).
        for body in svg.split("<g class=\"data\"").skip(1) {
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
        svg.matches("<g class=\"data\"").count(),
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

/// Measures the rendered page: injected before `</body>` of a copy of index.html, it waits for
/// the fonts, then writes what it found as JSON into `<pre id="layout-result">`.
const LAYOUT_PROBE: &str = r#"<script>
(async () => {
  await document.fonts.ready;
  const out = { figures: [], problems: [], texts: 0,
    scroll_width: document.documentElement.scrollWidth, inner_width: window.innerWidth };
  const eps = 0.5;
  for (const fig of document.querySelectorAll('figure')) {
    const svg = fig.querySelector('svg');
    if (!svg) { out.problems.push(fig.id + ': no figure drawn'); continue; }
    out.figures.push(fig.id);
    const b = svg.getBoundingClientRect();
    const boxes = [...svg.querySelectorAll('text')]
      .map(t => [t.textContent, t.getBoundingClientRect()])
      .filter(([s, r]) => s.trim() !== '' && r.width > 0);
    out.texts += boxes.length;
    for (const [s, r] of boxes) {
      if (r.left < b.left - eps || r.right > b.right + eps || r.top < b.top - eps || r.bottom > b.bottom + eps)
        out.problems.push(`${fig.id}: "${s}" reaches outside the figure (by ${Math.max(b.left - r.left, r.right - b.right, b.top - r.top, r.bottom - b.bottom).toFixed(1)} px)`);
    }
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [s, r] = boxes[i], [u, q] = boxes[j];
      const w = Math.min(r.right, q.right) - Math.max(r.left, q.left);
      const h = Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top);
      if (w > eps && h > eps) out.problems.push(`${fig.id}: "${s}" overlaps "${u}" (${w.toFixed(1)} x ${h.toFixed(1)} px)`);
    }
  }
  const pre = document.createElement('pre');
  pre.id = 'layout-result';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"#;

fn headless(browser: &str, profile: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Text without whitespace: pdftotext guesses word spaces from glyph gaps.
fn squash(s: &str) -> String {
    s.split_whitespace().collect()
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
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();

    // Layout at 1280 px, measured by a script in the page.
    let probe = report.join("probe.html");
    std::fs::write(
        &probe,
        page.replace("</body>", &format!("{LAYOUT_PROBE}</body>")),
    )
    .unwrap();
    let out = headless(browser, &dir.path().join("profile"))
        .args(["--virtual-time-budget=20000", "--dump-dom"])
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = dom
        .split_once("<pre id=\"layout-result\">")
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(j, _)| {
            j.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .unwrap_or_else(|| {
            panic!(
                "the layout probe wrote nothing: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let layout: serde_json::Value = serde_json::from_str(&json).unwrap();
    eprintln!(
        "layout at 1280 px: {} figures, {} text boxes, scroll width {} of {} px",
        layout["figures"].as_array().unwrap().len(),
        layout["texts"],
        layout["scroll_width"],
        layout["inner_width"]
    );
    let drawn: Vec<&str> = layout["figures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    let mut drawn = drawn;
    drawn.sort_unstable();
    let mut want = FIGURES.to_vec();
    want.sort_unstable();
    assert_eq!(drawn, want, "not every figure is on the page");
    let problems: Vec<&str> = layout["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(
        problems.is_empty(),
        "layout problems:\n{}",
        problems.join("\n")
    );
    assert!(
        layout["scroll_width"].as_f64().unwrap() <= layout["inner_width"].as_f64().unwrap(),
        "the page scrolls sideways at 1280 px"
    );

    // Printed: each figure whole on one page (its heading and its caption on the same page).
    let Some(pdftotext) = tool("pdftotext") else {
        eprintln!("SKIP (print check): no pdftotext; `make browser-test` installs poppler-utils");
        return;
    };
    // Kept for a look after a failure.
    let printed = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-report-printed.pdf");
    let _ = std::fs::remove_file(&printed);
    let out = headless(browser, &dir.path().join("profile2"))
        .args(["--no-pdf-header-footer", "--virtual-time-budget=10000"])
        .arg(format!("--print-to-pdf={}", printed.display()))
        .arg(format!("file://{}", report.join("index.html").display()))
        .output()
        .unwrap();
    assert!(
        printed.is_file(),
        "no print-out: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::process::Command::new(pdftotext)
        .arg(&printed)
        .arg("-")
        .output()
        .unwrap();
    let pages: Vec<String> = String::from_utf8_lossy(&text.stdout)
        .split('\u{c}')
        .map(squash)
        .collect();
    eprintln!("printed: {} pages", pages.len());
    let mut full = String::new();
    let mut starts = Vec::new();
    for p in &pages {
        starts.push(full.len());
        full.push_str(p);
    }
    let doc = tl::parse(&page, tl::ParserOptions::default()).unwrap();
    let parser = doc.parser();
    for name in FIGURES {
        let fig = doc
            .get_element_by_id(name)
            .and_then(|h| h.get(parser))
            .unwrap();
        let inner = fig.inner_html(parser);
        let part = |tag: &str| {
            let d = tl::parse(&inner, tl::ParserOptions::default()).unwrap();
            let p = d.parser();
            let t = d
                .query_selector(tag)
                .and_then(|mut q| q.next())
                .and_then(|h| h.get(p))
                .map(|n| n.inner_text(p).to_string())
                .unwrap_or_default();
            squash(&html_unescape(&t))
        };
        let heading = part("h4");
        let caption: String = part("figcaption").chars().take(30).collect();
        // The heading's last occurrence (the first is in the table of contents), then the
        // caption's first after it.
        assert!(
            !heading.is_empty() && !caption.is_empty(),
            "{name}: no heading or caption"
        );
        let heading_at = full.rfind(&heading);
        let caption_at =
            heading_at.and_then(|h| full[h..].find(&caption).map(|c| h + c + caption.len() - 1));
        let page_of = |at: usize| starts.iter().rposition(|&s| s <= at);
        let heading_page = heading_at.and_then(page_of);
        let caption_page = caption_at.and_then(page_of);
        assert!(
            heading_page.is_some() && heading_page == caption_page,
            "{name}: heading {heading:?} on page {heading_page:?}, caption {caption:?} on page {caption_page:?} (pages from 0) of {}",
            printed.display()
        );
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn tool(name: &'static str) -> Option<&'static str> {
    std::process::Command::new(name)
        .arg("-v")
        .output()
        .is_ok()
        .then_some(name)
}

#[test]
fn the_pdf_figures_have_their_text_as_text() {
    let Some(pdftotext) = tool("pdftotext") else {
        eprintln!(
            "SKIP: no pdftotext (poppler-utils); `make browser-test` installs it and runs this test"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = analyse(&demo().join("campaign.yaml"), dir.path());
    // One axis label per figure, as the PDF's text layer spells it (sub- and superscripts are
    // separate text runs, so only their base letters are looked for).
    for (name, label) in [
        ("relaxation_curves", "/ s"),
        ("beta_vs_aging_time", "β"),
        ("indentation_curves", "h / nm"),
        ("tau_c_distributions", "density"),
        ("activation_energy", "kJ mol"),
        ("dsc_tg", "T / K"),
    ] {
        for width in ["", ".85mm"] {
            let pdf = report.join(format!("figures/{name}{width}.pdf"));
            let out = std::process::Command::new(pdftotext)
                .arg(&pdf)
                .arg("-")
                .output()
                .unwrap();
            assert!(out.status.success(), "{}: pdftotext failed", pdf.display());
            // pdftotext guesses word spaces from glyph gaps, so spaces are not compared.
            let text = String::from_utf8_lossy(&out.stdout);
            let bare = |s: &str| s.split_whitespace().collect::<String>();
            assert!(
                bare(&text).contains(&bare(label)),
                "{}: no {label:?} in its text layer:\n{text}",
                pdf.display()
            );
        }
    }
}
