//! agingflow-simulate: writes a synthetic aging campaign with known truth in real instrument
//! formats (TA Universal Analysis or TRIOS text for the DMA, Hysitron TriboScan text for the
//! indenter), its manifest (`campaign.yaml`) and `truth.json`. Byte-identical for a given spec and
//! seed, whatever the thread count: every file draws from its own random stream.

pub mod indentation;
pub mod relaxation;
pub mod thermal;

pub mod spec;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::spec::TruthSpec;
use rng::Rng;

mod truth;
mod validate;
pub use truth::*;
pub use validate::validate;

/// Why a campaign could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("{path}: {source}", path = .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}", path = .path.display())]
    Spec { path: PathBuf, message: String },
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
}

/// One file to write, with the parts of the spec it is made from.
#[derive(Debug, Clone)]
enum Job<'a> {
    Relax {
        m: &'a spec::MaterialSpec,
        r: &'a spec::RelaxationSpec,
        temperature_k: f64,
        aging_time_s: f64,
        replicate: usize,
        series: &'a spec::SeriesSpec,
    },
    Indent {
        m: &'a spec::MaterialSpec,
        i: &'a spec::IndentationSpec,
        g: &'a spec::GroupSpec,
        index: usize,
    },
    Dsc {
        m: &'a spec::MaterialSpec,
        d: &'a spec::DscSpec,
        scan: &'a spec::ScanSpec,
    },
    Dma {
        m: &'a spec::MaterialSpec,
        d: &'a spec::DmaSpec,
        scan: &'a spec::ScanSpec,
    },
}

fn num(x: f64) -> String {
    format!("{x}")
}

fn relax_rel(material: &str, series: Option<&str>, t: f64, ta: f64, replicate: usize) -> String {
    let r = if replicate > 0 {
        format!("_r{}", replicate + 1)
    } else {
        String::new()
    };
    let dir = match series {
        Some(s) => format!("{material}/{s}"),
        None => material.to_owned(),
    };
    format!("dma/{dir}/{}K_{}s{r}.txt", num(t), num(ta))
}

/// The formats the simulator writes DMA and DSC files in.
const TA_FORMATS: [&str; 4] = ["ta-universal", "trios-text", "trios-excel", "trios-json"];

/// A file's path for its format: `.xlsx` for TRIOS Excel, `.json` for TRIOS JSON.
fn with_extension(rel: String, format: &str) -> String {
    let ext = match format {
        "trios-excel" => "xlsx",
        "trios-json" => "json",
        _ => return rel,
    };
    match rel.strip_suffix(".txt") {
        Some(stem) => format!("{stem}.{ext}"),
        None => rel,
    }
}

/// A file's id: its path without the extension.
fn stem(rel: &str) -> String {
    rel.rsplit_once('.').map_or(rel, |(s, _)| s).to_owned()
}

/// A TRIOS file (text, Excel or JSON) with one step.
fn trios_file(format: &str, step: &formats::write::TriosStep) -> Vec<u8> {
    match format {
        "trios-excel" => formats::write::trios_excel(step),
        "trios-json" => formats::write::trios_json(step),
        _ => formats::write::trios_text(step),
    }
}

/// A thermal scan's path: `thermal/M/dsc_as-cast.txt`, or with its annealing,
/// `thermal/M/dsc_aged_633K_77400s.txt`, so `agingflow init` reads it off the name.
fn thermal_rel(material: &str, kind: &str, scan: &spec::ScanSpec) -> String {
    let anneal = match (scan.aging_temperature_k, scan.aging_time_s) {
        (Some(t), Some(ta)) => format!("_{}K_{}s", num(t), num(ta)),
        _ => String::new(),
    };
    with_extension(
        format!("thermal/{material}/{kind}_{}{anneal}.txt", scan.condition),
        &scan.format,
    )
}

fn group_dir(material: &str, t: f64, ta: f64) -> String {
    format!("indents/{material}/{}K_{}s", num(t), num(ta))
}

