from __future__ import annotations

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pytest

from ser_orch.report.plots import plot_confusion, plot_heatmap, plot_metric_vs_x, plot_tsne, plot_tsne_panels, tsne_coords, tsne_perplexity
from ser_orch.results import aggregate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_png(path, width_in: float, height_in: float) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC
    img = mpimg.imread(path)
    h, w = img.shape[:2]
    assert w / h == pytest.approx(width_in / height_in, rel=0.02)
    assert float(img[..., :3].std()) > 0.01  # something was drawn


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before  # nothing left open in pyplot


def test_metric_vs_x(tmp_path, records, report_spec):
    out = plot_metric_vs_x(aggregate(records), "model.depth", "model.family", "wa",
                           tmp_path / "wa.png", paper=report_spec["paper"])
    assert out == tmp_path / "wa.png"
    check_png(out, 7.0, 4.5)


def test_metric_vs_categorical_x_and_no_series(tmp_path, record_factory):
    recs = [record_factory("resnet", 6, 0, wa=0.5), record_factory("lstm", 6, 0, wa=0.4)]
    out = plot_metric_vs_x(aggregate(recs), "model.family", None, "ua", tmp_path / "ua.png")
    check_png(out, 7.0, 4.5)


def test_confusion(tmp_path):
    conf = np.array([[5, 1, 0], [0, 0, 0], [2, 2, 6]])  # middle class has no samples
    out = plot_confusion(conf, ["a", "b", "c"], tmp_path / "conf.png", "test")
    check_png(out, 5.0, 4.0)
    with pytest.raises(ValueError):
        plot_confusion(conf, ["a", "b"], tmp_path / "bad.png")


def test_tsne(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    emb = rng.normal(size=(30, 6)) + 3 * y[:, None]
    out = plot_tsne(emb, y, ["n", "h", "s"], tmp_path / "tsne.png", seed=1)
    check_png(out, 6.5, 5.5)
    assert tsne_perplexity(30) == pytest.approx(29 / 3) and tsne_perplexity(1000) == 30.0
    # Too few points for t-SNE still gives a picture instead of an error.
    check_png(plot_tsne(emb[:3], y[:3], ["n", "h", "s"], tmp_path / "tiny.png", seed=0), 6.5, 5.5)


def test_tsne_keeps_separated_classes_apart():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 15)
    emb = rng.normal(size=(45, 8)) + 6 * np.eye(8)[y]  # three far-apart clusters
    coords = tsne_coords(emb, seed=0)
    d = ((coords[:, None] - coords[None]) ** 2).sum(-1) + np.diag(np.full(45, np.inf))
    assert np.mean(y[d.argmin(1)] == y) > 0.95  # each point's 2-D nearest neighbour is of its class


def test_tsne_panels_layout_and_errors(tmp_path):
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 8)
    panels = [(f"S{i}", rng.normal(size=(24, 5)) + i * y[:, None], y) for i in range(5)]
    check_png(plot_tsne_panels(panels, ["n", "h", "s"], tmp_path / "five.png"), 3 * 4.2, 2 * 4.0)  # 3 x 2 grid
    check_png(plot_tsne_panels(panels[:2], ["n", "h", "s"], tmp_path / "two.png"), 2 * 4.2, 4.0)
    with pytest.raises(ValueError, match="no panels"):
        plot_tsne_panels([], ["n"], tmp_path / "none.png")
    with pytest.raises(ValueError, match="24 embeddings but 3 labels"):
        plot_tsne_panels([("bad", panels[0][1], y[:3])], ["n", "h", "s"], tmp_path / "bad.png")


def test_heatmap(tmp_path, record_factory):
    recs = [record_factory("resnet", d, 0, wa=0.3 + 0.01 * d) for d in (6, 8, 11)]
    recs += [record_factory("lstm", 6, 0, wa=0.4)]  # lstm 8 and 11 left blank
    out = plot_heatmap(aggregate(recs), "model.depth", "model.family", "wa", tmp_path / "heat.png")
    check_png(out, 4.9, 3.5)


def red_pixels(path) -> np.ndarray:
    img = mpimg.imread(path)[..., :3]
    return (img[..., 0] > 0.9) & (img[..., 1] < 0.15) & (img[..., 2] < 0.15)


def test_heatmap_frames_the_papers_point(tmp_path, record_factory):
    recs = [record_factory(f, d, 0, wa=0.3 + 0.01 * d) for f in ("resnet", "lstm") for d in (6, 8, 11)]
    stats = aggregate(recs)

    def frame_centre(where):
        out = plot_heatmap(stats, "model.depth", "model.family", "wa", tmp_path / "h.png", paper=[{"where": where, "wa": 61.0}])
        rows, cols = np.nonzero(red_pixels(out))
        return (rows.mean(), cols.mean()) if rows.size > 50 else None

    assert not red_pixels(plot_heatmap(stats, "model.depth", "model.family", "wa", tmp_path / "p.png")).any()
    top_left = frame_centre({"model.depth": 6, "model.family": "lstm"})  # rows: lstm, resnet (sorted)
    bottom_right = frame_centre({"model.depth": 11, "model.family": "resnet"})
    assert top_left is not None and bottom_right is not None
    assert top_left[0] < bottom_right[0] and top_left[1] < bottom_right[1]
    assert frame_centre({"model.depth": 8}) is None  # an entry naming only one of the two keys frames nothing
