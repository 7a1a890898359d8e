"""Grid files: expansion counts, overrides, quick profile and clear errors (no Ray involved)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ser_orch.experiment import compile_grid
from ser_orch.grid import GridError, expand, load_grid, parse_grid
from ser_orch.tasks import validate_trials

REPO = Path(__file__).resolve().parents[2]
KUMAR = REPO / "grids" / "kumar_arch.yaml"

MINIMAL = """
name: tiny
task: kumar
features: {name: mfcc39}
protocol: {name: kumar_70_30, folds: 3, params: {folds: 3}}
model: {family: fc, depth: 6}
train: {pretrain_epochs: 2, triplet_epochs: 2, batch_size: 32}
grid:
  model.family: [fc, cnn]
  model.depth: [6, 7]
seeds: [0, 1]
quick:
  folds: [0]
  train.pretrain_epochs: 1
"""


def test_kumar_grid_expands_to_600_trials_without_ray():
    grid, trials = compile_grid(KUMAR)
    assert len(trials) == 600
    assert len({t["config_id"] for t in trials}) == 60
    assert sorted({t["fold"] for t in trials}) == list(range(10))
    families = {t["model"]["family"] for t in trials}
    assert families == {"fc", "cnn", "rnn", "lstm", "gru", "resnet"}
    assert {t["model"]["depth"] for t in trials} == set(range(6, 16))
    assert len({t["trial_id"] for t in trials}) == 600


def test_compiling_a_grid_does_not_import_ray():
    # In a fresh interpreter: other tests in this process import Ray on purpose.
    code = (
        "import sys; from ser_orch.experiment import compile_grid; "
        f"g, t = compile_grid({str(KUMAR)!r}); assert len(t) == 600; "
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_quick_profile_keeps_every_configuration():
    grid = load_grid(KUMAR)
    quick = expand(grid, quick=True)
    full = expand(grid)
    assert {t["config_id"] for t in quick} == {t["config_id"] for t in full}
    assert sorted({t["fold"] for t in quick}) == [0, 1]
    assert quick[0]["train"]["pretrain_epochs"] == grid.spec.quick["train.pretrain_epochs"] == 20
    assert full[0]["train"]["pretrain_epochs"] == 1000


def test_axes_product_folds_and_seeds():
    grid = parse_grid(MINIMAL, "tiny.yaml")
    trials = expand(grid)
    assert len(trials) == 2 * 2 * 3 * 2
    t = next(t for t in trials if t["config_id"] == "family=cnn,depth=7" and t["fold"] == 2 and t["seed"] == 1)
    assert t["model"] == {"family": "cnn", "depth": 7}
    assert t["trial_id"] == "family=cnn,depth=7__fold=2__seed=1"
    assert t["axes"] == {"model.family": "cnn", "model.depth": 7}
    quick = expand(grid, quick=True)
    assert len(quick) == 4 * 1 * 2 and quick[0]["train"]["pretrain_epochs"] == 1


def test_overrides_replace_axis_and_set_keys():
    grid = parse_grid(MINIMAL, "tiny.yaml")
    trials = expand(grid, overrides={"model.family": "gru", "train.batch_size": 8, "dataset.name": "cremad"})
    assert {t["model"]["family"] for t in trials} == {"gru"}
    assert {t["train"]["batch_size"] for t in trials} == {8}
    assert {t["dataset"]["name"] for t in trials} == {"cremad"}


def test_folds_subset_and_out_of_range():
    grid = parse_grid(MINIMAL, "tiny.yaml")
    assert {t["fold"] for t in expand(grid, folds=[2, 0])} == {0, 2}
    with pytest.raises(GridError, match=r"fold\(s\) \[5\] out of range.*0\.\.2"):
        expand(grid, folds=[5])


@pytest.mark.parametrize(
    "patch, key_and_message",
    [
        ({"model.depth: [6, 7]": "model.depth: [6, 16]"}, r"tiny\.yaml: grid\.model\.depth: 'fc-16': depth must be in 6\.\.15"),
        ({"model.family: [fc, cnn]": "model.family: [fc, transformer]"}, r"grid\.model\.family: unknown model 'transformer-6'; families: cnn, fc, gru, lstm, resnet, rnn"),
        ({"features: {name: mfcc39}": "features: {name: mfcc99}"}, r"features\.name: unknown features 'mfcc99'; allowed: .*mfcc39"),
        ({"protocol: {name: kumar_70_30,": "protocol: {name: tenfold,"}, r"protocol\.name: unknown protocol 'tenfold'; allowed: .*kumar_70_30"),
        ({"task: kumar": "task: kumar\ndataset: {name: timit}"}, r"dataset\.name: unknown dataset 'timit'; allowed: .*ravdess"),
        ({"train: {": "loss: {margin: -0.1}\ntrain: {"}, r"loss\.margin: must be a number > 0, got -0\.1"),
        ({"batch_size: 32": "batch_size: 0"}, r"train\.batch_size: must be an integer >= 2, got 0"),
        ({"batch_size: 32": "batchsize: 32"}, r"train\.batchsize: unknown key; did you mean 'batch_size'\?; allowed: pretrain_epochs, triplet_epochs, batch_size"),
        ({"seeds: [0, 1]": "seeds: [0, 1]\nmodle: {}"}, r"tiny\.yaml: modle: unknown key; did you mean 'model'\?; allowed: name, description, task"),
        ({"task: kumar": "task: mocanu9"}, r"task: unknown task 'mocanu9'; allowed: kumar"),
        ({"protocol: {name: kumar_70_30, folds: 3,": "protocol: {name: kumar_70_30,"}, r"protocol\.folds: required key is missing"),
    ],
)
def test_bad_grids_name_file_key_and_allowed_values(patch, key_and_message):
    text = MINIMAL
    for old, new in patch.items():
        assert old in text
        text = text.replace(old, new)
    with pytest.raises(GridError, match=key_and_message):
        grid = parse_grid(text, "tiny.yaml")
        validate_trials(grid, expand(grid))


def test_malformed_yaml_names_the_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ngrid: [unclosed\n")
    with pytest.raises(GridError, match=r"bad\.yaml: malformed YAML: line \d+"):
        load_grid(bad)
    with pytest.raises(GridError, match=r"missing\.yaml: no such grid file"):
        load_grid(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(GridError, match="must be a YAML mapping"):
        load_grid(tmp_path / "list.yaml")
    # A key given twice (plain YAML would keep the last one without a word)
    (tmp_path / "dup.yaml").write_text(MINIMAL + "report:\n  x: model.width\n  metrics: [wa]\n  x: model.depth\n")
    with pytest.raises(GridError, match=r"dup\.yaml: malformed YAML: line \d+, column 3: duplicate key 'x'"):
        load_grid(tmp_path / "dup.yaml")


def test_report_keys_must_be_axes():
    text = MINIMAL + "report: {series: model.width}\n"
    grid = parse_grid(text, "tiny.yaml")
    with pytest.raises(GridError, match=r"report: 'model\.width' is not a grid axis; axes: model\.family, model\.depth"):
        validate_trials(grid, expand(grid))
