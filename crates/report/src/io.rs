//! The disk side of report: read whichever tables exist, write the directory atomically
//! (built in a temporary directory beside it, then renamed into place).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use tables::segments::RowGroups;
use tables::{CurveTable, RelaxationClean, RowTable, Spectrum};

use crate::{Inputs, Params, ReportError, figures, page, plot, summary};

fn read_opt<T: RowTable>(
    paths: &[PathBuf],
    inp: &mut Inputs,
) -> Result<Option<Vec<T>>, ReportError> {
    read_each(paths, inp, T::NAME, |p| tables::read_rows::<T>(p))
}

fn read_curves_opt<T: CurveTable>(
    paths: &[PathBuf],
    inp: &mut Inputs,
) -> Result<Option<Vec<T>>, ReportError> {
    read_each(paths, inp, T::NAME, |p| tables::read_curves::<T>(p))
}

/// The rows of every file given for one table, in order (None when none exists).
fn read_each<T>(
    paths: &[PathBuf],
    inp: &mut Inputs,
    name: &str,
    read: impl Fn(&Path) -> Result<(Vec<T>, tables::FileMeta), tables::TableError>,
) -> Result<Option<Vec<T>>, ReportError> {
    let mut all: Option<Vec<T>> = None;
    for p in paths {
        if !p.exists() {
            tracing::warn!("{} is absent: the report says what is missing", p.display());
            continue;
        }
        let (rows, meta) = read(p)?;
        inp.provenance
            .push((name.to_owned(), p.display().to_string(), hash(p)?, meta));
        all.get_or_insert_with(Vec::new).extend(rows);
    }
    Ok(all)
}

/// The curves of `shown` tests in a curve table, reading only the row groups whose id statistics
/// allow one of them (all row groups where the file has no statistics). Under the runner the
/// curves taken from a row group are kept in the item cache by the row group's stored bytes and
/// the ids sought there: an unchanged row group is not decoded again.
fn read_shown<T: CurveTable>(
    path: &Path,
    shown: &std::collections::BTreeSet<String>,
) -> Result<(Vec<T>, tables::FileMeta), tables::TableError> {
    let groups = RowGroups::<T>::open_unkeyed(path)?;
    let cache = tables::items::ItemCache::from_env();
    let mut curves = Vec::new();
    for i in 0..groups.len() {
        let sought: Vec<&str> = match groups.text_range(i, T::ID) {
            // (A file whose statistics contradict themselves is read whole, never trusted.)
            Some((lo, hi)) if lo <= hi => shown.range(lo..=hi).map(String::as_str).collect(),
            _ => shown.iter().map(String::as_str).collect(),
        };
        if sought.is_empty() {
            continue;
        }
        let key = if cache.enabled() {
            let what = format!("report curves {}", T::NAME);
            cache.row_group_key(&what, &sought.join("\n"), &groups.key_of(i)?)
        } else {
            None
        };
        if let Some(kept) = key
            .as_deref()
            .and_then(|k| cache.get_bytes(k))
            .and_then(|parts| {
                parts
                    .iter()
                    .map(|b| tables::items::curves_from_bytes::<T>(b))
                    .collect::<Option<Vec<Vec<T>>>>()
            })
        {
            curves.extend(kept.into_iter().flatten());
            continue;
        }
        let found: Vec<T> = groups
            .read(i)?
            .into_iter()
            .filter(|c| shown.contains(c.id()))
            .collect();
        if let Some(k) = &key {
            let parts = found
                .iter()
                .map(tables::items::curve_bytes)
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            cache.put_bytes(k, &refs);
        }
        curves.extend(found);
    }
    Ok((curves, groups.meta()?))
}

