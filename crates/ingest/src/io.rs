//! The disk side of ingest: read each raw file, report it to the runner, parse and extract in
//! parallel a batch at a time, and stream the curves into the tables in key order.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use campaign::{Campaign, Item};
use formats::{FormatError, ReadOptions, parse, parse_auto};
use rayon::prelude::*;
use stage_cli::Progress;
use tables::items::{ItemCache, KeyBuilder};
use tables::segments::{OldTable, SegmentWriter};
use tables::{CurveTable, DmaSweepRaw, DscRaw, IndentationRaw, Provenance, RelaxationRaw};

use crate::extract::{self, Notes, declared_format};
use crate::{IngestError, Params, Summary};

fn read_parse(item: &Item) -> Result<(formats::Parsed, u64), String> {
    let bytes = guard::read_input(&item.path, "a raw file the manifest names")
        .map_err(|e| e.to_string())?;
    stage_cli::report_read_bytes(&item.path, &bytes);
    let opts = ReadOptions {
        decimal_comma: item.decimal_comma,
    };
    let parsed = match declared_format(item.format) {
        Some(f) => parse(&bytes, f, opts),
        None => parse_auto(&bytes, opts),
    };
    parsed
        .map(|p| (p, bytes.len() as u64))
        .map_err(|e| located(item, &e))
}

fn located(item: &Item, e: &FormatError) -> String {
    match e.line {
        Some(l) => format!("{}:{l}: {}", item.path.display(), e.message),
        None => format!("{}: {}", item.path.display(), e.message),
    }
}

/// Turns one parsed file into its curves (one, or one per sheet of a G200 workbook).
type Extractor<T> = fn(&Item, &formats::Parsed) -> Result<(Vec<T>, Notes), FormatError>;

fn relaxation(
    item: &Item,
    p: &formats::Parsed,
) -> Result<(Vec<RelaxationRaw>, Notes), FormatError> {
    extract::relaxation(item, p).map(|(c, n)| (vec![c], n))
}

fn dsc(item: &Item, p: &formats::Parsed) -> Result<(Vec<DscRaw>, Notes), FormatError> {
    extract::dsc(item, p).map(|(c, n)| (vec![c], n))
}

fn dma_sweep(item: &Item, p: &formats::Parsed) -> Result<(Vec<DmaSweepRaw>, Notes), FormatError> {
    extract::dma_sweep(item, p).map(|(c, n)| (vec![c], n))
}

/// The key of one file in ingest's table cache: the file's content hash and its manifest entry
/// (all of it but the line it is on, which only error messages use). The reader's version is the
/// cache folder's (one per binary).
fn file_key(item: &Item, content: &str) -> String {
    let entry = Item {
        line: 0,
        real: PathBuf::new(),
        ..item.clone()
    };
    KeyBuilder::new("ingest file")
        .text(&format!("{entry:?}"))
        .text(content)
        .finish()
}

/// One kind's table: written and not yet in place, or found whole in ingest's table cache.
enum Pending<T: CurveTable> {
    Written {
        writer: Box<SegmentWriter<T>>,
        /// Where to keep the finished table (cache path, and the sidecar's counts and warnings).
        store: Option<(PathBuf, serde_json::Value)>,
    },
    Cached(PathBuf),
    /// A table folder (`--parts`), built beside its target; the kept parts this run did not use
    /// are pruned after the commit.
    Parts {
        staged: guard::StagedDir,
        prune: Option<Prune>,
        _t: std::marker::PhantomData<T>,
    },
}

/// The kept parts of one table: folder, file-name prefix, the ones this run used.
struct Prune {
    dir: PathBuf,
    prefix: String,
    used: HashSet<PathBuf>,
}

