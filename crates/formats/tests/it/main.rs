//! The integration tests of `formats`, one binary: each module an area.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzz;
mod real_files;
