"""PNG plots for a run: metric vs x per series, confusion matrix, t-SNE, 2-D heatmap.

Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas directly, never through
pyplot: no global backend switch, nothing registered in pyplot's figure list, so nothing leaks
in a long-running process or needs closing. Each function writes atomically and returns the path.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Hashable, Iterable, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ser_orch.report.format import format_axis_value, metric_name
from ser_orch.report.paper import PaperEntry, values_match
from ser_orch.results.aggregate import ConfigStats, axis_sort_key
from ser_orch.results.curves import Curve
from ser_data.atomic import atomic_write

__all__ = ["plot_confusion", "plot_heatmap", "plot_learning_curve", "plot_metric_vs_x", "plot_tsne", "plot_tsne_panels"]

_DPI = 100
_TSNE_EXACT_MAX = 200


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    try:
        # Fixed metadata keeps the file identical across re-runs.
        return atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=_DPI, metadata={"Software": None}))
    finally:
        fig.clear()


def _short(key: str | None) -> str:
    return "" if key is None else key.rsplit(".", 1)[-1]


def _as_number(value: Any) -> float | None:
    """Axis values as numbers where possible; paper ``where`` values may be strings ("11")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _other_axes(s: ConfigStats, x_key: str) -> str | None:
    """Without a series key, one line per combination of the other axes (None when x is the only axis)."""
    rest = [f"{_short(k)}={format_axis_value(v)}" for k, v in s.axes.items() if k != x_key]
    return ", ".join(rest) or None


def plot_metric_vs_x(
    stats: Sequence[ConfigStats],
    x_key: str,
    series_key: str | None,
    metric: str,
    path: str | os.PathLike[str],
    *,
    paper: Iterable[Any] = (),
    title: str | None = None,
) -> Path:
    """Mean ``metric`` (%) against ``x_key``, one line per series, min-max band shaded.

    Paper numbers matching a series (and giving an x) are drawn as star markers in its colour.
    Non-numeric x values are placed at evenly spaced positions in natural order.
    """
    entries = [PaperEntry.from_any(e) for e in paper]
    series: dict[Hashable, list[ConfigStats]] = {}
    for s in stats:
        if x_key in s.axes:
            key = _other_axes(s, x_key) if series_key is None else format_axis_value(s.axes.get(series_key))
            series.setdefault(key, []).append(s)

    all_x = sorted({s.axes[x_key] for group in series.values() for s in group}, key=axis_sort_key)
    paper_x = [e.where[x_key] for e in entries if x_key in e.where and metric in e.values]
    numeric = all(_as_number(v) is not None for v in [*all_x, *paper_x])
    positions = {format_axis_value(v): i for i, v in enumerate(all_x)}

    def to_pos(value: Any) -> float | None:
        if numeric:
            return _as_number(value)
        return positions.get(format_axis_value(value))

    fig = _new_figure(7.0, 4.5)
    ax = fig.add_subplot()
    for key, group in series.items():
        group = sorted(group, key=lambda s: axis_sort_key(s.axes[x_key]))
        pts = [(to_pos(s.axes[x_key]), s.metrics.get(metric)) for s in group]
        pts = [(x, m) for x, m in pts if x is not None and m is not None and m.n > 0]
        if not pts:
            continue
        xs = np.array([x for x, _ in pts])
        mean = np.array([100 * m.mean for _, m in pts])
        line = ax.plot(xs, mean, marker="o", label=str(key) if key is not None else metric_name(metric))[0]
        ax.fill_between(xs, [100 * m.min for _, m in pts], [100 * m.max for _, m in pts],
                        color=line.get_color(), alpha=0.2, linewidth=0)
        for e in entries:
            if metric not in e.values or x_key not in e.where:
                continue
            if series_key is not None and not (
                series_key in e.where and values_match(e.where[series_key], key)
            ):
                continue
            px = to_pos(e.where[x_key])
            if px is not None:
                ax.plot([px], [e.values[metric]], marker="*", markersize=13, linestyle="none",
                        color=line.get_color(), markeredgecolor="black")
    if entries:
        # One legend entry explains the stars for all series.
        ax.plot([], [], marker="*", linestyle="none", color="grey", markeredgecolor="black", label="paper")
    if not numeric:
        ax.set_xticks(range(len(all_x)), [format_axis_value(v) for v in all_x])
    else:
        ticks = sorted({_as_number(v) for v in [*all_x, *paper_x]} - {None})
        if 0 < len(ticks) <= 20:  # every depth labelled, as in the papers' tables
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlabel(_short(x_key))
    ax.set_ylabel(f"{metric_name(metric)} (%)")
    ax.set_title(title or f"{metric_name(metric)} vs {_short(x_key)} (mean, min-max band)")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(title=_short(series_key) or None, fontsize="small")
    return _save(fig, path)


