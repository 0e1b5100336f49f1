//! Live progress through the runner: a stage that reports progress for more than two seconds
//! gets a live line on the runner's stderr with `--progress always` (a terminal's `auto`), and
//! nothing of it reaches a piped run's output or the result lines.

use tests::agingflow;

/// A stage that reports 6 files done over 3 s through the runner's progress file, as
/// `stage_cli::Progress` does.
const SLOW: &str = r#"version: 1
outdir: out
stages:
  slow:
    run: [sh, -c, 'for i in 1 2 3 4 5 6; do printf "$i\t6\t$((i * 1000))\tfiles\n" > "$AGINGFLOW_PROGRESS"; sleep 0.5; done; echo done > "$0"', "${outputs.o}"]
    outputs: { o: a.txt }
"#;

#[test]
fn a_long_stage_gets_a_live_line_only_where_asked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yaml"), SLOW).unwrap();
    // Piped (as in CI and logs), `auto`: no live line, no escape sequence anywhere.
    let piped = agingflow(dir.path(), &["run", "p.yaml"]);
    assert_eq!(piped.code, Some(0), "{}", piped.stderr);
    assert!(
        piped.stdout.contains("ran         slow"),
        "{}",
        piped.stdout
    );
    for out in [&piped.stdout, &piped.stderr] {
        assert!(!out.contains('\x1b') && !out.contains("files"), "{out:?}");
    }
    // `always`: the stage's line with done of total, rate and time left, redrawn in place and
    // cleared before the result line; the result lines themselves stay plain.
    let live = agingflow(
        dir.path(),
        &["run", "p.yaml", "--force-all", "--progress", "always"],
    );
    assert_eq!(live.code, Some(0), "{}", live.stderr);
    assert!(
        live.stderr
            .contains("  slow                   2/6 files  33 %  1.0/s  4 s left"),
        "{:?}",
        live.stderr
    );
    assert!(
        live.stderr.contains("\x1b[1A\r\x1b[J"),
        "lines are redrawn in place"
    );
    // Shown only after two seconds (the first record says 1 s), cleared at the end.
    assert!(!live.stderr.contains("1/6 files"), "{:?}", live.stderr);
    assert!(live.stderr.rfind("\x1b[J") > live.stderr.rfind("\x1b[K"));
    assert!(!live.stdout.contains('\x1b'), "{:?}", live.stdout);
    // `never`: nothing, even where it would be drawn.
    let never = agingflow(
        dir.path(),
        &["run", "p.yaml", "--force-all", "--progress", "never"],
    );
    assert!(!never.stderr.contains('\x1b'), "{:?}", never.stderr);
    // The progress file is the runner's scratch: gone after the run.
    let staging = dir.path().join("out/.agingflow/staging");
    let left: Vec<_> = std::fs::read_dir(&staging)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
