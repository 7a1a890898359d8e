from __future__ import annotations

import json
import os
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from audio_writers import write_silent, write_wav
from ser_data.errors import DataError
from ser_data.features import FEATURES, FeatureSet, prepare_features
from ser_data.features import build as build_mod
from ser_data.manifest import Manifest, Utterance


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    """Three usable files (one 48 kHz stereo, one 2.5 s long) and one silent file."""
    root = tmp_path_factory.mktemp("feat")
    specs = [("a", dict(seconds=2.5, freq=200, seed=1)), ("b", dict(sr=48000, channels=2, freq=330, seed=2)),
             ("c", dict(seconds=0.8, freq=440, seed=3))]
    utts = []
    for i, (name, kw) in enumerate(specs):
        path = write_wav(root / f"{name}.wav", **kw)
        utts.append(Utterance(utt_id=name, path=str(path), emotion=("x", "y")[i % 2], speaker=f"s{i}", gender="F"))
    silent = write_silent(root / "quiet.wav")
    utts.append(Utterance(utt_id="quiet", path=str(silent), emotion="x", speaker="s9", gender="M"))
    return Manifest(dataset="tiny", root=str(root), utterances=utts, labels=("x", "y"))


def _signal(path: str) -> np.ndarray:
    data, sr = sf.read(path, dtype="float32", always_2d=True)
    y = data.mean(axis=1)
    return librosa.resample(y, orig_sr=sr, target_sr=16000, res_type="soxr_hq") if sr != 16000 else y


def test_mfcc39_matches_librosa(small: Manifest, tmp_path: Path) -> None:
    fs = prepare_features(small, "mfcc39", {"window_starts": "disjoint"}, cache_dir=tmp_path)
    assert fs.x.shape == (3, 390) and fs.x.dtype == np.float32
    assert list(fs.utt_ids) == ["a", "b", "c"] and list(fs.y) == [0, 1, 0]
    assert [Path(p).name for p, _ in fs.problems] == ["quiet.wav"] and "silent" in fs.problems[0][1]
    # Recompute utterance "a" (2.5 s -> ~20 disjoint windows, 10 drawn) with librosa directly.
    y, _ = librosa.effects.trim(_signal(small.utterances[0].path), top_db=30, frame_length=512, hop_length=160)
    m = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=512, win_length=400, hop_length=160,
                             n_mels=40, window="hamming")
    frames = np.concatenate([m, librosa.feature.delta(m, width=9), librosa.feature.delta(m, order=2, width=9)]).T
    candidates = np.stack([frames[s : s + 10].mean(axis=0) for s in range(0, len(frames) - 9, 10)])
    assert len(candidates) > 10
    windows = fs.x[0].reshape(10, 39)
    picks = [int(np.argmin(np.abs(candidates - w).max(axis=1))) for w in windows]
    for w, p in zip(windows, picks):
        np.testing.assert_allclose(w, candidates[p], rtol=1e-4, atol=1e-3)
    assert picks == sorted(set(picks))  # ten distinct windows, in time order
    assert np.abs(windows[:, 13:]).max() > 0  # deltas over the whole sequence are not zero
    # Utterance "c" (0.8 s, ~0.6 s after trimming) has fewer than 10 windows -> zero padding.
    wc = fs.x[2].reshape(10, 39)
    assert np.all(wc[-1] == 0) and np.any(wc[0] != 0)


def test_mfcc39_windows_deterministic_and_seeded(small: Manifest, tmp_path: Path) -> None:
    one = prepare_features(small, "mfcc39", {"window_starts": "disjoint"}, cache_dir=tmp_path)
    again = prepare_features(small, "mfcc39", {"window_starts": "disjoint"}, cache_dir=tmp_path / "other")
    other_seed = prepare_features(small, "mfcc39", {"window_starts": "disjoint", "seed": 1}, cache_dir=tmp_path)
    np.testing.assert_array_equal(one.x, again.x)
    assert not np.allclose(one.x[0], other_seed.x[0])
    first = prepare_features(small, "mfcc39", {"window_starts": "disjoint", "window_reduce": "first"}, cache_dir=tmp_path)
    assert first.x.shape == (3, 390) and not np.allclose(first.x[0], one.x[0])


