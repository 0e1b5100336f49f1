//! The one place agingflow writes through, so that it never alters a byte that is not its own
//! output.
//!
//! Rules, enforced here for every stage binary, the simulator and the runner:
//!
//! - **Inputs are read-only.** Whatever a process reads (an input table, a manifest, a raw file it
//!   names, a pipeline file) is registered with [`protect`]; an output path that *is*, *contains*
//!   or *lies inside* a protected path is refused, before anything is written and again at the
//!   moment the output is moved into place. Paths are compared after resolving symlinks.
//! - **One path, one output.** Two outputs of one stage may not be the same path or nest
//!   ([`distinct_outputs`]).
//! - **Atomic files.** A file is written to a temporary file beside its target and renamed over
//!   it when complete ([`AtomicFile`], [`write_file`]); a failure leaves the target as it was.
//! - **Marked directories.** A directory output is built beside its target ([`StagedDir`]) with a
//!   marker file ([`MARKER`]) listing every file agingflow wrote into it. An existing directory is
//!   replaced only when it is empty or carries a marker that lists every file it holds; a user's
//!   directory, or one a user has added files to, is refused with a message saying what to do.
//! - **All or nothing.** Several outputs are moved into place together by a [`Transaction`]:
//!   every rename is staged, and the ones done are rolled back when one fails or when the caller
//!   (the runner, whose lock-file write belongs to the same commit) says so.
//! - **Reading walks end.** Globs over a user's folders ([`walk::glob`]) enter each folder once,
//!   whatever its symlinks.

pub mod walk;

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

mod moves;
pub use moves::*;

/// The file that marks a directory as agingflow's output, listing the files written into it.
pub const MARKER: &str = ".agingflow-output";
const MARKER_HEADER: &str = "# written by agingflow: this directory is an output and may be replaced by the next run.\n# files agingflow wrote here (anything else found here keeps agingflow from replacing it):\n";

/// Why a write was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The output would overwrite, delete or sit inside something agingflow only reads.
    #[error(
        "refusing to write {target}: it {relation} {what} {protected}, which agingflow only reads; choose another output path",
        target = .target.display(), protected = .protected.display()
    )]
    Protected {
        target: PathBuf,
        relation: &'static str,
        what: String,
        protected: PathBuf,
    },
    /// Two outputs of one run on one path, or one inside the other.
    #[error("refusing to write {target}: it {relation} {other}, another output of this stage; give each output its own path", target = .target.display(), other = .other.display())]
    SameOutput {
        target: PathBuf,
        relation: &'static str,
        other: PathBuf,
    },
    /// A directory in the way that agingflow did not make (or that holds files it did not write).
    #[error(
        "refusing to replace {path}: {detail}; choose an output path that does not exist yet, or move it away yourself",
        path = .path.display()
    )]
    ForeignDir { path: PathBuf, detail: String },
    /// A file or something else in the way of a directory output, or a directory in the way of a
    /// file output.
    #[error("refusing to replace {path}: it is {found}, where the output is {wanted}; remove or rename it yourself", path = .path.display())]
    WrongKind {
        path: PathBuf,
        found: &'static str,
        wanted: &'static str,
    },
    /// An input that is not a readable regular file, with the real cause.
    #[error("{path}: {problem}", path = .path.display())]
    Input { path: PathBuf, problem: String },
    /// The path names no file (`.`, `..`, a path ending in `/`).
    #[error("{path}: not a file name an output can have", path = .path.display())]
    NotAName { path: PathBuf },
    /// The operating system refused.
    #[error("{what} {path}: {source}", path = .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl GuardError {
    fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        GuardError::Io {
            what,
            path: path.to_owned(),
            source,
        }
    }
}

/// A path this process must not write, with what it is ("the manifest", "an input table").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    pub path: PathBuf,
    pub what: String,
}

impl Protected {
    pub fn new(path: &Path, what: &str) -> Self {
        Protected {
            path: resolve(path),
            what: what.to_owned(),
        }
    }
}

