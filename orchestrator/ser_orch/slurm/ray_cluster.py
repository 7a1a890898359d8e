"""A private Ray cluster across the nodes of one Slurm job: one task per node.

Rank 0 starts the head, the others join it. Everything is per job so that two jobs sharing a node
never meet: explicit free ports (worker port ranges included), a short temp dir of its own, token
authentication with a token file readable by the user only, and at the end only this job's own
process trees are stopped (never `ray stop`, which kills every Ray of the user on the node).

Rendezvous happens through files in `<run>/slurm/ray/<job>-r<restart>/` on the shared filesystem:
`head.json` (address), `node-<rank>.json` (each node's state, with the reason when it failed),
`stop` (rank 0 is done; workers leave), `private/token` (mode 600 in a mode 700 folder).
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ser_data.atomic import atomic_write_text
from .errors import RayClusterError

NODE_RESOURCE_PREFIX = "ser_orch_node_"


def node_resource(node: str) -> str:
    """A custom Ray resource naming the Slurm node (several nodes can share one host and IP)."""
    return NODE_RESOURCE_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", node)


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that nobody listens on now (sockets held until all are chosen)."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("", 0))
            held.append(s)
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("", port))
            return True
        except OSError:
            return False


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port_range(size: int = 200, tries: int = 50) -> tuple[int, int]:
    """A random block of `size` free ports for Ray's workers (the default 10002-19999 is shared by every job).

    Taken outside the kernel's ephemeral range, where `free_ports` finds the single ports, so the two never overlap.
    """
    eph_low, eph_high = _ephemeral_range()
    low, high = (20000, eph_low) if eph_low - 20000 >= 4 * size else (eph_high + 1, 65535)
    for _ in range(tries):
        start = random.randrange(low, high - size)
        if all(_port_free(p) for p in range(start, start + size, 7)):  # a sample: cheap; a clash needs two jobs picking overlapping blocks
            return start, start + size - 1
    raise RayClusterError(f"no free block of {size} ports in {low}-{high} on {socket.gethostname()}")


def _remove_stale_temp_dirs(base: Path, job_id: str) -> None:
    """Temp dirs of this user's earlier jobs that were killed (requeue, scancel) before cleaning up."""
    live = set(job_id.split())
    try:
        out = subprocess.run(["squeue", "-h", "-u", str(os.getuid()), "-o", "%A"], capture_output=True, text=True, timeout=20)
        if out.returncode != 0:
            return
        live |= set(out.stdout.split())
    except (OSError, subprocess.SubprocessError):
        return
    for path in base.glob("sor-*r*n*"):
        m = re.fullmatch(r"sor-(\d+)r\d+n\d+", path.name)
        if m and m.group(1) not in live and path.stat().st_uid == os.getuid():
            shutil.rmtree(path, ignore_errors=True)


def short_temp_dir(job_tag: str, job_id: str | None = None) -> Path:
    """Ray puts Unix sockets under its temp dir; their paths must stay under 107 bytes."""
    base = Path(os.environ.get("TMPDIR") or "/tmp")
    if len(str(base)) > 40:
        base = Path("/tmp")
    if job_id is not None:
        _remove_stale_temp_dirs(base, job_id)
    path = base / f"sor-{job_tag}"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def node_ip(hostname: str) -> str:
    """The address Ray should advertise for a Slurm node (Ray ignores 127.0.0.1 on the head)."""
    try:
        ip = socket.gethostbyname(hostname)
    except OSError:
        ip = "127.0.0.1"
    if ip.startswith("127."):
        try:
            out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout.split()
            ip = out[0] if out else ip
        except (OSError, subprocess.SubprocessError):
            pass
    return ip


