"""Any corpus through the real CLI: the four new synthetic layouts written and read back by
`data synth`/`data info`; a grid run on the EmoDB layout; a manifest CSV listing a RAVDESS corpus
gives the same results as the RAVDESS loader; an EmoBox fold folder runs with `predefined`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ser_data.datasets import load_manifest
from ser_orch.cli.app import app
from ser_orch.results.records import scan_records

runner = CliRunner()

GRID = """
name: {name}
task: kumar
dataset: {dataset}
features: {{name: mfcc39}}
protocol: {protocol}
model: {{family: fc, depth: 6, overrides: {{hidden: 16, embedding_dim: 16}}}}
train: {{pretrain_epochs: 2, triplet_epochs: 2, batch_size: 32}}
grid:
  model.family: [fc]
report: {{series: model.family}}
"""


def write_grid(tmp_path: Path, name: str, dataset: str, protocol: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(GRID.format(name=name, dataset=dataset, protocol=protocol))
    return path


def ablate(*args: str) -> object:
    result = runner.invoke(app, ["ablate", *args, "--cpus-per-trial", "0.5"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("layout, size, dataset", [
    ("emodb", ["--actors", "2"], "emodb"), ("tess", ["--utterances", "40"], "tess"),
    ("savee", ["--actors", "2"], "savee"), ("savee_flat", ["--actors", "2"], "savee"),
    ("msp-podcast", ["--utterances", "60"], "msppodcast"),
])
def test_synth_and_info_for_each_new_layout(tmp_path: Path, layout: str, size: list[str], dataset: str):
    out = tmp_path / layout
    result = runner.invoke(app, ["data", "synth", "--layout", layout, "--out", str(out), *size])
    assert result.exit_code == 0, result.output
    n_wav = len(list(out.rglob("*.wav")))
    assert f"wrote {n_wav} WAV files" in result.output and n_wav > 0
    result = runner.invoke(app, ["data", "info", "--dataset", dataset, "--data-root", str(out)])
    assert result.exit_code == 0, result.output
    manifest = load_manifest(dataset, out)
    assert f"{len(manifest)} utterances" in result.output
    total = next(line for line in result.output.splitlines() if line.startswith("│ total"))
    assert total.split("│")[-2].strip() == str(len(manifest))  # the table's grand total


def test_a_grid_runs_on_the_emodb_layout_and_mocanu_asks_for_a_polarity_map(tmp_path: Path, synth_corpus):
    root = synth_corpus("emodb", actors=2, seed=1)
    grid = write_grid(tmp_path, "emodb_tiny", "{name: ravdess}", "{name: kumar_70_30, folds: 2, params: {folds: 2}}")
    out = tmp_path / "run"
    ablate("--grid", str(grid), "--dataset", "emodb", "--data-root", str(root), "--out", str(out))
    records = scan_records(out).records
    assert len(records) == 2 and all(r.done for r in records)
    assert "boredom" in records[0].labels and records[0].config["dataset"]["name"] == "emodb"
    # The emotion-constrained triplet needs a valence polarity for boredom: a clear error, exit 2.
    mocanu = (Path(__file__).resolve().parents[2] / "grids" / "mocanu_strategies.yaml").read_text()
    bad = tmp_path / "mocanu_emodb.yaml"
    bad.write_text(mocanu.replace("dataset.name: [ravdess]", "dataset.name: [emodb]"))
    result = runner.invoke(app, ["grid", "validate", str(bad)])
    assert result.exit_code == 2 and "loss.polarity" in result.output and "emodb" in result.output


def test_a_manifest_of_a_ravdess_corpus_gives_the_ravdess_results(tmp_path: Path, tiny_corpus: Path):
    manifest = load_manifest("ravdess", tiny_corpus)
    listing = tiny_corpus.parent / "corpus.csv"  # paths are relative to the manifest's folder
    with listing.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "emotion", "speaker", "gender", "utt_id"])
        for u in manifest.utterances:
            writer.writerow([Path(u.path).relative_to(listing.parent).as_posix(), u.emotion, u.speaker, u.gender, u.utt_id])
    protocol = "{name: kumar_70_30, folds: 2, params: {folds: 2}}"
    classes = json.dumps(list(manifest.labels))
    by_loader = write_grid(tmp_path, "via_loader", f"{{name: ravdess, root: {tiny_corpus}}}", protocol)
    by_list = write_grid(tmp_path, "via_manifest", f"{{name: manifest, root: {listing}, classes: {classes}}}", protocol)
    ablate("--grid", str(by_loader), "--out", str(tmp_path / "a"))
    ablate("--grid", str(by_list), "--out", str(tmp_path / "b"))
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    assert [c["metrics"] for c in a["configs"]] == [c["metrics"] for c in b["configs"]]
    assert a["baseline"]["metrics"] == b["baseline"]["metrics"]
    assert [c["confusion"] for c in a["configs"]] == [c["confusion"] for c in b["configs"]]


def test_an_emobox_fold_folder_runs_with_the_predefined_protocol(tmp_path: Path, synth_corpus):
    root = synth_corpus("emodb", actors=2, seed=1)
    data = tmp_path / "EmoBox" / "data" / "emodb"
    data.mkdir(parents=True)
    codes = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happy", "N": "neutral", "T": "sad"}
    rows = {}
    for wav in sorted((root / "wav").glob("*.wav")):
        rows[wav.stem] = json.dumps({"key": f"emodb-{wav.stem}", "wav": str(wav), "emo": codes[wav.stem[5]],
                                     "length": 2.0, "sample_rate": 16000})
    speakers = sorted({stem[:2] for stem in rows})
    for k, speaker in enumerate(speakers, start=1):  # leave one speaker out, EmoBox's file names
        (data / f"fold_{k}").mkdir()
        for part, keep in (("train", lambda s: s[:2] != speaker), ("test", lambda s: s[:2] == speaker)):
            text = "".join(line + "\n" for stem, line in rows.items() if keep(stem))
            (data / f"fold_{k}" / f"emodb_{part}_fold_{k}.jsonl").write_text(text)
    grid = write_grid(tmp_path, "emobox_tiny", f"{{name: emobox, root: {data}}}", "{name: predefined, folds: 2}")
    out = tmp_path / "run"
    ablate("--grid", str(grid), "--out", str(out))
    records = {r.fold: r for r in scan_records(out).records}
    assert sorted(records) == [0, 1] and all(r.done for r in records.values())
    for k, speaker in enumerate(speakers):  # each fold tested exactly its speaker's utterances
        assert records[k].sizes["test"] == sum(1 for stem in rows if stem[:2] == speaker)
