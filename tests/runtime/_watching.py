"""Running asset-watcher triggers in tests: an in-memory asset state store, a background runner."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_baas.testing import BaasSimulator
from airflow_provider_baas.triggers.events import BaasBackupEventTrigger

from ._support import job_gets


class MemoryStateStore:
    """One asset's state store as Airflow 3.3's triggerer injects it (``aget``/``aset``), in memory."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.values.get(key, default)))  # JSON in the metadata DB

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.loads(json.dumps(value))
        self.writes += 1

    def only(self) -> dict[str, Any]:
        """The one watermark stored (one watcher wrote to this asset)."""
        (value,) = self.values.values()
        return value


class Watching:
    """Runs a watcher in the background and records the payloads it yields."""

    def __init__(self, trigger: BaasBackupEventTrigger) -> None:
        self.trigger = trigger
        self.events: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watching:
        self.task = asyncio.get_running_loop().create_task(self._consume())
        return self

    async def _consume(self) -> None:
        async for event in self.trigger.run():
            json.dumps(event.payload)
            self.events.append(event.payload)

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.task is not None
            if self.task.done():
                raise AssertionError(f"the watcher ended: {self.task.exception()!r}")
            assert time.monotonic() < deadline, f"timed out; events so far: {self.events}"
            await asyncio.sleep(0.02)

    async def polls(self, sim: BaasSimulator, count: int, job_id: int = 34) -> None:
        """Wait until the job has been read ``count`` more times."""
        start = len(job_gets(sim, job_id))
        await self.until(lambda: len(job_gets(sim, job_id)) >= start + count)

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.task is not None
        assert not self.task.done(), "a watcher must never end on its own"
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
