"""How a run command ends: one line and an exit code for each fault (docs/failure-behaviour.md).

| code | meaning |
|---|---|
| 0 | the run finished (failed trials, if any, are listed and left out of the statistics) |
| 1 | the environment: the run folder cannot be written (disk full, read-only, no permission) |
| 2 | bad input, or the run folder is being run by another process (nothing was started) |
| 3 | the run finished but no trial of it has a result (every trial failed) |
| 130 | interrupted (Ctrl-C / SIGINT); what ran is kept, `--resume` continues |
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from ..faults import RunFolderError, RunInterrupted, describe_os_error, folder_problem
from .common import err_console

EXIT_OK = 0
EXIT_ENVIRONMENT = 1
EXIT_USAGE = 2
EXIT_NOTHING_DONE = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


def _counts(run_dir: Path) -> tuple[int, int]:
    """(done, left) of a run folder, from its records and its trial plan."""
    from ..results.records import completed_trial_ids
    from ..rundir import RunDir

    try:
        planned = {t["trial_id"] for t in RunDir.at(run_dir).planned_trials()}
        done = len(planned & completed_trial_ids(run_dir))
    except Exception:  # noqa: BLE001 - the counts decorate the message; an unreadable folder has none
        return 0, 0
    return done, len(planned) - done


def _say(line: str) -> None:
    err_console.print(escape(line), soft_wrap=True, highlight=False)


@contextmanager
def run_faults(exp: Any, grid: Path, command: str = "ser-orch ablate") -> Iterator[None]:
    """Turn an interrupt or an unwritable run folder during ``exp``'s run into one line and exit code."""

    def resume_hint(run_dir: Path) -> str:
        return f"resume with `{command} --grid {grid} --out {run_dir} --resume`"

    def run_dir() -> Path | None:
        return exp.run.path if getattr(exp, "run", None) is not None else None

    try:
        yield
    except (RunInterrupted, KeyboardInterrupt) as exc:
        folder = exc.run_dir if isinstance(exc, RunInterrupted) else run_dir()
        if folder is None or not (folder / "run.json").exists():
            _say("interrupted before the run folder was created; nothing was kept")
        else:
            done, left = _counts(folder)
            _say(f"interrupted: {done} done, {left} left; {resume_hint(folder)}")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except RunFolderError as exc:
        _folder_line(exc.path, exc.cause, resume_hint)
    except OSError as exc:
        folder = run_dir()
        problem = folder_problem(folder) if folder is not None and folder.is_dir() else None
        if folder is not None and problem is not None:
            _folder_line(folder, problem, resume_hint)
        where = exc.filename or folder or "the run"
        _say(f"error: {where}: {describe_os_error(exc)}")
        raise typer.Exit(EXIT_ENVIRONMENT) from None


def _folder_line(path: Path, cause: str, resume_hint: Any) -> None:
    tail = ""
    if (path / "run.json").exists():
        done, left = _counts(path)
        tail = f"; {done} done, {left} left; make room (or make it writable), then {resume_hint(path)}"
    _say(f"error: run folder {path}: {cause}{tail}")
    raise typer.Exit(EXIT_ENVIRONMENT) from None


def finish(result: Any) -> None:
    """Exit 3 when a run that ran here left no trial with a result (every one failed)."""
    if result is None or result.outcome is None or result.report is None:
        return  # nothing ran here (dry run, submitted to Slurm)
    stats = result.report.stats
    if stats and sum(s.n for s in stats) == 0:
        failed = len(result.report.failures)
        _say(f"error: no trial of {result.run.path} finished ({failed} failed; their reasons are listed above "
             f"and in {result.run.report_md})")
        raise typer.Exit(EXIT_NOTHING_DONE)


__all__ = ["EXIT_ENVIRONMENT", "EXIT_INTERRUPTED", "EXIT_NOTHING_DONE", "EXIT_OK", "EXIT_USAGE", "finish", "run_faults"]
