"""The README's Python API example runs as written (on the built-in synthetic corpus)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README.md has no python block after <!-- api-example -->"
    return match.group(1)


def test_readme_api_example_runs_as_written(tmp_path: Path):
    (tmp_path / "grids").symlink_to(REPO / "grids")  # the example uses repo-relative paths
    code = readme_example()
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # What it printed is what the run folder holds: one configuration, fold 0, the paper's fc-7 value.
    from ser_orch.api import read_run

    results = read_run(tmp_path / "runs" / "api-fc7")
    configs, trials = results.configs, results.trials
    assert list(configs["config_id"]) == ["family=fc,depth=7"]
    assert configs.loc[0, "paper_wa"] == 47.22 and configs.loc[0, "wa_n"] == 1
    assert list(trials["fold"]) == [0] and configs.loc[0, "wa_mean"] == trials.loc[0, "wa"]
    history = results.history()
    assert len(history) == trials.loc[0, "epochs"] and set(history["phase"]) == {1, 2}
    assert isinstance(configs, pd.DataFrame)
    assert "family=fc,depth=7" in done.stdout
