"""Feature caches at scale: resumable after a kill, damaged caches rebuilt, one builder at a time,
memory-mapped reads, a caller's mapper, file modes.

The interrupted and concurrent builds are real child processes (killed with real signals).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ser_data.datasets import load_manifest
from ser_data.errors import DataError
from ser_data.features import FeatureSet, prepare_features
from ser_data.features import build as build_mod

CHILD = textwrap.dedent("""
    import json, signal, sys, time, logging
    from pathlib import Path
    from ser_data.datasets import load_manifest
    from ser_data.features import prepare_features
    from ser_data.features import build as build_mod


    def main():
        # Ctrl-C as in a terminal: a test runner started in the background (`pytest &` in a
        # script) passes SIGINT on ignored, and Python then installs no KeyboardInterrupt handler.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        root, cache, workers, chunk, go, report = sys.argv[1:7]
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="LOG %(message)s")
        calls = []
        real = build_mod._extract_one

        def counted(job):
            calls.append(job[1])
            return real(job)

        build_mod._extract_one = counted  # counts extraction in this process
        manifest = load_manifest("ravdess", root)
        while go != "-" and not Path(go).exists():
            time.sleep(0.01)
        fs = prepare_features(manifest, "mfcc39", cache_dir=cache, workers=int(workers), chunk_size=int(chunk))
        Path(report).write_text(json.dumps({"calls": len(calls), "from_cache": fs.from_cache}))


    if __name__ == "__main__":  # spawn re-imports this file in every pool worker
        main()
""")



@pytest.fixture(scope="module")
def corpus(synth_corpus) -> Path:  # noqa: ANN001
    return synth_corpus("ravdess", actors=2)  # 120 files


@pytest.fixture(scope="module")
def clean(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> FeatureSet:
    """A build that nothing interrupted (one process, default chunking) to compare with."""
    return prepare_features(load_manifest("ravdess", corpus), "mfcc39", cache_dir=tmp_path_factory.mktemp("clean"), workers=1)


# Slows extraction in every process of the child's tree: spawned pool workers are fresh
# interpreters that a patch in the child does not reach, but each imports `sitecustomize` from
# PYTHONPATH at start-up.
SLOW_EXTRACTION = textwrap.dedent("""
    import time
    from ser_data.features import build as build_mod

    _real = build_mod._extract_one

    def _slowed(job):
        time.sleep({delay})
        return _real(job)

    build_mod._extract_one = _slowed
