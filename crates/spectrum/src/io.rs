//! The disk side of spectrum: stream the cleaned curves, invert batches in parallel (results in
//! key order whatever the thread count), write the tables.

use std::collections::HashMap;

use rayon::prelude::*;
use stage_cli::Progress;
use tables::items::{
    ItemCache, KeyBuilder, curve_bytes, curves_from_bytes, rows_bytes, rows_from_bytes,
};
use tables::segments::{RowGroups, SegmentWriter, content_groups, encode_segment};
use tables::{
    CurveTable, KwwFit, ModelFit, Provenance, RelaxationClean, Spectrum, SpectrumMoments,
    read_rows, write_rows,
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
    let progress = Progress::new("curve points", groups.rows());
    // Per row: the spectrum when decoded (inverted now), and its encoded bytes (empty: none).
    let mut curves: Vec<(Option<Spectrum>, Vec<u8>)> = Vec::new();
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
    type Done = (Vec<(Option<Spectrum>, Vec<u8>)>, Vec<SpectrumMoments>, bool);
    let encoded = |s: &Option<Spectrum>| -> Result<Vec<u8>, tables::TableError> {
        s.as_ref().map_or(Ok(Vec::new()), curve_bytes)
    };
    for window in groups.windows() {
        // A window of one row group is decoded while its curves are worked on.
        let alone = window.len() == 1;
        let done: Vec<Done> = window
            .into_par_iter()
            .map(|i| -> Result<Done, tables::TableError> {
                let k = cache.row_group_key("spectrum row group", &options, &groups.keys()[i]);
                if let Some((specs, moments)) = k.as_deref().and_then(|k| kept(&cache, k, &fit_of))
                {
                    curves_kept.fetch_add(moments.len(), std::sync::atomic::Ordering::Relaxed);
                    progress.add(groups.rows_in(i));
                    let specs = specs.into_iter().map(|b| (None, b)).collect();
                    return Ok((specs, moments, true));
                }
                // A changed row group: its curves one by one, each from its own entry when the
                // curve and its fit are unchanged (a grown group inverts only its new curve).
                let (specs, moments): (Vec<_>, Vec<_>) = groups
                    .map_curves(i, alone, |c| {
                        let _counted = progress.on_drop(c.time_s.len());
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
                    })?
                    .into_iter()
                    .unzip();
                let specs = specs
                    .into_iter()
                    .map(|s| encoded(&s).map(|b| (s, b)))
                    .collect::<Result<Vec<_>, _>>()?;
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
    for (r, e) in rows.iter_mut().zip(nominal) {
        r.strain = e;
    }
    let inverted = rows
        .iter()
        .filter(|r| r.status == tables::Status::Ok)
        .count();
    let flagged = rows.len() - inverted;
    for r in rows.iter().filter(|r| r.status != tables::Status::Ok) {
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
            "bands": o.bands.name(),
            "bootstrap": o.bootstrap,
            "seed": o.seed,
            "beyond_window": o.beyond_window,
            "peak_dip": o.peak_dip,
            "centre_change": p.trends.centre_change,
            "width_change": p.trends.width_change,
        }),
    );
    let (series, trends) = crate::summarise(&rows, &fits, &models, &p.trends);
    write_spectra(&p.spectra, &rows, curves, &prov, &cache, &options)?;
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
    specs: &[(Option<Spectrum>, Vec<u8>)],
    moments: &[SpectrumMoments],
    fit_of: &dyn Fn(&str) -> Option<&'a KwwFit>,
) {
    let head = (|| -> Result<[Vec<u8>; 2], tables::TableError> {
        Ok([
            rows_bytes(moments)?,
            rows_bytes(&fits_used(moments, fit_of))?,
        ])
    })();
    match head {
        Ok(head) => {
            let refs: Vec<&[u8]> = head
                .iter()
                .map(Vec::as_slice)
                .chain(specs.iter().map(|(_, b)| b.as_slice()))
                .collect();
            cache.put_bytes(key, &refs);
        }
        Err(e) => tracing::debug!("item cache {key}: {e}"),
    }
}

/// A row group's kept results, when present, intact and computed from the current fits: the
/// spectra still encoded (empty: none; decoded only where a segment of the table must be written
/// again), and the moments.
fn kept<'a>(
    cache: &ItemCache,
    key: &str,
    fit_of: &dyn Fn(&str) -> Option<&'a KwwFit>,
) -> Option<(Vec<Vec<u8>>, Vec<SpectrumMoments>)> {
    let mut parts = cache.get_bytes(key)?;
    if parts.len() < 2 {
        return None;
    }
    let specs = parts.split_off(2);
    let moments = rows_from_bytes::<SpectrumMoments>(&parts[0])?;
    if specs.len() != moments.len() || rows_bytes(&fits_used(&moments, fit_of)).ok()? != parts[1] {
        return None;
    }
    Some((specs, moments))
}

