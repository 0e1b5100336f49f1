//! What a stage asks a cluster for (`resources:`) and where a run's stages execute (`executor:`).

use std::time::Duration;

/// Where a run's stages execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Executor {
    /// Child processes of the runner, on this machine.
    #[default]
    Local,
    /// Batch jobs of a Slurm cluster (`sbatch`), on a file system shared with this machine.
    Slurm,
}

/// What a stage asks a cluster for (`resources:`); never part of a stage's key, since no output
/// depends on it. Unset fields fall back to the pipeline's `resources:`, then to the stage's
/// defaults (`builtin::default_resources`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPUs of the job's one task (`--cpus-per-task`); also the stage's worker threads there.
    pub cpus: Option<u32>,
    /// Memory of the job in MiB (`mem_mb`, `--mem`).
    pub memory_mb: Option<u64>,
    /// Time limit (`time_min`, `--time`), whole minutes rounded up.
    pub time: Option<Duration>,
    /// Partition (`--partition`).
    pub partition: Option<String>,
}

impl Resources {
    /// Each field of `self`, else of `fallback`.
    pub fn or(&self, fallback: &Resources) -> Resources {
        Resources {
            cpus: self.cpus.or(fallback.cpus),
            memory_mb: self.memory_mb.or(fallback.memory_mb),
            time: self.time.or(fallback.time),
            partition: self
                .partition
                .clone()
                .or_else(|| fallback.partition.clone()),
        }
    }
}