/// The spectra table: where it and spectrum_moments are one file each, only the curves the
/// figures draw (one per aging time of one series, chosen from the moments' rows with status
/// `ok`, the curves that have a spectrum), read from the row groups that may hold them, with the
/// aging times of all of them kept for the colour scale; the whole table otherwise, or when a
/// chosen curve is not found.
fn read_spectra(p: &Params, inp: &mut Inputs) -> Result<Option<Vec<Spectrum>>, ReportError> {
    if let ([path], [_], Some(moments)) = (
        p.spectra.as_slice(),
        p.spectrum_moments.as_slice(),
        inp.spectrum_moments.as_deref(),
    ) && path.exists()
    {
        let ok: Vec<&tables::SpectrumMoments> = moments
            .iter()
            .filter(|m| m.status == tables::Status::Ok)
            .collect();
        let shown = figures::spectra_shown(inp, &ok);
        let (curves, meta) = read_shown::<Spectrum>(path, &shown)?;
        let found: std::collections::BTreeSet<&str> = curves.iter().map(|c| c.id()).collect();
        if found.len() == shown.len() && curves.len() == shown.len() {
            inp.spectra_aging_times = Some(ok.iter().map(|m| m.aging_time_s).collect());
            inp.provenance.push((
                Spectrum::NAME.to_owned(),
                path.display().to_string(),
                hash(path)?,
                meta,
            ));
            return Ok(Some(curves));
        }
    }
    read_curves_opt(&p.spectra, inp)
}

/// The BLAKE3 of an input table's file; of a table folder, the BLAKE3 of its lines
/// `part name<TAB>part hash` in order.
fn hash(p: &Path) -> Result<String, ReportError> {
    // Through the runner's hash memo where there is one (the runner hashed these outputs when
    // it kept them): the tables are not read a second time.
    let file = |p: &Path| -> Result<String, ReportError> {
        guard::protect(p, "an input table");
        let h = stage_cli::hashes::stage_file_hash(p).map_err(|source| ReportError::Io {
            path: p.to_owned(),
            source,
        })?;
        Ok(h.to_hex().to_string())
    };
    let Some(parts) = tables::table_parts(p)? else {
        return file(p);
    };
    let mut lines = String::new();
    for part in &parts {
        let name = part.file_name().unwrap_or_default().to_string_lossy();
        lines.push_str(&format!("{name}\t{}\n", file(part)?));
    }
    Ok(blake3::hash(lines.as_bytes()).to_hex().to_string())
}

/// The hash of the lock file's entries of the stages upstream of the report: those that wrote an
/// input it read, and theirs, transitively (paths compared relative to the lock file's folder).
/// Not the whole file: which other entries it holds depends on what else ran before the report
/// (a parallel stage, the report's own previous entry), so a forced rerun on unchanged inputs
/// gives the same bytes. None when the lock file cannot be read; the number of stages with it.
fn upstream_hash(lock: &Path, inputs: &[&str]) -> Option<(String, usize)> {
    let text = String::from_utf8(guard::read_input(lock, "the lock file").ok()?).ok()?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    let stages = doc.get("stages")?.as_mapping()?;
    let base = guard::resolve(
        lock.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    );
    let rel = |p: &str| {
        let r = guard::relative(&guard::resolve(Path::new(p)), &base);
        r.trim_start_matches("./").to_owned()
    };
    // Output path to the stage that wrote it.
    let mut writer: std::collections::BTreeMap<String, &serde_yaml::Value> = Default::default();
    for (name, entry) in stages {
        if let Some(outs) = entry.get("outputs").and_then(serde_yaml::Value::as_mapping) {
            for o in outs.values() {
                if let Some(p) = o.get("path").and_then(serde_yaml::Value::as_str) {
                    writer.insert(p.trim_start_matches("./").to_owned(), name);
                }
            }
        }
    }
    let mut todo: Vec<String> = inputs.iter().map(|p| rel(p)).collect();
    let mut kept = serde_yaml::Mapping::new();
    while let Some(path) = todo.pop() {
        let Some(&name) = writer.get(&path) else {
            continue;
        };
        if kept.contains_key(name) {
            continue;
        }
        let entry = &stages[name];
        if let Some(ins) = entry.get("inputs").and_then(serde_yaml::Value::as_mapping) {
            for i in ins.values() {
                if let Some(p) = i.get("path").and_then(serde_yaml::Value::as_str) {
                    todo.push(p.trim_start_matches("./").to_owned());
                }
            }
        }
        kept.insert(name.clone(), entry.clone());
    }
    let n = kept.len();
    let canonical = serde_yaml::to_string(&kept).ok()?;
    Some((blake3::hash(canonical.as_bytes()).to_hex().to_string(), n))
}