/// The protected paths in the order registered, and the same as an ordered map to their place in
/// that order: a campaign protects thousands of raw files, and a linear search per file made
/// ingest quadratic (57 % of its time on 4 785 files), and every write of the runner cost a scan
/// of all of them. The map's keys are the paths' bytes with `/` as 0 ([`order_key`]): they order
/// as paths do by components (so those inside a directory follow it at once) but compare as
/// plain bytes, where comparing `Path`s walks their components (7 % of ingest's time on a
/// campaign of 12 000 files).
#[derive(Default)]
struct Registry {
    list: Vec<Protected>,
    seen: std::collections::BTreeMap<Vec<u8>, usize>,
    /// The paths as given to [`protect`] (by their bytes) and as resolved, so that protecting one
    /// again (or asking where it resolves) costs no resolving.
    given: std::collections::HashMap<std::ffi::OsString, PathBuf>,
}

/// A resolved path's bytes with every `/` as 0: byte order is then the order of the paths'
/// components, and the paths inside a directory are the keys that extend its key by a 0.
fn order_key(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str()
        .as_bytes()
        .iter()
        .map(|&b| if b == b'/' { 0 } else { b })
        .collect()
}

impl Registry {
    /// The first registered protected path that `t` (resolved) is, lies inside or contains.
    fn first_related(&self, t: &Path) -> Option<&Protected> {
        let mut best: Option<usize> = None;
        let mut keep = |i: usize| best = Some(best.map_or(i, |b| b.min(i)));
        for a in t.ancestors() {
            if let Some(&i) = self.seen.get(&order_key(a)) {
                keep(i);
            }
        }
        let kt = order_key(t);
        let inside =
            |k: &[u8]| k.starts_with(&kt) && (kt.last() == Some(&0) || k.get(kt.len()) == Some(&0));
        for (k, &i) in self.seen.range::<[u8], _>((
            std::ops::Bound::Excluded(kt.as_slice()),
            std::ops::Bound::Unbounded,
        )) {
            if !inside(k) {
                break;
            }
            keep(i);
        }
        best.map(|i| &self.list[i])
    }

    /// Registers `real` (resolved) unless it is registered already.
    fn add(&mut self, real: &Path, what: &str) {
        let key = order_key(real);
        if !self.seen.contains_key(&key) {
            let i = self.list.len();
            self.seen.insert(key, i);
            self.list.push(Protected {
                path: real.to_owned(),
                what: what.to_owned(),
            });
        }
    }
}

static PROTECTED: std::sync::LazyLock<Mutex<Registry>> =
    std::sync::LazyLock::new(|| Mutex::new(Registry::default()));
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Registers `path` as read-only for the rest of the process: no output may be it, contain it or
/// lie inside it. `what` names it in messages ("the manifest").
pub fn protect(path: &Path, what: &str) {
    protect_resolved(path, what);
}

/// [`protect`] for a path the caller has just resolved (with [`resolve`] or a [`Resolver`]):
/// `real` is registered as it is. A manifest's thousands of raw files are resolved once.
pub fn protect_as(path: &Path, real: &Path, what: &str) {
    let mut reg = PROTECTED.lock().unwrap_or_else(|e| e.into_inner());
    if reg.given.contains_key(path.as_os_str()) {
        return;
    }
    reg.given
        .insert(path.as_os_str().to_owned(), real.to_owned());
    reg.add(real, what);
}

/// [`protect`], returning the path resolved (absolute, symlinks resolved; as resolved when first
/// protected).
pub fn protect_resolved(path: &Path, what: &str) -> PathBuf {
    if let Some(r) = PROTECTED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .given
        .get(path.as_os_str())
    {
        return r.clone();
    }
    let p = Protected {
        path: INPUTS.resolve(path),
        what: what.to_owned(),
    };
    let resolved = p.path.clone();
    let mut reg = PROTECTED.lock().unwrap_or_else(|e| e.into_inner());
    reg.given
        .insert(path.as_os_str().to_owned(), resolved.clone());
    reg.add(&p.path, &p.what);
    resolved
}

/// Opens an input file for reading and protects it (see [`protect`]). A path that is not a
/// regular file gets a message naming the real cause: missing, a directory, a FIFO, socket or
/// device, a dangling symlink, a symlink loop, no permission.
pub fn open_input(path: &Path, what: &str) -> Result<File, GuardError> {
    let problem = |p: &str| GuardError::Input {
        path: path.to_owned(),
        problem: p.to_owned(),
    };
    protect(path, what);
    match std::fs::metadata(path) {
        Err(e) if e.raw_os_error() == Some(40) => Err(problem(
            "is a symlink loop (a link that leads back to itself), not a file",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                Err(problem("is a symlink to a file that does not exist"))
            } else {
                Err(problem("does not exist"))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(problem("cannot be read: permission denied"))
        }
        Err(e) => Err(GuardError::io("cannot read", path, e)),
        Ok(m) if m.is_dir() => Err(problem("is a directory, not a file")),
        Ok(m) if !m.is_file() => Err(problem(
            "is not a regular file (a FIFO, socket or device): agingflow reads only files",
        )),
        Ok(_) => File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => problem("cannot be read: permission denied"),
            _ => GuardError::io("cannot read", path, e),
        }),
    }
}

