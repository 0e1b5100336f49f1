//! agingflow-init (`agingflow init`): the thin binary over `ingest::init`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ingest::init::{InitError, InitOptions};
use stage_cli::{CommonArgs, StageError};

/// Scaffold a campaign from a folder of instrument files.
///
/// Sniffs every file under DIR (TA Universal Analysis, TRIOS text/LIMS/Excel/JSON, Hysitron,
/// Keysight G200 NanoSuite), tells relaxation tests, indents, DSC scans and DMA sweeps apart by
/// their signals, and writes a campaign manifest (DIR/campaign.yaml) and a pipeline file
/// (agingflow.yaml beside it). Material, temperature, aging time, series and strain come from the
/// first --pattern that matches a file's path (an indent's: or its folder's), else from the file
/// itself (its temperature signal, sample mass, ramp rate), else from --set. Every value still
/// unknown is written `null  # TODO`, so the manifest is refused until filled in. Indents of one
/// folder share a `files:` glob. Nothing existing is replaced without --force.
///
/// Example: agingflow init raw/ --pattern '{material}/{temperature_k}K_{aging_time_s}s'
///   --set strain=0.001 --set tip_radius_nm=360
#[derive(Parser, Debug)]
#[command(name = "agingflow-init", version)]
struct Args {
    /// The folder of instrument files
    dir: PathBuf,
    /// A file-name pattern, tried in order (repeatable), matched against the end of the path
    /// without extension. Fields: {material}, {series}, {id}, {temperature_k}, {temperature_c},
    /// {aging_time_s}, {aging_time_min}, {aging_time_h}, {aging_time_d}, {aging_time} (a number
    /// with its unit: 30min, 2h), {strain}, {strain_pct}, {tip_radius_nm}, {*}
    #[arg(long, value_name = "PATTERN")]
    pattern: Vec<String>,
    /// A value for every entry (`strain=0.001`, `tip_radius_nm=360` nm, `tg_k=680` K,
    /// `campaign=NAME`) or for one section (`dsc.mass_mg=10` mg,
    /// `dma_sweeps.heating_rate_k_min=3` K/min); repeatable
    #[arg(long, value_name = "KEY=VALUE", value_parser = setting)]
    set: Vec<(String, String)>,
    /// Where to write the manifest [default: DIR/campaign.yaml]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Where to write the pipeline file [default: agingflow.yaml beside the manifest]
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Replace an existing manifest or pipeline file
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    common: CommonArgs,
}

fn setting(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty())
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

fn main() -> ExitCode {
    let a = Args::parse();
    let opts = InitOptions {
        dir: a.dir,
        patterns: a.pattern,
        set: a.set,
        out: a.out,
        pipeline: a.pipeline,
        force: a.force,
    };
    stage_cli::run(&a.common, || {
        let s = ingest::init::run(&opts).map_err(|e| match e {
            InitError::Usage(_) => StageError::Usage(e.into()),
            _ => StageError::data(e),
        })?;
        println!(
            "wrote {} ({} relaxation, {} indentation, {} dsc, {} dma_sweeps entries; {} values to fill in, marked TODO) and {}",
            s.manifest.display(),
            s.relaxation,
            s.indentation,
            s.dsc,
            s.dma_sweeps,
            s.todo,
            s.pipeline.display()
        );
        for (f, why) in &s.skipped {
            println!("  not used: {f}: {why}");
        }
        Ok(())
    })
}
