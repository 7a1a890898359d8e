from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from fake_manifests import fake_manifest
from ser_data.errors import DataError
from ser_data.protocols import make_folds, protocol_names


def _speakers(m, idx) -> set[str]:  # noqa: ANN001
    return {m.utterances[int(i)].speaker for i in idx}


def _check_partition(f, n: int) -> None:  # noqa: ANN001
    parts = [f.train, f.val, f.test]
    assert sum(len(p) for p in parts) == n
    assert len(np.unique(np.concatenate(parts))) == n  # disjoint and covering


def test_names_and_errors() -> None:
    assert protocol_names() == ["speaker_kfold", "kumar_70_30", "mocanu_actor10", "liu_random_80_20", "lian_loso",
                              "predefined"]
    m = fake_manifest(4)
    with pytest.raises(DataError, match="allowed: speaker_kfold, kumar_70_30"):
        make_folds("loso", m)
    with pytest.raises(DataError, match="unknown parameter.*fold.*allowed: folds, seed, val, val_fraction"):
        make_folds("speaker_kfold", m, fold=3)
    with pytest.raises(DataError, match="folds=9"):
        make_folds("speaker_kfold", m, folds=9)
    with pytest.raises(DataError, match="test_size"):
        make_folds("kumar_70_30", m, test_size=1.5)
    with pytest.raises(DataError, match="allowed: partition, table1"):
        make_folds("mocanu_actor10", fake_manifest(24), scheme="paper")
    with pytest.raises(DataError, match="session"):
        make_folds("lian_loso", m)


@pytest.mark.parametrize("val", [False, True])
def test_speaker_kfold(val: bool) -> None:
    m = fake_manifest(10)
    folds = make_folds("speaker_kfold", m, folds=5, seed=3, val=val)
    assert len(folds) == 5
    tested = Counter()
    for f in folds:
        _check_partition(f, len(m))
        tr, va, te = _speakers(m, f.train), _speakers(m, f.val), _speakers(m, f.test)
        assert not (tr & va) and not (tr & te) and not (va & te)
        # val=True: the next speaker group; otherwise training speakers worth 10 % of the training part
        assert len(te) == 2 and len(va) == (2 if val else 1)
        tested.update(te)
    assert set(tested.values()) == {1} and len(tested) == 10
    again = make_folds("speaker_kfold", m, folds=5, seed=3, val=val)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(folds, again))


def test_kumar_70_30_stratified() -> None:
    m = fake_manifest(10, per_speaker=10)  # 100 utterances, classes 34/33/33
    folds = make_folds("kumar_70_30", m, seed=1)
    assert len(folds) == 10
    y = m.label_ids()
    for f in folds:
        assert len(f.test) == 30 and len(f.train) == 63 and len(f.val) == 7  # validation: 10 % of the 70
        _check_partition(f, 100)
        assert np.bincount(y[f.val], minlength=3).min() >= 2  # stratified
        assert all(abs(np.mean(y[f.test] == c) - np.mean(y == c)) < 0.04 for c in range(3))
    assert not np.array_equal(folds[0].test, folds[1].test)


def test_liu_random_80_20() -> None:
    m = fake_manifest(10, per_speaker=10)
    folds = make_folds("liu_random_80_20", m, seed=0)
    assert len(folds) == 5
    all_test = np.concatenate([f.test for f in folds])
    assert sorted(all_test.tolist()) == list(range(100))  # each utterance tested once
    y = m.label_ids()
    for f in folds:
        assert len(f.test) == 20 and len(f.train) == 72 and len(f.val) == 8
        _check_partition(f, 100)
        assert np.bincount(y[f.test]).max() - np.bincount(y[f.test]).min() <= 1
    shuffled = make_folds("liu_random_80_20", m, seed=0, mode="shuffle")
    assert all(len(f.test) == 20 for f in shuffled)


