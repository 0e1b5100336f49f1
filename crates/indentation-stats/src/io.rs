//! The disk side: read indents a row group at a time, analyse them in parallel (or take the rows
//! kept for an unchanged row group), write both tables.

use rayon::prelude::*;
use stage_cli::Progress;
use tables::items::ItemCache;
use tables::segments::RowGroups;
use tables::{CurveTable, Indent, IndentationRaw, Provenance, RowTable, write_rows};

use crate::stats::group_stats;
use crate::{Params, StatsError, analyze};

/// Returns (indents with a pop-in, censored, not analysed).
///
/// Under the runner (issue 18) the rows of a row group whose bytes are unchanged (its key, see
/// [`RowGroups`]) under the same options come from the item cache: changing one indent file
/// analyses the indents of its row group only. The output is the same as from scratch.
pub fn run(p: &Params) -> Result<(usize, usize, usize), StatsError> {
    tables::start_stage(&[&p.indents, &p.tau_c_stats])?;
    let o = &p.options;
    let prov = Provenance::new(
        "indentation-stats",
        serde_json::json!({"contact_load_un": o.contact_load_un, "burst_sigmas": o.burst_sigmas, "min_burst_nm": o.min_burst_nm, "min_hertz_points": o.min_hertz_points}),
    );
    let groups =
        RowGroups::<IndentationRaw>::open_with(&p.indentation_raw, &stage_cli::hashes::part_hash)?;
    let cache = ItemCache::from_env();
    let options = prov.params.to_string();
    let progress = Progress::new("row groups of indents", groups.keys().len());
    // Row groups in parallel (each read and analysed on its own), kept in file order.
    let done: Vec<(Vec<Indent>, bool)> = (0..groups.keys().len())
        .into_par_iter()
        .map(|i| {
            let k = cache.row_group_key("indentation-stats row group", &options, &groups.keys()[i]);
            if let Some(k) = &k
                && let Some((kept, _)) = cache.get::<Indent, IndentationRaw>(k)
            {
                progress.add(1);
                return Ok((kept, true));
            }
            // A table in one large row group is decoded while its indents are analysed.
            let done: Vec<Indent> = groups.map_curves(i, groups.len() == 1, |c| analyze(c, o))?;
            if let Some(k) = &k {
                cache.put::<Indent, IndentationRaw>(k, &done, &[]);
            }
            progress.add(1);
            Ok((done, false))
        })
        .collect::<Result<_, tables::TableError>>()?;
    let reused = done.iter().filter(|(_, kept)| *kept).count();
    let mut rows: Vec<Indent> = done.into_iter().flat_map(|(rows, _)| rows).collect();
    progress.finish();
    if cache.enabled() {
        tracing::info!(
            "{reused} of {} row groups unchanged: their indents were not analysed again",
            groups.keys().len()
        );
    }
    // Row groups are read one by one: the key order across them is checked here.
    if let Some(w) = rows
        .windows(2)
        .find(|w| w[0].cmp_key(&w[1]) != std::cmp::Ordering::Less)
    {
        return Err(tables::TableError::Unsorted {
            path: p.indentation_raw.clone(),
            table: IndentationRaw::NAME.into(),
            keys: IndentationRaw::KEYS.join(", "),
            detail: format!(
                "indent `{}` comes after `{}`",
                w[1].indent_id, w[0].indent_id
            ),
        }
        .into());
    }
    if rows.is_empty() {
        tracing::warn!("indentation_raw holds no indent: empty indents and tau_c_stats written");
    }
    crate::indent::mark_modulus_outliers(&mut rows);
    let stats = group_stats(&rows);
    let ok = rows
        .iter()
        .filter(|r| r.status == tables::Status::Ok)
        .count();
    let censored = rows.iter().filter(|r| r.status == "censored").count();
    let failed = rows.len() - ok - censored;
    write_rows(&p.indents, rows, &prov)?;
    write_rows(&p.tau_c_stats, stats, &prov)?;
    Ok((ok, censored, failed))
}
