//! The built-in stages the runner knows by name: their binaries and ports (docs/pipeline.md).
//!
//! The runner depends on no stage crate: it knows a stage only by its binary name
//! `agingflow-<name>` and the ports below, which it uses to validate pipeline files.

/// A built-in stage: the flags it takes for inputs and outputs.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub name: &'static str,
    /// Input ports; `required` ports must be connected.
    pub inputs: &'static [(&'static str, bool)],
    /// Output ports; `required` ones must be declared (an optional one is written only when
    /// declared).
    pub outputs: &'static [(&'static str, bool)],
}

pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "ingest",
        inputs: &[],
        outputs: &[
            ("relaxation-raw", true),
            ("indentation-raw", true),
            ("dsc-raw", false),
            ("dma-sweeps-raw", false),
        ],
    },
    Builtin {
        name: "clean",
        inputs: &[("relaxation-raw", true)],
        outputs: &[("relaxation-clean", true), ("relaxation-tests", true)],
    },
    Builtin {
        name: "kww-fit",
        inputs: &[("relaxation-clean", true)],
        outputs: &[("kww-fits", true), ("aging-law", true)],
    },
    Builtin {
        name: "indentation-stats",
        inputs: &[("indentation-raw", true)],
        outputs: &[("indents", true), ("tau-c-stats", true)],
    },
    Builtin {
        name: "thermal",
        inputs: &[("dsc-raw", false), ("dma-sweeps-raw", false)],
        outputs: &[("transitions", true), ("dma-sweeps", true)],
    },
    Builtin {
        name: "activation-energy",
        inputs: &[("kww-fits", true), ("transitions", false)],
        outputs: &[("activation-energy", true)],
    },
    Builtin {
        name: "model-compare",
        inputs: &[("kww-fits", true)],
        outputs: &[("model-curves", true), ("model-fits", true)],
    },
    Builtin {
        name: "spectrum",
        inputs: &[
            ("relaxation-clean", true),
            ("kww-fits", false),
            ("model-fits", false),
        ],
        outputs: &[
            ("spectra", true),
            ("spectrum-moments", true),
            ("spectrum-series", false),
            ("spectrum-trends", false),
        ],
    },
    Builtin {
        name: "report",
        inputs: &[
            ("kww-fits", false),
            ("aging-law", false),
            ("relaxation-clean", false),
            ("relaxation-tests", false),
            ("indentation-raw", false),
            ("indents", false),
            ("tau-c-stats", false),
            ("activation-energy", false),
            ("model-curves", false),
            ("model-fits", false),
            ("transitions", false),
            ("dma-sweeps", false),
            ("dsc-raw", false),
            ("spectra", false),
            ("spectrum-moments", false),
            ("spectrum-series", false),
        ],
        outputs: &[("report-dir", true)],
    },
    Builtin {
        name: "simulate",
        inputs: &[],
        outputs: &[("out-dir", true)],
    },
];

/// The built-in stage of that name.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The names of every built-in stage, for error messages.
pub fn names() -> String {
    BUILTINS
        .iter()
        .map(|b| b.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The binary that runs a built-in stage.
pub fn binary_name(stage: &str) -> String {
    format!("agingflow-{stage}")
}

/// What a stage asks a cluster for when neither it nor the pipeline says (`resources:`): sized
/// from the scaled-campaign benchmark (bench/scale.md: peak memory at most 180 MB at 2.8 GB of raw
/// files, spectrum the longest at 80 s of CPU) with room for campaigns a hundred times larger.
/// `name` is a built-in stage, or "" for a `run:` stage. No partition: the cluster's default.
pub fn default_resources(name: &str) -> super::resources::Resources {
    let (cpus, memory_gb, hours) = match name {
        "ingest" | "indentation-stats" | "kww-fit" | "model-compare" | "simulate" => (2, 4, 4),
        "spectrum" => (2, 4, 12),
        "report" => (1, 4, 1),
        "clean" | "thermal" => (1, 2, 2),
        "activation-energy" => (1, 1, 1),
        _ => (1, 2, 4),
    };
    super::resources::Resources {
        cpus: Some(cpus),
        memory_mb: Some(memory_gb * 1024),
        time: Some(std::time::Duration::from_secs(hours * 3600)),
        partition: None,
    }
}
