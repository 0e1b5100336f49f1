//! Hostile inputs: cut-off exports, shuffled or duplicated tables, manifest problems, messages that name the real cause, globs over symlinks, files agingflow did not write.

use super::*;

/// The first TRIOS file of the small campaign, relative to its folder.
fn a_trios_file(c: &Path) -> String {
    let dir = c.join("dma/TiZrHfCuNiBe");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| std::fs::read_to_string(dir.join(n)).is_ok_and(|t| t.contains("[step]")))
        .collect();
    names.sort();
    format!("dma/TiZrHfCuNiBe/{}", names[0])
}

fn ingest_in(c: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "--manifest",
        "campaign.yaml",
        "--relaxation-raw",
        "rr.parquet",
        "--indentation-raw",
        "ir.parquet",
    ];
    args.extend_from_slice(extra);
    stage("agingflow-ingest", c, &args)
}

// Row 8: a file cut in the middle of a number.
#[test]
fn a_cut_off_export_is_refused_in_every_text_format() {
    let d = tempfile::tempdir().unwrap();
    let c = d.path().join("c");
    tests::small_campaign(&c);
    let trios = a_trios_file(&c);
    let ua = "dma/TiZrHfCuNiBe/633K_1800s.txt";
    let hys = first_file_under(&c.join("indents"))
        .strip_prefix(&c)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    for file in [trios.as_str(), ua, hys.as_str()] {
        let path = c.join(file);
        let whole = std::fs::read(&path).unwrap();
        // Cut inside the last number (UTF-16 files are cut on a character boundary).
        let step = if whole.starts_with(&[0xff, 0xfe]) {
            2
        } else {
            1
        };
        let mut end = whole.len() - step;
        while end > 0
            && (whole[end - step..end] == *b"\n".as_slice()
                || whole[end - step] == b'\n'
                || whole[end - step] == b'\r')
        {
            end -= step;
        }
        let cut = &whole[..end - 2 * step];
        std::fs::write(&path, cut).unwrap();
        let r = ingest_in(&c, &[]);
        assert_eq!(r.code, Some(1), "{file}: {r:?}");
        assert!(
            r.stderr.contains(file) && r.stderr.contains("cut off"),
            "{file}: {}",
            r.stderr
        );
        std::fs::write(&path, &whole).unwrap();
    }
    assert_eq!(ingest_in(&c, &[]).code, Some(0));
}

/// Rewrites a Parquet table with its rows in another order (`order` indexes the rows), keeping
/// the schema and metadata: what a user's pandas or pyarrow script might do.
fn rewrite_rows(path: &Path, order: &[usize]) {
    let t = tables::read_any(path).unwrap();
    // Global row index to (batch, offset).
    let mut at = Vec::new();
    for (b, batch) in t.batches.iter().enumerate() {
        at.extend((0..batch.num_rows()).map(|i| (b, i)));
    }
    let props = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(Some(
            t.meta
                .entries
                .iter()
                .map(|(k, v)| parquet::file::metadata::KeyValue::new(k.clone(), v.clone()))
                .collect(),
        ))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, t.schema.clone(), Some(props)).unwrap();
    for &i in order {
        let (b, off) = at[i];
        w.write(&t.batches[b].slice(off, 1)).unwrap();
    }
    w.close().unwrap();
}

fn rows(path: &Path) -> usize {
    tables::read_any(path)
        .unwrap()
        .batches
        .iter()
        .map(|b| b.num_rows())
        .sum()
}

