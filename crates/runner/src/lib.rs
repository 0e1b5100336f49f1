//! The agingflow runner: reads a pipeline file, decides from content hashes what is stale, runs
//! stage binaries in parallel with staged outputs and a lock file, and evaluates data-quality
//! checks, and keeps a run cache of every stage's outputs. It knows stages only by name and binary; it depends on no stage crate.

pub mod builtin;
pub mod cache;
pub mod checks;
pub mod commands;
pub mod diff;
pub mod engine;
pub mod hash;
pub mod lock;
pub mod pipeline;
pub mod slurm;
pub mod yaml;
