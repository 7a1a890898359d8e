"""Signal primitives: glottal pulse train, time-varying formant filter, shaped noise.

Everything is vectorised numpy/scipy; the only Python loops run once per glottal period or once
per 10 ms filter block, never per sample.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

try:  # lfilter re-validates its arguments on every call (~30 us); we call it per 10 ms block
    from scipy.signal._sigtools import _linear_filter as _raw_lfilter
except ImportError:  # pragma: no cover - private name moved: use the public (slower) path
    _raw_lfilter = None


def _lfilter_block(b: np.ndarray, a: np.ndarray, x: np.ndarray, zi: np.ndarray) -> np.ndarray:
    if _raw_lfilter is not None:
        return _raw_lfilter(b, a, x, -1, zi)[0]
    return lfilter(b, a, x, zi=zi)[0]


def glottal_source(f0: np.ndarray, sr: int, *, open_quotient: float, jitter: float,
                   shimmer: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rosenberg (1971) glottal flow pulses along the F0 track, with jitter and shimmer.

    Returns (flow derivative, flow). The derivative is the usual excitation (it folds in lip
    radiation); the flow modulates aspiration noise so breathiness is pitch-synchronous.
    """
    n = len(f0)
    periods_est = sr / np.maximum(f0, 30.0)
    max_pulses = int(np.sum(1.0 / periods_est) * 1.5) + 16
    jit = rng.standard_normal(max_pulses) * jitter
    shim = np.exp(rng.standard_normal(max_pulses) * shimmer)
    starts = np.empty(max_pulses)
    lengths = np.empty(max_pulses)
    t, k = 0.0, 0
    # One iteration per glottal period (a few hundred per utterance).
    while t < n and k < max_pulses:
        period = max(2.0, periods_est[int(t)] * (1.0 + jit[k]))
        starts[k], lengths[k] = t, period
        t += period
        k += 1
    starts, lengths, amps = starts[:k], lengths[:k], shim[:k]
    idx = np.arange(n, dtype=np.float64)
    which = np.clip(np.searchsorted(starts, idx, side="right") - 1, 0, k - 1)
    phase = (idx - starts[which]) / lengths[which]
    tp = 0.62 * open_quotient  # opening phase
    tn = open_quotient - tp  # closing phase (abrupt closure -> strong excitation)
    flow = np.where(phase < tp, 0.5 * (1.0 - np.cos(np.pi * phase / tp)), 0.0)
    closing = (phase >= tp) & (phase < tp + tn)
    flow[closing] = np.cos(0.5 * np.pi * (phase[closing] - tp) / tn)
    flow *= amps[which]
    dflow = np.diff(flow, prepend=0.0)
    return dflow, flow


def tilt(x: np.ndarray, sr: int, gain_db: float, corner_hz: float) -> np.ndarray:
    """Shelving tilt: keep the band below `corner_hz`, scale what is above by `gain_db`."""
    p = float(np.exp(-2.0 * np.pi * min(corner_hz, 0.4 * sr) / sr))
    low = lfilter([1.0 - p], [1.0, -p], x)
    return low + 10.0 ** (gain_db / 20.0) * (x - low)


def formant_filter(x: np.ndarray, sr: int, freqs: np.ndarray, bws: np.ndarray,
                   block: int) -> np.ndarray:
    """Cascade of 2nd-order resonators whose frequencies change every `block` samples.

    freqs/bws: (n_blocks, K). The K resonators are multiplied into one all-pole filter per block,
    and each block's initial state is rebuilt from the last outputs with that block's
    coefficients, i.e. an exact time-varying direct-form filter (no clicks at block edges).
    """
    n = len(x)
    nb = freqs.shape[0]
    r = np.exp(-np.pi * bws / sr)
    c1 = -2.0 * r * np.cos(2.0 * np.pi * freqs / sr)
    c2 = r * r
    gain = np.prod(1.0 + c1 + c2, axis=1)  # unity gain at DC per resonator
    order = 2 * freqs.shape[1]
    a = np.zeros((nb, order + 1))
    a[:, 0] = 1.0
    for k in range(freqs.shape[1]):  # multiply in one resonator polynomial at a time
        nxt = a.copy()
        nxt[:, 1:] += c1[:, k : k + 1] * a[:, :-1]
        nxt[:, 2:] += c2[:, k : k + 1] * a[:, :-2]
        a = nxt
    # zi[j] = -sum_{i} a[j+1+i] * y[-1-i]  for i < order-j  (state of lfilter's transposed DF-II)
    j, i = np.meshgrid(np.arange(order), np.arange(order), indexing="ij")
    mask = (i < order - j).astype(np.float64)
    state_mats = -a[:, np.clip(j + 1 + i, 0, order)] * mask  # (nb, order, order)
    y = np.empty(n)
    past = np.zeros(order)  # past[i] = y[-1-i]
    for b in range(nb):
        s, e = b * block, min(n, (b + 1) * block)
        if s >= n:
            break
        zi = state_mats[b] @ past
        out = _lfilter_block(gain[b : b + 1], a[b], x[s:e], zi)
        y[s:e] = out
        m = min(order, e - s)
        past = np.concatenate([out[::-1][:m], past[: order - m]])
    return y


@lru_cache(maxsize=64)
def _band(sr: int, lo: float, hi: float) -> np.ndarray:
    hi = min(hi, 0.45 * sr)
    lo = min(lo, 0.5 * hi)
    return butter(2, [lo, hi], btype="bandpass", fs=sr, output="sos")


def band_noise(white: np.ndarray, sr: int, lo: float, hi: float) -> np.ndarray:
    """White noise band-passed to [lo, hi] Hz and scaled to unit RMS."""
    y = sosfilt(_band(sr, lo, hi), white)
    return y / (np.std(y) + 1e-12)


def colored_noise(white: np.ndarray, sr: int, color: float) -> np.ndarray:
    """Background noise from white (color 0) to strongly low-passed (color 1), unit RMS."""
    corner = 8000.0 * (1.0 - color) + 250.0 * color
    p = float(np.exp(-2.0 * np.pi * min(corner, 0.45 * sr) / sr))
    low = lfilter([1.0 - p], [1.0, -p], white)
    low /= np.std(low) + 1e-12
    y = (1.0 - color) * white + color * low
    return y / (np.std(y) + 1e-12)


def envelope(segments: list[tuple[float, float, float]], n: int, sr: int,
             ramp_s: float = 0.008) -> np.ndarray:
    """Piecewise-linear amplitude track from (t0, t1, level) segments, zero in the gaps.

    Adjacent segments cross-fade over `ramp_s` instead of jumping (a jump would click).
    """
    xs: list[float] = [0.0]
    ys: list[float] = [0.0]
    t_prev = 0.0
    for t0, t1, level in sorted(segments):
        if t0 > t_prev + 1e-9:  # silent gap
            r = min(ramp_s, (t0 - t_prev) / 2)
            xs += [t_prev + r, t0 - r]
            ys += [0.0, 0.0]
        r = min(ramp_s, (t1 - t0) / 2)
        xs += [t0 + r, t1 - r]
        ys += [level, level]
        t_prev = max(t_prev, t1)
    xs.append(t_prev + ramp_s)
    ys.append(0.0)
    t = np.arange(n) / sr
    return np.interp(t, np.maximum.accumulate(np.array(xs)), np.array(ys))
