//! Tests of the manifest: parsing, validation with lines, resolution of files and globs.

use super::*;

const GOOD: &str = "campaign: test\nmaterials:\n  G: { tg_k: 680, kind: metallic }\nrelaxation:\n  - file: dma/a.txt\n    material: G\n    temperature_k: 633\n    aging_time_s: 1800\n    strain: 0.001\nindentation:\n  - files: ind/*.txt\n    material: G\n    temperature_k: 633\n    aging_time_s: 0\n    tip_radius_nm: 360\n";

fn dir_with(files: &[&str]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for f in files {
        let p = d.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "x").unwrap();
    }
    d
}

#[test]
fn a_last_component_glob_lists_what_the_glob_crate_finds() {
    let d = dir_with(&[
        "ind/a.txt",
        "ind/b.txt",
        "ind/.h.txt",
        "ind/c.csv",
        "ind/sub/d.txt",
    ]);
    std::fs::create_dir(d.path().join("ind/dir.txt")).unwrap();
    std::os::unix::fs::symlink(d.path().join("ind/a.txt"), d.path().join("ind/l.txt")).unwrap();
    for pattern in [
        "ind/*.txt",
        "ind/?.txt",
        "ind/[ab].txt",
        "ind/*",
        "ind/sub/*.txt",
    ] {
        let full = d.path().join(pattern).to_string_lossy().into_owned();
        let mut fast: Vec<(PathBuf, Option<bool>)> = glob_files(&full).unwrap().0;
        fast.sort();
        let mut slow: Vec<PathBuf> = glob::glob(&full).unwrap().flatten().collect();
        slow.sort();
        let paths: Vec<PathBuf> = fast.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(paths, slow, "{pattern}");
        // The listing's file type: regular files plain, the symlink and the folder not.
        for (p, plain) in &fast {
            let is_file = std::fs::symlink_metadata(p).unwrap().file_type().is_file();
            assert_eq!(*plain, Some(is_file), "{}", p.display());
        }
    }
    // Wildcards in a folder go to the glob crate, as before.
    let nested = d.path().join("*/*.txt").to_string_lossy().into_owned();
    let found = glob_files(&nested).unwrap().0;
    assert!(found.iter().all(|(_, plain)| plain.is_none()));
    assert_eq!(found.len(), glob::glob(&nested).unwrap().flatten().count());
    assert!(found.len() >= 4);
    assert!(glob_files(&d.path().join("ind/**.txt").to_string_lossy()).is_err());
}

#[test]
fn resolves_files_globs_and_ids() {
    let d = dir_with(&["dma/a.txt", "ind/2.txt", "ind/1.txt"]);
    std::fs::write(d.path().join("c.yaml"), GOOD).unwrap();
    let c = load(&d.path().join("c.yaml")).unwrap();
    assert_eq!(c.relaxation.len(), 1);
    assert_eq!(c.relaxation[0].id, "dma/a");
    assert_eq!(c.relaxation[0].tg_k, Some(680.0));
    let ids: Vec<&str> = c.indentation.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, vec!["ind/1", "ind/2"]);
    assert_eq!(c.indentation[0].line, 11);
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let d = dir_with(&[]);
    let text = GOOD.replace(
        "material: G\n    temperature_k: 633\n    aging_time_s: 1800",
        "material: H\n    temperature_k: 633\n    aging_time_s: 1800",
    );
    std::fs::write(d.path().join("c.yaml"), &text).unwrap();
    let e = load(&d.path().join("c.yaml")).unwrap_err().to_string();
    assert!(
        e.contains("c.yaml:5: relaxation entry 1: material `H` is not under `materials` (G)"),
        "{e}"
    );
    assert!(
        e.contains("c.yaml:11: indentation entry 1: glob `ind/*.txt` matches no file"),
        "{e}"
    );
    let bad = parse("campaign: x\nmaterials: {}\nrelaxtion: []\n", "m.yaml").unwrap_err();
    assert_eq!(bad.line, Some(3), "{bad}");
    assert!(
        bad.to_string()
            .starts_with("m.yaml:3:1: unknown field `relaxtion`"),
        "{bad}"
    );
}
