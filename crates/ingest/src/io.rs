//! The disk side of ingest: read each raw file, report it to the runner, parse and extract in
//! parallel a batch at a time, and stream the curves into the tables in key order.

use std::path::Path;

use campaign::{Campaign, Item};
use formats::{FormatError, ReadOptions, parse, parse_auto};
use rayon::prelude::*;
use stage_cli::Progress;
use tables::{
    CurveTable, CurveWriter, DmaSweepRaw, DscRaw, IndentationRaw, Provenance, RelaxationRaw,
};

use crate::extract::{self, Notes, declared_format};
use crate::{IngestError, Params, Summary};

/// Files read and extracted at once; bounds memory to this many curves.
const BATCH: usize = 64;

fn read_parse(item: &Item) -> Result<(formats::Parsed, u64), String> {
    let bytes = guard::read_input(&item.path, "a raw file the manifest names")
        .map_err(|e| e.to_string())?;
    stage_cli::report_read_bytes(&item.path, &bytes);
    let opts = ReadOptions {
        decimal_comma: item.decimal_comma,
    };
    let parsed = match declared_format(item.format) {
        Some(f) => parse(&bytes, f, opts),
        None => parse_auto(&bytes, opts),
    };
    parsed
        .map(|p| (p, bytes.len() as u64))
        .map_err(|e| located(item, &e))
}

fn located(item: &Item, e: &FormatError) -> String {
    match e.line {
        Some(l) => format!("{}:{l}: {}", item.path.display(), e.message),
        None => format!("{}: {}", item.path.display(), e.message),
    }
}

/// A file's curves, what extraction noticed and its size, or the error naming it.
type FileResult<T> = Result<(Vec<T>, Notes, u64), String>;

/// Turns one parsed file into its curves (one, or one per sheet of a G200 workbook).
type Extractor<T> = fn(&Item, &formats::Parsed) -> Result<(Vec<T>, Notes), FormatError>;

fn relaxation(
    item: &Item,
    p: &formats::Parsed,
) -> Result<(Vec<RelaxationRaw>, Notes), FormatError> {
    extract::relaxation(item, p).map(|(c, n)| (vec![c], n))
}

fn dsc(item: &Item, p: &formats::Parsed) -> Result<(Vec<DscRaw>, Notes), FormatError> {
    extract::dsc(item, p).map(|(c, n)| (vec![c], n))
}

fn dma_sweep(item: &Item, p: &formats::Parsed) -> Result<(Vec<DmaSweepRaw>, Notes), FormatError> {
    extract::dma_sweep(item, p).map(|(c, n)| (vec![c], n))
}