fn jobs(spec: &TruthSpec, scale: usize) -> Vec<Job<'_>> {
    let mut out = Vec::new();
    for m in &spec.materials {
        if let Some(r) = &m.relaxation {
            for s in &r.series {
                for &ta in &s.aging_times_s {
                    for replicate in 0..r.replicates * scale {
                        out.push(Job::Relax {
                            m,
                            r,
                            temperature_k: s.temperature_k,
                            aging_time_s: ta,
                            replicate,
                            series: s,
                        });
                    }
                }
            }
        }
        if let Some(i) = &m.indentation {
            for g in &i.groups {
                for index in 0..i.indents_per_group * scale {
                    out.push(Job::Indent { m, i, g, index });
                }
            }
        }
    }
    // Thermal scans come after every other file, so that adding them leaves the other files'
    // random streams (and bytes) as they were.
    for m in &spec.materials {
        if let Some(d) = &m.dsc {
            for scan in &d.scans {
                out.push(Job::Dsc { m, d, scan });
            }
        }
        if let Some(d) = &m.dma_sweeps {
            for scan in &d.scans {
                out.push(Job::Dma { m, d, scan });
            }
        }
    }
    out
}

enum Record {
    Relax(RelaxRecord),
    Indent(IndentRecord),
    Dsc(DscRecord),
    Dma(DmaRecord),
}