def _children(pid: int) -> list[int]:
    """Every descendant of `pid`, read from /proc (no psutil needed)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def stop_tree(proc: subprocess.Popen[Any] | None, grace_s: float = 10.0) -> None:
    """Stop one process and all its descendants: SIGTERM, then SIGKILL after `grace_s`."""
    if proc is None:
        return
    pids = [proc.pid, *_children(proc.pid)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + (grace_s if sig == signal.SIGTERM else 5)
        while time.monotonic() < deadline:
            proc.poll()
            if not any(_alive(p) for p in pids):
                return
            time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _ignore_usr2() -> None:
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)  # inherited through exec by all of Ray's processes


@dataclass
class ClusterFiles:
    """The rendezvous folder of one job attempt on the shared filesystem."""

    folder: Path

    @property
    def head(self) -> Path:
        return self.folder / "head.json"

    @property
    def stop(self) -> Path:
        return self.folder / "stop"

    @property
    def private(self) -> Path:
        return self.folder / "private"

    @property
    def token(self) -> Path:
        return self.private / "token"

    def node(self, rank: int) -> Path:
        return self.folder / f"node-{rank}.json"

    def write(self, path: Path, data: dict[str, Any]) -> None:
        atomic_write_text(path, json.dumps(data))

    def read(self, path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def make_token(self) -> Path:
        """A fresh token per job attempt, readable by the job's user only."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.private.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.private, 0o700)
        fd = os.open(self.token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        os.chmod(self.token, 0o600)
        return self.token


@dataclass
class RayNode:
    """One Ray node process tree started by this job on this Slurm node."""

    rank: int
    node: str
    files: ClusterFiles
    temp_dir: Path
    num_cpus: int
    num_gpus: int
    object_store_mb: int | None = None
    dashboard: bool = False
    proc: subprocess.Popen[Any] | None = None
    address: str = ""
    dashboard_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def ray_env(self) -> dict[str, str]:
        """Token auth for this node's Ray processes and the driver; the node name for trial records."""
        return {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(self.files.token),
            "SER_ORCH_NODE": self.node,  # inherited by Ray's workers: records say which Slurm node ran a trial
            "SER_ORCH_RAY_JOB": str(self.files.folder),  # lets tools find this job's processes
            "RAY_USAGE_STATS_ENABLED": "0",
        }

    def _command(self, head_address: str | None) -> list[str]:
        ports = free_ports(7)
        low, high = free_port_range()
        ray = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
        cmd = [
            ray, "start", "--block", "--disable-usage-stats",
            f"--node-ip-address={node_ip(self.node)}",
            f"--num-cpus={self.num_cpus}", f"--num-gpus={self.num_gpus}",
            f"--resources={json.dumps({node_resource(self.node): 1})}",
            f"--temp-dir={self.temp_dir}",
            f"--node-manager-port={ports[1]}", f"--object-manager-port={ports[2]}",
            f"--metrics-export-port={ports[3]}", f"--dashboard-agent-listen-port={ports[4]}",
            f"--dashboard-agent-grpc-port={ports[5]}", f"--runtime-env-agent-port={ports[6]}",
            f"--min-worker-port={low}", f"--max-worker-port={high}",
        ]
        if self.object_store_mb:
            cmd.append(f"--object-store-memory={self.object_store_mb * 1024 * 1024}")
        if head_address is None:
            self.address = f"{node_ip(self.node)}:{ports[0]}"
            cmd += ["--head", f"--port={ports[0]}"]
            if self.dashboard:
                (dash_port,) = free_ports(1)
                cmd += ["--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dash_port}"]
                self.dashboard_url = f"http://127.0.0.1:{dash_port} on {self.node}"
            else:
                cmd += ["--include-dashboard=false"]
        else:
            cmd += [f"--address={head_address}"]
        return cmd

    def start(self, head_address: str | None = None) -> None:
        self.temp_dir.mkdir(parents=True, exist_ok=True)  # stop() removes it; a restart needs it back
        self.env = self.ray_env()
        log = (self.temp_dir / "ray-start.log").open("ab")
        self.proc = subprocess.Popen(
            self._command(head_address),
            env={**os.environ, **self.env},
            stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
            # Slurm sends USR2 to every process of the step before preemption/time limit; it is
            # meant for submitit's handler in the task, and would kill Ray (default action) first.
            preexec_fn=_ignore_usr2,
        )

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = (self.temp_dir / "ray-start.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def wait_head_ready(self, timeout_s: float) -> None:
        """Until the head's GCS port accepts connections; fails with the node and Ray's own words."""
        host, port = self.address.rsplit(":", 1)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RayClusterError(f"{self.node}: Ray head exited with code {self.proc.returncode}: {self.log_tail()}")
            with socket.socket() as s:
                s.settimeout(1)
                if s.connect_ex((host, int(port))) == 0:
                    return
            time.sleep(0.5)
        raise RayClusterError(f"{self.node}: Ray head did not listen on {self.address} within {timeout_s:.0f} s: {self.log_tail()}")

    def stop(self) -> None:
        stop_tree(self.proc)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def wait_for_nodes(files: ClusterFiles, nodes: list[str], timeout_s: float) -> float:
    """On rank 0, after `ray.init`: until every Slurm node's Ray node is alive. Returns seconds waited.

    Fails with the missing nodes and what each reported (its own start error, or nothing at all).
    """
    import ray

    start = time.monotonic()
    wanted = {node_resource(n): (rank, n) for rank, n in enumerate(nodes)}
    while True:
        alive = {
            key for info in ray.nodes() if info.get("Alive") for key in info.get("Resources", {}) if key in wanted
        }
        missing = [wanted[k] for k in wanted if k not in alive]
        if not missing:
            return time.monotonic() - start
        failed = [(r, n, files.read(files.node(r))) for r, n in missing]
        hard = [(r, n, s) for r, n, s in failed if s and s.get("state") == "failed"]
        if hard or time.monotonic() - start > timeout_s:
            reasons = "; ".join(
                f"{n}: " + ((s or {}).get("reason") or ("did not join within %.0f s (no report from its task)" % timeout_s))
                for r, n, s in (hard or failed)
            )
            raise RayClusterError(f"the job's Ray cluster did not form: {reasons}")
        time.sleep(0.5)


MAX_JOIN_RESTARTS = 2


def run_worker(rank: int, node: RayNode, join_timeout_s: float) -> None:
    """Ranks > 0: wait for the head address, join with `ray start --block`, leave when rank 0 says stop."""
    files = node.files
    deadline = time.monotonic() + join_timeout_s
    head = None
    while head is None:
        if files.stop.exists():
            return
        head = files.read(files.head)
        if head is None:
            if time.monotonic() > deadline:
                files.write(files.node(rank), {"node": node.node, "state": "failed",
                                               "reason": f"no Ray head address after {join_timeout_s:.0f} s"})
                raise RayClusterError(f"{node.node}: no Ray head address in {files.head} after {join_timeout_s:.0f} s")
            time.sleep(0.5)
    node.start(head_address=head["address"])
    files.write(files.node(rank), {"node": node.node, "state": "started", "pid": node.proc.pid if node.proc else None})
    restarts = 0
    try:
        while not files.stop.exists():
            if node.proc is not None and node.proc.poll() is not None:
                reason = f"ray start exited with code {node.proc.returncode}: {node.log_tail()}"
                if files.stop.exists():
                    return
                # A raylet can time out while starting on a busy node (seen right after a requeue):
                # try again while the join timeout lasts, then fail the job naming the node.
                if restarts < MAX_JOIN_RESTARTS and time.monotonic() < deadline:
                    restarts += 1
                    files.write(files.node(rank), {"node": node.node, "state": "restarting", "reason": reason})
                    node.stop()
                    time.sleep(2)
                    node.start(head_address=head["address"])
                    continue
                files.write(files.node(rank), {"node": node.node, "state": "failed", "reason": reason})
                raise RayClusterError(f"{node.node}: {reason}")
            time.sleep(1)
    finally:
        node.stop()
