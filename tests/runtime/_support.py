"""Helpers of the runtime tests: scenario, fake task context, log recorders, trigger drivers."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_baas.testing import BaasSimulator, JobSpec, Outcome, Scenario

# Extra jobs on the default site, next to the demo jobs of Scenario.default().
VERIFYING_JOB = 90  # QUEUED, RUNNING, then a long VERIFYING phase (a status word we do not know)
PARTIAL_JOB = 91  # ends with PARTIAL: an unknown *final* word, never to be taken for success
# Hook-level retries off: every failed request reaches the watch, whose budget is under test.
CONN_EXTRA: dict[str, Any] = {"max_attempts": 1, "read_timeout": 5, "connect_timeout": 2}


def runtime_scenario() -> Scenario:
    scenario = Scenario.default()
    scenario.sites[0].jobs.extend(
        [
            JobSpec(
                VERIFYING_JOB,
                "verified_backup",
                duration=7200,
                phases=[("QUEUED", 1), ("RUNNING", 1), ("VERIFYING", 8)],
                history=2,
            ),
            JobSpec(PARTIAL_JOB, "partial_backup", duration=60, outcomes=[Outcome("PARTIAL", "3 of 4 done")]),
        ]
    )
    return scenario


def set_conn(monkeypatch: pytest.MonkeyPatch, sim: BaasSimulator, conn_id: str, **changes: Any) -> str:
    """Another connection to ``sim`` (e.g. with a wrong token)."""
    name, value = sim.airflow_conn_env(conn_id, **CONN_EXTRA)
    conn = json.loads(value)
    conn.update(changes)
    monkeypatch.setenv(name, json.dumps(conn))
    return conn_id


# ---------------------------------------------------------------------------------------------
# Fake task context


class FakeTI:
    """Just what the operator and sensor read from ``context["ti"]``."""

    def __init__(self, try_number: int = 1, start_date: datetime | None = None) -> None:
        self.try_number = try_number
        self.start_date = start_date or datetime.now(UTC)
        # No dag_id/run_id: nothing may reach for the metadata DB (there is none in these tests).
        self.xcoms: list[tuple[str, Any]] = []

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        json.dumps(value)  # XCom values must be JSON-serialisable
        self.xcoms.append((key, value))

    def xcom(self, key: str) -> Any:
        values = [v for k, v in self.xcoms if k == key]
        assert len(values) == 1, f"xcom {key!r} pushed {len(values)} times: {self.xcoms}"
        return values[0]


class FakeStateStore:
    """Airflow 3.3's task state store accessor: ``get(key, default)``, ``set(key, value, retention=)``,
    ``delete(key)``. ``on_write`` (optional) is called before each write, e.g. to look at the server."""

    def __init__(self, data: dict[str, Any] | None = None, on_write: Callable[[], Any] | None = None) -> None:
        self.data: dict[str, Any] = json.loads(json.dumps(data or {}))
        self.writes: list[tuple[str, Any, Any]] = []  # (key, value, what on_write saw)
        self.deleted: list[str] = []
        self.on_write = on_write

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")
        json.dumps(value)
        seen = self.on_write() if self.on_write is not None else None
        self.data[key] = value
        self.writes.append((key, value, seen))

    def delete(self, key: str) -> None:
        self.data.pop(key, None)
        self.deleted.append(key)


def make_context(ti: FakeTI | None = None, store: FakeStateStore | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"ti": ti or FakeTI()}
    if store is not None:
        context["task_state_store"] = store
    return context


# ---------------------------------------------------------------------------------------------
# Logs


class RecordingLogger:
    """Stands in for an operator's/trigger's ``self.log``: keeps every formatted line."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def _record(self, level: str, msg: Any, *args: Any, **_: Any) -> None:
        text = str(msg) % args if args else str(msg)
        self.lines.append((level, text))

    def debug(self, msg: Any, *args: Any, **kw: Any) -> None:
        self._record("debug", msg, *args, **kw)

    def info(self, msg: Any, *args: Any, **kw: Any) -> None:
        self._record("info", msg, *args, **kw)

    def warning(self, msg: Any, *args: Any, **kw: Any) -> None:
        self._record("warning", msg, *args, **kw)

    def error(self, msg: Any, *args: Any, **kw: Any) -> None:
        self._record("error", msg, *args, **kw)

    def exception(self, msg: Any, *args: Any, **kw: Any) -> None:
        self._record("error", msg, *args, **kw)

    def critical(self, msg: Any, *args: Any, **kw: Any) -> None:
        self._record("critical", msg, *args, **kw)

    def text(self, level: str | None = None) -> str:
        return "\n".join(t for lvl, t in self.lines if level is None or lvl == level)


def record_log(obj: Any) -> RecordingLogger:
    """Replace ``obj.log`` (Airflow 3: ``_cached_logger``; 2.x: ``_log``) with a recorder."""
    recorder = RecordingLogger()
    for attr in ("_cached_logger", "_log"):
        object.__setattr__(obj, attr, recorder)
    assert obj.log is recorder
    return recorder


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# ---------------------------------------------------------------------------------------------
# Triggers


def rebuild_trigger(trigger: Any) -> Any:
    """What the triggerer does: import the classpath and instantiate it with the stored kwargs."""
    classpath, kwargs = trigger.serialize()
    stored = json.loads(json.dumps(kwargs))  # through the metadata DB: JSON only
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**stored)


async def run_trigger(trigger: Any) -> list[dict[str, Any]]:
    """Every event's payload of one full run (a correct trigger yields exactly one)."""
    return [event.payload async for event in trigger.run()]


async def single_event(trigger: Any) -> dict[str, Any]:
    events = await run_trigger(trigger)
    assert len(events) == 1, events
    json.dumps(events[0])
    return events[0]


def executes(sim: BaasSimulator) -> list[Any]:
    return sim.requests_matching("POST", r"/execute$")


def job_gets(sim: BaasSimulator, job_id: int = 34) -> list[Any]:
    return sim.requests_matching("GET", rf"/jobs/{job_id}$")