// Row 9: tables out of order or with duplicated rows.
#[test]
fn shuffled_or_duplicated_tables_are_refused_naming_the_input() {
    let d = tempfile::tempdir().unwrap();
    campaign_with_tables(d.path());
    let n = rows(&d.path().join("t/ir.parquet"));
    let mut rng = 12345u64;
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        order.swap(i, (rng % (i as u64 + 1)) as usize);
    }
    rewrite_rows(&d.path().join("t/ir.parquet"), &order);
    let r = stage(
        "agingflow-indentation-stats",
        d.path(),
        &[
            "--indentation-raw",
            "t/ir.parquet",
            "--indents",
            "i.parquet",
            "--tau-c-stats",
            "s.parquet",
        ],
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("t/ir.parquet") && r.stderr.contains("not in the order agingflow reads"),
        "{}",
        r.stderr
    );
    assert!(!d.path().join("i.parquet").exists());
    // Duplicated rows of a curve table (every row twice, in place).
    let n = rows(&d.path().join("t/rr.parquet"));
    let twice: Vec<usize> = (0..n).flat_map(|i| [i, i]).collect();
    rewrite_rows(&d.path().join("t/rr.parquet"), &twice);
    let r = stage(
        "agingflow-clean",
        d.path(),
        &[
            "--relaxation-raw",
            "t/rr.parquet",
            "--relaxation-clean",
            "c2.parquet",
            "--relaxation-tests",
            "t2.parquet",
        ],
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("t/rr.parquet") && r.stderr.contains("duplicated row"),
        "{}",
        r.stderr
    );
    // Duplicated rows of a row table.
    let n = rows(&d.path().join("t/kww_fits.parquet"));
    let dup: Vec<usize> = (0..n).chain(0..n).collect();
    rewrite_rows(&d.path().join("t/kww_fits.parquet"), &dup);
    let r = stage(
        "agingflow-activation-energy",
        d.path(),
        &[
            "--kww-fits",
            "t/kww_fits.parquet",
            "--activation-energy",
            "ea.parquet",
        ],
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("t/kww_fits.parquet")
            && r.stderr.contains("not in the order agingflow reads"),
        "{}",
        r.stderr
    );
}

