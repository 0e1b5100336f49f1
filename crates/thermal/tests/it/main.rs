//! The integration tests of `thermal`, one binary: each module an area.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accuracy;
mod beta_shapes;
mod fuzz;
mod real;
