//! From a parsed instrument file to one curve of a raw table: columns found by name, units
//! converted (time to s, stress to MPa, temperature to K, strain to a fraction, depth to nm, load
//! to µN). Pure: no I/O.

use campaign::{FileFormat, Item};
use formats::cell::{Quantity, conversion, split_unit};
use formats::{Block, Column, Format, FormatError, Parsed};
use tables::{IndentationRaw, RelaxationRaw};

/// Names each signal may go by, most specific first.
const TIME: &[&str] = &["Time", "Step time", "Run time", "Time_s", "t"];
const STRESS: &[&str] = &["Stress", "Stress (step)", "Sigma"];
const TEMPERATURE: &[&str] = &["Temperature", "Temp"];
const STRAIN: &[&str] = &["Strain", "Strain (step)"];
const DEPTH: &[&str] = &["Depth", "Disp", "Displacement", "Displacement Into Surface"];
const LOAD: &[&str] = &["Load", "Force", "Load On Sample"];

/// The format a manifest entry asks for, or None for sniffing.
pub fn declared_format(f: FileFormat) -> Option<Format> {
    match f {
        FileFormat::Auto => None,
        FileFormat::TaUniversal => Some(Format::TaUniversal),
        FileFormat::TriosText => Some(Format::TriosText),
        FileFormat::HysitronTxt => Some(Format::HysitronTxt),
        FileFormat::HysitronHld => Some(Format::HysitronHld),
        FileFormat::Csv => Some(Format::Csv),
    }
}

/// A signal's values in canonical units, or None when the block has no such column.
fn signal(
    block: &Block,
    item: &Item,
    key: &str,
    names: &[&str],
    q: Quantity,
) -> Result<Option<Vec<Option<f64>>>, FormatError> {
    let column: Option<&Column> = match item.columns.get(key) {
        Some(mapped) => {
            let (name, _) = split_unit(mapped);
            let found = block.find(&[&name]);
            if found.is_none() {
                let have: Vec<&str> = block.columns.iter().map(|c| c.name.as_str()).collect();
                return Err(FormatError::file(format!(
                    "the manifest maps {key} to column `{mapped}`, which the file does not have (columns: {})",
                    have.join(", ")
                )));
            }
            found
        }
        None if item.format == FileFormat::Csv => None,
        None => block.find(names),
    };
    let Some(col) = column else { return Ok(None) };
    let unit = match item.columns.get(key) {
        Some(mapped) if col.unit.is_empty() => split_unit(mapped).1,
        _ => col.unit.clone(),
    };
    let (factor, offset) = conversion(q, &unit).ok_or_else(|| {
        FormatError::file(format!(
            "column `{}` has unit `{unit}`, which agingflow cannot convert to {}",
            col.name,
            canonical(q)
        ))
    })?;
    Ok(Some(
        col.values
            .iter()
            .map(|v| v.map(|x| x * factor + offset))
            .collect(),
    ))
}

fn canonical(q: Quantity) -> &'static str {
    match q {
        Quantity::Time => "s",
        Quantity::Stress => "MPa",
        Quantity::Temperature => "K",
        Quantity::Strain => "a fraction",
        Quantity::Depth => "nm",
        Quantity::Load => "µN",
    }
}

