"""Generated audio: format, determinism, atomic output, the emotion rules, side files."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from ser_data.errors import DataError
from ser_data.paths import user_cache_dir
from ser_data.synth import default_corpus, generate_corpus, layout_files, synthesize
from ser_data.synth import generate as gen_mod


@pytest.fixture(scope="module")
def ravdess(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rav") / "ravdess"
    return generate_corpus("ravdess", out, actors=2, workers=2)


@pytest.fixture(scope="module")
def iemocap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("iem") / "iemocap"
    return generate_corpus("iemocap", out, actors=2, sample_rate=8000, workers=2)


def test_ravdess_tree(ravdess: Path) -> None:
    wavs = sorted(p.relative_to(ravdess).as_posix() for p in ravdess.rglob("*.wav"))
    assert wavs == sorted(s.relpath for s in layout_files("ravdess", 2))
    assert not [p for p in ravdess.rglob("*") if p.is_file() and p.suffix != ".wav"]
    assert not list(ravdess.glob("*/03-01-01-02-*.wav"))  # neutral: normal intensity only
    # nothing left behind next to the corpus
    assert [p.name for p in ravdess.parent.iterdir()] == ["ravdess"]


def test_wav_format_and_level(ravdess: Path) -> None:
    for p in sorted(ravdess.rglob("*.wav"))[::7]:
        info = sf.info(str(p))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 2.0 < info.duration < 7.0
        y, _ = sf.read(str(p))
        peak = np.max(np.abs(y))
        assert 0.01 < peak < 0.99, p.name  # audible, never clipped
        assert np.sqrt(np.mean(y**2)) > 1e-3


def test_worker_count_and_seed(ravdess: Path, tmp_path: Path) -> None:
    one = generate_corpus("ravdess", tmp_path / "one", actors=1, workers=1)
    for p in sorted((one / "Actor_01").glob("*.wav")):
        assert p.read_bytes() == (ravdess / "Actor_01" / p.name).read_bytes(), p.name
    spec = layout_files("ravdess", 1)[10]
    a, b = synthesize(spec, 0, 16000), synthesize(spec, 0, 16000)
    assert np.array_equal(a, b)
    c = synthesize(spec, 1, 16000)
    assert len(a) != len(c) or not np.array_equal(a, c)


def _f0_and_rms(path: Path) -> tuple[float, float]:
    y, sr = sf.read(str(path))
    f0 = librosa.yin(y, fmin=60, fmax=600, sr=sr, frame_length=1024)
    rms = librosa.feature.rms(y=y, frame_length=1024, hop_length=256)[0]
    n = min(len(f0), len(rms))
    voiced = rms[:n] > 0.3 * rms.max()  # loud frames are vowels: yin is reliable there
    return float(np.median(f0[:n][voiced])), float(np.sqrt(np.mean(y**2)))


@pytest.mark.parametrize("actor", ["01", "02"])
def test_emotion_rules_act(ravdess: Path, actor: str) -> None:
    def stats(emo: str) -> tuple[float, float]:
        files = sorted((ravdess / f"Actor_{actor}").glob(f"03-01-{emo}-02-*.wav"))
        vals = np.array([_f0_and_rms(p) for p in files])
        return float(np.mean(vals[:, 0])), float(np.mean(vals[:, 1]))

    sad_f0, sad_rms = stats("04")
    angry_f0, angry_rms = stats("05")
    happy_f0, _ = stats("03")
    assert angry_f0 > sad_f0 * 1.1
    assert happy_f0 > sad_f0 * 1.1
    assert angry_rms > sad_rms * 1.5


LINE = re.compile(r"^\[(\d+\.\d{4}) - (\d+\.\d{4})\]\t(Ses0\d[FM]_\S+_[FM]\d{3})\t"
                  r"(neu|hap|exc|sad|ang|fru|sur|fea|dis|oth|xxx)\t"
                  r"\[(\d\.\d{4}), (\d\.\d{4}), (\d\.\d{4})\]$")


def test_iemocap_label_files(iemocap: Path) -> None:
    wavs = {p.stem: p for p in iemocap.rglob("*.wav")}
    assert sf.info(str(next(iter(wavs.values())))).samplerate == 8000
    labelled = {}
    files = sorted((iemocap / "Session1" / "dialog" / "EmoEvaluation").glob("*.txt"))
    assert {f.stem for f in files} == {p.parent.name for p in wavs.values()}
    for f in files:
        lines = f.read_text().splitlines()
        assert lines[0] == "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
        for i, line in enumerate(lines[1:], start=1):
            if not line:
                continue
            if line.startswith("["):
                m = LINE.match(line)
                assert m, line
                assert lines[i - 1] == ""  # each turn follows a blank line
                start, end, utt = float(m.group(1)), float(m.group(2)), m.group(3)
                assert utt.startswith(f.stem + "_")
                assert all(1.0 <= float(m.group(k)) <= 5.0 for k in (5, 6, 7))
                assert abs((end - start) - sf.info(str(wavs[utt])).duration) < 2e-3
                labelled[utt] = m.group(4)
            else:
                assert re.match(r"^(C|A)-[EF]\d:\t", line), line
    assert set(labelled) == set(wavs)


def test_cremad_demographics(tmp_path: Path) -> None:
    root = generate_corpus("cremad", tmp_path / "c", actors=1, sample_rate=8000, workers=1)
    assert len(list((root / "AudioWAV").glob("1001_*.wav"))) == 82
    rows = list(csv.DictReader(open(root / "VideoDemographics.csv", newline="")))
    assert list(rows[0]) == ["ActorID", "Age", "Sex", "Race", "Ethnicity"]
    assert rows[0]["ActorID"] == "1001" and rows[0]["Sex"] in ("Male", "Female")


def test_refuses_non_empty_out_and_bad_args(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        generate_corpus("ravdess", tmp_path / "full", actors=1)
    with pytest.raises(DataError, match="layout"):
        generate_corpus("timit", tmp_path / "e")
    with pytest.raises(DataError, match="actors"):
        generate_corpus("ravdess", tmp_path / "e", actors=30)
    with pytest.raises(DataError, match="sample_rate"):
        generate_corpus("ravdess", tmp_path / "e", sample_rate=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_failure_leaves_nothing(tmp_path: Path) -> None:
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_corpus("cremad", tmp_path / "c", actors=1, sample_rate=8000, workers=1,
                        progress=progress)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "empty").mkdir()  # an existing empty folder is fine
    seen = []
    generate_corpus("ravdess", tmp_path / "empty", actors=1, sample_rate=8000, workers=1,
                    progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (60, 60)
    assert len(list((tmp_path / "empty" / "Actor_01").glob("*.wav"))) == 60


def test_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SER_ORCH_CACHE", str(tmp_path / "c"))
    assert user_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SER_ORCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert user_cache_dir() == tmp_path / "x" / "ser-orch"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert user_cache_dir() == tmp_path / "h" / ".cache" / "ser-orch"


def test_default_corpus_reuses_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SER_ORCH_CACHE", str(tmp_path))
    made = []

    def fake(layout: str, out: Path, *, seed: int = 0, **_: object) -> Path:
        made.append(out)
        out.mkdir(parents=True)
        (out / "Actor_01").mkdir()
        return out

    monkeypatch.setattr(gen_mod, "generate_corpus", fake)
    expect = tmp_path / "synth" / f"cremad-seed3-v{gen_mod.SYNTH_VERSION}"
    assert default_corpus("cremad", seed=3) == expect
    assert default_corpus("cremad", seed=3) == expect
    assert made == [expect]  # generated once, then reused

    def racing(layout: str, out: Path, **_: object) -> Path:
        out.mkdir(parents=True)  # another process finished first
        (out / "Actor_01").mkdir()
        raise DataError("output folder exists and is not empty")

    monkeypatch.setattr(gen_mod, "generate_corpus", racing)
    assert default_corpus("ravdess") == tmp_path / "synth" / f"ravdess-seed0-v{gen_mod.SYNTH_VERSION}"
    with pytest.raises(DataError, match="layout"):
        default_corpus("timit")
