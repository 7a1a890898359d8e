"""Canonical emotion names and the `dataset.labels` / `dataset.classes` options.

Every loader returns canonical lower-case names (docs/datasets.md lists which corpus label maps
to which). A label map renames, merges or drops labels (`{excited: happy, frustrated: drop}`);
a class list fixes the class order (= the class ids models are trained on).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ser_data.errors import DataError

CANONICAL = (
    "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised",
    "boredom", "contempt", "excited", "frustrated", "other", "xxx",
)  # fmt: skip
# `xxx` is "no agreement among the annotators" (IEMOCAP xxx, MSP-Podcast X); `other` is an
# annotated label outside the listed categories (IEMOCAP oth, MSP-Podcast O).

DROP = "drop"

# Names other corpora/toolkits use (EmoBox label maps, common spellings) -> canonical name.
_SYNONYMS = {
    "anger": "angry", "fear": "fearful", "happiness": "happy", "sadness": "sad",
    "surprise": "surprised", "disgusted": "disgust", "no-agreement": "xxx",
    "no agreement": "xxx", "neutrality": "neutral", "bored": "boredom",
}  # fmt: skip


def canonical_label(name: str) -> str:
    """The canonical name for a label spelled as another corpus spells it; lower-case otherwise."""
    key = name.strip().lower()
    if key in CANONICAL:
        return key
    return _SYNONYMS.get(key, key)


class LabelPolicy:
    """Applies `dataset.labels` (a map) and `dataset.classes` (an explicit class order).

    `where` in the methods names the place of a label in the input (a file and line), so an
    error can point at it.
    """

    def __init__(self, dataset: str, mapping: Mapping[str, str] | None, classes: Sequence[str] | None) -> None:
        self.dataset = dataset
        self.mapping = dict(mapping or {})
        self.classes = tuple(classes) if classes else None

    @property
    def active(self) -> bool:
        return bool(self.mapping) or self.classes is not None

    def apply(self, label: str, where: str = "") -> str | None:
        """The label after the map, or None if the map drops it; DataError if not in the classes."""
        out = self.mapping.get(label, label)
        if out == DROP:
            return None
        if self.classes is not None and out not in self.classes:
            at = f"{where}: " if where else f"{self.dataset}: "
            mapped = f" (mapped from {label!r} by dataset.labels)" if out != label else ""
            raise DataError(
                f"{at}label {out!r}{mapped} is not in dataset.classes [{', '.join(self.classes)}]; "
                f"add it there or map it with dataset.labels ({label}: <class> or {label}: {DROP})"
            )
        return out

    def order(self, seen: Iterable[str], natural: Sequence[str] | None = None) -> tuple[str, ...]:
        """The class tuple: `dataset.classes` if given, else the loader's own order (mapped and
        de-duplicated) when it has one, else sorted.

        Sorted, not order of first appearance: re-sorting the rows of a file must not change
        which class id a label gets (models, confusion matrices and caches depend on it).
        """
        if self.classes is not None:
            return self.classes
        if natural is not None:
            out: list[str] = []
            for name in natural:
                mapped = self.mapping.get(name, name)
                if mapped != DROP and mapped not in out:
                    out.append(mapped)
            return tuple(out)
        return tuple(sorted(set(seen)))

    def check_keys(self, known: Sequence[str]) -> None:
        """For loaders with a fixed label set: a map key that is not one of its labels is a typo."""
        unknown = [k for k in self.mapping if k not in known]
        if unknown:
            raise DataError(
                f"dataset {self.dataset}: dataset.labels maps {', '.join(map(repr, unknown))}, "
                f"which {'is' if len(unknown) == 1 else 'are'} not a label of {self.dataset} "
                f"(labels: {', '.join(known)})"
            )

    def filters(self) -> dict[str, object]:
        """What to record in Manifest.filters (part of feature-cache keys)."""
        out: dict[str, object] = {}
        if self.mapping:
            out["labels"] = dict(sorted(self.mapping.items()))
        if self.classes is not None:
            out["classes"] = list(self.classes)
        return out