""")


def _child(corpus: Path, cache: Path, report: Path, *, workers: int, chunk: int, delay: float = 0.0,
           go: Path | None = None) -> subprocess.Popen:  # type: ignore[type-arg]
    """The build in a child process, `delay` seconds per utterance (in its pool workers too)."""
    script = cache.parent / "child.py"
    script.write_text(CHILD)
    args = [sys.executable, str(script), str(corpus), str(cache), str(workers), str(chunk),
            str(go) if go else "-", str(report)]
    env = dict(os.environ)
    if delay > 0:
        site = cache.parent / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(SLOW_EXTRACTION.format(delay=delay))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # an orphan's zombie, waiting for init to reap it, is dead


def _chunks(cache: Path) -> list[Path]:
    return sorted(cache.glob("features/ravdess/*.partial/chunks/chunk-*.npz"))


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the pool workers")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_build_resumes_and_leaves_no_workers(corpus: Path, clean: FeatureSet, tmp_path: Path,
                                                          sig: signal.Signals, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "cache"
    # 30 chunks of 4 at >= 0.05 s an utterance on 2 workers: >= 2.5 s left when the 4th chunk is in
    child = _child(corpus, cache, tmp_path / "report.json", workers=2, chunk=4, delay=0.05)
    workers: set[int] = set()
    try:
        deadline = time.time() + 120
        while len(_chunks(cache)) < 4:  # 30 chunks of 4; wait until a few are done
            assert child.poll() is None, child.stdout.read() if child.stdout else ""
            assert time.time() < deadline, "the child built nothing"
            workers.update(_descendants(child.pid))
            time.sleep(0.05)
        workers.update(_descendants(child.pid))
        assert len(workers) >= 2  # a real pool of two worker processes
        child.send_signal(sig)
        child.wait(timeout=30)
    finally:  # never leave the child (or its workers) behind when an assertion fails
        if child.poll() is None:
            for pid in [*_descendants(child.pid), child.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            child.wait()
    assert not (tmp_path / "report.json").exists()  # it did not finish
    for _ in range(100):  # the workers notice their parent is gone and exit
        if not any(_alive(p) for p in workers):
            break
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)], "orphaned pool workers"
    done = _chunks(cache)
    assert 4 <= len(done) < 30
    # Damage one finished chunk's feature data (same size): the resumed build must notice and redo it.
    victim = done[0]
    blob = bytearray(victim.read_bytes())
    blob[200] ^= 0xFF  # inside x.npy, the first member of the chunk's zip
    victim.write_bytes(bytes(blob))
    calls: list[str] = []
    real = build_mod._extract_one
    monkeypatch.setattr(build_mod, "_extract_one", lambda job: calls.append(job[1]) or real(job))
    # The killed process's lock is gone with it: this returns instead of waiting forever.
    caplog.set_level(logging.WARNING, logger="ser_data.features")
    fs = prepare_features(load_manifest("ravdess", corpus), "mfcc39", cache_dir=cache, workers=1, chunk_size=4)
    assert len(calls) == 120 - 4 * (len(done) - 1)  # finished chunks were not recomputed, the damaged one was
    assert [r.getMessage() for r in caplog.records] == [f"feature chunk {victim} is damaged; recomputing it"]
    assert np.array_equal(np.asarray(fs.x), np.asarray(clean.x)) and list(fs.utt_ids) == list(clean.utt_ids)
    assert fs.problems == clean.problems and np.array_equal(fs.y, clean.y)
    assert not list(cache.glob("features/ravdess/*.partial"))  # the build folder is cleaned up


def test_two_builders_build_once(corpus: Path, clean: FeatureSet, tmp_path: Path) -> None:
    cache, go = tmp_path / "cache", tmp_path / "go"
    kids = [_child(corpus, cache, tmp_path / f"r{i}.json", workers=1, chunk=8, delay=0.02, go=go) for i in range(2)]
    time.sleep(0.5)
    go.write_text("go")  # both start building at the same moment
    try:
        logs = [k.communicate(timeout=300)[0] for k in kids]
    finally:
        for k in kids:
            if k.poll() is None:
                k.kill()
                k.wait()
    assert all(k.returncode == 0 for k in kids), logs
    reports = [json.loads((tmp_path / f"r{i}.json").read_text()) for i in range(2)]
    assert sorted(r["calls"] for r in reports) == [0, 120]  # 120 extractions in all, by one process
    assert sorted(r["from_cache"] for r in reports) == [False, True]
    waiter = logs[[r["calls"] for r in reports].index(0)]
    assert "waiting for another process building" in waiter  # it did not just come later
    (built,) = [p for p in cache.glob("features/ravdess/mfcc39-*") if p.is_dir()]
    assert np.array_equal(np.asarray(FeatureSet.load(built).x), np.asarray(clean.x))


def _damage_truncate(folder: Path) -> str:
    x = folder / "x.npy"
    with open(x, "r+b") as fh:
        fh.truncate(x.stat().st_size - 100)
    return "x.npy has"


def _damage_crc(folder: Path) -> str:
    x = folder / "x.npy"
    blob = bytearray(x.read_bytes())
    blob[-7] ^= 0x55  # same size, same .npy header
    x.write_bytes(bytes(blob))
    return "x.npy: bad CRC"


def _damage_shape(folder: Path) -> str:
    y = np.load(folder / "y.npy")
    np.save(folder / "y.npy", y.reshape(1, -1))  # same bytes, other shape
    return "y.npy holds"


def _damage_missing(folder: Path) -> str:
    (folder / "meta__gender.npy").unlink()
    return "missing piece meta__gender.npy"


def _damage_header(folder: Path) -> str:
    (folder / "header.json").write_text("{not json")
    return "unreadable header.json"


@pytest.mark.parametrize("damage", [_damage_truncate, _damage_crc, _damage_shape, _damage_missing, _damage_header])
def test_damaged_cache_is_reported_moved_aside_and_rebuilt(corpus: Path, clean: FeatureSet, tmp_path: Path,
                                                           damage, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    manifest = load_manifest("ravdess", corpus).subset(range(0, 120, 5))  # 24 utterances: quick builds
    first = prepare_features(manifest, "mfcc39", cache_dir=tmp_path, workers=1)
    folder, x = Path(first.cache_path), np.array(first.x)
    assert np.array_equal(x, np.asarray(clean.x)[::5])
    del first
    words = damage(folder)
    caplog.set_level(logging.WARNING, logger="ser_data.features")
    again = prepare_features(manifest, "mfcc39", cache_dir=tmp_path, workers=1)
    assert not again.from_cache and np.array_equal(np.asarray(again.x), x)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(folder) in warnings[0] and words in warnings[0]
    (aside,) = folder.parent.glob(f"{folder.name}.damaged-*")
    assert aside.name in warnings[0] and (aside / "x.npy").exists()  # kept, not deleted
    assert prepare_features(manifest, "mfcc39", cache_dir=tmp_path, workers=1).from_cache


def test_trials_get_memory_maps_and_select_rows(corpus: Path, clean: FeatureSet, tmp_path: Path) -> None:
    fs = FeatureSet.load(clean.cache_path)
    assert isinstance(fs.x, np.memmap) and not fs.x.flags.writeable
    rows = np.array([5, 0, 17])
    part = fs.select(rows)
    assert not isinstance(part.x, np.memmap) and np.array_equal(part.x, np.asarray(fs.x)[rows])
    assert list(part.utt_ids) == [fs.utt_ids[i] for i in rows] and list(part.y) == [fs.y[i] for i in rows]
    assert part.meta["gender"].tolist() == [fs.meta["gender"][i] for i in rows]
    spec = prepare_features(load_manifest("ravdess", corpus), "spec257", cache_dir=tmp_path, workers=1)
    seq = FeatureSet.load(spec.cache_path)
    assert isinstance(seq.x, np.memmap) and seq.is_variable
    picked = seq.select([3, 1])
    assert np.array_equal(picked.item(0), seq.item(3)) and np.array_equal(picked.item(1), seq.item(1))
    run = seq.select([7, 8, 9, 2, 3])  # consecutive rows are read as one block
    expected = np.concatenate([np.asarray(seq.item(i)) for i in (7, 8, 9, 2, 3)])
    assert np.array_equal(run.x, expected) and len(run.sequences()) == 5
    assert np.array_equal(fs.select(np.arange(10, 20)).x, np.asarray(fs.x)[10:20])
    assert picked.offsets.tolist() == [0, len(seq.item(3)), len(seq.item(3)) + len(seq.item(1))]
    with pytest.raises(DataError, match="old single-.npz format"):
        old = tmp_path / "old.npz"
        np.savez(old, x=np.zeros(3))
        FeatureSet.load(old)


def test_a_callers_mapper_runs_the_chunks(corpus: Path, clean: FeatureSet, tmp_path: Path) -> None:
    seen: list[int] = []

    def threads_reversed(fn, items):  # noqa: ANN001, ANN202  (like a Ray mapper: elsewhere, any order)
        pickle.dumps((fn, items))  # what a cluster mapper must ship
        seen.append(len(items))
        with ThreadPoolExecutor(2) as ex:
            yield from reversed(list(ex.map(fn, items)))

    fs = prepare_features(load_manifest("ravdess", corpus), "mfcc39", cache_dir=tmp_path, mapper=threads_reversed)
    assert seen == [30]  # default chunking of 120 utterances: 30 chunks of 4
    assert np.array_equal(np.asarray(fs.x), np.asarray(clean.x)) and fs.problems == clean.problems


def test_bad_parameters_fail_before_any_extraction(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(build_mod, "_extract_one", lambda job: calls.append(job[1]))
    manifest = load_manifest("ravdess", corpus)
    for params, words in (({"n_windows": -1}, "params.n_windows=-1 out of range; allowed: 1..10000"),
                          ({"win_length": 1024}, "params.win_length=1024 is larger than params.n_fft=512"),
                          ({"delta_width": 8}, "params.delta_width=8 must be odd")):
        with pytest.raises(DataError, match="feature mfcc39: " + words.replace(".", r"\.")):
            prepare_features(manifest, "mfcc39", params, cache_dir=tmp_path)
    with pytest.raises(DataError, match=r"params\.fmax=9000 is above the Nyquist"):
        prepare_features(manifest, "logmel26_fixed", {"fmax": 9000.0}, cache_dir=tmp_path)
    with pytest.raises(DataError, match="workers=0"):
        prepare_features(manifest, "mfcc39", cache_dir=tmp_path, workers=0)
    assert calls == [] and not list(tmp_path.iterdir())


def test_cache_files_follow_the_umask(corpus: Path, tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        fs = prepare_features(load_manifest("ravdess", corpus), "mfcc39", cache_dir=tmp_path, workers=1)
    finally:
        os.umask(old)
    folder = Path(fs.cache_path)
    assert oct(folder.stat().st_mode & 0o777) == oct(0o750)
    for path in folder.iterdir():
        assert oct(path.stat().st_mode & 0o777) == oct(0o640), path.name
