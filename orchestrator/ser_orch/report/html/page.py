"""report.html: a run's report as one self-contained page.

Everything the page needs is inside the file (plots as base64 data URIs, CSS and the sorting
script inline), so it opens offline and can be mailed or archived on its own. A Content
Security Policy in the page allows only that inline CSS/JS (by hash) and data: images: even a
string from the run that slipped past escaping could neither run a script nor load anything.

The page is built from data the report step already has (results.json's dict, the table rows
of ``report.rows``), so it shows exactly the numbers of the terminal table and report.md.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ser_data.atomic import atomic_write_text
from ser_orch.report.format import BEST_MARKER, MISSING, metric_name, pct
from ser_orch.report.rows import TableRows, failure_rows
from ser_orch.results.aggregate import FailedTrial
from ser_orch.rundir import RunDir

__all__ = ["REPORT_HTML", "render_report_html", "render_table", "write_report_html"]

REPORT_HTML = RunDir.at(".").report_html.name

# A cell's leading number: numeric columns sort by it, so marks written after a number
# ("61.11*", "61.11 †") keep the column numeric.
_LEADING_NUMBER = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)")

# (section title, file-name pattern) in page order; the first match wins, the rest go last.
_PLOT_GROUPS = [
    ("Metric vs grid axis", re.compile(r".+_vs_.+")),
    ("Heatmaps", re.compile(r".*heatmap.*")),
    ("Confusion matrices", re.compile(r"confusion.*")),
    ("t-SNE of test embeddings", re.compile(r"tsne.*")),
    ("Learning curves", re.compile(r".*(curve|learning|history).*")),
]
_OTHER_PLOTS = "Other plots"

_IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _csp_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _cell_number(text: str) -> float | None:
    match = _LEADING_NUMBER.match(text)
    if match is None:
        return None
    value = float(match.group(1))
    return value if math.isfinite(value) else None


def _is_missing(text: str) -> bool:
    return text.strip() in ("", MISSING)


def _numeric_columns(data: TableRows) -> list[bool]:
    """Right-aligned columns (``data.numeric``) sort as numbers, and so do text columns whose
    every present cell is a plain number (axis values such as depth 6 / 11)."""
    flags = []
    for i in range(len(data.headers)):
        if i < len(data.numeric) and data.numeric[i]:
            flags.append(True)
            continue
        present = [row[i] for row in data.rows if i < len(row) and not _is_missing(row[i])]
        flags.append(bool(present) and all(_LEADING_NUMBER.fullmatch(c) for c in present))
    return flags


def render_table(data: TableRows, table_id: str, *, marker_column: bool = False, sortable: bool = True) -> str:
    """Any ``TableRows`` as an HTML table: every header, row and cell given appears; rows with
    ``best`` set are highlighted (and marked ★ in a first column with ``marker_column``)."""
    numeric = _numeric_columns(data)
    best = list(data.best) + [False] * (len(data.rows) - len(data.best))
    classes = "data sortable" if sortable else "data"
    out = [f'<div class="scroll"><table id="{_esc(table_id)}" class="{classes}"><thead><tr>']
    if marker_column:
        out.append(f'<th scope="col" aria-label="best" title="{_esc(BEST_MARKER)} best of its series"></th>')
    for header, num in zip(data.headers, numeric):
        label = f'<button type="button">{_esc(header)}</button>' if sortable else _esc(header)
        kind = "num" if num else "text"
        out.append(f'<th scope="col" class="{kind}" data-type="{kind}">{label}</th>')
    out.append("</tr></thead><tbody>")
    for row, is_best in zip(data.rows, best):
        out.append('<tr class="best">' if is_best else "<tr>")
        if marker_column:
            out.append(f'<td class="mark">{_esc(BEST_MARKER) if is_best else ""}</td>')
        for i, text in enumerate(row):
            num = i < len(numeric) and numeric[i]
            value = None if _is_missing(text) else (_cell_number(text) if num else text)
            attrs = ' class="num"' if num else ""
            if value is None:
                attrs += " data-na"
            elif num:
                attrs += f' data-v="{value!r}"'
            out.append(f"<td{attrs}>{_esc(text)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _facts(results: Mapping[str, Any]) -> str:
    configs = results.get("configs") or []
    done = sum(c.get("n", 0) for c in configs)
    failed = len(results.get("failures") or [])
    missing = sum(len(c.get("missing") or []) for c in configs)
    folds = sorted({str(f) for c in configs for f in c.get("folds") or []})
    seeds = sorted({str(s) for c in configs for s in c.get("seeds") or []})
    return (
        f"{len(configs)} configurations; trials done: {done}, failed: {failed}, not run: {missing}; "
        f"folds: {', '.join(folds) or MISSING}; seeds: {', '.join(seeds) or MISSING}"
    )


def _results_note(results: Mapping[str, Any]) -> str:
    metrics = list(results.get("metrics") or [])
    series = results.get("series")
    per = f" per {str(series).rsplit('.', 1)[-1]}" if series else ""
    best = f"{BEST_MARKER} marks the best mean {metric_name(metrics[0])}{per}; " if metrics else ""
    return (
        f"{', '.join(metric_name(m) for m in metrics)} in %: mean/min/max/std over the done runs of each "
        f"configuration (std: {results.get('std', 'population standard deviation')}). "
        f"WA = overall accuracy, UA = mean per-class recall. {best}n = done/planned. "
        "Click a column header to sort by it."
    )


def _verdict_html(results: Mapping[str, Any]) -> str:
    """The sentence on the best configuration against the baseline row (results.json has it)."""
    verdict = (results.get("statistics") or {}).get("baseline_verdict")
    return f'<p class="verdict">{_esc(verdict)}</p>' if verdict else ""


def _trial_rows(results: Mapping[str, Any]) -> TableRows:
    """Every done trial's own values, from results.json's per-configuration ``runs``."""
    metrics = list(results.get("metrics") or [])
    rows = []
    for config in results.get("configs") or []:
        for run in config.get("runs") or []:
            cells = [str(run.get("trial_id")), str(run.get("fold", MISSING)), str(run.get("seed", MISSING))]
            rows.append(cells + [pct(run.get(m)) for m in metrics])
    headers = ["trial", "fold", "seed", *(metric_name(m) for m in metrics)]
    return TableRows(headers, rows, [False] * len(rows), [False, False, False] + [True] * len(metrics))


def _as_failure(f: Any) -> Any:
    """results.json's failure dicts as ``FailedTrial`` (``failure_rows`` reads attributes)."""
    if isinstance(f, Mapping):
        return FailedTrial(**{field.name: f.get(field.name) for field in fields(FailedTrial)})
    return f