/// Generates one file: its path relative to the campaign, its bytes and its truth.
fn render(seed: u64, job: &Job, stream: u64) -> (String, Vec<u8>, Record) {
    let mut rng = Rng::new(seed, stream);
    match *job {
        Job::Relax {
            m,
            r,
            temperature_k,
            aging_time_s,
            replicate,
            series,
        } => {
            let format = series.format.as_str();
            let strain = series.strain.unwrap_or(r.strain);
            let (curve, truth) =
                relaxation::generate(r, strain, temperature_k, aging_time_s, &mut rng);
            let set = truth.settings;
            let rel = with_extension(
                relax_rel(
                    &m.name,
                    series.label.as_deref(),
                    temperature_k,
                    aging_time_s,
                    replicate,
                ),
                format,
            );
            let sample = format!("{}_{}K_{}s", m.name, num(temperature_k), num(aging_time_s));
            let bytes = if format == "ta-universal" {
                let row = |k: usize| {
                    vec![
                        curve.time_s[k] / 60.0,
                        curve.temperature_c[k],
                        curve.stress_mpa[k],
                        curve.strain_pct[k],
                        curve.modulus_mpa[k],
                    ]
                };
                let equil: Vec<Vec<f64>> = (0..curve.step_index).map(row).collect();
                let step: Vec<Vec<f64>> = (curve.step_index..curve.time_s.len()).map(row).collect();
                formats::write::ta_universal(
                    "DMA Q800 V21.3 Build 96",
                    &sample,
                    &[
                        "Time (min)",
                        "Temperature (°C)",
                        "Stress (MPa)",
                        "Strain (%)",
                        "Relaxation Modulus (MPa)",
                    ],
                    &[equil, step],
                )
            } else {
                let rows: Vec<Vec<f64>> = (0..curve.time_s.len())
                    .map(|k| {
                        vec![
                            curve.time_s[k],
                            curve.temperature_c[k],
                            curve.stress_mpa[k],
                            curve.strain_pct[k],
                            curve.modulus_mpa[k],
                        ]
                    })
                    .collect();
                trios_file(
                    format,
                    &formats::write::TriosStep {
                        instrument: "DMA 850",
                        sample: &sample,
                        step: "Stress Relaxation",
                        names: &["Step time", "Temperature", "Stress", "Strain", "Modulus"],
                        units: &["s", "°C", "MPa", "%", "MPa"],
                        rows: &rows,
                    },
                )
            };
            let id = stem(&rel);
            let rec = RelaxRecord {
                test_id: id,
                file: rel.clone(),
                format: format.to_owned(),
                material: m.name.clone(),
                tg_k: m.tg_k,
                temperature_k,
                aging_time_s,
                strain,
                beta: truth.beta,
                tau_s: truth.tau_s,
                ea_kj_mol: truth.ea_kj_mol,
                sigma0_mpa: truth.sigma0_mpa,
                amplitude: truth.amplitude,
                offset: truth.offset,
                step_end_s: truth.step_end_s,
                n_points: curve.time_s.len(),
                series: series.label.clone(),
                sampling_s: set.sampling_s,
                noise_mpa: set.noise_mpa,
                ramp_s: set.ramp_s,
                equilibration_s: set.equilibration_s,
                drift_mpa_per_h: set.drift_mpa_per_h,
            };
            (rel, bytes, Record::Relax(rec))
        }
        Job::Indent { m, i, g, index } => {
            let (curve, truth) = indentation::generate(i, g.tau_c_mean_gpa, g.tau_c_fwhm, &mut rng);
            let rel = format!(
                "{}/indent_{:04}.txt",
                group_dir(&m.name, i.temperature_k, g.aging_time_s),
                index + 1
            );
            let date = "Thu Jan 15 09:00:00 2026";
            let format = g.format.as_deref().unwrap_or(&i.format);
            let bytes = if format == "hysitron-classic" {
                let segs: Vec<Vec<[f64; 5]>> = curve
                    .segments
                    .iter()
                    .map(|s| {
                        s.iter()
                            .map(|r| [r[0], r[1], r[2], r[0] / 1000.0 + 0.5, r[1] / 2000.0 + 0.48])
                            .collect()
                    })
                    .collect();
                formats::write::hysitron_classic(date, &segs)
            } else {
                let rows: Vec<[f64; 3]> = curve.segments.iter().flatten().copied().collect();
                formats::write::hysitron_ti990(date, &rows)
            };
            let rec = IndentRecord {
                indent_id: rel.trim_end_matches(".txt").to_owned(),
                file: rel.clone(),
                format: format.to_owned(),
                material: m.name.clone(),
                temperature_k: i.temperature_k,
                aging_time_s: g.aging_time_s,
                tip_radius_nm: i.tip_radius_nm,
                er_gpa: truth.er_gpa,
                h0_nm: truth.h0_nm,
                popin: truth.popin_load_un.is_some(),
                popin_load_un: truth.popin_load_un,
                popin_depth_nm: truth.popin_depth_nm,
                burst_nm: truth.burst_nm,
                tau_c_gpa: truth
                    .popin_load_un
                    .map(|p| physics::indentation::tau_c_gpa(truth.er_gpa, p, i.tip_radius_nm)),
                n_points: curve.segments.iter().map(Vec::len).sum(),
                segment_points: curve.segments.iter().map(Vec::len).collect(),
            };
            (rel, bytes, Record::Indent(rec))
        }
        Job::Dsc { m, d, scan } => {
            let (curve, truth) = thermal::dsc(d, scan, m.tg_k, &mut rng);
            let rel = thermal_rel(&m.name, "dsc", scan);
            let bytes = thermal_file(
                &curve,
                &format!("{} {}", m.name, scan.condition),
                &scan.format,
                (d.start_k, d.end_k, d.heating_rate_k_min),
                &DSC_LAYOUT,
            );
            let rec = DscRecord {
                scan_id: stem(&rel),
                file: rel.clone(),
                format: scan.format.clone(),
                material: m.name.clone(),
                condition: scan.condition.clone(),
                aging_time_s: scan.aging_time_s,
                truth,
            };
            (rel, bytes, Record::Dsc(rec))
        }
        Job::Dma { m, d, scan } => {
            let (curve, truth) = thermal::dma(d, scan, &mut rng);
            let rel = thermal_rel(&m.name, "dma", scan);
            let bytes = thermal_file(
                &curve,
                &format!("{} {}", m.name, scan.condition),
                &scan.format,
                (d.start_k, d.end_k, d.heating_rate_k_min),
                &DMA_LAYOUT,
            );
            let rec = DmaRecord {
                scan_id: stem(&rel),
                file: rel.clone(),
                format: scan.format.clone(),
                material: m.name.clone(),
                condition: scan.condition.clone(),
                aging_time_s: scan.aging_time_s,
                beta_energy_kj_mol: d.beta_energy_kj_mol,
                frequencies: truth,
            };
            (rel, bytes, Record::Dma(rec))
        }
    }
}

