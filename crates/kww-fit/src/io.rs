//! The disk side of kww-fit: read the cleaned curves a row group at a time, fit them in parallel
//! (or take what was kept for an unchanged row group), write both tables.

use rayon::prelude::*;
use stage_cli::Progress;
use tables::segments::RowGroups;
use tables::{KwwFit, Provenance, RelaxationClean, write_rows};

use crate::curve::fit_curve;
use crate::law::aging_law;
use crate::{KwwError, Params};

/// Fits every curve and writes `kww_fits` and `aging_law`; returns (fitted ok, flagged).
pub fn run(p: &Params) -> Result<(usize, usize), KwwError> {
    tables::start_stage(&[&p.kww_fits, &p.aging_law])?;
    let groups = RowGroups::<RelaxationClean>::open(&p.relaxation_clean)?;
    let progress = Progress::new("curve points", groups.rows());
    let mut rows: Vec<KwwFit> = Vec::new();
    // A row group's fits depend on its curves (the row group's key) and the fit options: the
    // key of its item-cache entry, so a grown campaign fits only its new or changed row groups.
    let cache = tables::items::ItemCache::from_env();
    let options = format!("{:?}", p.fit);
    let mut reused = 0;
    let curves_kept = std::sync::atomic::AtomicUsize::new(0);
    // A few row groups at a time in parallel, their curves too; results in table order.
    for window in groups.windows() {
        // A window of one row group is decoded while its curves are worked on.
        let alone = window.len() == 1;
        let done: Vec<(Vec<KwwFit>, bool)> = window
            .into_par_iter()
            .map(|i| {
                let k = cache.row_group_key("kww-fit row group", &options, &groups.keys()[i]);
                if let Some((fits, _)) = k
                    .as_deref()
                    .and_then(|k| cache.get::<KwwFit, RelaxationClean>(k))
                {
                    curves_kept.fetch_add(fits.len(), std::sync::atomic::Ordering::Relaxed);
                    progress.add(groups.rows_in(i));
                    return Ok((fits, true));
                }
                // A changed row group: its curves one by one, each from its own entry when
                // unchanged (a grown group fits only its new curve).
                let fits: Vec<KwwFit> = groups.map_curves(i, alone, |c| {
                    let row = cache.row_of("kww-fit", &options, c, &curves_kept, || {
                        fit_curve(c, &p.fit)
                    });
                    progress.add(c.time_s.len());
                    row
                })?;
                if let Some(k) = &k {
                    cache.put::<KwwFit, RelaxationClean>(k, &fits, &[]);
                }
                Ok((fits, false))
            })
            .collect::<Result<_, tables::TableError>>()?;
        for (fits, kept) in done {
            reused += usize::from(kept);
            rows.extend(fits);
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
            "{reused} of {} row groups unchanged: their curves were not fitted again",
            groups.keys().len()
        );
    }
    // The strain of each test becomes its group's nominal strain (a grouping key downstream).
    let strains: Vec<Option<f64>> = rows.iter().map(|r| r.strain).collect();
    for (r, e) in rows.iter_mut().zip(tables::nominal_strains(&strains)) {
        r.strain = e;
    }
    let ok = rows
        .iter()
        .filter(|r| r.status == tables::Status::Ok)
        .count();
    let flagged = rows.len() - ok;
    for r in rows.iter().filter(|r| r.status != tables::Status::Ok) {
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
