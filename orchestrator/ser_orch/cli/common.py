"""Shared CLI plumbing: one console, and user errors as one line with exit code 2."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.markup import escape

from ser_data.errors import SerError

from ..faults import RunFolderError, describe_os_error

from ..console import make_console

console = make_console()
err_console = make_console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

USAGE_ERROR = 2


def fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(USAGE_ERROR)


def user_errors(fn: F) -> F:
    """Turn SerError (bad grid, data, run folder) into a clean message and exit code 2; a file
    that cannot be written (disk full, read-only) into one line and exit code 1; Ctrl-C into
    exit code 130 (cli/outcome.py has the table)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SerError as exc:
            raise fail(str(exc)) from None
        except RunFolderError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(1) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            err_console.print(f"[bold red]error:[/] {escape(where + describe_os_error(exc))}", soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", soft_wrap=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


class StepProgress:
    """A progress callback `(label, done, total)` that shows one bar per label (corpus, features...)."""

    def __init__(self, out: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=out
        )
        self.tasks: dict[str, Any] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        if label not in self.tasks:
            self.tasks[label] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[label], completed=done, total=total)

    def __enter__(self) -> StepProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()
