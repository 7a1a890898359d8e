from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ser_orch.report import write_report_files
from ser_orch.results import aggregate, failures_of


@pytest.fixture
def written(tmp_path, records, plan, report_spec):
    stats = aggregate(records, planned=plan)
    (tmp_path / "run.json").write_text(json.dumps({"grid": "kumar2020-arch", "quick": True}))
    (tmp_path / "wa_vs_depth.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    paths = write_report_files(tmp_path, stats, failures_of(stats), report_spec, "Kumar Table I")
    return tmp_path, paths, stats


def test_files_written(written):
    run_dir, paths, _ = written
    assert [p.name for p in paths] == ["results.csv", "results.json", "report.md"]
    assert all(p.parent == run_dir and p.is_file() for p in paths)
    assert not list(run_dir.glob(".*.tmp"))


def test_csv_parses_back(written, wa_values):
    run_dir, _, _ = written
    with (run_dir / "results.csv").open(newline="") as fh:
        rows = {r["config_id"]: r for r in csv.DictReader(fh)}
    assert len(rows) == 4
    r = rows["family=resnet,depth=11"]
    wa = np.array(wa_values["resnet"][11])
    assert float(r["wa_mean"]) == pytest.approx(wa.mean(), abs=1e-15)
    assert float(r["wa_std"]) == pytest.approx(np.std(wa), abs=1e-15)
    assert float(r["wa_min"]) == 0.60 and float(r["wa_max"]) == 0.64
    assert (r["n"], r["expected"], r["failed"], r["missing"]) == ("3", "5", "1", "1")
    assert r["model.family"] == "resnet" and r["model.depth"] == "11"
    assert float(r["paper_wa_pct"]) == 61.11 and r["best"] == "1"
    assert rows["family=resnet,depth=6"]["paper_wa_pct"] == ""


def test_json_parses_back(written, wa_values):
    run_dir, _, _ = written
    data = json.loads((run_dir / "results.json").read_text())
    configs = {c["config_id"]: c for c in data["configs"]}
    c = configs["family=lstm,depth=11"]
    wa = np.array(wa_values["lstm"][11])
    assert c["metrics"]["wa"]["mean"] == pytest.approx(wa.mean(), abs=1e-15)
    assert c["metrics"]["wa"]["std"] == pytest.approx(np.std(wa), abs=1e-15)
    assert [r["wa"] for r in c["runs"]] == list(wa)
    assert [r["fold"] for r in c["runs"]] == [0, 1, 2]
    assert c["confusion"][0] == [9, 3, 0, 0]
    assert data["failures"] == [
        {"trial_id": "family=resnet,depth=11__fold=3__seed=0", "config_id": "family=resnet,depth=11",
         "fold": 3, "seed": 0, "error": "CUDA out of memory [GPU 0]"}
    ]
    assert configs["family=resnet,depth=11"]["paper"] == {"wa": 61.11}
    assert "ddof=0" in data["std"]


def test_markdown(written):
    run_dir, _, _ = written
    md = (run_dir / "report.md").read_text()
    assert md.startswith("# Kumar Table I\n")
    assert "- grid: `kumar2020-arch`" in md
    assert "| ★ | **resnet** | **11** | **62.00** |" in md
    assert "CUDA out of memory [GPU 0]" in md
    assert "[wa_vs_depth.png](wa_vs_depth.png)" in md
    assert "trials done: 12, failed: 1, not run: 7" in md


def test_rerun_is_identical(written, records, plan, report_spec):
    run_dir, paths, _ = written
    before = {p.name: p.read_bytes() for p in paths}
    # Records in another order must not change anything.
    stats = aggregate(list(reversed(records)), planned=plan)
    again = write_report_files(run_dir, stats, failures_of(stats), report_spec, "Kumar Table I")
    assert {p.name: p.read_bytes() for p in again} == before


def test_nan_free_json_without_runs(tmp_path, plan):
    stats = aggregate([], planned=plan)
    write_report_files(tmp_path, stats, [], None, "empty", plots=[])
    data = json.loads((tmp_path / "results.json").read_text())  # strict: no NaN tokens
    assert data["configs"][0]["metrics"]["wa"]["mean"] is None
    assert "No plots." in (tmp_path / "report.md").read_text()


def test_spec_metrics_choose_columns(tmp_path, records, report_spec):
    stats = aggregate(records)
    write_report_files(tmp_path, stats, [], {**report_spec, "metrics": ["wa"]}, "wa only", plots=[])
    header = (tmp_path / "results.csv").read_text().splitlines()[0]
    assert "wa_mean" in header and "ua_mean" not in header
