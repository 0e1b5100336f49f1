//! agingflow-report: the thin binary over the `report` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use stage_cli::{CommonArgs, StageError};

/// The paper's figures for this campaign, in one self-contained page.
///
/// Writes REPORT_DIR/index.html (figures inline as SVG, no script, no network: relaxation curves
/// with their KWW fits, beta and tau against aging time with the two-stage law, tau_c
/// distributions, mean tau_c and FWHM, E_a with the beta-relaxation band, the model scenarios, a
/// table of every fit with flags highlighted, provenance), summary.json, summary.md, and each
/// figure as figures/NAME.svg and .png. Any input may be absent: the page says what is missing.
/// Every input may be given several times (the tables of several campaigns, from a pipeline's
/// `foreach`): the rows of all files are read, in the order given.
#[derive(Parser, Debug)]
#[command(name = "agingflow-report", version)]
struct Args {
    /// Input: kww_fits
    #[arg(long, value_name = "PATH")]
    kww_fits: Vec<PathBuf>,
    /// Input: aging_law
    #[arg(long, value_name = "PATH")]
    aging_law: Vec<PathBuf>,
    /// Input: relaxation_clean
    #[arg(long, value_name = "PATH")]
    relaxation_clean: Vec<PathBuf>,
    /// Input: indentation_raw (the P-h curves for Fig. 2a)
    #[arg(long, value_name = "PATH")]
    indentation_raw: Vec<PathBuf>,
    /// Input: indents
    #[arg(long, value_name = "PATH")]
    indents: Vec<PathBuf>,
    /// Input: tau_c_stats
    #[arg(long, value_name = "PATH")]
    tau_c_stats: Vec<PathBuf>,
    /// Input: activation_energy
    #[arg(long, value_name = "PATH")]
    activation_energy: Vec<PathBuf>,
    /// Input: model_curves
    #[arg(long, value_name = "PATH")]
    model_curves: Vec<PathBuf>,
    /// Input: model_fits
    #[arg(long, value_name = "PATH")]
    model_fits: Vec<PathBuf>,
    /// Input: transitions (the thermal stage: T_g, alpha and beta peaks)
    #[arg(long, value_name = "PATH")]
    transitions: Vec<PathBuf>,
    /// Input: dma_sweeps (E''/E''_max curves for Fig. 3b)
    #[arg(long, value_name = "PATH")]
    dma_sweeps: Vec<PathBuf>,
    /// Input: relaxation_tests (clean's row per test: the tests dropped before the fit are listed)
    #[arg(long, value_name = "PATH")]
    relaxation_tests: Vec<PathBuf>,
    /// Input: dsc_raw (the DSC curves for Fig. S1)
    #[arg(long, value_name = "PATH")]
    dsc_raw: Vec<PathBuf>,
    /// Input: spectra (the measured D(ln tau) for Fig. 4a)
    #[arg(long, value_name = "PATH")]
    spectra: Vec<PathBuf>,
    /// Input: spectrum_moments (per curve centre and width)
    #[arg(long, value_name = "PATH")]
    spectrum_moments: Vec<PathBuf>,
    /// Input: spectrum_series (centre and width per aging time, KWW and scenarios, Fig. 4b)
    #[arg(long, value_name = "PATH")]
    spectrum_series: Vec<PathBuf>,
    /// The pipeline file, named in the provenance section
    #[arg(long, value_name = "PATH")]
    pipeline: Option<PathBuf>,
    /// The lock file, whose hash the provenance section shows (as it was when the report ran)
    #[arg(long, value_name = "PATH")]
    lock: Option<PathBuf>,
    /// Output: the report directory
    #[arg(long, value_name = "DIR")]
    report_dir: PathBuf,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let p = report::Params {
        kww_fits: a.kww_fits,
        aging_law: a.aging_law,
        relaxation_clean: a.relaxation_clean,
        indentation_raw: a.indentation_raw,
        indents: a.indents,
        tau_c_stats: a.tau_c_stats,
        activation_energy: a.activation_energy,
        model_curves: a.model_curves,
        model_fits: a.model_fits,
        transitions: a.transitions,
        dma_sweeps: a.dma_sweeps,
        dsc_raw: a.dsc_raw,
        relaxation_tests: a.relaxation_tests,
        spectra: a.spectra,
        spectrum_moments: a.spectrum_moments,
        spectrum_series: a.spectrum_series,
        pipeline: a.pipeline,
        lock: a.lock,
        report_dir: a.report_dir.clone(),
    };
    stage_cli::run(&a.common, || {
        let n = report::run(&p).map_err(StageError::data)?;
        tracing::info!(
            "{n} figures; open {}",
            a.report_dir.join("index.html").display()
        );
        Ok(())
    })
}