// Row 11: manifest problems, each on its own line, once, through the runner too.
#[test]
fn every_manifest_problem_is_listed_once_with_its_line() {
    let d = tempfile::tempdir().unwrap();
    let c = d.path().join("c");
    tests::small_campaign(&c);
    let text = std::fs::read_to_string(c.join("campaign.yaml")).unwrap();
    let entries: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("- file: dma/"))
        .map(|(i, _)| i + 1)
        .collect();
    let (first, third) = (entries[0], entries[2]);
    let first_file = text
        .lines()
        .nth(first - 1)
        .unwrap()
        .trim_start_matches("- file: ")
        .to_owned();
    // The third entry: a wrong material, a negative aging time and the first entry's file.
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[third - 1] = format!("- file: {first_file}");
    for l in lines.iter_mut().skip(third).take(4) {
        if l.trim_start().starts_with("material:") {
            *l = "  material: Unobtainium".into();
        } else if l.trim_start().starts_with("aging_time_s:") {
            *l = "  aging_time_s: -5".into();
        }
    }
    std::fs::write(c.join("campaign.yaml"), lines.join("\n") + "\n").unwrap();
    let r = ingest_in(&c, &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    let at = |what: &str| {
        r.stderr
            .lines()
            .filter(|l| l.contains(what))
            .map(|l| l.to_owned())
            .collect::<Vec<_>>()
    };
    for what in ["Unobtainium", "aging_time_s must be", "listed twice"] {
        let found = at(what);
        assert_eq!(found.len(), 1, "{what} once: {}", r.stderr);
        assert!(
            found[0].contains(&format!("campaign.yaml:{third}:")),
            "{what}: {}",
            found[0]
        );
    }
    // Through the runner the problems themselves are shown, not only the log's path.
    write_pipeline(
        &c,
        "version: 1\noutdir: out\nstages:\n  ingest:\n    uses: ingest\n    with: { manifest: campaign.yaml }\n    outputs: { relaxation-raw: r.parquet, indentation-raw: i.parquet }\n",
    );
    let r = agingflow(&c, &["run", "p.yaml"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stdout.contains("Unobtainium") && r.stdout.contains("listed twice"),
        "{}",
        r.stdout
    );
}

// Row 12: messages that name the real cause.
#[test]
fn messages_name_the_real_cause() {
    let d = tempfile::tempdir().unwrap();
    campaign_with_tables(d.path());
    std::fs::create_dir_all(d.path().join("adir")).unwrap();
    std::os::unix::fs::symlink("loop", d.path().join("loop")).unwrap();
    std::os::unix::fs::symlink("missing.parquet", d.path().join("dangling")).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(d.path().join("fifo"))
        .status()
        .unwrap();
    assert!(fifo.success());
    for (input, says) in [
        ("adir", "is a directory, not a file"),
        ("loop", "symlink loop"),
        ("dangling", "symlink to a file that does not exist"),
        ("fifo", "not a regular file"),
        ("nothing.parquet", "does not exist"),
    ] {
        let r = stage(
            "agingflow-clean",
            d.path(),
            &[
                "--relaxation-raw",
                input,
                "--relaxation-clean",
                "x.parquet",
                "--relaxation-tests",
                "y.parquet",
            ],
        );
        assert_eq!(r.code, Some(1), "{input}: {r:?}");
        assert!(r.stderr.contains(says), "{input}: {}", r.stderr);
    }
    // A rule comparing a text column with a number says so in words.
    write_pipeline(
        d.path(),
        "version: 1\noutdir: t\nstages:\n  t:\n    run: [agingflow-testkit, table, --out, \"${outputs.f}\", --rows, \"3\", --bad, \"0\"]\n    outputs: { f: f.parquet }\n    checks:\n      - table: f\n        expect: \"status > 0.5\"\n",
    );
    let r = agingflow(d.path(), &["run", "p.yaml"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stdout.contains("'ok' (a string)") && r.stdout.contains("0.5 (a number)"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("Str(") && !r.stdout.contains("Num("),
        "{}",
        r.stdout
    );
    // TRIOS with decimal commas, declared: read.
    let c = d.path().join("c");
    let trios = a_trios_file(&c);
    let text = std::fs::read_to_string(c.join(&trios)).unwrap();
    let (head, data) = text.split_at(text.find("MPa\t%\tMPa\n").unwrap() + "MPa\t%\tMPa\n".len());
    std::fs::write(c.join(&trios), format!("{head}{}", data.replace('.', ","))).unwrap();
    let manifest = std::fs::read_to_string(c.join("campaign.yaml")).unwrap();
    let marked = manifest.replace(
        &format!("- file: {trios}\n"),
        &format!("- file: {trios}\n  decimal_comma: true\n"),
    );
    assert_ne!(manifest, marked);
    std::fs::write(c.join("campaign.yaml"), marked).unwrap();
    let r = ingest_in(&c, &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
}

// Row 12: a read-only output folder names that folder, not a temporary file.
#[test]
fn a_read_only_output_folder_is_named() {
    let d = tempfile::tempdir().unwrap();
    let exe = tests::bin_dir().join("agingflow-testkit");
    std::fs::create_dir_all(d.path().join("ro")).unwrap();
    let mut perm = std::fs::metadata(d.path().join("ro"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o555);
    std::fs::set_permissions(d.path().join("ro"), perm).unwrap();
    let out = std::process::Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&exe)
        .args(["table", "--out"])
        .arg(d.path().join("ro/f.parquet"))
        .args(["--rows", "2", "--bad", "0"])
        .output();
    let Ok(out) = out else {
        eprintln!("skipped: setpriv (util-linux) is needed to write as an unprivileged user");
        return;
    };
    let r: Run = out.into();
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("no permission to write into folder") && r.stderr.contains("/ro"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("agingflow-tmp"), "{}", r.stderr);
}

// Row 13: a glob through a symlink loop.
#[test]
fn a_glob_counts_each_file_once_whatever_the_symlinks() {
    let d = tempfile::tempdir().unwrap();
    let c = d.path().join("c");
    tests::small_campaign(&c);
    let manifest = std::fs::read_to_string(c.join("campaign.yaml")).unwrap();
    assert!(manifest.contains("files: indents/"), "{manifest}");
    let before = ingest_in(&c, &[]);
    assert_eq!(before.code, Some(0), "{before:?}");
    let count = |r: &Run| {
        r.stderr.lines().find_map(|l| {
            l.split(" indents (")
                .next()?
                .rsplit(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
    };
    let n = count(&before).unwrap();
    for m in std::fs::read_dir(c.join("indents")).unwrap().flatten() {
        if m.file_type().unwrap().is_dir() {
            for g in std::fs::read_dir(m.path()).unwrap().flatten() {
                std::os::unix::fs::symlink(".", g.path().join("loop")).unwrap();
            }
        }
    }
    let globbed = manifest.replace("/*.txt", "/**/*.txt");
    assert_ne!(globbed, manifest);
    std::fs::write(c.join("campaign.yaml"), &globbed).unwrap();
    let r = ingest_in(&c, &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(count(&r), Some(n), "{}", r.stderr);
    assert!(r.stderr.contains("more than once"), "{}", r.stderr);
}

// Row 14: temperatures that do not add up.
#[test]
fn a_temperature_without_a_unit_or_far_from_the_manifest_is_flagged() {
    let d = tempfile::tempdir().unwrap();
    let c = d.path().join("c");
    tests::small_campaign(&c);
    let trios = a_trios_file(&c);
    let text = std::fs::read_to_string(c.join(&trios)).unwrap();
    std::fs::write(c.join(&trios), text.replacen("s\t°C\tMPa", "s\t\tMPa", 1)).unwrap();
    // And another test's manifest temperature 20 K off what its file measured.
    let manifest = std::fs::read_to_string(c.join("campaign.yaml")).unwrap();
    let entry = manifest
        .find("- file: dma/TiZrHfCuNiBe/633K_1800s.txt")
        .unwrap();
    let t_at = entry + manifest[entry..].find("temperature_k: 633").unwrap();
    let edited = format!(
        "{}temperature_k: 653{}",
        &manifest[..t_at],
        &manifest[t_at + "temperature_k: 633".len()..]
    );
    std::fs::write(c.join("campaign.yaml"), edited).unwrap();
    let r = ingest_in(&c, &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stderr.contains(&trios) && r.stderr.contains("has no unit: read as °C"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("differs from the manifest's 653 K"),
        "{}",
        r.stderr
    );
    let (curves, _) = tables::read_curves::<tables::RelaxationRaw>(&c.join("rr.parquet")).unwrap();
    let flags = |file: &str| {
        curves
            .iter()
            .find(|t| t.source_file == file)
            .unwrap()
            .flags
            .clone()
    };
    assert_eq!(flags(&trios), "temperature_unit_assumed_c");
    assert_eq!(
        flags("dma/TiZrHfCuNiBe/633K_1800s.txt"),
        "temperature_mismatch"
    );
    let r = stage(
        "agingflow-clean",
        &c,
        &[
            "--relaxation-raw",
            "rr.parquet",
            "--relaxation-clean",
            "rc.parquet",
            "--relaxation-tests",
            "rt.parquet",
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let (tests_rows, _) =
        tables::read_rows::<tables::RelaxationTest>(&c.join("rt.parquet")).unwrap();
    assert!(
        tests_rows
            .iter()
            .any(|t| t.flags.contains("temperature_mismatch"))
    );
    assert!(
        tests_rows
            .iter()
            .any(|t| t.flags.contains("temperature_unit_assumed_c"))
    );
}

// Row 15: the smaller traps.
#[test]
fn the_smaller_traps_are_closed() {
    let d = tempfile::tempdir().unwrap();
    // `${params.x}` in an output path is expanded.
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nparams: { name: result }\nstages:\n  s:\n    run: [sh, -c, 'echo ok > \"$0\"', \"${outputs.o}\"]\n    outputs: { o: \"${params.name}.txt\" }\n",
    );
    assert_eq!(agingflow(d.path(), &["run", "p.yaml"]).code, Some(0));
    assert!(d.path().join("out/result.txt").is_file());
    // A selection that selects nothing is an error.
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nstages:\n  a:\n    run: [sh, -c, 'echo a > \"$0\"', \"${outputs.o}\"]\n    outputs: { o: a.txt }\n  b:\n    run: [sh, -c, 'cat \"$0\" > \"$1\"', \"${inputs.i}\", \"${outputs.o}\"]\n    inputs: { i: a.o }\n    outputs: { o: b.txt }\n",
    );
    let r = agingflow(d.path(), &["run", "p.yaml", "--only", "b", "--until", "a"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("names no stage to run"), "{}", r.stderr);
    // Option values must be finite.
    let r = stage(
        "agingflow-indentation-stats",
        d.path(),
        &[
            "--indentation-raw",
            "x",
            "--indents",
            "y",
            "--tau-c-stats",
            "z",
            "--burst-sigmas",
            "nan",
        ],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("not a finite number"), "{}", r.stderr);
    // `deps: ["**/*"]` leaves out agingflow's own files, so a second run runs nothing.
    std::fs::write(d.path().join("notes.txt"), "n").unwrap();
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nstages:\n  s:\n    run: [sh, -c, 'echo ok > \"$0\"', \"${outputs.o}\"]\n    deps: [\"**/*\"]\n    outputs: { o: o.txt }\n",
    );
    assert_eq!(agingflow(d.path(), &["run", "p.yaml"]).code, Some(0));
    let again = agingflow(d.path(), &["run", "p.yaml"]);
    assert_eq!(
        again.stages("up to date"),
        vec!["s".to_owned()],
        "{again:?}"
    );
    // A missing `deps` file stops the stage before it runs.
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nstages:\n  s:\n    run: [sh, -c, 'touch ran; echo ok > \"$0\"', \"${outputs.o}\"]\n    deps: [scripts/missing.py]\n    outputs: { o: o2.txt }\n",
    );
    let r = agingflow(d.path(), &["run", "p.yaml"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("matches no file"), "{}", r.stdout);
    assert!(!d.path().join("ran").exists(), "the stage ran");
    // `check --junit` onto the pipeline file is refused.
    let before = std::fs::read(d.path().join("p.yaml")).unwrap();
    let r = agingflow(d.path(), &["check", "p.yaml", "--junit", "p.yaml"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("the pipeline file"), "{}", r.stderr);
    assert_eq!(std::fs::read(d.path().join("p.yaml")).unwrap(), before);
    // A plan of 40 000 stages (a chain) comes back.
    let mut big = String::from(
        "version: 1\noutdir: out\nstages:\n  s0:\n    run: [sh, -c, 'echo > \"$0\"', \"${outputs.o}\"]\n    outputs: { o: s0.txt }\n",
    );
    for i in 1..40_000 {
        big.push_str(&format!(
            "  s{i}:\n    run: [sh, -c, 'cat \"$0\" > \"$1\"', \"${{inputs.i}}\", \"${{outputs.o}}\"]\n    inputs: {{ i: s{}.o }}\n    outputs: {{ o: s{i}.txt }}\n",
            i - 1
        ));
    }
    write_pipeline(d.path(), &big);
    let r = agingflow(d.path(), &["plan", "p.yaml", "--json"]);
    assert_eq!(r.code, Some(0), "{:?}", &r.stderr);
    assert_eq!(r.stdout.matches("\"action\"").count(), 40_000);
}

// Row 15: a manifest naming a file outside its folder.
#[test]
fn a_manifest_cannot_reach_outside_its_folder() {
    let d = tempfile::tempdir().unwrap();
    let c = d.path().join("c");
    tests::small_campaign(&c);
    let secret = d.path().join("secret.txt");
    std::fs::write(&secret, "root:x:0:0:top secret\n").unwrap();
    let manifest = std::fs::read_to_string(c.join("campaign.yaml")).unwrap();
    let moved = manifest.replacen(
        "- file: dma/TiZrHfCuNiBe/633K_1800s.txt",
        &format!("- file: {}", secret.display()),
        1,
    );
    std::fs::write(c.join("campaign.yaml"), &moved).unwrap();
    let r = ingest_in(&c, &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("lies outside the manifest's folder"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("top secret"), "{}", r.stderr);
    // Allowed: the file is read (and refused as no known format, without echoing it), its id is
    // relative.
    let r = ingest_in(&c, &["--allow-outside"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("unknown format"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("top secret") && !r.stderr.contains("root:x"),
        "{}",
        r.stderr
    );
    std::fs::copy(c.join("dma/TiZrHfCuNiBe/633K_1800s.txt"), &secret).unwrap();
    let r = ingest_in(&c, &["--allow-outside"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let (curves, _) = tables::read_curves::<tables::RelaxationRaw>(&c.join("rr.parquet")).unwrap();
    assert!(
        curves.iter().any(|t| t.test_id == "../secret"),
        "{:?}",
        curves.iter().map(|t| &t.test_id).collect::<Vec<_>>()
    );
    assert!(curves.iter().all(|t| !t.test_id.starts_with('/')));
}

// No output path may overwrite a user's file that agingflow did not write, whatever its name.
#[test]
fn an_existing_file_agingflow_did_not_write_is_never_replaced() {
    let d = tempfile::tempdir().unwrap();
    campaign_with_tables(d.path());
    std::fs::write(d.path().join("thesis.tex"), "\\chapter{Aging}").unwrap();
    let before = snapshot(d.path());
    // A stage alone, its table output on the user's file.
    let r = stage(
        "agingflow-clean",
        d.path(),
        &[
            "--relaxation-raw",
            "t/rr.parquet",
            "--relaxation-clean",
            "c3.parquet",
            "--relaxation-tests",
            "thesis.tex",
        ],
    );
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(
        r.stderr.contains("not a table agingflow wrote"),
        "{}",
        r.stderr
    );
    unchanged(&before);
    // Its own table is replaced as before.
    let again = stage(
        "agingflow-clean",
        d.path(),
        &[
            "--relaxation-raw",
            "t/rr.parquet",
            "--relaxation-clean",
            "t/rc.parquet",
            "--relaxation-tests",
            "t/rt.parquet",
        ],
    );
    assert_eq!(again.code, Some(0), "{again:?}");
    // The runner: an output named like a user's file in the output directory.
    std::fs::create_dir_all(d.path().join("out")).unwrap();
    std::fs::write(d.path().join("out/notes.txt"), "lab notes").unwrap();
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nstages:\n  s:\n    run: [sh, -c, 'echo x > \"$0\"', \"${outputs.o}\"]\n    outputs: { o: notes.txt }\n",
    );
    let r = agingflow(d.path(), &["run", "p.yaml"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("no record of writing it"), "{}", r.stdout);
    assert_eq!(
        std::fs::read_to_string(d.path().join("out/notes.txt")).unwrap(),
        "lab notes"
    );
    // Once removed, the output is the runner's own and is replaced on every rerun.
    std::fs::remove_file(d.path().join("out/notes.txt")).unwrap();
    assert_eq!(agingflow(d.path(), &["run", "p.yaml"]).code, Some(0));
    assert_eq!(
        agingflow(d.path(), &["run", "p.yaml", "--force-all"]).code,
        Some(0)
    );
    // The simulator into a folder holding a user's campaign.yaml.
    let lab = d.path().join("lab");
    std::fs::create_dir_all(&lab).unwrap();
    std::fs::write(lab.join("campaign.yaml"), "campaign: mine\n").unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/truth-spec.yaml");
    let r = stage(
        "agingflow-simulate",
        d.path(),
        &["--spec", &spec.to_string_lossy(), "--out-dir", "lab"],
    );
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(
        r.stderr.contains("not written by agingflow-simulate"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(lab.join("campaign.yaml")).unwrap(),
        "campaign: mine\n"
    );
    assert!(!lab.join("dma").exists());
}

// Issue 37, "hangs": a `deps` glob over a folder holding two symlinks to itself ends, and the
// stage runs once; before, the walk never finished and ignored SIGTERM.
#[test]
fn a_deps_glob_over_symlink_loops_ends() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("d/sub");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("one.txt"), "1").unwrap();
    std::fs::write(d.path().join("d/two.txt"), "2").unwrap();
    std::os::unix::fs::symlink(".", d.path().join("d/s1")).unwrap();
    std::os::unix::fs::symlink(".", d.path().join("d/s2")).unwrap();
    std::os::unix::fs::symlink("..", data.join("up")).unwrap();
    write_pipeline(
        d.path(),
        "version: 1\noutdir: out\nstages:\n  s:\n    run: [sh, -c, 'echo ok > \"$0\"', \"${outputs.o}\"]\n    deps: [\"d/**/*.txt\"]\n    outputs: { o: o.txt }\n",
    );
    let mut child = command("agingflow")
        .args(["run", "p.yaml"])
        .current_dir(d.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the run did not end in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let r: Run = child.wait_with_output().unwrap().into();
    assert_eq!(r.code, Some(0), "{r:?}");
    let lock = std::fs::read_to_string(d.path().join("p.lock")).unwrap();
    // Each file once, by the path the walk reached it first.
    assert!(
        lock.contains("d/sub/one.txt") && lock.contains("d/two.txt"),
        "{lock}"
    );
    assert!(!lock.contains("s1/"), "{lock}");
}
