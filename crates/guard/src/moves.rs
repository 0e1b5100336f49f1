//! Moving outputs into place: a directory built beside its target (`StagedDir`) and several renames applied together or not at all (`Transaction`, rolled back by `Applied`), each target checked against what was read.

use super::*;

/// What stands at an output path now.
pub(crate) fn kind(path: &Path) -> Option<std::fs::FileType> {
    std::fs::symlink_metadata(path).ok().map(|m| m.file_type())
}

/// Checks that `from` may be moved onto `to`: `to` is free of protected paths, and whatever is in
/// the way is of the same kind and, for a directory, agingflow's own.
pub(crate) fn check_move(from: &Path, to: &Path, extra: &[Protected]) -> Result<(), GuardError> {
    check_with(to, extra)?;
    let from_dir = std::fs::symlink_metadata(from)
        .map_err(|e| GuardError::io("cannot read", from, e))?
        .is_dir();
    match kind(to) {
        None => Ok(()),
        Some(t) if t.is_dir() && from_dir => may_replace_dir(to),
        Some(t) if t.is_dir() => {
            // A directory where a file goes: only an agingflow directory output may be swapped.
            if std::fs::symlink_metadata(to.join(MARKER)).is_ok() {
                may_replace_dir(to)
            } else {
                Err(GuardError::WrongKind {
                    path: to.to_owned(),
                    found: "a directory",
                    wanted: "a file",
                })
            }
        }
        Some(_) if from_dir => Err(GuardError::WrongKind {
            path: to.to_owned(),
            found: "a file",
            wanted: "a directory",
        }),
        Some(_) => Ok(()),
    }
}

/// A directory output being built beside its target, committed by one rename.
#[derive(Debug)]
pub struct StagedDir {
    tmp: PathBuf,
    /// `tmp` resolved once: a directory agingflow made, so a file put in it is checked without
    /// resolving its path again (a table folder of a thousand parts cost 24 000 `readlink`s).
    tmp_real: PathBuf,
    target: PathBuf,
}

impl StagedDir {
    /// Checks `target` and creates an empty directory beside it. Refuses at once when `target`
    /// is a directory agingflow may not replace.
    pub fn create(target: &Path) -> Result<Self, GuardError> {
        check(target)?;
        match kind(target) {
            Some(t) if t.is_dir() => may_replace_dir(target)?,
            Some(_) => {
                return Err(GuardError::WrongKind {
                    path: target.to_owned(),
                    found: "a file",
                    wanted: "a directory",
                });
            }
            None => {}
        }
        let (dir, name) = split(target)?;
        create_dirs(&dir)?;
        let tmp = beside(&dir, &name, "tmp");
        std::fs::create_dir(&tmp).map_err(|e| create_error(&dir, e))?;
        Ok(StagedDir {
            tmp_real: resolve(&tmp),
            tmp,
            target: target.to_owned(),
        })
    }

    /// Where to build the directory's contents.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Writes `bytes` to `rel` inside the staged directory, creating folders on the way; `rel`
    /// must be a plain relative path (no `..`, not absolute).
    pub fn write(&self, rel: &Path, bytes: &[u8]) -> Result<(), GuardError> {
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(GuardError::NotAName {
                path: rel.to_owned(),
            });
        }
        let path = self.tmp.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| GuardError::io("cannot create folder", dir, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| write_error(&self.target.join(rel), e))
    }

    /// Puts the file `src` (agingflow's own, a cache entry say) at `rel` inside the staged
    /// directory: a hard link where the file system allows, else a copy.
    pub fn link(&self, rel: &Path, src: &Path) -> Result<(), GuardError> {
        if rel.components().any(|c| !matches!(c, Component::Normal(_)))
            || rel.parent() != Some(Path::new(""))
        {
            return Err(GuardError::NotAName {
                path: rel.to_owned(),
            });
        }
        // `rel` is one plain name: its resolved path is the folder's joined with it (a symlink
        // in its place is replaced by the rename, never written through).
        let (target, real) = (self.tmp.join(rel), self.tmp_real.join(rel));
        link_or_copy_checked(src, &target, || check_resolved(&target, &real, &[]))
    }

    /// Marks the directory and moves it into place, replacing agingflow's previous one.
    pub fn commit(mut self) -> Result<(), GuardError> {
        mark_dir(&self.tmp)?;
        let tx = Transaction::prepare(&[(self.tmp.clone(), self.target.clone())], &[])?;
        tx.apply()?.finish();
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Several moves into place that happen together or not at all.
#[derive(Debug)]
pub struct Transaction {
    moves: Vec<(PathBuf, PathBuf)>,
}

/// Moves that were made and can still be undone; [`Applied::finish`] removes the replaced
/// versions, [`Applied::rollback`] puts them back.
#[derive(Debug)]
pub struct Applied {
    /// (from, to, backup of what `to` held)
    done: Vec<(PathBuf, PathBuf, Option<PathBuf>)>,
    finished: bool,
}

impl Transaction {
    /// Checks every move (`from` onto `to`) against the protected paths, `extra`, and what is in
    /// the way; creates the targets' folders.
    pub fn prepare(moves: &[(PathBuf, PathBuf)], extra: &[Protected]) -> Result<Self, GuardError> {
        for (from, to) in moves {
            check_move(from, to, extra)?;
        }
        for (_, to) in moves {
            let (dir, _) = split(to)?;
            create_dirs(&dir)?;
        }
        Ok(Transaction {
            moves: moves.to_vec(),
        })
    }

    /// Makes every move; on the first failure undoes the ones made and returns the error.
    pub fn apply(self) -> Result<Applied, GuardError> {
        let mut applied = Applied {
            done: Vec::new(),
            finished: false,
        };
        for (from, to) in &self.moves {
            if let Err(e) = applied.one(from, to) {
                applied.undo();
                return Err(e);
            }
        }
        Ok(applied)
    }
}

impl Applied {
    fn one(&mut self, from: &Path, to: &Path) -> Result<(), GuardError> {
        let (dir, name) = split(to)?;
        let backup = if kind(to).is_some() {
            let b = beside(&dir, &name, "old");
            std::fs::rename(to, &b).map_err(|e| GuardError::io("cannot move aside", to, e))?;
            Some(b)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(from, to) {
            if let Some(b) = &backup {
                let _ = std::fs::rename(b, to);
            }
            return Err(GuardError::io("cannot move into place", to, e));
        }
        self.done.push((from.to_owned(), to.to_owned(), backup));
        Ok(())
    }

    /// Undoes every move made, newest first.
    pub fn rollback(mut self) {
        self.undo();
    }

    fn undo(&mut self) {
        while let Some((from, to, backup)) = self.done.pop() {
            let _ = std::fs::rename(&to, &from);
            if let Some(b) = backup {
                let _ = std::fs::rename(&b, &to);
            }
        }
        self.finished = true;
    }

    /// Keeps the moves and removes what they replaced (agingflow's own previous outputs).
    pub fn finish(mut self) {
        for (_, _, backup) in self.done.drain(..) {
            if let Some(b) = backup {
                // Best effort: a leftover backup has a scratch name the next run removes.
                let _ = match kind(&b) {
                    Some(t) if t.is_dir() => std::fs::remove_dir_all(&b),
                    _ => std::fs::remove_file(&b),
                };
            }
        }
        self.finished = true;
    }
}

impl Drop for Applied {
    fn drop(&mut self) {
        // Neither kept nor undone: undo, so that nothing is left half-committed.
        if !self.finished {
            self.undo();
        }
    }
}
