//! agingflow-model-compare: the thin binary over the `model_compare` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use stage_cli::{CommonArgs, StageError};

/// Explain beta(t_a) with the phenomenological model's scenarios.
///
/// For each material and temperature with 4 or more aging times, fits the transient (modes age
/// during the test), broadening (the distribution widens with aging) and combined scenarios to the
/// measured beta(t_a) and tau(t_a), refitting KWW to each model curve over the experiment's own
/// window; writes model_curves (beta and tau of each scenario against t_a) and model_fits (the
/// parameters, RSS, AIC, AICc, BIC and the rank by AICc).
#[derive(Parser, Debug)]
#[command(name = "agingflow-model-compare", version)]
struct Args {
    /// Input: the kww_fits table
    #[arg(long, value_name = "PATH")]
    kww_fits: PathBuf,
    /// Output: the model_curves table
    #[arg(long, value_name = "PATH")]
    model_curves: PathBuf,
    /// Output: the model_fits table
    #[arg(long, value_name = "PATH")]
    model_fits: PathBuf,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let p = model_compare::Params {
        kww_fits: a.kww_fits,
        model_curves: a.model_curves,
        model_fits: a.model_fits,
    };
    stage_cli::run(&a.common, || {
        let n = model_compare::run(&p).map_err(StageError::data)?;
        tracing::info!("{n} material/temperature groups compared");
        Ok(())
    })
}
