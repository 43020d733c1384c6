"""Where the per-partition work of a step runs: here (the local engine), or on a Ray cluster.

A step cuts its input into partitions, and `Engine.map` runs one pure function on each and yields the
results in partition order. Workers receive only their partition (plus objects shared by reference) and
return compact results: signatures, vectors, findings. The workspace stays on the head, its single writer:
nothing a worker does touches SQLite, so the same partitions give the same results on either engine.

The local engine is the default and keeps each step's own tuned path (threads in compiled kernels, forked
check workers); `distributed` tells a step when to take the partitioned one instead.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from typing import Any, Callable, Iterable, Iterator

from .errors import MissingDependency, UsageError

ENGINES = ("local", "ray")
_CONNECT_SECONDS = 5
_WAIT_FOR_WORKERS = 30  # seconds a cluster without CPUs is given for a worker to join
_IN_FLIGHT_PER_CPU = 2  # partitions queued per worker CPU: enough to hide hand-offs, few enough to bound memory


class Engine:
    """The local engine: every partition in this process, in order."""

    name = "local"
    distributed = False
    workers = 1

    def map(self, fn: Callable[..., Any], parts: Iterable[Any], *shared: Any) -> Iterator[Any]:
        """fn(part, *shared) for each part, in order. `shared` objects go to every call (by reference on Ray)."""
        for part in parts:
            yield fn(part, *shared)

    def by_value(self, modules: Iterable[str]) -> None:
        """Ship these modules' code with the work (user files the workers cannot import); nothing to do here."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


class RayEngine(Engine):
    """Partitions as Ray tasks on the cluster at `address` (or RAY_ADDRESS), else on a Ray instance started
    here with this machine's cores. At most `_IN_FLIGHT_PER_CPU` partitions per CPU are queued at a time, so
    the head never holds more than that many partitions' inputs and results."""

    name = "ray"
    distributed = True

    def __init__(self, address: str | None = None):
        try:
            import ray
        except ImportError as exc:
            raise MissingDependency("ray", "ray", "--engine ray") from exc
        self._ray = ray
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        if not ray.is_initialized():
            _start(ray, self.address)
        elif self.address and self.address.removeprefix("ray://") != ray.get_runtime_context().gcs_address:
            raise UsageError(f"this process is already connected to the Ray cluster at "
                             f"{ray.get_runtime_context().gcs_address}, not {self.address}")
        self.workers = _cpus(ray, self.address)
        self._remote: dict[Callable, Any] = {}

    def map(self, fn: Callable[..., Any], parts: Iterable[Any], *shared: Any) -> Iterator[Any]:
        ray = self._ray
        task = self._remote.get(fn)
        if task is None:
            task = self._remote[fn] = ray.remote(fn)
        refs = [ray.put(s) for s in shared]  # once, not once per partition
        pending: deque = deque()
        window = self.workers * _IN_FLIGHT_PER_CPU
        for part in parts:
            pending.append(task.remote(part, *refs))
            if len(pending) >= window:
                yield ray.get(pending.popleft())
        while pending:
            yield ray.get(pending.popleft())

    def by_value(self, modules: Iterable[str]) -> None:
        import sys

        from ray import cloudpickle

        for name in modules:
            cloudpickle.register_pickle_by_value(sys.modules[name])

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address or "local instance", "cpus": self.workers}


def _start(ray: Any, address: str | None) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    try:
        if address:
            _reachable(address)
            ray.init(address=address, **quiet)
        else:
            # "local": a new instance of its own, never one another program left running here
            ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise UsageError(f"could not start or join {where}: {exc}. Start one with `ray start --head` and pass "
                         "its address (--ray-address or RAY_ADDRESS), or use --engine local") from exc


def _cpus(ray: Any, address: str | None) -> int:
    """The cluster's CPUs. A head started with `--num-cpus 0` has none until a worker machine joins: wait a
    little for one (workers are often started together with the command), then say what is missing."""
    deadline = time.monotonic() + _WAIT_FOR_WORKERS
    while (cpus := int(ray.cluster_resources().get("CPU", 0))) == 0:
        if time.monotonic() > deadline:
            raise UsageError(f"the Ray cluster at {address or 'this machine'} has no CPUs to run on: start a worker "
                             f"on another machine with `ray start --address {address or 'HEAD_IP:6379'}`, or give "
                             "the head CPUs (ray start --head --num-cpus N)")
        time.sleep(0.5)
    return cpus


def _reachable(address: str) -> None:
    """Fail in seconds on an address nothing answers at: Ray itself retries for minutes."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=_CONNECT_SECONDS).close()
    except (OSError, ValueError) as exc:
        raise ConnectionError(f"nothing answers at {address} ({exc})") from exc


def engine_for(name: str | None, address: str | None = None) -> Engine:
    """The engine a command asked for: `local` (default) or `ray`."""
    name = name or "local"
    if name not in ENGINES:
        raise UsageError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    if name == "local":
        if address:
            raise UsageError("--ray-address needs --engine ray")
        return Engine()
    return RayEngine(address)