impl<T: CurveTable> Pending<T> {
    /// Moves the table into place at `out` (and keeps a written one in the table cache).
    fn commit(self, out: &Path) -> Result<(), IngestError> {
        match self {
            Pending::Cached(from) => Ok(guard::link_or_copy(&from, out)?),
            Pending::Parts { staged, prune, .. } => {
                staged.commit()?;
                if let Some(p) = prune
                    && let Ok(listing) = std::fs::read_dir(&p.dir)
                {
                    for e in listing.flatten() {
                        let path = e.path();
                        let name = e.file_name().to_string_lossy().into_owned();
                        let part = path.with_extension("parquet");
                        if name.starts_with(&p.prefix) && !p.used.contains(&part) {
                            let _ = guard::remove_scratch(&path);
                        }
                    }
                }
                Ok(())
            }
            Pending::Written { writer, store } => {
                let hash = writer.finish()?;
                if let Some((entry, mut side)) = store {
                    // The table is ingest's own output: a failure to keep it costs a rebuild
                    // next time, nothing else.
                    side["blake3"] = serde_json::Value::String(hash.to_hex().to_string());
                    if let Err(e) = keep_table(out, &entry, &side) {
                        tracing::debug!("ingest table cache {}: {e}", entry.display());
                    }
                }
                Ok(())
            }
        }
    }
}

/// The table cache entry of one kind: `<item cache>/tables/<table>-<key>.parquet`, with a sidecar
/// `.json` holding the file's hash, the counts and the warnings of the run that wrote it.
fn table_entry(cache: &ItemCache, table: &str, key: &str) -> Option<PathBuf> {
    Some(
        cache
            .dir()?
            .join("tables")
            .join(format!("{table}-{key}.parquet")),
    )
}

fn sidecar(entry: &Path) -> PathBuf {
    entry.with_extension("json")
}

/// Links the finished table into the cache, writes its sidecar, and removes the table's older
/// entries (the run cache keeps older outputs; this cache only spares rebuilding the current one).
fn keep_table(out: &Path, entry: &Path, side: &serde_json::Value) -> Result<(), String> {
    let dir = entry.parent().ok_or("no folder")?;
    guard::create_dirs(dir).map_err(|e| e.to_string())?;
    guard::link_or_copy(out, entry).map_err(|e| e.to_string())?;
    guard::write_cache_file(&sidecar(entry), side.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let name = entry.file_name().map(|n| n.to_string_lossy().into_owned());
    let prefix = name
        .as_deref()
        .and_then(|n| n.split_once('-'))
        .map(|(t, _)| format!("{t}-"));
    if let (Some(prefix), Ok(listing)) = (prefix, std::fs::read_dir(dir)) {
        for e in listing.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let stem = n.trim_end_matches(".parquet").trim_end_matches(".json");
            let mine = name.as_deref().map(|m| m.trim_end_matches(".parquet"));
            if n.starts_with(&prefix) && Some(stem) != mine {
                let _ = guard::remove_scratch(&e.path());
            }
        }
    }
    Ok(())
}

/// The cached table at `entry` when its sidecar is there and the file hashes to what it says.
fn cached_table(entry: &Path) -> Option<serde_json::Value> {
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sidecar(entry)).ok()?).ok()?;
    let want = side["blake3"].as_str()?;
    let got = stage_cli::hashes::stage_file_hash(entry).ok()?;
    (got.to_hex().as_str() == want).then_some(side)
}

/// The table of a kind the last run kept (any key), verified by its hash, with its groups: key
/// to (first row group, row groups, the group's counts and warnings).
struct Previous {
    table: OldTable,
    groups: HashMap<String, (usize, usize, Group)>,
}

fn previous_table(cache: &ItemCache, table: &str) -> Option<Previous> {
    let dir = cache.dir()?.join("tables");
    let entry = std::fs::read_dir(&dir).ok()?.flatten().find_map(|e| {
        let n = e.file_name().to_string_lossy().into_owned();
        (n.starts_with(&format!("{table}-")) && n.ends_with(".parquet")).then(|| e.path())
    })?;
    let side = cached_table(&entry)?;
    let old = OldTable::open(&entry).ok()?;
    let mut groups = HashMap::new();
    let mut start = 0;
    for g in side["groups"].as_array()? {
        let n = g["row_groups"].as_u64()? as usize;
        let info = Group {
            old: Some(start..start + n),
            ..group_from_json(g)?
        };
        if let Some(k) = g["key"].as_str().filter(|k| !k.is_empty()) {
            groups.insert(k.to_owned(), (start, n, info));
        }
        start += n;
    }
    (start == old.row_groups()).then_some(Previous { table: old, groups })
}

/// Content hashes of the items through the runner's memo (an unchanged file is not read at all)
/// and each item's key ([`file_key`]); none without the item cache.
type FileKeys = (Option<Vec<(String, blake3::Hash)>>, Option<Vec<String>>);

