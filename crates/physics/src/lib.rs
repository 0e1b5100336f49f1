//! The formulas of docs/physics.md as pure functions, with units in their names. No I/O, no fitting.

pub mod fast_exp;
pub mod indentation;
pub mod interp;
pub mod kww;
pub mod kww_models;
pub mod relaxation_model;
pub mod thermal;

/// The gas constant R in J/(mol K).
pub const GAS_CONSTANT_J_MOL_K: f64 = 8.314462618;

/// The Arrhenius shift of a relaxation time: tau(T) = tau(T_ref) exp(E_a/R (1/T - 1/T_ref)).
pub fn arrhenius_tau_s(
    tau_ref_s: f64,
    ea_kj_mol: f64,
    temperature_k: f64,
    reference_k: f64,
) -> f64 {
    tau_ref_s
        * (ea_kj_mol * 1e3 / GAS_CONSTANT_J_MOL_K * (1.0 / temperature_k - 1.0 / reference_k)).exp()
}
