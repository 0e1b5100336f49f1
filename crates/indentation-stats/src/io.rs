//! The disk side: stream indents in batches, analyse them in parallel, write both tables.

use rayon::prelude::*;
use stage_cli::Progress;
use tables::{CurveReader, Indent, IndentationRaw, Provenance, write_rows};

use crate::stats::group_stats;
use crate::{Params, StatsError, analyze};

const BATCH: usize = 512;

/// Returns (indents with a pop-in, censored, not analysed).
pub fn run(p: &Params) -> Result<(usize, usize, usize), StatsError> {
    tables::start_stage(&[&p.indents, &p.tau_c_stats])?;
    let reader = CurveReader::<IndentationRaw>::open(&p.indentation_raw)?;
    let progress = Progress::new("indents", 0);
    let mut rows: Vec<Indent> = Vec::new();
    let mut batch: Vec<IndentationRaw> = Vec::with_capacity(BATCH);
    let analyse = |batch: &mut Vec<IndentationRaw>, rows: &mut Vec<Indent>| {
        rows.extend(
            batch
                .par_iter()
                .map(|c| analyze(c, &p.options))
                .collect::<Vec<_>>(),
        );
        progress.add(batch.len());
        batch.clear();
    };
    for c in reader {
        batch.push(c?);
        if batch.len() == BATCH {
            analyse(&mut batch, &mut rows);
        }
    }
    analyse(&mut batch, &mut rows);
    progress.finish();
    if rows.is_empty() {
        tracing::warn!("indentation_raw holds no indent: empty indents and tau_c_stats written");
    }
    let o = &p.options;
    let prov = Provenance::new(
        "indentation-stats",
        serde_json::json!({"contact_load_un": o.contact_load_un, "burst_sigmas": o.burst_sigmas, "min_burst_nm": o.min_burst_nm, "min_hertz_points": o.min_hertz_points}),
    );
    let stats = group_stats(&rows);
    let ok = rows.iter().filter(|r| r.status == "ok").count();
    let censored = rows.iter().filter(|r| r.status == "censored").count();
    let failed = rows.len() - ok - censored;
    write_rows(&p.indents, rows, &prov)?;
    write_rows(&p.tau_c_stats, stats, &prov)?;
    Ok((ok, censored, failed))
}