fn file_keys(cache: &ItemCache, items: &[Item]) -> FileKeys {
    let hashes: Option<Vec<(String, blake3::Hash)>> = cache
        .enabled()
        .then(|| {
            items
                .par_iter()
                .map(|i| {
                    stage_cli::hashes::stage_file_hash(&i.path)
                        .ok()
                        .map(|h| (h.to_hex().to_string(), h))
                })
                .collect()
        })
        .flatten();
    // On all cores: a key formats the whole manifest entry, some microseconds a file.
    let keys = hashes.as_ref().map(|h| {
        items
            .par_iter()
            .zip(h.par_iter())
            .map(|(i, h)| file_key(i, &h.0))
            .collect()
    });
    (hashes, keys)
}

/// Tells the runner that the files of `items` were read, as the hashes say (files whose content
/// is reused from the cache), in one record.
fn report_reads<'a>(items: &[Item], hashes: impl IntoIterator<Item = &'a (String, blake3::Hash)>) {
    let reads: Vec<(&Path, blake3::Hash)> = items
        .iter()
        .zip(hashes)
        .map(|(item, h)| (item.path.as_path(), h.1))
        .collect();
    stage_cli::report_read_hashes(&reads);
}

/// The key of a group of files (or of a whole kind: `what` tells) under ingest's options.
fn group_key<T: CurveTable>(what: &str, params: &str, keys: &[String]) -> String {
    keys.iter()
        .fold(KeyBuilder::new(what).text(T::NAME).text(params), |k, f| {
            k.text(f)
        })
        .finish()
}

/// What [`ingest_kind`] gives: the unfinished table, then (curves, points, skipped, bytes).
type KindResult<T> = Result<(Pending<T>, usize, usize, usize, u64), IngestError>;

/// The groups of consecutive items whose curves make one segment of the table (cut by their
/// ids' content: `tables::segments::content_groups`).
fn groups(items: &[Item]) -> Vec<std::ops::Range<usize>> {
    tables::segments::content_groups(items.iter().map(|i| i.id.as_str()))
}

/// One group's share of the table: its encoded segment (none after a failure), counts, the
/// warnings to log and the files that failed.
#[derive(Clone)]
struct Group {
    segment: Option<Vec<u8>>,
    /// The row groups of the previous table that hold this group, when unchanged.
    old: Option<std::ops::Range<usize>>,
    curves: usize,
    points: usize,
    bytes: u64,
    warnings: Vec<String>,
    errors: Vec<String>,
    cached: bool,
}

/// A group as the sidecar of a kept table lists it.
fn group_json(key: &str, row_groups: usize, g: &Group) -> serde_json::Value {
    serde_json::json!({
        "key": key, "row_groups": row_groups, "curves": g.curves, "points": g.points,
        "bytes": g.bytes, "warnings": g.warnings,
    })
}

/// A group as [`group_json`] lists it, marked as taken from the cache.
fn group_from_json(g: &serde_json::Value) -> Option<Group> {
    let num = |k: &str| g[k].as_u64();
    Some(Group {
        segment: None,
        old: None,
        curves: num("curves")? as usize,
        points: num("points")? as usize,
        bytes: num("bytes")?,
        warnings: g["warnings"]
            .as_array()?
            .iter()
            .filter_map(|w| w.as_str().map(str::to_owned))
            .collect(),
        errors: Vec::new(),
        cached: true,
    })
}