def _failures_html(failures: Sequence[Any]) -> str:
    if not failures:
        return '<p class="none">None.</p>'
    out = [render_table(failure_rows(failures), "failures")]
    # The table shows each error's first line; tracebacks are folded away below it.
    for f in failures:
        error = (getattr(f, "error", None) or "").strip()
        if "\n" in error:
            out.append(
                f"<details><summary>{_esc(f.trial_id)}: full error</summary><pre>{_esc(error)}</pre></details>"
            )
    return "".join(out)


def _problems_html(problems: Sequence[Any], run_dir: Path | None) -> str:
    if not problems:
        return '<p class="none">None.</p>'
    rows = []
    for p in problems:
        path = Path(p.path)
        if run_dir is not None and path.is_absolute():
            try:
                path = path.relative_to(run_dir)
            except ValueError:
                pass
        rows.append([str(path), str(p.reason)])
    return render_table(TableRows(["file", "problem"], rows, [False] * len(rows), [False, False]), "problems")


def _plot_group(name: str) -> str:
    for title, pattern in _PLOT_GROUPS:
        if pattern.fullmatch(name):
            return title
    return _OTHER_PLOTS


def _figure_html(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f'<p class="none">{_esc(path.name)}: cannot read the plot ({_esc(exc.strerror or exc)})</p>'
    mime = next((m for magic, m in _IMAGE_TYPES.items() if data.startswith(magic)), None)
    if mime is None:
        return f'<p class="none">{_esc(path.name)}: not a PNG or JPEG image, left out</p>'
    uri = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
    return f'<figure><img src="{uri}" alt="{_esc(path.name)}"><figcaption>{_esc(path.name)}</figcaption></figure>'


def _plots_html(plots: Sequence[Path]) -> str:
    if not plots:
        return '<p class="none">No plots.</p>'
    groups: dict[str, list[Path]] = {title: [] for title, _ in _PLOT_GROUPS}
    groups[_OTHER_PLOTS] = []
    for path in plots:
        # Learning curves live in <run>/curves/ and are named by their configuration.
        groups["Learning curves" if path.parent.name == "curves" else _plot_group(path.name)].append(path)
    out = []
    for title, paths in groups.items():
        if paths:
            out.append(f'<h3>{_esc(title)}</h3><div class="plots">' + "".join(map(_figure_html, paths)) + "</div>")
    return "".join(out)


def _flatten(options: Mapping[str, Any], prefix: str = "") -> list[list[str]]:
    rows = []
    for key in sorted(options, key=str):
        value, name = options[key], f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows += _flatten(value, f"{name}.")
        else:
            rows.append([name, value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)])
    return rows


