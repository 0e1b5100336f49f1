//! The integration tests of `spectrum`, one binary: each module an area.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accuracy;
mod common;
mod stage;
