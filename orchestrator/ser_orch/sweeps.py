"""Named sweeps: short names for the grid files that reproduce a paper's sweep figure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# name -> (grid file in grids/, what it reproduces). A sweep is listed once its grid file exists.
SWEEPS: dict[str, tuple[str, str]] = {
    "margins": ("mocanu_margins.yaml", "Mocanu et al. 2021 Fig. 11: alpha x beta of the emotion-constrained triplet loss"),
    "clusters": ("mocanu_clusters.yaml", "Mocanu et al. 2021 Fig. 10: GhostVLAD clusters K x ghost clusters G"),
    "lambda": ("lian_contrastive.yaml", "Lian et al. 2018 Table 3 / Figs. 3-4: contrastive loss weight lambda 0.6..1.0"),
    "alpha": ("liu_alpha.yaml", "Liu & Wang Fig. 3: weight alpha of the triplet loss in the joint loss"),
}


@dataclass(frozen=True)
class Sweep:
    name: str
    grid: Path
    description: str


def grids_dir() -> Path:
    """The repository's grids/ folder (editable install), else the copy shipped in the wheel."""
    repo = Path(__file__).resolve().parents[2] / "grids"
    return repo if repo.is_dir() else Path(__file__).resolve().parent / "_grids"


def available_sweeps(folder: Path | None = None) -> dict[str, Sweep]:
    folder = folder or grids_dir()
    return {
        name: Sweep(name, folder / file, description)
        for name, (file, description) in SWEEPS.items()
        if (folder / file).is_file()
    }
