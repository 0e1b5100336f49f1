"""The Python package against the stage binaries on the same data: each function's row equals the
row the stage writes, bit for bit; bad input raises ValueError naming the argument.

Needs the agingflow binaries (AGINGFLOW_BIN_DIR, set by `make pytest`) and the shipped demo
campaign (fixtures/demo)."""

import math
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

import agingflow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("AGINGFLOW_BIN_DIR", ROOT / "target" / "debug"))
DEMO = ROOT / "fixtures" / "demo" / "campaign.yaml"
# The columns a stage takes from the manifest, not from the computation on the curve.
IDENTITY = {"test_id", "indent_id", "scan_id", "material", "series", "strain", "temperature_k",
            "aging_time_s", "tg_k", "tip_radius_nm", "aging_temperature_k", "heating_rate_k_min"}


def stage(name, *args, codes=(0,)):
    exe = BIN / f"agingflow-{name}"
    if not exe.is_file():
        pytest.skip(f"{exe} is missing: build the binaries first (make build)")
    done = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
    assert done.returncode in codes, done.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo")
    stage("ingest", "--manifest", DEMO, "--relaxation-raw", d / "raw.parquet",
          "--indentation-raw", d / "ind.parquet", "--dsc-raw", d / "dsc.parquet",
          "--dma-sweeps-raw", d / "dma.parquet")
    stage("clean", "--relaxation-raw", d / "raw.parquet", "--relaxation-clean",
          d / "clean.parquet", "--relaxation-tests", d / "tests.parquet")
    return d


def curves(table, id_column):
    """The curves of a curve table: id to a dict of column name to list."""
    out = {}
    for row in table.to_pylist():
        c = out.setdefault(row[id_column], {})
        for k, v in row.items():
            c.setdefault(k, []).append(v)
    return out


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def assert_row(py_row, stage_row, skip=()):
    for k, want in stage_row.items():
        if k in IDENTITY or k in skip:
            continue
        assert k in py_row, k
        assert same(py_row[k], want), f"{k}: python {py_row[k]!r}, stage {want!r}"


@pytest.mark.parametrize("model, weighting, bootstrap", [
    ("kww_offset", "samples", 0), ("auto", "log-time", 0), ("kww", "samples", 30)])
def test_fit_kww_equals_the_stage_bit_for_bit(demo, model, weighting, bootstrap):
    fits_path = demo / f"fits-{model}-{weighting}.parquet"
    stage("kww-fit", "--relaxation-clean", demo / "clean.parquet", "--kww-fits", fits_path,
          "--aging-law", demo / "law.parquet", "--model", model, "--weighting", weighting,
          "--bootstrap", bootstrap)
    fits = {r["test_id"]: r for r in agingflow.read_table(fits_path).to_pylist()}
    clean = curves(agingflow.read_table(demo / "clean.parquet"), "test_id")
    assert len(fits) == len(clean) == 19
    for tid, c in clean.items():
        row = agingflow.fit_kww(c["time_s"], c["phi"], stress_mpa=c["stress_mpa"],
                                n_samples=c["n_samples"], step_se_s=c["step_end_se_s"][0],
                                model=model, weighting=weighting, bootstrap=bootstrap,
                                test_id=tid)
        assert_row(row, fits[tid])
        assert row["status"] == "ok" and 0 < row["beta"] <= 1


def test_find_popin_and_hertz_equal_the_stage(demo):
    stage("indentation-stats", "--indentation-raw", demo / "ind.parquet", "--indents",
          demo / "indents.parquet", "--tau-c-stats", demo / "stats.parquet")
    rows = {r["indent_id"]: r for r in agingflow.read_table(demo / "indents.parquet").to_pylist()}
    raw = curves(agingflow.read_table(demo / "ind.parquet"), "indent_id")
    checked = 0
    for iid, c in list(raw.items())[:40]:
        want = rows[iid]
        # The stage also compares each indent's E_r with its array's (modulus_outlier).
        skip = ("status", "flags") if "modulus_outlier" in want["flags"] else ()
        row = agingflow.find_popin(c["depth_nm"], c["load_un"], c["tip_radius_nm"][0],
                                   time_s=c["time_s"], segment=c["segment"], indent_id=iid)
        assert_row(row, want, skip)
        h = agingflow.hertz(c["depth_nm"], c["load_un"], c["tip_radius_nm"][0],
                            time_s=c["time_s"], segment=c["segment"])
        assert h["er_gpa"] == want["er_gpa"] and h["h0_nm"] == want["h0_nm"]
        checked += 1
    assert checked == 40


def test_dsc_tg_equals_the_stage(demo):
    stage("thermal", "--dsc-raw", demo / "dsc.parquet", "--dma-sweeps-raw", demo / "dma.parquet",
          "--transitions", demo / "tr.parquet", "--dma-sweeps", demo / "sweeps.parquet")
    rows = [r for r in agingflow.read_table(demo / "tr.parquet").to_pylist() if r["kind"] == "dsc"]
    scans = curves(agingflow.read_table(demo / "dsc.parquet"), "scan_id")
    assert scans and rows
    for sid, c in scans.items():
        got = agingflow.dsc_tg(c["temperature_k"], c["heat_flow_w_g"], time_s=c["time_s"],
                               endo=c["endo"][0], heating_rate_k_min=c["heating_rate_k_min"][0],
                               scan_id=sid)
        want = [r for r in rows if r["scan_id"] == sid]
        assert len(got) == len(want), sid
        for g, w in zip(got, want):
            assert_row(g, w)
        assert any(g["transition"] == "tg_onset" and g["status"] == "ok" for g in got)


