//! Least squares for agingflow, with no file I/O: Levenberg-Marquardt on argmin (`lm`),
//! bounds by transformation (`bounds`), covariance from an SVD of the final Jacobian, standard
//! errors and correlations, AIC/AICc/BIC and t quantiles (`stats`), and a seeded residual
//! bootstrap identical for any thread count (`bootstrap`), and nonnegative least squares in Gram
//! form for regularised inversions (`nnls`); exp over a slice, vectorised (`vexp`).

pub mod bootstrap;
pub mod bounds;
pub mod linalg;
pub mod lm;
pub mod nnls;
pub mod stats;
pub mod vexp;

pub use bounds::Bound;
pub use lm::{Fit, FitError, Model, Options, least_squares, least_squares_starts};
