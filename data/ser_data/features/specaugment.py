"""SpecAugment (Park et al. 2019) for (time, freq) feature maps, numpy or torch, seeded.

Used by Liu & Wang on MFCCs of minority classes. Input layout is (..., T, F): one map (T, F) or
a batch (B, T, F), each batch item drawn independently. Time warp moves a random time point t0
(at least `time_warp` frames from either end) by w in [-time_warp, time_warp] frames and
stretches both sides linearly (linear interpolation between frames). Then `freq_masks` bands of
width 0..`freq_width` and `time_masks` bands of width 0..`time_width` (at most `max_time_ratio`
of T each) are set to `mask_value` ("mean" = the map's mean, or a number).
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

from ser_data.errors import DataError

Array = TypeVar("Array")


def spec_augment(
    x: Array,
    *,
    time_warp: int = 5,
    freq_masks: int = 2,
    freq_width: int = 4,
    time_masks: int = 2,
    time_width: int = 20,
    max_time_ratio: float = 1.0,
    mask_value: float | str = 0.0,
    seed: int | np.random.Generator | None = None,
) -> Array:
    """Return an augmented copy of `x` (numpy array or torch tensor, same type/dtype/device)."""
    if min(time_warp, freq_masks, freq_width, time_masks, time_width) < 0:
        raise DataError("spec_augment: widths and counts must be >= 0")
    if getattr(x, "ndim", 0) not in (2, 3):
        raise DataError(f"spec_augment: expected (T, F) or (B, T, F), got shape {tuple(getattr(x, 'shape', ()))}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    opts = dict(time_warp=time_warp, freq_masks=freq_masks, freq_width=freq_width, time_masks=time_masks,
                time_width=time_width, max_time_ratio=max_time_ratio, mask_value=mask_value)  # fmt: skip
    if x.ndim == 3:  # type: ignore[attr-defined]
        items = [_augment_one(x[i], rng, **opts) for i in range(x.shape[0])]  # type: ignore[index,attr-defined]
        return _stack(items, x)
    return _augment_one(x, rng, **opts)


def _augment_one(x: Any, rng: np.random.Generator, **o: Any) -> Any:
    t, f = x.shape
    if o["time_warp"] > 0 and t > 2 * o["time_warp"] + 1:
        x = _time_warp(x, rng, o["time_warp"])
    else:
        x = x.copy() if isinstance(x, np.ndarray) else x.clone()
    mask = np.zeros((t, f), dtype=bool)
    for _ in range(o["freq_masks"]):
        width = int(rng.integers(0, min(o["freq_width"], f) + 1))
        start = int(rng.integers(0, f - width + 1))
        mask[:, start : start + width] = True
    t_cap = min(o["time_width"], int(o["max_time_ratio"] * t))
    for _ in range(o["time_masks"]):
        width = int(rng.integers(0, max(t_cap, 0) + 1))
        start = int(rng.integers(0, t - width + 1))
        mask[start : start + width, :] = True
    value = float(x.mean()) if o["mask_value"] == "mean" else float(o["mask_value"])
    if isinstance(x, np.ndarray):
        x[mask] = value
        return x
    import torch

    return x.masked_fill(torch.as_tensor(mask, device=x.device), value)


def _time_warp(x: Any, rng: np.random.Generator, w_max: int) -> Any:
    t = x.shape[0]
    t0 = int(rng.integers(w_max, t - w_max))
    w = int(rng.integers(-w_max, w_max + 1))
    new = t0 + w
    # For each output frame, the (fractional) source frame: [0, new] <- [0, t0], [new, t-1] <- [t0, t-1].
    out_idx = np.arange(t, dtype=np.float64)
    src = np.where(out_idx <= new, out_idx * t0 / max(new, 1), t0 + (out_idx - new) * (t - 1 - t0) / max(t - 1 - new, 1))
    src = np.clip(src, 0, t - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, t - 1)
    frac = (src - lo)[:, None]
    if isinstance(x, np.ndarray):
        return (x[lo] * (1 - frac) + x[hi] * frac).astype(x.dtype)
    import torch

    fr = torch.as_tensor(frac, dtype=x.dtype, device=x.device)
    lo_t, hi_t = torch.as_tensor(lo, device=x.device), torch.as_tensor(hi, device=x.device)
    return x[lo_t] * (1 - fr) + x[hi_t] * fr


def _stack(items: list[Any], like: Any) -> Any:
    if isinstance(like, np.ndarray):
        return np.stack(items)
    import torch

    return torch.stack(items)
