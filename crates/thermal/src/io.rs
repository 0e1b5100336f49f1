//! The disk side of thermal: read the raw scans, analyse them in parallel (results in key
//! order whatever the thread count), write `transitions` and `dma_sweeps`.

use rayon::prelude::*;
use tables::{DmaSweepRaw, DscRaw, Provenance, read_curves, write_curves, write_rows};

use crate::{Params, Summary, ThermalError, dma, dsc};

/// Runs the stage.
pub fn run(p: &Params) -> Result<Summary, ThermalError> {
    tables::start_stage(&[&p.transitions, &p.dma_sweeps])?;
    if p.dsc_raw.is_none() && p.dma_sweeps_raw.is_none() {
        return Err(ThermalError::NoInput);
    }
    let dscs: Vec<DscRaw> = match &p.dsc_raw {
        Some(path) => {
            stage_cli::report_read(path);
            read_curves::<DscRaw>(path)?.0
        }
        None => Vec::new(),
    };
    let sweeps: Vec<DmaSweepRaw> = match &p.dma_sweeps_raw {
        Some(path) => {
            stage_cli::report_read(path);
            read_curves::<DmaSweepRaw>(path)?.0
        }
        None => Vec::new(),
    };
    let mut rows: Vec<tables::Transition> = dscs
        .par_iter()
        .map(|s| dsc::analyse(s, &p.dsc))
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect();
    let analysed: Vec<_> = sweeps.par_iter().map(|s| dma::analyse(s, &p.dma)).collect();
    let mut curves = Vec::new();
    let mut dma_rows = Vec::new();
    for (c, r) in analysed {
        curves.extend(c);
        dma_rows.extend(r);
    }
    rows.extend(dma::changes(&dma_rows));
    rows.extend(dma::activations(&dma_rows));
    rows.extend(dma_rows);
    for r in &rows {
        if r.status != tables::Status::Ok {
            tracing::warn!(
                "{}: {}{}: {}",
                r.scan_id,
                r.transition,
                r.frequency_hz
                    .map(|f| format!(" at {f} Hz"))
                    .unwrap_or_default(),
                r.status
            );
        }
    }
    let summary = Summary {
        dsc_scans: dscs.len(),
        dma_sweeps: sweeps.len(),
        transitions_ok: rows
            .iter()
            .filter(|r| r.status == tables::Status::Ok)
            .count(),
        transitions_failed: rows
            .iter()
            .filter(|r| r.status != tables::Status::Ok)
            .count(),
    };
    let prov = Provenance::new(
        "thermal",
        serde_json::json!({
            "exo_up": p.dsc.exo_up,
            "dsc_step_k": p.dsc.step_k,
            "dma_step_k": p.dma.step_k,
            "smooth_k": p.dsc.smooth_k,
        }),
    );
    write_rows(&p.transitions, rows, &prov)?;
    write_curves(&p.dma_sweeps, curves, &prov)?;
    Ok(summary)
}
