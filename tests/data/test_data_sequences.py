from __future__ import annotations

import numpy as np
import pytest
import torch

from ser_data.errors import DataError
from ser_data.features import fixed_length, seconds_to_frames, segment
from ser_data.features.specaugment import spec_augment


def test_segment_liu() -> None:
    seg, hop_train, hop_test = seconds_to_frames(2.0), seconds_to_frames(1.0), seconds_to_frames(0.4)
    assert (seg, hop_train, hop_test) == (200, 100, 40)
    long = np.arange(450 * 2, dtype=np.float32).reshape(450, 2)
    short = np.ones((50, 2), np.float32)
    flat = np.concatenate([long, short])
    segs, owner = segment(flat, seg, hop_train, offsets=np.array([0, 450, 500]))
    assert segs.shape == (4, 200, 2) and owner.tolist() == [0, 0, 0, 1]
    np.testing.assert_array_equal(segs[1], long[100:300])
    assert np.all(segs[3, :50] == 1) and np.all(segs[3, 50:] == 0)  # short one zero-padded
    test_segs, test_owner = segment([long], seg, hop_test)
    assert len(test_segs) == 7 and set(test_owner.tolist()) == {0}
    padded, _ = segment(long, seg, hop_train, tail="pad")
    assert len(padded) == 4 and np.all(padded[-1, 150:] == 0)
    with pytest.raises(DataError):
        segment(long, 0, 10)


def test_fixed_length_lian() -> None:
    seq = np.arange(250 * 3, dtype=np.float32).reshape(250, 3)
    start = fixed_length(seq, 100)
    np.testing.assert_array_equal(start, seq[:100])
    padded = fixed_length(seq, 300)
    assert padded.shape == (300, 3) and np.all(padded[250:] == 0)
    crop = fixed_length(seq, 100, "random", np.random.default_rng(0))
    s = int(crop[0, 0]) // 3
    np.testing.assert_array_equal(crop, seq[s : s + 100])
    allseg = fixed_length(seq, 100, "all_segments")
    assert allseg.shape == (3, 100, 3) and np.all(allseg[2, 50:] == 0)
    np.testing.assert_array_equal(allseg.reshape(-1, 3)[:250], seq)
    with pytest.raises(DataError, match="allowed: start, random, all_segments"):
        fixed_length(seq, 10, "middle")  # type: ignore[arg-type]


def test_spec_augment_shapes_masks_determinism() -> None:
    x = np.random.default_rng(0).standard_normal((120, 26)).astype(np.float32) + 5.0
    a = spec_augment(x, seed=7)
    b = spec_augment(x, seed=7)
    c = spec_augment(x, seed=8)
    assert a.shape == x.shape and a.dtype == x.dtype
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(x, np.random.default_rng(0).standard_normal((120, 26)).astype(np.float32) + 5.0)
    # Masks only: the masked fraction is bounded by the mask widths.
    m = spec_augment(x, time_warp=0, freq_masks=2, freq_width=4, time_masks=2, time_width=20, seed=3)
    masked = m == 0
    assert 0 < masked.mean() <= (2 * 4 / 26) + (2 * 20 / 120)
    cols, rows = masked.all(axis=0), masked.all(axis=1)
    assert np.all(masked == (cols[None, :] | rows[:, None]))  # whole bands, nothing else
    # Warp only: no masks, values are interpolations within the original range.
    w = spec_augment(x, time_warp=10, freq_masks=0, time_masks=0, seed=4)
    assert w.min() >= x.min() - 1e-5 and w.max() <= x.max() + 1e-5
    np.testing.assert_allclose(w[0], x[0])
    np.testing.assert_allclose(w[-1], x[-1], atol=1e-5)


def test_spec_augment_torch_and_batch() -> None:
    x = np.random.default_rng(1).standard_normal((4, 80, 13)).astype(np.float32)
    a = spec_augment(x, seed=5)
    t = spec_augment(torch.from_numpy(x), seed=5)
    assert isinstance(t, torch.Tensor) and t.shape == (4, 80, 13) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), a, atol=1e-5)
    assert not np.array_equal(a[0] == 0, a[1] == 0)  # each item drawn on its own
    mean_fill = spec_augment(x[0], time_warp=0, mask_value="mean", seed=2)
    assert np.isclose(mean_fill, x[0].mean()).any()
    with pytest.raises(DataError):
        spec_augment(np.zeros(5), seed=0)