def _options_html(options: Mapping[str, Any]) -> str:
    rows = _flatten(options)
    if not rows:
        return '<p class="none">No run options recorded.</p>'
    return render_table(TableRows(["option", "value"], rows, [False] * len(rows), [False, False]), "options", sortable=False)


def render_report_html(
    results: Mapping[str, Any],
    *,
    title: str,
    description: str = "",
    grid_text: str = "",
    options: Mapping[str, Any] | None = None,
    table: TableRows,
    summary: TableRows | None = None,
    plots: Sequence[str | Path] = (),
    failures: Iterable[Any] | None = None,
    problems: Sequence[Any] = (),
    run_dir: Path | None = None,
) -> str:
    """The page as text; see ``write_report_html`` for the arguments."""
    css, js = _asset("report.css"), _asset("sort.js")
    policy = (
        f"default-src 'none'; img-src data:; style-src {_csp_source(css)}; script-src {_csp_source(js)}; "
        "base-uri 'none'; form-action 'none'"
    )
    failed = [_as_failure(f) for f in (results.get("failures") or [] if failures is None else failures)]
    trials = _trial_rows(results)
    sections = [
        ("results", "Results", render_table(table, "results", marker_column=True)
         + f'<p class="note">{_esc(_results_note(results))}</p>'
         + _verdict_html(results)
         + ("" if summary is None else "<h3>Best per series, ours vs paper</h3>" + render_table(summary, "summary"))),
        ("plots", "Plots", _plots_html([Path(p) for p in plots])),
        ("failures", f"Failed trials ({len(failed)})", _failures_html(failed)),
        ("problems", f"Unreadable record files ({len(problems)})", _problems_html(problems, run_dir)),
        ("trials", f"Per-trial values ({len(trials.rows)})",
         f"<details><summary>show every done trial</summary>{render_table(trials, 'trial-values')}</details>"),
        ("grid", "Grid file", f"<pre>{_esc(grid_text)}</pre>" if grid_text else '<p class="none">No grid text.</p>'),
        ("options", "Run options", _options_html(options or {})),
    ]
    nav = " ".join(f'<a href="#sec-{sid}">{_esc(name)}</a>' for sid, name, _ in sections)
    body = "".join(f'<section id="sec-{sid}"><h2>{_esc(name)}</h2>{content}</section>' for sid, name, content in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_esc(policy)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{css}</style></head>\n<body>"
        f"<header><h1>{_esc(title)}</h1>"
        + (f'<p class="description">{_esc(description)}</p>' if description else "")
        + f'<p class="facts">{_esc(_facts(results))}</p><nav>{nav}</nav></header>\n'
        f"<main>{body}</main>\n<script>{js}</script></body></html>\n"
    )


def write_report_html(
    run_dir: str | Path,
    results: Mapping[str, Any],
    *,
    title: str,
    description: str = "",
    grid_text: str = "",
    options: Mapping[str, Any] | None = None,
    table: TableRows,
    summary: TableRows | None = None,
    plots: Sequence[str | Path] = (),
    failures: Iterable[Any] | None = None,
    problems: Sequence[Any] = (),
) -> Path:
    """Write ``run_dir/report.html`` atomically and return its path.

    ``results``: the dict of ``files.results_json_data`` (counts, per-trial values, failures).
    ``table``/``summary``: ``rows.aggregate_rows`` / ``rows.summary_rows`` output, rendered as
    given (extra rows or columns appear as they are; ``best`` rows are marked ★).
    ``options``: run.json's metadata. ``plots``: image files to embed, grouped by file name.
    ``failures``: ``FailedTrial``s (default: ``results["failures"]``). ``problems``:
    ``RecordProblem``s (unreadable record files).
    """
    folder = Path(run_dir)
    text = render_report_html(
        results, title=title, description=description, grid_text=grid_text, options=options, table=table,
        summary=summary, plots=plots, failures=failures, problems=problems, run_dir=folder,
    )
    return atomic_write_text(RunDir.at(folder).report_html, text)