fn columns_of(block: &Block) -> String {
    block
        .columns
        .iter()
        .map(|c| {
            if c.unit.is_empty() {
                c.name.clone()
            } else {
                format!("{} ({})", c.name, c.unit)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What extraction found worth a warning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notes {
    /// Rows dropped because a needed value was missing.
    pub dropped_rows: usize,
    /// Sentences for the log.
    pub warnings: Vec<String>,
}

/// How far (K) the measured temperature's median may lie from the manifest's before the test is
/// flagged `temperature_mismatch`: a DMA holds its set point within about 1 K, so 5 K is a
/// wrong entry or a wrong file, not control noise.
pub const TEMPERATURE_TOLERANCE_K: f64 = 5.0;

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// The unit a signal's column declares (in the file or in the manifest's `columns:`), when found.
fn declared_unit(block: &Block, item: &Item, key: &str, names: &[&str]) -> Option<String> {
    let col = match item.columns.get(key) {
        Some(mapped) => block.find(&[&split_unit(mapped).0])?,
        None => block.find(names)?,
    };
    Some(match item.columns.get(key) {
        Some(mapped) if col.unit.is_empty() => split_unit(mapped).1,
        _ => col.unit.clone(),
    })
}

/// Checks the measured temperature: a column without a unit is read as kelvin or Celsius,
/// whichever lies nearer the manifest's temperature (flagged either way), and a median far from
/// the manifest's temperature is flagged.
fn check_temperature(curve: &mut RelaxationRaw, unitless: bool, notes: &mut Notes) {
    let mut flags: Vec<&str> = Vec::new();
    let mut v: Vec<f64> = curve
        .temperature_meas_k
        .iter()
        .flatten()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    let Some(mut med) = median(&mut v) else {
        return;
    };
    let t = curve.temperature_k;
    if unitless {
        if (med + 273.15 - t).abs() < (med - t).abs() {
            for x in curve.temperature_meas_k.iter_mut().flatten() {
                *x += 273.15;
            }
            med += 273.15;
            flags.push("temperature_unit_assumed_c");
            notes.warnings.push("the temperature column has no unit: read as °C, which lies nearer the manifest's temperature than kelvin".into());
        } else {
            flags.push("temperature_unit_assumed_k");
            notes
                .warnings
                .push("the temperature column has no unit: read as kelvin".into());
        }
    }
    if (med - t).abs() > TEMPERATURE_TOLERANCE_K {
        flags.push("temperature_mismatch");
        notes.warnings.push(format!(
            "the measured temperature (median {med:.1} K) differs from the manifest's {t} K by {:.1} K (tolerance {TEMPERATURE_TOLERANCE_K} K): check the entry",
            (med - t).abs()
        ));
    }
    curve.flags = flags.join(",");
}

/// The relaxation curve of one test.
pub fn relaxation(item: &Item, parsed: &Parsed) -> Result<(RelaxationRaw, Notes), FormatError> {
    let mut curve = RelaxationRaw {
        test_id: item.id.clone(),
        material: item.material.clone(),
        tg_k: item.tg_k,
        temperature_k: item.temperature_k,
        aging_time_s: item.aging_time_s,
        strain: item.strain,
        series: item.series.clone(),
        source_file: item.rel.clone(),
        ..Default::default()
    };
    let mut notes = Notes::default();
    let mut any_stress = false;
    for block in &parsed.blocks {
        let Some(stress) = signal(block, item, "stress", STRESS, Quantity::Stress)? else {
            continue;
        };
        any_stress = true;
        let time = signal(block, item, "time", TIME, Quantity::Time)?.ok_or_else(|| {
            FormatError::file(format!(
                "no time signal (a column named {}); columns: {}",
                TIME.join(", "),
                columns_of(block)
            ))
        })?;
        let temp = signal(
            block,
            item,
            "temperature",
            TEMPERATURE,
            Quantity::Temperature,
        )?;
        let strain = signal(block, item, "strain", STRAIN, Quantity::Strain)?;
        for k in 0..time.len() {
            let Some(t) = time[k] else {
                notes.dropped_rows += 1;
                continue;
            };
            curve.time_s.push(t);
            curve.stress_mpa.push(stress[k]);
            curve
                .temperature_meas_k
                .push(temp.as_ref().and_then(|v| v[k]));
            curve.strain_meas.push(strain.as_ref().and_then(|v| v[k]));
        }
    }
    if !any_stress {
        let cols = parsed.blocks.first().map(columns_of).unwrap_or_default();
        return Err(FormatError::file(format!(
            "no stress signal (a column named {}); columns: {cols}",
            STRESS.join(", ")
        )));
    }
    if curve.time_s.is_empty() {
        return Err(FormatError::file("no row with a time value"));
    }
    if curve.strain.is_none() {
        curve.strain = applied_strain(&curve.strain_meas);
    }
    let unitless = parsed.blocks.iter().any(|b| {
        declared_unit(b, item, "temperature", TEMPERATURE).is_some_and(|u| u.trim().is_empty())
    });
    check_temperature(&mut curve, unitless, &mut notes);
    Ok((curve, notes))
}

/// The applied step strain read off a strain signal: the median of the top decile.
fn applied_strain(strain: &[Option<f64>]) -> Option<f64> {
    let mut v: Vec<f64> = strain
        .iter()
        .flatten()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let top = &v[v.len() * 9 / 10..];
    let s = top[top.len() / 2];
    (s > 0.0).then_some(s)
}

/// The load-displacement curve of one indent.
pub fn indentation(item: &Item, parsed: &Parsed) -> Result<(IndentationRaw, Notes), FormatError> {
    let block = if parsed.format == Format::HysitronHld {
        parsed
            .blocks
            .iter()
            .find(|b| b.name == "Test")
            .ok_or_else(|| FormatError::file("no `Test Data Points` block"))?
    } else {
        parsed
            .blocks
            .first()
            .ok_or_else(|| FormatError::file("no data"))?
    };
    let depth = signal(block, item, "depth", DEPTH, Quantity::Depth)?.ok_or_else(|| {
        FormatError::file(format!(
            "no depth signal (a column named {}); columns: {}",
            DEPTH.join(", "),
            columns_of(block)
        ))
    })?;
    let load = signal(block, item, "load", LOAD, Quantity::Load)?.ok_or_else(|| {
        FormatError::file(format!(
            "no load signal (a column named {}); columns: {}",
            LOAD.join(", "),
            columns_of(block)
        ))
    })?;
    let time = signal(block, item, "time", TIME, Quantity::Time)?;
    let mut curve = IndentationRaw {
        indent_id: item.id.clone(),
        material: item.material.clone(),
        temperature_k: item.temperature_k,
        aging_time_s: item.aging_time_s,
        tip_radius_nm: item.tip_radius_nm.unwrap_or(f64::NAN),
        source_file: item.rel.clone(),
        ..Default::default()
    };
    let mut notes = Notes::default();
    for k in 0..depth.len() {
        let (Some(d), Some(p)) = (depth[k], load[k]) else {
            notes.dropped_rows += 1;
            continue;
        };
        curve
            .segment
            .push(i64::from(block.segment.get(k).copied().unwrap_or(0)));
        curve
            .time_s
            .push(time.as_ref().and_then(|t| t[k]).unwrap_or(f64::NAN));
        curve.depth_nm.push(d);
        curve.load_un.push(p);
    }
    if curve.depth_nm.is_empty() {
        return Err(FormatError::file("no row with both depth and load"));
    }
    Ok((curve, notes))
}