def test_mfcc39_spread_windows_cover_the_whole_utterance(small: Manifest, tmp_path: Path) -> None:
    fs = prepare_features(small, "mfcc39", cache_dir=tmp_path)  # the default reading: spread
    assert fs.params["window_starts"] == "spread"
    rows = {u: i for i, u in enumerate(fs.utt_ids.tolist())}
    for utt in small.utterances[0::2]:  # "a" (2.5 s) and "c" (0.8 s), both 16 kHz mono
        row = rows[utt.utt_id]
        y, _ = librosa.effects.trim(_signal(utt.path), top_db=30, frame_length=512, hop_length=160)
        m = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=512, win_length=400, hop_length=160,
                                 n_mels=40, window="hamming")
        mode = "interp" if m.shape[1] >= 9 else "nearest"
        frames = np.concatenate([m, librosa.feature.delta(m, width=9, mode=mode),
                                 librosa.feature.delta(m, order=2, width=9, mode=mode)]).T
        # Ten windows of 10 frames, the first at frame 0 and the last ending at the last frame.
        starts = [round(i * max(len(frames) - 10, 0) / 9) for i in range(10)]
        expected = np.stack([frames[s : s + 10].mean(axis=0) for s in starts])
        np.testing.assert_allclose(fs.x[row].reshape(10, 39), expected, rtol=1e-4, atol=1e-3)
    # The short utterance "c" gets overlapping windows instead of zero padding.
    assert np.all(np.abs(fs.x[rows["c"]].reshape(10, 39)).sum(axis=1) > 0)


def test_mfcc39_tile_windows_average_consecutive_tenths(small: Manifest, tmp_path: Path) -> None:
    fs = prepare_features(small, "mfcc39", {"window_starts": "tile"}, cache_dir=tmp_path)
    utt = small.utterances[0]  # "a", 2.5 s at 16 kHz
    y, _ = librosa.effects.trim(_signal(utt.path), top_db=30, frame_length=512, hop_length=160)
    m = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=512, win_length=400, hop_length=160,
                             n_mels=40, window="hamming")
    frames = np.concatenate([m, librosa.feature.delta(m, width=9), librosa.feature.delta(m, order=2, width=9)]).T
    # Tenths by hand: frame t belongs to window floor-ish(10 t / n); each window is its frames' mean.
    owner = np.minimum((np.arange(len(frames)) + 0.5) * 10 // len(frames), 9).astype(int)
    expected = np.stack([frames[owner == w].mean(axis=0) for w in range(10)])
    row = fs.utt_ids.tolist().index("a")
    np.testing.assert_allclose(fs.x[row].reshape(10, 39), expected, rtol=1e-4, atol=1e-3)


def test_mfcc39_mean_std_windows_add_each_windows_std(small: Manifest, tmp_path: Path) -> None:
    fs = prepare_features(small, "mfcc39", {"window_reduce": "mean_std"}, cache_dir=tmp_path)
    assert fs.x.shape == (3, 780)
    y, _ = librosa.effects.trim(_signal(small.utterances[0].path), top_db=30, frame_length=512, hop_length=160)
    m = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=512, win_length=400, hop_length=160,
                             n_mels=40, window="hamming")
    frames = np.concatenate([m, librosa.feature.delta(m, width=9), librosa.feature.delta(m, order=2, width=9)]).T
    starts = [round(i * (len(frames) - 10) / 9) for i in range(10)]  # the spread windows
    expected = np.stack([np.r_[frames[s : s + 10].mean(axis=0), frames[s : s + 10].std(axis=0)] for s in starts])
    row = fs.utt_ids.tolist().index("a")
    np.testing.assert_allclose(fs.x[row].reshape(10, 78), expected, rtol=1e-4, atol=1e-3)


