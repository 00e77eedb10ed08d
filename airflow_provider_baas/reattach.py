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
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_baas._compat import variable_api
from airflow_provider_baas.errors import BaasExecuteOutcomeUnknown
from airflow_provider_baas.models import Execution, executions_a_request_may_have_started, parse_time

STATE_KEY = "baas_execution"
# Server and worker clocks differ a little; the POST's own send time is widened by this much.
CLOCK_SKEW = timedelta(seconds=60)
VARIABLE_PREFIX = "baas_provider.task_state"
# Airflow's variable.key column is 250 characters (PostgreSQL and MySQL enforce it, SQLite does not).
VARIABLE_KEY_LIMIT = 250


@dataclass(frozen=True)
class EarlierStart:
    """What an earlier try is known to have done: an execution id, or only a POST sent at a time.

    ``known_before``: executions listed just before that POST which a lookup by time could take
    for its result (queued, or started within the clock skew); None when nobody listed them.
    """

    execution_id: str | None
    not_before: datetime
    source: str
    run_type: str | None = None
    known_before: tuple[str, ...] | None = None


@dataclass(frozen=True)
class WatchMemory:
    """What a waiting sensor owns across reschedules and tries: its execution and first poke,
    the transient errors of the streak it is in (if any), the job's usual duration read once
    from its history (``expected``/``spread``, seconds; None: no history; ``history_read``: looked
    for), and the lookup its polls have learned (see ``polling.LookupChoice``)."""

    execution_id: str
    first_poke: float
    errors: int = 0
    errors_since: float | None = None
    expected: float | None = None
    spread: float = 0.0
    history_read: bool = False
    lookup: str = "summary"


class ExecutionLedger:
    """Remembers, per task instance, which execution of which job it started or waits for.

    One entry per task instance; forgotten when the task succeeds, so a cleared and re-run task
    never reuses what a finished lineage of tries remembered.
    """

    def __init__(self, context: Any, job_id: str, site_id: str) -> None:
        self._ti = context.get("ti") if hasattr(context, "get") else None
        task_store = _state_store(context)
        self._store = task_store if task_store is not None else _variable_store(self._ti)
        self._store_name = "task state store" if task_store is not None else "Airflow Variable"
        self._job_id, self._site_id = job_id, site_id

    def _memory(self) -> dict[str, Any] | None:
        if self._store is None:
            return None
        memory = self._store.get(STATE_KEY)
        if not isinstance(memory, dict):
            return None
        if str(memory.get("job_id")) != self._job_id or str(memory.get("site_id")) != self._site_id:
            return None
        return memory

    def earlier_start(self) -> EarlierStart | None:
        """What an earlier try of this task instance did, if anything can tell."""
        memory = self._memory()
        sent_at = parse_time(memory.get("sent_at")) if memory else None
        if memory is None or sent_at is None:
            return None
        known = memory.get("known_before")
        return EarlierStart(
            memory.get("execution_id"),
            sent_at - CLOCK_SKEW,
            self._store_name,
            memory.get("run_type"),
            tuple(str(i) for i in known) if isinstance(known, list) else None,
        )

    def remember_sending(
        self, sent_at: datetime, run_type: str | None = None, history: list[Execution] | None = None
    ) -> None:
        """Before the POST: when, which run type, and what a later lookup must not take for ours."""
        memory: dict[str, Any] = {"sent_at": sent_at.isoformat(), "run_type": run_type}
        if history is not None:
            memory["known_before"] = confusable_ids(history, sent_at - CLOCK_SKEW)
        self._write(memory)

    def remember_started(self, sent_at: datetime, execution_id: str) -> None:
        self._write({"sent_at": sent_at.isoformat(), "execution_id": execution_id})

    def watched(self) -> WatchMemory | None:
        """The execution this task instance waits for, remembered by an earlier poke or try."""
        memory = self._memory()
        watch = memory.get("watch") if memory else None
        if not isinstance(watch, dict) or not watch.get("execution_id"):
            return None
        try:
            return WatchMemory(
                str(watch["execution_id"]),
                float(watch["first_poke"]),
                int(watch.get("errors") or 0),
                None if watch.get("errors_since") is None else float(watch["errors_since"]),
                None if watch.get("expected") is None else float(watch["expected"]),
                float(watch.get("spread") or 0.0),
                bool(watch.get("history_read")),
                str(watch.get("lookup") or "summary"),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def remember_watch(self, memory: WatchMemory) -> None:
        self._write({"watch": asdict(memory)})

    def forget(self) -> None:
        """After success: a later clear-and-rerun of the task must start (or resolve) anew."""
        if self._store is not None and hasattr(self._store, "delete"):
            self._store.delete(STATE_KEY)

    def _write(self, value: dict[str, Any]) -> None:
        if self._store is not None:
            self._store.set(STATE_KEY, {"job_id": self._job_id, "site_id": self._site_id, **value})


def confusable_ids(history: list[Execution], since: datetime) -> list[str]:
    """Ids a lookup by time could take for a new execution: queued, or started since ``since``."""
    return [e.execution_id for e in history if e.start_time is None or e.start_time >= since]


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
    """The execution an earlier try started: by id when known, else the one started since then.

    Never one listed before that try's POST, nor one of another run type. A still-QUEUED execution
    (no start time yet) counts when it is known to be new: missing it would send a second POST.
    Two queued candidates cannot be told apart, so that case raises instead of guessing.
    """
    if earlier.execution_id is not None:
        return next((e for e in executions if e.execution_id == str(earlier.execution_id)), None)
    candidates = executions_a_request_may_have_started(
        executions, earlier.not_before, earlier.run_type, earlier.known_before or ()
    )
    queued = [e for e in candidates if e.start_time is None]
    if queued and earlier.known_before is None:
        # Without the list of what existed before that POST, a queued execution's age is unknown:
        # it may be another caller's. Neither adopt it nor start a second backup.
        ids = ", ".join(e.execution_id for e in queued)
        raise BaasExecuteOutcomeUnknown(
            str(queued[0].job_id),
            "?",
            f"queued executions {ids} could be an earlier try's or another caller's",
        )
    if len(candidates) > 1 and earlier.known_before is not None:
        # That POST started at most one of them; another caller started the others meanwhile.
        ids = ", ".join(e.execution_id for e in candidates)
        raise BaasExecuteOutcomeUnknown(
            str(candidates[0].job_id), "?", f"executions {ids} all started since an earlier try's request"
        )
    if queued:
        return queued[0]
    # Known only by the first try's start time: the newest is the last try's.
    return max(candidates, key=lambda e: e.start_time) if candidates else None  # type: ignore[arg-type,return-value]


def _state_store(context: Any) -> Any:
    try:
        return context.get("task_state_store") if hasattr(context, "get") else None
    except Exception:  # an accessor that cannot reach the API server behaves as "no store"
        return None
