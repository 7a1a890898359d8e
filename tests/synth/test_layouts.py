"""File naming of the synthetic corpora, checked against the real layouts (no audio made)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from ser_data.errors import DataError
from ser_data.synth import layout_files

RAVDESS = re.compile(r"^Actor_(\d\d)/03-01-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)\.wav$")
CREMAD = re.compile(r"^AudioWAV/(10\d\d)_(IEO|TIE|IOM|IWW|TAI|MTI|IWL|ITH|DFA|ITS|TSI|WSI)_"
                    r"(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX)\.wav$")
IEMOCAP = re.compile(r"^Session([1-5])/sentences/wav/(Ses0([1-5])([FM])_(impro|script)[0-9a-z_]+)/"
                     r"(\2_([FM])\d{3})\.wav$")


def test_ravdess_full_names() -> None:
    specs = layout_files("ravdess")
    names = [s.relpath for s in specs]
    assert len(names) == len(set(names)) == 1440
    per_actor, per_emotion = Counter(), Counter()
    for s in specs:
        m = RAVDESS.match(s.relpath)
        assert m, s.relpath
        folder, emo, inten, _, _, actor = m.groups()
        assert folder == actor
        per_actor[actor] += 1
        per_emotion[emo] += 1
        assert not (emo == "01" and inten == "02"), "neutral has no strong intensity"
        assert s.gender == ("M" if int(actor) % 2 else "F")
    assert set(per_actor.values()) == {60} and len(per_actor) == 24
    assert per_emotion["01"] == 96
    assert all(per_emotion[f"0{e}"] == 192 for e in range(2, 9))


def test_cremad_names_and_counts() -> None:
    specs = layout_files("cremad", 3)
    assert len(specs) == 3 * 82
    for s in specs:
        m = CREMAD.match(s.relpath)
        assert m, s.relpath
        _, sent, emo, level = m.groups()
        if sent == "IEO" and emo != "NEU":
            assert level in ("LO", "MD", "HI")
        else:
            assert level == "XX"
    assert len(layout_files("cremad")) == 91 * 82


def test_iemocap_names_and_labels() -> None:
    specs = layout_files("iemocap")
    assert 1500 <= len(specs) <= 2500
    dialogs = set()
    for s in specs:
        m = IEMOCAP.match(s.relpath)
        assert m, s.relpath
        session, dialog, session2, _, _, utt, spk = m.groups()
        assert session == session2
        assert utt.split("_")[-1][0] == spk == s.gender
        dialogs.add(dialog)
    assert any("_impro05a" in d for d in dialogs) and any("_script01_1b" in d for d in dialogs)
    labels = Counter(s.label for s in specs)
    assert set(labels) <= {"neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth",
                           "xxx"}
    assert 0.2 < labels["xxx"] / len(specs) < 0.3
    four = [s for s in specs if "_impro" in s.relpath and s.label in ("neu", "hap", "exc", "ang",
                                                                        "sad")]
    assert len(four) >= 400
    assert {"F", "M"} == {s.gender for s in specs}
    for s in specs:
        assert s.vad is not None and all(1.0 <= v <= 5.0 for v in s.vad)
    mean_arousal = {lab: sum(s.vad[1] for s in specs if s.label == lab) / labels[lab]
                    for lab in ("sad", "ang", "neu")}
    assert mean_arousal["sad"] < mean_arousal["neu"] < mean_arousal["ang"]


def test_iemocap_actor_count_sets_sessions() -> None:
    sessions = {s.relpath.split("/")[0] for s in layout_files("iemocap", 4)}
    assert sessions == {"Session1", "Session2"}


def test_deterministic_listing() -> None:
    assert layout_files("iemocap", 2, seed=3) == layout_files("iemocap", 2, seed=3)


@pytest.mark.parametrize("layout, actors, words", [
    ("timit", None, ["layout", "ravdess", "cremad", "iemocap"]),
    ("ravdess", 25, ["actors", "1..24"]),
    ("ravdess", 0, ["actors", "1..24"]),
    ("cremad", 92, ["actors", "1..91"]),
    ("iemocap", 3, ["actors", "even", "2..10"]),
    ("iemocap", 12, ["actors", "even", "2..10"]),
])
def test_bad_arguments(layout: str, actors: int | None, words: list[str]) -> None:
    with pytest.raises(DataError) as err:
        layout_files(layout, actors)
    for w in words:
        assert w in str(err.value)