/// Parses and extracts the files of one group and encodes their curves, or takes the group's
/// row groups from the previous table when it holds the group unchanged (same key).
fn one_group<T: CurveTable>(
    items: &[Item],
    hashes: Option<&[(String, blake3::Hash)]>,
    key: Option<&str>,
    previous: Option<&Previous>,
    prov: &Provenance,
    skip_bad: bool,
    extract: Extractor<T>,
) -> Result<Group, IngestError> {
    if let (Some(k), Some(prev)) = (key, previous)
        && let Some((_, _, g)) = prev.groups.get(k)
    {
        report_reads(items, hashes.into_iter().flatten());
        return Ok(g.clone());
    }
    let mut g = Group {
        segment: None,
        old: None,
        curves: 0,
        points: 0,
        bytes: 0,
        warnings: Vec::new(),
        errors: Vec::new(),
        cached: false,
    };
    let mut curves: Vec<T> = Vec::new();
    // The files are parsed on all cores (a changed group is often the only work of a run) and
    // taken in their order.
    let parsed: Vec<_> = items
        .par_iter()
        .map(|item| {
            read_parse(item).and_then(|(parsed, n)| {
                let (c, notes) = extract(item, &parsed).map_err(|e| located(item, &e))?;
                Ok((c, notes, n))
            })
        })
        .collect();
    for (item, done) in items.iter().zip(parsed) {
        match done {
            Ok((file_curves, notes, n)) => {
                for w in &notes.warnings {
                    g.warnings.push(format!("{}: {w}", item.path.display()));
                }
                if notes.dropped_rows > 0 {
                    g.warnings.push(format!(
                        "{}: {} rows without a needed value were dropped",
                        item.path.display(),
                        notes.dropped_rows
                    ));
                }
                for c in &file_curves {
                    g.points += c.len()?;
                }
                g.curves += file_curves.len();
                g.bytes += n;
                curves.extend(file_curves);
            }
            Err(e) => {
                if skip_bad {
                    g.warnings.push(format!("skipped {e}"));
                }
                g.errors.push(e);
            }
        }
    }
    if g.errors.is_empty() || skip_bad {
        g.segment = Some(tables::segments::encode_segment(&curves, prov)?);
    }
    Ok(g)
}