/// How a thermal scan is written in each export: (instrument, module or step, column names and,
/// for TRIOS, units). Rows are time, temperature in °C, then the scan's values in order.
struct ThermalLayout {
    ua_instrument: &'static str,
    ua_module: &'static str,
    ua_signals: &'static [&'static str],
    trios_instrument: &'static str,
    trios_step: &'static str,
    trios_names: &'static [&'static str],
    trios_units: &'static [&'static str],
}

const DSC_LAYOUT: ThermalLayout = ThermalLayout {
    ua_instrument: "DSC Q2000 V24.11 Build 124",
    ua_module: "DSC Standard Cell RC",
    ua_signals: &["Time (min)", "Temperature (°C)", "Heat Flow (W/g)"],
    trios_instrument: "DSC 2500",
    trios_step: "Ramp",
    trios_names: &["Time", "Temperature", "Heat Flow (Normalized)"],
    trios_units: &["s", "°C", "W/g"],
};

const DMA_LAYOUT: ThermalLayout = ThermalLayout {
    ua_instrument: "DMA Q800 V21.3 Build 96",
    ua_module: "DMA Multi-Frequency",
    ua_signals: &[
        "Time (min)",
        "Temperature (°C)",
        "Frequency (Hz)",
        "Storage Modulus (MPa)",
        "Loss Modulus (MPa)",
        "Tan Delta",
    ],
    trios_instrument: "DMA 850",
    trios_step: "Temperature Ramp",
    trios_names: &[
        "Step time",
        "Temperature",
        "Frequency",
        "Storage modulus",
        "Loss modulus",
        "Tan(delta)",
    ],
    trios_units: &["s", "°C", "Hz", "MPa", "MPa", ""],
};

/// A thermal scan's file in `format` (`ta-universal`: time in min; `trios-text`: in s);
/// `ramp` is (start K, end K, K/min) for the method lines.
fn thermal_file(
    curve: &thermal::Scan,
    sample: &str,
    format: &str,
    ramp: (f64, f64, f64),
    layout: &ThermalLayout,
) -> Vec<u8> {
    let ua = format == "ta-universal";
    let rows: Vec<Vec<f64>> = (0..curve.time_s.len())
        .map(|k| {
            let time = if ua {
                curve.time_s[k] / 60.0
            } else {
                curve.time_s[k]
            };
            [time, curve.temperature_k[k] - 273.15]
                .into_iter()
                .chain(curve.values[k].iter().copied())
                .collect()
        })
        .collect();
    if ua {
        let (start, end, rate) = ramp;
        formats::write::ta_universal_module(
            layout.ua_instrument,
            layout.ua_module,
            &[
                &format!("1: Equilibrate at {:.2} °C", start - 273.15),
                &format!("2: Ramp {rate:.2} °C/min to {:.2} °C", end - 273.15),
            ],
            sample,
            layout.ua_signals,
            &[rows],
        )
    } else {
        trios_file(
            format,
            &formats::write::TriosStep {
                instrument: layout.trios_instrument,
                sample,
                step: layout.trios_step,
                names: layout.trios_names,
                units: layout.trios_units,
                rows: &rows,
            },
        )
    }
}

