"""ser_data.atomic: the one atomic-write helper of the three packages."""

from __future__ import annotations

import pytest

from ser_data.atomic import atomic_write, atomic_write_bytes, atomic_write_text


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
