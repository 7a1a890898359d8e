"""Tiny corpora in the real layouts, written with soundfile into temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from audio_writers import write_empty, write_garbage, write_silent, write_wav


@pytest.fixture(scope="session")
def ravdess_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 actors x 8 emotions (+1 strong), 48 kHz; plus song, video, and bad files in Actor_02."""
    root = tmp_path_factory.mktemp("ravdess")
    for actor in (1, 2):
        d = root / f"Actor_{actor:02d}"
        for emo in range(1, 9):
            name = f"03-01-{emo:02d}-01-01-01-{actor:02d}.wav"
            write_wav(d / name, sr=48000, freq=150 + 40 * emo, seed=emo + 10 * actor,
                      channels=2 if (actor, emo) == (1, 3) else 1)
        write_wav(d / f"03-01-05-02-02-02-{actor:02d}.wav", sr=48000, freq=500, seed=99 + actor)
        write_wav(d / f"03-02-05-01-01-01-{actor:02d}.wav", sr=48000)  # song: skipped, counted
        (d / f"01-01-05-01-01-01-{actor:02d}.mp4").write_bytes(b"\x00video")  # video: skipped
    bad = root / "Actor_02"
    write_wav(bad / "notes.wav")  # bad name
    write_empty(bad / "03-01-04-02-02-01-02.wav")
    write_garbage(bad / "03-01-06-02-02-01-02.wav")
    write_wav(bad / "03-01-07-01-01-01-01.wav")  # actor 01 in Actor_02
    write_silent(bad / "03-01-03-02-02-02-02.wav")  # passes the header check, fails extraction
    (bad / ".DS_Store").write_bytes(b"junk")
    return root


@pytest.fixture(scope="session")
def cremad_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cremad")
    emos = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
    for actor in (1001, 1002, 1003):
        for i, emo in enumerate(emos):
            write_wav(root / "AudioWAV" / f"{actor}_DFA_{emo}_XX.wav", freq=200 + 30 * i, seed=actor + i)
    write_garbage(root / "AudioWAV" / "1003_MTI_NEU_XX.wav")  # the known unplayable file
    write_silent(root / "AudioWAV" / "1003_MTI_SAD_XX.wav")  # the known silent file
    write_wav(root / "AudioWAV" / "1003_ABC_SAD_XX.wav")  # unknown sentence
    write_wav(root / "AudioWAV" / "1003_DFA_SAD.wav")  # bad name
    (root / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
        "1002,21,Female,Caucasian,Not Hispanic\n"
    )
    return root


IEMOCAP_DIALOGS = {
    1: {
        "Ses01F_impro01": [("Ses01F_impro01_F000", "neu"), ("Ses01F_impro01_M000", "exc"),
                           ("Ses01F_impro01_F001", "hap"), ("Ses01F_impro01_M001", "fru")],
        "Ses01M_script01_1b": [("Ses01M_script01_1b_F000", "ang"), ("Ses01M_script01_1b_M000", "sad"),
                               ("Ses01M_script01_1b_M001", "xxx")],
    },
    2: {
        "Ses02F_impro05a": [("Ses02F_impro05a_F000", "sad"), ("Ses02F_impro05a_M000", "ang"),
                            ("Ses02F_impro05a_M001", "neu")],
        "Ses02M_script02_2": [("Ses02M_script02_2_F000", "hap"), ("Ses02M_script02_2_M000", "sur")],
    },
}


def _label_text(rows: list[tuple[str, str]]) -> str:
    out = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    for i, (utt, code) in enumerate(rows):
        out.append(f"[{i * 2.5:.4f} - {i * 2.5 + 1.7:.4f}]\t{utt}\t{code}\t[2.5000, {3 + i % 2}.0000, 3.5000]")
        out.append("C-E2:\tNeutral state;\t()")
        out.append("C-E3:\tAnger;\t()")
        out.append("A-E3:\tval 3; act 2; dom  2;\t()")
        out.append("")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="session")
def iemocap_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("iemocap")
    seed = 0
    for sess, dialogs in IEMOCAP_DIALOGS.items():
        s = root / f"Session{sess}"
        ev = s / "dialog" / "EmoEvaluation"
        ev.mkdir(parents=True)
        (ev / "Categorical").mkdir()  # real copies have subfolders here; they must be ignored
        for dialog, rows in dialogs.items():
            (ev / f"{dialog}.txt").write_text(_label_text(rows))
            for utt, _ in rows:
                seed += 1
                write_wav(s / "sentences" / "wav" / dialog / f"{utt}.wav", freq=180 + 20 * seed, seed=seed)
    # A labelled utterance whose audio is missing, and one whose audio is garbage.
    (root / "Session2" / "sentences" / "wav" / "Ses02M_script02_2" / "Ses02M_script02_2_M000.wav").unlink()
    write_garbage(root / "Session2" / "sentences" / "wav" / "Ses02F_impro05a" / "Ses02F_impro05a_M001.wav")
    return root


@pytest.fixture(scope="session")
def synth_tree(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Tiny corpora from the project's own generator in any layout, once per session and size."""
    made: dict[tuple, Path] = {}

    def make(layout: str, actors: int | None = None, utterances: int | None = None, seed: int = 3) -> Path:
        from ser_data.synth import generate_corpus

        key = (layout, actors, utterances, seed)
        if key not in made:
            folder = tmp_path_factory.mktemp(f"{layout}-a{actors}-u{utterances}-s{seed}") / layout
            made[key] = generate_corpus(layout, folder, actors=actors, utterances=utterances, seed=seed,
                                        sample_rate=16000, workers=2)
        return made[key]

    return make
