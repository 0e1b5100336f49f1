//! What `ok` means, in one place: the flags that void a row's interval and the status each gives
//! an `ok` row, and the flags measured not to (docs/status.md is this list in prose). Every
//! stage that writes a `status` column passes its rows through [`settle`] last.

/// The status of a row a person may use, numbers and stated uncertainty alike.
pub const OK: &str = "ok";

/// Flags that void a row's interval, each with the status it gives a row that was `ok`. Where a
/// row carries several, the first in this list names the status.
pub const VOIDING: &[(&str, &str, &str)] = &[
    (
        "beta_not_resolved",
        "not_resolved",
        "a DMA beta hump smaller than twice its SE, or held by a bound of its fit: its temperature and intensity describe the fit, not the scan",
    ),
    (
        "not_converged",
        "not_converged",
        "the optimiser stopped before the minimum: no number is the estimate",
    ),
    (
        "drift_not_modelled",
        "drift_not_modelled",
        "kww-fit without its drift term (--drift-mpa-per-h 0) on a curve whose data show a drift beyond 3 SE: beta's intervals held the truth 34-39 % of the time on such curves",
    ),
    (
        "beyond_window",
        "beyond_window",
        "a spectrum with more than a fifth of its mass outside the measured window: its mean and width are extrapolations the bootstrap bands do not bound",
    ),
    (
        "popin_before_contact",
        "popin_implausible",
        "a pop-in at a depth or load no indentation reaches",
    ),
    (
        "poor_hertz_fit",
        "poor_hertz_fit",
        "the Hertz fit's R^2 below 0.9: E_r and the critical shear stress rest on it",
    ),
    (
        "hertz_misfit",
        "poor_hertz_fit",
        "the Hertz fit misses the loading curve systematically (by more than 5 % of the depth range)",
    ),
    (
        "modulus_outlier",
        "modulus_outlier",
        "E_r more than 5 robust SD from its array's median: the indent's tau_c rests on that E_r",
    ),
];

/// Flags that stay on `ok` rows, and the measurement that says their intervals still hold.
pub const KEPT: &[(&str, &str)] = &[
    (
        "ill_conditioned",
        "|corr(ln tau, beta)| > 0.95: on 1000 simulated curves per row, 96-98 % of the flagged rows' beta intervals and 95-97 % of ln tau's held the truth (the covariance carries the correlation)",
    ),
    (
        "tau_extrapolated",
        "tau beyond the window: 98-99 % of the flagged rows' intervals held the truth",
    ),
    (
        "autocorrelated_residuals",
        "the errors are widened by the long-run variance factor",
    ),
    (
        "not_kww",
        "the interval holds for the stretched exponential closest to the curve under the chosen weighting (92-97 % of 1000 curves that are log-normal or two-mode); beta_weighting_shift gives the systematic next to it (docs/weighting.md)",
    ),
    (
        "drift",
        "a drift the fit modelled, its uncertainty in the covariance",
    ),
];

/// The status a row with these flags should have: `status` unless it is `ok` and a flag voids
/// it.
pub fn settled(status: &str, flags: &str) -> String {
    if status != OK {
        return status.to_owned();
    }
    VOIDING
        .iter()
        .find(|(flag, _, _)| flags.split(',').any(|f| f == *flag))
        .map_or_else(|| status.to_owned(), |(_, s, _)| (*s).to_owned())
}

/// [`settled`] in place.
pub fn settle(status: &mut String, flags: &str) {
    let s = settled(status, flags);
    if s != *status {
        *status = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voiding_flag_takes_ok_away_and_the_first_names_the_status() {
        assert_eq!(settled("ok", "tau_extrapolated,ill_conditioned"), "ok");
        assert_eq!(settled("ok", "x,drift_not_modelled"), "drift_not_modelled");
        assert_eq!(
            settled("ok", "beyond_window,not_converged"),
            "not_converged"
        );
        assert_eq!(settled("at_bound", "beyond_window"), "at_bound");
        assert_eq!(settled("ok", "beyond_window_x"), "ok");
    }

    #[test]
    fn no_flag_is_both_voiding_and_kept() {
        for (f, _, _) in VOIDING {
            assert!(KEPT.iter().all(|(k, _)| k != f), "{f}");
        }
    }
}