/// Reads one kind of item into one table, returning the unfinished table (committed by the
/// caller once every kind has succeeded, so a failed run leaves no table behind) and (curves,
/// points, skipped, bytes).
///
/// Batches of files are parsed in parallel; a writer thread encodes the previous batch meanwhile,
/// in key order, so memory holds at most three batches of curves.
fn ingest_kind<T: CurveTable + 'static>(
    items: &[Item],
    out: &Path,
    prov: &Provenance,
    skip_bad: bool,
    label: &str,
    extract: Extractor<T>,
) -> Result<(CurveWriter<T>, usize, usize, usize, u64), IngestError> {
    let mut writer = CurveWriter::<T>::create(out, prov)?;
    let progress = Progress::new(label, items.len());
    let mut errors = Vec::new();
    let (mut curves, mut bytes) = (0, 0);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<T>>(1);
    let (writer, points) =
        std::thread::scope(|scope| -> Result<(CurveWriter<T>, usize), IngestError> {
            let write = scope.spawn(
                move || -> Result<(CurveWriter<T>, usize), tables::TableError> {
                    let mut points = 0;
                    for batch in rx {
                        for curve in batch {
                            points += curve.len()?;
                            writer.push(&curve)?;
                        }
                    }
                    Ok((writer, points))
                },
            );
            for batch in items.chunks(BATCH) {
                let done: Vec<FileResult<T>> = batch
                    .par_iter()
                    .map(|item| {
                        let (parsed, n) = read_parse(item)?;
                        let (curve, notes) =
                            extract(item, &parsed).map_err(|e| located(item, &e))?;
                        Ok((curve, notes, n))
                    })
                    .collect();
                progress.add(batch.len());
                let mut good = Vec::with_capacity(batch.len());
                for (item, r) in batch.iter().zip(done) {
                    match r {
                        Ok((file_curves, notes, n)) => {
                            for w in &notes.warnings {
                                tracing::warn!("{}: {w}", item.path.display());
                            }
                            if notes.dropped_rows > 0 {
                                tracing::warn!(
                                    "{}: {} rows without a needed value were dropped",
                                    item.path.display(),
                                    notes.dropped_rows
                                );
                            }
                            curves += file_curves.len();
                            good.extend(file_curves);
                            bytes += n;
                        }
                        Err(e) => {
                            if skip_bad {
                                tracing::warn!("skipped {e}");
                            }
                            errors.push(e);
                        }
                    }
                }
                // After a failure (without skipping) the rest is only parsed, to report every error.
                if (errors.is_empty() || skip_bad) && tx.send(good).is_err() {
                    break;
                }
            }
            drop(tx);
            let (w, points) = write
                .join()
                .map_err(|_| tables::TableError::Internal("the writer thread panicked".into()))??;
            Ok((w, points))
        })?;
    progress.finish();
    if !errors.is_empty() && !skip_bad {
        return Err(IngestError::Files(errors));
    }
    Ok((writer, curves, points, errors.len(), bytes))
}

