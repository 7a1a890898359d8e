"""Features for the four papers, with an on-disk cache.

`FEATURES` maps a name to its spec (defaults, choices, ranges, description); `prepare_features`
computes a `FeatureSet` once (in parallel, chunk by chunk, resumable) and reuses the cache
folder afterwards; `FeatureSet.load` memory-maps it.
"""

from __future__ import annotations

from ser_data.features import extractors as _extractors  # noqa: F401  (registers the features)
from ser_data.features import utterance_stats as _utterance_stats  # noqa: F401  (the baseline's)
from ser_data.features.cache import cache_folder, cache_key
from ser_data.features.featureset import FeatureSet
from ser_data.pool import Mapper, process_pool_mapper, serial_mapper
from ser_data.features.prepare import prepare_features
from ser_data.features.store import FeatureCacheError
from ser_data.features.registry import FEATURE_CODE_VERSION, FEATURES, FeatureSpec, get_spec
from ser_data.features.sequences import fixed_length, seconds_to_frames, segment, split_flat

__all__ = [
    "FEATURES", "FEATURE_CODE_VERSION", "FeatureCacheError", "FeatureSet", "FeatureSpec", "Mapper",
    "cache_folder", "cache_key", "fixed_length", "get_spec", "prepare_features", "process_pool_mapper",
    "seconds_to_frames", "segment", "serial_mapper", "split_flat",
]  # fmt: skip
