"""docs/python.md's worked example, run as written: every ```python block in order in one
namespace, and every ```sh block that calls a stage, in a scratch copy of the project's layout
(the demo's fixtures linked, its pipeline copied) so the repository's build/ is not touched.

Needs pandas, polars and matplotlib besides the package (`make pytest` installs them)."""

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("AGINGFLOW_BIN_DIR", ROOT / "target" / "debug"))
DOC = ROOT / "docs" / "python.md"


def blocks(text):
    return re.findall(r"```(python|sh)\n(.*?)```", text, flags=re.S)


def test_the_worked_example_runs_as_written(tmp_path, monkeypatch):
    for module in ("pandas", "polars", "matplotlib"):
        pytest.importorskip(module, reason=f"docs/python.md uses {module}; make pytest installs it")
    if not (BIN / "agingflow").is_file():
        pytest.skip(f"{BIN}/agingflow is missing: build the binaries first (make build)")
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "demo.yaml").write_bytes((ROOT / "pipelines" / "demo.yaml").read_bytes())
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    (tmp_path / ".git").mkdir()  # the project's root, as in a clone
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGINGFLOW_BIN_DIR", str(BIN))
    found = blocks(DOC.read_text())
    assert sum(kind == "python" for kind, _ in found) >= 4, "the worked example lost its blocks"
    namespace = {}
    ran_stage = False
    for kind, code in found:
        if kind == "python":
            exec(compile(code, f"{DOC}", "exec"), namespace)
        elif "target/debug/agingflow-" in code:
            words = shlex.split(code.replace("\\\n", " "))
            words[0] = str(BIN / Path(words[0]).name)
            done = subprocess.run(words, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            ran_stage = True
    assert ran_stage
    # What the example claims: the figure is written, the refit is a row with beta, and the
    # table written by pyarrow's defaults gives the demo's own fits.
    assert (tmp_path / "build" / "demo" / "beta_vs_ta.png").stat().st_size > 10_000
    assert 0.0 < namespace["again"]["beta"] <= 1.0
    import agingflow as af
    own = af.read_table("build/demo/kww_fits.parquet").to_pandas().set_index("test_id")
    mine = af.read_table("build/demo/mine_fits.parquet").to_pandas().set_index("test_id")
    assert len(mine) == len(own)
    assert (mine.status == "ok").sum() > 0
