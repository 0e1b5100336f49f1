//! The hash memo (issue 18): BLAKE3 hashes of files remembered by the file's identity (device,
//! inode), size and modification time, so that a rerun over a large campaign stats its files
//! instead of reading them all again. DVC's state database and git's index do the same.
//!
//! What decides staleness is still the content hash; the memo only says which hash a file has
//! when nothing about it changed. It is kept safe as git keeps its index:
//! - an entry is only used when device, inode, size, modification time and status-change time
//!   (both to the nanosecond) all match. Any write sets the modification time; a program that
//!   writes and then puts the old modification time back (`touch -d`, `os.utime`) still moves the
//!   status-change time, which no program can set: so a same-size edit with its time restored is
//!   read again, as git's index also compares ctime;
//! - a hash is only remembered when the file's last change (modification or status change) lies
//!   at least [`RACY`] before
//!   the moment hashing began (a file written in the same clock tick as it was hashed could change
//!   again without its time moving), unless the caller knows no process writes it any more (an
//!   output hashed after its stage exited);
//! - a file whose metadata changed while it was hashed is not remembered.
//!
//! The runner owns the memo file (`<outdir>/.agingflow/cache/hashes`, one line per file:
//! `dev ino size mtime_ns ctime_ns hash`); stages read it (named in [`MEMO_ENV`]) and never write it.
//! A missing, damaged or foreign memo is an empty one: everything is hashed from the bytes.

use std::collections::HashMap;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The environment variable naming the memo file a stage may read.
pub const MEMO_ENV: &str = "AGINGFLOW_HASH_MEMO";

/// How long before the start of hashing a file must have been modified last for its hash to be
/// remembered.
pub const RACY: Duration = Duration::from_secs(2);

