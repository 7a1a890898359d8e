"""Model registry in the style of timm: named variants are tiny factories.

``register_model(name)`` decorates a factory ``fn(num_classes, input_dim, **overrides) -> SerModel``;
``create_model`` looks it up and ``list_models`` lists the names (fnmatch pattern).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable
from typing import TypeVar

from .base import SerModel

Factory = Callable[..., SerModel]
F = TypeVar("F", bound=Factory)

_REGISTRY: dict[str, Factory] = {}


class UnknownModelError(KeyError):
    """A model name that is not registered. The message lists close matches and the families."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
        parts = [f"unknown model {name!r}"]
        if close:
            parts.append("did you mean: " + ", ".join(close))
        parts.append("valid families: " + _describe_families(known))
        self.message = "; ".join(parts)
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would otherwise show the repr (extra quotes)
        return self.message


def _split(name: str) -> tuple[str, int | None]:
    m = re.fullmatch(r"(.+)-(\d+)", name)
    return (m.group(1), int(m.group(2))) if m else (name, None)


def _describe_families(names: list[str]) -> str:
    depths: dict[str, list[int]] = {}
    for n in names:
        fam, x = _split(n)
        depths.setdefault(fam, [])
        if x is not None:
            depths[fam].append(x)
    out = []
    for fam, xs in depths.items():
        out.append(f"{fam}-{{{min(xs)}..{max(xs)}}}" if xs else fam)
    return ", ".join(out) if out else "(none registered)"


def _sort_key(name: str) -> tuple[str, int]:
    fam, x = _split(name)
    return (fam, -1 if x is None else x)


def register_model(name: str) -> Callable[[F], F]:
    """Register a factory under ``name``; names are unique."""

    def deco(fn: F) -> F:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return deco


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching the fnmatch ``pattern``, family by family, depth ascending."""
    return sorted((n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern)), key=_sort_key)


def is_model(name: str) -> bool:
    return name in _REGISTRY


def create_model(name: str, num_classes: int, input_dim: int = 390, **overrides: object) -> SerModel:
    """Build the variant ``name``; ``overrides`` replace constructor arguments (e.g. ``channels=32``).

    Raises :class:`UnknownModelError` for an unknown name and ``ValueError`` for a bad override.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(name, list_models()) from None
    return factory(num_classes=num_classes, input_dim=input_dim, **overrides)
