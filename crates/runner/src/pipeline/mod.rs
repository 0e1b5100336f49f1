//! The pipeline file: its model ([`model`]), its validation ([`validate`], [`foreach`]), which
//! reports every error at once with file, line and column before anything runs, the built-in
//! stages it may name ([`builtin`]) and the YAML reader beneath ([`yaml`]). Nothing here starts a
//! process or writes a file; the reference is docs/pipeline.md.

use std::path::{Path, PathBuf};

pub mod builtin;
mod diag;
mod foreach;
pub mod model;
pub mod resources;
mod validate;
pub mod yaml;

pub use diag::{Diag, PipelineError};
pub use model::*;
pub use resources::{Executor, Resources};
use validate::Validator;
use yaml::Pos;

/// Reads and validates a pipeline file.
pub fn load(file: &Path) -> Result<Pipeline, PipelineError> {
    load_with(file, LoadOptions::default())
}

/// Reads and validates a pipeline file with `opts`.
pub fn load_with(file: &Path, opts: LoadOptions) -> Result<Pipeline, PipelineError> {
    let label = file.display().to_string();
    let fail = |message: String| PipelineError {
        file: label.clone(),
        diags: vec![Diag {
            pos: Pos { line: 1, col: 1 },
            message,
        }],
    };
    let bytes = guard::read_input(file, "the pipeline file").map_err(|e| {
        fail(match e {
            guard::GuardError::Input { problem, .. } => format!("the pipeline file {problem}"),
            other => format!("cannot read the pipeline file: {other}"),
        })
    })?;
    let text =
        String::from_utf8(bytes).map_err(|_| fail("the pipeline file is not UTF-8".into()))?;
    let abs =
        std::path::absolute(file).map_err(|e| fail(format!("cannot resolve the path: {e}")))?;
    let dir = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    parse_with(&text, file, &dir, opts)
}

/// Validates pipeline text; `file` is used for messages and the lock file's name.
pub fn parse(text: &str, file: &Path, dir: &Path) -> Result<Pipeline, PipelineError> {
    parse_with(text, file, dir, LoadOptions::default())
}

