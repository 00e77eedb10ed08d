"""Which executions of a job are *new* backup events: the watermark of an asset watcher, free of I/O.

A watcher fires once per execution that reached one of its statuses and ended after its
watermark. The watermark is the newest end time already reported plus the ids reported at exactly
that time (two executions may end in the same microsecond), so an execution is never reported
twice and none that ended before the watcher first started is reported at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_baas.models import parse_time
from airflow_provider_baas.status import KNOWN_RUNNING_STATUSES, Outcome, StatusPolicy

if TYPE_CHECKING:  # annotations only: DAG files import this module through the asset helper
    from airflow_provider_baas.models import Execution

log = logging.getLogger(__name__)

DEFAULT_EVENT_STATUSES = ("SUCCESSFUL",)
# The watermark of a job that has never run: every execution that ends is new.
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


def event_statuses(statuses: Iterable[str] | str) -> tuple[str, ...]:
    """The statuses a watcher reports, upper-cased and sorted (stable trigger kwargs).

    A status that means "still running" is refused: it would report a backup before it ended.

    :param statuses: one status word or several.
    """
    words = [statuses] if isinstance(statuses, str) else list(statuses)
    normalised = sorted({str(word).strip().upper() for word in words if str(word).strip()})
    if not normalised:
        raise ValueError("statuses must name at least one final execution status, e.g. ('SUCCESSFUL',)")
    if running := sorted(set(normalised) & KNOWN_RUNNING_STATUSES):
        raise ValueError(f"statuses {running} mean 'still running'; a watcher reports ended executions only")
    return tuple(normalised)


@dataclass(frozen=True)
class Watermark:
    """The newest end time already reported, and the ids reported at exactly that time."""

    end_time: datetime
    ids: frozenset[str] = frozenset()

    def is_new(self, execution: Execution) -> bool:
        """Whether an execution has ended after the watermark (or at its end time, but not reported).

        :param execution: an execution of the job.
        """
        end = execution.end_time
        if end is None:
            return False
        return end > self.end_time or (end == self.end_time and execution.execution_id not in self.ids)

    def after(self, execution: Execution) -> Watermark:
        """The watermark once ``execution`` (a new one, see ``is_new``) has been reported.

        :param execution: the execution just reported.
        """
        end = execution.end_time
        assert end is not None
        if end == self.end_time:
            return Watermark(end, self.ids | {execution.execution_id})
        return Watermark(end, frozenset({execution.execution_id})) if end > self.end_time else self

    def to_json(self) -> dict[str, Any]:
        """The JSON form kept in the asset state store (:meth:`from_json` reads it back)."""
        return {"end_time": self.end_time.isoformat(), "ids": sorted(self.ids)}

    @classmethod
    def from_json(cls, value: Any) -> Watermark | None:
        """The stored watermark, or ``None`` when nothing usable is stored.

        :param value: what the asset state store holds (any JSON value).
        """
        if not isinstance(value, dict):
            return None
        end = parse_time(value.get("end_time"))
        if end is None:
            return None
        ids = value.get("ids") or []
        return cls(end, frozenset(str(i) for i in ids if i is not None))


def initial_watermark(executions: Iterable[Execution]) -> Watermark:
    """The watermark of a watcher's first start: everything that has ended by then is old.

    Taken from BaaS's own end times rather than from the local clock, so a clock difference
    between Airflow and BaaS neither replays old backups nor hides new ones.

    :param executions: the job's executions at the watcher's first read.
    """
    ended = [e for e in executions if e.end_time is not None]
    if not ended:
        return Watermark(BEGINNING)
    newest = max(e.end_time for e in ended if e.end_time is not None)
    return Watermark(newest, frozenset(e.execution_id for e in ended if e.end_time == newest))


def new_events(
    executions: Iterable[Execution], statuses: Iterable[str], watermark: Watermark
) -> list[Execution]:
    """The executions to report, oldest end first: ended, in ``statuses``, newer than the watermark.

    :param executions: the job's executions.
    :param statuses: the final statuses to report (from :func:`event_statuses`).
    :param watermark: what has been reported already.
    """
    wanted = frozenset(statuses)
    fresh = [e for e in executions if (e.status or "").strip().upper() in wanted and watermark.is_new(e)]
    return sorted(fresh, key=lambda e: (e.end_time, e.execution_id))


def event_payload(execution: Execution, site_id: str | None, status_policy: StatusPolicy) -> dict[str, Any]:
    """The asset event's payload: the keys of the operator's asset events plus times and detail.

    ``outcome`` is the status policy's reading of the status ("success" or "failed"; an unknown
    word the watcher was told to report is "failed", never "success").

    :param execution: the ended execution.
    :param site_id: its site.
    :param status_policy: reads the status as success or failure.
    """
    outcome = status_policy.classify(execution.status)
    return {
        "execution_id": execution.execution_id,
        "job_id": execution.job_id,
        "site_id": site_id,
        "status": execution.status,
        "outcome": "success" if outcome is Outcome.SUCCESS else "failed",
        "start_time": execution.start_time.isoformat() if execution.start_time else None,
        "end_time": execution.end_time.isoformat() if execution.end_time else None,
        "backup_set_size": execution.backup_set_size,
        "status_detail": execution.status_detail,
        "run_type": execution.run_type,
        "backup_started": False,  # BaaS (or another task) started it, not a task of this DAG
    }