/// The usvg options: the bundled DejaVu Sans only, so every machine draws the same glyphs.
fn usvg_options() -> resvg::usvg::Options<'static> {
    let mut db = resvg::usvg::fontdb::Database::new();
    db.load_font_data(plot::font_data().to_vec());
    resvg::usvg::Options {
        font_family: "DejaVu Sans".into(),
        fontdb: std::sync::Arc::new(db),
        ..Default::default()
    }
}

/// PNG resolution, dots per inch.
const PNG_DPI: f32 = 300.0;

/// The figure rasterised at 300 dpi, the resolution written in its pHYs chunk.
fn png(tree: &resvg::usvg::Tree) -> Option<Vec<u8>> {
    // usvg sizes are CSS pixels, 96 per inch.
    let scale = PNG_DPI / 96.0;
    let size = tree.size();
    let (w, h) = (
        (size.width() * scale).ceil() as u32,
        (size.height() * scale).ceil() as u32,
    );
    // A 300 dpi figure is 10 to 20 MB of pixels: each thread keeps its buffers from one figure
    // to the next (cleared, not fresh from the kernel, whose zeroing of new pages was a seventh
    // of the report's time).
    thread_local! {
        static BUFFERS: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = Default::default();
    }
    BUFFERS.with(|b| {
        let (pixels, rgb) = &mut *b.borrow_mut();
        let n = (w as usize).checked_mul(h as usize)?.checked_mul(4)?;
        pixels.clear();
        pixels.resize(n, 0);
        let mut pixmap = resvg::tiny_skia::PixmapMut::from_bytes(pixels, w, h)?;
        resvg::render(
            tree,
            resvg::tiny_skia::Transform::from_scale(scale, scale),
            &mut pixmap,
        );
        let pixmap = resvg::tiny_skia::PixmapRef::from_bytes(pixels, w, h)?;
        encode_png(pixmap, PNG_DPI, rgb)
    })
}

/// A pixmap as PNG: RGB where every pixel is opaque (a figure on its white page), else RGBA with
/// the alpha demultiplied (as tiny-skia's own encoder does); fast deflate (the 3-megapixel
/// figures took 5 to 20 ms each to compress at the default level, for files a third smaller);
/// `dpi` in the pHYs chunk. `scratch` holds the converted pixels.
fn encode_png(
    pixmap: resvg::tiny_skia::PixmapRef,
    dpi: f32,
    scratch: &mut Vec<u8>,
) -> Option<Vec<u8>> {
    let pixels = pixmap.pixels();
    let opaque = pixels.iter().all(|p| p.alpha() == u8::MAX);
    scratch.clear();
    if opaque {
        // Premultiplied and straight colour are the same at full alpha.
        scratch.reserve(pixels.len() * 3);
        for px in pixmap.data().chunks_exact(4) {
            scratch.extend_from_slice(&px[..3]);
        }
    } else {
        scratch.extend(pixels.iter().flat_map(|p| {
            let c = p.demultiply();
            [c.red(), c.green(), c.blue(), c.alpha()]
        }));
    }
    let mut out = Vec::with_capacity(scratch.len() / 8);
    let mut enc = png::Encoder::new(&mut out, pixmap.width(), pixmap.height());
    enc.set_color(if opaque {
        png::ColorType::Rgb
    } else {
        png::ColorType::Rgba
    });
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let ppm = (f64::from(dpi) / 0.0254).round() as u32;
    enc.set_pixel_dims(Some(png::PixelDimensions {
        xppu: ppm,
        yppu: ppm,
        unit: png::Unit::Meter,
    }));
    let mut writer = enc.write_header().ok()?;
    writer.write_image_data(scratch).ok()?;
    writer.finish().ok()?;
    Some(out)
}