/// The manifest of the campaign written from the spec.
fn manifest(spec: &TruthSpec, truth: &Truth) -> campaign::Manifest {
    let materials = spec
        .materials
        .iter()
        .map(|m| {
            (
                m.name.clone(),
                campaign::Material {
                    tg_k: (!m.tg_from_dsc).then_some(m.tg_k),
                    kind: m.kind.clone(),
                },
            )
        })
        .collect::<BTreeMap<_, _>>();
    let relaxation = truth
        .relaxation
        .iter()
        .map(|r| campaign::Entry {
            file: Some(r.file.clone()),
            material: r.material.clone(),
            temperature_k: Some(r.temperature_k),
            aging_time_s: Some(r.aging_time_s),
            strain: Some(r.strain),
            series: r.series.clone(),
            ..Default::default()
        })
        .collect();
    let mut indentation = Vec::new();
    for m in &spec.materials {
        if let Some(i) = &m.indentation {
            for g in &i.groups {
                indentation.push(campaign::Entry {
                    files: Some(format!(
                        "{}/*.txt",
                        group_dir(&m.name, i.temperature_k, g.aging_time_s)
                    )),
                    material: m.name.clone(),
                    temperature_k: Some(i.temperature_k),
                    aging_time_s: Some(g.aging_time_s),
                    tip_radius_nm: Some(i.tip_radius_nm),
                    ..Default::default()
                });
            }
        }
    }
    let scan_entry =
        |m: &spec::MaterialSpec, rel: String, scan: &spec::ScanSpec, rate: f64| campaign::Entry {
            file: Some(rel),
            material: m.name.clone(),
            series: Some(scan.condition.clone()),
            aging_time_s: scan.aging_time_s,
            temperature_k: scan.aging_temperature_k,
            heating_rate_k_min: Some(rate),
            ..Default::default()
        };
    let (mut dsc, mut dma_sweeps) = (Vec::new(), Vec::new());
    for m in &spec.materials {
        if let Some(d) = &m.dsc {
            for scan in &d.scans {
                dsc.push(campaign::Entry {
                    mass_mg: Some(d.mass_mg),
                    ..scan_entry(
                        m,
                        thermal_rel(&m.name, "dsc", scan),
                        scan,
                        d.heating_rate_k_min,
                    )
                });
            }
        }
        if let Some(d) = &m.dma_sweeps {
            for scan in &d.scans {
                dma_sweeps.push(scan_entry(
                    m,
                    thermal_rel(&m.name, "dma", scan),
                    scan,
                    d.heating_rate_k_min,
                ));
            }
        }
    }
    campaign::Manifest {
        campaign: spec.campaign.clone(),
        materials,
        relaxation,
        indentation,
        dsc,
        dma_sweeps,
    }
}

