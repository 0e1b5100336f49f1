//! The campaign manifest (docs/manifest.md): one YAML file naming a campaign's materials and
//! every raw file with its material, temperature and aging time. Parsing (serde_yaml, unknown keys
//! refused), validation that reports every problem at once with the manifest's line, and
//! resolution of files and globs into items with stable ids.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The manifest as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub campaign: String,
    pub materials: BTreeMap<String, Material>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relaxation: Vec<Entry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indentation: Vec<Entry>,
    /// DSC scans (heat flow against temperature).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dsc: Vec<Entry>,
    /// DMA temperature sweeps (E', E'', tan delta against temperature, one or more frequencies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dma_sweeps: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    /// Glass transition temperature (K); may be left out when a DSC scan of the material is
    /// listed (its onset T_g is then used downstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tg_k: Option<f64>,
    /// `metallic`, `polymer`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The file format an entry declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    #[default]
    Auto,
    TaUniversal,
    TriosText,
    HysitronTxt,
    HysitronHld,
    /// Keysight/Agilent G200 NanoSuite Excel (.xls/.xlsx): one indent per `Test NNN` sheet.
    KeysightXls,
    /// TRIOS "Export to Excel".
    TriosExcel,
    /// TRIOS JSON export.
    TriosJson,
    Csv,
}

fn is_auto(f: &FileFormat) -> bool {
    *f == FileFormat::Auto
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One relaxation test or indentation file (`file:`), or a glob of them (`files:`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<String>,
    /// Overrides the id of a single file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub material: String,
    /// Aging (and, for relaxation, test) temperature T_a; for a thermal scan the annealing
    /// temperature before it (optional there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_k: Option<f64>,
    /// Aging time t_a; for a thermal scan the annealing before it (optional; none: as-cast).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aging_time_s: Option<f64>,
    /// Relaxation: applied step strain (fraction); optional where the file has a strain signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strain: Option<f64>,
    /// Relaxation: a label of the lab's own (e.g. a strain or a specimen batch); tests with
    /// different labels are never pooled into one aging law. Thermal scans: the condition
    /// (`as-cast`, `aged 77400 s`); `condition:` is the same key.
    #[serde(default, alias = "condition", skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Thermal scans: heating rate (K/min) when the file does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heating_rate_k_min: Option<f64>,
    /// DSC: sample mass (mg), to normalise a heat flow in mW to W/g.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mass_mg: Option<f64>,
    /// DMA sweeps: the frequency (Hz) when the file has no frequency column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_hz: Option<f64>,
    /// Indentation: effective tip radius.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tip_radius_nm: Option<f64>,
    #[serde(default, skip_serializing_if = "is_auto")]
    pub format: FileFormat,
    /// CSV: signal name to column name (with its unit, `t [s]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, String>,
    /// CSV: the file writes `1,5` for 1.5.
    #[serde(default, skip_serializing_if = "is_false")]
    pub decimal_comma: bool,
    /// Relaxation: when the strain step ended, on the file's time axis (s), for exports that
    /// start recording after the step (no ramp recorded). Without it such a test's step time
    /// is unknown and the recorded time is taken as the time since the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_s: Option<f64>,
    /// DSC: the heat-flow sign convention, `up` (endotherm up) or `down` (endotherm down, TA's
    /// exo-up default); unset, it is detected from the direction of the glass-transition step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endo: Option<Endo>,
}

/// The direction endothermic events take on a DSC plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endo {
    Up,
    Down,
}

impl Endo {
    pub fn name(self) -> &'static str {
        match self {
            Endo::Up => "up",
            Endo::Down => "down",
        }
    }
}

/// Which part of the campaign an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Relaxation,
    Indentation,
    Dsc,
    DmaSweep,
}

