//! The Kohlrausch-Williams-Watts stretched exponential and what follows from it.

/// phi(t) = exp(-(t/tau)^beta), for t >= 0.
pub fn phi(t_s: f64, tau_s: f64, beta: f64) -> f64 {
    if t_s <= 0.0 {
        return 1.0;
    }
    (-(t_s / tau_s).powf(beta)).exp()
}

/// The two-stage aging law: tau = tau_b (t_a / t_b)^mu1 up to the breakpoint t_b, mu2 after it.
pub fn two_stage_tau_s(
    aging_time_s: f64,
    breakpoint_s: f64,
    tau_at_breakpoint_s: f64,
    mu1: f64,
    mu2: f64,
) -> f64 {
    let mu = if aging_time_s <= breakpoint_s {
        mu1
    } else {
        mu2
    };
    tau_at_breakpoint_s * (aging_time_s / breakpoint_s).powf(mu)
}
