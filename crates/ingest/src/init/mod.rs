//! `agingflow init`: scaffolds a campaign manifest from a folder of instrument files.
//!
//! Each file is sniffed and read; its kind (relaxation test, indent, DSC scan, DMA sweep) comes
//! from its format and signals. Material, temperature, aging time, series and strain come from
//! the first file-name pattern that matches the file's path (or, for indents, its folder), else
//! from the file itself where it says (the median of its temperature signal, the sample mass and
//! ramp rate in its header), else from `--set`; every value still unknown is written as `null`
//! with a `# TODO` comment, so the manifest is refused until a person fills it in.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use formats::cell::{Quantity, conversion};
use formats::{Block, Format, Parsed, ReadOptions, parse_auto};

use crate::extract::{
    DEPTH, FREQUENCY, HEAT_FLOW, LOAD, LOSS, MODULUS, STORAGE, STRAIN, STRESS, TAN_DELTA,
    TEMPERATURE, TIME,
};

mod pattern;
use pattern::*;

/// What `init` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// The folder of instrument files.
    pub dir: PathBuf,
    /// File-name patterns, tried in order (`{material}/{temperature_k}K_{aging_time_s}s`).
    pub patterns: Vec<String>,
    /// Values for every entry (`strain=0.001`) or one section (`dsc.mass_mg=10`).
    pub set: Vec<(String, String)>,
    /// Where to write the manifest (default DIR/campaign.yaml) and the pipeline file (default
    /// beside it, agingflow.yaml).
    pub out: Option<PathBuf>,
    pub pipeline: Option<PathBuf>,
    /// Replace existing files.
    pub force: bool,
}

/// What `init` wrote and found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InitSummary {
    pub manifest: PathBuf,
    pub pipeline: PathBuf,
    /// Entries per section.
    pub relaxation: usize,
    pub indentation: usize,
    pub dsc: usize,
    pub dma_sweeps: usize,
    /// Values left as `null` with a TODO.
    pub todo: usize,
    /// Files not used, with why.
    pub skipped: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
}

// ---------------------------------------------------------------------------------------------
// Patterns.

/// What a pattern (or the file, or `--set`) says of a file.
#[derive(Debug, Clone, Default, PartialEq)]
struct Values {
    material: Option<String>,
    series: Option<String>,
    id: Option<String>,
    temperature_k: Option<f64>,
    aging_time_s: Option<f64>,
    strain: Option<f64>,
    tip_radius_nm: Option<f64>,
}

/// `30min`, `2h`, `1800s`, `1800` (seconds), `1.5d`.
fn duration_s(v: &str) -> Option<f64> {
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let x: f64 = num.parse().ok()?;
    let f = match unit {
        "" | "s" | "sec" => 1.0,
        "min" | "m" => 60.0,
        "h" | "hr" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    };
    Some(x * f)
}

impl Values {
    /// How many values are known.
    fn count(&self) -> usize {
        [
            self.material.is_some(),
            self.series.is_some(),
            self.id.is_some(),
            self.temperature_k.is_some(),
            self.aging_time_s.is_some(),
            self.strain.is_some(),
            self.tip_radius_nm.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }

    fn from_captures(caps: &[(Field, &str)]) -> Option<Values> {
        let mut v = Values::default();
        for (f, s) in caps {
            let num = || s.parse::<f64>().ok();
            match f {
                Field::Material => v.material = Some((*s).to_owned()),
                Field::Series => v.series = Some((*s).to_owned()),
                Field::Id => v.id = Some((*s).to_owned()),
                Field::TemperatureK => v.temperature_k = Some(num()?),
                Field::TemperatureC => v.temperature_k = Some(num()? + 273.15),
                Field::AgingTime(Some(unit)) => v.aging_time_s = Some(num()? * unit),
                Field::AgingTime(None) => v.aging_time_s = Some(duration_s(s)?),
                Field::Strain => v.strain = Some(num()?),
                Field::StrainPct => v.strain = Some(num()? / 100.0),
                Field::TipRadiusNm => v.tip_radius_nm = Some(num()?),
                Field::Any => {}
            }
        }
        Some(v)
    }
}

// ---------------------------------------------------------------------------------------------
// Files.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Relaxation,
    Indentation,
    Dsc,
    DmaSweep,
}

