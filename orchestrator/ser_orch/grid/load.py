"""Read a grid YAML file into a validated GridSpec with messages that name the file and the key."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .errors import GridError, validation_message
from .schema import GridSpec

GRID_KEYS = tuple(GridSpec.model_fields)


@dataclass(frozen=True)
class Grid:
    """A grid file as loaded: the validated spec, where it came from and its content hash."""

    spec: GridSpec
    path: Path | None
    sha256: str
    text: str

    @property
    def name(self) -> str:
        return self.spec.name


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (plain YAML keeps the last one
    silently, so half of a grid section would vanish without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # SafeLoader itself reports unhashable keys
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_grid(text: str, source: str | Path = "<grid>") -> Grid:
    """Parse and structurally validate grid YAML text."""
    source_str = str(source)
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise GridError(source_str, None, f"malformed YAML: {where}{problem}") from None
    if not isinstance(raw, dict):
        raise GridError(source_str, None, "a grid file must be a YAML mapping with keys " + ", ".join(GRID_KEYS))
    try:
        spec = GridSpec.model_validate(raw)
    except ValidationError as exc:
        key, message = validation_message(exc, GridSpec)
        raise GridError(source_str, key, message) from None
    digest = hashlib.sha256(text.encode()).hexdigest()
    path = Path(source) if source_str != "<grid>" else None
    return Grid(spec=spec, path=path, sha256=digest, text=text)


def load_grid(path: str | Path) -> Grid:
    """Load a grid file from disk (or a named grid from the repo's grids/ folder)."""
    p = Path(path)
    if not p.exists():
        raise GridError(str(path), None, "no such grid file")
    if p.is_dir():
        raise GridError(str(path), None, "is a folder, not a grid file")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise GridError(str(path), None, f"cannot read: {exc}") from None
    return parse_grid(text, p)
