//! Globs that terminate: every folder entered once per pattern position (by device and inode), so
//! a symlink to `.` or a loop of symlinks ends, and every file reached twice (by two paths) named
//! once by the caller if it wishes (the matches are given with their identity).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// How a [`glob`] treats names starting with `.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// `*` matches them too (the glob crate's default).
    Match,
    /// A wildcard never matches a leading `.` (as in a shell): `.git` only by a pattern naming it.
    Skip,
}

/// Every path matching `pattern` (`*`, `?`, `[...]`, and `**` for any number of folders), sorted.
/// Symlinks are followed, but each folder is listed at most once per position in the pattern, so
/// the walk ends whatever the links. `stop` is asked before each folder is listed: when it says
/// true the walk ends early with what it found (a run stopped by a signal).
pub fn glob(
    pattern: &str,
    hidden: Hidden,
    stop: &dyn Fn() -> bool,
) -> Result<Vec<PathBuf>, glob::PatternError> {
    glob_counted(pattern, hidden, stop).map(|(found, _)| found)
}

/// [`glob`], and how many times the walk reached a folder it had listed already at that point of
/// the pattern (a symlink loop, or two links to one folder) and did not enter it again.
pub fn glob_counted(
    pattern: &str,
    hidden: Hidden,
    stop: &dyn Fn() -> bool,
) -> Result<(Vec<PathBuf>, usize), glob::PatternError> {
    let mut base = PathBuf::new();
    let mut parts: Vec<Part> = Vec::new();
    for c in Path::new(pattern).components() {
        match c {
            Component::Normal(n) => {
                let s = n.to_string_lossy();
                if s == "**" {
                    parts.push(Part::Any);
                } else if s.contains(['*', '?', '[']) {
                    parts.push(Part::Wild(glob::Pattern::new(&s)?));
                } else {
                    parts.push(Part::Literal(n.to_owned().into()));
                }
            }
            other if parts.is_empty() => base.push(other.as_os_str()),
            other => parts.push(Part::Literal(other.as_os_str().to_owned().into())),
        }
    }
    let opts = glob::MatchOptions {
        require_literal_leading_dot: hidden == Hidden::Skip,
        ..glob::MatchOptions::new()
    };
    let mut w = Walk {
        parts,
        opts,
        seen: HashSet::new(),
        found: Vec::new(),
        revisits: 0,
        stop,
    };
    let start = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base.clone()
    };
    w.at(&start, base.as_os_str().is_empty(), 0);
    let mut found = w.found;
    found.sort();
    found.dedup();
    Ok((found, w.revisits))
}

enum Part {
    Literal(PathBuf),
    Wild(glob::Pattern),
    Any,
}

struct Walk<'a> {
    parts: Vec<Part>,
    opts: glob::MatchOptions,
    /// (device, inode, position in the pattern) of every folder listed.
    seen: HashSet<(u64, u64, usize)>,
    found: Vec<PathBuf>,
    revisits: usize,
    stop: &'a dyn Fn() -> bool,
}

