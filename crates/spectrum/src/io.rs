//! The disk side of spectrum: stream the cleaned curves, invert batches in parallel (results in
//! key order whatever the thread count), write the tables.

use std::collections::HashMap;

use rayon::prelude::*;
use stage_cli::Progress;
use tables::items::{
    ItemCache, KeyBuilder, curve_bytes, curves_from_bytes, rows_bytes, rows_from_bytes,
};
use tables::segments::RowGroups;
use tables::{
    KwwFit, ModelFit, Provenance, RelaxationClean, Spectrum, SpectrumMoments, read_rows,
    write_curves, write_rows,
};

use crate::{Params, SpectrumError, analyse};

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
    let groups = RowGroups::<RelaxationClean>::open(&p.relaxation_clean)?;
    let compute = |c: &RelaxationClean, fit: Option<&KwwFit>| {
        let (s, mut r) = analyse(c, fit, c.strain, &p.spectrum);
        if p.kww_fits.is_some() && fit.is_none() {
            r.flags = join_flag(&r.flags, "no_kww_fit");
        }
        (s, r)
    };
    let fit_of =
        |test_id: &str| -> Option<&KwwFit> { p.kww_fits.as_ref().and(by_id.get(test_id).copied()) };
    let progress = Progress::new("row groups of curves", groups.keys().len());
    let mut curves = Vec::new();
    let mut rows = Vec::new();
    let mut raw_strains = Vec::new();
    // A row group's rows depend on its curves (the row group's key), their KWW fits (or whether
    // kww-fits was given) and the options. The entry is kept under the row group's key and the
    // options, with the fits it was computed from; it is used when those fits are the current
    // ones, byte for byte.
    let cache = ItemCache::from_env();
    let options = format!("{:?} kww_fits:{}", p.spectrum, p.kww_fits.is_some());
    let mut reused = 0;
    let curves_kept = std::sync::atomic::AtomicUsize::new(0);
    type Done = (Vec<Option<Spectrum>>, Vec<SpectrumMoments>, bool);
    for window in groups.windows() {
        let done: Vec<Done> = window
            .into_par_iter()
            .map(|i| -> Result<Done, tables::TableError> {
                let k = cache.row_group_key("spectrum row group", &options, &groups.keys()[i]);
                if let Some(hit) = k.as_deref().and_then(|k| kept(&cache, k, &fit_of)) {
                    curves_kept.fetch_add(hit.1.len(), std::sync::atomic::Ordering::Relaxed);
                    return Ok((hit.0, hit.1, true));
                }
                // A changed row group: its curves one by one, each from its own entry when the
                // curve and its fit are unchanged (a grown group inverts only its new curve).
                let group = groups.read(i)?;
                let (specs, moments): (Vec<_>, Vec<_>) = group
                    .par_iter()
                    .map(|c| {
                        let fit = fit_of(&c.test_id);
                        let key = cache.enabled().then(|| {
                            KeyBuilder::new("spectrum")
                                .text(&options)
                                .curve(c)
                                .and_then(|k| k.rows(fit.map(std::slice::from_ref).unwrap_or(&[])))
                                .map(KeyBuilder::finish)
                                .ok()
                        });
                        let Some(k) = key.flatten() else {
                            return compute(c, fit);
                        };
                        if let Some((mut rows, specs)) = cache.get::<SpectrumMoments, Spectrum>(&k)
                            && rows.len() == 1
                            && specs.len() <= 1
                        {
                            curves_kept.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            return (specs.into_iter().next(), rows.remove(0));
                        }
                        let (s, r) = compute(c, fit);
                        cache.put(&k, std::slice::from_ref(&r), s.as_slice());
                        (s, r)
                    })
                    .unzip();
                if let Some(k) = &k {
                    keep(&cache, k, &specs, &moments, &fit_of);
                }
                Ok((specs, moments, false))
            })
            .collect::<Result<_, _>>()?;
        for (specs, moments, hit) in done {
            reused += usize::from(hit);
            for (s, r) in specs.into_iter().zip(moments) {
                raw_strains.push(r.strain);
                curves.push(s);
                rows.push(r);
            }
            progress.add(1);
        }
    }
    progress.finish();
    if cache.enabled() {
        tracing::info!(
            "{} of {} curves from the item cache",
            curves_kept.load(std::sync::atomic::Ordering::Relaxed),
            rows.len()
        );
        tracing::info!(
            "{reused} of {} row groups unchanged with their fits: not inverted again",
            groups.keys().len()
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

/// The fits a row group's rows were computed from, in row order (a row without a fit has none).
fn fits_used<'a>(
    moments: &[SpectrumMoments],
    fit_of: &dyn Fn(&str) -> Option<&'a KwwFit>,
) -> Vec<KwwFit> {
    moments
        .iter()
        .filter_map(|r| fit_of(&r.test_id).cloned())
        .collect()
}

/// Keeps a row group's results: [moments, the fits used, one spectrum per row (empty: none)].
fn keep<'a>(
    cache: &ItemCache,
    key: &str,
    specs: &[Option<Spectrum>],
    moments: &[SpectrumMoments],
    fit_of: &dyn Fn(&str) -> Option<&'a KwwFit>,
) {
    let parts = (|| -> Result<Vec<Vec<u8>>, tables::TableError> {
        let mut parts = vec![
            rows_bytes(moments)?,
            rows_bytes(&fits_used(moments, fit_of))?,
        ];
        for s in specs {
            parts.push(match s {
                Some(s) => curve_bytes(s)?,
                None => Vec::new(),
            });
        }
        Ok(parts)
    })();
    match parts {
        Ok(parts) => {
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            cache.put_bytes(key, &refs);
        }
        Err(e) => tracing::debug!("item cache {key}: {e}"),
    }
}

/// A row group's kept results, when present, intact and computed from the current fits.
fn kept<'a>(
    cache: &ItemCache,
    key: &str,
    fit_of: &dyn Fn(&str) -> Option<&'a KwwFit>,
) -> Option<(Vec<Option<Spectrum>>, Vec<SpectrumMoments>)> {
    let parts = cache.get_bytes(key)?;
    let (moments, fits, specs) = match parts.as_slice() {
        [m, f, specs @ ..] => (rows_from_bytes::<SpectrumMoments>(m)?, f, specs),
        _ => return None,
    };
    if specs.len() != moments.len() || rows_bytes(&fits_used(&moments, fit_of)).ok()? != *fits {
        return None;
    }
    let specs = specs
        .iter()
        .map(|b| {
            if b.is_empty() {
                Some(None)
            } else {
                let mut c = curves_from_bytes::<Spectrum>(b)?;
                (c.len() == 1).then(|| c.pop())
            }
        })
        .collect::<Option<Vec<_>>>()?;
    Some((specs, moments))
}

fn join_flag(flags: &str, f: &str) -> String {
    let mut v: Vec<&str> = flags.split(',').filter(|s| !s.is_empty()).collect();
    v.push(f);
    v.sort_unstable();
    v.join(",")
}
