//! The disk side of kww-fit: stream curves, fit batches in parallel, write both tables.

use rayon::prelude::*;
use stage_cli::Progress;
use tables::{CurveReader, KwwFit, Provenance, RelaxationClean, write_rows};

use crate::curve::fit_curve;
use crate::law::aging_law;
use crate::{KwwError, Params};

const BATCH: usize = 256;

/// Fits every curve and writes `kww_fits` and `aging_law`; returns (fitted ok, flagged).
pub fn run(p: &Params) -> Result<(usize, usize), KwwError> {
    tables::start_stage(&[&p.kww_fits, &p.aging_law])?;
    let reader = CurveReader::<RelaxationClean>::open(&p.relaxation_clean)?;
    let progress = Progress::new("curves", 0);
    let mut rows: Vec<KwwFit> = Vec::new();
    let mut batch: Vec<RelaxationClean> = Vec::with_capacity(BATCH);
    // A curve's fit depends on the curve and the fit options: the key of its item-cache entry.
    let cache = tables::items::ItemCache::from_env();
    let options = format!("{:?}", p.fit);
    let reused = std::sync::atomic::AtomicUsize::new(0);
    let flush = |batch: &mut Vec<RelaxationClean>, rows: &mut Vec<KwwFit>| {
        rows.extend(
            batch
                .par_iter()
                .map(|c| cache.row_of("kww-fit", &options, c, &reused, || fit_curve(c, &p.fit)))
                .collect::<Vec<_>>(),
        );
        progress.add(batch.len());
        batch.clear();
    };
    for curve in reader {
        batch.push(curve?);
        if batch.len() == BATCH {
            flush(&mut batch, &mut rows);
        }
    }
    flush(&mut batch, &mut rows);
    progress.finish();
    if cache.enabled() {
        tracing::info!(
            "{} of {} curves from the item cache",
            reused.load(std::sync::atomic::Ordering::Relaxed),
            rows.len()
        );
    }
    // The strain of each test becomes its group's nominal strain (a grouping key downstream).
    let strains: Vec<Option<f64>> = rows.iter().map(|r| r.strain).collect();
    for (r, e) in rows.iter_mut().zip(tables::nominal_strains(&strains)) {
        r.strain = e;
    }
    let ok = rows.iter().filter(|r| r.status == "ok").count();
    let flagged = rows.len() - ok;
    for r in rows.iter().filter(|r| r.status != "ok") {
        tracing::warn!("{}: {}", r.test_id, r.status);
    }
    let variants: Vec<&str> = p.fit.variants.iter().map(|v| v.name()).collect();
    let prov = Provenance::new(
        "kww-fit",
        serde_json::json!({ "models": variants, "bootstrap": p.fit.bootstrap, "seed": p.fit.seed }),
    );
    let law = aging_law(&rows, p.fit.seed);
    write_rows(&p.kww_fits, rows.clone(), &prov)?;
    write_rows(&p.aging_law, law, &prov)?;
    if ok == 0 && !rows.is_empty() {
        return Err(KwwError::NothingFitted(rows.len()));
    }
    if rows.is_empty() {
        tracing::warn!("relaxation_clean holds no curve: empty kww_fits and aging_law written");
    }
    Ok((ok, flagged))
}
