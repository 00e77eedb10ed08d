"""The freshness rule of the pre-ETL gate, free of I/O: is the last good backup recent enough,
and if not, which backup to wait for?

``judge_freshness`` is the gate's whole choice (fresh / join / start / wait) as a pure function of
the job's history, the time, and the policy. ``FreshnessWatch`` is the deferred gate's wait for
someone else's backup, judged like every other wait (deadline, error budget).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from airflow_provider_baas.durations import format_duration
from airflow_provider_baas.models import Execution
from airflow_provider_baas.polling import FRESH, Decision, ExecutionWatch
from airflow_provider_baas.status import Outcome, StatusPolicy

# Server and worker clocks differ a little (the same allowance as the execute lookup's).
CLOCK_SKEW = timedelta(seconds=60)


class GateChoice(enum.StrEnum):
    """What the freshness gate does: pass (FRESH), wait for someone else's backup (STALE), wait
    for a running one (JOIN) or run one (START)."""

    FRESH = "fresh"  # ``execution`` is a good backup, recent enough: pass
    STALE = "stale"  # wait for someone else to make a fresh backup
    JOIN = "join"  # wait for ``execution``, a backup already running
    START = "start"  # run a backup


FRESH_CHOICE, STALE, JOIN, START = GateChoice.FRESH, GateChoice.STALE, GateChoice.JOIN, GateChoice.START


@dataclass(frozen=True)
class Verdict:
    """The gate's choice, why, and the execution it is about (FRESH and JOIN)."""

    kind: GateChoice
    reason: str
    execution: Execution | None = None


def is_running(execution: Execution, policy: StatusPolicy) -> bool:
    """Still running: no end time, and a status that is neither success nor failure.

    A queued execution has no start time yet and is running all the same; an execution with an
    end time has finished, whatever its status word says (an unknown final word is not running).

    :param execution: an execution.
    :param policy: which words are success and failure.
    """
    return execution.end_time is None and policy.classify(execution.status) is Outcome.RUNNING


def running_execution(
    executions: Iterable[Execution], policy: StatusPolicy, owned: str | None = None
) -> Execution | None:
    """The running execution to wait for: ``owned`` (the one this task instance started or joined
    earlier) if it still runs, else the newest (queued ones, without a start time, count as the
    newest).

    :param executions: the job's executions.
    :param policy: which words are success and failure.
    :param owned: the execution this task instance started or joined earlier, if any.
    """
    running = [e for e in executions if is_running(e, policy)]
    if not running:
        return None
    if (ours := next((e for e in running if e.execution_id == owned), None)) is not None:
        return ours
    return max(running, key=lambda e: e.start_time or datetime.max.replace(tzinfo=UTC))


def execution_to_join_after_conflict(
    executions: Iterable[Execution], policy: StatusPolicy, refused_at: datetime
) -> Execution | None:
    """After a 409 on execute: the running execution, else a successful one that ended since the
    refusal (it was running then). Never one that had finished before.

    :param executions: the job's executions, listed after the 409.
    :param policy: which words are success and failure.
    :param refused_at: when the execute request was refused.
    """
    if (running := running_execution(executions, policy)) is not None:
        return running
    since = refused_at - CLOCK_SKEW
    ended_since = [
        e
        for e in executions
        if e.end_time is not None and e.end_time >= since and policy.classify(e.status) is Outcome.SUCCESS
    ]
    return max(ended_since, key=lambda e: e.end_time) if ended_since else None  # type: ignore[arg-type,return-value]


def judge_freshness(
    executions: list[Execution],
    policy: StatusPolicy,
    max_age: float,
    now: datetime,
    trigger_if_stale: bool,
    owned: str | None = None,
) -> Verdict:
    """The gate's choice, from the job's executions, the time and the policy alone.

    :param owned: the execution this task instance started or joined in an earlier try (its
        memory): while it runs, that is the one to wait for.

    :param executions: the job's executions.
    :param policy: which words are success and failure.
    :param max_age: seconds: the oldest a good backup may be.
    :param now: the time of the judgement.
    :param trigger_if_stale: whether a stale job gets a backup (START) or a wait (STALE).
    """
    dated = sorted(
        (e for e in executions if e.start_time is not None),
        key=lambda e: e.start_time,  # type: ignore[arg-type,return-value]
        reverse=True,
    )
    good = [e for e in dated if e.end_time and policy.classify(e.status) is Outcome.SUCCESS]
    latest_good = max(good, key=lambda e: e.end_time) if good else None  # type: ignore[arg-type,return-value]
    newest = dated[0] if dated else None
    newest_failed = newest is not None and policy.classify(newest.status) is Outcome.FAILED
    age = (now - latest_good.end_time).total_seconds() if latest_good and latest_good.end_time else None
    if age is not None and age <= max_age and not (trigger_if_stale and newest_failed):
        return Verdict(
            FRESH_CHOICE,
            f"last successful backup ended {format_duration(age)} ago (max_age {format_duration(max_age)})",
            latest_good,
        )
    if newest_failed and newest is not None:
        reason = f"newest execution {newest.execution_id} ended {newest.status}"
    elif age is not None:
        reason = (
            f"last successful backup ended {format_duration(age)} ago, "
            f"more than max_age {format_duration(max_age)}"
        )
    else:
        reason = "no successful backup on record"
    if not trigger_if_stale:
        return Verdict(STALE, reason)
    running = running_execution(executions, policy, owned)
    if running is not None:
        return Verdict(
            JOIN, f"{reason}; joining backup {running.execution_id} already {running.status}", running
        )
    return Verdict(START, f"{reason}; starting a backup")


@dataclass
class FreshnessWatch(ExecutionWatch):
    """The wait for a fresh backup made by someone else, free of I/O: feed it each listing.

    Deadline, polling back-off and error budget are the execution wait's own (inherited).
    """

    max_age: float = 0.0

    @property
    def subject(self) -> str:
        """What the wait is for, in log lines and messages."""
        return f"a backup of BaaS job {self.job_id} younger than {format_duration(self.max_age)}"

    def observe_listing(self, executions: list[Execution]) -> Decision:
        """Judge one successful listing of the job's executions.

        :param executions: the job's executions.
        """
        self.consecutive_errors = 0
        self.last_good_poll = self.clock()
        verdict = judge_freshness(executions, self.status_policy, self.max_age, self._now(), False)
        if verdict.kind is FRESH_CHOICE and verdict.execution is not None:
            return Decision(FRESH, verdict.reason, execution=verdict.execution.to_dict())
        self.last_status = verdict.reason
        return self._wait_or_timeout(self.polling.poll_interval, None)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _timeout_message(self) -> str:
        age = format_duration(self.max_age)
        return f"No backup of BaaS job {self.job_id} younger than {age} appeared in time"
