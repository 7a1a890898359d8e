"""ser_data.atomic: the one atomic-write helper of the three packages."""

from __future__ import annotations

import os

import pytest

from ser_data.atomic import atomic_dir, atomic_write, atomic_write_bytes, atomic_write_text


def test_writes_and_replaces_whole_files(tmp_path):
    target = tmp_path / "sub" / "a.json"  # missing folders are made
    assert atomic_write_text(target, "first\n") == target
    assert target.read_bytes() == b"first\n"
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]  # no temp file left


def test_a_failing_writer_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "cache.npz"
    target.write_bytes(b"old, complete")

    def half_then_crash(fh):
        fh.write(b"half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, half_then_crash)
    assert target.read_bytes() == b"old, complete"
    assert [p.name for p in tmp_path.iterdir()] == ["cache.npz"]


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_files_and_folders_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        shared = atomic_write_text(tmp_path / "results.json", "{}")
        secret = atomic_write_text(tmp_path / "token", "s3cret", private=True)
        with atomic_dir(tmp_path / "cache") as tmp:
            (tmp / "x.npy").write_bytes(b"data")
    finally:
        os.umask(old)
    assert shared.stat().st_mode & 0o777 == 0o666 & ~umask  # as open(path, "w") would make it
    assert secret.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's 0700


def test_atomic_dir_is_all_or_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "c") as tmp:
            (tmp / "half").write_text("x")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "theirs").write_text("x")
    with pytest.raises(FileExistsError):
        with atomic_dir(tmp_path / "c") as tmp:
            (tmp / "mine").write_text("y")
    assert [p.name for p in tmp_path.iterdir()] == ["c"] and [p.name for p in (tmp_path / "c").iterdir()] == ["theirs"]