impl Kind {
    pub fn section(self) -> &'static str {
        match self {
            Kind::Relaxation => "relaxation",
            Kind::Indentation => "indentation",
            Kind::Dsc => "dsc",
            Kind::DmaSweep => "dma_sweeps",
        }
    }
    /// Signals a CSV mapping must name.
    fn needed(self) -> &'static [&'static str] {
        match self {
            Kind::Relaxation => &["time"],
            Kind::Indentation => &["depth", "load"],
            Kind::Dsc => &["temperature", "heat_flow"],
            Kind::DmaSweep => &["temperature", "storage_modulus", "loss_modulus"],
        }
    }
    fn known(self) -> &'static [&'static str] {
        match self {
            Kind::Relaxation => &["time", "stress", "modulus", "temperature", "strain"],
            Kind::Indentation => &["time", "depth", "load", "segment"],
            Kind::Dsc => &["time", "temperature", "heat_flow"],
            Kind::DmaSweep => &[
                "time",
                "temperature",
                "frequency",
                "storage_modulus",
                "loss_modulus",
                "tan_delta",
            ],
        }
    }
    fn thermal(self) -> bool {
        matches!(self, Kind::Dsc | Kind::DmaSweep)
    }
}

/// One resolved raw file.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub kind: Kind,
    /// `test_id` or `indent_id`: the path relative to the manifest without extension, or `id:`.
    pub id: String,
    pub path: PathBuf,
    /// `path` absolute with every symlink resolved (see `guard::resolve`): what ingest protects.
    pub real: PathBuf,
    /// The path relative to the manifest, with `/`.
    pub rel: String,
    pub material: String,
    /// The manifest's T_g of the material (None: left to a DSC scan).
    pub tg_k: Option<f64>,
    /// Relaxation and indentation: T_a and t_a (always given). Thermal scans: the annealing
    /// before the scan, NaN where the entry gives none (see `thermal`).
    pub temperature_k: f64,
    pub aging_time_s: f64,
    /// Thermal scans: what the entry says of the scan.
    pub thermal: Option<ThermalInfo>,
    pub strain: Option<f64>,
    /// The entry's `series:` label.
    pub series: Option<String>,
    pub tip_radius_nm: Option<f64>,
    /// Relaxation: the manifest's `step_s`.
    pub step_s: Option<f64>,
    pub format: FileFormat,
    pub columns: BTreeMap<String, String>,
    pub decimal_comma: bool,
    /// The manifest line of the entry.
    pub line: usize,
}

/// What a DSC or DMA-sweep entry says that the file may not.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThermalInfo {
    pub aging_time_s: Option<f64>,
    pub aging_temperature_k: Option<f64>,
    pub heating_rate_k_min: Option<f64>,
    pub mass_mg: Option<f64>,
    pub frequency_hz: Option<f64>,
    /// DSC: the manifest's `endo:` (None: detect).
    pub endo: Option<Endo>,
}

/// A resolved campaign: every file, sorted by (material, temperature, aging time, id); thermal
/// scans by (material, id).
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub manifest: Manifest,
    pub dir: PathBuf,
    pub relaxation: Vec<Item>,
    pub indentation: Vec<Item>,
    pub dsc: Vec<Item>,
    pub dma_sweeps: Vec<Item>,
    /// Warnings for the log (`file:line: message`): nothing wrong enough to stop.
    pub notes: Vec<String>,
}

/// A problem with the manifest; `line`/`col` are 1-based where known.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{}{message}", match (line, col) { (Some(l), Some(c)) => format!("{l}:{c}: "), (Some(l), None) => format!("{l}: "), _ => " ".into() })]
pub struct ManifestError {
    pub file: String,
    pub line: Option<usize>,
    pub col: Option<usize>,
    pub message: String,
}

/// Every problem found, one per line when shown.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ManifestErrors(pub Vec<ManifestError>);

/// Parses manifest text (`file` is used in messages).
pub fn parse(text: &str, file: &str) -> Result<Manifest, ManifestError> {
    serde_yaml::from_str::<Manifest>(text).map_err(|e| {
        let loc = e.location();
        let message = e.to_string();
        // serde_yaml appends " at line L column C"; the position is given in front instead.
        let message = match message.rfind(" at line ") {
            Some(i) if loc.is_some() => message[..i].to_owned(),
            _ => message,
        };
        ManifestError {
            file: file.to_owned(),
            line: loc.as_ref().map(|l| l.line()),
            col: loc.as_ref().map(|l| l.column()),
            message,
        }
    })
}

/// Reads, validates and resolves a manifest file; raw files must lie in the manifest's folder.
pub fn load(path: &Path) -> Result<Campaign, ManifestErrors> {
    load_with(path, false)
}

