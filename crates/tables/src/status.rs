//! What `ok` means, in one place: the flags that void a row's interval and the status each gives
//! an `ok` row, and the flags measured not to (docs/status.md is this list in prose). Every
//! stage that writes a `status` column passes its rows through [`settle`] last.

/// What a row's `status` column says: `Ok` (a person may use the row's numbers with their
/// stated uncertainty) or why not. Stages write these through [`Status::as_str`] and compare
/// with `==` (`row.status == Status::Ok`), so a misspelt status does not compile; a table read
/// from elsewhere may hold a status this list lacks, which [`Status::parse`] returns as `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Ok,
    // Relaxation tests (clean).
    TooShort,
    NonMonotoneTime,
    NoStep,
    NoDataAfterStep,
    NegativeStress,
    NonDecaying,
    // Fits (kww-fit, model-compare, indentation-stats, spectrum).
    NotConverged,
    AtBound,
    DriftNotModelled,
    TooFewPoints,
    NonFiniteValues,
    FitFailed,
    // Indents.
    Censored,
    PopinImplausible,
    PoorHertzFit,
    ModulusOutlier,
    NoTipRadius,
    TooFewPopins,
    // Thermal transitions.
    NotFound,
    NotReached,
    NoBaseline,
    ScanTooShort,
    OutsideSegment,
    NoArrheniusShift,
    NotResolved,
    NoIntensity,
    // Spectra.
    BeyondWindow,
    // Activation energy and the aging law.
    SingleTemperature,
    Degenerate,
    TooFewAgingTimes,
    OneAgingTime,
    SingleStage,
}

impl Status {
    /// Every status, in declaration order.
    pub const ALL: &'static [Status] = &[
        Status::Ok,
        Status::TooShort,
        Status::NonMonotoneTime,
        Status::NoStep,
        Status::NoDataAfterStep,
        Status::NegativeStress,
        Status::NonDecaying,
        Status::NotConverged,
        Status::AtBound,
        Status::DriftNotModelled,
        Status::TooFewPoints,
        Status::NonFiniteValues,
        Status::FitFailed,
        Status::Censored,
        Status::PopinImplausible,
        Status::PoorHertzFit,
        Status::ModulusOutlier,
        Status::NoTipRadius,
        Status::TooFewPopins,
        Status::NotFound,
        Status::NotReached,
        Status::NoBaseline,
        Status::ScanTooShort,
        Status::OutsideSegment,
        Status::NoArrheniusShift,
        Status::NotResolved,
        Status::NoIntensity,
        Status::BeyondWindow,
        Status::SingleTemperature,
        Status::Degenerate,
        Status::TooFewAgingTimes,
        Status::OneAgingTime,
        Status::SingleStage,
    ];

    /// The word in the `status` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::TooShort => "too_short",
            Status::NonMonotoneTime => "non_monotone_time",
            Status::NoStep => "no_step",
            Status::NoDataAfterStep => "no_data_after_step",
            Status::NegativeStress => "negative_stress",
            Status::NonDecaying => "non_decaying",
            Status::NotConverged => "not_converged",
            Status::AtBound => "at_bound",
            Status::DriftNotModelled => "drift_not_modelled",
            Status::TooFewPoints => "too_few_points",
            Status::NonFiniteValues => "non_finite_values",
            Status::FitFailed => "fit_failed",
            Status::Censored => "censored",
            Status::PopinImplausible => "popin_implausible",
            Status::PoorHertzFit => "poor_hertz_fit",
            Status::ModulusOutlier => "modulus_outlier",
            Status::NoTipRadius => "no_tip_radius",
            Status::TooFewPopins => "too_few_popins",
            Status::NotFound => "not_found",
            Status::NotReached => "not_reached",
            Status::NoBaseline => "no_baseline",
            Status::ScanTooShort => "scan_too_short",
            Status::OutsideSegment => "outside_segment",
            Status::NoArrheniusShift => "no_arrhenius_shift",
            Status::NotResolved => "not_resolved",
            Status::NoIntensity => "no_intensity",
            Status::BeyondWindow => "beyond_window",
            Status::SingleTemperature => "single_temperature",
            Status::Degenerate => "degenerate",
            Status::TooFewAgingTimes => "too_few_aging_times",
            Status::OneAgingTime => "one_aging_time",
            Status::SingleStage => "single_stage",
        }
    }

    /// The status a column word names, if it is one of this list.
    pub fn parse(word: &str) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| s.as_str() == word)
    }

    /// Whether a person may use the row's numbers.
    pub fn is_ok(word: &str) -> bool {
        word == Status::Ok.as_str()
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Status> for String {
    fn from(s: Status) -> String {
        s.as_str().to_owned()
    }
}

impl PartialEq<Status> for String {
    fn eq(&self, other: &Status) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Status> for str {
    fn eq(&self, other: &Status) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Status> for &str {
    fn eq(&self, other: &Status) -> bool {
        *self == other.as_str()
    }
}

/// The status of a row a person may use, numbers and stated uncertainty alike.
pub const OK: &str = Status::Ok.as_str();

/// Flags that void a row's interval, each with the status it gives a row that was `ok`. Where a
/// row carries several, the first in this list names the status.
pub const VOIDING: &[(&str, Status, &str)] = &[
    (
        "beta_not_resolved",
        Status::NotResolved,
        "a DMA beta hump smaller than twice its SE, or held by a bound of its fit: its temperature and intensity describe the fit, not the scan",
    ),
    (
        "not_converged",
        Status::NotConverged,
        "the optimiser stopped before the minimum: no number is the estimate",
    ),
    (
        "drift_not_modelled",
        Status::DriftNotModelled,
        "kww-fit without its drift term (--drift-mpa-per-h 0) on a curve whose data show a drift beyond 3 SE: beta's intervals held the truth 34-39 % of the time on such curves",
    ),
    (
        "beyond_window",
        Status::BeyondWindow,
        "a spectrum with more than a fifth of its mass outside the measured window: its mean and width are extrapolations the bootstrap bands do not bound",
    ),
    (
        "popin_before_contact",
        Status::PopinImplausible,
        "a pop-in at a depth or load no indentation reaches",
    ),
    (
        "poor_hertz_fit",
        Status::PoorHertzFit,
        "the Hertz fit's R^2 below 0.9: E_r and the critical shear stress rest on it",
    ),
    (
        "hertz_misfit",
        Status::PoorHertzFit,
        "the Hertz fit misses the loading curve systematically (by more than 5 % of the depth range)",
    ),
    (
        "modulus_outlier",
        Status::ModulusOutlier,
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
    if status != Status::Ok {
        return status.to_owned();
    }
    VOIDING
        .iter()
        .find(|(flag, _, _)| flags.split(',').any(|f| f == *flag))
        .map_or_else(|| status.to_owned(), |(_, s, _)| s.as_str().to_owned())
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
    fn every_status_reads_back_from_its_word() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(*s));
        }
        let words: std::collections::BTreeSet<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(words.len(), Status::ALL.len());
        assert_eq!(Status::parse("nonsense"), None);
        let ok = String::from("ok");
        assert!(ok == Status::Ok && "at_bound" == Status::AtBound && ok != Status::AtBound);
    }

    #[test]
    fn no_flag_is_both_voiding_and_kept() {
        for (f, _, _) in VOIDING {
            assert!(KEPT.iter().all(|(k, _)| k != f), "{f}");
        }
    }
}
