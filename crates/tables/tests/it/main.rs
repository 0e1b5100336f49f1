//! The integration tests of `tables`, one binary: each module an area.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzz;
mod layout;
mod tables;
