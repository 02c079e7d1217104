"""``redline scan --ray ADDRESS``: the scan's hashing as tasks on a Ray cluster (optional extra ``scale``).

Every node must have Redline installed and see the files at the same paths (the storage mounted where the
workers run): a task is one batch, read and hashed where it runs, and only the hashes come back to the
driver, which sends them to the server and records them exactly as a local scan does. Ray re-runs a task
whose worker died (``max_retries``); a batch that still fails is recorded as ``worker_died``. Memory: each
task reserves ``--worker-memory`` of the node's memory for scheduling (Ray does not start more tasks on a
node than fit), and the decode limits bound what one file may take. An address-space limit as in local
workers is not set: Ray's worker processes map their object store and would not start under one.
"""

from __future__ import annotations

import logging
from typing import Any

from redline.config import Settings
from redline.scan.hashing import Hashed, hash_batch
from redline.scan.sources import ScanItem

#: Re-runs of a task whose worker process died (a node lost, a worker killed).
_RETRIES = 2


class RayHashing:
    def __init__(self, address: str, settings: Settings, worker_memory: int) -> None:
        self._address = address
        self._settings = settings
        self._memory = worker_memory
        self.cpus = 1

    def __enter__(self) -> RayHashing:
        import ray

        ray.init(address=self._address, log_to_driver=False, logging_level=logging.WARNING)
        resources = ray.cluster_resources()  # type: ignore[no-untyped-call]  # Ray leaves it unannotated
        self.cpus = int(resources.get("CPU", 1))
        options: dict[str, Any] = {"num_cpus": 1, "max_retries": _RETRIES}
        if self._memory:
            options["memory"] = self._memory
        self._task = ray.remote(**options)(hash_batch)
        self._settings_ref = ray.put(self._settings)
        return self

    def __exit__(self, *_: object) -> None:
        import ray

        ray.shutdown()

    def submit(self, items: list[ScanItem]) -> Any:
        return self._task.remote(items, self._settings_ref)

    def next_done(self, refs: list[Any]) -> tuple[Any, list[Hashed] | None]:
        """The next finished task and its result (None when it failed even after its retries)."""
        import ray

        [ref], _ = ray.wait(refs, num_returns=1)
        try:
            hashed: list[Hashed] = ray.get(ref)
        except ray.exceptions.RayError:
            return ref, None
        return ref, hashed
