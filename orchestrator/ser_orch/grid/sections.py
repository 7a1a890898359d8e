"""One validation style for every grid section a task reads: each is a pydantic model.

A section model is strict (``true`` is not a number, ``"3"`` is not an int), forbids unknown keys
(with a "did you mean" hint), refuses NaN and infinities, and declares ranges with ``Field``.
:func:`read_section` turns the first problem into a ``TaskConfigError`` naming the dotted grid key
(``train.lr``), which the grid validation reports with the grid file, exit code 2, before anything
starts. Defaults come from the trainers' settings dataclasses in ``ser_models.training`` where one
exists, so each default is written once.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import TaskConfigError, validation_message
from .expand import get_dotted

S = TypeVar("S", bound=BaseModel)


class Section(BaseModel):
    """Base of every task's section model."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


def read_section(model: type[S], trial: dict[str, Any], path: str) -> S:
    """Validate the trial's section at dotted ``path`` (``train``, ``loss``, ``train.pretrain``...)."""
    raw = get_dotted(trial, path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise TaskConfigError(path, f"must be a mapping of keys, got {raw!r}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        key, message = validation_message(exc, model, prefix=path)
        raise TaskConfigError(key, message) from None


def build_checked(key: str, what: str, factory: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a constructor (a model, a loss) and report what it refuses as an error on ``key``.

    Model constructors raise TypeError for an unknown argument, ValueError or RuntimeError for a
    bad value (``hidden: -5`` reaches torch); all of them are the user's input, not a crash."""
    try:
        return factory(*args, **kwargs)
    except (TypeError, ValueError, RuntimeError) as exc:
        text = str(exc).strip().splitlines()
        raise TaskConfigError(key, f"not accepted by {what}: {text[0] if text else type(exc).__name__}") from None
