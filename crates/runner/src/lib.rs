//! The agingflow runner: reads a pipeline file, decides from content hashes what is stale, runs
//! stage binaries in parallel with staged outputs and a lock file, evaluates data-quality checks,
//! and keeps a run cache of every stage's outputs. It knows stages only by name and binary; it
//! depends on no stage crate.
//!
//! Layers, each using only those listed before it (a module map is in ARCHITECTURE.md):
//! [`pipeline`] (the model and its validation), [`checks`], [`hash`], [`lock`], [`cache`],
//! [`process`] (signals, a stage's process group, file locks), [`key`] (what a stage's key is),
//! [`stale`] (why a stage must run), [`ctx`] (one invocation's shared state), [`staging`] and
//! [`exec`] (one stage end to end), [`plan`] (selection and the plan), the schedulers [`local`]
//! and [`slurm`], then [`diff`] and [`commands`] on top.

pub mod cache;
pub mod checks;
pub mod commands;
pub mod ctx;
pub mod diff;
pub mod error;
pub mod exec;
pub mod hash;
pub mod key;
pub mod live;
pub mod local;
pub mod lock;
pub mod pipeline;
pub mod plan;
pub mod process;
pub mod slurm;
pub mod staging;

#[cfg(test)]
mod layering;
pub mod stale;