/// [`parse`] with options.
pub fn parse_with(
    text: &str,
    file: &Path,
    dir: &Path,
    opts: LoadOptions,
) -> Result<Pipeline, PipelineError> {
    let label = file.display().to_string();
    let err = |diags| PipelineError {
        file: label.clone(),
        diags,
    };
    let root = match yaml::parse(text) {
        Err(e) => {
            return Err(err(vec![Diag {
                pos: e.pos,
                message: format!("invalid YAML: {}", e.message),
            }]));
        }
        Ok(None) => {
            return Err(err(vec![Diag {
                pos: Pos { line: 1, col: 1 },
                message: "the pipeline file is empty: it needs `version: 1` and `stages:`".into(),
            }]));
        }
        Ok(Some(root)) => root,
    };
    let mut v = Validator {
        d: diag::Diags::default(),
        opts,
    };
    let pipeline = v.pipeline(&root, file, dir);
    let mut diags = v.d.diags;
    diags.sort();
    diags.dedup();
    match pipeline {
        Some(p) if diags.is_empty() => Ok(p),
        _ => Err(err(diags)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize(Path::new("a/./b/../c")), "a/c");
        assert_eq!(
            normalize(Path::new("../build/demo/x.parquet")),
            "../build/demo/x.parquet"
        );
        assert_eq!(normalize(Path::new("a/../../b")), "../b");
        assert_eq!(normalize(Path::new("/x/../y")), "/y");
    }

    #[test]
    fn expand_placeholders() {
        let s = expand("--in=${inputs.a}/${params.x}${", |k, n| {
            (k == "params").then(|| format!("<{n}>"))
        });
        assert_eq!(s, "--in=${inputs.a}/<x>${");
        assert_eq!(
            placeholders("${inputs.a} ${outputs.b}"),
            vec![
                ("inputs".into(), "a".into()),
                ("outputs".into(), "b".into())
            ]
        );
    }

    const FOREACH: &str = r#"version: 1
stages:
  fit:
    foreach: [glassA, glassB]
    run: [sh, -c, 'cp "$0" "$1"', "data/${item}.txt", "${outputs.o}"]
    outputs: { o: "${item}/fit.txt" }
  sum:
    run: [cat, "${inputs.all}", "${outputs.o}"]
    inputs: { all: "fit@*.o" }
    outputs: { o: sum.txt }
"#;

    #[test]
    fn foreach_expands_stages_and_gathers_their_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let p = parse(FOREACH, &dir.path().join("p.yaml"), dir.path()).unwrap();
        let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["fit@glassA", "fit@glassB", "sum"]);
        let a = p.stage("fit@glassA").unwrap();
        assert_eq!(a.outputs["o"], "glassA/fit.txt");
        let Action::Run(argv) = &a.action else {
            panic!("run stage")
        };
        assert_eq!(argv[3], "data/glassA.txt");
        let sum = p.stage("sum").unwrap();
        let gathered: Vec<(&str, &str)> = sum
            .inputs
            .iter()
            .map(|(k, r)| (k.as_str(), r.stage.as_str()))
            .collect();
        assert_eq!(
            gathered,
            [("all@glassA", "fit@glassA"), ("all@glassB", "fit@glassB")]
        );
        assert_eq!(port_base("all@glassA"), "all");
    }

    #[test]
    fn executor_and_resources_are_read_and_merged() {
        let dir = tempfile::tempdir().unwrap();
        let text = FOREACH
            .replace(
                "version: 1\n",
                "version: 1\nexecutor: slurm\nresources: { mem_mb: 1536, partition: short }\n",
            )
            .replace(
                "    outputs: { o: sum.txt }",
                "    outputs: { o: sum.txt }\n    resources: { cpus: 4, time_min: 90, mem_mb: 300 }",
            );
        let p = parse(&text, &dir.path().join("p.yaml"), dir.path()).unwrap();
        assert_eq!(p.executor, Executor::Slurm);
        let sum = p.resources_of(p.stage("sum").unwrap());
        assert_eq!(sum.cpus, Some(4));
        assert_eq!(
            sum.memory_mb,
            Some(300),
            "the stage's own over the pipeline's"
        );
        assert_eq!(sum.time, Some(Duration::from_secs(5400)));
        assert_eq!(sum.partition.as_deref(), Some("short"));
        let fit = p.resources_of(p.stage("fit@glassA").unwrap());
        assert_eq!(fit.memory_mb, Some(1536), "the pipeline's over the default");
        assert_eq!(fit.cpus, Some(1), "a run stage's default");
        // Resources are no part of a stage's key: the same argv, with and without.
        let plain = parse(FOREACH, &dir.path().join("p.yaml"), dir.path()).unwrap();
        assert_eq!(plain.executor, Executor::Local);
        assert_eq!(
            plain.stage("sum").unwrap().action,
            p.stage("sum").unwrap().action
        );
    }

    #[test]
    fn bad_executor_and_resources_are_reported_where_written() {
        let dir = tempfile::tempdir().unwrap();
        let text = FOREACH
            .replace("version: 1\n", "version: 1\nexecutor: kubernetes\n")
            .replace(
                "    outputs: { o: sum.txt }",
                "    outputs: { o: sum.txt }\n    resources: { cpus: 0, mem_mb: 4G, time_min: -1, partition: \"a b\", gpus: 1 }",
            );
        let e = parse(&text, &dir.path().join("p.yaml"), dir.path()).unwrap_err();
        let t = e.to_string();
        for want in [
            "p.yaml:2:11: error: `executor` must be `local` or `slurm`, found `kubernetes`",
            "`cpus` in `resources` of stage `sum` must be a whole number",
            "`mem_mb` in `resources` of stage `sum` must be a whole number of MiB",
            "`time_min` in `resources` of stage `sum` must be a positive number of minutes",
            "`partition` in `resources` of stage `sum` must be a partition name",
            "unknown key `gpus` in `resources` of stage `sum`",
        ] {
            assert!(t.contains(want), "missing `{want}` in:\n{t}");
        }
    }

    #[test]
    fn foreach_errors_name_their_place() {
        let dir = tempfile::tempdir().unwrap();
        let bad = FOREACH
            .replace("[glassA, glassB]", "[glassA, glassA, \"a b\"]")
            .replace("fit@*.o", "nofe@*.o");
        let e = parse(&bad, &dir.path().join("p.yaml"), dir.path()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("item `glassA` comes twice"), "{text}");
        assert!(text.contains("item `a b` may hold only"), "{text}");
        assert!(text.contains("stage `nofe` has no `foreach`"), "{text}");
        let glob = FOREACH.replace("[glassA, glassB]", "{ glob: \"none/*/x.yaml\" }");
        let e = parse(&glob, &dir.path().join("p.yaml"), dir.path()).unwrap_err();
        assert!(e.to_string().contains("matches nothing"), "{e}");
    }

    #[test]
    fn a_foreach_glob_names_items_by_the_matched_component() {
        let dir = tempfile::tempdir().unwrap();
        for g in ["vit1", "pvc"] {
            std::fs::create_dir_all(dir.path().join("campaigns").join(g)).unwrap();
            std::fs::write(
                dir.path().join("campaigns").join(g).join("campaign.yaml"),
                "",
            )
            .unwrap();
        }
        let text = FOREACH
            .replace(
                "[glassA, glassB]",
                "{ glob: \"campaigns/*/campaign.yaml\" }",
            )
            .replace("data/${item}.txt", "${item.path}");
        let p = parse(&text, &dir.path().join("p.yaml"), dir.path()).unwrap();
        let s = p.stage("fit@pvc").expect("pvc expanded");
        let Action::Run(argv) = &s.action else {
            panic!("run stage")
        };
        assert_eq!(argv[3], "campaigns/pvc/campaign.yaml");
        assert!(p.stage("fit@vit1").is_some());
    }
}
