"""What trials report to Tune each epoch: flat Python scalars only (Tune rejects nested values)."""

from __future__ import annotations

import numpy as np

from ser_orch.runner.trainable import tune_scalars


def test_numpy_scalars_become_python_and_non_scalars_are_dropped():
    out = tune_scalars({"loss": np.float32(0.5), "epoch": np.int64(3), "phase": 1, "stop": False,
                        "name": "x", "confusion": [[1, 2]], "extra": {"a": 1}, "emb": np.zeros(3)})
    assert out == {"loss": 0.5, "epoch": 3, "phase": 1, "stop": False, "name": "x"}
    assert type(out["loss"]) is float and type(out["epoch"]) is int
