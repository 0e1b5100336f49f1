//! agingflow-thermal: the thin binary over the `thermal` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use stage_cli::{CommonArgs, StageError};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Exo {
    /// Detect per scan from the direction of the glass-transition step
    Auto,
    /// Exotherm up (endotherm down): TA's default
    Up,
    /// Exotherm down (endotherm up)
    Down,
}

/// Transition temperatures from DSC scans and DMA temperature sweeps.
///
/// DSC: each scan split into heating, cooling and isothermal segments from its temperature;
/// per heating segment, T_g onset, midpoint and end by the tangent construction (ASTM E1356
/// style: baselines and the inflection tangent) and the crystallisation onset where the segment
/// reaches it, each in K with an SE from the line fits. The heat-flow sign (endotherm up or
/// down) is the manifest's `endo:`, else --exo, else detected from the direction of the T_g step.
///
/// DMA sweeps, at each frequency: the alpha peak of E'' and of tan delta (parabola vertex), T_g
/// from the onset of the E' drop (tangent construction), and the beta relaxation: E''/E''_max
/// fitted by an alpha peak with an exponential low-temperature flank, a Gaussian beta hump and a
/// linear background; the hump's centre (K) and area (intensity, K). Per material, each aged
/// scan's beta intensity against the as-cast one (no aging time), and per multi-frequency sweep
/// the beta relaxation's Arrhenius energy (kJ/mol) from its peak temperature against ln f.
/// Scans that cannot be measured give rows with a status (scan_too_short, not_found,
/// not_reached) instead of failing the run.
#[derive(Parser, Debug)]
#[command(name = "agingflow-thermal", version)]
struct Args {
    /// Input: the dsc_raw table
    #[arg(long, value_name = "PATH")]
    dsc_raw: Option<PathBuf>,
    /// Input: the dma_sweeps_raw table
    #[arg(long, value_name = "PATH")]
    dma_sweeps_raw: Option<PathBuf>,
    /// Output: the transitions table
    #[arg(long, value_name = "PATH")]
    transitions: PathBuf,
    /// Output: the dma_sweeps table (each sweep and frequency on a regular temperature grid)
    #[arg(long, value_name = "PATH")]
    dma_sweeps: PathBuf,
    /// The sign convention of the DSC heat flow (a scan's manifest `endo:` wins)
    #[arg(long, value_enum, default_value = "auto")]
    exo: Exo,
    /// Half-width of the smoothing that finds inflections, K
    #[arg(long, default_value_t = 3.0, value_parser = stage_cli::positive_f64)]
    smooth_k: f64,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let p = thermal::Params {
        dsc_raw: a.dsc_raw,
        dma_sweeps_raw: a.dma_sweeps_raw,
        transitions: a.transitions,
        dma_sweeps: a.dma_sweeps,
        dsc: thermal::dsc::DscOptions {
            exo_up: match a.exo {
                Exo::Auto => None,
                Exo::Up => Some(true),
                Exo::Down => Some(false),
            },
            smooth_k: a.smooth_k,
            ..Default::default()
        },
        dma: thermal::dma::DmaOptions {
            smooth_k: a.smooth_k,
            ..Default::default()
        },
    };
    stage_cli::run(&a.common, || {
        let s = thermal::run(&p).map_err(StageError::data)?;
        tracing::info!(
            "{} DSC scans, {} DMA sweeps: {} transitions measured, {} not",
            s.dsc_scans,
            s.dma_sweeps,
            s.transitions_ok,
            s.transitions_failed
        );
        Ok(())
    })
}
