//! From a parsed instrument file to one curve of a raw table: columns found by name, units
//! converted (time to s, stress to MPa, temperature to K, strain to a fraction, depth to nm, load
//! to µN). Pure: no I/O.

use campaign::{FileFormat, Item};
use formats::cell::{Quantity, conversion, split_unit};
use formats::{Block, Column, Format, FormatError, Parsed};
use tables::{DmaSweepRaw, DscRaw, IndentationRaw, RelaxationRaw};

/// Names each signal may go by, most specific first.
pub(crate) const TIME: &[&str] = &[
    "Time",
    "Step time",
    "Run time",
    "Time_s",
    "t",
    "Time On Sample",
];
pub(crate) const STRESS: &[&str] = &["Stress", "Stress (step)", "Sigma"];
/// A relaxation modulus column, read when a file has no stress.
pub(crate) const MODULUS: &[&str] = &[
    "Relaxation Modulus",
    "Relaxation modulus E(t)",
    "Relaxation modulus G(t)",
    "Modulus",
    "E(t)",
    "G(t)",
];
pub(crate) const TEMPERATURE: &[&str] = &["Temperature", "Temp"];
pub(crate) const STRAIN: &[&str] = &["Strain", "Strain (step)"];
pub(crate) const DEPTH: &[&str] = &["Depth", "Disp", "Displacement", "Displacement Into Surface"];
pub(crate) const LOAD: &[&str] = &["Load", "Force", "Load On Sample"];
pub(crate) const HEAT_FLOW: &[&str] = &[
    "Heat Flow (Normalized)",
    "Normalized Heat Flow",
    "Heat Flow",
    "HeatFlow",
];
pub(crate) const STORAGE: &[&str] = &["Storage Modulus", "E'", "Storage modulus E'"];
pub(crate) const LOSS: &[&str] = &["Loss Modulus", "E''", "Loss modulus E''"];
pub(crate) const TAN_DELTA: &[&str] = &["Tan Delta", "Tan(delta)", "tan δ", "Tan δ"];
pub(crate) const FREQUENCY: &[&str] = &["Frequency", "Freq", "Oscillation frequency"];