/// [`load`]; `allow_outside` accepts raw files outside the manifest's folder (`../`, absolute
/// paths), which are refused otherwise so that a manifest cannot name any file on the machine.
pub fn load_with(path: &Path, allow_outside: bool) -> Result<Campaign, ManifestErrors> {
    let file = path.display().to_string();
    let one = |message: String| {
        ManifestErrors(vec![ManifestError {
            file: file.clone(),
            line: None,
            col: None,
            message,
        }])
    };
    let bytes = guard::read_input(path, "the manifest").map_err(|e| {
        one(match e {
            guard::GuardError::Input { problem, .. } => format!("the manifest {problem}"),
            other => format!("cannot read the manifest: {other}"),
        })
    })?;
    let text =
        String::from_utf8(bytes).map_err(|_| one("the manifest is not UTF-8 text".into()))?;
    if text.trim().is_empty() {
        return Err(one("the manifest is empty".into()));
    }
    let manifest = parse(&text, &file).map_err(|e| ManifestErrors(vec![e]))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    resolve_with(manifest, &dir, &text, &file, allow_outside)
}

/// The 1-based lines where the list items of each top-level `section:` start, read from the YAML
/// events (so block and flow style, indented or not, all give the right line), in one pass.
fn entry_lines(text: &str) -> HashMap<String, Vec<usize>> {
    use saphyr_parser::{Event, Parser};
    let mut out: HashMap<String, Vec<usize>> = HashMap::new();
    let mut depth = 0usize;
    let mut root_key_next = true;
    let mut section_key: Option<String> = None;
    let mut in_section: Option<String> = None;
    for ev in Parser::new_from_str(text) {
        let Ok((ev, span)) = ev else { break };
        let starts = matches!(
            ev,
            Event::Scalar(..) | Event::MappingStart(..) | Event::SequenceStart(..)
        );
        if starts {
            if depth == 1 {
                if root_key_next {
                    section_key = match &ev {
                        Event::Scalar(v, ..) => Some(v.to_string()),
                        _ => None,
                    };
                } else {
                    in_section = section_key
                        .take()
                        .filter(|_| matches!(ev, Event::SequenceStart(..)));
                }
                root_key_next = !root_key_next;
            } else if depth == 2
                && let Some(section) = &in_section
            {
                out.entry(section.clone())
                    .or_default()
                    .push(span.start.line());
            }
        }
        match ev {
            Event::MappingStart(..) | Event::SequenceStart(..) => depth += 1,
            Event::MappingEnd | Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    in_section = None;
                }
            }
            _ => {}
        }
    }
    out
}

/// The paths a glob matches. A pattern whose wildcards are all in its last component (the usual
/// `folder/*.txt`) lists that one folder and matches the names (the glob crate's walk cost about
/// 4 us a file: 40 ms for the 10 000 indents of a scaled campaign); others to `guard::walk::glob`,
/// which enters each folder once whatever its symlinks.
/// Either way every match is given, in any order (the caller sorts), with whether it is a
/// regular file (not a symlink) where the folder listing says so without a `stat`.
/// The second value counts the folders reached again (and not entered) through a symlink.
type Globbed = (Vec<(PathBuf, Option<bool>)>, usize);

fn glob_files(pattern: &str) -> Result<Globbed, glob::PatternError> {
    let wild = |s: &str| s.contains(['*', '?', '[', ']']);
    let path = Path::new(pattern);
    if let (Some(parent), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
        && !wild(&parent.to_string_lossy())
        && name != "**"
    {
        let pat = glob::Pattern::new(name)?;
        let opts = glob::MatchOptions::new();
        let list = if parent.as_os_str().is_empty() {
            std::fs::read_dir(".")
        } else {
            std::fs::read_dir(parent)
        };
        return Ok((
            list.into_iter()
                .flatten()
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| pat.matches_with(n, opts))
                })
                .map(|e| {
                    let plain = e.file_type().ok().map(|t| t.is_file());
                    (parent.join(e.file_name()), plain)
                })
                .collect(),
            0,
        ));
    }
    // Each folder entered once, whatever its symlinks: a link to `.` cannot make `**` loop.
    let (found, revisits) =
        guard::walk::glob_counted(pattern, guard::walk::Hidden::Match, &|| false)?;
    Ok((found.into_iter().map(|p| (p, None)).collect(), revisits))
}

/// Validates a parsed manifest and resolves its files, reporting every problem at once.
pub fn resolve(
    manifest: Manifest,
    dir: &Path,
    text: &str,
    file: &str,
) -> Result<Campaign, ManifestErrors> {
    resolve_with(manifest, dir, text, file, false)
}