impl Kind {
    fn section(self) -> &'static str {
        match self {
            Kind::Relaxation => "relaxation",
            Kind::Indentation => "indentation",
            Kind::Dsc => "dsc",
            Kind::DmaSweep => "dma_sweeps",
        }
    }
}

fn has(p: &Parsed, names: &[&str]) -> bool {
    p.blocks.iter().any(|b| b.find(names).is_some())
}

/// The kind of a parsed file, from its format and signals.
fn kind_of(p: &Parsed) -> Option<Kind> {
    match p.format {
        Format::HysitronTxt | Format::HysitronHld | Format::KeysightXls => Some(Kind::Indentation),
        _ if has(p, HEAT_FLOW) => Some(Kind::Dsc),
        _ if has(p, STORAGE) || has(p, LOSS) => Some(Kind::DmaSweep),
        _ if has(p, STRESS) => Some(Kind::Relaxation),
        _ => None,
    }
}

/// The median of a block's temperature signal, in K, rounded to 0.5 K.
fn file_temperature_k(p: &Parsed) -> Option<f64> {
    let b: &Block = p.blocks.iter().find(|b| b.find(TEMPERATURE).is_some())?;
    let col = b.find(TEMPERATURE)?;
    let (f, o) = conversion(Quantity::Temperature, &col.unit)?;
    if col.unit.trim().is_empty() {
        return None;
    }
    let mut v: Vec<f64> = col.values.iter().flatten().map(|x| x * f + o).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some((v[v.len() / 2] * 2.0).round() / 2.0)
}

/// The first number before `unit` in a header value (`Size 10.0 mg`, `Ramp 20.00 °C/min`).
fn header_number(p: &Parsed, keys: &[&str], unit: &str) -> Option<f64> {
    p.header.iter().find_map(|(k, v)| {
        let key_ok = keys.is_empty() || keys.iter().any(|w| k.eq_ignore_ascii_case(w));
        if !key_ok {
            return None;
        }
        let at = v.find(unit)?;
        let before = v[..at].trim_end();
        let start = before
            .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or(0, |i| i + 1);
        before[start..].parse().ok()
    })
}

struct Found {
    rel: String,
    kind: Kind,
    values: Values,
    /// Where each value came from, for comments.
    from_file: Vec<&'static str>,
    heating_rate_k_min: Option<f64>,
    mass_mg: Option<f64>,
    format: Format,
    /// A CSV/TSV table: each signal's column, as `columns:` names it.
    columns: SignalColumns,
}

/// Each signal's column of a CSV/TSV table (`columns:` in the manifest).
type SignalColumns = Vec<(&'static str, String)>;

/// The signals a kind's CSV entry maps, with the names each may go by.
fn csv_signals(kind: Kind) -> &'static [(&'static str, &'static [&'static str])] {
    match kind {
        Kind::Relaxation => &[
            ("time", TIME),
            ("stress", STRESS),
            ("modulus", MODULUS),
            ("temperature", TEMPERATURE),
            ("strain", STRAIN),
        ],
        Kind::Indentation => &[("time", TIME), ("depth", DEPTH), ("load", LOAD)],
        Kind::Dsc => &[
            ("time", TIME),
            ("temperature", TEMPERATURE),
            ("heat_flow", HEAT_FLOW),
        ],
        Kind::DmaSweep => &[
            ("time", TIME),
            ("temperature", TEMPERATURE),
            ("frequency", FREQUENCY),
            ("storage_modulus", STORAGE),
            ("loss_modulus", LOSS),
            ("tan_delta", TAN_DELTA),
        ],
    }
}

/// A plain table (CSV/TSV with a header row, perhaps a units row) read as such, with its kind
/// from its column names and each signal's column; None when it is no such table or names no
/// signal set agingflow knows.
fn csv_table(bytes: &[u8]) -> Option<(Parsed, Kind, SignalColumns)> {
    let p = formats::parse(bytes, Format::Csv, ReadOptions::default()).ok()?;
    let kind = if has(&p, DEPTH) && has(&p, LOAD) {
        Kind::Indentation
    } else {
        kind_of(&p).or_else(|| (has(&p, MODULUS) && has(&p, TIME)).then_some(Kind::Relaxation))?
    };
    let block = p.blocks.first()?;
    let mut columns = Vec::new();
    for (key, names) in csv_signals(kind) {
        if let Some(c) = block.find(names) {
            // The stress wins over a modulus when a file has both.
            if *key == "modulus" && columns.iter().any(|(k, _)| *k == "stress") {
                continue;
            }
            columns.push((*key, c.name.clone()));
        }
    }
    let needed: &[&str] = match kind {
        Kind::Relaxation => &["time"],
        Kind::Indentation => &["depth", "load"],
        Kind::Dsc => &["temperature", "heat_flow"],
        Kind::DmaSweep => &["temperature", "storage_modulus", "loss_modulus"],
    };
    let complete = needed.iter().all(|n| columns.iter().any(|(k, _)| k == n))
        && (kind != Kind::Relaxation
            || columns
                .iter()
                .any(|(k, _)| *k == "stress" || *k == "modulus"));
    complete.then_some((p, kind, columns))
}

