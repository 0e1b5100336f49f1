//! The disk side of report: read whichever tables exist, write the directory atomically
//! (built in a temporary directory beside it, then renamed into place).

use std::path::{Path, PathBuf};

use tables::{CurveTable, RowTable};

use crate::{Inputs, Params, ReportError, figures, page, plot, summary};

fn read_opt<T: RowTable>(
    path: &Option<PathBuf>,
    inp: &mut Inputs,
) -> Result<Option<Vec<T>>, ReportError> {
    let Some(p) = path else { return Ok(None) };
    if !p.exists() {
        tracing::warn!("{} is absent: the report says what is missing", p.display());
        return Ok(None);
    }
    let (rows, meta) = tables::read_rows::<T>(p)?;
    inp.provenance
        .push((T::NAME.to_owned(), p.display().to_string(), hash(p)?, meta));
    Ok(Some(rows))
}

fn read_curves_opt<T: CurveTable>(
    path: &Option<PathBuf>,
    inp: &mut Inputs,
) -> Result<Option<Vec<T>>, ReportError> {
    let Some(p) = path else { return Ok(None) };
    if !p.exists() {
        tracing::warn!("{} is absent: the report says what is missing", p.display());
        return Ok(None);
    }
    let (rows, meta) = tables::read_curves::<T>(p)?;
    inp.provenance
        .push((T::NAME.to_owned(), p.display().to_string(), hash(p)?, meta));
    Ok(Some(rows))
}

fn hash(p: &Path) -> Result<String, ReportError> {
    let bytes = guard::read_input(p, "an input table")?;
    Ok(blake3::hash(&bytes).to_hex().to_string())
}

/// The lock file's hash without this stage's own entry (which changes after every report run),
/// so that reruns of the report on unchanged inputs give the same bytes.
fn lock_hash(path: &Path) -> Option<String> {
    let text = String::from_utf8(guard::read_input(path, "the lock file").ok()?).ok()?;
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    let me = std::env::var("AGINGFLOW_STAGE").unwrap_or_else(|_| "report".into());
    if let Some(stages) = doc
        .get_mut("stages")
        .and_then(serde_yaml::Value::as_mapping_mut)
    {
        stages.remove(serde_yaml::Value::String(me));
    }
    let canonical = serde_yaml::to_string(&doc).ok()?;
    Some(blake3::hash(canonical.as_bytes()).to_hex().to_string())
}

/// Fonts for the PNGs: DejaVu Sans where installed (Debian's fonts-dejavu-core), so the same
/// machine always gives the same pixels; without it the PNGs have no text.
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

fn png(svg_text: &str) -> Option<Vec<u8>> {
    let mut db = resvg::usvg::fontdb::Database::new();
    for f in FONTS {
        if let Ok(data) = std::fs::read(f) {
            db.load_font_data(data);
            break;
        }
    }
    let opts = resvg::usvg::Options {
        font_family: "DejaVu Sans".into(),
        fontdb: std::sync::Arc::new(db),
        ..Default::default()
    };
    let tree = resvg::usvg::Tree::from_str(svg_text, &opts).ok()?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().ok()
}

/// Builds the report directory; returns the number of figures drawn.
pub fn run(p: &Params) -> Result<usize, ReportError> {
    tables::start_stage(&[&p.report_dir])?;
    let mut inp = Inputs::default();
    inp.kww_fits = read_opt(&p.kww_fits, &mut inp)?;
    inp.aging_law = read_opt(&p.aging_law, &mut inp)?;
    inp.relaxation_clean = read_curves_opt(&p.relaxation_clean, &mut inp)?;
    inp.indents = read_opt(&p.indents, &mut inp)?;
    inp.tau_c_stats = read_opt(&p.tau_c_stats, &mut inp)?;
    inp.activation_energy = read_opt(&p.activation_energy, &mut inp)?;
    inp.model_curves = read_opt(&p.model_curves, &mut inp)?;
    inp.model_fits = read_opt(&p.model_fits, &mut inp)?;
    inp.transitions = read_opt(&p.transitions, &mut inp)?;
    inp.dma_sweeps = read_curves_opt(&p.dma_sweeps, &mut inp)?;
    inp.dsc_raw = read_curves_opt(&p.dsc_raw, &mut inp)?;
    inp.spectra = read_curves_opt(&p.spectra, &mut inp)?;
    inp.spectrum_moments = read_opt(&p.spectrum_moments, &mut inp)?;
    inp.spectrum_series = read_opt(&p.spectrum_series, &mut inp)?;
    if inp.provenance.is_empty() {
        return Err(ReportError::NoInput);
    }
    let entries = figures::all(&inp);
    let summary = summary::summary(&inp);
    let mut prov: Vec<(String, String)> =
        vec![("agingflow version".into(), tables::VERSION.into())];
    if let Some(pl) = &p.pipeline {
        prov.push((
            "pipeline".into(),
            format!(
                "{} (BLAKE3 {})",
                pl.display(),
                hash(pl).unwrap_or_else(|_| "unreadable".into())
            ),
        ));
    }
    if let Some(l) = &p.lock {
        prov.push((
            "lock file (upstream stages)".into(),
            format!(
                "{} (BLAKE3 {})",
                l.display(),
                lock_hash(l).unwrap_or_else(|| "absent".into())
            ),
        ));
    }
    for (table, path, h, meta) in &inp.provenance {
        let stage = meta.get("agingflow.stage").unwrap_or("?");
        let version = meta.get("agingflow.version").unwrap_or("?");
        let params = meta.get("agingflow.params").unwrap_or("{}");
        prov.push((
            table.clone(),
            format!("{path}: stage {stage} {version}, options {params}, BLAKE3 {h}"),
        ));
    }
    let html = page::html(&inp, &entries, &summary, &prov);
    // Built beside the target and moved into place whole; only a directory agingflow made (or an
    // empty one) is replaced, never one holding the inputs or a user's files.
    let dir = guard::StagedDir::create(&p.report_dir)?;
    let write = |rel: &str, bytes: &[u8]| dir.write(Path::new(rel), bytes);
    write("index.html", html.as_bytes())?;
    let json = serde_json::to_string_pretty(&summary).unwrap_or_default();
    write("summary.json", format!("{json}\n").as_bytes())?;
    write("summary.md", summary::markdown(&summary).as_bytes())?;
    let mut drawn = 0;
    for e in &entries {
        if let Some(f) = &e.figure {
            let s = plot::svg(f);
            write(&format!("figures/{}.svg", e.name), s.as_bytes())?;
            match png(&s) {
                Some(bytes) => write(&format!("figures/{}.png", e.name), &bytes)?,
                None => tracing::warn!("figure {} could not be rendered to PNG", e.name),
            }
            drawn += 1;
        }
    }
    dir.commit()?;
    Ok(drawn)
}