def test_mfcc39_random_views_move_each_window_by_at_most_half_the_spacing(small: Manifest, tmp_path: Path) -> None:
    fixed = prepare_features(small, "mfcc39", cache_dir=tmp_path)
    fs = prepare_features(small, "mfcc39", {"random_views": 3}, cache_dir=tmp_path)
    again = prepare_features(small, "mfcc39", {"random_views": 3}, cache_dir=tmp_path / "other")
    assert fs.x.shape == (3, 4 * 390)
    np.testing.assert_array_equal(fs.x, again.x)  # seeded by the utterance and the view
    views = fs.x.reshape(3, 4, 390)
    np.testing.assert_array_equal(views[:, 0], fixed.x)  # view 0 is the fixed reading
    row = fs.utt_ids.tolist().index("a")
    y, _ = librosa.effects.trim(_signal(small.utterances[0].path), top_db=30, frame_length=512, hop_length=160)
    m = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=512, win_length=400, hop_length=160,
                             n_mels=40, window="hamming")
    frames = np.concatenate([m, librosa.feature.delta(m, width=9), librosa.feature.delta(m, order=2, width=9)]).T
    candidates = np.stack([frames[s : s + 10].mean(axis=0) for s in range(len(frames) - 9)])  # every start
    spacing = (len(frames) - 10) / 9
    moved = 0
    for v in (1, 2, 3):
        windows = views[row, v].reshape(10, 39)
        starts = [int(np.argmin(np.abs(candidates - w).max(axis=1))) for w in windows]
        for w, start in zip(windows, starts):
            np.testing.assert_allclose(w, candidates[start], rtol=1e-4, atol=1e-3)  # 10 consecutive frames
        regular = [round(i * spacing) for i in range(10)]
        assert all(abs(a - b) <= spacing / 2 + 1 for a, b in zip(starts, regular))
        assert starts == sorted(starts)
        moved += sum(a != b for a, b in zip(starts, regular))
    assert moved > 15  # most windows of the 3 views are somewhere else than the fixed reading's
    assert not np.allclose(views[row, 1], views[row, 2])


@pytest.mark.parametrize("n_frames", [3, 10, 97, 305])
def test_random_tile_views_are_partitions_near_the_tenths(n_frames: int) -> None:
    from ser_data.features.extractors import random_view_bounds, window_bounds

    p = {"window_starts": "tile", "n_windows": 10, "window_frames": 10}
    regular = window_bounds(n_frames, p, "u")
    for seed in range(5):
        bounds = random_view_bounds(n_frames, p, np.random.default_rng(seed))
        assert len(bounds) == 10 and all(0 <= a < b <= n_frames for a, b in bounds)
        if n_frames >= 20:
            assert bounds[0][0] == 0 and bounds[-1][1] == n_frames
            assert all(b == a2 for (_, b), (a2, _) in zip(bounds, bounds[1:]))
            assert all(abs(a - r) <= n_frames / 20 + 1 for (a, _), (r, _) in zip(bounds, regular))


@pytest.mark.parametrize("n_frames", [3, 10, 97, 305, 1000])
def test_tile_bounds_put_every_frame_in_one_window(n_frames: int) -> None:
    from ser_data.features.extractors import window_bounds

    bounds = window_bounds(n_frames, {"window_starts": "tile", "n_windows": 10, "window_frames": 10}, "u")
    assert len(bounds) == 10 and all(0 <= a < b <= n_frames for a, b in bounds)
    if n_frames >= 10:  # a partition of the frames into near-equal consecutive parts
        assert bounds[0][0] == 0 and bounds[-1][1] == n_frames
        assert all(b == a2 for (_, b), (a2, _) in zip(bounds, bounds[1:]))
        lengths = [b - a for a, b in bounds]
        assert max(lengths) - min(lengths) <= 1
    else:  # shorter than the window count: every window still holds one real frame
        assert [b - a for a, b in bounds] == [1] * 10


def test_mfcc_stats_is_the_mean_and_std_of_mfcc_with_deltas(small: Manifest, tmp_path: Path) -> None:
    fs = prepare_features(small, "mfcc_stats", cache_dir=tmp_path)
    assert fs.x.shape == (3, 78)
    y, _ = librosa.effects.trim(_signal(small.utterances[0].path), top_db=30, frame_length=512, hop_length=160)
    m = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=512, win_length=400, hop_length=160,
                             n_mels=40, window="hamming")
    frames = np.concatenate([m, librosa.feature.delta(m, width=9), librosa.feature.delta(m, order=2, width=9)])
    expected = np.concatenate([frames.mean(axis=1), frames.std(axis=1)])
    np.testing.assert_allclose(fs.x[0], expected, rtol=1e-4, atol=1e-3)


