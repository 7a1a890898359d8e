"""One tiny grid per task on the synthetic corpora, shared by the packing and the resume tests
(the fixture ``task_corpora`` in this folder's conftest gives the roots)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Interrupted(Exception):
    """Raised from an epoch callback to stop a trial in the middle, as a killed worker would."""


TEMPLATES = {
    "kumar": """
task: kumar
dataset: {{name: ravdess, root: {ravdess}}}
features: {{name: mfcc39}}
protocol: {{name: kumar_70_30, folds: 2, params: {{folds: 2}}}}
model: {{family: {family}, depth: 6, overrides: {{{size}: 8, embedding_dim: 8}}}}
loss: {{miner: {miner}}}
train: {{pretrain_epochs: 3, triplet_epochs: 3, batch_size: 32}}
""",
    "mocanu": """
task: mocanu
dataset: {{name: ravdess, root: {mocanu}}}
features: {{name: spec257}}
protocol: {{name: mocanu_actor10, folds: 3, params: {{folds: 3}}}}
model:
  name: se-resnet34-ghostvlad
  overrides: {{clusters: 2, ghost_clusters: 1, widths: [4, 4, 8, 8], blocks: [1, 1, 1, 1], descriptor_dim: 8, embedding_dim: 8}}
loss: {{type: emotion, alpha: 0.1, beta: 0.15}}
train: {{classifier: svm, epochs: 3, steps_per_epoch: 2, batch_size: 8, crop_frames: 40, patience: 5, svm_max_train: 20}}
""",
    "liu": """
task: liu
dataset: {{name: iemocap, root: {iemocap}, label_set: 4class, improvised_only: true}}
features: {{name: mfcc_seg}}
protocol: {{name: liu_random_80_20, folds: 2, params: {{folds: 2}}}}
model: {{name: liu-cnn-lstm, overrides: {{channels: [2, 4, 4], freq_channels: 8, lstm_hidden: 8}}}}
loss: {{alpha: {alpha}, triplet_pool: 2000}}
train: {{epochs: 3, batch_size: 32, lr: 0.003, augment: true}}
""",
    "lian": """
task: lian
dataset: {{name: iemocap, root: {iemocap}, label_set: 4class, improvised_only: true}}
features: {{name: mfcc13_fixed, params: {{seconds: 2}}}}
protocol: {{name: lian_loso, folds: 2}}
model: {{name: lian-cnn1d, overrides: {{filters: 8}}}}
loss: {{lambda: 0.8, type: 2, loader: loader_1, aux_task: dominance, aux_weight: 0.1}}
train: {{epochs: 3, batch_size: 16, lr: 0.002, lr_patience: 0}}
""",
}
FIELDS: dict[str, dict[str, Any]] = {"kumar": {"family": "gru", "size": "hidden", "miner": "semihard"}, "liu": {"alpha": 0.3}}


def write_task_grid(path: Path, task: str, corpora: dict[str, Path], axis: str | None = None, **fields: Any) -> Path:
    """``path`` holding ``task``'s tiny grid, named after the file; ``fields`` replace the template's
    defaults (``FIELDS``); ``axis`` (``"key: [values]"``) becomes the grid's one axis."""
    text = f"name: {path.stem.replace('-', '_')}" + TEMPLATES[task].format(**corpora, **{**FIELDS.get(task, {}), **fields})
    if axis is not None:
        text += f"grid:\n  {axis}\n"
    path.write_text(text)
    return path
