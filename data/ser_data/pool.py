"""Running chunk tasks (feature extraction, corpus synthesis): in this process, in a local process
pool, or via a caller's mapper.

A mapper is `mapper(fn, items) -> iterable of fn(item)` in any order (each result names its
chunk). The orchestrator can pass one that runs `fn` as Ray tasks on a cluster; ser_data itself
never imports ray. `fn` is a module-level function and the items are plain picklable values.

Local pool workers (spawn) ignore Ctrl-C (the parent stops them) and exit by themselves when the
parent process dies, even by SIGKILL: a thread in each worker waits on the parent's sentinel.
Without it, pool workers of a killed parent would wait on their task queue forever.

Spawned workers normally re-run the parent's ``__main__`` script first, so a user's script without
an ``if __name__ == "__main__":`` guard (the README's API example, pasted into a file) would start
its whole experiment again in every worker. The workers need nothing from that script (their
functions live in ser_data), so the pool is started with the script hidden from multiprocessing.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], Iterable[Any]]


def serial_mapper(fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
    for item in items:
        yield fn(item)


def process_pool_mapper(workers: int) -> Mapper:
    """A mapper over a local spawn-started pool of `workers` processes (1: in this process)."""

    def run(fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        if workers <= 1 or len(items) <= 1:
            yield from serial_mapper(fn, items)
            return
        # spawn, not fork: the caller may hold torch/Ray threads, which fork can deadlock.
        ctx = multiprocessing.get_context("spawn")
        with _main_script_hidden():  # Pool starts every worker before it returns
            pool = ctx.Pool(processes=min(workers, len(items)), initializer=_worker_init)
        try:
            yield from pool.imap_unordered(fn, items, chunksize=1)
            pool.close()
        except BaseException:  # Ctrl-C, an error, or the consumer stopped early: stop the workers now
            pool.terminate()
            raise
        finally:
            pool.join()

    return run


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextmanager
def _main_script_hidden() -> Iterator[None]:
    """While starting spawn workers: a bare ``__main__`` (no file, no spec), so the workers do not
    import the caller's script. Only the start is covered; a worker that dies is not replaced."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One thread per worker for numeric libraries: the pool already uses the cores.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True).start()


def _exit_with_parent(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)  # the parent is gone: nobody will read our results