impl Walk<'_> {
    /// Matches `parts[i..]` below `dir` (`relative`: `dir` is `.` standing for no prefix).
    fn at(&mut self, dir: &Path, relative: bool, i: usize) {
        let join = |name: &Path| {
            if relative {
                name.to_owned()
            } else {
                dir.join(name)
            }
        };
        if i == self.parts.len() {
            return;
        }
        match &self.parts[i] {
            Part::Literal(name) => {
                let next = join(name);
                let last = i + 1 == self.parts.len();
                if last {
                    if std::fs::symlink_metadata(&next).is_ok() {
                        self.found.push(next);
                    }
                } else if next.is_dir() {
                    self.at(&next, false, i + 1);
                }
            }
            Part::Wild(_) | Part::Any => {
                let Some(entries) = self.list(dir, i) else {
                    return;
                };
                let last = i + 1 == self.parts.len();
                for (name, is_dir) in entries {
                    let path = join(Path::new(&name));
                    match &self.parts[i] {
                        Part::Wild(p) => {
                            if !p.matches_with(&name.to_string_lossy(), self.opts) {
                                continue;
                            }
                            if last {
                                self.found.push(path);
                            } else if is_dir {
                                self.at(&path, false, i + 1);
                            }
                        }
                        _ => {
                            let hidden = name.to_string_lossy().starts_with('.');
                            if is_dir && !(hidden && self.opts.require_literal_leading_dot) {
                                // `**` goes on matching below, or matches nothing more here.
                                self.at(&path, false, i);
                            }
                        }
                    }
                }
                if matches!(self.parts[i], Part::Any) {
                    if last {
                        // A trailing `**` matches the folder itself and everything below.
                        if !relative {
                            self.found.push(dir.to_owned());
                        }
                    } else {
                        self.at(dir, relative, i + 1);
                    }
                }
            }
        }
    }

    /// The entries of `dir` (name, whether a folder, symlinks followed), sorted; None when it was
    /// listed at this position before, cannot be read, or the walk is stopped.
    fn list(&mut self, dir: &Path, i: usize) -> Option<Vec<(std::ffi::OsString, bool)>> {
        if (self.stop)() {
            return None;
        }
        let meta = std::fs::metadata(dir).ok()?;
        if !self.seen.insert((meta.dev(), meta.ino(), i)) {
            self.revisits += 1;
            return None;
        }
        let mut out: Vec<(std::ffi::OsString, bool)> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| {
                let is_dir = match e.file_type() {
                    Ok(t) if t.is_symlink() => e.path().is_dir(),
                    Ok(t) => t.is_dir(),
                    Err(_) => false,
                };
                (e.file_name(), is_dir)
            })
            .collect();
        out.sort();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: Vec<PathBuf>, base: &Path) -> Vec<String> {
        v.iter()
            .map(|p| p.strip_prefix(base).unwrap_or(p).display().to_string())
            .collect()
    }

    #[test]
    fn globs_match_like_the_glob_crate_and_end_on_symlink_loops() {
        let d = tempfile::tempdir().unwrap();
        let b = d.path();
        std::fs::create_dir_all(b.join("a/x")).unwrap();
        std::fs::create_dir_all(b.join(".hid")).unwrap();
        for f in ["a/1.txt", "a/x/2.txt", "3.txt", ".hid/4.txt", "a/x/5.csv"] {
            std::fs::write(b.join(f), f).unwrap();
        }
        let never = || false;
        let all = |p: &str, h| names(glob(&b.join(p).to_string_lossy(), h, &never).unwrap(), b);
        assert_eq!(
            all("**/*.txt", Hidden::Skip),
            ["3.txt", "a/1.txt", "a/x/2.txt"]
        );
        assert_eq!(
            all("**/*.txt", Hidden::Match),
            [".hid/4.txt", "3.txt", "a/1.txt", "a/x/2.txt"]
        );
        assert_eq!(all("*", Hidden::Skip), ["3.txt", "a"]);
        assert_eq!(all("a/*/*.csv", Hidden::Skip), ["a/x/5.csv"]);
        assert_eq!(all(".hid/*.txt", Hidden::Skip), [".hid/4.txt"]);
        // The glob crate agrees where it terminates.
        let theirs: Vec<PathBuf> = ::glob::glob(&b.join("**/*.txt").to_string_lossy())
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(names(theirs, b).len(), 4);
        // Two links to `.` (and one to `..`): the walk ends, each file found by a path.
        std::os::unix::fs::symlink(".", b.join("a/s1")).unwrap();
        std::os::unix::fs::symlink(".", b.join("a/s2")).unwrap();
        std::os::unix::fs::symlink("..", b.join("a/x/up")).unwrap();
        let found = all("**/*.txt", Hidden::Skip);
        assert!(found.len() < 50, "{found:?}");
        for f in ["3.txt", "a/1.txt", "a/x/2.txt"] {
            assert!(found.iter().any(|x| x == f), "{f} in {found:?}");
        }
        // A stopped walk ends at once.
        assert!(
            glob(&b.join("**/*").to_string_lossy(), Hidden::Skip, &|| true)
                .unwrap()
                .is_empty()
        );
    }
}
