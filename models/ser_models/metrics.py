"""Classification and embedding-angle metrics (numpy in, numpy out).

Readings of Kumar et al. (ICPR 2020), which do not define these precisely:

- Class embedding ("emotion embedding"): the centroid of a class = the mean of its samples'
  L2-normalised embeddings, re-normalised (:func:`class_centroids`).
- Table II/III (:func:`angle_table`): entry (i, j), i != j, is the angle between the centroids
  of classes i and j. The diagonal cannot be a centroid's angle to itself (that is 0 deg, but
  the paper shows 0.03..4.51 deg), so we read it as the mean angle between class i's samples
  and class i's centroid.
- Table VI/VII (:func:`angle_std`): "intra-class deviation" of class c = std of the angles
  between class c's samples and centroid c; "inter-class deviation" of class c = for each other
  centroid k, the std of the angles between class c's samples and centroid k, averaged over k.
  (The std across the centroid-to-centroid angles of a row would be ~18 deg for the paper's
  Table II, far above the reported 1.3..7.6 deg, so that reading is ruled out.)
- Standard deviations are population std (``ddof=0``). Angles are in degrees.

WA is the overall accuracy, UA the mean per-class recall (Kumar calls their overall accuracy
"un-weighted accuracy"; we keep the usual SER meanings and report both).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def weighted_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Overall accuracy: correct / total."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p)) if t.size else float("nan")


def unweighted_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean per-class recall over the classes present in ``y_true`` (= sklearn's
    ``balanced_accuracy_score``)."""
    t, p = _pair(y_true, y_pred)
    if not t.size:
        return float("nan")
    recalls = [np.mean(p[t == c] == c) for c in np.unique(t)]
    return float(np.mean(recalls))


def confusion(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> NDArray[np.int64]:
    """``(C, C)`` counts; rows are true classes, columns predictions."""
    t, p = _pair(y_true, y_pred)
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes})")
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (t, p), 1)
    return out


def _normalise(x: NDArray[np.float64]) -> NDArray[np.float64]:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def class_centroids(emb: ArrayLike, y: ArrayLike, n_classes: int) -> NDArray[np.float64]:
    """``(C, E)`` unit centroids: mean of the class's L2-normalised embeddings, re-normalised.
    A class without samples gets a row of NaN (ignored by :func:`nearest_angle_predict`)."""
    e = _normalise(np.asarray(emb, dtype=np.float64))
    y = np.asarray(y)
    out = np.full((n_classes, e.shape[1]), np.nan)
    for c in range(n_classes):
        if np.any(y == c):
            out[c] = e[y == c].mean(axis=0)
    return _normalise(out)


def cosine_matrix(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Cosine similarity of every row of ``a`` with every row of ``b``."""
    return _normalise(np.asarray(a, dtype=np.float64)) @ _normalise(np.asarray(b, dtype=np.float64)).T


def angles_deg(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Angles in degrees between every row of ``a`` and every row of ``b``."""
    return np.degrees(np.arccos(np.clip(cosine_matrix(a, b), -1.0, 1.0)))


def nearest_angle_predict(emb: ArrayLike, centroids: ArrayLike) -> NDArray[np.int64]:
    """Class whose centroid makes the smallest angle (largest cosine) with each embedding."""
    cos = cosine_matrix(emb, centroids)
    cos = np.where(np.isnan(cos), -np.inf, cos)  # absent classes never win
    return cos.argmax(axis=1).astype(np.int64)


def angle_table(centroids: ArrayLike, emb: ArrayLike | None = None, y: ArrayLike | None = None) -> NDArray[np.float64]:
    """Kumar Table II: degrees between class centroids; with ``emb``/``y`` the diagonal is the mean
    angle of class i's samples to centroid i (else 0; NaN for a class without samples)."""
    c = np.asarray(centroids, dtype=np.float64)
    table = angles_deg(c, c)
    np.fill_diagonal(table, 0.0)
    if emb is not None and y is not None:
        to_centroids = angles_deg(emb, c)
        y = np.asarray(y)
        for k in range(c.shape[0]):
            table[k, k] = to_centroids[y == k, k].mean() if np.any(y == k) else np.nan
    return table


def angle_std(emb: ArrayLike, y: ArrayLike, centroids: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Kumar Table VI: per class ``(intra_std, inter_std)`` in degrees (see module docstring).
    NaN for a class without samples (or, for inter, with no other centroid)."""
    c = np.asarray(centroids, dtype=np.float64)
    ang = angles_deg(emb, c)  # (N, C)
    y = np.asarray(y)
    n = c.shape[0]
    intra, inter = np.full(n, np.nan), np.full(n, np.nan)
    for k in range(n):
        rows = ang[y == k]
        if not rows.shape[0]:
            continue
        intra[k] = rows[:, k].std()
        others = [j for j in range(n) if j != k and not np.isnan(c[j]).any()]
        if others:
            inter[k] = rows[:, others].std(axis=0).mean()
    return intra, inter


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    t = np.asarray(y_true).astype(np.int64).ravel()
    p = np.asarray(y_pred).astype(np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.shape[0]} vs {p.shape[0]}")
    return t, p