@pytest.mark.parametrize(("n_actors", "test_sizes"), [(24, {2, 3}), (91, {9, 10})])
def test_mocanu_actor10(n_actors: int, test_sizes: set[int]) -> None:
    m = fake_manifest(n_actors, per_speaker=2)
    folds = make_folds("mocanu_actor10", m)
    assert len(folds) == 10
    tested = Counter()
    for f in folds:
        _check_partition(f, len(m))
        tr, va, te = _speakers(m, f.train), _speakers(m, f.val), _speakers(m, f.test)
        assert not (tr & va) and not (tr & te) and not (va & te)
        assert len(te) in test_sizes and len(va) in test_sizes
        assert len(tr) / n_actors >= 0.75
        tested.update(te)
    assert len(tested) == n_actors and set(tested.values()) == {1}


def test_mocanu_table1_literal() -> None:
    m = fake_manifest(24, per_speaker=1)
    folds = make_folds("mocanu_actor10", m, scheme="table1")
    names = lambda idx: sorted(int(s) - 1000 for s in _speakers(m, idx))  # noqa: E731
    assert names(folds[0].test) == [22, 23, 24] and names(folds[0].val) == [19, 20, 21]
    assert names(folds[1].test) == [1, 2, 24] and names(folds[2].val) == [1, 23, 24]
    assert names(folds[9].train) == list(range(1, 13)) + list(range(19, 25))
    big = fake_manifest(91, per_speaker=1)
    f91 = make_folds("mocanu_actor10", big, scheme="table1")
    assert sorted(int(s) - 1000 for s in _speakers(big, f91[3].test)) == list(range(19, 28))


def test_lian_loso() -> None:
    m = fake_manifest(10, sessions=5)
    folds = make_folds("lian_loso", m)
    assert len(folds) == 5
    for i, f in enumerate(folds):
        _check_partition(f, len(m))
        assert {m.utterances[j].session for j in f.test} == {f"Session{i + 1}"}
        assert f"Session{i + 1}" not in {m.utterances[j].session for j in f.train}


def test_folds_on_featureset_like_data() -> None:
    class FS:  # the columns a FeatureSet carries
        y = np.array([0, 1, 0, 1, 0, 1])
        speakers = np.array(["a", "a", "b", "b", "c", "c"])
        meta = {"session": np.array(["S1", "S1", "S2", "S2", "S3", "S3"])}

    folds = make_folds("lian_loso", FS())
    assert [f.test.tolist() for f in folds] == [[0, 1], [2, 3], [4, 5]]
    assert len(make_folds("speaker_kfold", FS(), folds=3)) == 3


@pytest.mark.parametrize("name, params, by", [
    ("kumar_70_30", {}, None), ("liu_random_80_20", {}, None), ("speaker_kfold", {"folds": 5}, "speaker"),
    ("lian_loso", {}, "speaker"), ("lian_loso", {"val_by": "session"}, "session"), ("lian_loso", {"val_by": "utterance"}, None),
])
def test_validation_comes_from_the_training_part_only(name: str, params: dict, by: str | None) -> None:
    m = fake_manifest(20, per_speaker=12, sessions=5)
    folds = make_folds(name, m, **params)
    without = make_folds(name, m, **params, val_fraction=0)
    for f, f0 in zip(folds, without):
        _check_partition(f, len(m))
        assert np.array_equal(f.test, f0.test)  # the test part is untouched
        assert np.array_equal(np.sort(np.concatenate([f.train, f.val])), f0.train) and len(f0.val) == 0
        if by == "session":  # whole sessions: one of the four training sessions
            assert len({m.utterances[int(i)].session for i in f.val}) == 1
        else:
            assert 0.05 <= len(f.val) / len(f0.train) <= 0.2
        if by is not None:  # whole speakers (or sessions): none of them also in training or test
            of = {"speaker": lambda i: m.utterances[int(i)].speaker, "session": lambda i: m.utterances[int(i)].session}[by]
            val_groups = {of(i) for i in f.val}
            assert not val_groups & {of(i) for i in f.train} and not val_groups & {of(i) for i in f.test}
    again = make_folds(name, m, **params)
    assert all(np.array_equal(a.val, b.val) for a, b in zip(folds, again))  # seeded: the same every run
    assert not all(np.array_equal(folds[0].val, f.val) for f in folds[1:])  # each fold draws its own


