"""report.html, checked in a real headless Chromium: numbers, embedded plots, offline, sorting, escaping.

The run folder is a fake one (records written with the project's own ``write_record``, no
training), reported by the real ``build_report``; the page is what Chromium's DOM holds after
the page's script ran (``--dump-dom``). Tests that need the browser skip where none is installed.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image

from ser_orch.grid import parse_grid
from ser_orch.report.build import build_report
from ser_orch.report.html import render_report_html, render_table, write_report_html
from ser_orch.report.rows import TableRows, aggregate_rows, summary_rows
from ser_orch.results import TrialRecord
from ser_orch.results.records import scan_records, write_record
from ser_orch.rundir import create_run_dir, open_run_dir

from browser_page import Node, chromium as _chromium, needs_browser, parse, table_cells

LABELS = ["neutral", "happy", "sad", "angry"]
# No "/" in a config id: write_record names the file after the trial id.
EVIL = '<script>document.body.dataset.pwned="family";<b onclick=alert(1)>'
EVIL_ERROR = 'RuntimeError: boom </td><script>document.body.dataset.pwned="error"</script>'
EVIL_TRACE = 'Traceback line two <img src=x onerror="document.body.dataset.pwned=1">'
EVIL_GRID_COMMENT = '# </pre><script>document.body.dataset.pwned="grid"</script>'

# family -> depth -> per-fold WA (fractions), folds 0..2; UA = WA - 0.02. EVIL's single-digit
# mean tells numeric from text sorting ("7.00" vs "45.67"); gru is planned but never ran.
WA: dict[str, dict[int, list[float]]] = {
    "resnet": {6: [0.50, 0.52, 0.54], 11: [0.60, 0.63]},  # resnet 11 fold 2 failed
    "lstm": {6: [0.40, 0.45, 0.47], 11: [0.44, 0.41, 0.46]},
    EVIL: {6: [0.05, 0.07, 0.09]},
    "gru": {6: []},
}
FAILED = ("resnet", 11, 2)

GRID_TEXT = f"""{EVIL_GRID_COMMENT}
name: html_fake
description: "fake run for the report.html tests"
task: kumar
dataset: {{name: ravdess, root: null}}
features: {{name: mfcc39}}
protocol: {{name: kumar_70_30, folds: 3, params: {{folds: 3}}}}
model: {{family: fc, depth: 6}}
grid:
  model.family: [resnet, lstm]
  model.depth: [6, 11]
report:
  series: model.family
  x: model.depth
  paper:
    - {{where: {{model.family: resnet, model.depth: 11}}, wa: 61.11, source: "Table I"}}