/// The figure as a vector PDF with its text as text (DejaVu Sans embedded as a subset).
fn pdf(tree: &resvg::usvg::Tree) -> Option<Vec<u8>> {
    svg2pdf::to_pdf(
        tree,
        svg2pdf::ConversionOptions::default(),
        svg2pdf::PageOptions { dpi: 96.0 },
    )
    .ok()
    .map(|mut bytes| {
        sort_resource_entries(&mut bytes);
        bytes
    })
}

/// svg2pdf lists a page's resources (`/ExtGState << /gs0 7 0 R … >>`) in hash-map order, which
/// changes from run to run; sorting the entries of each such dictionary makes the PDF
/// byte-identical on a rerun. The entries are whole lines of one length set, so the byte offsets
/// in the cross-reference table stay valid.
fn sort_resource_entries(pdf: &mut [u8]) {
    const KINDS: [&[u8]; 6] = [
        b"/ExtGState <<\n",
        b"/Pattern <<\n",
        b"/XObject <<\n",
        b"/Shading <<\n",
        b"/Font <<\n",
        b"/ColorSpace <<\n",
    ];
    let mut at = 0;
    while let Some(i) = find(&pdf[at..], b" <<\n") {
        let open_end = at + i + 4;
        at = open_end;
        if !KINDS.iter().any(|k| pdf[..open_end].ends_with(k)) {
            continue;
        }
        let Some(len) = find(&pdf[open_end..], b">>") else {
            break;
        };
        let block = &pdf[open_end..open_end + len];
        // Only the flat one-pair-per-line form svg2pdf writes; anything else is left alone.
        let last_newline = block.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let (entries, tail) = block.split_at(last_newline);
        let mut lines: Vec<&[u8]> = entries.split_inclusive(|&b| b == b'\n').collect();
        let flat = tail.iter().all(|&b| b == b' ')
            && lines
                .iter()
                .all(|l| !l.contains(&b'<') && l.trim_ascii_start().starts_with(b"/"));
        if flat {
            lines.sort();
            let sorted: Vec<u8> = lines.concat();
            pdf[open_end..open_end + sorted.len()].copy_from_slice(&sorted);
        }
        at = open_end + len;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One figure at one width: its files' stem and bytes.
struct Drawn {
    stem: String,
    svg: String,
    pdf: Option<Vec<u8>>,
    png: Option<Vec<u8>>,
    warnings: Vec<String>,
    cached: bool,
}

/// Draws one figure at one width as SVG, PDF and PNG (the last two from the item cache when this
/// SVG was rendered before).
fn draw(
    name: &str,
    f: &plot::Figure,
    suffix: &str,
    width_mm: f64,
    cache: &tables::items::ItemCache,
    opts: &resvg::usvg::Options<'static>,
) -> Drawn {
    let stem = format!("figures/{name}{suffix}");
    let svg = plot::svg(f, width_mm);
    let key = cache.enabled().then(|| {
        tables::items::KeyBuilder::new("report figure")
            .text(&svg)
            .finish()
    });
    if let Some(k) = &key
        && let Some(mut parts) = cache.get_bytes(k)
        && parts.len() == 2
    {
        let png = parts.pop().filter(|b| !b.is_empty());
        let pdf = parts.pop().filter(|b| !b.is_empty());
        let mut warnings = Vec::new();
        if pdf.is_none() {
            warnings.push(format!("figure {name} could not be written as PDF"));
        }
        if png.is_none() {
            warnings.push(format!("figure {name} could not be rendered to PNG"));
        }
        return Drawn {
            stem,
            svg,
            pdf,
            png,
            warnings,
            cached: true,
        };
    }
    let mut warnings = Vec::new();
    let (pdf, png) = match resvg::usvg::Tree::from_str(&svg, opts) {
        Ok(tree) => {
            // The two renderings of one tree on both cores (a figure's are the longest jobs).
            let (pdf, png) = rayon::join(|| pdf(&tree), || png(&tree));
            if pdf.is_none() {
                warnings.push(format!("figure {name} could not be written as PDF"));
            }
            if png.is_none() {
                warnings.push(format!("figure {name} could not be rendered to PNG"));
            }
            (pdf, png)
        }
        Err(_) => {
            warnings.push(format!(
                "figure {name} could not be parsed back for PDF and PNG"
            ));
            (None, None)
        }
    };
    if let Some(k) = &key {
        let empty: &[u8] = &[];
        cache.put_bytes(
            k,
            &[
                pdf.as_deref().unwrap_or(empty),
                png.as_deref().unwrap_or(empty),
            ],
        );
    }
    Drawn {
        stem,
        svg,
        pdf,
        png,
        warnings,
        cached: false,
    }
}

/// Builds the report directory; returns the number of figures drawn.
pub fn run(p: &Params) -> Result<usize, ReportError> {
    tables::start_stage(&[&p.report_dir])?;
    let mut inp = Inputs::default();
    inp.kww_fits = read_opt(&p.kww_fits, &mut inp)?;
    inp.aging_law = read_opt(&p.aging_law, &mut inp)?;
    // Fig. 1b draws a few curves: only the row groups that may hold them are read.
    let shown = inp
        .kww_fits
        .as_deref()
        .map(figures::relaxation_tests_shown)
        .unwrap_or_default();
    inp.relaxation_clean = if shown.is_empty() {
        read_curves_opt(&p.relaxation_clean, &mut inp)?
    } else {
        read_each(
            &p.relaxation_clean,
            &mut inp,
            RelaxationClean::NAME,
            |path| read_shown::<RelaxationClean>(path, &shown),
        )?
    };
    inp.relaxation_tests = read_opt(&p.relaxation_tests, &mut inp)?;
    inp.indentation_raw = read_curves_opt(&p.indentation_raw, &mut inp)?;
    inp.indents = read_opt(&p.indents, &mut inp)?;
    inp.tau_c_stats = read_opt(&p.tau_c_stats, &mut inp)?;
    inp.activation_energy = read_opt(&p.activation_energy, &mut inp)?;
    inp.model_curves = read_opt(&p.model_curves, &mut inp)?;
    inp.model_fits = read_opt(&p.model_fits, &mut inp)?;
    inp.transitions = read_opt(&p.transitions, &mut inp)?;
    inp.dma_sweeps = read_curves_opt(&p.dma_sweeps, &mut inp)?;
    inp.dsc_raw = read_curves_opt(&p.dsc_raw, &mut inp)?;
    // The spectra are chosen from the moments, so read after them; their provenance stays in
    // its place before them.
    let at = inp.provenance.len();
    inp.spectrum_moments = read_opt(&p.spectrum_moments, &mut inp)?;
    inp.spectrum_series = read_opt(&p.spectrum_series, &mut inp)?;
    let after = inp.provenance.len();
    inp.spectra = read_spectra(p, &mut inp)?;
    inp.provenance[at..].rotate_left(after - at);
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
        let inputs: Vec<&str> = inp
            .provenance
            .iter()
            .map(|(_, path, _, _)| path.as_str())
            .collect();
        prov.push((
            "lock file (upstream stages)".into(),
            match upstream_hash(l, &inputs) {
                Some((h, n)) => format!(
                    "{}: the entries of the {n} stages upstream of this report (BLAKE3 {h})",
                    l.display()
                ),
                None => format!("{}: absent or unreadable", l.display()),
            },
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
    // Each figure at both widths, drawn in parallel and written in order. Under the runner
    // (issue 18) the PDF and PNG of an SVG drawn before come from the item cache (key: the SVG's
    // bytes), so a rerun renders only the figures whose data changed.
    let cache = tables::items::ItemCache::from_env();
    let jobs: Vec<(&str, &plot::Figure, &str, f64)> = entries
        .iter()
        .filter_map(|e| Some((e.name, e.figure.as_ref()?)))
        .flat_map(|(name, f)| {
            // NAME.* at double-column width (175 mm), NAME.85mm.* at single-column width.
            [
                (name, f, "", plot::DOUBLE_COLUMN_MM),
                (name, f, ".85mm", plot::SINGLE_COLUMN_MM),
            ]
        })
        .collect();
    let opts = usvg_options();
    let drawn_files: Vec<Drawn> = jobs
        .par_iter()
        .map(|(name, f, suffix, width_mm)| draw(name, f, suffix, *width_mm, &cache, &opts))
        .collect();
    for d in &drawn_files {
        write(&format!("{}.svg", d.stem), d.svg.as_bytes())?;
        for w in &d.warnings {
            tracing::warn!("{w}");
        }
        if let Some(b) = &d.pdf {
            write(&format!("{}.pdf", d.stem), b)?;
        }
        if let Some(b) = &d.png {
            write(&format!("{}.png", d.stem), b)?;
        }
    }
    let reused = drawn_files.iter().filter(|d| d.cached).count();
    if cache.enabled() {
        tracing::info!(
            "{reused} of {} figure files unchanged: their PDF and PNG were not rendered again",
            drawn_files.len()
        );
    }
    let drawn = drawn_files.len() / 2;
    dir.commit()?;
    Ok(drawn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_entries_are_sorted_in_place() {
        let pdf = b"4 0 obj\n<<\n  /Resources <<\n    /ExtGState <<\n      /gs1 8 0 R\n      /gs0 7 0 R\n    >>\n    /Font <<\n      /fo0 1 0 R\n    >>\n  >>\n>>\n";
        let mut got = pdf.to_vec();
        sort_resource_entries(&mut got);
        let want = b"4 0 obj\n<<\n  /Resources <<\n    /ExtGState <<\n      /gs0 7 0 R\n      /gs1 8 0 R\n    >>\n    /Font <<\n      /fo0 1 0 R\n    >>\n  >>\n>>\n";
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
        // A nested dictionary is not touched.
        let nested = b"/Pattern <<\n  /p1 << /A 1 >>\n  /p0 2 0 R\n>>\n".to_vec();
        let mut same = nested.clone();
        sort_resource_entries(&mut same);
        assert_eq!(same, nested);
    }

    /// svg2pdf (pinned in Cargo.toml) still writes resource dictionaries in the flat form
    /// `sort_resource_entries` patches, and the patched PDFs of one figure are byte-identical:
    /// fails when an svg2pdf update changes that layout.
    #[test]
    fn svg2pdf_writes_the_layout_the_patch_expects() {
        let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">
<rect x="10" y="10" width="50" height="50" fill="#336699" fill-opacity="0.3"/>
<rect x="40" y="20" width="50" height="50" fill="#993366" fill-opacity="0.6"/>
<rect x="70" y="30" width="50" height="50" fill="#669933" stroke="#000" stroke-opacity="0.5"/>
<text x="20" y="90" font-family="DejaVu Sans" font-size="12">tau (s)</text>
</svg>"##;
        let tree = resvg::usvg::Tree::from_str(svg, &usvg_options()).unwrap();
        let raw = svg2pdf::to_pdf(
            &tree,
            svg2pdf::ConversionOptions::default(),
            svg2pdf::PageOptions { dpi: 96.0 },
        )
        .unwrap();
        let at = find(&raw, b"/ExtGState <<\n").expect("an ExtGState dictionary, flat");
        let block = &raw[at + 14..];
        let end = find(block, b">>").unwrap();
        let entries: Vec<&[u8]> = block[..end]
            .split_inclusive(|&b| b == b'\n')
            .filter(|l| !l.trim_ascii().is_empty())
            .collect();
        assert!(
            entries.len() >= 2,
            "{}",
            String::from_utf8_lossy(&block[..end])
        );
        assert!(
            entries
                .iter()
                .all(|l| l.trim_ascii_start().starts_with(b"/")),
            "one `/name N 0 R` a line"
        );
        let first = pdf(&tree).unwrap();
        for _ in 0..20 {
            assert!(
                pdf(&tree).unwrap() == first,
                "the patched PDF changed between renders"
            );
        }
        assert!(find(&first, b"/FontFile2").is_some(), "the font embedded");
    }
}