/// The format a manifest entry asks for, or None for sniffing.
pub fn declared_format(f: FileFormat) -> Option<Format> {
    match f {
        FileFormat::Auto => None,
        FileFormat::TaUniversal => Some(Format::TaUniversal),
        FileFormat::TriosText => Some(Format::TriosText),
        FileFormat::HysitronTxt => Some(Format::HysitronTxt),
        FileFormat::HysitronHld => Some(Format::HysitronHld),
        FileFormat::KeysightXls => Some(Format::KeysightXls),
        FileFormat::TriosExcel => Some(Format::TriosExcel),
        FileFormat::TriosJson => Some(Format::TriosJson),
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
        Quantity::Modulus => "MPa",
        Quantity::Frequency => "Hz",
        Quantity::HeatFlowPerMass => "W/g",
        Quantity::Power => "W",
        Quantity::Ratio => "a ratio",
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
        step_s: item.step_s,
        ..Default::default()
    };
    let mut notes = Notes::default();
    let mut any_stress = false;
    let mut from_modulus = false;
    for block in &parsed.blocks {
        let stress = match signal(block, item, "stress", STRESS, Quantity::Stress)? {
            Some(s) => s,
            None => match signal(block, item, "modulus", MODULUS, Quantity::Modulus)? {
                // A relaxation modulus E(t) or G(t): stress = modulus x strain, so phi is the
                // same; without a strain the modulus stands in (phi still the same).
                Some(m) => {
                    from_modulus = true;
                    let strain = item.strain.unwrap_or(1.0);
                    m.iter().map(|v| v.map(|x| x * strain)).collect()
                }
                None => continue,
            },
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
            "no stress signal (a column named {}) nor a relaxation modulus (named {}); columns: {cols}",
            STRESS.join(", "),
            MODULUS.join(", ")
        )));
    }
    if from_modulus {
        notes.warnings.push(if item.strain.is_some() {
            "no stress column: the relaxation modulus times the manifest's strain is the stress".into()
        } else {
            "no stress column and no strain: the relaxation modulus (MPa) stands for the stress; phi is the same".into()
        });
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
    if from_modulus {
        tables::add_flag(&mut curve.flags, "stress_from_modulus");
    }
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

/// The load-displacement curves of a file: one, or one per `Test NNN` sheet of a G200 workbook
/// (ids `ITEM/test-001`, ...; a sheet that fails names itself).
pub fn indentation(
    item: &Item,
    parsed: &Parsed,
) -> Result<(Vec<IndentationRaw>, Notes), FormatError> {
    if parsed.format != Format::KeysightXls {
        let block = indent_block(parsed)?;
        return indent_curve(item, block, item.id.clone()).map(|(c, n)| (vec![c], n));
    }
    let mut curves = Vec::with_capacity(parsed.blocks.len());
    let mut notes = Notes::default();
    for block in &parsed.blocks {
        let id = format!(
            "{}/{}",
            item.id,
            block.name.to_lowercase().replace(' ', "-")
        );
        let (c, n) = indent_curve(item, block, id).map_err(|e| FormatError {
            line: e.line,
            message: format!("sheet `{}`: {}", block.name, e.message),
        })?;
        notes.dropped_rows += n.dropped_rows;
        notes.warnings.extend(n.warnings);
        curves.push(c);
    }
    curves.sort_by(|a, b| a.indent_id.cmp(&b.indent_id));
    Ok((curves, notes))
}

fn indent_block(parsed: &Parsed) -> Result<&Block, FormatError> {
    if parsed.format == Format::HysitronHld {
        parsed
            .blocks
            .iter()
            .find(|b| b.name == "Test")
            .ok_or_else(|| FormatError::file("no `Test Data Points` block"))
    } else {
        parsed
            .blocks
            .first()
            .ok_or_else(|| FormatError::file("no data"))
    }
}

/// The load-displacement curve of one indent from its block.
fn indent_curve(
    item: &Item,
    block: &Block,
    indent_id: String,
) -> Result<(IndentationRaw, Notes), FormatError> {
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
        indent_id,
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

fn scan_kind(item: &Item) -> &'static str {
    match item.kind {
        campaign::Kind::Dsc => "DSC scan",
        _ => "DMA temperature sweep",
    }
}

/// A needed signal of a thermal scan, or an error naming it and the file's columns.
fn needed(
    block: &Block,
    item: &Item,
    key: &str,
    names: &[&str],
    q: Quantity,
    what: &str,
) -> Result<Vec<Option<f64>>, FormatError> {
    signal(block, item, key, names, q)?.ok_or_else(|| {
        FormatError::file(format!(
            "no {what} signal (a column named {}), which a {} needs; columns: {}",
            names.join(", "),
            scan_kind(item),
            columns_of(block)
        ))
    })
}

/// The block of a thermal scan: the first with a temperature column.
fn thermal_block<'a>(item: &Item, parsed: &'a Parsed) -> Result<&'a Block, FormatError> {
    parsed
        .blocks
        .iter()
        .find(|b| {
            item.columns
                .get("temperature")
                .map(|m| b.find(&[&split_unit(m).0]).is_some())
                .unwrap_or_else(|| b.find(TEMPERATURE).is_some())
        })
        .ok_or_else(|| {
            let cols = parsed.blocks.first().map(columns_of).unwrap_or_default();
            FormatError::file(format!(
                "no temperature signal (a column named {}), which a {} needs; columns: {cols}",
                TEMPERATURE.join(", "),
                scan_kind(item)
            ))
        })
}

/// A temperature column without a unit is read as °C (what TA software writes), flagged.
fn thermal_temperature(
    block: &Block,
    item: &Item,
    flags: &mut Vec<&'static str>,
    notes: &mut Notes,
) -> Result<Vec<Option<f64>>, FormatError> {
    let mut t = needed(
        block,
        item,
        "temperature",
        TEMPERATURE,
        Quantity::Temperature,
        "temperature",
    )?;
    if declared_unit(block, item, "temperature", TEMPERATURE).is_some_and(|u| u.trim().is_empty()) {
        for x in t.iter_mut().flatten() {
            *x += 273.15;
        }
        flags.push("temperature_unit_assumed_c");
        notes
            .warnings
            .push("the temperature column has no unit: read as °C".into());
    }
    Ok(t)
}

