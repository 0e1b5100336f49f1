//! `agingflow diff`: the results of two revisions compared. Each side's lock file (from a git
//! revision, or the working tree) names the hash of every output; the bytes come from the run
//! cache (or the working tree, where its file still has that hash). What changed is said per
//! result table and numeric column (rows matched by the table's key columns: how many changed and
//! by how much at most, the largest changes with their keys) and per number of the report's
//! summary.json. An output missing from the cache is said to be missing, never guessed.
//!
//! One module of about 800 lines: reading the two sides and comparing them share the model of a
//! side (lock entries, cached outputs, tables by key).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::{Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use serde::Serialize;

use crate::cache::Cache;
use crate::hash;
use crate::lock::LockFile;
use crate::pipeline::Pipeline;
use crate::pipeline::relative_to;

/// The tables whose numbers `diff` compares (one row per test, indent, series or fit; not the
/// curves).
const RESULT_TABLES: &[&str] = &[
    "relaxation_tests",
    "kww_fits",
    "aging_law",
    "indents",
    "tau_c_stats",
    "activation_energy",
    "model_fits",
    "transitions",
    "spectrum_moments",
    "spectrum_series",
    "spectrum_trends",
];

/// How many of the largest changes of a column are listed.
const TOP_ROWS: usize = 5;

/// One side of the comparison.
pub struct Side {
    /// `HEAD`, a revision, or `working tree`.
    pub label: String,
    pub lock: LockFile,
    /// Whether files in the working tree may supply bytes (the working-tree side).
    pub worktree: bool,
}