/// Reads a whole input file (see [`open_input`]).
pub fn read_input(path: &Path, what: &str) -> Result<Vec<u8>, GuardError> {
    use std::io::Read;
    let mut f = open_input(path, what)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| GuardError::io("cannot read", path, e))?;
    Ok(bytes)
}

/// Starts a new stage run in this process: forgets what an earlier run read (a library caller
/// that runs several stages in turn, a test). A stage binary is one run, so this changes nothing
/// there.
pub fn start_run() {
    let mut reg = PROTECTED.lock().unwrap_or_else(|e| e.into_inner());
    reg.list.clear();
    reg.seen.clear();
    reg.given.clear();
    drop(reg);
    INPUTS.forget();
}

/// The absolute form of `path` with every symlink of its existing part resolved and `.`/`..`
/// folded; the part that does not exist yet is appended as written.
pub fn resolve(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let abs = fold(&abs);
    // The longest existing prefix, canonicalised; the rest appended.
    let mut rest: Vec<OsString> = Vec::new();
    let mut head = abs.clone();
    loop {
        if let Ok(c) = std::fs::canonicalize(&head) {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return fold(&out);
        }
        match (head.file_name().map(|n| n.to_owned()), head.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                head = parent.to_owned();
            }
            _ => return abs,
        }
    }
}

/// [`resolve`] for many files in few folders: each folder is resolved once (kept for the life of
/// the `Resolver`), each file costs one `lstat`. A file that is itself a symlink, or does not
/// exist, goes the way of [`resolve`]. `realpath` reads every component of every path (a
/// `readlink` each): for the 12 000 raw files of a scaled campaign that was 0.9 s of CPU per run.
#[derive(Default)]
pub struct Resolver {
    /// Folder (as given, by its bytes: hashing a `Path` walks its components) to its resolved
    /// form.
    dirs: Mutex<std::collections::HashMap<OsString, Option<PathBuf>>>,
    /// The working directory, read once (relative paths are resolved against it).
    cwd: Mutex<Option<PathBuf>>,
}

impl Resolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the folders resolved so far.
    pub fn forget(&self) {
        self.dirs.lock().unwrap_or_else(|e| e.into_inner()).clear();
        *self.cwd.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The same path as [`resolve`] gives.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.resolve_as(path, None)
    }

    /// [`Resolver::resolve`] for a path the caller has just `lstat`ed and found not to be a
    /// symlink (`plain`): the `lstat` is not made again.
    pub fn resolve_plain(&self, path: &Path) -> PathBuf {
        self.resolve_as(path, Some(true))
    }

    fn resolve_as(&self, path: &Path, plain: Option<bool>) -> PathBuf {
        let abs = if path.is_absolute() {
            if is_folded(path) {
                path.to_owned()
            } else {
                fold(path)
            }
        } else {
            let cwd = self
                .cwd
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(|| {
                    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
                })
                .clone();
            fold(&cwd.join(path))
        };
        let (Some(parent), Some(name)) = (abs.parent(), abs.file_name()) else {
            return resolve(&abs);
        };
        let is_plain = plain.unwrap_or_else(|| {
            std::fs::symlink_metadata(&abs).is_ok_and(|m| !m.file_type().is_symlink())
        });
        if !is_plain {
            return resolve(&abs);
        }
        let dir = {
            let mut dirs = self.dirs.lock().unwrap_or_else(|e| e.into_inner());
            match dirs.get(parent.as_os_str()) {
                Some(d) => d.clone(),
                None => {
                    let d = std::fs::canonicalize(parent).ok();
                    dirs.insert(parent.as_os_str().to_owned(), d.clone());
                    d
                }
            }
        };
        match dir {
            Some(d) => d.join(name),
            None => resolve(&abs),
        }
    }
}

