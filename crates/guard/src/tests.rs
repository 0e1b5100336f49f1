//! Unit tests of the write rules. The registry is process-wide, so each test uses its own folder.

use super::*;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn an_output_may_not_be_contain_or_lie_inside_a_protected_path() {
    let d = dir();
    let data = d.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("raw.txt"), "raw").unwrap();
    protect(&data.join("raw.txt"), "a raw file");
    let e = write_file(&data.join("raw.txt"), b"x").unwrap_err();
    assert!(e.to_string().contains("is a raw file"), "{e}");
    assert_eq!(
        std::fs::read_to_string(data.join("raw.txt")).unwrap(),
        "raw"
    );
    // Through `..` and a symlink.
    std::os::unix::fs::symlink(&data, d.path().join("link")).unwrap();
    let e = write_file(&d.path().join("link/../data/raw.txt"), b"x").unwrap_err();
    assert!(e.to_string().contains("is a raw file"), "{e}");
    let e = write_file(&d.path().join("link/raw.txt"), b"x").unwrap_err();
    assert!(matches!(e, GuardError::Protected { .. }), "{e}");
    // A directory output holding the raw file.
    let e = StagedDir::create(&data).unwrap_err();
    assert!(e.to_string().contains("contains a raw file"), "{e}");
    // A file inside a protected directory.
    protect(&d.path().join("notes"), "the notes folder");
    let e = write_file(&d.path().join("notes/new.txt"), b"x").unwrap_err();
    assert!(
        e.to_string().contains("lies inside the notes folder"),
        "{e}"
    );
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 1);
}

#[test]
fn two_outputs_of_one_stage_may_not_share_a_path() {
    let d = dir();
    let a = d.path().join("a.parquet");
    let b = d.path().join("b.parquet");
    assert!(distinct_outputs(&[&a, &b]).is_ok());
    let e = distinct_outputs(&[&a, &b, &d.path().join("./a.parquet")]).unwrap_err();
    assert!(matches!(e, GuardError::SameOutput { .. }), "{e}");
    let e = distinct_outputs(&[&d.path().join("report"), &d.path().join("report/x")]).unwrap_err();
    assert!(e.to_string().contains("lies inside"), "{e}");
}

#[test]
fn a_failed_write_leaves_the_target_and_no_temporary_file() {
    let d = dir();
    let t = d.path().join("t.txt");
    std::fs::write(&t, "old").unwrap();
    {
        let (_f, mut file) = AtomicFile::create(&t).unwrap();
        file.write_all(b"half").unwrap();
        // dropped without commit
    }
    assert_eq!(std::fs::read_to_string(&t).unwrap(), "old");
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    let e = write_file(&d.path().join("missing/t.txt"), b"x").unwrap_err();
    assert!(
        e.to_string().contains("missing folder") && e.to_string().contains("missing"),
        "{e}"
    );
    assert!(!e.to_string().contains("agingflow-tmp"), "{e}");
}

#[test]
fn names_that_are_not_files_are_refused() {
    for p in [".", "..", "/"] {
        assert!(write_file(Path::new(p), b"x").is_err(), "{p}");
    }
}

#[test]
fn directories_are_replaced_only_when_they_are_agingflows() {
    let d = dir();
    let target = d.path().join("report");
    // A user's non-empty directory: refused, untouched.
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("thesis.tex"), "my thesis").unwrap();
    let e = StagedDir::create(&target).unwrap_err();
    assert!(
        e.to_string().contains("did not make") && e.to_string().contains("thesis.tex"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(target.join("thesis.tex")).unwrap(),
        "my thesis"
    );
    std::fs::remove_file(target.join("thesis.tex")).unwrap();
    // An empty one, then agingflow's own: replaced.
    for round in 0..2 {
        let s = StagedDir::create(&target).unwrap();
        std::fs::create_dir(s.path().join("figures")).unwrap();
        std::fs::write(s.path().join("figures/f.svg"), format!("{round}")).unwrap();
        s.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("figures/f.svg")).unwrap(),
            format!("{round}")
        );
    }
    let marker = std::fs::read_to_string(target.join(MARKER)).unwrap();
    assert!(marker.lines().any(|l| l == "figures/f.svg"), "{marker}");
    // A user's file added to agingflow's directory: refused again.
    std::fs::write(target.join("figures/mine.txt"), "keep").unwrap();
    let e = StagedDir::create(&target).unwrap_err();
    assert!(e.to_string().contains("figures/mine.txt"), "{e}");
    // Only the target is left beside: no staging, no backup.
    let names: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![OsString::from("report")]);
}