/// Reads a truth spec file.
pub fn read_spec(path: &Path) -> Result<TruthSpec, SimulateError> {
    let bytes = guard::read_input(path, "the truth spec")?;
    let text = String::from_utf8(bytes).map_err(|_| SimulateError::Spec {
        path: path.to_owned(),
        message: "not UTF-8 text".into(),
    })?;
    let spec: TruthSpec = serde_yaml::from_str(&text).map_err(|e| SimulateError::Spec {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    validate(&spec).map_err(|message| SimulateError::Spec {
        path: path.to_owned(),
        message,
    })?;
    Ok(spec)
}

/// How the simulator's campaign.yaml begins: what lets it replace one.
const SIMULATED_HEADER: &str = "# Written by agingflow-simulate";

/// Writes the campaign of `spec` into `out_dir`: raw files, `campaign.yaml`, `truth.json`.
/// `scale` multiplies replicates and indents per group (for benchmarks). The raw files go to the
/// folders `dma/` and `indents/`, each built beside its target and moved into place whole; an
/// earlier simulated campaign's folders are replaced, a folder agingflow did not write is refused
/// (see the `guard` crate).
pub fn simulate(
    spec: &TruthSpec,
    out_dir: &Path,
    scale: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Summary, SimulateError> {
    let scale = scale.max(1);
    // campaign.yaml and truth.json are replaced only when an earlier simulation wrote them.
    for (name, ours) in [
        (
            "campaign.yaml",
            (|t: &str| t.starts_with(SIMULATED_HEADER)) as fn(&str) -> bool,
        ),
        ("truth.json", |t: &str| {
            serde_json::from_str::<serde_json::Value>(t)
                .is_ok_and(|v| v.get("seed").is_some() && v.get("relaxation").is_some())
        }),
    ] {
        let path = out_dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok()
            && !std::fs::read_to_string(&path).is_ok_and(|t| ours(&t))
        {
            return Err(SimulateError::Spec {
                path,
                message: "exists and was not written by agingflow-simulate: refusing to replace it; choose another --out-dir".into(),
            });
        }
    }
    guard::create_dirs(out_dir)?;
    let has_thermal = spec
        .materials
        .iter()
        .any(|m| m.dsc.is_some() || m.dma_sweeps.is_some());
    let subs: &[&str] = if has_thermal {
        &["dma", "indents", "thermal"]
    } else {
        &["dma", "indents"]
    };
    let staged: Vec<(&str, guard::StagedDir)> = subs
        .iter()
        .copied()
        .map(|sub| Ok((sub, guard::StagedDir::create(&out_dir.join(sub))?)))
        .collect::<Result<_, SimulateError>>()?;
    let jobs = jobs(spec, scale);
    let results: Vec<Result<(Record, u64), SimulateError>> = jobs
        .par_iter()
        .enumerate()
        .map(|(k, job)| {
            let (rel, bytes, rec) = render(spec.seed, job, k as u64);
            let rel = Path::new(&rel);
            match staged.iter().find(|(sub, _)| rel.starts_with(sub)) {
                Some((sub, dir)) => dir.write(rel.strip_prefix(sub).unwrap_or(rel), &bytes)?,
                // Every raw file lies in one of the staged folders.
                None => {
                    return Err(SimulateError::Spec {
                        path: rel.to_owned(),
                        message: "internal error: a raw file outside dma/, indents/ and thermal/"
                            .into(),
                    });
                }
            }
            progress(1);
            Ok((rec, bytes.len() as u64))
        })
        .collect();
    let mut truth = Truth {
        campaign: spec.campaign.clone(),
        seed: spec.seed,
        scale,
        aging_law: vec![],
        relaxation: vec![],
        tau_c_groups: vec![],
        indentation: vec![],
        dsc: vec![],
        dma_sweeps: vec![],
    };
    let mut bytes = 0;
    for r in results {
        let (rec, n) = r?;
        bytes += n;
        match rec {
            Record::Relax(r) => truth.relaxation.push(r),
            Record::Indent(i) => truth.indentation.push(i),
            Record::Dsc(d) => truth.dsc.push(d),
            Record::Dma(d) => truth.dma_sweeps.push(d),
        }
    }
    for m in &spec.materials {
        if let Some(r) = &m.relaxation {
            let (tp, bmax) = r
                .beta
                .iter()
                .fold((f64::NAN, f64::NEG_INFINITY), |a, (t, b)| {
                    if *b > a.1 { (*t, *b) } else { a }
                });
            for s in &r.series {
                truth.aging_law.push(LawRecord {
                    material: m.name.clone(),
                    series: s.label.clone(),
                    strain: s.strain.unwrap_or(r.strain),
                    temperature_k: s.temperature_k,
                    breakpoint_s: r.tau.breakpoint_s,
                    mu1: r.tau.mu1,
                    mu2: r.tau.mu2,
                    beta_turning_point_s: tp,
                    beta_max: bmax,
                });
            }
        }
        if let Some(i) = &m.indentation {
            for g in &i.groups {
                truth.tau_c_groups.push(GroupRecord {
                    material: m.name.clone(),
                    temperature_k: i.temperature_k,
                    aging_time_s: g.aging_time_s,
                    tau_c_mean_gpa: g.tau_c_mean_gpa,
                    tau_c_fwhm: g.tau_c_fwhm,
                    n_indents: i.indents_per_group * scale,
                });
            }
        }
    }
    let manifest = manifest(spec, &truth);
    let yaml = serde_yaml::to_string(&manifest).map_err(|e| SimulateError::Spec {
        path: out_dir.join("campaign.yaml"),
        message: e.to_string(),
    })?;
    let header = format!(
        "{SIMULATED_HEADER} from a truth spec (seed {}); the truth is in truth.json.\n",
        spec.seed
    );
    for (_, dir) in staged {
        dir.commit()?;
    }
    guard::write_file(
        &out_dir.join("campaign.yaml"),
        format!("{header}{yaml}").as_bytes(),
    )?;
    let json = serde_json::to_string_pretty(&truth).map_err(|e| SimulateError::Spec {
        path: out_dir.join("truth.json"),
        message: e.to_string(),
    })?;
    guard::write_file(&out_dir.join("truth.json"), format!("{json}\n").as_bytes())?;
    Ok(Summary {
        relaxation_files: truth.relaxation.len(),
        indentation_files: truth.indentation.len(),
        thermal_files: truth.dsc.len() + truth.dma_sweeps.len(),
        bytes,
    })
}