/// The resolver [`protect`] uses for the inputs a stage registers (one stage run, one process).
static INPUTS: std::sync::LazyLock<Resolver> = std::sync::LazyLock::new(Resolver::new);

/// `path` relative to `base` (both absolute and resolved), with `..` where it lies outside and
/// `/` between parts.
pub fn relative(path: &Path, base: &Path) -> String {
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".into(); b.len() - common];
    parts.extend(
        p[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// Whether `path` (absolute) is already what [`fold`] makes of it: no `.`, `..` or empty
/// component, no trailing `/`. A byte scan, much cheaper than walking components.
fn is_folded(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let b = path.as_os_str().as_bytes();
    b.len() > 1
        && b[0] == b'/'
        && b[1..]
            .split(|&c| c == b'/')
            .all(|seg| !seg.is_empty() && seg != b"." && seg != b"..")
}

/// Folds `.` and `..` lexically.
fn fold(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// How `target` stands to `other`, both resolved: "is", "lies inside", "contains", or none.
fn relation(target: &Path, other: &Path) -> Option<&'static str> {
    if target == other {
        Some("is")
    } else if target.starts_with(other) {
        Some("lies inside")
    } else if other.starts_with(target) {
        Some("contains")
    } else {
        None
    }
}

/// Refuses `target` when it is, contains or lies inside a registered or an `extra` protected
/// path.
pub fn check_with(target: &Path, extra: &[Protected]) -> Result<(), GuardError> {
    check_resolved(target, &resolve(target), extra)
}

/// [`check_with`] for a target whose resolved form `t` the caller knows.
fn check_resolved(target: &Path, t: &Path, extra: &[Protected]) -> Result<(), GuardError> {
    let reg = PROTECTED.lock().unwrap_or_else(|e| e.into_inner());
    for p in reg.first_related(t).into_iter().chain(extra) {
        if let Some(relation) = relation(t, &p.path) {
            return Err(GuardError::Protected {
                target: target.to_owned(),
                relation,
                what: p.what.clone(),
                protected: p.path.clone(),
            });
        }
    }
    Ok(())
}

/// Refuses `target` when it is, contains or lies inside a registered protected path.
pub fn check(target: &Path) -> Result<(), GuardError> {
    check_with(target, &[])
}

/// Refuses two outputs on one path, or one inside the other (paths resolved).
pub fn distinct_outputs(outputs: &[&Path]) -> Result<(), GuardError> {
    let resolved: Vec<PathBuf> = outputs.iter().map(|p| resolve(p)).collect();
    for (i, a) in resolved.iter().enumerate() {
        for (j, b) in resolved.iter().enumerate().skip(i + 1) {
            if let Some(relation) = relation(b, a) {
                return Err(GuardError::SameOutput {
                    target: outputs[j].to_owned(),
                    relation,
                    other: outputs[i].to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// The directory a target sits in (`.` for a bare name) and its file name.
fn split(target: &Path) -> Result<(PathBuf, String), GuardError> {
    let name = match target.components().next_back() {
        Some(Component::Normal(n)) => n.to_string_lossy().into_owned(),
        _ => {
            return Err(GuardError::NotAName {
                path: target.to_owned(),
            });
        }
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

/// A fresh name beside `target`: `.NAME.agingflow-KIND.PID.N`.
fn beside(dir: &Path, name: &str, kind: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(
        ".{name}.agingflow-{kind}.{}.{n}",
        std::process::id()
    ))
}

/// Whether a file name is one of agingflow's temporary names (for clean-up of killed runs).
pub fn is_scratch_name(name: &str) -> bool {
    name.starts_with('.') && (name.contains(".agingflow-tmp.") || name.contains(".agingflow-old."))
}

/// Explains why a directory cannot take a new file, naming the directory and the target rather
/// than the temporary file.
fn create_error(dir: &Path, source: std::io::Error) -> GuardError {
    let what = match source.kind() {
        std::io::ErrorKind::NotFound => "cannot write into missing folder",
        std::io::ErrorKind::PermissionDenied => "no permission to write into folder",
        _ => "cannot create a file in folder",
    };
    GuardError::io(what, dir, source)
}

/// A temporary file beside its target, renamed over the target by [`AtomicFile::commit`] and
/// removed if dropped before that. The target is checked when the file is created and again at
/// the rename.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    /// Checks `target` and opens a temporary file beside it.
    pub fn create(target: &Path) -> Result<(Self, File), GuardError> {
        check(target)?;
        if let Ok(m) = std::fs::symlink_metadata(target)
            && m.is_dir()
        {
            return Err(GuardError::WrongKind {
                path: target.to_owned(),
                found: "a directory",
                wanted: "a file",
            });
        }
        let (dir, name) = split(target)?;
        let tmp = beside(&dir, &name, "tmp");
        let file = File::create(&tmp).map_err(|e| create_error(&dir, e))?;
        Ok((
            AtomicFile {
                tmp,
                target: target.to_owned(),
            },
            file,
        ))
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Syncs `file`, checks the target once more and renames over it.
    pub fn commit(mut self, file: File) -> Result<(), GuardError> {
        file.sync_all().map_err(|e| write_error(&self.target, e))?;
        drop(file);
        check(&self.target)?;
        std::fs::rename(&self.tmp, &self.target)
            .map_err(|e| GuardError::io("cannot move into place", &self.target, e))?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

/// Names the target, not the temporary file, and says "disk full" plainly.
pub fn write_error(target: &Path, e: std::io::Error) -> GuardError {
    let what = if e.raw_os_error() == Some(28) {
        "the disk is full: cannot write"
    } else {
        "cannot write"
    };
    GuardError::io(what, target, e)
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `target` atomically, after the checks of [`AtomicFile`].
pub fn write_file(target: &Path, bytes: &[u8]) -> Result<(), GuardError> {
    let (f, mut file) = AtomicFile::create(target)?;
    file.write_all(bytes).map_err(|e| write_error(target, e))?;
    f.commit(file)
}

/// Places the bytes of `src` at `target` atomically, after the checks of [`AtomicFile`]: a hard
/// link where the file system allows (agingflow never writes into a file in place, so sharing the
/// bytes is safe), else a copy, under a temporary name renamed over the target. For agingflow's
/// own files only: its run cache and the outputs it restores from there.
pub fn link_or_copy(src: &Path, target: &Path) -> Result<(), GuardError> {
    link_or_copy_checked(src, target, || check(target))
}

/// [`link_or_copy`] with the target's check given (run before and again just before the rename).
fn link_or_copy_checked(
    src: &Path,
    target: &Path,
    check: impl Fn() -> Result<(), GuardError>,
) -> Result<(), GuardError> {
    check()?;
    let (dir, name) = split(target)?;
    let tmp = beside(&dir, &name, "tmp");
    if std::fs::hard_link(src, &tmp).is_err() {
        let copied = std::fs::copy(src, &tmp)
            .and_then(|_| std::fs::OpenOptions::new().write(true).open(&tmp))
            .and_then(|f| f.sync_all());
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&tmp);
            return Err(write_error(target, e));
        }
    }
    let moved = check().and_then(|()| {
        std::fs::rename(&tmp, target)
            .map_err(|e| GuardError::io("cannot move into place", target, e))
    });
    if moved.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    moved
}

/// Appends `bytes` to `target` (created when missing), after the checks of [`check`]: for a
/// journal of agingflow's own (the lock file's entries committed during a run), whose reader
/// takes only complete lines, so a write cut by a crash is never half-used.
pub fn append_file(target: &Path, bytes: &[u8]) -> Result<(), GuardError> {
    check(target)?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(target)
        .map_err(|e| write_error(target, e))?;
    f.write_all(bytes).map_err(|e| write_error(target, e))
}

/// Writes `bytes` to `target` atomically (a temporary name renamed into place) but without
/// syncing to disk first: for cache entries that carry their own hash and are verified before
/// every use, where a crash may lose an entry but never make a wrong one usable.
pub fn write_cache_file(target: &Path, bytes: &[u8]) -> Result<(), GuardError> {
    check(target)?;
    let (dir, name) = split(target)?;
    let tmp = beside(&dir, &name, "tmp");
    let written = std::fs::write(&tmp, bytes)
        .map_err(|e| write_error(target, e))
        .and_then(|()| {
            std::fs::rename(&tmp, target)
                .map_err(|e| GuardError::io("cannot move into place", target, e))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Creates (or truncates) a log file that is written as it goes: checked, not atomic.
pub fn create_log(target: &Path) -> Result<File, GuardError> {
    check(target)?;
    if let Some(dir) = target.parent() {
        create_dirs(dir)?;
    }
    File::create(target).map_err(|e| GuardError::io("cannot create log", target, e))
}

/// Creates a directory and its parents (a folder that exists is left as it is, so this alters no
/// byte of anything).
pub fn create_dirs(dir: &Path) -> Result<(), GuardError> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| GuardError::io("cannot create folder", dir, e))
}

/// Every file below `dir`, relative, sorted (symlinks listed, not followed).
fn listing(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        for entry in std::fs::read_dir(dir.join(&rel))? {
            let entry = entry?;
            let r = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                todo.push(r);
            } else {
                out.push(r.to_string_lossy().into_owned());
            }
        }
    }
    out.retain(|r| r != MARKER);
    out.sort();
    Ok(out)
}

/// Writes the marker into `dir`, listing every file in it.
pub fn mark_dir(dir: &Path) -> Result<(), GuardError> {
    let files = listing(dir).map_err(|e| GuardError::io("cannot list", dir, e))?;
    let mut text = String::from(MARKER_HEADER);
    for f in files {
        text.push_str(&f);
        text.push('\n');
    }
    let path = dir.join(MARKER);
    std::fs::write(&path, text).map_err(|e| write_error(&path, e))
}

/// Whether an existing directory may be replaced: it is empty, or its marker lists every file it
/// holds. An error says why not.
pub fn may_replace_dir(dir: &Path) -> Result<(), GuardError> {
    let foreign = |detail: String| GuardError::ForeignDir {
        path: dir.to_owned(),
        detail,
    };
    let files = listing(dir).map_err(|e| GuardError::io("cannot list", dir, e))?;
    let marker = dir.join(MARKER);
    let Ok(text) = std::fs::read_to_string(&marker) else {
        if files.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = files.iter().take(3).map(String::as_str).collect();
        return Err(foreign(format!(
            "it is a directory agingflow did not make (no {MARKER} marker) and holds {} file(s): {}{}",
            files.len(),
            shown.join(", "),
            if files.len() > 3 { ", ..." } else { "" }
        )));
    };
    let listed: std::collections::HashSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let extra: Vec<&str> = files
        .iter()
        .map(String::as_str)
        .filter(|f| !listed.contains(f))
        .collect();
    if extra.is_empty() {
        Ok(())
    } else {
        Err(GuardError::ForeignDir {
            path: dir.to_owned(),
            detail: format!(
                "it holds {} file(s) agingflow did not write: {}{}",
                extra.len(),
                extra.iter().take(3).copied().collect::<Vec<_>>().join(", "),
                if extra.len() > 3 { ", ..." } else { "" }
            ),
        })
    }
}

/// Renames one scratch path of agingflow's to another (a failed stage's staging folder kept for
/// inspection): both must lie in a `.agingflow` folder.
pub fn rename_scratch(from: &Path, to: &Path) -> Result<(), GuardError> {
    for p in [from, to] {
        if !p.components().any(|c| c.as_os_str() == ".agingflow") {
            return Err(GuardError::ForeignDir {
                path: p.to_owned(),
                detail: "it is not a scratch folder of agingflow's".into(),
            });
        }
    }
    remove_scratch(to)?;
    if let Some(dir) = to.parent() {
        create_dirs(dir)?;
    }
    std::fs::rename(from, to).map_err(|e| GuardError::io("cannot move", from, e))
}

/// Removes a scratch tree of agingflow's (a staging folder, a temporary file): refused unless a
/// component of the path is `.agingflow` or the name is one of agingflow's temporary names.
pub fn remove_scratch(path: &Path) -> Result<(), GuardError> {
    let ours = path.components().any(|c| c.as_os_str() == ".agingflow")
        || path
            .file_name()
            .is_some_and(|n| is_scratch_name(&n.to_string_lossy()));
    if !ours {
        return Err(GuardError::ForeignDir {
            path: path.to_owned(),
            detail: "it is not a scratch folder of agingflow's".into(),
        });
    }
    match kind(path) {
        None => Ok(()),
        Some(t) if t.is_dir() => std::fs::remove_dir_all(path),
        Some(_) => std::fs::remove_file(path),
    }
    .map_err(|e| GuardError::io("cannot remove", path, e))
}

#[cfg(test)]
mod tests;
