"""The freshness rule of the pre-ETL gate, free of I/O: is the last good backup recent enough?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from airflow_provider_baas.models import Execution
from airflow_provider_baas.status import Outcome, StatusPolicy

FRESH, STALE, JOIN, START = "fresh", "stale", "join", "start"


@dataclass(frozen=True)
class Verdict:
    """``FRESH`` (``execution`` is the good backup), ``STALE`` (wait for someone else),
    ``JOIN`` (wait for ``execution``, already running) or ``START`` (run a backup)."""

    kind: str
    reason: str
    execution: Execution | None = None


def judge_freshness(
    executions: list[Execution],
    policy: StatusPolicy,
    max_age: float,
    now: datetime,
    trigger_if_stale: bool,
) -> Verdict:
    started = [e for e in executions if e.start_time is not None]
    dated = sorted(started, key=lambda e: e.start_time, reverse=True)  # type: ignore[arg-type,return-value]
    good = [e for e in dated if e.end_time and policy.classify(e.status) is Outcome.SUCCESS]
    latest_good = max(good, key=lambda e: e.end_time) if good else None  # type: ignore[arg-type,return-value]
    newest = dated[0] if dated else None
    newest_failed = newest is not None and policy.classify(newest.status) is Outcome.FAILED
    age = (now - latest_good.end_time).total_seconds() if latest_good and latest_good.end_time else None
    if age is not None and age <= max_age and not (trigger_if_stale and newest_failed):
        return Verdict(
            FRESH, f"last successful backup ended {age:.0f}s ago (max_age {max_age:.0f}s)", latest_good
        )
    if newest_failed and newest is not None:
        reason = f"newest execution {newest.execution_id} ended {newest.status}"
    elif age is not None:
        reason = f"last successful backup ended {age:.0f}s ago, more than max_age {max_age:.0f}s"
    else:
        reason = "no successful backup on record"
    if not trigger_if_stale:
        return Verdict(STALE, reason)
    running = next((e for e in dated if policy.classify(e.status) is Outcome.RUNNING), None)
    if running is not None:
        return Verdict(JOIN, f"{reason}; joining backup {running.execution_id} already running", running)
    return Verdict(START, f"{reason}; starting a backup")
