"""Feature registry: name -> extractor, default params, allowed choices.

Every extractor takes the decoded, resampled mono signal and returns either a fixed-size vector
(stored as rows of `x`) or a (frames, dims) sequence (stored flat with `offsets`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ser_data.errors import DataError

# Bump when an extractor's output changes for the same params: old caches then miss.
FEATURE_CODE_VERSION = 1

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
        return out


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
