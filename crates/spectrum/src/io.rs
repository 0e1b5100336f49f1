//! The disk side of spectrum: stream the cleaned curves, invert batches in parallel (results in
//! key order whatever the thread count), write the tables.

use std::collections::HashMap;

use rayon::prelude::*;
use stage_cli::Progress;
use tables::items::{ItemCache, KeyBuilder};
use tables::{
    CurveReader, KwwFit, ModelFit, Provenance, RelaxationClean, Spectrum, SpectrumMoments,
    read_rows, write_curves, write_rows,
};

use crate::{Params, SpectrumError, analyse};

const BATCH: usize = 256;

/// What a run did: curves inverted and flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub inverted: usize,
    pub flagged: usize,
}

/// Runs the stage.
pub fn run(p: &Params) -> Result<Summary, SpectrumError> {
    let mut outs = vec![p.spectra.as_path(), p.spectrum_moments.as_path()];
    outs.extend(p.spectrum_series.as_deref());
    outs.extend(p.spectrum_trends.as_deref());
    tables::start_stage(&outs)?;
    let fits: Vec<KwwFit> = match &p.kww_fits {
        Some(path) => read_rows::<KwwFit>(path)?.0,
        None => Vec::new(),
    };
    let models: Vec<ModelFit> = match &p.model_fits {
        Some(path) => read_rows::<ModelFit>(path)?.0,
        None => Vec::new(),
    };
    let by_id: HashMap<&str, &KwwFit> = fits.iter().map(|f| (f.test_id.as_str(), f)).collect();
    let reader = CurveReader::<RelaxationClean>::open(&p.relaxation_clean)?;
    let compute = |c: &RelaxationClean, fit: Option<&KwwFit>| {
        let (s, mut r) = analyse(c, fit, c.strain, &p.spectrum);
        if p.kww_fits.is_some() && fit.is_none() {
            r.flags = join_flag(&r.flags, "no_kww_fit");
        }
        (s, r)
    };
    let progress = Progress::new("curves", 0);
    let mut curves = Vec::new();
    let mut rows = Vec::new();
    let mut raw_strains = Vec::new();
    let mut batch: Vec<RelaxationClean> = Vec::with_capacity(BATCH);
    // A curve's rows depend on the curve, its KWW fit (or whether kww-fits was given) and the
    // options: that is the key of its entry in the runner's item cache.
    let cache = ItemCache::from_env();
    let options = format!("{:?} kww_fits:{}", p.spectrum, p.kww_fits.is_some());
    let reused = std::sync::atomic::AtomicUsize::new(0);
    let mut flush = |batch: &mut Vec<RelaxationClean>| {
        let done: Vec<_> = batch
            .par_iter()
            .map(|c| {
                let fit = p
                    .kww_fits
                    .as_ref()
                    .map(|_| by_id.get(c.test_id.as_str()).copied());
                let fit = match fit {
                    Some(Some(f)) => Some(f),
                    _ => None,
                };
                let key = cache.enabled().then(|| {
                    KeyBuilder::new("spectrum")
                        .text(&options)
                        .curve(c)
                        .and_then(|k| k.rows(fit.map(std::slice::from_ref).unwrap_or(&[])))
                        .map(KeyBuilder::finish)
                        .ok()
                });
                if let Some(k) = key.flatten().as_deref() {
                    if let Some((mut rows, curves)) = cache.get::<SpectrumMoments, Spectrum>(k)
                        && rows.len() == 1
                        && curves.len() <= 1
                    {
                        reused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        return (curves.into_iter().next(), rows.remove(0));
                    }
                    let (s, r) = compute(c, fit);
                    cache.put(k, std::slice::from_ref(&r), s.as_slice());
                    return (s, r);
                }
                compute(c, fit)
            })
            .collect();
        for (s, r) in done {
            raw_strains.push(r.strain);
            curves.push(s);
            rows.push(r);
        }
        progress.add(batch.len());
        batch.clear();
    };
    for curve in reader {
        batch.push(curve?);
        if batch.len() == BATCH {
            flush(&mut batch);
        }
    }
    flush(&mut batch);
    progress.finish();
    if cache.enabled() {
        tracing::info!(
            "{} of {} curves from the item cache",
            reused.load(std::sync::atomic::Ordering::Relaxed),
            rows.len()
        );
    }
    // The strain of each test becomes its group's nominal strain, as in kww_fits.
    let nominal = tables::nominal_strains(&raw_strains);
    for ((r, c), e) in rows.iter_mut().zip(curves.iter_mut()).zip(nominal) {
        r.strain = e;
        if let Some(c) = c {
            c.strain = e;
        }
    }
    let inverted = rows.iter().filter(|r| r.status == "ok").count();
    let flagged = rows.len() - inverted;
    for r in rows.iter().filter(|r| r.status != "ok") {
        tracing::warn!("{}: {}", r.test_id, r.status);
    }
    let o = &p.spectrum;
    let prov = Provenance::new(
        "spectrum",
        serde_json::json!({
            "n_grid": o.n_grid,
            "extend_low_decades": o.extend_low_decades,
            "extend_high_decades": o.extend_high_decades,
            "lambda": o.lambda,
            "bootstrap": o.bootstrap,
            "seed": o.seed,
            "beyond_window": o.beyond_window,
            "peak_dip": o.peak_dip,
            "centre_change": p.trends.centre_change,
            "width_change": p.trends.width_change,
        }),
    );
    let (series, trends) = crate::summarise(&rows, &fits, &models, &p.trends);
    write_curves(&p.spectra, curves.into_iter().flatten().collect(), &prov)?;
    write_rows(&p.spectrum_moments, rows.clone(), &prov)?;
    if let Some(path) = &p.spectrum_series {
        write_rows(path, series, &prov)?;
    }
    if let Some(path) = &p.spectrum_trends {
        write_rows(path, trends, &prov)?;
    }
    if inverted == 0 && !rows.is_empty() {
        return Err(SpectrumError::NothingInverted(rows.len()));
    }
    Ok(Summary { inverted, flagged })
}

fn join_flag(flags: &str, f: &str) -> String {
    let mut v: Vec<&str> = flags.split(',').filter(|s| !s.is_empty()).collect();
    v.push(f);
    v.sort_unstable();
    v.join(",")
}
