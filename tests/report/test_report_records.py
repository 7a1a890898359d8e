from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from ser_orch.results import (
    RecordWarning,
    TrialRecord,
    completed_trial_ids,
    read_records,
    read_trial_arrays,
    scan_records,
    write_record,
)


def test_write_then_read_round_trip(tmp_path, records):
    for rec in records:
        write_record(tmp_path, rec)
    back = read_records(tmp_path)
    assert back == sorted(records, key=lambda r: r.trial_id)
    # No temp files left behind by the atomic writes.
    assert sorted(p.suffix for p in (tmp_path / "trials").iterdir()) == [".json"] * len(records)


def test_write_record_accepts_dict_and_numpy_values(tmp_path, record_factory):
    rec = record_factory("resnet", 6, 0).to_dict()
    rec["metrics"]["wa"] = np.float32(0.25)
    rec["confusion"] = np.eye(4, dtype=np.int64)
    path = write_record(tmp_path, rec)
    data = json.loads(path.read_text())
    assert data["metrics"]["wa"] == pytest.approx(0.25)
    assert data["confusion"][1] == [0, 1, 0, 0]
    assert list(data)[:3] == ["trial_id", "config_id", "axes"]


def test_corrupt_and_partial_records_are_reported_not_fatal(tmp_path, records):
    for rec in records[:3]:
        write_record(tmp_path, rec)
    trials = tmp_path / "trials"
    good = (trials / f"{records[0].trial_id}.json").read_text()
    (trials / "partial.json").write_text(good[: len(good) // 2])
    (trials / "not-a-record.json").write_text('["a list"]')
    (trials / "no-id.json").write_text('{"status": "done"}')
    (trials / "binary.json").write_bytes(b"\xff\xfe\x00garbage")

    scan = scan_records(tmp_path)
    assert len(scan.records) == 3
    assert sorted(p.path.name for p in scan.problems) == [
        "binary.json",
        "no-id.json",
        "not-a-record.json",
        "partial.json",
    ]
    assert any("missing key" in p.reason for p in scan.problems)

    with pytest.warns(RecordWarning) as caught:
        assert len(read_records(tmp_path)) == 3
    assert len(caught) == 4
    assert any("partial.json" in str(w.message) for w in caught)


def test_completed_trial_ids_only_done(tmp_path, records):
    for rec in records:
        write_record(tmp_path, rec)
    (tmp_path / "trials" / "broken.json").write_text("{")
    done = completed_trial_ids(tmp_path)
    assert len(done) == len(records) - 1
    assert "family=resnet,depth=11__fold=3__seed=0" not in done


def test_missing_run_dir_gives_nothing(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_records(tmp_path / "nope") == []
    assert completed_trial_ids(tmp_path) == set()


def test_unknown_keys_are_ignored():
    rec = TrialRecord.from_dict({"trial_id": "t", "config_id": "c", "status": "done", "new_field": 1, "axes": None})
    assert rec.axes == {} and rec.done


def test_read_trial_arrays(tmp_path):
    (tmp_path / "trials").mkdir()
    np.savez(tmp_path / "trials" / "t1.npz", embeddings=np.ones((3, 2)), labels=np.arange(3))
    arrays = read_trial_arrays(tmp_path, "t1")
    assert arrays is not None and arrays["embeddings"].shape == (3, 2)
    assert read_trial_arrays(tmp_path, "t2") is None


def test_no_ray_import():
    import subprocess
    import sys

    code = "import sys, ser_orch.results, ser_orch.report, ser_orch.report.plots; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
