//! Content hashes (BLAKE3) of files and directory trees: what decides staleness. mtime never does:
//! the hash memo (`stage_cli::hashes`) only spares reading a file whose identity, size,
//! modification time and (for a user's file) status-change time are what they were when it was
//! hashed.

use std::io;
use std::path::Path;
use std::sync::{Arc, RwLock};

use stage_cli::hashes::HashMemo;

/// Files larger than this are hashed memory-mapped on all cores.
const MMAP_BYTES: u64 = 16 << 20;

/// The memo of the runner invocation (see [`use_memo`]); none until one is set.
static MEMO: RwLock<Option<Arc<HashMemo>>> = RwLock::new(None);

/// Makes `memo` the one every hash below consults and fills.
pub fn use_memo(memo: Arc<HashMemo>) {
    *MEMO.write().unwrap_or_else(|p| p.into_inner()) = Some(memo);
}

fn memo() -> Option<Arc<HashMemo>> {
    MEMO.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The BLAKE3 hash of a file's bytes, read now.
fn compute(path: &Path) -> io::Result<blake3::Hash> {
    let mut h = blake3::Hasher::new();
    if std::fs::metadata(path)?.len() >= MMAP_BYTES {
        h.update_mmap_rayon(path)?;
    } else {
        h.update(&std::fs::read(path)?);
    }
    Ok(h.finalize())
}

fn file_with(path: &Path, settled: bool) -> io::Result<String> {
    let h = match memo() {
        Some(m) => m.file(path, settled, compute)?,
        None => compute(path)?,
    };
    Ok(h.to_hex().to_string())
}

/// The BLAKE3 hash of a file's content, in hex (remembered by the memo when unchanged).
pub fn file(path: &Path) -> io::Result<String> {
    file_with(path, false)
}

/// [`file`] for a regular file whose metadata (`meta`, from an `lstat` just made) the caller has.
pub fn file_known(path: &Path, meta: &std::fs::Metadata) -> io::Result<String> {
    let h = match memo() {
        Some(m) => m.file_known(path, meta, false, compute)?,
        None => compute(path)?,
    };
    Ok(h.to_hex().to_string())
}

/// [`file`] from the bytes whatever the memo says: what a cache object is verified by before
/// use. The hash is remembered for others.
pub fn file_verified(path: &Path) -> io::Result<String> {
    let before = std::fs::metadata(path)?;
    let started = std::time::SystemTime::now();
    let h = compute(path)?;
    if let (Some(m), Ok(after)) = (memo(), std::fs::metadata(path)) {
        m.remember_at(path, &before, &after, started, false, h);
    }
    Ok(h.to_hex().to_string())
}

/// The hash of a file, or of a directory as the sorted list of its relative paths and their
/// contents' hashes; `Ok(None)` when nothing is there.
pub fn path(path: &Path) -> io::Result<Option<String>> {
    path_with(path, false)
}

/// [`path`] of an output whose stage has exited, so that nothing writes it any more: its hash is
/// remembered even when it was written a moment ago.
pub fn path_settled(path: &Path) -> io::Result<Option<String>> {
    path_with(path, true)
}

fn path_with(path: &Path, settled: bool) -> io::Result<Option<String>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return file_with(path, settled).map(Some);
    }
    let mut entries = Vec::new();
    walk_with(path, "", settled, &mut entries)?;
    Ok(Some(tree(&entries)))
}

/// The hash of a directory from its listing (relative path, content hash or `link:target`), in
/// any order: `tree:` and the BLAKE3 of the sorted lines.
pub fn tree(entries: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = entries.iter().collect();
    sorted.sort();
    let mut h = blake3::Hasher::new();
    for (rel, hash) in sorted {
        h.update(rel.as_bytes());
        h.update(b"\0");
        h.update(hash.as_bytes());
        h.update(b"\n");
    }
    format!("tree:{}", h.finalize().to_hex())
}

/// Every file below `dir`: relative path and content hash, or `link:target` for a symlink.
pub fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) -> io::Result<()> {
    walk_with(dir, prefix, false, out)
}

fn walk_with(
    dir: &Path,
    prefix: &str,
    settled: bool,
    out: &mut Vec<(String, String)>,
) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let ty = entry.file_type()?;
        if ty.is_dir() {
            walk_with(&entry.path(), &rel, settled, out)?;
        } else if ty.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            out.push((rel, format!("link:{}", target.display())));
        } else {
            out.push((rel, file_with(&entry.path(), settled)?));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_hash_by_relative_path_and_content() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for d in [a.path(), b.path()] {
            std::fs::create_dir_all(d.join("x/y")).unwrap();
            std::fs::write(d.join("x/y/f.txt"), "one").unwrap();
            std::fs::write(d.join("g.txt"), "two").unwrap();
        }
        assert_eq!(path(a.path()).unwrap(), path(b.path()).unwrap());
        std::fs::write(b.path().join("g.txt"), "twO").unwrap();
        assert_ne!(path(a.path()).unwrap(), path(b.path()).unwrap());
        assert_eq!(path(&a.path().join("none")).unwrap(), None);
        assert_eq!(
            file(&a.path().join("g.txt")).unwrap(),
            blake3::hash(b"two").to_hex().to_string()
        );
    }
}