def test_spec257_matches_stft(small: Manifest, tmp_path: Path) -> None:
    fs = prepare_features(small, "spec257", cache_dir=tmp_path)
    assert fs.is_variable and fs.x.shape[1] == 257 and len(fs.offsets) == 4
    y = _signal(small.utterances[1].path)  # the 48 kHz stereo one
    parts = librosa.effects.split(y, top_db=30, frame_length=512, hop_length=160)
    y = np.concatenate([y[a:b] for a, b in parts])
    spec = np.log1p(np.abs(librosa.stft(y, n_fft=512, hop_length=160, window="hamming")))
    spec = (spec - spec.mean()) / spec.std()
    np.testing.assert_allclose(fs.item(1), spec.T, atol=2e-4)
    # One frame by hand: numpy FFT of a periodic-Hamming-windowed, zero-padded-centre frame.
    padded = np.pad(y, 256)
    frame = padded[160 * 5 : 160 * 5 + 512] * np.hamming(513)[:-1]
    raw = np.log1p(np.abs(librosa.stft(y, n_fft=512, hop_length=160, window="hamming")))
    np.testing.assert_allclose(np.log1p(np.abs(np.fft.rfft(frame))), raw[:, 5], atol=1e-4)
    seq = fs.item(0)
    assert abs(seq.mean()) < 1e-4 and abs(seq.std() - 1) < 1e-3


def test_sequence_features(small: Manifest, tmp_path: Path) -> None:
    seg = prepare_features(small, "mfcc_seg", cache_dir=tmp_path)
    assert seg.x.shape[1] == 26
    y = _signal(small.utterances[0].path)
    m = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=26, n_fft=1024, win_length=640, hop_length=160,
                             n_mels=40, window="hamming")
    np.testing.assert_allclose(seg.item(0), m.T, rtol=1e-4, atol=1e-3)
    lm = prepare_features(small, "logmel26_fixed", cache_dir=tmp_path)
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, win_length=400, hop_length=160,
                                         window="hamming", n_mels=26, fmax=6500)
    np.testing.assert_allclose(lm.item(0), np.log(mel + 1e-10).T, rtol=1e-4, atol=1e-3)
    mf = prepare_features(small, "mfcc13_fixed", cache_dir=tmp_path)
    assert mf.x.shape[1] == 13 and len(mf.item(0)) == len(lm.item(0))