def _row_normalise(confusion: np.ndarray) -> np.ndarray:
    sums = confusion.sum(axis=1, keepdims=True)
    # A class with no test samples gets an all-zero row instead of a division by zero.
    return np.divide(confusion, sums, out=np.zeros_like(confusion, dtype=float), where=sums > 0)


def plot_confusion(
    confusion: np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[str],
    path: str | os.PathLike[str],
    title: str = "Confusion matrix",
) -> Path:
    """Row-normalised confusion matrix (rows = true class), each cell annotated in %."""
    counts = np.asarray(confusion, dtype=float)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(labels):
        raise ValueError(f"confusion of shape {counts.shape} does not fit {len(labels)} labels")
    norm = _row_normalise(counts)
    k = len(labels)
    side = max(4.0, 0.6 * k + 2.0)
    fig = _new_figure(side + 1.0, side)
    ax = fig.add_subplot()
    image = ax.imshow(norm, vmin=0.0, vmax=1.0, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{100 * norm[i, j]:.0f}", ha="center", va="center", fontsize="small",
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), list(labels), rotation=45, ha="right")
    ax.set_yticks(range(k), list(labels))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return _save(fig, path)


def tsne_perplexity(n: int) -> float:
    """sklearn needs perplexity < n; keep the usual 30 when there is enough data."""
    return float(max(1.0, min(30.0, (n - 1) / 3.0)))


