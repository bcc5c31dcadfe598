"""The study on a Ray cluster: what the cluster can run, and a real cluster on this machine.

Two parts (the experiment's storage, local or an object store, is :mod:`study.storage`):

- What a cluster can ever run, for the launcher's resource check: the nodes alive now and the
  node types its autoscaler may still launch (``~/ray_bootstrap_config.yaml``, which the cluster
  launcher writes on the head node of a ``ray up`` cluster).
- :class:`LoopbackCluster`: a real multi-node Ray cluster on this machine's loopback addresses
  (head on 127.0.0.2, workers on 127.0.0.3, ...), each node a ``ray start --block`` process in
  its own session, so tests and benchmarks can stop or kill exactly the processes they started.
  ``python -m study.cluster`` starts one and prints how to submit a study to it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOOTSTRAP_CONFIG = Path("~/ray_bootstrap_config.yaml")
READY_LINE = "Ray runtime started."
GiB = 1 << 30


def alive_node_resources() -> list[dict[str, float]]:
    """Resources of every alive node of the connected Ray cluster (``ray.init`` done)."""
    import ray

    return [dict(n["Resources"]) for n in ray.nodes() if n.get("Alive")]


def launchable_node_resources(path: Path = BOOTSTRAP_CONFIG) -> list[dict[str, float]]:
    """Resources of the node types the autoscaler may launch (``max_workers > 0``), from the
    cluster launcher's config on the head node; empty when there is none (a local Ray, a
    cluster started by hand, or a config whose node types declare no resources)."""
    path = path.expanduser()
    if not path.is_file():
        return []
    import yaml

    config = yaml.safe_load(path.read_text()) or {}
    out = []
    for node_type in (config.get("available_node_types") or {}).values():
        if node_type.get("max_workers", 0) > 0 and node_type.get("resources"):
            out.append({k: float(v) for k, v in node_type["resources"].items()})
    return out


def fits(node: Mapping[str, float], cpus: float, gpus: float) -> bool:
    """Whether a node with these resources can hold one trial of ``cpus`` CPU and ``gpus`` GPU."""
    return node.get("CPU", 0.0) >= cpus and node.get("GPU", 0.0) >= gpus


def describe_nodes(nodes: Sequence[Mapping[str, float]]) -> str:
    """``2 nodes (1 CPU, 1 CPU + 1 GPU)``: a cluster's shape for messages."""
    shapes = []
    for n in nodes:
        shape = f"{n.get('CPU', 0):g} CPU"
        if n.get("GPU", 0):
            shape += f" + {n['GPU']:g} GPU"
        shapes.append(shape)
    return f"{len(nodes)} node{'s' * (len(nodes) != 1)} ({', '.join(shapes) or 'none'})"


def free_port(host: str) -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    return free_ports(host, 1)[0]


