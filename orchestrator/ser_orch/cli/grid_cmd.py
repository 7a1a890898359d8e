"""`ser-orch grid show|validate`: look at a grid without running anything (no Ray import)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..experiment import compile_grid
from ..grid import DEFAULT_MAX_TRIALS, count_configs, parse_fold_list
from ..packing import parse_pack, plan_packs
from . import run_options as opt
from .common import console, err_console, user_errors

app = typer.Typer(help="Inspect and validate grid files.", no_args_is_help=True)


@app.command("show")
@user_errors
def show(
    grid_file: Annotated[Path, typer.Argument(help="Grid YAML file, e.g. grids/kumar_arch.yaml.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the expanded trial configs as JSON.")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="Apply the grid's quick profile.")] = False,
    folds: Annotated[str | None, typer.Option(help="Fold subset, e.g. 0,1,2 or 0-4.")] = None,
    max_trials: opt.MaxTrials = DEFAULT_MAX_TRIALS,
    pack: opt.Pack = None,
    gpus_per_trial: opt.GpusPerTrial = None,
) -> None:
    """Print the trials a grid expands to, their counts, and how they would pack (--pack, and
    --gpus-per-trial > 0 for a GPU run)."""
    grid, trials = compile_grid(grid_file, quick=quick, folds=parse_fold_list(folds), max_trials=max_trials)
    n_configs = count_configs(trials)
    plan = plan_packs(trials, parse_pack(pack), on_gpu=bool(gpus_per_trial))
    if as_json:
        payload = {
            "grid": grid.name,
            "file": str(grid_file),
            "n_trials": len(trials),
            "n_configs": n_configs,
            "trials": trials,
            "packs": [[t["trial_id"] for t in p] for p in plan.packs],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    table = Table(title=f"{grid.name}: {n_configs} configurations x folds x seeds = {len(trials)} trials")
    axes = list(trials[0]["axes"]) if trials else []
    for name in ["#", "config", *axes, "folds", "seeds"]:
        table.add_column(name)
    per_config: dict[str, list[dict]] = {}
    for t in trials:
        per_config.setdefault(t["config_id"], []).append(t)
    for i, (config_id, group) in enumerate(per_config.items()):
        folds_txt = ",".join(str(f) for f in sorted({t["fold"] for t in group}))
        seeds_txt = ",".join(str(s) for s in sorted({t["seed"] for t in group}))
        table.add_row(str(i), config_id, *[str(group[0]["axes"][a]) for a in axes], folds_txt, seeds_txt)
    console.print(table)
    spec = grid.spec
    console.print(
        f"task [bold]{spec.task}[/], dataset [bold]{spec.dataset.name}[/] "
        f"({spec.dataset.root or 'built-in synthetic corpus'}), features [bold]{spec.features.name}[/], "
        f"protocol [bold]{spec.protocol.name}[/] ({spec.protocol.folds} folds)"
    )
    console.print(plan.summary)
    if plan.packed:
        packs = Table(title="packs (one Tune trial each)")
        for name in ("pack", "members", "configurations", "folds", "seeds"):
            packs.add_column(name)
        for i, members in enumerate(plan.packs):
            configs = sorted({t["config_id"] for t in members})
            packs.add_row(str(i), str(len(members)), ", ".join(configs),
                          ",".join(str(f) for f in sorted({t["fold"] for t in members})),
                          ",".join(str(x) for x in sorted({t["seed"] for t in members})))
        console.print(packs)


@app.command("validate")
def validate(
    grid_files: Annotated[list[Path], typer.Argument(help="One or more grid files.")],
    max_trials: opt.MaxTrials = DEFAULT_MAX_TRIALS,
) -> None:
    """Check grid files: structure, names (models, datasets, features, protocols) and value ranges."""
    bad = 0
    for path in grid_files:
        try:
            grid, trials = compile_grid(path, max_trials=max_trials)
            quick_grid, quick_trials = compile_grid(path, quick=True, max_trials=max_trials)
        except Exception as exc:  # noqa: BLE001 - every grid gets a verdict, the first error of each is shown
            from ser_data.errors import SerError

            if not isinstance(exc, SerError):
                raise
            bad += 1
            err_console.print(f"[red]invalid[/] {exc}", soft_wrap=True)
            continue
        counts = Counter(t["config_id"] for t in trials)
        console.print(
            f"[green]ok[/] {path}: {len(counts)} configurations, {len(trials)} trials "
            f"(quick: {len(quick_trials)} trials)"
        )
    if bad:
        raise typer.Exit(2)