/// Reads one kind of item into one table, returning the unfinished table (committed by the
/// caller once every kind has succeeded, so a failed run leaves no table behind) and (curves,
/// points, skipped, bytes).
///
/// The table is the segments of groups of consecutive files (see [`groups`]) spliced in order.
/// Under the runner (issue 18) a group whose files are all unchanged (content, manifest entry) is
/// not read again: its segment comes from the item cache, keyed by the files' hashes. When no
/// file of the kind changed, the table is the one the last run wrote, kept hard-linked in the
/// cache and verified by its hash. The table's bytes are those of a run from scratch either way.
///
/// Windows of groups are parsed in parallel; a writer thread splices the previous window's
/// segments meanwhile, so memory holds at most three windows.
fn ingest_kind<T: CurveTable + 'static>(
    items: &[Item],
    out: &Path,
    prov: &Provenance,
    skip_bad: bool,
    label: &str,
    extract: Extractor<T>,
) -> KindResult<T> {
    let cache = ItemCache::from_env();
    let (hashes, keys) = file_keys(&cache, items);
    let params = prov.params.to_string();
    let keyed = |what: &str, keys: &[String]| group_key::<T>(what, &params, keys);
    let entry = keys
        .as_ref()
        .and_then(|k| table_entry(&cache, T::NAME, &keyed("ingest table", k)));
    if let (Some(entry), Some(hashes)) = (&entry, &hashes)
        && let Some(side) = cached_table(entry)
    {
        report_reads(items, hashes);
        for w in side["warnings"].as_array().into_iter().flatten() {
            tracing::warn!("{}", w.as_str().unwrap_or_default());
        }
        tracing::info!(
            "{label}: all {} files unchanged: the table is the one the last run wrote",
            items.len()
        );
        let n = |k: &str| side[k].as_u64().unwrap_or(0);
        return Ok((
            Pending::Cached(entry.clone()),
            n("curves") as usize,
            n("points") as usize,
            n("skipped") as usize,
            n("bytes"),
        ));
    }
    let mut writer = SegmentWriter::<T>::create(out, prov)?;
    let progress = Progress::new(label, items.len());
    let groups = groups(items);
    // The table the last run kept: the row groups of its unchanged groups are taken as they are.
    let previous = keys.as_ref().and_then(|_| previous_table(&cache, T::NAME));
    let window = (2 * rayon::current_num_threads()).max(8);
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let (mut curves, mut points, mut bytes, mut reused) = (0, 0, 0, 0);
    // What the sidecar of the new table lists, group by group (key none: not to be reused).
    let mut listed: Vec<(Option<String>, Group)> = Vec::new();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Piece>>(1);
    let old = previous.as_ref().map(|p| &p.table);
    let (writer, counts) = std::thread::scope(
        |scope| -> Result<(SegmentWriter<T>, Vec<usize>), IngestError> {
            let write = scope.spawn(
                move || -> Result<(SegmentWriter<T>, Vec<usize>), tables::TableError> {
                    let mut counts = Vec::new();
                    for pieces in rx {
                        for piece in pieces {
                            counts.push(match (piece, old) {
                                (Piece::New(s), _) => writer.append(s)?,
                                (Piece::Old(r), Some(old)) => {
                                    let n = r.len();
                                    writer.append_old(old, r)?;
                                    n
                                }
                                (Piece::Old(_), None) => {
                                    return Err(tables::TableError::Internal(
                                        "row groups of no previous table".into(),
                                    ));
                                }
                            });
                        }
                    }
                    Ok((writer, counts))
                },
            );
            for batch in groups.chunks(window) {
                let done: Vec<(Option<String>, Result<Group, IngestError>)> = batch
                    .par_iter()
                    .map(|r| {
                        let key = keys.as_ref().map(|k| keyed("ingest group", &k[r.clone()]));
                        let g = one_group(
                            &items[r.clone()],
                            hashes.as_ref().map(|h| &h[r.clone()]),
                            key.as_deref(),
                            previous.as_ref(),
                            prov,
                            skip_bad,
                            extract,
                        );
                        (key, g)
                    })
                    .collect();
                let mut pieces = Vec::with_capacity(done.len());
                for (r, (key, g)) in batch.iter().zip(done) {
                    let mut g = g?;
                    progress.add(r.len());
                    for w in &g.warnings {
                        tracing::warn!("{w}");
                    }
                    warnings.extend(g.warnings.iter().cloned());
                    if g.cached {
                        reused += r.len();
                    }
                    curves += g.curves;
                    points += g.points;
                    bytes += g.bytes;
                    let piece = match (g.segment.take(), g.old.take()) {
                        (Some(s), _) => Some(Piece::New(s)),
                        (None, Some(r)) => Some(Piece::Old(r)),
                        (None, None) => None,
                    };
                    if let Some(piece) = piece {
                        pieces.push(piece);
                        // Only a group whose every file was read may be reused.
                        listed.push((key.filter(|_| g.errors.is_empty()), g.clone()));
                    }
                    errors.extend(g.errors);
                }
                // After a failure (without skipping) the rest is only parsed, to report every
                // error.
                if (errors.is_empty() || skip_bad) && tx.send(pieces).is_err() {
                    break;
                }
            }
            drop(tx);
            Ok(write
                .join()
                .map_err(|_| tables::TableError::Internal("the writer thread panicked".into()))??)
        },
    )?;
    progress.finish();
    if !errors.is_empty() && !skip_bad {
        return Err(IngestError::Files(errors));
    }
    if cache.enabled() {
        tracing::info!(
            "{label}: {reused} of {} files in unchanged groups (not read again)",
            items.len()
        );
    }
    let store = entry.map(|e| {
        let groups: Vec<serde_json::Value> = listed
            .iter()
            .zip(&counts)
            .map(|((key, g), n)| group_json(key.as_deref().unwrap_or(""), *n, g))
            .collect();
        (
            e,
            serde_json::json!({
                "curves": curves, "points": points, "skipped": errors.len(),
                "bytes": bytes, "warnings": warnings, "groups": groups,
            }),
        )
    });
    Ok((
        Pending::Written {
            writer: Box::new(writer),
            store,
        },
        curves,
        points,
        errors.len(),
        bytes,
    ))
}

/// A kept part (`<item cache>/parts/<table>-<group key>.parquet`) with its sidecar, verified by
/// the hash the sidecar gives: the group's counts and warnings.
fn kept_part(part: &Path) -> Option<Group> {
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sidecar(part)).ok()?).ok()?;
    let got = stage_cli::hashes::stage_file_hash(part).ok()?;
    (got.to_hex().as_str() == side["blake3"].as_str()?)
        .then(|| group_from_json(&side["group"]))
        .flatten()
}

/// Where one part of a table folder comes from.
enum PartSource {
    /// A kept part, linked into the folder.
    Kept(PathBuf),
    /// Written into the folder now (no item cache, or a group with a file skipped).
    Written,
    /// None: the group failed (the run fails).
    None,
}

