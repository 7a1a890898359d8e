"""Feature registry: name -> extractor, default params, allowed choices.

Every extractor takes the decoded, resampled mono signal and returns either a fixed-size vector
(stored as rows of `x`) or a (frames, dims) sequence (stored flat with `offsets`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ser_data.errors import DataError

# Bump when an extractor's output or the cache format changes for the same params: old caches
# then miss. 2: folder cache format (memory-mapped .npy files), minimum clip duration.
FEATURE_CODE_VERSION = 2

# Allowed ranges of the numeric params (any feature that has them), checked before extraction so
# a bad value is blamed on the parameter, not on the first WAV file it breaks.
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "sr": (8000, 96000), "top_db": (1.0, 120.0), "n_mfcc": (1, 128), "n_fft": (16, 65536),
    "win_length": (16, 65536), "hop_length": (1, 65536), "n_mels": (1, 512), "delta_width": (3, 99),
    "n_windows": (1, 10000), "window_frames": (1, 10000), "random_views": (0, 1000), "seed": (0, 2**32 - 1), "eps": (1e-30, 1.0),
    "fmin": (0.0, 48000.0), "fmax": (1.0, 48000.0), "segment_seconds": (0.05, 60.0),
    "train_overlap_seconds": (0.0, 60.0), "test_overlap_seconds": (0.0, 60.0),
}  # fmt: skip

Extractor = Callable[[np.ndarray, int, dict[str, Any], str], np.ndarray]


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    extract: Extractor
    defaults: dict[str, Any]
    variable_length: bool
    description: str
    choices: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # Params used only when the features are consumed (e.g. `seconds` of Lian's fixed length):
    # kept in FeatureSet.params but not hashed, so changing them reuses the cache.
    use_time: tuple[str, ...] = ()

    def resolve(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Defaults overlaid with `params`; unknown keys, wrong types or choices raise DataError."""
        given = dict(params or {})
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            raise DataError(
                f"feature {self.name}: unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(self.defaults)}"
            )
        out = dict(self.defaults)
        for key, value in given.items():
            out[key] = _coerce(self.name, key, value, self.defaults[key])
            if key in self.choices and out[key] not in self.choices[key]:
                allowed = ", ".join(map(str, self.choices[key]))
                raise DataError(f"feature {self.name}: {key}={value!r} not allowed; allowed: {allowed}")
            if key in PARAM_RANGES:
                lo, hi = PARAM_RANGES[key]
                if not lo <= out[key] <= hi:
                    raise DataError(f"feature {self.name}: params.{key}={value!r} out of range; allowed: {lo:g}..{hi:g}", key=f"params.{key}")
        _check_together(self.name, out)
        return out


def _check_together(feature: str, p: dict[str, Any]) -> None:
    """Relations between params that librosa would otherwise reject on the first file."""
    def bad(why: str) -> DataError:
        return DataError(f"feature {feature}: {why}", key=why.split("=", 1)[0])

    if "win_length" in p and "n_fft" in p and p["win_length"] > p["n_fft"]:
        raise bad(f"params.win_length={p['win_length']} is larger than params.n_fft={p['n_fft']}")
    if "delta_width" in p and p["delta_width"] % 2 == 0:
        raise bad(f"params.delta_width={p['delta_width']} must be odd")
    if "n_mfcc" in p and "n_mels" in p and p["n_mfcc"] > p["n_mels"]:
        raise bad(f"params.n_mfcc={p['n_mfcc']} is larger than params.n_mels={p['n_mels']}")
    if "fmax" in p:
        if p["fmax"] > p["sr"] / 2:
            raise bad(f"params.fmax={p['fmax']:g} is above the Nyquist frequency of params.sr={p['sr']} ({p['sr'] / 2:g})")
        if p.get("fmin", 0.0) >= p["fmax"]:
            raise bad(f"params.fmin={p['fmin']:g} must be below params.fmax={p['fmax']:g}")
    for key in ("train_overlap_seconds", "test_overlap_seconds"):
        if key in p and p[key] >= p["segment_seconds"]:
            raise bad(f"params.{key}={p[key]:g} must be shorter than params.segment_seconds={p['segment_seconds']:g}")


def _coerce(feature: str, key: str, value: Any, default: Any) -> Any:
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    raise DataError(f"feature {feature}: {key}={value!r} should be {type(default).__name__}")


FEATURES: dict[str, FeatureSpec] = {}


def register(spec: FeatureSpec) -> FeatureSpec:
    FEATURES[spec.name] = spec
    return spec


def get_spec(name: str) -> FeatureSpec:
    if name not in FEATURES:
        raise DataError(f"unknown feature {name!r}; allowed: {', '.join(sorted(FEATURES))}")
    return FEATURES[name]
