//! The disk side of clean: read raw curves a row group at a time, clean them in parallel (or take
//! what was kept for an unchanged row group), write both tables.

use rayon::prelude::*;
use stage_cli::Progress;
use tables::items::ItemCache;
use tables::segments::{RowGroups, SegmentWriter, encode_segment};
use tables::{Provenance, RelaxationClean, RelaxationRaw, RelaxationTest, write_rows};

use crate::{CleanError, Params, clean_curve};

/// Cleans every test; returns (tests ok, tests flagged).
///
/// Under the runner (issue 18) the cleaned curves and test rows of a row group whose bytes are
/// unchanged (its key, see [`RowGroups`]) under the same options come from the item cache, so a
/// campaign grown by one file cleans that file's row group only; the output is the same as from
/// scratch. Memory holds one row group of raw curves.
pub fn run(p: &Params) -> Result<(usize, usize), CleanError> {
    tables::start_stage(&[&p.relaxation_clean, &p.relaxation_tests])?;
    let prov = Provenance::new(
        "clean",
        serde_json::json!({ "resample": p.options.resample, "min_points": p.options.min_points }),
    );
    let groups =
        RowGroups::<RelaxationRaw>::open_with(&p.relaxation_raw, &stage_cli::hashes::part_hash)?;
    let cache = ItemCache::from_env();
    let options = prov.params.to_string();
    // Each row group's cleaned curves are one encoded segment, spliced into the table as they
    // are (the same bytes from scratch and from the cache): one row group per input row group,
    // so the stages after clean can key their own work by row group too.
    let mut writer = SegmentWriter::<RelaxationClean>::create(&p.relaxation_clean, &prov)?;
    let progress = Progress::new("raw points", groups.rows());
    let mut tests = Vec::new();
    let mut reused = 0;
    // A few row groups at a time in parallel (each read and cleaned on its own), written in file
    // order: memory stays a few row groups' worth.
    for window in groups.windows() {
        // A window of one row group is decoded while its curves are worked on.
        let alone = window.len() == 1;
        let done: Vec<(Vec<RelaxationTest>, Vec<u8>, bool)> = window
            .into_par_iter()
            .map(|i| {
                let k = cache.row_group_key("clean row group segment", &options, &groups.keys()[i]);
                if let Some((tests, segment)) = k
                    .as_ref()
                    .and_then(|k| cache.get_rows_bytes::<RelaxationTest>(k))
                {
                    progress.add(groups.rows_in(i));
                    return Ok((tests, segment, true));
                }
                let done: Vec<(RelaxationClean, RelaxationTest)> =
                    groups.map_curves(i, alone, |r| {
                        let _counted = progress.on_drop(r.time_s.len());
                        clean_curve(r, &p.options)
                    })?;
                let (curves, done_tests): (Vec<_>, Vec<_>) = done.into_iter().unzip();
                let curves: Vec<RelaxationClean> = curves
                    .into_iter()
                    .filter(|c| !c.time_s.is_empty())
                    .collect();
                let segment = encode_segment(&curves, &prov)?;
                if let Some(k) = &k {
                    cache.put_rows_bytes(k, &done_tests, &segment);
                }
                Ok((done_tests, segment, false))
            })
            .collect::<Result<_, tables::TableError>>()?;
        for (done_tests, segment, kept) in done {
            reused += usize::from(kept);
            writer.append(segment)?;
            for t in done_tests.iter().filter(|t| t.status != tables::Status::Ok) {
                let flags = if t.flags.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", t.flags)
                };
                if t.n_kept == 0 {
                    // Nothing of the test reaches the fit: said in the run's summary too.
                    stage_cli::report_dropped("test", &t.test_id, &format!("{}{flags}", t.status));
                } else {
                    tracing::warn!("{}: {}{flags}", t.test_id, t.status);
                }
            }
            tests.extend(done_tests);
        }
    }
    progress.finish();
    if cache.enabled() {
        tracing::info!(
            "{reused} of {} row groups unchanged: their tests were not cleaned again",
            groups.keys().len()
        );
    }
    writer.finish()?;
    let ok = tests
        .iter()
        .filter(|t| t.status == tables::Status::Ok)
        .count();
    let flagged = tests.len() - ok;
    write_rows(&p.relaxation_tests, tests, &prov)?;
    Ok((ok, flagged))
}