/// [`ingest_kind`] for a table folder (`--parts`): one part per group of files, in order. Under
/// the runner each part is kept in the item cache by its group's key, so a group whose files are
/// unchanged is not read and its part is linked as it is: a grown campaign writes the parts of
/// the groups that changed. The folder's bytes are those of a run from scratch either way.
fn ingest_parts<T: CurveTable + 'static>(
    items: &[Item],
    out: &Path,
    prov: &Provenance,
    skip_bad: bool,
    label: &str,
    extract: Extractor<T>,
) -> KindResult<T> {
    let cache = ItemCache::from_env();
    let (hashes, keys) = file_keys(&cache, items);
    let params = prov.params.to_string();
    let kept_dir = cache.dir().map(|d| d.join("parts"));
    if let Some(d) = &kept_dir {
        guard::create_dirs(d)?;
    }
    let staged = guard::StagedDir::create(out)?;
    let progress = Progress::new(label, items.len());
    let groups = groups(items);
    let (mut errors, mut used) = (Vec::new(), HashSet::new());
    let (mut curves, mut points, mut bytes, mut reused, mut n_parts) = (0, 0, 0, 0, 0);
    // Every group on the pool at once, each writing its own part named by its index (a group
    // that yields nothing leaves a gap in the numbering: parts are read in name order), so no
    // core waits for the slowest group of a batch. After a failure (without skipping) the
    // groups not yet started are only parsed, to report every error; the run then fails.
    let failed = std::sync::atomic::AtomicBool::new(false);
    let done: Vec<Result<(Group, PartSource), IngestError>> = groups
        .par_iter()
        .enumerate()
        .map(|(gi, r)| {
            let kept = keys.as_ref().zip(kept_dir.as_ref()).map(|(k, d)| {
                let key = group_key::<T>("ingest group", &params, &k[r.clone()]);
                d.join(format!("{}-{key}.parquet", T::NAME))
            });
            let item_hashes = hashes.as_ref().map(|h| &h[r.clone()]);
            if let Some(path) = &kept
                && let Some(g) = kept_part(path)
            {
                report_reads(&items[r.clone()], item_hashes.into_iter().flatten());
                progress.add(r.len());
                return Ok((g, PartSource::Kept(path.clone())));
            }
            let write = skip_bad || !failed.load(std::sync::atomic::Ordering::Relaxed);
            let g = one_group(
                &items[r.clone()],
                item_hashes,
                None,
                None,
                prov,
                skip_bad,
                extract,
            );
            progress.add(r.len());
            let mut g =
                g.inspect_err(|_| failed.store(true, std::sync::atomic::Ordering::Relaxed))?;
            if !g.errors.is_empty() && !skip_bad {
                failed.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let Some(segment) = g.segment.take().filter(|_| write) else {
                return Ok((g, PartSource::None));
            };
            // Only a group whose every file was read is kept.
            let keep = kept.filter(|_| g.errors.is_empty());
            let target = keep
                .clone()
                .unwrap_or_else(|| staged.path().join(tables::part_name(gi)));
            let mut w = SegmentWriter::<T>::create(&target, prov)?;
            w.append(segment)?;
            let hash = w.finish()?;
            Ok(match keep {
                Some(path) => {
                    let side = serde_json::json!({
                        "blake3": hash.to_hex().to_string(),
                        "group": group_json("", 0, &g),
                    });
                    guard::write_cache_file(&sidecar(&path), side.to_string().as_bytes())?;
                    (g, PartSource::Kept(path))
                }
                None => (g, PartSource::Written),
            })
        })
        .collect();
    for (gi, d) in done.into_iter().enumerate() {
        let (g, source) = d?;
        for w in &g.warnings {
            tracing::warn!("{w}");
        }
        if g.cached {
            reused += groups[gi].len();
        }
        curves += g.curves;
        points += g.points;
        bytes += g.bytes;
        match source {
            PartSource::Kept(path) => {
                staged.link(Path::new(&tables::part_name(gi)), &path)?;
                used.insert(path);
                n_parts += 1;
            }
            PartSource::Written => n_parts += 1,
            PartSource::None => {}
        }
        errors.extend(g.errors);
    }
    progress.finish();
    if !errors.is_empty() && !skip_bad {
        return Err(IngestError::Files(errors));
    }
    if n_parts == 0 {
        // An empty table: one part with the table's schema and no row.
        SegmentWriter::<T>::create(&staged.path().join(tables::part_name(0)), prov)?.finish()?;
    }
    if cache.enabled() {
        tracing::info!(
            "{label}: {reused} of {} files in unchanged groups (not read again)",
            items.len()
        );
    }
    let prune = kept_dir.map(|dir| Prune {
        dir,
        prefix: format!("{}-", T::NAME),
        used,
    });
    Ok((
        Pending::Parts {
            staged,
            prune,
            _t: std::marker::PhantomData,
        },
        curves,
        points,
        errors.len(),
        bytes,
    ))
}

/// How one kind's table is written: [`ingest_parts`] or [`ingest_kind`].
type KindWriter<T> = fn(&[Item], &Path, &Provenance, bool, &str, Extractor<T>) -> KindResult<T>;

/// The writer of one kind: a table folder with `--parts`, else one file.
fn writer_of<T: CurveTable + 'static>(parts: bool) -> KindWriter<T> {
    if parts {
        ingest_parts::<T>
    } else {
        ingest_kind::<T>
    }
}

