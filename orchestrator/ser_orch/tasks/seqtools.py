"""Pieces the Liu and Lian tasks share: the model section, per-fold normalisation, prediction, metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pydantic import Field

from ..grid.sections import Section, build_checked, read_section
from .base import TaskConfigError


class SeqModel(Section):
    """The model section of the Liu and Lian tasks: one zoo model, constructor overrides."""

    name: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)


def read_model(trial: dict[str, Any], default: str, probe_dim: int, n_coeffs: int) -> tuple[str, dict[str, Any]]:
    """The model name and overrides, checked by building the model once."""
    from ser_models import create_model, is_model

    model = read_section(SeqModel, trial, "model")
    name = model.name or default
    if not is_model(name):
        raise TaskConfigError("model.name", f"unknown model '{name}'; this task uses {default}")
    build_checked("model.overrides", name, create_model, name, num_classes=2, input_dim=probe_dim,
                  n_coeffs=n_coeffs, **model.overrides)
    return name, dict(model.overrides)


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