def free_ports(host: str, count: int) -> list[int]:
    """``count`` different TCP ports free on ``host`` right now. The sockets stay bound until
    every port is picked: one at a time, the OS may hand out a port it just released again
    (Ray then refuses to start a node whose GCS and agent got the same port)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def ray_executable() -> str:
    """The ``ray`` command of this Python environment."""
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else (shutil.which("ray") or "ray")


@dataclass
class LoopbackNode:
    ip: str
    process: subprocess.Popen
    log: Path


@dataclass
class LoopbackCluster:
    """A Ray cluster whose nodes are processes on loopback addresses of this machine.

    Every node is sized explicitly (``cpus``, ``memory`` and ``object_store`` per node) so several
    fit on a small machine, and every port a node listens on is picked free so the cluster does
    not clash with other Ray instances on the same machine. All nodes and every driver share one
    auth token (Ray's token authentication): pass :meth:`env` to the processes that join.
    ``node_loss_s`` shortens how long the head waits before it declares a silent node dead.
    """

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rayc_")))
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    memory: int = 2 * GiB
    object_store: int = 300 * 1000 * 1000
    node_loss_s: float = 3.0
    nodes: dict[str, LoopbackNode] = field(default_factory=dict)
    address: str = ""

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for a process that joins this cluster (a node, a driver, ``ray status``)."""
        env = dict(os.environ if base is None else base)
        env.pop("RAY_AUTH_TOKEN_PATH", None)
        env.pop("RAY_ADDRESS", None)
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token, RAY_USAGE_STATS_ENABLED="0")
        return env

    def start_head(self, ip: str = "127.0.0.2", cpus: int = 1, timeout: float = 60.0) -> str:
        """Start the head node; return its address ``IP:PORT``."""
        port, *agent_ports = free_ports(ip, 5)
        checks = max(1, round(self.node_loss_s))
        env = self.env()
        env.update(RAY_health_check_period_ms="1000", RAY_health_check_timeout_ms="1000",
                   RAY_health_check_failure_threshold=str(checks))
        self._start(ip, cpus, ["--head", "--port", str(port), "--include-dashboard", "false",
                               "--dashboard-port", str(free_port("127.0.0.1"))], env, timeout,
                    agent_ports)
        self.address = f"{ip}:{port}"
        return self.address

    def add_worker(self, ip: str, cpus: int = 1, timeout: float = 60.0) -> None:
        """Start a worker node on ``ip`` that joins the head."""
        if not self.address:
            raise RuntimeError("start the head node first")
        self._start(ip, cpus, ["--address", self.address], self.env(), timeout,
                    free_ports(ip, 4))

    def _start(self, ip: str, cpus: int, extra: list[str], env: dict[str, str],
               timeout: float, agent_ports: list[int]) -> None:
        if ip in self.nodes:
            raise RuntimeError(f"a node on {ip} is already running")
        listen, grpc, runtime_env, metrics = agent_ports
        log = self.root / f"node_{ip}_{len(list(self.root.glob('node_*')))}.log"
        cmd = [
            ray_executable(), "start", "--block", "--node-ip-address", ip,
            "--num-cpus", str(cpus), "--memory", str(self.memory),
            "--object-store-memory", str(self.object_store),
            "--temp-dir", str(self.root / ip), "--disable-usage-stats",
            "--dashboard-agent-listen-port", str(listen),
            "--dashboard-agent-grpc-port", str(grpc),
            "--runtime-env-agent-port", str(runtime_env),
            "--metrics-export-port", str(metrics),
            *extra,
        ]
        with log.open("w") as out:
            # A session of its own: the node's processes share one process group, so the node
            # can be killed as a whole, and nothing else with it.
            process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                       start_new_session=True, cwd=self.root)
        self.nodes[ip] = LoopbackNode(ip, process, log)
        self._wait_ready(self.nodes[ip], timeout)

    def _wait_ready(self, node: LoopbackNode, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_LINE in node.log.read_text(errors="replace"):
                return
            if node.process.poll() is not None:
                break
            time.sleep(0.2)
        text = node.log.read_text(errors="replace")[-3000:]
        self.kill_node(node.ip)
        raise RuntimeError(f"Ray node on {node.ip} did not start:\n{text}")

    def pids(self, ip: str) -> set[int]:
        """Process ids of the node on ``ip``: its ``ray start`` and every descendant."""
        return _process_tree(self.nodes[ip].process.pid)

    def kill_node(self, ip: str) -> None:
        """SIGKILL every process of the node on ``ip``, as when its machine is lost."""
        node = self.nodes.pop(ip, None)
        if node is None:
            return
        pids = _process_tree(node.process.pid)
        try:
            os.killpg(node.process.pid, signal.SIGKILL)  # its session's group: pgid == pid
        except ProcessLookupError:
            pass
        for pid in pids:  # descendants that left the group, if any
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        node.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while running(pids) and time.monotonic() < deadline:  # SIGKILL is not instantaneous
            time.sleep(0.05)

    def stop(self, keep_logs: bool = False) -> None:
        """Kill every node this cluster started (workers first), then remove its directory."""
        for ip in sorted(self.nodes, key=lambda ip: ip == self.address.split(":")[0]):
            self.kill_node(ip)
        if not keep_logs:
            shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> str:
        """The tail of every node's ``ray start`` output, for failure messages."""
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
                         for p in sorted(self.root.glob("node_*.log")))

    def __enter__(self) -> LoopbackCluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _process_tree(pid: int) -> set[int]:
    """``pid`` and all its descendants alive now (empty when ``pid`` is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return {pid, *(p.pid for p in root.children(recursive=True))}
    except psutil.NoSuchProcess:
        return set()


def running(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (a zombie, dead but not yet reaped, counts as gone)."""
    import psutil

    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def main(argv: Sequence[str] | None = None) -> int:
    """Start a loopback cluster, print how to use it, and keep it until Ctrl-C."""
    p = argparse.ArgumentParser(prog="python -m study.cluster", description=main.__doc__)
    p.add_argument("--workers", type=int, default=1, help="worker nodes (127.0.0.3, .4, ...)")
    p.add_argument("--cpus", type=int, default=1, help="CPUs per node")
    args = p.parse_args(argv)
    with LoopbackCluster() as cluster:
        address = cluster.start_head(cpus=args.cpus)
        for i in range(args.workers):
            cluster.add_worker(f"127.0.0.{3 + i}", cpus=args.cpus)
        print(f"Ray cluster with {1 + args.workers} nodes at {address}; in another shell:\n"
              f"  export RAY_AUTH_MODE=token RAY_AUTH_TOKEN={cluster.token}\n"
              f"  python -m study.launch smoke --address {address} --storage /tmp/runs\n"
              "Ctrl-C stops it.", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` stops it cleanly too
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