/// One DSC scan.
pub fn dsc(item: &Item, parsed: &Parsed) -> Result<(DscRaw, Notes), FormatError> {
    let info = item.thermal.clone().unwrap_or_default();
    let block = thermal_block(item, parsed)?;
    let mut notes = Notes::default();
    let mut flags = Vec::new();
    let temp = thermal_temperature(block, item, &mut flags, &mut notes)?;
    let time = signal(block, item, "time", TIME, Quantity::Time)?;
    let unit = declared_unit(block, item, "heat_flow", HEAT_FLOW).ok_or_else(|| {
        FormatError::file(format!(
            "no heat flow signal (a column named {}), which a DSC scan needs; columns: {}",
            HEAT_FLOW.join(", "),
            columns_of(block)
        ))
    })?;
    // W/g as written, or a power (mW) normalised by the manifest's mass.
    let per_mass = conversion(Quantity::HeatFlowPerMass, &unit).is_some();
    let (hf_g, hf_w) = if per_mass {
        let v = needed(
            block,
            item,
            "heat_flow",
            HEAT_FLOW,
            Quantity::HeatFlowPerMass,
            "heat flow",
        )?;
        (Some(v), None)
    } else {
        let w = needed(
            block,
            item,
            "heat_flow",
            HEAT_FLOW,
            Quantity::Power,
            "heat flow",
        )?;
        match info.mass_mg {
            Some(m) => (
                Some(w.iter().map(|v| v.map(|x| x / (m * 1e-3))).collect()),
                None,
            ),
            None => {
                flags.push("heat_flow_not_normalised");
                notes.warnings.push(format!(
                    "the heat flow is in {unit} and the entry gives no mass_mg: kept in W, not W/g"
                ));
                (None, Some(w))
            }
        }
    };
    let mut scan = DscRaw {
        scan_id: item.id.clone(),
        material: item.material.clone(),
        series: item.series.clone(),
        aging_time_s: info.aging_time_s,
        aging_temperature_k: info.aging_temperature_k,
        heating_rate_k_min: info.heating_rate_k_min,
        mass_mg: info.mass_mg,
        source_file: item.rel.clone(),
        endo: info.endo.map(|e| e.name().to_owned()),
        ..Default::default()
    };
    for k in 0..temp.len() {
        let hg = hf_g.as_ref().and_then(|v| v[k]);
        let hw = hf_w.as_ref().and_then(|v| v[k]);
        let (Some(t), true) = (temp[k], hg.is_some() || hw.is_some()) else {
            notes.dropped_rows += 1;
            continue;
        };
        scan.temperature_k.push(t);
        scan.time_s.push(time.as_ref().and_then(|v| v[k]));
        scan.heat_flow_w_g.push(hg);
        scan.heat_flow_w.push(hw);
    }
    if scan.temperature_k.is_empty() {
        return Err(FormatError::file(
            "no row with both a temperature and a heat flow",
        ));
    }
    scan.flags = flags.join(",");
    Ok((scan, notes))
}

/// One DMA temperature sweep (one or several frequencies).
pub fn dma_sweep(item: &Item, parsed: &Parsed) -> Result<(DmaSweepRaw, Notes), FormatError> {
    let info = item.thermal.clone().unwrap_or_default();
    let block = thermal_block(item, parsed)?;
    let mut notes = Notes::default();
    let mut flags = Vec::new();
    let temp = thermal_temperature(block, item, &mut flags, &mut notes)?;
    let time = signal(block, item, "time", TIME, Quantity::Time)?;
    let storage = needed(
        block,
        item,
        "storage_modulus",
        STORAGE,
        Quantity::Modulus,
        "storage modulus",
    )?;
    let loss = needed(
        block,
        item,
        "loss_modulus",
        LOSS,
        Quantity::Modulus,
        "loss modulus",
    )?;
    let tan = signal(block, item, "tan_delta", TAN_DELTA, Quantity::Ratio)?;
    let freq = signal(block, item, "frequency", FREQUENCY, Quantity::Frequency)?;
    if freq.is_none() && info.frequency_hz.is_none() {
        return Err(FormatError::file(format!(
            "no frequency signal (a column named {}) and the entry gives no frequency_hz; columns: {}",
            FREQUENCY.join(", "),
            columns_of(block)
        )));
    }
    let mut scan = DmaSweepRaw {
        scan_id: item.id.clone(),
        material: item.material.clone(),
        series: item.series.clone(),
        aging_time_s: info.aging_time_s,
        aging_temperature_k: info.aging_temperature_k,
        heating_rate_k_min: info.heating_rate_k_min,
        source_file: item.rel.clone(),
        ..Default::default()
    };
    for k in 0..temp.len() {
        let f = freq.as_ref().and_then(|v| v[k]).or(info.frequency_hz);
        let (Some(t), Some(f)) = (temp[k], f) else {
            notes.dropped_rows += 1;
            continue;
        };
        if storage[k].is_none() && loss[k].is_none() {
            notes.dropped_rows += 1;
            continue;
        }
        scan.temperature_k.push(t);
        scan.time_s.push(time.as_ref().and_then(|v| v[k]));
        scan.frequency_hz.push(f);
        scan.storage_modulus_mpa.push(storage[k]);
        scan.loss_modulus_mpa.push(loss[k]);
        let td = tan
            .as_ref()
            .and_then(|v| v[k])
            .or(match (storage[k], loss[k]) {
                (Some(e1), Some(e2)) if e1 != 0.0 => Some(e2 / e1),
                _ => None,
            });
        scan.tan_delta.push(td);
    }
    if scan.temperature_k.is_empty() {
        return Err(FormatError::file(
            "no row with a temperature, a frequency and a modulus",
        ));
    }
    scan.flags = flags.join(",");
    Ok((scan, notes))
}
