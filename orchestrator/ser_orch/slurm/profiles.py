"""Cluster profiles: a small YAML file per cluster in the repository's `slurm/` folder.

A profile says where and how big a job is (partition, account, qos, nodes, GPUs/CPUs per node,
memory, time limit, extra sbatch options, setup lines). `load_profile` finds one by name or path;
`check_capacity` asks `sinfo` whether the partition can ever run it, before anything is submitted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import SlurmError

# orchestrator/ser_orch/slurm/profiles.py -> repository root
REPO_SLURM_DIR = Path(__file__).resolve().parents[3] / "slurm"


class SlurmProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "profile"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    nodes: int = Field(1, ge=1)
    gpus_per_node: int = Field(0, ge=0)
    cpus_per_node: int = Field(1, ge=1)
    mem_gb: float | None = Field(None, gt=0)
    time: str = "01:00:00"
    extra_sbatch: dict[str, Any] = Field(default_factory=dict)
    setup: list[str] = Field(default_factory=list)
    join_timeout_s: int = Field(120, ge=5)
    signal_delay_s: int = Field(90, ge=10)  # USR2 this long before the time limit: requeue
    object_store_mb: int | None = Field(None, ge=64)
    dashboard: bool = False

    @field_validator("time")
    @classmethod
    def _time_ok(cls, value: str) -> str:
        time_minutes(value)
        return value

    @property
    def timeout_min(self) -> int:
        return time_minutes(self.time)


def time_minutes(text: str | int) -> int:
    """Slurm time limits ("90", "01:30:00", "2-00:00:00", "45:00") as whole minutes (at least 1)."""
    s = str(text).strip()
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", s)
    if not m:
        raise ValueError(f"time limit '{text}': expected minutes, MM:SS, HH:MM:SS or D-HH:MM:SS")
    days, a, b, c = m.groups()
    if b is None:  # "90" or "1-12" (days-hours)
        minutes = int(a) * 60 if days else int(a)
    elif c is None:  # MM:SS, or D-HH:MM
        minutes = int(a) * 60 + int(b) if days else int(a) + int(b) / 60
    else:
        minutes = int(a) * 60 + int(b) + int(c) / 60
    minutes += int(days or 0) * 24 * 60
    return max(1, int(round(minutes)))


def profile_names(folder: Path = REPO_SLURM_DIR) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def find_profile(name_or_path: str) -> Path:
    """A path as given, else `<name>.yaml` in ./slurm or in the repository's slurm/ folder."""
    given = Path(name_or_path).expanduser()
    if given.suffix in (".yaml", ".yml") or "/" in name_or_path:
        if given.is_file():
            return given
        raise SlurmError(f"Slurm profile {given}: no such file")
    for folder in (Path("slurm"), REPO_SLURM_DIR):
        candidate = folder / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    known = ", ".join(profile_names()) or "none"
    raise SlurmError(f"unknown Slurm profile '{name_or_path}' (known: {known}; or give a path to a YAML file)")


def load_profile(name_or_path: str, **overrides: Any) -> SlurmProfile:
    """Read and validate a profile; command-line overrides (None = keep) are applied and validated too."""
    path = find_profile(name_or_path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SlurmError(f"Slurm profile {path}: unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise SlurmError(f"Slurm profile {path}: expected a mapping of settings")
    data.setdefault("name", path.stem)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SlurmProfile(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "profile"
        raise SlurmError(f"Slurm profile {path}: {key}: {first['msg']}") from None


def _run(cmd: list[str]) -> str:
    if shutil.which(cmd[0]) is None:
        raise SlurmError(f"'{cmd[0]}' not found: Slurm commands are needed to submit (is this a Slurm login node?)")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise SlurmError(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def _gpus_in_gres(gres: str) -> int:
    # "gpu:4", "gpu:a100:4(S:0-1)", "gpu:a100:4,shard:8" -> 4; "(null)" -> 0
    total = 0
    for item in gres.split(","):
        parts = re.sub(r"\(.*?\)", "", item).split(":")
        if parts[0] == "gpu" and len(parts) >= 2 and parts[-1].isdigit():
            total += int(parts[-1])
    return total


def check_capacity(profile: SlurmProfile) -> str:
    """The partition the job goes to; raises if it has fewer nodes, CPUs, GPUs or memory than asked."""
    out = _run(["sinfo", "-h", "-N", "-o", "%N|%P|%c|%G|%m"])
    nodes: dict[str, dict[str, Any]] = {}
    default = None
    partitions: set[str] = set()
    for line in out.splitlines():
        name, part, cpus, gres, mem = (line.split("|") + [""] * 5)[:5]
        is_default = part.endswith("*")
        part = part.rstrip("*")
        partitions.add(part)
        if is_default:
            default = part
        if part == (profile.partition or default):
            nodes[name] = {"cpus": int(cpus or 0), "gpus": _gpus_in_gres(gres), "mem_mb": int(re.sub(r"\D", "", mem) or 0)}
    partition = profile.partition or default
    if partition is None:
        raise SlurmError(f"profile {profile.name}: no partition given and the cluster has no default partition")
    if partition not in partitions:
        raise SlurmError(f"profile {profile.name}: partition '{partition}' does not exist (partitions: {', '.join(sorted(partitions))})")
    fit = [
        n for n, caps in nodes.items()
        if caps["cpus"] >= profile.cpus_per_node
        and caps["gpus"] >= profile.gpus_per_node
        and (profile.mem_gb is None or caps["mem_mb"] >= profile.mem_gb * 1024)
    ]
    if len(nodes) < profile.nodes:
        raise SlurmError(f"profile {profile.name}: asks for {profile.nodes} nodes but partition '{partition}' has {len(nodes)}")
    if len(fit) < profile.nodes:
        most_gpus = max((c["gpus"] for c in nodes.values()), default=0)
        most_cpus = max((c["cpus"] for c in nodes.values()), default=0)
        raise SlurmError(
            f"profile {profile.name}: asks for {profile.nodes} node(s) with {profile.gpus_per_node} GPU(s), "
            f"{profile.cpus_per_node} CPU(s)" + (f", {profile.mem_gb:g} GB" if profile.mem_gb else "")
            + f" each, but only {len(fit)} node(s) of partition '{partition}' have that "
            f"(at most {most_gpus} GPU(s) and {most_cpus} CPU(s) per node)"
        )
    return partition