def test_cache_reuse_and_keys(small: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = build_mod._extract_one
    monkeypatch.setattr(build_mod, "_extract_one", lambda job: calls.append(job[1]) or real(job))
    seen: list[tuple[int, int]] = []
    first = prepare_features(small, "mfcc13_fixed", cache_dir=tmp_path, progress=lambda d, t: seen.append((d, t)))
    assert len(calls) == 4 and seen[0] == (0, 4) and seen[-1] == (4, 4)
    path = Path(first.cache_path)
    assert path.parent == tmp_path / "features" / "tiny" and path.name.startswith("mfcc13_fixed-")
    header = json.loads((path / "header.json").read_text())  # the summary a person can read
    assert header["counts"] == [2, 1] and header["utterances"] == 3 and len(header["problems"]) == 1
    second = prepare_features(small, "mfcc13_fixed", {"seconds": 3}, cache_dir=tmp_path)  # use-time param
    assert len(calls) == 4 and second.from_cache and second.cache_path == str(path)
    assert second.params["seconds"] == 3
    np.testing.assert_array_equal(first.x, second.x)
    assert second.problems == first.problems
    changed = prepare_features(small, "mfcc13_fixed", {"n_fft": 1024}, cache_dir=tmp_path)
    assert len(calls) == 8 and changed.cache_path != str(path)
    # Touching a file changes the key.
    st = os.stat(small.utterances[2].path)
    os.utime(small.utterances[2].path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    prepare_features(small, "mfcc13_fixed", cache_dir=tmp_path)
    assert len(calls) == 12


def test_featureset_roundtrip_and_rows(small: Manifest, tmp_path: Path) -> None:
    fs = prepare_features(small, "spec257", cache_dir=tmp_path)
    back = FeatureSet.load(fs.cache_path)
    np.testing.assert_array_equal(back.x, fs.x)
    np.testing.assert_array_equal(back.offsets, fs.offsets)
    assert back.labels == ("x", "y") and list(back.speakers) == ["s0", "s1", "s2"]
    assert list(back.meta["gender"]) == ["F", "F", "F"] and back.meta["improvised"].tolist() == [-1, -1, -1]
    assert list(back.manifest_index) == [0, 1, 2]
    assert back.rows_for(np.array([3, 2, 0])).tolist() == [2, 0]  # the silent one (3) is gone
    assert len(back.sequences()) == 3
    with pytest.raises(DataError, match="feature cache .*missing.*not found"):
        FeatureSet.load(tmp_path / "missing")


def test_crash_mid_write_leaves_no_cache(small: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ser_data.features import store

    real_stream = store.FolderWriter.stream

    def crash(self, name, dtype, shape, pieces):  # noqa: ANN001
        if name == "x":  # the final x.npy: write part of it, then die
            next(iter(pieces))
            (self.folder / "x.npy").write_bytes(b"\x93NUMPY half an array")
            raise KeyboardInterrupt("killed mid-write")
        return real_stream(self, name, dtype, shape, pieces)

    monkeypatch.setattr(store.FolderWriter, "stream", crash)
    with pytest.raises(KeyboardInterrupt):
        prepare_features(small, "mfcc13_fixed", cache_dir=tmp_path)
    folder = tmp_path / "features" / "tiny"
    # No cache folder and no temp folder: only the lock and the resumable chunks of the build.
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2 and names[0].endswith(".lock") and names[1].endswith(".partial")
    assert len(list((folder / names[1] / "chunks").glob("chunk-*.npz"))) == 4
    monkeypatch.undo()
    fs = prepare_features(small, "mfcc13_fixed", cache_dir=tmp_path)
    assert not fs.from_cache and (Path(fs.cache_path) / "header.json").is_file()
    assert sorted(p.name for p in folder.iterdir()) == sorted([Path(fs.cache_path).name, names[0]])


def test_damaged_cache_is_recomputed(small: Manifest, tmp_path: Path) -> None:
    fs = prepare_features(small, "logmel26_fixed", cache_dir=tmp_path)
    x = np.array(fs.x)
    (Path(fs.cache_path) / "x.npy").write_bytes(b"garbage")
    again = prepare_features(small, "logmel26_fixed", cache_dir=tmp_path)
    assert not again.from_cache and np.array_equal(again.x, x)


def test_default_cache_dir(small: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SER_ORCH_CACHE", str(tmp_path / "c"))
    fs = prepare_features(small, "logmel26_fixed")
    assert Path(fs.cache_path).is_relative_to(tmp_path / "c" / "features" / "tiny")


def test_bad_names_and_params(small: Manifest, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="allowed: .*mfcc39"):
        prepare_features(small, "wav2vec", cache_dir=tmp_path)
    with pytest.raises(DataError, match="unknown parameter.*n_mfc"):
        prepare_features(small, "mfcc39", {"n_mfc": 12}, cache_dir=tmp_path)
    with pytest.raises(DataError, match="allowed: mean, mean_std, first"):
        prepare_features(small, "mfcc39", {"window_reduce": "max"}, cache_dir=tmp_path)
    with pytest.raises(DataError, match="seconds"):
        prepare_features(small, "mfcc13_fixed", {"seconds": 16}, cache_dir=tmp_path)
    with pytest.raises(DataError, match="should be int"):
        prepare_features(small, "mfcc39", {"n_mfcc": "13"}, cache_dir=tmp_path)


def test_all_files_bad_raises(tmp_path: Path) -> None:
    p = write_silent(tmp_path / "s.wav")
    m = Manifest("tiny", str(tmp_path), [Utterance("s", str(p), "x", "s0", "F")], ("x",))
    with pytest.raises(DataError, match="s.wav: silent"):
        prepare_features(m, "mfcc39", cache_dir=tmp_path / "cache")


def test_registry_lists_the_paper_features() -> None:
    assert set(FEATURES) == {"mfcc39", "spec257", "mfcc_seg", "mfcc13_fixed", "logmel26_fixed", "mfcc_stats"}
    assert FEATURES["mfcc_seg"].defaults["n_mfcc"] == 26


def test_real_layout_silent_file_excluded(cremad_root: Path, tmp_path: Path) -> None:
    from ser_data.datasets import load_manifest

    m = load_manifest("cremad", cremad_root)
    fs = prepare_features(m, "mfcc13_fixed", cache_dir=tmp_path)
    assert len(fs) == len(m) - 1
    assert [(Path(p).name, "silent" in r) for p, r in fs.problems] == [("1003_MTI_SAD_XX.wav", True)]
    assert "1003_MTI_SAD_XX" not in set(fs.utt_ids)


@pytest.mark.slow
def test_process_pool_gives_the_same_result(small: Manifest, tmp_path: Path) -> None:
    serial = prepare_features(small, "mfcc39", cache_dir=tmp_path / "a", workers=1)
    pooled = prepare_features(small, "mfcc39", cache_dir=tmp_path / "b", workers=2)
    np.testing.assert_array_equal(serial.x, pooled.x)
    assert pooled.problems == serial.problems
