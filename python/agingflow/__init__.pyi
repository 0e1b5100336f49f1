"""Type stubs of agingflow (units are in the names: _s seconds, _k kelvin, _mpa, _gpa, _nm, _un)."""

from os import PathLike
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import pyarrow

__version__: str

Row = Dict[str, Any]
Floats = Sequence[float]

def fit_kww(
    t_s: Floats,
    phi: Floats,
    *,
    stress_mpa: Optional[Floats] = ...,
    n_samples: Optional[Sequence[int]] = ...,
    step_se_s: Optional[float] = ...,
    model: str = "auto",
    weighting: str = "samples",
    drift_mpa_per_h: float = 0.5,
    bootstrap: int = 0,
    seed: int = 7,
    test_id: str = "curve",
) -> Row:
    """The kww_fits row of one curve: beta, beta_se, tau_s, tau_se_s, ..., status, flags."""

def spectrum(
    t_s: Floats,
    phi: Floats,
    *,
    n_samples: Optional[Sequence[int]] = ...,
    grid: Optional[int] = ...,
    bands: str = "bootstrap",
    bootstrap: Optional[int] = ...,
    seed: int = 7,
    test_id: str = "curve",
) -> Row:
    """The spectrum_moments row of one curve, with ln_tau, h, h_low, h_high lists."""

def find_popin(
    depth_nm: Floats,
    load_un: Floats,
    tip_radius_nm: float,
    *,
    time_s: Optional[Floats] = ...,
    segment: Optional[Sequence[int]] = ...,
    contact_load_un: Optional[float] = ...,
    burst_sigmas: Optional[float] = ...,
    min_burst_nm: Optional[float] = ...,
    min_hertz_points: Optional[int] = ...,
    indent_id: str = "indent",
) -> Row:
    """The indents row of one indent: popin_load_un, popin_depth_nm, er_gpa, tau_c_gpa, status, ..."""

def hertz(depth_nm: Floats, load_un: Floats, tip_radius_nm: float, **options: Any) -> Row:
    """er_gpa, er_se_gpa, h0_nm, hertz_r_squared, hertz_n_points, status, flags."""

def dsc_tg(
    temperature_k: Floats,
    heat_flow_w_g: Floats,
    *,
    time_s: Optional[Floats] = ...,
    endo: Optional[str] = ...,
    heating_rate_k_min: Optional[float] = ...,
    scan_id: str = "scan",
) -> List[Row]:
    """The transitions rows of one DSC scan (T_g onset, midpoint, end; crystallisation onset)."""

def read_table(path: Union[str, "PathLike[str]"]) -> pyarrow.Table:
    """An agingflow table (file or table folder) with its units in the field metadata."""

def run(
    pipeline_path: Union[str, "PathLike[str]"],
    *,
    jobs: Optional[int] = ...,
    force: Union[str, Iterable[str]] = ...,
    force_all: bool = ...,
    only: Optional[str] = ...,
    until: Optional[str] = ...,
    from_stage: Optional[str] = ...,
    keep_going: bool = ...,
    no_checks: bool = ...,
) -> Dict[str, Any]:
    """exit_code, stages (name to outcome and seconds), summary, stderr."""
