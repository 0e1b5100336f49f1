"""agingflow from Python.

The functions on arrays run the stages' own code (a Rust extension built from the same crates as
the stage binaries) and return the row the stage would write, as a dict whose keys are the
table's column names with their units (``beta``, ``tau_s``, ``tau_c_gpa``, ...): see
docs/tables.md. Bad input raises ``ValueError`` naming the argument.

``read_table`` gives any agingflow table as a ``pyarrow.Table`` (each float column carries its
unit in the field metadata ``unit``), so ``.to_pandas()`` and ``polars.from_arrow`` work.
``run`` runs a pipeline with the ``agingflow`` binaries (on PATH, or in ``AGINGFLOW_BIN_DIR``).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

from ._agingflow import __version__, dsc_tg, find_popin, fit_kww, spectrum

__all__ = [
    "__version__",
    "dsc_tg",
    "find_popin",
    "fit_kww",
    "hertz",
    "read_table",
    "run",
    "spectrum",
]

_HERTZ = ("er_gpa", "er_se_gpa", "h0_nm", "hertz_r_squared", "hertz_n_points", "status", "flags")


def hertz(depth_nm, load_un, tip_radius_nm, **options):
    """The Hertz fit of an indent's loading curve before its first pop-in, P = (4/3) E_r
    sqrt(R) (h - h0)^(3/2), as indentation-stats fits it: ``er_gpa`` (GPa), ``er_se_gpa``,
    ``h0_nm`` (nm), ``hertz_r_squared``, ``hertz_n_points``, ``status``, ``flags``.
    Arguments as for :func:`find_popin`."""
    row = find_popin(depth_nm, load_un, tip_radius_nm, **options)
    return {k: row[k] for k in _HERTZ}


def read_table(path):
    """An agingflow table (a ``.parquet`` file, or a table folder of ``part-NNNNNN.parquet``
    parts read in order) as a ``pyarrow.Table`` with its schema's metadata and units."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    if p.is_dir():
        parts = sorted(p.glob("part-*.parquet"))
        if not parts:
            raise ValueError(f"path: {p} is a folder without part-*.parquet files")
        tables = [pq.read_table(q) for q in parts]
        return pa.concat_tables(tables)
    if not p.is_file():
        raise ValueError(f"path: {p} does not exist")
    return pq.read_table(p)


_LINE = re.compile(r"^(ran|restored|up to date|up-to-date|failed|skipped)\s+(\S+)\s+([0-9.]+) s")


def _binary():
    d = os.environ.get("AGINGFLOW_BIN_DIR")
    if d and (Path(d) / "agingflow").is_file():
        return str(Path(d) / "agingflow")
    found = shutil.which("agingflow")
    if found:
        return found
    raise FileNotFoundError(
        "agingflow: the `agingflow` binary is neither in AGINGFLOW_BIN_DIR nor on PATH "
        "(build it with `make release` and put target/release on PATH)"
    )


def run(pipeline_path, *, jobs=None, force=(), force_all=False, only=None, until=None,
        from_stage=None, keep_going=False, no_checks=False):
    """Runs a pipeline as ``agingflow run`` does and returns its summary: ``exit_code`` (0 when
    every selected stage succeeded), ``stages`` (stage name to ``{"outcome", "seconds"}``),
    ``summary`` (the run's last line) and ``stderr``."""
    exe = _binary()
    args = [exe, "run", str(pipeline_path)]
    if jobs is not None:
        args += ["-j", str(int(jobs))]
    for s in ([force] if isinstance(force, str) else list(force)):
        args += ["--force", s]
    if force_all:
        args.append("--force-all")
    for flag, value in (("--only", only), ("--until", until), ("--from", from_stage)):
        if value is not None:
            args += [flag, value]
    if keep_going:
        args.append("--keep-going")
    if no_checks:
        args.append("--no-checks")
    env = dict(os.environ)
    env["PATH"] = str(Path(exe).parent) + os.pathsep + env.get("PATH", "")
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    stages = {}
    for line in done.stdout.splitlines():
        m = _LINE.match(line)
        if m:
            stages[m.group(2)] = {"outcome": m.group(1), "seconds": float(m.group(3))}
    lines = [l for l in done.stdout.splitlines() if l.strip()]
    return {
        "exit_code": done.returncode,
        "stages": stages,
        "summary": lines[-1] if lines else "",
        "stderr": done.stderr,
    }