def tsne_coords(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE of ``embeddings`` (the first two coordinates when there are too few points)."""
    from sklearn.manifold import TSNE  # imported here: slow, and only these plots need it

    x = np.asarray(embeddings, dtype=np.float64).reshape(len(embeddings), -1)
    if len(x) < 4:  # too few points for t-SNE: show the first two coordinates instead of failing
        coords = np.zeros((len(x), 2))
        coords[:, : min(2, x.shape[1])] = x[:, :2]
        return coords
    # Exact t-SNE is faster than Barnes-Hut for small sets and avoids its thread pool.
    method = "exact" if len(x) <= _TSNE_EXACT_MAX else "barnes_hut"
    return TSNE(n_components=2, perplexity=tsne_perplexity(len(x)), init="pca", random_state=seed, method=method).fit_transform(x)


def _tsne_panel(ax: Any, embeddings: np.ndarray, labels_idx: Sequence[int] | np.ndarray, label_names: Sequence[str],
                title: str, seed: int, legend: bool) -> None:  # fmt: skip
    y = np.asarray(labels_idx, dtype=int)
    if len(embeddings) != len(y):
        raise ValueError(f"{len(embeddings)} embeddings but {len(y)} labels")
    coords = tsne_coords(embeddings, seed)
    # tab10 repeats after ten classes; IEMOCAP's full label set has eleven.
    cmap = colormaps["tab10" if len(label_names) <= 10 else "tab20"]
    for k, name in enumerate(label_names):
        mask = y == k
        if mask.any():
            ax.scatter(coords[mask, 0], coords[mask, 1], s=14, label=name, alpha=0.8, color=cmap(k % cmap.N))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize="medium")
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", markerscale=1.5, loc="best")


def plot_tsne(
    embeddings: np.ndarray,
    labels_idx: Sequence[int] | np.ndarray,
    label_names: Sequence[str],
    path: str | os.PathLike[str],
    seed: int = 0,
    title: str = "t-SNE of test embeddings",
) -> Path:
    """2-D t-SNE of embeddings coloured by class (Kumar et al. Fig. 4)."""
    fig = _new_figure(6.5, 5.5)
    _tsne_panel(fig.add_subplot(), embeddings, labels_idx, label_names, title, seed, legend=True)
    return _save(fig, path)


def plot_tsne_panels(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray]],
    label_names: Sequence[str],
    path: str | os.PathLike[str],
    seed: int = 0,
) -> Path:
    """One t-SNE panel per ``(title, embeddings, labels_idx)``, side by side with one legend
    (Mocanu et al. Figs. 6-7: softmax vs triplet vs emotion loss)."""
    if not panels:
        raise ValueError("no panels to plot")
    cols = min(len(panels), 3)
    rows = -(-len(panels) // cols)
    fig = _new_figure(4.2 * cols, 4.0 * rows)
    for i, (title, emb, y) in enumerate(panels):
        _tsne_panel(fig.add_subplot(rows, cols, i + 1), emb, y, label_names, title, seed, legend=False)
    handles, names = fig.axes[0].get_legend_handles_labels()
    for ax in fig.axes[1:]:  # every class that appears in any panel, once
        for h, n in zip(*ax.get_legend_handles_labels()):
            if n not in names:
                handles.append(h)
                names.append(n)
    order = sorted(range(len(names)), key=lambda i: list(label_names).index(names[i]))
    fig.legend([handles[i] for i in order], [names[i] for i in order], loc="outside lower center", ncol=min(len(names), 8), fontsize="small", markerscale=1.5)
    return _save(fig, path)


def plot_heatmap(
    stats: Sequence[ConfigStats],
    x_key: str,
    y_key: str,
    metric: str,
    path: str | os.PathLike[str],
    *,
    paper: Iterable[Any] = (),
    title: str | None = None,
) -> Path:
    """Mean ``metric`` (%) over a 2-D sweep (e.g. alpha x beta); cells without runs stay blank.

    If several configurations share an (x, y) cell (other axes varied too), the best mean is shown.
    Cells that a paper entry names by both keys (the paper's chosen point) get a red frame and
    the paper's value in the title.
    """
    xs = sorted({s.axes[x_key] for s in stats if x_key in s.axes and y_key in s.axes}, key=axis_sort_key)
    ys = sorted({s.axes[y_key] for s in stats if x_key in s.axes and y_key in s.axes}, key=axis_sort_key)
    xi = {format_axis_value(v): i for i, v in enumerate(xs)}
    yi = {format_axis_value(v): i for i, v in enumerate(ys)}
    grid = np.full((len(ys), len(xs)), np.nan)
    for s in stats:
        m = s.metrics.get(metric)
        if x_key not in s.axes or y_key not in s.axes or m is None or m.n == 0:
            continue
        i, j = yi[format_axis_value(s.axes[y_key])], xi[format_axis_value(s.axes[x_key])]
        value = 100 * m.mean
        if math.isnan(grid[i, j]) or value > grid[i, j]:
            grid[i, j] = value
    fig = _new_figure(max(4.5, 0.8 * len(xs) + 2.5), max(3.5, 0.6 * len(ys) + 2.0))
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", aspect="auto")
    fig.colorbar(image, ax=ax, label=f"{metric_name(metric)} (%)")
    finite = grid[np.isfinite(grid)]
    mid = float(finite.mean()) if finite.size else 0.0
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", fontsize="small",
                        color="black" if grid[i, j] > mid else "white")
    ax.set_xticks(range(len(xs)), [format_axis_value(v) for v in xs])
    ax.set_yticks(range(len(ys)), [format_axis_value(v) for v in ys])
    marked = []
    for e in (PaperEntry.from_any(e) for e in paper):
        if x_key in e.where and y_key in e.where:
            j = xi.get(format_axis_value(e.where[x_key]))
            i = yi.get(format_axis_value(e.where[y_key]))
            if i is not None and j is not None:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5))
                if metric in e.values:
                    marked.append(f"{e.values[metric]:.2f}")
    ax.set_xlabel(_short(x_key))
    ax.set_ylabel(_short(y_key))
    suffix = f"; red frame: paper's choice ({', '.join(marked)} %)" if marked else ""
    ax.set_title(title or f"mean {metric_name(metric)} (%){suffix}", fontsize="medium")
    return _save(fig, path)


def plot_learning_curve(curve: Curve, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Accuracy (train, and validation where there is one) and training loss per epoch: the mean
    over the configuration's runs with a min-max band, each phase drawn on its own (dashed
    boundary); an x where a run's early stopping fired."""
    fig = _new_figure(7.0, 5.5)
    acc, loss = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    phases = sorted({p.phase for p in curve.points})
    colours = {"train_acc": "C0", "val_acc": "C1", "loss": "C2"}
    for series, label, ax, scale in (("train_acc", "train", acc, 100.0), ("val_acc", "validation", acc, 100.0),
                                     ("loss", "training loss", loss, 1.0)):
        for i, phase in enumerate(phases):
            pts = [(p.x, p.values[series]) for p in curve.points if p.phase == phase and series in p.values]
            if not pts:
                continue
            xs = [px for px, _ in pts]
            ax.plot(xs, [scale * b.mean for _, b in pts], color=colours[series], label=label if i == 0 else None)
            ax.fill_between(xs, [scale * b.min for _, b in pts], [scale * b.max for _, b in pts],
                            color=colours[series], alpha=0.2, linewidth=0)
        if series != "loss":
            stops = [(p.x, scale * p.values[series].mean) for p in curve.points if p.stopped and series in p.values]
            if stops:
                ax.plot(*zip(*stops), linestyle="none", marker="x", color=colours[series], markersize=8)
    for start in curve.phase_starts:
        for ax in (acc, loss):
            ax.axvline(start - 0.5, color="grey", linestyle="--", linewidth=1)
    if any(p.stopped for p in curve.points):
        acc.plot([], [], linestyle="none", marker="x", color="grey", label="early stop")
    if curve.phase_starts:
        acc.plot([], [], linestyle="--", color="grey", linewidth=1, label="next phase")
    acc.set_ylabel("accuracy (%)")
    loss.set_ylabel("loss")
    loss.set_xlabel("epoch")
    if curve.points:
        loss.set_xlim(0.5, max(p.x for p in curve.points) + 0.5)
    acc.set_title(title or f"{curve.config_id}\nlearning curve over {curve.runs} run(s): mean, min-max band", fontsize="medium")
    for ax in (acc, loss):
        ax.grid(True, alpha=0.3)
    acc.legend(fontsize="small")
    return _save(fig, path)
