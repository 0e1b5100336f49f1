//! agingflow-activation-energy: the thin binary over the `activation_energy` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use stage_cli::{CommonArgs, StageError};

/// Arrhenius activation energy per material and aging time.
///
/// At each aging time measured at 2 or more temperatures: ln tau_KWW against 1/T, weighted by the
/// fits' standard errors of ln tau, gives E_a (kJ/mol) with its SE and a 95 % t-interval (n - 2
/// degrees of freedom; 3 or more temperatures), ln tau_E and E_a / (R T_g). Aging times are
/// matched across temperatures within --tolerance (relative).
#[derive(Parser, Debug)]
#[command(name = "agingflow-activation-energy", version)]
struct Args {
    /// Input: the kww_fits table
    #[arg(long, value_name = "PATH")]
    kww_fits: PathBuf,
    /// Input (optional): the thermal stage's transitions table; a material without tg_k in the
    /// manifest then takes the mean onset T_g of its as-cast DSC scans (tg_source = dsc)
    #[arg(long, value_name = "PATH")]
    transitions: Option<PathBuf>,
    /// Output: the activation_energy table
    #[arg(long, value_name = "PATH")]
    activation_energy: PathBuf,
    /// Aging times within this relative difference are the same aging time
    #[arg(long, default_value_t = 0.01, value_parser = stage_cli::positive_f64)]
    tolerance: f64,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let p = activation_energy::Params {
        kww_fits: a.kww_fits,
        activation_energy: a.activation_energy,
        transitions: a.transitions,
        tolerance: a.tolerance,
    };
    stage_cli::run(&a.common, || {
        let n = activation_energy::run(&p).map_err(StageError::data)?;
        tracing::info!("{n} activation energies");
        Ok(())
    })
}