/// Writes the spectra table: the curves in the table's key order (by their rows' keys, strain
/// nominal), in segments of consecutive curves cut where a test id's hash says
/// (`tables::segments::content_groups`, as ingest's groups: a curve added or changed changes
/// only its own segment). Under the runner each segment is kept in the
/// item cache by the bytes of its curves and their nominal strains, and spliced as it is: only
/// the changed segment is decoded and encoded again. The file is the same with or without the
/// cache.
fn write_spectra(
    path: &std::path::Path,
    rows: &[SpectrumMoments],
    curves: Vec<(Option<Spectrum>, Vec<u8>)>,
    prov: &Provenance,
    cache: &ItemCache,
    options: &str,
) -> Result<(), SpectrumError> {
    let keys: Vec<Spectrum> = rows
        .iter()
        .map(|r| Spectrum {
            test_id: r.test_id.clone(),
            material: r.material.clone(),
            series: r.series.clone(),
            strain: r.strain,
            temperature_k: r.temperature_k,
            aging_time_s: r.aging_time_s,
            ..Default::default()
        })
        .collect();
    let mut order: Vec<usize> = (0..rows.len())
        .filter(|&i| !curves[i].1.is_empty())
        .collect();
    order.sort_by(|a, b| keys[*a].cmp_key(&keys[*b]));
    // Each segment's curves, moved out of `curves` (a row index with its curve).
    type Inverted = (Option<Spectrum>, Vec<u8>);
    let mut curves: Vec<Option<Inverted>> = curves.into_iter().map(Some).collect();
    let segments: Vec<Vec<(usize, Inverted)>> =
        content_groups(order.iter().map(|&i| rows[i].test_id.as_str()))
            .into_iter()
            .map(|r| {
                order[r]
                    .iter()
                    .map(|&i| (i, curves[i].take().unwrap_or_default()))
                    .collect()
            })
            .collect();
    let spliced = std::sync::atomic::AtomicUsize::new(0);
    let encoded: Vec<Vec<u8>> = segments
        .into_par_iter()
        .map(|seg| -> Result<Vec<u8>, SpectrumError> {
            let key = cache.enabled().then(|| {
                let mut k = KeyBuilder::new("spectra segment").text(options);
                for (i, (_, bytes)) in &seg {
                    k = k
                        .text(&blake3::hash(bytes).to_hex())
                        .text(&format!("{:?}", rows[*i].strain.map(f64::to_bits)));
                }
                k.finish()
            });
            if let Some(k) = &key
                && let Some(mut parts) = cache.get_bytes(k)
                && parts.len() == 1
            {
                spliced.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(parts.remove(0));
            }
            let mut spectra = Vec::with_capacity(seg.len());
            for (i, (s, bytes)) in seg {
                let mut c = match s {
                    Some(c) => c,
                    None => curves_from_bytes::<Spectrum>(&bytes)
                        .filter(|v| v.len() == 1)
                        .and_then(|mut v| v.pop())
                        .ok_or_else(|| {
                            tables::TableError::Internal(format!(
                                "{}: a kept spectrum does not decode",
                                rows[i].test_id
                            ))
                        })?,
                };
                if c.test_id != rows[i].test_id {
                    return Err(tables::TableError::Internal(format!(
                        "spectrum of {} kept for {}",
                        c.test_id, rows[i].test_id
                    ))
                    .into());
                }
                c.strain = rows[i].strain;
                spectra.push(c);
            }
            let segment = encode_segment(&spectra, prov)?;
            if let Some(k) = &key {
                cache.put_bytes(k, &[&segment]);
            }
            Ok(segment)
        })
        .collect::<Result<_, _>>()?;
    if cache.enabled() {
        tracing::info!(
            "spectra: {} of {} segments unchanged (kept, not encoded again)",
            spliced.load(std::sync::atomic::Ordering::Relaxed),
            encoded.len()
        );
    }
    let mut writer = SegmentWriter::<Spectrum>::create(path, prov)?;
    for segment in encoded {
        writer.append(segment)?;
    }
    writer.finish()?;
    Ok(())
}

fn join_flag(flags: &str, f: &str) -> String {
    let mut v: Vec<&str> = flags.split(',').filter(|s| !s.is_empty()).collect();
    v.push(f);
    v.sort_unstable();
    v.join(",")
}
