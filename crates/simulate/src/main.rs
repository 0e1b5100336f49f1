//! agingflow-simulate: a truth spec (YAML) to a synthetic campaign in real instrument formats.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use stage_cli::{CommonArgs, Progress, StageError};

/// Write a synthetic aging campaign with known truth.
///
/// Reads a truth spec (materials, T_g, temperatures, aging times, beta(t_a), tau(t_a), E_a(t_a),
/// DMA sampling and noise, indentation moduli, tau_c distributions, load function, seed) and
/// writes DMA stress-relaxation exports (TA Universal Analysis UTF-16 text or TRIOS text),
/// Hysitron TriboScan indent exports (classic or TI 990), the campaign manifest `campaign.yaml`
/// and `truth.json`. The same spec and seed give byte-identical files.
#[derive(Parser, Debug)]
#[command(name = "agingflow-simulate", version)]
struct Args {
    /// The truth spec (YAML)
    #[arg(long, value_name = "PATH")]
    spec: PathBuf,
    /// Where to write the campaign (created; an earlier simulated campaign there is replaced)
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// Multiply replicates and indents per aging time by N (large campaigns for benchmarks)
    #[arg(long, default_value_t = 1, value_name = "N")]
    scale: usize,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    stage_cli::run(&args.common, || {
        let spec = simulate::read_spec(&args.spec).map_err(StageError::usage)?;
        let progress = Progress::new("files", 0);
        let summary = simulate::simulate(&spec, &args.out_dir, args.scale, &|n| progress.add(n))
            .map_err(StageError::data)?;
        progress.finish();
        tracing::info!(
            "wrote {} relaxation, {} indentation and {} thermal files ({:.1} MB) to {}",
            summary.relaxation_files,
            summary.indentation_files,
            summary.thermal_files,
            summary.bytes as f64 / 1e6,
            args.out_dir.display()
        );
        Ok(())
    })
}
