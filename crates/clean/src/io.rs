//! The disk side of clean: stream raw curves in batches, clean them in parallel, write both tables.

use rayon::prelude::*;
use tables::{CurveReader, CurveWriter, Provenance, RelaxationClean, RelaxationRaw, write_rows};

use crate::{CleanError, Params, clean_curve};

const BATCH: usize = 128;

/// Cleans every test; returns (tests ok, tests flagged).
pub fn run(p: &Params) -> Result<(usize, usize), CleanError> {
    tables::start_stage(&[&p.relaxation_clean, &p.relaxation_tests])?;
    let prov = Provenance::new(
        "clean",
        serde_json::json!({ "resample": p.options.resample, "min_points": p.options.min_points }),
    );
    let reader = CurveReader::<RelaxationRaw>::open(&p.relaxation_raw)?;
    let mut writer = CurveWriter::<RelaxationClean>::create(&p.relaxation_clean, &prov)?;
    let mut tests = Vec::new();
    let mut batch: Vec<RelaxationRaw> = Vec::with_capacity(BATCH);
    let mut flush = |batch: &mut Vec<RelaxationRaw>,
                     tests: &mut Vec<tables::RelaxationTest>|
     -> Result<(), CleanError> {
        let done: Vec<_> = batch
            .par_iter()
            .map(|r| clean_curve(r, &p.options))
            .collect();
        for (c, t) in done {
            if !c.time_s.is_empty() {
                writer.push(&c)?;
            }
            if t.status != "ok" {
                tracing::warn!(
                    "{}: {}{}",
                    t.test_id,
                    t.status,
                    if t.flags.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", t.flags)
                    }
                );
            }
            tests.push(t);
        }
        batch.clear();
        Ok(())
    };
    for raw in reader {
        batch.push(raw?);
        if batch.len() == BATCH {
            flush(&mut batch, &mut tests)?;
        }
    }
    flush(&mut batch, &mut tests)?;
    writer.finish()?;
    let ok = tests.iter().filter(|t| t.status == "ok").count();
    let flagged = tests.len() - ok;
    write_rows(&p.relaxation_tests, tests, &prov)?;
    Ok((ok, flagged))
}
