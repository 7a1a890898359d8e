"""Grid errors name the file, the key and what is allowed; pydantic errors become such messages."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ser_data.errors import SerError


class GridError(SerError):
    """A grid file that cannot be run as written."""

    def __init__(self, source: str | Path | None, key: str | None, message: str) -> None:
        self.source = str(source) if source is not None else None
        self.key = key
        self.detail = message
        where = ": ".join(part for part in (self.source, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class TaskConfigError(SerError, ValueError):
    """A trial config a task cannot run; ``key`` is the dotted grid key at fault (the grid
    validation adds the file)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


def allowed_keys(model: type[BaseModel], parent: tuple[Any, ...] = ()) -> list[str]:
    """The field names of the (nested) pydantic model at ``parent``; [] where it is not a model."""
    current: Any = model
    for part in parent:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None or not hasattr(field.annotation, "model_fields"):
            return []
        current = field.annotation
    return [field.alias or name for name, field in getattr(current, "model_fields", {}).items()]


def close_match(word: str, choices: list[str]) -> str | None:
    """The choice a misspelt key most likely meant (``modle`` -> ``model``), if any is close."""
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_key_message(key: str, allowed: list[str]) -> str:
    hint = close_match(key, allowed)
    parts = ["unknown key"]
    if hint:
        parts.append(f"did you mean '{hint}'?")
    if allowed:
        parts.append(f"allowed: {', '.join(allowed)}")
    return "; ".join(parts)


def _field_annotation(model: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    current: Any = model
    annotation: Any = None
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return None
        field = next((f for name, f in fields.items() if part in (name, f.alias)), None)
        if field is None:
            return None
        annotation = field.annotation
        current = annotation
    return annotation


def _leaf_types(annotation: Any) -> list[Any]:
    """The types inside Optional/Union/Literal annotations."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [t for a in args for t in _leaf_types(a)]
    return [annotation]


def _kind(annotation: Any) -> str:
    leaves = [t for t in _leaf_types(annotation) if t is not type(None)]
    if leaves and all(t is int for t in leaves):
        return "an integer"
    if leaves and all(t in (int, float) for t in leaves):
        return "a number"
    return "a value"


def _literal_choices(annotation: Any) -> list[Any]:
    return [v for t in _leaf_types(annotation) if typing.get_origin(t) is typing.Literal for v in typing.get_args(t)]


def _describe(error: Mapping[str, Any], annotation: Any) -> str:
    """A pydantic error as a short sentence in the project's style ("must be a number > 0")."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    bounds = {"greater_than": (">", "gt"), "greater_than_equal": (">=", "ge"),
              "less_than": ("<", "lt"), "less_than_equal": ("<=", "le")}
    if kind in bounds:
        op, name = bounds[kind]
        bound = ctx.get(name)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)  # "> 0", not "> 0.0"
        return f"must be {_kind(annotation)} {op} {bound}, got {value!r}"
    if kind == "literal_error":
        choices = _literal_choices(annotation)
        allowed = ", ".join(map(str, choices)) if choices else str(ctx.get("expected", ""))
        return f"{value!r} not allowed; allowed: {allowed}"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"must be an integer, got {value!r}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, got {value!r}"
    if kind == "finite_number":
        return f"must be a finite number, got {value!r}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {value!r}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping of keys, got {value!r}"
    if kind in ("list_type", "tuple_type"):
        return f"must be a list, got {value!r}"
    if kind in ("string_type",):
        return f"must be a string, got {value!r}"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    elif message.startswith("Input should be "):
        message = "must be " + message[len("Input should be "):]
    return f"{message}, got {value!r}" if "input" in error else message


def validation_message(err: ValidationError, model: type[BaseModel], prefix: str = "") -> tuple[str, str]:
    """(dotted key, one-line message) for the most useful problem of a pydantic ValidationError.

    A misspelt key shows up twice (the real key missing, the typo unknown): the typo is reported,
    with the key it most likely meant."""
    errors = err.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(part for part in first["loc"] if part not in ("list[any]", "RangeAxis"))
    key = ".".join(str(p) for p in ((prefix,) if prefix else ()) + loc)
    if first["type"] == "extra_forbidden":
        return key, unknown_key_message(str(loc[-1]), allowed_keys(model, loc[:-1]))
    if first["type"] == "missing":
        return key, "required key is missing"
    field_loc = tuple(p for p in loc if isinstance(p, str))
    return key, _describe(first, _field_annotation(model, field_loc))