def test_bad_validation_parameters() -> None:
    m = fake_manifest(10, sessions=5)
    with pytest.raises(DataError, match="val_fraction=1.5"):
        make_folds("kumar_70_30", m, val_fraction=1.5)
    with pytest.raises(DataError, match="val_by='actor'; allowed: utterance, speaker, session"):
        make_folds("lian_loso", m, val_by="actor")


def _with_partitions(folds=None, splits=None):  # noqa: ANN001, ANN202
    from dataclasses import replace

    m = fake_manifest(4, per_speaker=3)  # 12 utterances
    utts = [replace(u, fold=None if folds is None else folds[i], split=None if splits is None else splits[i])
            for i, u in enumerate(m.utterances)]
    return replace(m, utterances=utts)


def test_predefined_folds_as_written() -> None:
    numbers = [1, 1, 2, 3, 3, 3, 2, 1, 2, 3, 1, 2]
    m = _with_partitions(folds=numbers)
    folds = make_folds("predefined", m)
    assert len(folds) == 3
    for f, k in zip(folds, (1, 2, 3)):
        _check_partition(f, 12)
        assert f.test.tolist() == [i for i, n in enumerate(numbers) if n == k] and len(f.val) == 0
    with_val = make_folds("predefined", m, val=True)
    for f, k in zip(with_val, (1, 2, 3)):
        _check_partition(f, 12)
        assert f.val.tolist() == [i for i, n in enumerate(numbers) if n == k % 3 + 1]
    with pytest.raises(DataError, match="test_split applies to split names"):
        make_folds("predefined", m, test_split="Test1")
    with pytest.raises(DataError, match="at least 2 folds"):
        make_folds("predefined", _with_partitions(folds=[4] * 12))


def test_predefined_split_names() -> None:
    names = ["Train", "train", "Development", "dev", "Test1", "Test2", "Train", "valid", "Test1", "TEST2", "training", "test"]
    m = _with_partitions(splits=names)
    (f,) = make_folds("predefined", m)
    _check_partition(f, 12)
    assert f.train.tolist() == [0, 1, 6, 10] and f.val.tolist() == [2, 3, 7] and f.test.tolist() == [4, 5, 8, 9, 11]
    (t1,) = make_folds("predefined", m, test_split="test1")  # Test2 and test are left out entirely
    assert t1.test.tolist() == [4, 8] and t1.train.tolist() == [0, 1, 6, 10]
    with pytest.raises(DataError, match="test_split='Test3' matches no utterance; test partitions here: TEST2, Test1, Test2, test"):
        make_folds("predefined", m, test_split="Test3")
    with pytest.raises(DataError, match="test_split='Train' is not a test partition"):
        make_folds("predefined", m, test_split="Train")
    with pytest.raises(DataError, match="no utterance is in a train partition"):
        make_folds("predefined", _with_partitions(splits=["test"] * 12))
    with pytest.raises(DataError, match="val=True applies to fold numbers"):
        make_folds("predefined", m, val=True)


def test_predefined_needs_partitions_everywhere() -> None:
    with pytest.raises(DataError, match="12 of 12 have none"):
        make_folds("predefined", fake_manifest(4, per_speaker=3))
    half = _with_partitions(folds=[1, 2] * 3 + [None] * 6)
    with pytest.raises(DataError, match="6 of 12 have none"):
        make_folds("predefined", half)


def test_predefined_on_featureset_columns() -> None:
    class FS:  # a FeatureSet's columns: fold -1 = none, split "" = none
        y = np.array([0, 1, 0, 1])
        speakers = np.array(["a", "a", "b", "b"])
        meta = {"fold": np.array([2, 1, 2, 1], dtype=np.int32), "split": np.array(["", "", "", ""])}

    assert [f.test.tolist() for f in make_folds("predefined", FS())] == [[1, 3], [0, 2]]
    FS.meta = {"fold": np.array([-1] * 4, dtype=np.int32), "split": np.array(["Train", "Test1", "Train", "Development"])}
    (f,) = make_folds("predefined", FS())
    assert (f.train.tolist(), f.val.tolist(), f.test.tolist()) == ([0, 2], [3], [1])
