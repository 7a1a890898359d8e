"""Imports only go downward (docs/design.md "Layers"), checked by reading every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"ser_orch": REPO / "orchestrator", "ser_models": REPO / "models", "ser_data": REPO / "data"}

# ser_orch's parts, lowest first: a module may import its own part and parts below it only.
LAYERS = {
    "grid": 0, "console": 0, "sweeps": 0, "faults": 0,
    "rundir": 1,
    "results": 2, "inputs": 2, "pretrain": 2, "runlock": 2,
    "tasks": 3, "baseline": 3,
    "trial": 4, "packing": 4,
    "runner": 5, "report": 5,
    "experiment": 6,
    "slurm": 7,
    "api": 8,
    "cli": 9,
}
RAY_ALLOWED = ("ser_orch.runner", "ser_orch.slurm", "ser_orch.pretrain")


def _modules() -> list[tuple[str, Path]]:
    out = []
    for package, root in ROOTS.items():
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out.append((".".join(parts), path))
    return out


def imported(name: str, path: Path) -> list[str]:
    """Absolute names of every module imported anywhere in the file (function-level included)."""
    is_package = path.name == "__init__.py"
    package = name.split(".") if is_package else name.split(".")[:-1]
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.append(target)
            # `from . import x` / `from .pkg import sub` may name submodules
            names += [f"{target}.{alias.name}" for alias in node.names]
    return names


MODULES = _modules()


def test_the_rules_see_every_module():
    names = {n for n, _ in MODULES}
    assert {"ser_orch.cli.app", "ser_orch.experiment", "ser_orch.tasks.mocanu", "ser_models.training.liu"} <= names
    for name in names:
        if name.startswith("ser_orch."):
            assert name.split(".")[1] in LAYERS, f"{name}: give its part a layer in this test and docs/design.md"


@pytest.mark.parametrize("name, path", MODULES, ids=[n for n, _ in MODULES])
def test_imports_go_downward(name: str, path: Path):
    targets = imported(name, path)
    top = name.split(".")[0]
    if top == "ser_data":
        assert not [t for t in targets if t.split(".")[0] in ("ser_orch", "ser_models", "ray")], targets
        return
    if top == "ser_models":
        assert not [t for t in targets if t.split(".")[0] in ("ser_orch", "ray")], targets
        return
    if name == "ser_orch":
        return
    part = name.split(".")[1]
    for target in targets:
        if target.split(".")[0] == "ray":
            assert name.startswith(RAY_ALLOWED), f"{name} imports {target}: only the runner, the Slurm launcher and pre-training import Ray"
        if not target.startswith("ser_orch.") or target.split(".")[1] not in LAYERS:
            continue
        other = target.split(".")[1]
        if other == part:
            continue
        assert LAYERS[other] < LAYERS[part], f"{name} (layer {LAYERS[part]}) imports {target} (layer {LAYERS[other]}): imports go downward"
    if part == "tasks":
        assert not [t for t in targets if t.startswith(("ser_orch.runner", "ser_orch.experiment"))]


def test_the_rule_would_catch_an_upward_import(tmp_path):
    # A stand-in module of the tasks layer that imports the runner: the reader must see it.
    fake = tmp_path / "bad.py"
    fake.write_text("def f():\n    from ..runner.trainable import trainable\n    import ray\n")
    assert "ser_orch.runner.trainable" in imported("ser_orch.tasks.bad", fake)
    assert "ray" in imported("ser_orch.tasks.bad", fake)