/// Every regular file below `dir` (hidden names skipped), each folder entered once whatever its
/// symlinks, each file once however many paths reach it (by symlink or hard link: by device and
/// inode), in path order.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir).map_err(|e| InitError::Io {
        path: dir.to_owned(),
        message: format!("cannot list the folder: {e}"),
    })?;
    let pattern = dir.join("**").join("*");
    let found = guard::walk::glob(
        &pattern.to_string_lossy(),
        guard::walk::Hidden::Skip,
        &|| false,
    )
    .map_err(|e| InitError::Io {
        path: dir.to_owned(),
        message: format!("cannot list the folder: {e}"),
    })?;
    let mut seen = std::collections::HashSet::new();
    Ok(found
        .into_iter()
        .filter(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && seen.insert((m.dev(), m.ino())))
        })
        .collect())
}

fn without_extension(rel: &str) -> &str {
    match rel.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => stem,
        _ => rel,
    }
}

fn setting(opts: &InitOptions, kind: Kind, key: &str) -> Option<String> {
    let scoped = format!("{}.{key}", kind.section());
    opts.set
        .iter()
        .rev()
        .find(|(k, _)| *k == scoped)
        .or_else(|| opts.set.iter().rev().find(|(k, _)| k == key))
        .map(|(_, v)| v.clone())
}

const KEYS: [&str; 11] = [
    "campaign",
    "material",
    "series",
    "temperature_k",
    "aging_time_s",
    "strain",
    "tip_radius_nm",
    "tg_k",
    "heating_rate_k_min",
    "mass_mg",
    "kind",
];

// ---------------------------------------------------------------------------------------------
// The manifest.

fn yaml_str(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./ ".contains(c))
        && !s.starts_with([' ', '-'])
        && !s.ends_with(' ')
        && s.parse::<f64>().is_err()
        && !["null", "true", "false", "yes", "no", "on", "off", "~"]
            .contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_owned()
    } else {
        serde_json::Value::String(s.to_owned()).to_string()
    }
}

fn num(x: f64) -> String {
    format!("{x:?}")
}

/// Writes `key: value` or `key: null  # TODO ...`.
fn line(y: &mut String, key: &str, value: Option<String>, todo: &str, count: &mut usize) {
    match value {
        Some(v) => {
            let _ = writeln!(y, "  {key}: {v}");
        }
        None => {
            *count += 1;
            let _ = writeln!(y, "  {key}: null  # TODO: {todo}");
        }
    }
}

