"""`ser-orch data synth|info|prepare` through the real CLI on files it writes itself."""

from __future__ import annotations

import re
from collections import Counter

from typer.testing import CliRunner

from ser_data.datasets import load_manifest
from ser_orch.cli.app import app

runner = CliRunner()


def test_synth_info_prepare_iemocap(tmp_path):
    root = tmp_path / "iemocap"
    result = runner.invoke(app, ["data", "synth", "--layout", "iemocap", "--out", str(root), "--actors", "2", "--seed", "1"])
    assert result.exit_code == 0, result.output
    n_wavs = len(list(root.rglob("*.wav")))
    assert f"wrote {n_wavs} WAV files" in result.output and n_wavs > 0

    result = runner.invoke(app, ["data", "info", "--dataset", "iemocap", "--data-root", str(root), "--label-set", "4class", "--improvised-only"])
    assert result.exit_code == 0, result.output
    manifest = load_manifest("iemocap", root, label_set="4class", improvised_only=True)
    counts = Counter(u.emotion for u in manifest.utterances)
    total_row = next(line for line in result.output.splitlines() if line.strip("│ ").startswith("total"))
    numbers = [int(n) for n in re.findall(r"\d+", total_row)]
    assert numbers == [counts[label] for label in manifest.labels] + [len(manifest.utterances)]

    first = runner.invoke(app, ["data", "prepare", "--dataset", "iemocap", "--data-root", str(root), "--features", "mfcc39"])
    assert first.exit_code == 0, first.output
    assert "computed and cached" in first.output
    second = runner.invoke(app, ["data", "prepare", "--dataset", "iemocap", "--data-root", str(root), "--features", "mfcc39"])
    assert second.exit_code == 0 and "reused the cache" in second.output


def test_data_errors_exit_2_with_one_clear_line(tmp_path):
    result = runner.invoke(app, ["data", "info", "--dataset", "ravdess", "--data-root", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "missing" in result.output and "does not exist" in result.output and "Traceback" not in result.output

    result = runner.invoke(app, ["data", "info", "--dataset", "emodbx", "--data-root", str(tmp_path)])
    assert result.exit_code == 2 and "emodbx" in result.output and "ravdess" in result.output
    result = runner.invoke(app, ["data", "info", "--dataset", "emodb", "--data-root", str(tmp_path)])
    assert result.exit_code == 2 and "expected a wav/ folder" in result.output
    result = runner.invoke(app, ["data", "info", "--dataset", "iemocap", "--option", "label_st=4class"])
    assert result.exit_code == 2 and "label_st" in result.output and "Traceback" not in result.output

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["data", "synth", "--layout", "ravdess", "--out", str(tmp_path / "full")])
    assert result.exit_code == 2 and "full" in result.output
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"

    result = runner.invoke(app, ["data", "prepare", "--dataset", "ravdess", "--data-root", str(tmp_path), "--features", "mfcc99"])
    assert result.exit_code == 2 and "Traceback" not in result.output