/// [`resolve`]; see [`load_with`] for `allow_outside`.
pub fn resolve_with(
    manifest: Manifest,
    dir: &Path,
    text: &str,
    file: &str,
    allow_outside: bool,
) -> Result<Campaign, ManifestErrors> {
    let real_dir = guard::resolve(dir);
    // Thousands of files in few folders: each folder resolved once.
    let resolver = guard::Resolver::new();
    let mut errors = Vec::new();
    let mut err_note: Vec<String> = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    let entry_at_all = entry_lines(text);
    let lines = |kind: Kind| {
        entry_at_all
            .get(kind.section())
            .cloned()
            .unwrap_or_default()
    };
    for (name, m) in &manifest.materials {
        if m.tg_k.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with(&format!("{name}:")))
                .map(|l| l + 1);
            errors.push(ManifestError {
                file: file.into(),
                line,
                col: None,
                message: format!("material `{name}`: tg_k must be a positive temperature in K"),
            });
        }
    }
    for (kind, entries) in [
        (Kind::Relaxation, &manifest.relaxation),
        (Kind::Indentation, &manifest.indentation),
        (Kind::Dsc, &manifest.dsc),
        (Kind::DmaSweep, &manifest.dma_sweeps),
    ] {
        let entry_at = lines(kind);
        // Entries resolved on all cores (an `lstat` and a folder lookup each: a campaign lists
        // thousands), then taken in their order: errors, notes and items as one loop gives them.
        type EntryOut = (Vec<ManifestError>, Vec<String>, Vec<Item>);
        let done: Vec<EntryOut> = entries
            .par_iter()
            .enumerate()
            .map(|(i, e)| {
            let mut errors: Vec<ManifestError> = Vec::new();
            let mut err_note: Vec<String> = Vec::new();
            let mut items: Vec<Item> = Vec::new();
            'entry: {
            let line = entry_at.get(i).copied().unwrap_or(1);
            let mut err = |message: String| {
                errors.push(ManifestError {
                    file: file.into(),
                    line: Some(line),
                    col: None,
                    message,
                })
            };
            let what = format!("{} entry {}", kind.section(), i + 1);
            // Every check of the entry runs, so that all its problems are listed at once.
            let tg_k = match manifest.materials.get(&e.material) {
                Some(m) => m.tg_k,
                None => {
                    let known: Vec<&str> = manifest.materials.keys().map(String::as_str).collect();
                    err(format!(
                        "{what}: material `{}` is not under `materials` ({})",
                        e.material,
                        known.join(", ")
                    ));
                    None
                }
            };
            match e.temperature_k {
                Some(t) if !(t.is_finite() && t > 0.0) => {
                    err(format!("{what}: temperature_k must be positive (kelvin)"))
                }
                None if !kind.thermal() => err(format!(
                    "{what}: temperature_k (the aging temperature, K) is required"
                )),
                _ => {}
            }
            match e.aging_time_s {
                Some(t) if !(t.is_finite() && t >= 0.0) => err(format!(
                    "{what}: aging_time_s must be zero or positive (seconds)"
                )),
                None if !kind.thermal() => {
                    err(format!("{what}: aging_time_s (seconds) is required"))
                }
                _ => {}
            }
            for (name, v, kinds) in [
                (
                    "heating_rate_k_min",
                    e.heating_rate_k_min,
                    &[Kind::Dsc, Kind::DmaSweep][..],
                ),
                ("mass_mg", e.mass_mg, &[Kind::Dsc][..]),
                ("frequency_hz", e.frequency_hz, &[Kind::DmaSweep][..]),
            ] {
                match v {
                    Some(_) if !kinds.contains(&kind) => err(format!(
                        "{what}: `{name}` is not used by {} entries",
                        kind.section()
                    )),
                    Some(x) if !(x.is_finite() && x > 0.0) => {
                        err(format!("{what}: {name} must be positive"))
                    }
                    _ => {}
                }
            }
            if kind.thermal() && e.strain.is_some() {
                err(format!(
                    "{what}: `strain` is not used by {} entries",
                    kind.section()
                ));
            }
            if let Some(s) = e.strain
                && !(s.is_finite() && s > 0.0 && s < 0.2)
            {
                err(format!(
                    "{what}: strain {s} must be a fraction in (0, 0.2), e.g. 0.001 for 0.1 %"
                ));
            }
            let allowed = match kind {
                Kind::Relaxation | Kind::Dsc | Kind::DmaSweep => [
                    FileFormat::Auto,
                    FileFormat::TaUniversal,
                    FileFormat::TriosText,
                    FileFormat::TriosExcel,
                    FileFormat::TriosJson,
                    FileFormat::Csv,
                ]
                .contains(&e.format),
                Kind::Indentation => [
                    FileFormat::Auto,
                    FileFormat::HysitronTxt,
                    FileFormat::HysitronHld,
                    FileFormat::KeysightXls,
                    FileFormat::Csv,
                ]
                .contains(&e.format),
            };
            if !allowed {
                err(format!(
                    "{what}: format {:?} is not a {} format",
                    e.format,
                    kind.section()
                ));
            }
            match (&e.series, kind) {
                (Some(s), _) if s.trim().is_empty() || s.contains(['/', '\\', ',']) => {
                    err(format!(
                        "{what}: series `{s}` must be a non-empty label without `/`, `\\` or `,`"
                    ))
                }
                (Some(_), Kind::Indentation) => err(format!(
                    "{what}: `series` is not supported for indentation entries yet (tau_c_stats is keyed by material, temperature and aging time); give the arrays different materials or campaigns"
                )),
                _ => {}
            }
            if kind != Kind::Indentation && e.tip_radius_nm.is_some() {
                err(format!(
                    "{what}: `tip_radius_nm` is not used by {} entries",
                    kind.section()
                ));
            }
            if kind == Kind::Indentation {
                match e.tip_radius_nm {
                    Some(r) if r.is_finite() && r > 0.0 => {}
                    Some(_) => err(format!("{what}: tip_radius_nm must be positive")),
                    None => err(format!("{what}: tip_radius_nm is required for indentation")),
                }
            }
            if e.format == FileFormat::Csv
                && kind == Kind::Relaxation
                && !e.columns.contains_key("stress")
                && !e.columns.contains_key("modulus")
            {
                err(format!(
                    "{what}: a csv entry needs `columns: {{ stress: \"<column name>\" }}` (or `modulus:` for a relaxation modulus)"
                ));
            }
            if let Some(t) = e.step_s {
                if kind != Kind::Relaxation {
                    err(format!("{what}: `step_s` is used by relaxation entries only"));
                } else if !t.is_finite() {
                    err(format!("{what}: step_s must be a number of seconds"));
                }
            }
            if e.endo.is_some() && kind != Kind::Dsc {
                err(format!("{what}: `endo` is used by dsc entries only"));
            }
            if e.format == FileFormat::Csv {
                for need in kind.needed() {
                    if !e.columns.contains_key(*need) {
                        err(format!(
                            "{what}: a csv entry needs `columns: {{ {need}: \"<column name>\" }}`"
                        ));
                    }
                }
            }
            for k in e.columns.keys() {
                if !kind.known().contains(&k.as_str()) {
                    err(format!(
                        "{what}: unknown signal `{k}` in `columns` (known: {})",
                        kind.known().join(", ")
                    ));
                }
            }
            // Each file with its resolved path (`lstat` once: a plain file's folder is resolved,
            // a symlink the long way).
            let paths: Vec<(PathBuf, PathBuf)> = match (&e.file, &e.files) {
                (Some(_), Some(_)) | (None, None) => {
                    err(format!(
                        "{what}: give exactly one of `file:` (one file) and `files:` (a glob)"
                    ));
                    break 'entry;
                }
                (Some(f), None) => {
                    let p = dir.join(f);
                    let lstat = std::fs::symlink_metadata(&p);
                    let plain = lstat.as_ref().is_ok_and(|m| !m.file_type().is_symlink());
                    let meta = match lstat {
                        Ok(m) if plain => Ok(m),
                        _ => std::fs::metadata(&p),
                    };
                    match meta {
                        Ok(m) if m.is_file() => {
                            let real = if plain {
                                resolver.resolve_plain(&p)
                            } else {
                                resolver.resolve(&p)
                            };
                            vec![(p, real)]
                        }
                        Ok(m) if m.is_dir() => {
                            err(format!(
                                "{what}: `{f}` is a directory, not a file (a glob goes in `files:`)"
                            ));
                            break 'entry;
                        }
                        Ok(_) => {
                            err(format!(
                                "{what}: `{f}` is not a regular file (a FIFO, socket or device)"
                            ));
                            break 'entry;
                        }
                        Err(e) if e.raw_os_error() == Some(40) => {
                            err(format!("{what}: `{f}` is a symlink loop, not a file"));
                            break 'entry;
                        }
                        Err(_) if std::fs::symlink_metadata(&p).is_ok() => {
                            err(format!(
                                "{what}: `{f}` is a symlink to a file that does not exist"
                            ));
                            break 'entry;
                        }
                        Err(_) => {
                            err(format!("{what}: file `{f}` does not exist"));
                            break 'entry;
                        }
                    }
                }
                (None, Some(g)) => {
                    if e.id.is_some() {
                        err(format!(
                            "{what}: `id:` names a single file; it cannot go with a glob"
                        ));
                    }
                    let pattern = dir.join(g).to_string_lossy().into_owned();
                    match glob_files(&pattern) {
                        Err(ge) => {
                            err(format!("{what}: bad glob `{g}`: {ge}"));
                            break 'entry;
                        }
                        Ok((m, revisits)) => {
                            if revisits > 0 {
                                err_note.push(format!(
                                    "{what}: glob `{g}` reaches {revisits} folder(s) more than once (a symlink loop?); each is read once"
                                ));
                            }
                            // A file reached twice (through a symlink loop, say) counts once,
                            // under its shortest path.
                            let mut v: Vec<(PathBuf, bool)> = m
                                .into_iter()
                                .filter_map(|(p, listed)| {
                                    let plain = match listed {
                                        Some(plain) => plain,
                                        None => std::fs::symlink_metadata(&p)
                                            .ok()?
                                            .file_type()
                                            .is_file(),
                                    };
                                    (plain || p.is_file()).then_some((p, plain))
                                })
                                .collect();
                            // Shortest path first, then path order; each key made once (a
                            // comparator counting components made this a fifth of the load of
                            // a manifest with 10 000 matches).
                            v.sort_by_cached_key(|(p, _)| (p.components().count(), p.clone()));
                            let mut real = std::collections::HashSet::new();
                            let before = v.len();
                            let mut v: Vec<(PathBuf, PathBuf)> = v
                                .into_iter()
                                .filter_map(|(p, plain)| {
                                    let r = if plain {
                                        resolver.resolve_plain(&p)
                                    } else {
                                        resolver.resolve(&p)
                                    };
                                    real.insert(r.clone()).then_some((p, r))
                                })
                                .collect();
                            if v.len() < before {
                                err_note.push(format!(
                                    "{what}: glob `{g}` reaches {} file(s) more than once (a symlink loop?); each is read once",
                                    before - v.len()
                                ));
                            }
                            v.sort();
                            if v.is_empty() {
                                err(format!("{what}: glob `{g}` matches no file"));
                                break 'entry;
                            }
                            v
                        }
                    }
                }
            };
            for (p, real) in paths {
                if !real.starts_with(&real_dir) && !allow_outside {
                    err(format!(
                        "{what}: `{}` lies outside the manifest's folder; move it in, or allow it with `--allow-outside`",
                        p.strip_prefix(dir).unwrap_or(&p).display()
                    ));
                    continue;
                }
                let rel = match p.strip_prefix(dir) {
                    Ok(r) if r.is_relative() && !r.components().any(|c| c.as_os_str() == "..") => {
                        r.to_string_lossy().replace('\\', "/")
                    }
                    _ => guard::relative(&real, &real_dir),
                };
                // A line break in a name breaks every line-based record of it (a lock file's
                // list of reads, a log): refused before anything is read.
                if rel.contains(['\n', '\r']) {
                    err(format!(
                        "{what}: `{}`: the file's name holds a line break; rename the file",
                        rel.escape_debug()
                    ));
                    continue;
                }
                let id = match (&e.id, &e.file) {
                    (Some(id), Some(_)) => id.clone(),
                    _ => match rel.rfind('.') {
                        Some(dot) if !rel[dot..].contains('/') => rel[..dot].to_owned(),
                        _ => rel.clone(),
                    },
                };
                items.push(Item {
                    kind,
                    id,
                    path: p,
                    real,
                    rel,
                    material: e.material.clone(),
                    tg_k,
                    temperature_k: e.temperature_k.unwrap_or(f64::NAN),
                    aging_time_s: e.aging_time_s.unwrap_or(f64::NAN),
                    thermal: kind.thermal().then_some(ThermalInfo {
                        aging_time_s: e.aging_time_s,
                        aging_temperature_k: e.temperature_k,
                        heating_rate_k_min: e.heating_rate_k_min,
                        mass_mg: e.mass_mg,
                        frequency_hz: e.frequency_hz,
                        endo: e.endo,
                    }),
                    step_s: e.step_s,
                    strain: e.strain,
                    series: e.series.clone(),
                    tip_radius_nm: e.tip_radius_nm,
                    format: e.format,
                    columns: e.columns.clone(),
                    decimal_comma: e.decimal_comma,
                    line,
                });
            }
            }
            (errors, err_note, items)
            })
            .collect();
        for (e, n, it) in done {
            errors.extend(e);
            err_note.extend(n);
            items.extend(it);
        }
    }
    let mut seen: HashMap<(Kind, &str), (usize, &Path)> = HashMap::with_capacity(items.len());
    let mut seen_file: HashMap<&Path, usize> = HashMap::with_capacity(items.len());
    // The same file by another path (a symlink, a hard link): by device and inode.
    let mut seen_inode: HashMap<(u64, u64), (usize, &str)> = HashMap::with_capacity(items.len());
    for it in &items {
        let inode = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(&it.real).ok().map(|m| (m.dev(), m.ino()))
        };
        let message = if let Some(&first) = seen_file.get(it.path.as_path()) {
            Some(format!(
                "file `{}` is listed twice (also at line {first}): each raw file is one test",
                it.rel
            ))
        } else if let Some(&(first, other)) = inode.as_ref().and_then(|k| seen_inode.get(k)) {
            Some(format!(
                "file `{}` is the same file as `{other}` (line {first}), reached through a symlink or hard link: each raw file is one test, and the two entries could give it different metadata; list it once",
                it.rel
            ))
        } else if let Some(&(first, _)) = seen.get(&(it.kind, it.id.as_str())) {
            Some(format!(
                "duplicate {} id `{}` (also at line {first})",
                it.kind.section(),
                it.id
            ))
        } else {
            None
        };
        seen_file.entry(it.path.as_path()).or_insert(it.line);
        if let Some(k) = inode {
            seen_inode.entry(k).or_insert((it.line, it.rel.as_str()));
        }
        seen.entry((it.kind, it.id.as_str()))
            .or_insert((it.line, it.path.as_path()));
        if let Some(message) = message {
            errors.push(ManifestError {
                file: file.into(),
                line: Some(it.line),
                col: None,
                message,
            });
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(ManifestErrors(errors));
    }
    let key = |a: &Item, b: &Item| {
        a.material
            .cmp(&b.material)
            .then(a.temperature_k.total_cmp(&b.temperature_k))
            .then(a.aging_time_s.total_cmp(&b.aging_time_s))
            .then(a.id.cmp(&b.id))
    };
    for (name, m) in &manifest.materials {
        if m.tg_k.is_none()
            && !items
                .iter()
                .any(|i| i.kind == Kind::Dsc && &i.material == name)
        {
            err_note.push(format!(
                "material `{name}` has no tg_k and no DSC scan: E_a/(R T_g) will be empty; give tg_k or list a DSC scan under `dsc:`"
            ));
        }
    }
    // Each kind's items moved out (not cloned: a campaign lists thousands) and sorted.
    let mut by_kind: [Vec<Item>; 4] = Default::default();
    let slot = |k: Kind| match k {
        Kind::Relaxation => 0,
        Kind::Indentation => 1,
        Kind::Dsc => 2,
        Kind::DmaSweep => 3,
    };
    for it in items {
        by_kind[slot(it.kind)].push(it);
    }
    for v in &mut by_kind {
        if v.first().is_some_and(|i| i.kind.thermal()) {
            v.sort_by(|a, b| a.material.cmp(&b.material).then(a.id.cmp(&b.id)));
        } else {
            v.sort_by(key);
        }
    }
    let [relaxation, indentation, dsc, dma_sweeps] = by_kind;
    Ok(Campaign {
        relaxation,
        indentation,
        dsc,
        dma_sweeps,
        manifest,
        dir: dir.to_owned(),
        notes: err_note,
    })
}

#[cfg(test)]
mod tests;
