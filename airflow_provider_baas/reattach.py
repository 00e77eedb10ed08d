"""Task-scoped reattach: a retry (or a re-run after a worker crash) finds the execution an earlier
try of *this* task instance started, instead of starting a second, paid backup.

Where the memory comes from:
- Airflow 3.3: the task state store (``context["task_state_store"]``), which survives retries.
- Lines without a task state store (2.11, 3.0-3.2): one Airflow Variable per task instance, named
  ``baas_provider.task_state.<dag>.<task>.<run>.<map_index>`` (hashed past Airflow's 250-character
  key limit), deleted when the task succeeds.
Either way we write "about to execute" before the POST and the execution id right after it, so
even a lost execute answer is found again by its send time.
Every line has one of the two. The task-instance history is no substitute: it needs the metadata
DB, which Airflow 3 workers cannot reach.
Never an execution that started before this task instance's first try.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_baas._compat import variable_api
from airflow_provider_baas.errors import BaasExecuteOutcomeUnknown
from airflow_provider_baas.models import Execution, executions_started_since, parse_time

STATE_KEY = "baas_execution"
# Server and worker clocks differ a little; the POST's own send time is widened by this much.
CLOCK_SKEW = timedelta(seconds=60)
VARIABLE_PREFIX = "baas_provider.task_state"
# Airflow's variable.key column is 250 characters (PostgreSQL and MySQL enforce it, SQLite does not).
VARIABLE_KEY_LIMIT = 250


@dataclass(frozen=True)
class EarlierStart:
    """What an earlier try is known to have done: an execution id, or only a POST sent at a time."""

    execution_id: str | None
    not_before: datetime
    source: str


class ExecutionLedger:
    """Remembers, per task instance, which execution of which job it started."""

    def __init__(self, context: Any, job_id: str, site_id: str) -> None:
        self._ti = context.get("ti") if hasattr(context, "get") else None
        state_store = _state_store(context)
        self._store = state_store or _variable_store(self._ti)
        self._source = "the task state store" if state_store is not None else "a reattach Variable"
        self._job_id, self._site_id = job_id, site_id

    def _same_job(self, memory: Any) -> bool:
        return (
            isinstance(memory, dict)
            and str(memory.get("job_id")) == self._job_id
            and str(memory.get("site_id")) == self._site_id
        )

    def earlier_start(self) -> EarlierStart | None:
        """What an earlier try of this task instance did, if anything can tell."""
        if self._store is None:
            return None
        memory = self._store.get(STATE_KEY)
        if not self._same_job(memory):
            return None
        sent_at = parse_time(memory.get("sent_at"))
        if sent_at is None:
            return None
        return EarlierStart(memory.get("execution_id"), sent_at - CLOCK_SKEW, self._source)

    def remember_sending(self, sent_at: datetime) -> None:
        self._write({"job_id": self._job_id, "site_id": self._site_id, "sent_at": sent_at.isoformat()})

    def remember_started(self, sent_at: datetime, execution_id: str) -> None:
        self._write(
            {
                "job_id": self._job_id,
                "site_id": self._site_id,
                "sent_at": sent_at.isoformat(),
                "execution_id": execution_id,
            }
        )

    def forget(self) -> None:
        """After success: a later clear-and-rerun of the task must start a new backup."""
        if self._store is not None and hasattr(self._store, "delete"):
            self._store.delete(STATE_KEY)

    def _write(self, value: dict[str, Any]) -> None:
        if self._store is not None:
            self._store.set(STATE_KEY, value)


class VariableStateStore:
    """Stand-in for the task state store where the line has none (2.11, 3.0-3.2): one Airflow
    Variable per task instance, read and written through the Task SDK on 3.x workers (which cannot
    reach the metadata DB) and through the ORM on 2.x.
    """

    def __init__(self, ti: Any) -> None:
        self.name = variable_name(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1))

    def get(self, key: str) -> Any:
        # The default goes by position: the SDK calls it ``default``, 2.x ``default_var``.
        value = variable_api().get(self.name, None, deserialize_json=True)
        return value.get(key) if isinstance(value, dict) else None

    def set(self, key: str, value: Any) -> None:
        variable_api().set(
            self.name, {key: value}, serialize_json=True, description="airflow-provider-baas reattach"
        )

    def delete(self, key: str) -> None:
        variable_api().delete(self.name)


def variable_name(dag_id: str, task_id: str, run_id: str, map_index: Any) -> str:
    """The reattach Variable's key; one over Airflow's key limit keeps a readable prefix and ends in
    a hash of the whole name, so distinct task instances never share a key."""
    name = ".".join([VARIABLE_PREFIX, dag_id, task_id, run_id, str(map_index)])
    if len(name) <= VARIABLE_KEY_LIMIT:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()
    return f"{name[: VARIABLE_KEY_LIMIT - len(digest) - 1]}.{digest}"


def _variable_store(ti: Any) -> VariableStateStore | None:
    if ti is None or not all(hasattr(ti, a) for a in ("dag_id", "task_id", "run_id")):
        return None
    return VariableStateStore(ti)


def pick_earlier_execution(earlier: EarlierStart, executions: list[Execution]) -> Execution | None:
    """The execution an earlier try started: by id when known, else the newest started since then.

    A still-QUEUED execution (no start time yet) counts too: missing it would send a second POST.
    Two queued candidates cannot be told apart, so that case raises instead of guessing.
    """
    if earlier.execution_id is not None:
        return next((e for e in executions if e.execution_id == str(earlier.execution_id)), None)
    candidates = executions_started_since(executions, earlier.not_before)
    queued = [e for e in candidates if e.start_time is None]
    if len(queued) > 1:
        ids = ", ".join(e.execution_id for e in queued)
        raise BaasExecuteOutcomeUnknown(
            str(queued[0].job_id), "?", f"several queued executions could be an earlier try's: {ids}"
        )
    if queued:
        return queued[0]
    return max(candidates, key=lambda e: e.start_time) if candidates else None  # type: ignore[arg-type,return-value]


def _state_store(context: Any) -> Any:
    try:
        return context.get("task_state_store") if hasattr(context, "get") else None
    except Exception:  # an accessor that cannot reach the API server behaves as "no store"
        return None