#[test]
fn a_transaction_that_fails_midway_restores_every_target() {
    let d = dir();
    let stage = d.path().join("staging");
    std::fs::create_dir_all(stage.join("sub")).unwrap();
    std::fs::create_dir_all(d.path().join("out/sub")).unwrap();
    for (rel, old, new) in [("a.txt", "old a", "new a"), ("sub/b.txt", "old b", "new b")] {
        std::fs::write(d.path().join("out").join(rel), old).unwrap();
        std::fs::write(stage.join(rel), new).unwrap();
    }
    let moves: Vec<(PathBuf, PathBuf)> = ["a.txt", "sub/b.txt"]
        .iter()
        .map(|r| (stage.join(r), d.path().join("out").join(r)))
        .collect();
    let tx = Transaction::prepare(&moves, &[]).unwrap();
    // The second source vanishes between the checks and the moves.
    std::fs::remove_file(stage.join("sub/b.txt")).unwrap();
    assert!(tx.apply().is_err());
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/a.txt")).unwrap(),
        "old a"
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/sub/b.txt")).unwrap(),
        "old b"
    );
    assert_eq!(
        std::fs::read_to_string(stage.join("a.txt")).unwrap(),
        "new a"
    );
    // Applied, then rolled back by the caller (its lock write failed).
    std::fs::write(stage.join("sub/b.txt"), "new b").unwrap();
    let applied = Transaction::prepare(&moves, &[]).unwrap().apply().unwrap();
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/a.txt")).unwrap(),
        "new a"
    );
    applied.rollback();
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/a.txt")).unwrap(),
        "old a"
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/sub/b.txt")).unwrap(),
        "old b"
    );
    // Applied and kept: no backups left.
    Transaction::prepare(&moves, &[])
        .unwrap()
        .apply()
        .unwrap()
        .finish();
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/sub/b.txt")).unwrap(),
        "new b"
    );
    assert_eq!(
        std::fs::read_dir(d.path().join("out/sub")).unwrap().count(),
        1
    );
    assert_eq!(std::fs::read_dir(d.path().join("out")).unwrap().count(), 2);
}

#[test]
fn a_user_directory_where_a_file_output_goes_is_refused() {
    let d = dir();
    std::fs::create_dir_all(d.path().join("out/res")).unwrap();
    std::fs::write(d.path().join("out/res/thesis.txt"), "x").unwrap();
    std::fs::write(d.path().join("new"), "result").unwrap();
    let e =
        Transaction::prepare(&[(d.path().join("new"), d.path().join("out/res"))], &[]).unwrap_err();
    assert!(matches!(e, GuardError::WrongKind { .. }), "{e}");
    assert!(d.path().join("out/res/thesis.txt").is_file());
}

#[test]
fn only_scratch_paths_are_removed() {
    let d = dir();
    std::fs::create_dir_all(d.path().join("thesis")).unwrap();
    assert!(remove_scratch(&d.path().join("thesis")).is_err());
    assert!(d.path().join("thesis").is_dir());
    let s = d.path().join(".agingflow/staging/x-1-0");
    std::fs::create_dir_all(&s).unwrap();
    remove_scratch(&s).unwrap();
    assert!(!s.exists());
}

#[test]
fn the_folder_caching_resolver_gives_what_resolve_gives() {
    let d = dir();
    let real = d.path().join("real");
    std::fs::create_dir_all(real.join("sub")).unwrap();
    std::fs::write(real.join("sub/a.txt"), "a").unwrap();
    std::fs::write(real.join("b.txt"), "b").unwrap();
    std::os::unix::fs::symlink(&real, d.path().join("via")).unwrap();
    std::os::unix::fs::symlink(real.join("b.txt"), real.join("sub/link.txt")).unwrap();
    let r = Resolver::new();
    for p in [
        d.path().join("via/sub/a.txt"),
        d.path().join("via/sub/../b.txt"),
        d.path().join("via/sub/link.txt"),
        d.path().join("via/sub/missing.txt"),
        d.path().join("via/none/missing.txt"),
        d.path().join("via/sub"),
        real.join("sub/a.txt"),
    ] {
        // Twice: the second time from the folders kept.
        assert_eq!(r.resolve(&p), resolve(&p), "{}", p.display());
        assert_eq!(r.resolve(&p), resolve(&p), "{}", p.display());
    }
    let canonical = std::fs::canonicalize(&real).unwrap();
    assert_eq!(
        r.resolve(&d.path().join("via/sub/link.txt")),
        canonical.join("b.txt")
    );
}

#[test]
fn a_path_is_folded_when_folding_would_leave_it_as_it_is() {
    for p in [
        "/a/b/c.txt",
        "/a/./b",
        "/a/../b",
        "/a//b",
        "/a/b/",
        "/",
        "/.hidden/..x/x..",
        "/a/.",
        "/a/..",
    ] {
        let path = Path::new(p);
        let same = fold(path).as_os_str() == path.as_os_str();
        // Never wrong when it says folded; `/` alone is folded the slow way.
        assert_eq!(is_folded(path), same && p != "/", "{p}");
    }
}