@pytest.mark.parametrize("bands", ["posterior", "bootstrap"])
def test_spectrum_equals_the_stage(demo, bands):
    moments = demo / f"moments-{bands}.parquet"
    stage("spectrum", "--relaxation-clean", demo / "clean.parquet", "--spectra",
          demo / f"spectra-{bands}.parquet", "--spectrum-moments", moments,
          "--bands", bands, "--bootstrap", "20", codes=(0, 1))
    # Without the KWW fits' offsets every demo curve's spectrum runs beyond the window: flagged
    # rows, and exit 1 (nothing inverted to use); the rows are still written and compared.
    rows = {r["test_id"]: r for r in agingflow.read_table(moments).to_pylist()}
    clean = curves(agingflow.read_table(demo / "clean.parquet"), "test_id")
    for tid in sorted(clean)[:3]:
        c = clean[tid]
        got = agingflow.spectrum(c["time_s"], c["phi"], n_samples=c["n_samples"], bands=bands,
                                 bootstrap=20, test_id=tid)
        assert_row(got, rows[tid])
        assert got["status"] == rows[tid]["status"] == "beyond_window"
        assert got["mean_ln_tau_se"] is not None


def test_read_table_keeps_units_and_reads_table_folders(demo, tmp_path):
    t = agingflow.read_table(demo / "clean.parquet")
    assert isinstance(t, pa.Table)
    assert t.schema.field("time_s").metadata[b"unit"] == b"s"
    assert t.schema.field("stress_mpa").metadata[b"unit"] == b"MPa"
    parts = tmp_path / "raw"
    stage("ingest", "--manifest", DEMO, "--relaxation-raw", parts,
          "--indentation-raw", tmp_path / "ind.parquet", "--parts")
    folder = agingflow.read_table(parts)
    whole = agingflow.read_table(demo / "raw.parquet")
    assert folder.num_rows == whole.num_rows
    assert folder.column("test_id").to_pylist() == whole.column("test_id").to_pylist()
    with pytest.raises(ValueError, match="path"):
        agingflow.read_table(tmp_path / "nothing.parquet")


def test_run_returns_the_summary(tmp_path):
    if not (BIN / "agingflow").is_file():
        pytest.skip("no agingflow binary")
    os.environ["AGINGFLOW_BIN_DIR"] = str(BIN)
    (tmp_path / "p.yaml").write_text(
        "version: 1\noutdir: out\nstages:\n  a:\n    run: [sh, -c, 'echo hi > \"$0\"', "
        "\"${outputs.o}\"]\n    outputs: { o: a.txt }\n")
    first = agingflow.run(tmp_path / "p.yaml")
    assert first["exit_code"] == 0, first
    assert first["stages"]["a"]["outcome"] == "ran"
    again = agingflow.run(tmp_path / "p.yaml")
    assert again["exit_code"] == 0 and "a" not in [s for s, v in again["stages"].items()
                                                  if v["outcome"] == "ran"]


@pytest.mark.parametrize("call, arg", [
    (lambda: agingflow.fit_kww([1.0, float("nan")], [1.0, 0.5]), "t_s"),
    (lambda: agingflow.fit_kww([1.0, 2.0], [1.0]), "phi"),
    (lambda: agingflow.fit_kww([-1.0, 2.0], [1.0, 0.5]), "t_s"),
    (lambda: agingflow.fit_kww([1.0, 2.0], [1.0, 0.5], model="stretched"), "model"),
    (lambda: agingflow.fit_kww([1.0, 2.0], [1.0, 0.5], weighting="none"), "weighting"),
    (lambda: agingflow.fit_kww([1.0, 2.0], [1.0, 0.5], n_samples=[1, 0]), "n_samples"),
    (lambda: agingflow.find_popin([1.0, 2.0], [1.0], 360.0), "load_un"),
    (lambda: agingflow.find_popin([1.0, 2.0], [1.0, 2.0], -1.0), "tip_radius_nm"),
    (lambda: agingflow.dsc_tg([300.0, float("inf")], [0.1, 0.2]), "temperature_k"),
    (lambda: agingflow.dsc_tg([300.0, 301.0], [0.1, 0.2], endo="sideways"), "endo"),
    (lambda: agingflow.spectrum([1.0, 2.0], [1.0, 0.5, 0.2]), "phi"),
    (lambda: agingflow.spectrum([1.0, 2.0], [1.0, 0.5], grid=3), "grid"),
    (lambda: agingflow.spectrum([1.0, 2.0], [1.0, 0.5], bands="jackknife"), "bands"),
    (lambda: agingflow.spectrum([1.0, 2.0], [1.0, 0.5], n_samples=[1, 0]), "n_samples"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, arg):
    with pytest.raises(ValueError, match=f"^{arg}:"):
        call()


def test_a_curve_too_short_to_fit_is_a_flagged_row_not_an_error():
    row = agingflow.fit_kww([1.0, 2.0, 3.0], [0.9, 0.8, 0.7])
    assert row["status"] != "ok" and row["beta"] is None