/// Scaffolds the manifest and pipeline file; writes nothing over an existing file without
/// `force`.
pub fn run(opts: &InitOptions) -> Result<InitSummary, InitError> {
    if !opts.dir.is_dir() {
        return Err(InitError::Usage(format!(
            "{}: not a folder (give the folder that holds the instrument files)",
            opts.dir.display()
        )));
    }
    for (k, _) in &opts.set {
        let key = k.rsplit('.').next().unwrap_or(k);
        if !KEYS.contains(&key) {
            return Err(InitError::Usage(format!(
                "--set {k}=...: unknown key `{key}`; keys: {}",
                KEYS.join(", ")
            )));
        }
    }
    let patterns = opts
        .patterns
        .iter()
        .map(|p| Pattern::parse(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(InitError::Usage)?;
    let manifest = opts
        .out
        .clone()
        .unwrap_or_else(|| opts.dir.join("campaign.yaml"));
    let pipeline = opts.pipeline.clone().unwrap_or_else(|| {
        manifest
            .parent()
            .unwrap_or(Path::new("."))
            .join("agingflow.yaml")
    });
    // The manifest and the pipeline file are two files: one written over the other would lose
    // the manifest.
    if guard::resolve(&manifest) == guard::resolve(&pipeline) {
        return Err(InitError::Usage(format!(
            "{}: the manifest and the pipeline file would be the same file; give --out and --pipeline two different paths",
            manifest.display()
        )));
    }
    // An existing file is replaced only with --force, and only when init wrote it (its first
    // line says so): --out pointing at a raw file or a hand-written manifest is refused.
    for p in [&manifest, &pipeline] {
        if p.exists() {
            if !opts.force {
                return Err(InitError::Usage(format!(
                    "{}: already exists; give --force to replace it",
                    p.display()
                )));
            }
            if !written_by_init(p) {
                return Err(InitError::Usage(format!(
                    "{}: exists and was not written by `agingflow init`, so even --force does not replace it; choose another --out/--pipeline or move it away",
                    p.display()
                )));
            }
        }
    }
    let base = guard::resolve(manifest.parent().unwrap_or(Path::new(".")));
    let mut files = walk(&opts.dir)?;
    let mut summary = InitSummary {
        manifest: manifest.clone(),
        pipeline: pipeline.clone(),
        ..Default::default()
    };
    let mut found: Vec<Found> = Vec::new();
    // The files init writes are not inputs (on a rerun with --force they exist).
    let outputs = [guard::resolve(&manifest), guard::resolve(&pipeline)];
    files.retain(|p| !outputs.contains(&guard::resolve(p)));
    for path in &files {
        let abs = guard::resolve(path);
        let rel = guard::relative(&abs, &base);
        if rel.contains(['\n', '\r']) {
            summary.skipped.push((
                rel.escape_debug().to_string(),
                "its name holds a line break, which no manifest line can name; rename the file"
                    .into(),
            ));
            continue;
        }
        let bytes = match guard::read_input(path, "an instrument file") {
            Ok(b) => b,
            Err(e) => {
                summary.skipped.push((rel, e.to_string()));
                continue;
            }
        };
        let (parsed, csv) = match parse_auto(&bytes, ReadOptions::default()) {
            Ok(p) => (p, None),
            Err(e) => match csv_table(&bytes) {
                Some((p, kind, columns)) => (p, Some((kind, columns))),
                None => {
                    summary.skipped.push((rel, e.message));
                    continue;
                }
            },
        };
        let (csv_kind, columns) = match csv {
            Some((k, c)) => (Some(k), c),
            None => (None, Vec::new()),
        };
        let Some(kind) = csv_kind.or_else(|| kind_of(&parsed)) else {
            summary.skipped.push((
                rel,
                format!(
                    "a {} file with no stress, heat flow, modulus or load signal",
                    parsed.format.name()
                ),
            ));
            continue;
        };
        let stem = without_extension(&rel).to_owned();
        let folder = stem.rsplit_once('/').map(|(d, _)| d.to_owned());
        // The first pattern that matches the file's path; for an indent also its folder (indents
        // are grouped by folder), whichever says more (the file on a tie).
        let first = |path: &str| patterns.iter().find_map(|p| p.match_tail(path));
        let by_file = first(&stem);
        let by_folder = (kind == Kind::Indentation)
            .then_some(folder.as_deref())
            .flatten()
            .and_then(first);
        let mut values = match (by_file, by_folder) {
            (Some(a), Some(b)) if b.count() > a.count() => b,
            (Some(a), _) => a,
            (None, b) => b.unwrap_or_default(),
        };
        let mut from_file = Vec::new();
        if values.temperature_k.is_none()
            && kind == Kind::Relaxation
            && let Some(t) = file_temperature_k(&parsed)
        {
            values.temperature_k = Some(t);
            from_file.push("temperature_k");
        }
        let heating_rate_k_min =
            header_number(&parsed, &[], "°C/min").or_else(|| header_number(&parsed, &[], "K/min"));
        let mass_mg = header_number(&parsed, &["Size", "Sample Mass", "Mass"], "mg");
        found.push(Found {
            rel,
            kind,
            values,
            from_file,
            heating_rate_k_min,
            mass_mg,
            format: parsed.format,
            columns,
        });
    }
    // Indents grouped by folder when every file of it says the same.
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Written by `agingflow init` from {} ({} files read){}.",
        opts.dir.display(),
        files.len(),
        if patterns.is_empty() {
            String::new()
        } else {
            format!(
                " with the patterns {}",
                patterns
                    .iter()
                    .map(|p| format!("`{}`", p.text))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    let _ = writeln!(
        y,
        "# Every `null  # TODO` is a value neither the file names nor the files say: fill it in."
    );
    for (f, why) in &summary.skipped {
        let _ = writeln!(y, "# not used: {f}: {why}");
    }
    let name = opts
        .dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "campaign".into());
    let name = opts
        .set
        .iter()
        .rev()
        .find(|(k, _)| k == "campaign")
        .map_or(name, |(_, v)| v.clone());
    let _ = writeln!(y, "campaign: {}", yaml_str(&name));
    let mut materials: BTreeMap<String, ()> = BTreeMap::new();
    for f in &found {
        if let Some(m) = f
            .values
            .material
            .clone()
            .or_else(|| setting(opts, f.kind, "material"))
        {
            materials.insert(m, ());
        }
    }
    let mut todo = 0;
    y.push_str("materials:\n");
    if materials.is_empty() {
        todo += 1;
        y.push_str(
            "  MATERIAL:  # TODO: no file name gave a {material}; name it\n    tg_k: null\n",
        );
    }
    for m in materials.keys() {
        let _ = writeln!(y, "  {}:", yaml_str(m));
        match opts.set.iter().rev().find(|(k, _)| k == "tg_k") {
            Some((_, v)) => {
                let _ = writeln!(y, "    tg_k: {v}");
            }
            None => {
                todo += 1;
                let _ = writeln!(
                    y,
                    "    tg_k: null  # TODO: the glass transition (K), or leave null and list a DSC scan"
                );
            }
        }
        if let Some((_, v)) = opts.set.iter().rev().find(|(k, _)| k == "kind") {
            let _ = writeln!(y, "    kind: {v}");
        }
    }
    for kind in [
        Kind::Relaxation,
        Kind::Indentation,
        Kind::Dsc,
        Kind::DmaSweep,
    ] {
        let mut entries: Vec<(String, Vec<&Found>)> = Vec::new();
        for f in found.iter().filter(|f| f.kind == kind) {
            // Indents of one folder whose values agree share a glob entry.
            let group = if kind == Kind::Indentation && f.format != Format::KeysightXls {
                f.rel.rsplit_once('/').map(|(d, name)| {
                    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
                    if ext.is_empty() {
                        format!("{d}/*")
                    } else {
                        format!("{d}/*.{ext}")
                    }
                })
            } else {
                None
            };
            match (group, entries.last_mut()) {
                (Some(g), Some((last, v))) if *last == g && v[0].values == f.values => {
                    v.push(f);
                }
                (Some(g), _) => entries.push((g, vec![f])),
                (None, _) => entries.push((f.rel.clone(), vec![f])),
            }
        }
        if entries.is_empty() {
            continue;
        }
        let _ = writeln!(y, "{}:", kind.section());
        for (path, group) in &entries {
            let f = group[0];
            let glob = group.len() > 1 || path.contains('*');
            // A folder with one file is listed by its file.
            let (key, path) = if glob && group.len() > 1 {
                ("files", path.clone())
            } else {
                ("file", f.rel.clone())
            };
            let _ = writeln!(y, "- {key}: {}", yaml_str(&path));
            let v = &f.values;
            let get = |k: &str| setting(opts, kind, k);
            let mut body = String::new();
            let mut n = 0;
            line(
                &mut body,
                "material",
                v.material
                    .clone()
                    .or_else(|| get("material"))
                    .map(|m| yaml_str(&m)),
                "the material (a key under `materials:`)",
                &mut n,
            );
            let series = v.series.clone().or_else(|| get("series"));
            if let Some(s) = &series {
                let _ = writeln!(body, "  series: {}", yaml_str(s));
            }
            let thermal = matches!(kind, Kind::Dsc | Kind::DmaSweep);
            let t = v.temperature_k.map(num).or_else(|| get("temperature_k"));
            let ta = v.aging_time_s.map(num).or_else(|| get("aging_time_s"));
            if thermal {
                // An as-cast scan has neither; an aged one both.
                if let Some(t) = t {
                    let _ = writeln!(body, "  temperature_k: {t}");
                }
                if let Some(ta) = ta {
                    let _ = writeln!(body, "  aging_time_s: {ta}");
                }
            } else {
                let src = if f.from_file.contains(&"temperature_k") {
                    "  # from the median of the file's temperature signal"
                } else {
                    ""
                };
                match t {
                    Some(t) => {
                        let _ = writeln!(body, "  temperature_k: {t}{src}");
                    }
                    None => line(
                        &mut body,
                        "temperature_k",
                        None,
                        "the aging temperature (K)",
                        &mut n,
                    ),
                }
                line(
                    &mut body,
                    "aging_time_s",
                    ta,
                    "the aging time (s); 0 for as cast",
                    &mut n,
                );
            }
            match kind {
                Kind::Relaxation => {
                    if let Some(s) = v.strain.map(num).or_else(|| get("strain")) {
                        let _ = writeln!(body, "  strain: {s}");
                    }
                }
                Kind::Indentation => line(
                    &mut body,
                    "tip_radius_nm",
                    v.tip_radius_nm.map(num).or_else(|| get("tip_radius_nm")),
                    "the tip radius (nm) for the Hertz fit",
                    &mut n,
                ),
                Kind::Dsc | Kind::DmaSweep => {
                    if let Some(r) = get("heating_rate_k_min").or(f.heating_rate_k_min.map(num)) {
                        let _ = writeln!(body, "  heating_rate_k_min: {r}");
                    }
                    if kind == Kind::Dsc
                        && let Some(m) = get("mass_mg").or(f.mass_mg.map(num))
                    {
                        let _ = writeln!(body, "  mass_mg: {m}");
                    }
                }
            }
            if !f.columns.is_empty() {
                let cols: Vec<String> = f
                    .columns
                    .iter()
                    .map(|(k, c)| format!("{k}: {}", yaml_str(c)))
                    .collect();
                let _ = writeln!(body, "  format: csv");
                let _ = writeln!(body, "  columns: {{ {} }}", cols.join(", "));
            }
            todo += n;
            y.push_str(&body);
        }
        match kind {
            Kind::Relaxation => summary.relaxation = entries.len(),
            Kind::Indentation => summary.indentation = entries.len(),
            Kind::Dsc => summary.dsc = entries.len(),
            Kind::DmaSweep => summary.dma_sweeps = entries.len(),
        }
    }
    summary.todo = todo;
    let rel_manifest = guard::relative(
        &guard::resolve(&manifest),
        &guard::resolve(pipeline.parent().unwrap_or(Path::new("."))),
    );
    let pipe = pipeline_text(&rel_manifest, summary.dsc > 0, summary.dma_sweeps > 0);
    guard::write_file(&manifest, y.as_bytes())?;
    guard::write_file(&pipeline, pipe.as_bytes())?;
    Ok(summary)
}

/// The first line every file init writes starts with.
const HEADER: &str = "# Written by `agingflow init`";

fn written_by_init(p: &Path) -> bool {
    let mut head = [0u8; HEADER.len()];
    std::fs::File::open(p)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && head == HEADER.as_bytes()
}

/// The demo's pipeline for a manifest: every stage the demo runs, the thermal one where scans
/// are listed, with ingest writing table folders (`parts: true`) so that a campaign grown by a
/// file costs that file, not the whole campaign.
fn pipeline_text(manifest: &str, dsc: bool, dma: bool) -> String {
    let mut p = format!(
        "# Written by `agingflow init`: the full analysis of {manifest}. `agingflow run` runs it.\nversion: 1\nname: campaign\noutdir: build\nparams: {{ seed: 7 }}\nstages:\n  ingest:\n    uses: ingest\n    with:\n      manifest: {}\n      parts: true\n    outputs:\n      relaxation-raw: relaxation_raw\n      indentation-raw: indentation_raw\n",
        yaml_str(manifest)
    );
    if dsc {
        p.push_str("      dsc-raw: dsc_raw\n");
    }
    if dma {
        p.push_str("      dma-sweeps-raw: dma_sweeps_raw\n");
    }
    p.push_str("  clean:\n    uses: clean\n    inputs: { relaxation-raw: ingest.relaxation-raw }\n    outputs: { relaxation-clean: relaxation_clean.parquet, relaxation-tests: relaxation_tests.parquet }\n  kww-fit:\n    uses: kww-fit\n    inputs: { relaxation-clean: clean.relaxation-clean }\n    with: { seed: \"${params.seed}\" }\n    outputs: { kww-fits: kww_fits.parquet, aging-law: aging_law.parquet }\n  indentation-stats:\n    uses: indentation-stats\n    inputs: { indentation-raw: ingest.indentation-raw }\n    outputs: { indents: indents.parquet, tau-c-stats: tau_c_stats.parquet }\n");
    let thermal = dsc || dma;
    if thermal {
        p.push_str("  thermal:\n    uses: thermal\n    inputs:\n");
        if dsc {
            p.push_str("      dsc-raw: ingest.dsc-raw\n");
        }
        if dma {
            p.push_str("      dma-sweeps-raw: ingest.dma-sweeps-raw\n");
        }
        p.push_str(
            "    outputs: { transitions: transitions.parquet, dma-sweeps: dma_sweeps.parquet }\n",
        );
        p.push_str("  activation-energy:\n    uses: activation-energy\n    inputs: { kww-fits: kww-fit.kww-fits, transitions: thermal.transitions }\n    outputs: { activation-energy: activation_energy.parquet }\n");
    } else {
        p.push_str("  activation-energy:\n    uses: activation-energy\n    inputs: { kww-fits: kww-fit.kww-fits }\n    outputs: { activation-energy: activation_energy.parquet }\n");
    }
    p.push_str("  model-compare:\n    uses: model-compare\n    inputs: { kww-fits: kww-fit.kww-fits }\n    outputs: { model-curves: model_curves.parquet, model-fits: model_fits.parquet }\n  spectrum:\n    uses: spectrum\n    inputs: { relaxation-clean: clean.relaxation-clean, kww-fits: kww-fit.kww-fits, model-fits: model-compare.model-fits }\n    with: { seed: \"${params.seed}\" }\n    outputs: { spectra: spectra.parquet, spectrum-moments: spectrum_moments.parquet, spectrum-series: spectrum_series.parquet, spectrum-trends: spectrum_trends.parquet }\n  report:\n    uses: report\n    inputs:\n      kww-fits: kww-fit.kww-fits\n      aging-law: kww-fit.aging-law\n      relaxation-clean: clean.relaxation-clean\n      relaxation-tests: clean.relaxation-tests\n      indents: indentation-stats.indents\n      indentation-raw: ingest.indentation-raw\n      tau-c-stats: indentation-stats.tau-c-stats\n      activation-energy: activation-energy.activation-energy\n      model-curves: model-compare.model-curves\n      model-fits: model-compare.model-fits\n      spectra: spectrum.spectra\n      spectrum-moments: spectrum.spectrum-moments\n      spectrum-series: spectrum.spectrum-series\n");
    if thermal {
        p.push_str(
            "      transitions: thermal.transitions\n      dma-sweeps: thermal.dma-sweeps\n",
        );
    }
    if dsc {
        p.push_str("      dsc-raw: ingest.dsc-raw\n");
    }
    p.push_str("    outputs: { report-dir: report }\n");
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_the_end_of_a_path() {
        let p = Pattern::parse("{material}/{temperature_k}K_{aging_time_s}s").unwrap();
        let v = p.match_tail("dma/TiZr/633K_1800s").unwrap();
        assert_eq!(v.material.as_deref(), Some("TiZr"));
        assert_eq!(v.temperature_k, Some(633.0));
        assert_eq!(v.aging_time_s, Some(1800.0));
        assert!(p.match_tail("dma/TiZr/633K_1800s_r2").is_none());
        let q = Pattern::parse("{material}_{temperature_c}C_{aging_time}").unwrap();
        let v = q.match_tail("Vit1_360C_30min").unwrap();
        assert_eq!(v.material.as_deref(), Some("Vit1"));
        assert_eq!(v.temperature_k, Some(360.0 + 273.15));
        assert_eq!(v.aging_time_s, Some(1800.0));
        assert_eq!(
            q.match_tail("Vit1_360C_2h").unwrap().aging_time_s,
            Some(7200.0)
        );
        assert!(Pattern::parse("{material}{series}").is_err());
        assert!(
            Pattern::parse("{colour}")
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(Pattern::parse("plain").is_err());
        assert_eq!(duration_s("1.5d"), Some(129600.0));
        assert_eq!(duration_s("5parsecs"), None);
    }

    #[test]
    fn yaml_strings_are_quoted_when_needed() {
        assert_eq!(yaml_str("TiZr"), "TiZr");
        assert_eq!(yaml_str("dma/x/633K_1800s.txt"), "dma/x/633K_1800s.txt");
        assert_eq!(yaml_str("yes"), "\"yes\"");
        assert_eq!(yaml_str("1e3"), "\"1e3\"");
        assert_eq!(yaml_str("a: b"), "\"a: b\"");
    }
}