/// The indentation items in the order of the curves they give. A G200 workbook gives one indent
/// per sheet, ids `ITEM/test-001`, ...: such an item sorts as `ITEM/`, so `popin.xls` (curves
/// `popin/test-…`) comes after `popin-2.txt` (`-` sorts before `/`), as the table's key order has
/// it.
fn indentation_order(items: &[Item]) -> Vec<Item> {
    let expands = |item: &Item| match item.format {
        campaign::FileFormat::KeysightXls => true,
        campaign::FileFormat::Auto => {
            let mut head = [0u8; 8];
            std::fs::File::open(&item.path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                .is_ok()
                && formats::is_workbook(&head)
        }
        _ => false,
    };
    let mut keyed: Vec<(String, &Item)> = items
        .iter()
        .map(|i| {
            let id = if expands(i) {
                format!("{}/", i.id)
            } else {
                i.id.clone()
            };
            (id, i)
        })
        .collect();
    keyed.sort_by(|(a, x), (b, y)| {
        x.material
            .cmp(&y.material)
            .then(x.temperature_k.total_cmp(&y.temperature_k))
            .then(x.aging_time_s.total_cmp(&y.aging_time_s))
            .then(a.cmp(b))
    });
    keyed.into_iter().map(|(_, i)| i.clone()).collect()
}

/// Runs ingest: reads the manifest, every raw file, and writes both tables.
pub fn run(p: &Params) -> Result<Summary, IngestError> {
    let mut outs: Vec<&Path> = vec![&p.relaxation_raw, &p.indentation_raw];
    outs.extend(p.dsc_raw.iter().map(|x| x.as_path()));
    outs.extend(p.dma_sweeps_raw.iter().map(|x| x.as_path()));
    tables::start_stage(&outs)?;
    let campaign: Campaign = campaign::load_with(&p.manifest, p.allow_outside)?;
    for note in &campaign.notes {
        tracing::warn!("{}: {note}", p.manifest.display());
    }
    stage_cli::report_read(&p.manifest);
    // Every raw file is read-only from here on: no output may overwrite one (see `guard`).
    for (items, out, section, flag) in [
        (&campaign.dsc, &p.dsc_raw, "dsc", "dsc-raw"),
        (
            &campaign.dma_sweeps,
            &p.dma_sweeps_raw,
            "dma_sweeps",
            "dma-sweeps-raw",
        ),
    ] {
        if !items.is_empty() && out.is_none() {
            tracing::warn!(
                "the manifest lists {} {section} entr{} but no --{flag} output is given: they are not read (add ingest's output `{flag}` to analyse them)",
                items.len(),
                if items.len() == 1 { "y" } else { "ies" }
            );
        }
    }
    for item in campaign
        .relaxation
        .iter()
        .chain(&campaign.indentation)
        .chain(if p.dsc_raw.is_some() {
            &campaign.dsc[..]
        } else {
            &[]
        })
        .chain(if p.dma_sweeps_raw.is_some() {
            &campaign.dma_sweeps[..]
        } else {
            &[]
        })
    {
        guard::protect(&item.path, "a raw file the manifest names");
    }
    let params = serde_json::json!({ "campaign": campaign.manifest.campaign, "skip_bad_files": p.skip_bad_files });
    let prov = Provenance::new("ingest", params);
    if campaign.relaxation.is_empty() {
        tracing::warn!("the manifest lists no relaxation test: relaxation_raw will be empty");
    }
    if campaign.indentation.is_empty() {
        tracing::warn!("the manifest lists no indentation file: indentation_raw will be empty");
    }
    tracing::info!(
        "{}: {} relaxation tests, {} indents",
        p.manifest.display(),
        campaign.relaxation.len(),
        campaign.indentation.len()
    );
    // The two tables are independent: each has its own writer thread; both share the pool.
    let (relax, indent) = rayon::join(
        || {
            let items = &campaign.relaxation;
            ingest_kind::<RelaxationRaw>(
                items,
                &p.relaxation_raw,
                &prov,
                p.skip_bad_files,
                "relaxation files",
                relaxation,
            )
        },
        || {
            let items = &indentation_order(&campaign.indentation);
            ingest_kind::<IndentationRaw>(
                items,
                &p.indentation_raw,
                &prov,
                p.skip_bad_files,
                "indentation files",
                extract::indentation,
            )
        },
    );
    let (w_relax, tests, rpoints, rskip, rbytes) = relax?;
    let (w_indent, indents, ipoints, iskip, ibytes) = indent?;
    // Thermal scans are few: one after the other. Present as empty tables when not listed.
    let (w_dsc, dsc, _, dskip, dbytes) = match &p.dsc_raw {
        Some(out) => {
            let (w, a, b, c, d) = ingest_kind::<DscRaw>(
                &campaign.dsc,
                out,
                &prov,
                p.skip_bad_files,
                "DSC scans",
                dsc,
            )?;
            (Some(w), a, b, c, d)
        }
        None => (None, 0, 0, 0, 0),
    };
    let (w_dma, dma, _, mskip, mbytes) = match &p.dma_sweeps_raw {
        Some(out) => {
            let (w, a, b, c, d) = ingest_kind::<DmaSweepRaw>(
                &campaign.dma_sweeps,
                out,
                &prov,
                p.skip_bad_files,
                "DMA sweeps",
                dma_sweep,
            )?;
            (Some(w), a, b, c, d)
        }
        None => (None, 0, 0, 0, 0),
    };
    let total = campaign.relaxation.len()
        + campaign.indentation.len()
        + if p.dsc_raw.is_some() {
            campaign.dsc.len()
        } else {
            0
        }
        + if p.dma_sweeps_raw.is_some() {
            campaign.dma_sweeps.len()
        } else {
            0
        };
    let skipped = rskip + iskip + dskip + mskip;
    if total > 0 && skipped == total {
        return Err(IngestError::NothingUsable);
    }
    // Every kind succeeded: the tables are committed together.
    w_relax.finish()?;
    w_indent.finish()?;
    if let Some(w) = w_dsc {
        w.finish()?;
    }
    if let Some(w) = w_dma {
        w.finish()?;
    }
    Ok(Summary {
        relaxation_tests: tests,
        relaxation_points: rpoints,
        indents,
        indentation_points: ipoints,
        dsc_scans: dsc,
        dma_sweeps: dma,
        files_skipped: skipped,
        bytes_read: rbytes + ibytes + dbytes + mbytes,
    })
}