/// What the writer thread appends for one group.
enum Piece {
    /// A segment encoded now.
    New(Vec<u8>),
    /// Row groups of the previous table.
    Old(std::ops::Range<usize>),
}

/// The indentation items in the order of the curves they give. A G200 workbook gives one indent
/// per sheet, ids `ITEM/test-001`, ...: such an item sorts as `ITEM/`, so `popin.xls` (curves
/// `popin/test-…`) comes after `popin-2.txt` (`-` sorts before `/`), as the table's key order has
/// it.
///
/// `ITEM/` sorts differently from `ITEM` only against an id that `ITEM` is a proper prefix of
/// (ids with that prefix follow it directly in sorted order), so only such items are opened to
/// sniff whether they are workbooks: usually none of a campaign's thousands of files.
fn indentation_order(items: &[Item]) -> Vec<Item> {
    let mut ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    ids.sort_unstable();
    let prefixes: HashSet<&str> = ids
        .windows(2)
        .filter(|w| w[1].len() > w[0].len() && w[1].starts_with(w[0]))
        .map(|w| w[0])
        .collect();
    let expands = |item: &Item| match item.format {
        campaign::FileFormat::KeysightXls => true,
        campaign::FileFormat::Auto if !prefixes.contains(item.id.as_str()) => false,
        campaign::FileFormat::Auto => {
            let mut head = [0u8; 8];
            std::fs::File::open(&item.path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                .is_ok()
                && formats::is_workbook(&head)
        }
        _ => false,
    };
    let mut keyed: Vec<(String, &Item)> = items
        .iter()
        .map(|i| {
            let id = if expands(i) {
                format!("{}/", i.id)
            } else {
                i.id.clone()
            };
            (id, i)
        })
        .collect();
    keyed.sort_by(|(a, x), (b, y)| {
        x.material
            .cmp(&y.material)
            .then(x.temperature_k.total_cmp(&y.temperature_k))
            .then(x.aging_time_s.total_cmp(&y.aging_time_s))
            .then(a.cmp(b))
    });
    keyed.into_iter().map(|(_, i)| i.clone()).collect()
}

/// Runs ingest: reads the manifest, every raw file, and writes both tables.
pub fn run(p: &Params) -> Result<Summary, IngestError> {
    let mut outs: Vec<&Path> = vec![&p.relaxation_raw, &p.indentation_raw];
    outs.extend(p.dsc_raw.iter().map(|x| x.as_path()));
    outs.extend(p.dma_sweeps_raw.iter().map(|x| x.as_path()));
    tables::start_stage(&outs)?;
    let campaign: Campaign = campaign::load_with(&p.manifest, p.allow_outside)?;
    for note in &campaign.notes {
        tracing::warn!("{}: {note}", p.manifest.display());
    }
    stage_cli::report_read(&p.manifest);
    // Every raw file is read-only from here on: no output may overwrite one (see `guard`).
    for (items, out, section, flag) in [
        (&campaign.dsc, &p.dsc_raw, "dsc", "dsc-raw"),
        (
            &campaign.dma_sweeps,
            &p.dma_sweeps_raw,
            "dma_sweeps",
            "dma-sweeps-raw",
        ),
    ] {
        if !items.is_empty() && out.is_none() {
            tracing::warn!(
                "the manifest lists {} {section} entr{} but no --{flag} output is given: they are not read (add ingest's output `{flag}` to analyse them)",
                items.len(),
                if items.len() == 1 { "y" } else { "ies" }
            );
        }
    }
    for item in campaign
        .relaxation
        .iter()
        .chain(&campaign.indentation)
        .chain(if p.dsc_raw.is_some() {
            &campaign.dsc[..]
        } else {
            &[]
        })
        .chain(if p.dma_sweeps_raw.is_some() {
            &campaign.dma_sweeps[..]
        } else {
            &[]
        })
    {
        guard::protect_as(&item.path, &item.real, "a raw file the manifest names");
    }
    let params = serde_json::json!({ "campaign": campaign.manifest.campaign, "skip_bad_files": p.skip_bad_files });
    let prov = Provenance::new("ingest", params);
    if campaign.relaxation.is_empty() {
        tracing::warn!("the manifest lists no relaxation test: relaxation_raw will be empty");
    }
    if campaign.indentation.is_empty() {
        tracing::warn!("the manifest lists no indentation file: indentation_raw will be empty");
    }
    tracing::info!(
        "{}: {} relaxation tests, {} indents",
        p.manifest.display(),
        campaign.relaxation.len(),
        campaign.indentation.len()
    );
    // The two tables are independent: each has its own writer thread; both share the pool.
    let (relax, indent) = rayon::join(
        || {
            let items = &campaign.relaxation;
            writer_of::<RelaxationRaw>(p.parts)(
                items,
                &p.relaxation_raw,
                &prov,
                p.skip_bad_files,
                "relaxation files",
                relaxation,
            )
        },
        || {
            let items = &indentation_order(&campaign.indentation);
            writer_of::<IndentationRaw>(p.parts)(
                items,
                &p.indentation_raw,
                &prov,
                p.skip_bad_files,
                "indentation files",
                extract::indentation,
            )
        },
    );
    let (w_relax, tests, rpoints, rskip, rbytes) = relax?;
    let (w_indent, indents, ipoints, iskip, ibytes) = indent?;
    // Thermal scans are few: one after the other. Present as empty tables when not listed.
    let (w_dsc, dsc, _, dskip, dbytes) = match &p.dsc_raw {
        Some(out) => {
            let (w, a, b, c, d) = ingest_kind::<DscRaw>(
                &campaign.dsc,
                out,
                &prov,
                p.skip_bad_files,
                "DSC scans",
                dsc,
            )?;
            (Some(w), a, b, c, d)
        }
        None => (None, 0, 0, 0, 0),
    };
    let (w_dma, dma, _, mskip, mbytes) = match &p.dma_sweeps_raw {
        Some(out) => {
            let (w, a, b, c, d) = ingest_kind::<DmaSweepRaw>(
                &campaign.dma_sweeps,
                out,
                &prov,
                p.skip_bad_files,
                "DMA sweeps",
                dma_sweep,
            )?;
            (Some(w), a, b, c, d)
        }
        None => (None, 0, 0, 0, 0),
    };
    let total = campaign.relaxation.len()
        + campaign.indentation.len()
        + if p.dsc_raw.is_some() {
            campaign.dsc.len()
        } else {
            0
        }
        + if p.dma_sweeps_raw.is_some() {
            campaign.dma_sweeps.len()
        } else {
            0
        };
    let skipped = rskip + iskip + dskip + mskip;
    if total > 0 && skipped == total {
        return Err(IngestError::NothingUsable);
    }
    // Every kind succeeded: the tables are committed together.
    w_relax.commit(&p.relaxation_raw)?;
    w_indent.commit(&p.indentation_raw)?;
    if let (Some(w), Some(out)) = (w_dsc, &p.dsc_raw) {
        w.commit(out)?;
    }
    if let (Some(w), Some(out)) = (w_dma, &p.dma_sweeps_raw) {
        w.commit(out)?;
    }
    Ok(Summary {
        relaxation_tests: tests,
        relaxation_points: rpoints,
        indents,
        indentation_points: ipoints,
        dsc_scans: dsc,
        dma_sweeps: dma,
        files_skipped: skipped,
        bytes_read: rbytes + ibytes + dbytes + mbytes,
    })
}