"""

def _cid(family: str, depth: int) -> str:
    return f"family={family},depth={depth}"


def _record(family: str, depth: int, fold: int, wa: float | None, error: str | None = None) -> TrialRecord:
    cid = _cid(family, depth)
    done = error is None
    return TrialRecord(
        trial_id=f"{cid}__fold={fold}__seed=0", config_id=cid,
        axes={"model.family": family, "model.depth": depth}, fold=fold, seed=0,
        status="done" if done else "failed", error=error,
        metrics={"wa": wa, "ua": round(wa - 0.02, 10)} if done else {},
        labels=list(LABELS),
        confusion=[[3, 1, 0, 0], [0, 4, 0, 0], [1, 0, 2, 1], [0, 0, 0, 4]] if done else None,
    )


# --- the page and the browser -----------------------------------------------------------------


@dataclass
class Built:
    run_dir: Path
    page: Path
    table: TableRows
    plots: list[Path]
    kwargs: dict[str, Any]  # what write_report_html got, less run_dir


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    run_dir = tmp_path_factory.mktemp("html") / "run"
    grid = parse_grid(GRID_TEXT, "html_fake.yaml")
    plan = [
        {"trial_id": f"{_cid(fam, d)}__fold={fold}__seed=0", "config_id": _cid(fam, d),
         "axes": {"model.family": fam, "model.depth": d}, "fold": fold, "seed": 0}
        for fam, by_depth in WA.items() for d in by_depth for fold in range(3)
    ]
    create_run_dir(run_dir, grid, plan, {"quick": True, "note": EVIL})
    for fam, by_depth in WA.items():
        for depth, values in by_depth.items():
            for fold, wa in enumerate(values):
                write_record(run_dir, _record(fam, depth, fold, wa))
    write_record(run_dir, _record(*FAILED, None, error=f"{EVIL_ERROR}\n{EVIL_TRACE}"))
    (run_dir / "trials" / "broken.json").write_text("{not json")

    # What report/build.py is to hand the page (see write_report_html).
    report = build_report(run_dir, plots=True)
    spec = grid.spec.report
    metrics = list(spec.metrics)
    table = aggregate_rows(report.stats, metrics=metrics, series_key=spec.series, best_metric=metrics[0], paper=spec.paper)
    plots = [p for p in report.files if p.suffix == ".png"]
    kwargs: dict[str, Any] = dict(
        title=grid.name, description=grid.spec.description or "",
        grid_text=(run_dir / "grid.yaml").read_text(), options=open_run_dir(run_dir).meta, table=table,
        summary=summary_rows(report.stats, spec.series, spec.x, metric=metrics[0], paper=spec.paper),
        plots=plots, failures=report.failures, problems=scan_records(run_dir).problems,
    )
    page = write_report_html(run_dir, report.json_data, **kwargs)
    return Built(run_dir, page, table, plots, {"results": report.json_data, **kwargs})


def _expected(values: list[float]) -> list[str]:
    """Mean/min/max/std (population, as the report states) in % with two decimals, by numpy."""
    if not values:
        return ["-"] * 4
    a = 100 * np.array(values)
    return [f"{x:.2f}" for x in (a.mean(), a.min(), a.max(), a.std(ddof=0))]


def _row_order(dom: Node) -> list[tuple[str, str]]:
    _, rows = table_cells(dom.by_id("results"))
    return [(r[1], r[2]) for r in rows]  # (family, depth) after the ★ column


# --- tests ----------------------------------------------------------------------------------------


@needs_browser
def test_table_has_one_row_per_configuration_with_the_numbers(built: Built, tmp_path: Path) -> None:
    dom = parse(_chromium(built.page, tmp_path, "--dump-dom").dom)
    headers, rows = table_cells(dom.by_id("results"))
    assert headers[:3] == ["", "family", "depth"]
    by_config = {(r[1], r[2]): r for r in rows}
    expected_configs = {(fam, str(d)) for fam, by_depth in WA.items() for d in by_depth}
    assert len(rows) == len(expected_configs) and set(by_config) == expected_configs

    col = {h: i for i, h in enumerate(headers)}
    wa_cols = [col[f"WA {f}"] for f in ("mean", "min", "max", "std")]
    ua_cols = [col[f"UA {f}"] for f in ("mean", "min", "max", "std")]
    for fam, by_depth in WA.items():
        best_depth = max((d for d in by_depth if by_depth[d]), key=lambda d: np.mean(by_depth[d]), default=None)
        for depth, values in by_depth.items():
            row = by_config[(fam, str(depth))]
            assert [row[i] for i in wa_cols] == _expected(values)
            assert [row[i] for i in ua_cols] == _expected([v - 0.02 for v in values])
            assert row[0] == ("★" if depth == best_depth else "")
            assert row[col["paper WA"]] == ("61.11" if (fam, depth) == ("resnet", 11) else "-")
    assert by_config[("resnet", "11")][col["n"]] == "2/3, 1 failed"
    assert by_config[("gru", "6")][col["n"]] == "0/3, 3 missing"
    # The very cells of the terminal table and report.md (aggregate_rows), in the same order.
    assert [r[1:] for r in rows] == built.table.rows


@needs_browser
def test_plots_are_embedded_pngs_grouped_with_captions(built: Built, tmp_path: Path) -> None:
    dom = parse(_chromium(built.page, tmp_path, "--dump-dom").dom)
    figures = dom.by_id("sec-plots").all("figure")
    assert sorted(f.all("figcaption")[0].text() for f in figures) == sorted(p.name for p in built.plots)
    assert {p.name for p in built.plots} >= {"wa_vs_depth.png", "ua_vs_depth.png", "confusion_best.png"}
    for fig in figures:
        (img,) = fig.all("img")
        prefix, _, b64 = str(img.attrs["src"]).partition(",")
        assert prefix == "data:image/png;base64"
        data = base64.b64decode(b64, validate=True)
        assert data == (built.run_dir / fig.all("figcaption")[0].text()).read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "PNG" and min(im.size) > 50
    # Group headings: each plot sits under the section its kind belongs to.
    section = dom.by_id("sec-plots")
    groups: dict[str, list[str]] = {}
    heading = None
    for node in section.walk():
        if node.tag == "h3":
            heading = node.text()
        elif node.tag == "figcaption":
            groups.setdefault(str(heading), []).append(node.text())
    assert sorted(groups["Metric vs grid axis"]) == ["ua_vs_depth.png", "wa_vs_depth.png"]
    assert groups["Confusion matrices"] == ["confusion_best.png"]


@needs_browser
def test_page_is_self_contained_and_loads_without_console_errors(built: Built, tmp_path: Path) -> None:
    loaded = _chromium(built.page, tmp_path, "--dump-dom")
    assert loaded.console == []
    dom = parse(loaded.dom)
    for node in dom.walk():
        assert node.tag not in {"link", "iframe", "object", "embed", "base", "frame"}, node.tag
        for name, value in node.attrs.items():
            value = (value or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "ftp:")), (node.tag, name, value[:80])
            if name in {"src", "srcset", "poster", "data"}:
                assert value.startswith("data:"), (node.tag, name)
    (script,) = dom.all("script")
    assert "src" not in script.attrs
    for style in dom.all("style"):
        assert "url(" not in style.text() and "@import" not in style.text()


@needs_browser
def test_content_security_policy_blocks_an_injected_script(built: Built, tmp_path: Path) -> None:
    # Control for the console capture above, and for the page's policy: a script added to the page
    # (as a missed escape would add one) is refused, and Chromium says so on the console.
    tampered = tmp_path / "tampered.html"
    html = built.page.read_text()
    tampered.write_text(html.replace("</main>", "</main><script>document.body.dataset.pwned='tampered'</script>"))
    loaded = _chromium(tampered, tmp_path, "--dump-dom")
    (body,) = parse(loaded.dom).all("body")
    assert "data-pwned" not in body.attrs
    assert any("Content Security Policy" in line for line in loaded.console), loaded.console


@needs_browser
def test_screenshot_is_a_styled_rendering(built: Built, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    _chromium(built.page, tmp_path, f"--screenshot={shot}", "--window-size=1200,1400", "--hide-scrollbars")
    with Image.open(shot) as im:
        assert im.size == (1200, 1400)
        pixels = np.asarray(im.convert("RGB"), dtype=np.int16)
    assert pixels.std() > 20  # not blank
    dark = (pixels.sum(axis=2) < 200).mean()
    assert 0.001 < dark < 0.5  # text drawn, not a black page
    # The best rows' background (#eaf6ec in report.css): the inline stylesheet was applied.
    assert (np.abs(pixels - [0xEA, 0xF6, 0xEC]).sum(axis=2) == 0).sum() > 1000


@needs_browser
def test_sorting_by_clicking_headers(built: Built, tmp_path: Path) -> None:
    # Each ?sort=<table>:<header> makes the page click that header button once, after load.
    means = {(fam, str(d)): np.mean(v) for fam, by_depth in WA.items() for d, v in by_depth.items() if v}
    ascending = sorted(means, key=means.get)
    clicked_once = parse(_chromium(built.page, tmp_path, "--dump-dom", query="?sort=" + quote("results:WA mean")).dom)
    assert _row_order(clicked_once) == ascending + [("gru", "6")]  # numerically (7.00 < 42.33), missing last
    (th,) = [t for t in clicked_once.by_id("results").all("th") if t.text() == "WA mean"]
    assert th.attrs["aria-sort"] == "ascending"

    twice = "?sort=" + quote("results:WA mean") + "&sort=" + quote("results:WA mean")
    clicked_twice = parse(_chromium(built.page, tmp_path, "--dump-dom", query=twice).dom)
    assert _row_order(clicked_twice) == ascending[::-1] + [("gru", "6")]  # missing still last

    by_family = parse(_chromium(built.page, tmp_path, "--dump-dom", query="?sort=" + quote("results:family")).dom)
    order = _row_order(by_family)
    assert [f for f, _ in order] == sorted((f for f, _ in order), key=str.lower)
    assert order.index(("resnet", "6")) < order.index(("resnet", "11"))  # stable: page order kept in ties


@needs_browser
def test_strings_from_the_run_render_as_text(built: Built, tmp_path: Path) -> None:
    dom = parse(_chromium(built.page, tmp_path, "--dump-dom").dom)
    assert len(dom.all("script")) == 1 and len(dom.all("img")) == len(built.plots)
    (body,) = dom.all("body")
    assert "data-pwned" not in body.attrs
    _, rows = table_cells(dom.by_id("results"))
    assert EVIL in [r[1] for r in rows]
    _, failures = table_cells(dom.by_id("failures"))
    assert failures == [[f"{_cid(*FAILED[:2])}__fold={FAILED[2]}__seed=0", EVIL_ERROR]]
    full_errors = [pre.text() for pre in dom.by_id("sec-failures").all("pre")]
    assert full_errors == [f"{EVIL_ERROR}\n{EVIL_TRACE}"]
    grid_text = [pre.text() for pre in dom.by_id("sec-grid").all("pre")]
    assert grid_text == [GRID_TEXT]
    options = dict(table_cells(dom.by_id("options"))[1])
    assert options["options.note"] == EVIL and options["grid"] == "html_fake"
    assert table_cells(dom.by_id("problems"))[1][0][0] == "trials/broken.json"


def test_written_atomically_and_reproducibly(built: Built) -> None:
    assert built.page == built.run_dir / "report.html"
    assert not list(built.run_dir.glob(".report.html.*"))  # no temp file left behind
    text = built.page.read_text(encoding="utf-8")
    assert EVIL not in text and EVIL_ERROR not in text  # escaped everywhere
    # Nothing time-dependent: the same data gives the same bytes.
    assert render_report_html(**built.kwargs, run_dir=built.run_dir) == text


def test_extra_rows_columns_and_marks_render_without_code_changes() -> None:
    # A baseline row and a significance column, as later report steps may add them to TableRows.
    data = TableRows(
        ["family", "WA mean", "n", "sig"],
        [["baseline", "50.00", "3/3", "-"], ["resnet", "62.00*", "3/3", "p=0.01"], ["lstm", "-", "0/3", "-"]],
        [False, True, False],
        [False, True, False, False],
    )
    table = parse(render_table(data, "t", marker_column=True)).by_id("t")
    headers, rows = table_cells(table)
    assert headers == ["", "family", "WA mean", "n", "sig"]
    assert rows == [["", *data.rows[0]], ["★", *data.rows[1]], ["", *data.rows[2]]]
    cells = [tr.all("td")[2].attrs for tr in table.all("tbody")[0].all("tr")]
    assert [c.get("data-v") for c in cells] == ["50.0", "62.0", None]  # the mark after 62.00 kept it numeric
    assert "data-na" in cells[2]
    types = [th.attrs.get("data-type") for th in table.all("th")]
    assert types == [None, "text", "num", "text", "text"]


@needs_browser
def test_numeric_columns_sort_by_value_not_text(tmp_path: Path) -> None:
    # Values where text or natural order differs from numeric order: a sign, unequal decimals,
    # an exponent, a mark after the number; "-" (missing) goes last in both directions.
    cells = ["10.25", "-3", "9.5", "-", "1e2", "62.00*", "9.25"]
    data = TableRows(["id", "value"], [[str(i), c] for i, c in enumerate(cells)], [], [False, True])
    page = tmp_path / "report.html"
    page.write_text(render_report_html({}, title="sort", table=data))
    present = sorted((float(c.rstrip("*")), str(i)) for i, c in enumerate(cells) if c != "-")
    missing = [str(cells.index("-"))]
    for clicks, expected in ((1, [i for _, i in present]), (2, [i for _, i in present[::-1]])):
        query = "?" + "&".join(["sort=" + quote("results:value")] * clicks)
        _, rows = table_cells(parse(_chromium(page, tmp_path, "--dump-dom", query=query).dom).by_id("results"))
        assert [r[1] for r in rows] == expected + missing