/// The lock file of a git revision, read with `git show`.
pub fn lock_at(p: &Pipeline, rev: &str) -> Result<LockFile, String> {
    let lock = p.lock_path();
    let dir = std::fs::canonicalize(&p.dir).map_err(|e| format!("{}: {e}", p.dir.display()))?;
    let git = |args: &[&str]| -> Result<String, String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(&dir)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    };
    let top = git(&["rev-parse", "--show-toplevel"])
        .map_err(|e| format!("{} is not in a git repository ({e})", dir.display()))?;
    let top = PathBuf::from(top.trim());
    let name = lock.file_name().map(|n| n.to_owned()).unwrap_or_default();
    let rel = relative_to(
        &dir.join(name),
        &std::fs::canonicalize(&top).unwrap_or(top.clone()),
    );
    // The revision is data, never an option: refused when it looks like one, then resolved to a
    // commit id (after `--end-of-options`) before it is named to `git show`.
    if rev.is_empty() || rev.starts_with('-') || rev.contains(['\0', '\n']) {
        return Err(format!(
            "`{rev}` is not a git revision (a revision cannot start with `-`)"
        ));
    }
    let commit = git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        &format!("{rev}^{{commit}}"),
    ])
    .map_err(|_| format!("`{rev}` is not a commit of {}", top.display()))?;
    let commit = commit.trim();
    if commit.len() < 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{rev}` is not a commit of {}", top.display()));
    }
    let text = git(&["show", &format!("{commit}:{rel}")])
        .map_err(|e| format!("revision {rev} has no lock file {rel}: {e}"))?;
    LockFile::from_text(&text).map_err(|e| format!("{rev}:{rel}: {e}"))
}

/// Where the bytes of one output are.
enum Bytes {
    File(PathBuf),
    Tree(BTreeMap<String, PathBuf>),
}

fn locate(p: &Pipeline, cache: &Cache, side: &Side, path: &str, h: &str) -> Option<Bytes> {
    if side.worktree {
        let abs = p.dir.join(path);
        if hash::path(&abs).ok().flatten().as_deref() == Some(h) {
            if abs.is_dir() {
                let mut files = Vec::new();
                crate::cache::list_files(&abs, &mut files).ok()?;
                let rel = |f: &PathBuf| {
                    let r = f.strip_prefix(&abs).ok()?.to_string_lossy().into_owned();
                    Some((r, f.clone()))
                };
                return Some(Bytes::Tree(files.iter().filter_map(rel).collect()));
            }
            return Some(Bytes::File(abs));
        }
    }
    if h.starts_with("tree:") {
        cache.tree(h).map(Bytes::Tree)
    } else {
        cache.object(h).map(Bytes::File)
    }
}

/// A numeric column compared between the sides.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnDiff {
    pub table: String,
    pub column: String,
    /// Rows present on both sides.
    pub matched: usize,
    pub changed: usize,
    /// The largest |new - old| over matched rows with finite values on both sides (0 when none).
    pub max_abs_change: f64,
    /// The largest changes: key, old, new.
    pub top: Vec<RowChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RowChange {
    pub key: String,
    pub old: Option<f64>,
    pub new: Option<f64>,
}

/// One result table compared.
#[derive(Debug, Clone, Serialize)]
pub struct TableDiff {
    pub table: String,
    /// `stage.port`.
    pub output: String,
    pub rows_old: usize,
    pub rows_new: usize,
    pub only_old: usize,
    pub only_new: usize,
    pub columns: Vec<ColumnDiff>,
}

/// One number of summary.json.
#[derive(Debug, Clone, Serialize)]
pub struct NumberDiff {
    pub path: String,
    pub old: Option<f64>,
    pub new: Option<f64>,
}

/// Everything `diff` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub old: String,
    pub new: String,
    pub tables: Vec<TableDiff>,
    /// Changed numbers of summary.json (all of them compared; only changes listed).
    pub summary: Vec<NumberDiff>,
    /// Every summary number compared, path to |change| (for `--fail-on`).
    #[serde(skip)]
    pub summary_all: BTreeMap<String, f64>,
    /// Outputs whose bytes could not be found: `stage.port at SIDE`.
    pub missing: Vec<String>,
    /// Every summary.json number of either side, changed or not (what a `--fail-on` rule may
    /// name).
    #[serde(skip)]
    pub summary_names: BTreeSet<String>,
}

/// Compares the result tables and summary.json of two sides.
pub fn compare(p: &Pipeline, cache: &Cache, old: &Side, new: &Side) -> Report {
    let mut report = Report {
        old: old.label.clone(),
        new: new.label.clone(),
        tables: Vec::new(),
        summary: Vec::new(),
        summary_all: BTreeMap::new(),
        missing: Vec::new(),
        summary_names: BTreeSet::new(),
    };
    let stages: BTreeSet<&String> = old
        .lock
        .stages
        .keys()
        .chain(new.lock.stages.keys())
        .collect();
    for stage in stages {
        let (o, n) = (old.lock.stages.get(stage), new.lock.stages.get(stage));
        let ports: BTreeSet<&String> = o
            .iter()
            .flat_map(|l| l.outputs.keys())
            .chain(n.iter().flat_map(|l| l.outputs.keys()))
            .collect();
        for port in ports {
            let name = format!("{stage}.{port}");
            let fo = o.and_then(|l| l.outputs.get(port));
            let fnew = n.and_then(|l| l.outputs.get(port));
            let (Some(fo), Some(fnew)) = (fo, fnew) else {
                continue;
            };
            if fo.blake3 == fnew.blake3 {
                // Unchanged: only the names of its summary numbers are noted.
                if let Some(Bytes::Tree(t)) = fnew
                    .blake3
                    .starts_with("tree:")
                    .then(|| locate(p, cache, new, &fnew.path, &fnew.blake3))
                    .flatten()
                {
                    for (rel, f) in &t {
                        if rel == "summary.json" || rel.ends_with("/summary.json") {
                            report.summary_names.extend(summary_numbers(f).into_keys());
                        }
                    }
                }
                continue;
            }
            let bo = locate(p, cache, old, &fo.path, &fo.blake3);
            let bn = locate(p, cache, new, &fnew.path, &fnew.blake3);
            for (b, side) in [(&bo, old), (&bn, new)] {
                if b.is_none() {
                    report.missing.push(format!(
                        "{name} at {}: not in the run cache (run the pipeline at that revision to store it)",
                        side.label
                    ));
                }
            }
            match (bo, bn) {
                (Some(Bytes::File(a)), Some(Bytes::File(b))) => {
                    if let Some(t) = table_diff(&name, &a, &b) {
                        report.tables.push(t);
                    }
                }
                (Some(Bytes::Tree(a)), Some(Bytes::Tree(b))) => {
                    for (rel, pa) in &a {
                        if !(rel == "summary.json" || rel.ends_with("/summary.json")) {
                            continue;
                        }
                        if let Some(pb) = b.get(rel) {
                            summary_diff(pa, pb, &mut report);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    report
}

/// Numeric columns of a table as f64 by row, and the row keys.
struct Loaded {
    table: String,
    keys: Vec<String>,
    columns: BTreeMap<String, Vec<Option<f64>>>,
}

fn load(path: &Path) -> Option<Loaded> {
    let t = tables::read_any(path).ok()?;
    let table = t.meta.get("agingflow.table")?.to_owned();
    if !RESULT_TABLES.contains(&table.as_str()) {
        return None;
    }
    let key_cols: Vec<&str> = tables::keys_of(&table).unwrap_or(&[]).to_vec();
    let mut keys = Vec::new();
    let mut columns: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    for batch in &t.batches {
        for i in 0..batch.num_rows() {
            keys.push(key_text(batch, i, &key_cols));
        }
        for (f, col) in t.schema.fields().iter().zip(batch.columns()) {
            if key_cols.contains(&f.name().as_str()) {
                continue;
            }
            let any = col.as_any();
            let values: Option<Vec<Option<f64>>> =
                if let Some(a) = any.downcast_ref::<Float64Array>() {
                    Some(
                        (0..a.len())
                            .map(|i| a.is_valid(i).then(|| a.value(i)))
                            .collect(),
                    )
                } else if let Some(a) = any.downcast_ref::<Int64Array>() {
                    Some(
                        (0..a.len())
                            .map(|i| a.is_valid(i).then(|| a.value(i) as f64))
                            .collect(),
                    )
                } else {
                    any.downcast_ref::<Int32Array>().map(|a| {
                        (0..a.len())
                            .map(|i| a.is_valid(i).then(|| f64::from(a.value(i))))
                            .collect()
                    })
                };
            if let Some(v) = values {
                columns.entry(f.name().clone()).or_default().extend(v);
            }
        }
    }
    Some(Loaded {
        table,
        keys,
        columns,
    })
}

fn key_text(batch: &RecordBatch, i: usize, keys: &[&str]) -> String {
    let mut parts = Vec::new();
    for k in keys {
        let Some(col) = batch.column_by_name(k) else {
            continue;
        };
        let any = col.as_any();
        let text = if col.is_null(i) {
            "-".to_owned()
        } else if let Some(a) = any.downcast_ref::<StringArray>() {
            a.value(i).to_owned()
        } else if let Some(a) = any.downcast_ref::<Float64Array>() {
            format!("{}", a.value(i))
        } else if let Some(a) = any.downcast_ref::<Int64Array>() {
            a.value(i).to_string()
        } else {
            "?".to_owned()
        };
        parts.push(format!("{k}={text}"));
    }
    parts.join(" ")
}

fn same(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x.to_bits() == y.to_bits() || x == y,
        (None, None) => true,
        _ => false,
    }
}

fn table_diff(name: &str, a: &Path, b: &Path) -> Option<TableDiff> {
    let (old, new) = (load(a)?, load(b)?);
    let index_new: BTreeMap<&str, usize> = new
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let index_old: BTreeSet<&str> = old.keys.iter().map(String::as_str).collect();
    let pairs: Vec<(usize, usize)> = old
        .keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| index_new.get(k.as_str()).map(|&j| (i, j)))
        .collect();
    let mut columns = Vec::new();
    for (col, ov) in &old.columns {
        let Some(nv) = new.columns.get(col) else {
            continue;
        };
        let mut changes: Vec<(f64, RowChange)> = Vec::new();
        let mut max_abs = 0.0f64;
        for &(i, j) in &pairs {
            let (x, y) = (ov.get(i).copied().flatten(), nv.get(j).copied().flatten());
            if same(x, y) {
                continue;
            }
            let d = match (x, y) {
                (Some(x), Some(y)) if (y - x).is_finite() => (y - x).abs(),
                _ => f64::INFINITY,
            };
            if d.is_finite() {
                max_abs = max_abs.max(d);
            }
            changes.push((
                d,
                RowChange {
                    key: old.keys[i].clone(),
                    old: x,
                    new: y,
                },
            ));
        }
        let changed = changes.len();
        changes.sort_by(|p, q| q.0.total_cmp(&p.0).then_with(|| p.1.key.cmp(&q.1.key)));
        columns.push(ColumnDiff {
            table: old.table.clone(),
            column: col.clone(),
            matched: pairs.len(),
            changed,
            max_abs_change: max_abs,
            top: changes.into_iter().take(TOP_ROWS).map(|(_, r)| r).collect(),
        });
    }
    Some(TableDiff {
        table: old.table.clone(),
        output: name.to_owned(),
        rows_old: old.keys.len(),
        rows_new: new.keys.len(),
        only_old: old.keys.len() - pairs.len(),
        only_new: new
            .keys
            .iter()
            .filter(|k| !index_old.contains(k.as_str()))
            .count(),
        columns,
    })
}

fn flatten(v: &serde_json::Value, path: String, out: &mut BTreeMap<String, f64>) {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.insert(path, x);
            }
        }
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(x, p, out);
            }
        }
        serde_json::Value::Array(a) => {
            // Groups are named by what identifies them (material, series, strain, temperature)
            // where that is unique in the list, else by position.
            let labels: Vec<String> = a.iter().map(group_label).collect();
            let unique = labels.iter().collect::<BTreeSet<_>>().len() == labels.len();
            for (i, x) in a.iter().enumerate() {
                let name = if unique && !labels[i].is_empty() {
                    labels[i].clone()
                } else {
                    i.to_string()
                };
                flatten(x, format!("{path}[{name}]"), out);
            }
        }
        _ => {}
    }
}

/// `TiZrHfCuNiBe 633 K` for a summary group (empty for anything else).
fn group_label(v: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    if let Some(m) = v.get("material").and_then(|x| x.as_str()) {
        parts.push(m.to_owned());
    }
    if let Some(s) = v.get("series").and_then(|x| x.as_str()) {
        parts.push(s.to_owned());
    }
    if let Some(e) = v.get("strain").and_then(|x| x.as_f64()) {
        parts.push(format!("strain {e}"));
    }
    if let Some(t) = v.get("temperature_k").and_then(|x| x.as_f64()) {
        parts.push(format!("{t} K"));
    }
    parts.join(" ")
}

/// Every number of a summary.json, by path (empty when unreadable).
fn summary_numbers(p: &Path) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    if let Some(v) = std::fs::read(p)
        .ok()
        .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
    {
        flatten(&v, String::new(), &mut out);
    }
    out
}

fn summary_diff(a: &Path, b: &Path, report: &mut Report) {
    let (old, new) = (summary_numbers(a), summary_numbers(b));
    report.summary_names.extend(old.keys().cloned());
    report.summary_names.extend(new.keys().cloned());
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for path in paths {
        let (x, y) = (old.get(path).copied(), new.get(path).copied());
        let d = match (x, y) {
            (Some(x), Some(y)) => (y - x).abs(),
            _ => f64::INFINITY,
        };
        report.summary_all.insert(path.clone(), d);
        if !same(x, y) {
            report.summary.push(NumberDiff {
                path: path.clone(),
                old: x,
                new: y,
            });
        }
    }
}

/// A `--fail-on` rule: `NAME > LIMIT` or `NAME >= LIMIT`, where NAME is a column (`beta`, in any
/// result table), `table.column`, or the path of a summary.json number (or its last part).
#[derive(Debug, Clone, PartialEq)]
pub struct FailOn {
    pub name: String,
    pub or_equal: bool,
    pub limit: f64,
}

impl FailOn {
    pub fn parse(text: &str) -> Result<FailOn, String> {
        let (name, or_equal, rest) = if let Some((n, r)) = text.split_once(">=") {
            (n, true, r)
        } else if let Some((n, r)) = text.split_once('>') {
            (n, false, r)
        } else {
            return Err(format!(
                "--fail-on `{text}`: expected `NAME > LIMIT` (for example `beta > 0.005`)"
            ));
        };
        let name = name.trim();
        let limit: f64 = rest
            .trim()
            .parse()
            .map_err(|_| format!("--fail-on `{text}`: `{}` is not a number", rest.trim()))?;
        if name.is_empty() || !limit.is_finite() || limit < 0.0 {
            return Err(format!(
                "--fail-on `{text}`: expected a name and a limit >= 0 (the largest |change| is compared)"
            ));
        }
        Ok(FailOn {
            name: name.to_owned(),
            or_equal,
            limit,
        })
    }

    /// The largest |change| of what the rule names, or None when nothing compared has that name.
    pub fn measure(&self, r: &Report) -> Option<f64> {
        let mut found: Option<f64> = None;
        let mut take = |d: f64| found = Some(found.map_or(d, |f: f64| f.max(d)));
        for t in &r.tables {
            for c in &t.columns {
                if c.column == self.name || format!("{}.{}", c.table, c.column) == self.name {
                    // A value that became null or non-finite is an infinite change.
                    let infinite = c.top.iter().any(|row| match (row.old, row.new) {
                        (Some(x), Some(y)) => !(y - x).is_finite(),
                        _ => true,
                    });
                    take(if infinite {
                        f64::INFINITY
                    } else {
                        c.max_abs_change
                    });
                }
            }
        }
        for (path, d) in &r.summary_all {
            if *path == self.name || path.rsplit(['.', ']']).next() == Some(self.name.as_str()) {
                take(*d);
            }
        }
        found
    }

    /// Whether the rule's name is a numeric column of a result table (`beta`,
    /// `kww_fits.tau_s`) or a summary.json number of either side (its path or last part): a rule
    /// naming nothing that exists (a typo) can never be crossed, so a gate refuses it.
    pub fn names_something(&self, r: &Report) -> bool {
        let column = RESULT_TABLES.iter().any(|t| {
            tables::columns_of(t).is_some_and(|cols| {
                cols.iter().any(|c| {
                    c.data_type.is_numeric()
                        && (c.name == self.name || format!("{t}.{}", c.name) == self.name)
                })
            })
        });
        column
            || r.summary_names.iter().any(|path| {
                *path == self.name || path.rsplit(['.', ']']).next() == Some(self.name.as_str())
            })
    }

    pub fn crossed(&self, value: f64) -> bool {
        if self.or_equal {
            value >= self.limit
        } else {
            value > self.limit
        }
    }
}

fn num(x: Option<f64>) -> String {
    match x {
        Some(v) => format!("{}", Sig(v)),
        None => "null".to_owned(),
    }
}

/// A number to 6 significant digits.
struct Sig(f64);

impl std::fmt::Display for Sig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        if v == 0.0 || !v.is_finite() {
            return write!(f, "{v}");
        }
        let mag = v.abs().log10().floor() as i32;
        if !(-4..6).contains(&mag) {
            write!(f, "{v:.5e}")
        } else {
            let decimals = (5 - mag).max(0) as usize;
            let s = format!("{v:.decimals$}");
            let s = if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                s
            };
            write!(f, "{s}")
        }
    }
}

fn delta(old: Option<f64>, new: Option<f64>) -> String {
    match (old, new) {
        (Some(x), Some(y)) => {
            let d = y - x;
            if d >= 0.0 {
                format!("+{}", Sig(d))
            } else {
                format!("{}", Sig(d))
            }
        }
        _ => "".to_owned(),
    }
}

/// The report as text lines.
pub fn text(r: &Report) -> String {
    let mut s = format!("agingflow diff: {} -> {}\n", r.old, r.new);
    let mut any = false;
    for t in &r.tables {
        let changed: Vec<&ColumnDiff> = t.columns.iter().filter(|c| c.changed > 0).collect();
        if changed.is_empty() && t.only_old == 0 && t.only_new == 0 {
            continue;
        }
        any = true;
        s.push_str(&format!(
            "\n{} ({}): {} -> {} rows{}\n",
            t.table,
            t.output,
            t.rows_old,
            t.rows_new,
            if t.only_old + t.only_new > 0 {
                format!(", {} only before, {} only after", t.only_old, t.only_new)
            } else {
                String::new()
            }
        ));
        for c in changed {
            s.push_str(&format!(
                "  {:<24} {} of {} rows changed, largest |change| {}\n",
                c.column,
                c.changed,
                c.matched,
                Sig(c.max_abs_change)
            ));
            for row in &c.top {
                s.push_str(&format!(
                    "      {}: {} -> {} ({})\n",
                    row.key,
                    num(row.old),
                    num(row.new),
                    delta(row.old, row.new)
                ));
            }
        }
    }
    if !r.summary.is_empty() {
        any = true;
        s.push_str("\nsummary.json\n");
        for n in &r.summary {
            s.push_str(&format!(
                "  {}: {} -> {} ({})\n",
                n.path,
                num(n.old),
                num(n.new),
                delta(n.old, n.new)
            ));
        }
    }
    for m in &r.missing {
        any = true;
        s.push_str(&format!("\nmissing: {m}\n"));
    }
    if !any {
        s.push_str("no result changed\n");
    }
    s
}

/// The report as Markdown, for a pull-request comment.
pub fn markdown(r: &Report) -> String {
    let mut s = format!("### agingflow diff: `{}` → `{}`\n", r.old, r.new);
    let mut rows = Vec::new();
    for t in &r.tables {
        for c in t.columns.iter().filter(|c| c.changed > 0) {
            rows.push(format!(
                "| `{}` | `{}` | {} of {} | {} |",
                t.table,
                c.column,
                c.changed,
                c.matched,
                Sig(c.max_abs_change)
            ));
        }
    }
    if !rows.is_empty() {
        s.push_str(
            "\n| table | column | rows changed | largest \\|change\\| |\n|---|---|---|---|\n",
        );
        for row in rows {
            s.push_str(&row);
            s.push('\n');
        }
        s.push_str("\n<details><summary>largest changes</summary>\n\n| table | column | row | before | after | change |\n|---|---|---|---|---|---|\n");
        for t in &r.tables {
            for c in t.columns.iter().filter(|c| c.changed > 0) {
                for row in &c.top {
                    s.push_str(&format!(
                        "| `{}` | `{}` | {} | {} | {} | {} |\n",
                        t.table,
                        c.column,
                        row.key,
                        num(row.old),
                        num(row.new),
                        delta(row.old, row.new)
                    ));
                }
            }
        }
        s.push_str("\n</details>\n");
    }
    if !r.summary.is_empty() {
        s.push_str("\n| summary.json | before | after | change |\n|---|---|---|---|\n");
        for n in &r.summary {
            s.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                n.path,
                num(n.old),
                num(n.new),
                delta(n.old, n.new)
            ));
        }
    }
    for m in &r.missing {
        s.push_str(&format!("\n> missing: {m}\n"));
    }
    if rows_empty(r) {
        s.push_str("\nNo result changed.\n");
    }
    s
}

fn rows_empty(r: &Report) -> bool {
    r.summary.is_empty()
        && r.missing.is_empty()
        && r.tables
            .iter()
            .all(|t| t.columns.iter().all(|c| c.changed == 0) && t.only_old + t.only_new == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_rules_parse_and_refuse() {
        assert_eq!(
            FailOn::parse("beta > 0.005").unwrap(),
            FailOn {
                name: "beta".into(),
                or_equal: false,
                limit: 0.005
            }
        );
        assert!(FailOn::parse("kww_fits.beta >= 1e-3").unwrap().or_equal);
        assert!(FailOn::parse("beta < 1").is_err());
        assert!(FailOn::parse("beta > x").is_err());
        assert!(FailOn::parse(" > 1").is_err());
    }

    #[test]
    fn summary_groups_are_named_by_material_and_temperature() {
        let v = serde_json::json!({"groups": [
            {"material": "PVC", "temperature_k": 333.0, "mu1": 0.5},
            {"material": "PVC", "temperature_k": 343.0, "mu1": 0.6, "ci": [1.0, 2.0]}
        ]});
        let mut out = BTreeMap::new();
        flatten(&v, String::new(), &mut out);
        assert_eq!(out["groups[PVC 333 K].mu1"], 0.5);
        assert_eq!(out["groups[PVC 343 K].ci[1]"], 2.0);
        assert_eq!(out["groups[PVC 343 K].temperature_k"], 343.0);
    }

    #[test]
    fn numbers_print_to_six_significant_digits() {
        assert_eq!(Sig(0.51234567).to_string(), "0.512346");
        assert_eq!(Sig(1234.5).to_string(), "1234.5");
        assert_eq!(Sig(2.0e-7).to_string(), "2.00000e-7");
        assert_eq!(delta(Some(1.0), Some(0.5)), "-0.5");
    }
}
