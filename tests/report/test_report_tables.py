from __future__ import annotations

import io

import pytest
from rich.console import Console

from ser_orch.report import ReportSpec, aggregate_table, failures_table, paper_value, summary_table
from ser_orch.report.paper import values_match
from ser_orch.report.tables import problems_table
from ser_orch.results import RecordProblem, aggregate, failures_of


def render(table, width: int = 220) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    return console.file.getvalue()


def row_of(text: str, *needles: str) -> str:
    rows = [line for line in text.splitlines() if all(n in line for n in needles)]
    assert len(rows) == 1, (needles, text)
    return rows[0]


@pytest.mark.parametrize(("a", "b", "same"), [(11, "11", True), (11.0, "11", True), ("ResNet", "resnet", True),
                                              (0.1, "0.1", True), (True, "true", True), (11, 12, False)])
def test_values_match(a, b, same):
    assert values_match(a, b) is same


def test_paper_value(report_spec):
    paper = report_spec["paper"]
    assert paper_value(paper, {"model.family": "resnet", "model.depth": 11}, "wa") == 61.11
    assert paper_value(paper, {"model.family": "resnet", "model.depth": 11}, "ua") is None  # null in the grid
    assert paper_value(paper, {"model.family": "resnet", "model.depth": 6}, "wa") is None
    assert paper_value(paper, {"model.depth": 11}, "wa") is None  # the where key must be an axis


def test_aggregate_table_numbers_marker_and_paper(records, plan, report_spec):
    stats = aggregate(records, planned=plan)
    text = render(aggregate_table(stats, series_key="model.family", paper=report_spec["paper"]))
    resnet11 = row_of(text, "resnet", " 11 ")
    # WA mean/min/max/std of 0.60, 0.62, 0.64 in %, population std = 1.63.
    for cell in ("62.00", "60.00", "64.00", "1.63", "61.11", "3/5, 1 failed, 1 missing", "★"):
        assert cell in resnet11
    assert "★" in row_of(text, "lstm", " 6 ")
    assert "★" not in row_of(text, "resnet", " 6 ")
    assert "★" not in row_of(text, "lstm", " 11 ")
    assert "43.67" in row_of(text, "lstm", " 11 ")
    assert "paper WA" in text and "paper UA" not in text  # no UA numbers in the paper list
    assert "WA = overall accuracy" in text


def test_best_row_is_bold_green(records):
    stats = aggregate(records)  # natural order: lstm 6, lstm 11, resnet 6, resnet 11
    assert [(s.axes["model.family"], s.axes["model.depth"]) for s in stats][0] == ("lstm", 6)
    table = aggregate_table(stats, series_key="model.family")
    assert [row.style for row in table.rows] == ["bold green", None, None, "bold green"]


def test_failures_table_shows_brackets_literally(records):
    text = render(failures_table(failures_of(aggregate(records))))
    assert "family=resnet,depth=11__fold=3__seed=0" in text
    assert "CUDA out of memory [GPU 0]" in text


def test_failures_table_accepts_records(records):
    failed = [r for r in records if r.failed]
    assert "CUDA out of memory" in render(failures_table(failed))


def test_problems_table(tmp_path):
    text = render(problems_table([RecordProblem(tmp_path / "x.json", "JSONDecodeError: [bad]")]))
    assert "x.json" in text and "JSONDecodeError: [bad]" in text


def test_summary_table(records, report_spec):
    spec = ReportSpec.from_any(report_spec)
    text = render(summary_table(aggregate(records), spec.series, spec.x, paper=spec.paper))
    resnet = row_of(text, "resnet")
    assert "62.00" in resnet and "61.11" in resnet and "Table I" in resnet
    lstm = row_of(text, "lstm")
    # Our best lstm depth is 6 (44.00), the paper's is 7 (56.94).
    assert "44.00" in lstm and "56.94" in lstm and " 7 " in lstm and " 6 " in lstm


def test_empty_stats_render():
    assert "Results" in render(aggregate_table([]))
