"""Pieces the Liu and Lian tasks share: config checks, per-fold normalisation, training steps."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .base import TaskConfigError


def check_keys(section: dict[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise TaskConfigError(f"{name}.{unknown[0]}", f"unknown key; allowed: {', '.join(allowed)}")


def check_number(section: dict[str, Any], key: str, name: str, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, integer: bool = False) -> None:
    """A present value must be a number (an int if `integer`) in [low, high] ((low, high] if low_open)."""
    if key not in section:
        return
    v = section[key]
    ok = isinstance(v, int) if integer else isinstance(v, (int, float))
    ok = ok and not isinstance(v, bool)
    if ok and low is not None:
        ok = v > low if low_open else v >= low
    if ok and high is not None:
        ok = v <= high
    if not ok:
        kind = "an integer" if integer else "a number"
        lo = "" if low is None else (f"> {low}" if low_open else f">= {low}")
        rng = f"in [{low}, {high}]" if low is not None and high is not None and not low_open else " and ".join(
            p for p in (lo, "" if high is None else f"<= {high}") if p)
        raise TaskConfigError(f"{name}.{key}", f"must be {kind} {rng}, got {v!r}")


def check_choice(section: dict[str, Any], key: str, name: str, allowed: tuple[Any, ...]) -> None:
    if key in section and section[key] not in allowed:
        raise TaskConfigError(f"{name}.{key}", f"{section[key]!r} not allowed; allowed: {', '.join(map(str, allowed))}")


def check_model(trial: dict[str, Any], default: str, probe_dim: int, n_coeffs: int) -> None:
    from ser_models import create_model, is_model

    model = trial.get("model") or {}
    check_keys(model, "model", ("name", "overrides"))
    name = model.get("name", default)
    if not is_model(name):
        raise TaskConfigError("model.name", f"unknown model '{name}'; this task uses {default}")
    try:
        create_model(name, num_classes=2, input_dim=probe_dim, n_coeffs=n_coeffs, **(model.get("overrides") or {}))
    except (TypeError, ValueError) as exc:
        raise TaskConfigError("model.overrides", f"not accepted by {name}: {exc}") from None


def normaliser(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-coefficient mean and std over every frame of the given (training) sequences."""
    frames = np.concatenate(seqs, axis=0).astype(np.float64)
    mean, std = frames.mean(axis=0), frames.std(axis=0)
    return mean.astype(np.float32), np.where(std > 1e-8, std, 1.0).astype(np.float32)


def sequences(fs: Any, idx: np.ndarray, mean: np.ndarray | None = None, std: np.ndarray | None = None) -> list[np.ndarray]:
    seqs = [np.asarray(fs.item(int(i)), dtype=np.float32) for i in idx]
    if mean is None:
        return seqs
    return [(s - mean) / std for s in seqs]


@torch.no_grad()
def predict_scores(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode softmax probabilities and embeddings of `x`, in chunks."""
    was = model.training
    model.eval()
    probs, embs = [], []
    try:
        for i in range(0, x.shape[0], batch_size):
            out = model(x[i : i + batch_size])
            probs.append(torch.softmax(out.logits, dim=1).cpu())
            embs.append(out.embedding.cpu())
    finally:
        model.train(was)
    return torch.cat(probs).numpy(), torch.cat(embs).numpy()


def metrics_of(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> tuple[float, float, list[list[int]]]:
    from ser_models.metrics import confusion, unweighted_accuracy, weighted_accuracy

    return (weighted_accuracy(y_true, y_pred), unweighted_accuracy(y_true, y_pred),
            confusion(y_true, y_pred, n_classes).astype(int).tolist())
