//! The end-to-end tests, one binary: pipelines run by the real binaries (`make test` builds them
//! first), each module an area. `slurm` runs only with `--features slurm` (`make test-slurm`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cache;
mod ci_docs;
mod docs;
mod faults;
mod foreach;
mod foreign;
mod hostile;
mod progress;
mod runner;
mod series;
#[cfg(feature = "slurm")]
mod slurm;