/// The first line of a memo file.
const HEADER: &str = "agingflow hash memo 2";

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Id {
    dev: u64,
    ino: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

/// The status-change time stored for a file of agingflow's own: not compared.
const OWN_CTIME: i128 = i128::MIN;

impl Stamp {
    /// Whether the file now (`now`) is the version this stamp remembers.
    fn matches(&self, now: &Stamp) -> bool {
        self.size == now.size
            && self.mtime_ns == now.mtime_ns
            && (self.ctime_ns == OWN_CTIME || self.ctime_ns == now.ctime_ns)
    }
}

fn id_of(m: &Metadata) -> (Id, Stamp) {
    (
        Id {
            dev: m.dev(),
            ino: m.ino(),
        },
        Stamp {
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        },
    )
}

fn ns_since_epoch(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// The hash of a file a stage is about to use, through the runner's memo (see [`MEMO_ENV`]) when
/// there is one, else from its bytes.
pub fn stage_file_hash(path: &Path) -> io::Result<blake3::Hash> {
    static MEMO: std::sync::OnceLock<HashMemo> = std::sync::OnceLock::new();
    MEMO.get_or_init(HashMemo::from_env)
        .file(path, false, |p| Ok(blake3::hash(&std::fs::read(p)?)))
}

/// The hash of a table folder's part for `tables::segments::RowGroups::open_with`: through the
/// runner's memo (an unchanged part is not read), else from its bytes; None when unreadable (the
/// part is then keyed by its row groups' bytes, and reading it reports the problem).
pub fn part_hash(path: &Path) -> Option<blake3::Hash> {
    stage_file_hash(path).ok()
}

/// Hashes remembered by file identity; shared between threads.
#[derive(Debug, Default)]
pub struct HashMemo {
    path: Option<PathBuf>,
    /// Folders of agingflow's own files (the output directory, its run cache), whose entries do
    /// not compare the status-change time (see [`HashMemo::own`]).
    own: Vec<PathBuf>,
    /// What the memo file held when loaded, and whether this process used each entry.
    entries: Mutex<HashMap<Id, (Stamp, blake3::Hash, bool)>>,
}

impl HashMemo {
    /// The memo stored at `path` (empty when there is none or it cannot be read).
    pub fn load(path: &Path) -> Self {
        let entries = std::fs::read_to_string(path)
            .ok()
            .map(|t| parse(&t))
            .unwrap_or_default();
        HashMemo {
            path: Some(path.to_owned()),
            own: Vec::new(),
            entries: Mutex::new(
                entries
                    .into_iter()
                    .map(|(id, st, h)| (id, (st, h, false)))
                    .collect(),
            ),
        }
    }

    /// An empty memo to be saved at `path`: every file is read again (what `run --force` asks).
    pub fn fresh(path: &Path) -> Self {
        HashMemo {
            path: Some(path.to_owned()),
            ..HashMemo::default()
        }
    }

    /// Names `dirs` as holding only agingflow's own files: a hash remembered for a file below
    /// them does not compare the status-change time. agingflow never writes its files in place
    /// (outputs are renamed into place, run-cache objects and kept parts are hard links, which
    /// move ctime and nothing else), so an unchanged output reused by a link is not read again;
    /// a user's file (a raw file, a `deps` file) is always compared by ctime too.
    pub fn own(mut self, dirs: Vec<PathBuf>) -> Self {
        self.own = dirs;
        self
    }

    /// The memo the runner named in [`MEMO_ENV`], read-only; empty when unset.
    pub fn from_env() -> Self {
        match std::env::var_os(MEMO_ENV).filter(|v| !v.is_empty()) {
            Some(p) => HashMemo {
                path: None,
                ..HashMemo::load(Path::new(&p))
            },
            None => HashMemo::default(),
        }
    }

    /// The remembered hash of the file with metadata `meta`, when its identity, size and
    /// modification time all match.
    pub fn lookup(&self, meta: &Metadata) -> Option<blake3::Hash> {
        let (id, stamp) = id_of(meta);
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match e.get_mut(&id) {
            Some((st, h, used)) if st.matches(&stamp) => {
                *used = true;
                Some(*h)
            }
            _ => None,
        }
    }

    /// Remembers that the file whose metadata was `before` when hashing began at `started` has
    /// hash `hash`, if `after` (its metadata once hashed) is the same and the file is old enough
    /// (or `settled`: nothing writes it any more).
    pub fn remember(
        &self,
        before: &Metadata,
        after: &Metadata,
        started: SystemTime,
        settled: bool,
        hash: blake3::Hash,
    ) {
        self.remember_own(before, after, started, settled, false, hash);
    }

    /// [`HashMemo::remember`] for the file at `path`: one of agingflow's own (below a folder
    /// given to [`HashMemo::own`]) is remembered without its status-change time.
    pub fn remember_at(
        &self,
        path: &Path,
        before: &Metadata,
        after: &Metadata,
        started: SystemTime,
        settled: bool,
        hash: blake3::Hash,
    ) {
        let own = self.own.iter().any(|d| path.starts_with(d));
        self.remember_own(before, after, started, settled, own, hash);
    }

    fn remember_own(
        &self,
        before: &Metadata,
        after: &Metadata,
        started: SystemTime,
        settled: bool,
        own: bool,
        hash: blake3::Hash,
    ) {
        let (id, mut stamp) = id_of(before);
        if id_of(after) != (id, stamp) {
            return;
        }
        // A user's file counts as changed when its ctime moved; one of agingflow's own when its
        // content can have (mtime), as it is only ever linked or renamed after being written.
        let changed_ns = if own {
            stamp.mtime_ns
        } else {
            stamp.mtime_ns.max(stamp.ctime_ns)
        };
        if !settled && changed_ns > ns_since_epoch(started) - RACY.as_nanos() as i128 {
            return;
        }
        if own {
            stamp.ctime_ns = OWN_CTIME;
        }
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.insert(id, (stamp, hash, true));
    }

    /// The hash of the file at `path`: remembered, or computed by `compute` (and remembered when
    /// safe; `settled` as for [`HashMemo::remember`]).
    pub fn file(
        &self,
        path: &Path,
        settled: bool,
        compute: impl FnOnce(&Path) -> io::Result<blake3::Hash>,
    ) -> io::Result<blake3::Hash> {
        self.file_known(path, &std::fs::metadata(path)?, settled, compute)
    }

    /// [`HashMemo::file`] for a file whose metadata the caller has just read (`lstat` of a
    /// regular file, say): one `stat` fewer a file.
    pub fn file_known(
        &self,
        path: &Path,
        before: &Metadata,
        settled: bool,
        compute: impl FnOnce(&Path) -> io::Result<blake3::Hash>,
    ) -> io::Result<blake3::Hash> {
        if let Some(h) = self.lookup(before) {
            return Ok(h);
        }
        let started = SystemTime::now();
        let h = compute(path)?;
        if let Ok(after) = std::fs::metadata(path) {
            self.remember_at(path, before, &after, started, settled, h);
        }
        Ok(h)
    }

    /// Writes the entries this process used or added, and those another process added to the
    /// file meanwhile, through `write` (atomic, by the caller's guard); entries nobody used are
    /// dropped, so the memo holds what the pipeline reads now. Does nothing for a read-only memo.
    pub fn save(&self, write: impl FnOnce(&Path, &[u8]) -> io::Result<()>) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mine = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut keep: HashMap<Id, (Stamp, blake3::Hash)> = mine
            .iter()
            .filter(|(_, (_, _, used))| *used)
            .map(|(id, (st, h, _))| (*id, (*st, *h)))
            .collect();
        if let Ok(t) = std::fs::read_to_string(path) {
            for (id, st, h) in parse(&t) {
                if !mine.contains_key(&id) {
                    keep.entry(id).or_insert((st, h));
                }
            }
        }
        let mut lines: Vec<(Id, Stamp, blake3::Hash)> =
            keep.into_iter().map(|(id, (st, h))| (id, st, h)).collect();
        lines.sort_by_key(|(id, _, _)| (id.dev, id.ino));
        let mut out = String::with_capacity(lines.len() * 110 + HEADER.len() + 1);
        out.push_str(HEADER);
        out.push('\n');
        for (id, st, h) in lines {
            out.push_str(&format!(
                "{} {} {} {} {} {}\n",
                id.dev,
                id.ino,
                st.size,
                st.mtime_ns,
                st.ctime_ns,
                h.to_hex()
            ));
        }
        write(path, out.as_bytes())
    }
}

/// The entries of a memo file; a file without the header, or a line that does not parse, gives
/// nothing (for that line).
fn parse(text: &str) -> Vec<(Id, Stamp, blake3::Hash)> {
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Vec::new();
    }
    lines
        .filter_map(|l| {
            let mut f = l.split(' ');
            let dev = f.next()?.parse().ok()?;
            let ino = f.next()?.parse().ok()?;
            let size = f.next()?.parse().ok()?;
            let mtime_ns = f.next()?.parse().ok()?;
            let ctime_ns = f.next()?.parse().ok()?;
            let h = blake3::Hash::from_hex(f.next()?).ok()?;
            f.next().is_none().then_some((
                Id { dev, ino },
                Stamp {
                    size,
                    mtime_ns,
                    ctime_ns,
                },
                h,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_bytes(p: &Path) -> io::Result<blake3::Hash> {
        Ok(blake3::hash(&std::fs::read(p)?))
    }

    fn set_old(path: &Path) {
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }

    #[test]
    fn a_remembered_hash_is_used_until_the_file_changes() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.txt");
        std::fs::write(&f, "one").unwrap();
        set_old(&f);
        // Its status-change time is now (no program can set it): wait until it is not racy.
        std::thread::sleep(RACY + Duration::from_millis(100));
        let memo_path = d.path().join("memo");
        let memo = HashMemo::load(&memo_path);
        let calls = std::cell::Cell::new(0);
        let counted = |p: &Path| {
            calls.set(calls.get() + 1);
            hash_bytes(p)
        };
        assert_eq!(memo.file(&f, false, counted).unwrap(), blake3::hash(b"one"));
        assert_eq!(memo.file(&f, false, counted).unwrap(), blake3::hash(b"one"));
        assert_eq!(calls.get(), 1, "the second lookup is remembered");
        memo.save(|p, b| std::fs::write(p, b)).unwrap();
        // Another process (a stage) sees the saved entry without reading the file.
        let again = HashMemo::load(&memo_path);
        assert_eq!(
            again.lookup(&std::fs::metadata(&f).unwrap()),
            Some(blake3::hash(b"one"))
        );
        // A write of the same size is seen: it moves the modification time.
        std::fs::write(&f, "two").unwrap();
        assert_eq!(
            again.file(&f, false, counted).unwrap(),
            blake3::hash(b"two")
        );
        assert_eq!(calls.get(), 2);
        // A same-size write whose old modification time is put back is seen too: the
        // status-change time moved.
        let meta = std::fs::metadata(&f).unwrap();
        let mtime = meta.modified().unwrap();
        again.remember(
            &meta,
            &meta,
            SystemTime::now() + RACY * 2,
            true,
            blake3::hash(b"two"),
        );
        std::fs::write(&f, "six").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let now = std::fs::metadata(&f).unwrap();
        assert_eq!(now.modified().unwrap(), mtime);
        assert_eq!(now.len(), meta.len());
        assert_eq!(again.lookup(&now), None, "ctime moved");
        assert_eq!(
            again.file(&f, false, counted).unwrap(),
            blake3::hash(b"six")
        );
        assert_eq!(calls.get(), 3);
        // A file modified just now is hashed every time (racy), unless settled.
        let g = d.path().join("g.txt");
        std::fs::write(&g, "fresh").unwrap();
        again.file(&g, false, counted).unwrap();
        again.file(&g, false, counted).unwrap();
        assert_eq!(calls.get(), 5);
        again.file(&g, true, counted).unwrap();
        again.file(&g, true, counted).unwrap();
        assert_eq!(calls.get(), 6);
    }

    #[test]
    fn agingflows_own_files_are_not_compared_by_ctime_and_a_users_are() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let (own, users) = (out.join("part.parquet"), d.path().join("raw.txt"));
        for f in [&own, &users] {
            std::fs::write(f, "bytes").unwrap();
        }
        let memo = HashMemo::fresh(&d.path().join("memo")).own(vec![out.clone()]);
        for f in [&own, &users] {
            memo.file(f, true, hash_bytes).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        // A hard link (the run cache, a kept part) moves ctime and nothing else.
        std::fs::hard_link(&own, d.path().join("own-link")).unwrap();
        std::fs::hard_link(&users, d.path().join("users-link")).unwrap();
        let m = |f: &Path| std::fs::metadata(f).unwrap();
        assert_eq!(memo.lookup(&m(&own)), Some(blake3::hash(b"bytes")));
        assert_eq!(memo.lookup(&m(&users)), None, "a user's file is read again");
        // Saved and loaded by a stage: the same.
        memo.save(|p, b| std::fs::write(p, b)).unwrap();
        let again = HashMemo::load(&d.path().join("memo"));
        assert_eq!(again.lookup(&m(&own)), Some(blake3::hash(b"bytes")));
        // A write moves mtime: read again even below the output directory.
        std::fs::write(&own, "other").unwrap();
        assert_eq!(again.lookup(&m(&own)), None);
    }

    #[test]
    fn a_damaged_memo_is_an_empty_one() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.txt");
        std::fs::write(&f, "one").unwrap();
        set_old(&f);
        let m = std::fs::metadata(&f).unwrap();
        let good = format!(
            "{HEADER}\n{} {} 3 {} {} {}\n",
            m.dev(),
            m.ino(),
            i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
            blake3::hash(b"one").to_hex()
        );
        let memo_path = d.path().join("memo");
        std::fs::write(&memo_path, &good).unwrap();
        assert!(HashMemo::load(&memo_path).lookup(&m).is_some());
        for bad in [
            good.replacen(HEADER, "something else", 1),
            good.replace(" 3 ", " x "),
            format!("{} extra\n", good.trim_end()),
            String::from_utf8_lossy(&good.as_bytes()[..good.len() - 10]).into_owned(),
        ] {
            std::fs::write(&memo_path, bad).unwrap();
            assert!(HashMemo::load(&memo_path).lookup(&m).is_none());
        }
        // A read-only memo (a stage's) never writes.
        assert!(HashMemo::from_env().save(|_, _| panic!("no write")).is_ok());
    }
}
