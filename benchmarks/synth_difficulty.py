"""How hard is the synthetic RAVDESS-layout corpus? Speaker-independent MFCC + logistic regression.

    nice python benchmarks/synth_difficulty.py                # generate a fresh corpus (seed 0)
    nice python benchmarks/synth_difficulty.py --root DIR     # any RAVDESS-layout folder

Features: per utterance the means and standard deviations of 13 librosa MFCCs at 16 kHz (26
values). Classifier: StandardScaler + multinomial logistic regression, GroupKFold over actors
(4 folds), so no actor is in both train and test. Chance is 1/8 = 12.5 % (balanced) and the
majority class is 192/1440 = 13.3 %.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

NAME = re.compile(r"^03-01-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)\.wav$")
EMOTIONS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]


def features(path: str) -> np.ndarray:
    import librosa

    y, _ = librosa.load(path, sr=16000)
    m = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13)
    return np.concatenate([m.mean(axis=1), m.std(axis=1)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--root", type=Path, help="existing RAVDESS-layout corpus (default: generate)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--actors", type=int, default=24)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    tmp = None
    root = args.root
    if root is None:
        from ser_data.synth import generate_corpus

        tmp = tempfile.TemporaryDirectory(prefix="synth-difficulty-")
        t0 = time.perf_counter()
        root = generate_corpus("ravdess", Path(tmp.name) / "ravdess", seed=args.seed,
                               actors=args.actors, workers=args.workers)
        print(f"generated {root} in {time.perf_counter() - t0:.1f} s")

    files, y, groups = [], [], []
    for p in sorted(root.glob("Actor_*/*.wav")):
        m = NAME.match(p.name)
        if m:
            files.append(str(p))
            y.append(int(m.group(1)) - 1)
            groups.append(int(m.group(5)))
    if not files:
        sys.exit(f"no RAVDESS speech files under {root}")
    y, groups = np.array(y), np.array(groups)

    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        x = np.stack(list(pool.map(features, files, chunksize=16)))
    print(f"features for {len(files)} files in {time.perf_counter() - t0:.1f} s")

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pred = np.empty_like(y)
    fold_acc = []
    for train, test in GroupKFold(n_splits=4).split(x, y, groups):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
        clf.fit(x[train], y[train])
        pred[test] = clf.predict(x[test])
        fold_acc.append(accuracy_score(y[test], pred[test]))
    counts = np.bincount(y, minlength=8)
    print(f"files {len(y)}  actors {len(set(groups))}  speaker-independent GroupKFold(4)")
    print(f"accuracy           {accuracy_score(y, pred):.3f}  "
          f"(folds {' '.join(f'{a:.3f}' for a in fold_acc)})")
    print(f"balanced accuracy  {balanced_accuracy_score(y, pred):.3f}")
    print(f"chance             {1 / 8:.3f} (uniform), {counts.max() / counts.sum():.3f} (majority)")
    cm = confusion_matrix(y, pred, labels=range(8))
    print("confusion (rows = true):")
    print("           " + " ".join(f"{e[:5]:>5}" for e in EMOTIONS))
    for e, row in zip(EMOTIONS, cm):
        print(f"{e:>10} " + " ".join(f"{v:5d}" for v in row))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
