"""The triggers: wait for a BaaS execution, or for a fresh backup, in the triggerer, fully async.

Both drive an I/O-free watch (``ExecutionWatch``, ``FreshnessWatch``) with one loop: deadline,
error budget and polling schedule are the watch's. Their kwargs hold no secret (only the
connection id) and an *absolute* deadline, so a trigger re-created after a triggerer restart keeps
the deadline of the original wait. They only read, so two copies running at once (triggerer HA)
reach the same single outcome.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_baas.connection_form import DEFAULT_CONN_ID
from airflow_provider_baas.durations import format_duration
from airflow_provider_baas.freshness import FreshnessWatch
from airflow_provider_baas.polling import (
    DEFAULT_ERROR_WINDOW,
    DEFAULT_FIRST_INTERVAL,
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_POLL_INTERVAL,
    DeadlineKind,
    Decision,
    ExecutionWatch,
    ExpectedDuration,
    LookupChoice,
    PollingPolicy,
    coalesced,
    log_wait,
)
from airflow_provider_baas.status import Outcome, StatusPolicy

NO_CANCEL = (
    "The BaaS API has no cancel endpoint: execution {execution_id} of job {job_id} goes on on the server."
)


# Thousands of waiting triggers mostly share the same (immutable) policies: one object each, not one
# per trigger, keeps the triggerer's heap and its full garbage collections smaller.
@functools.lru_cache(maxsize=256)
def _shared_status_policy(success: tuple[str, ...] | None, failure: tuple[str, ...] | None) -> StatusPolicy:
    return StatusPolicy.build(success, failure)


def _status_policy(success: Any, failure: Any) -> StatusPolicy:
    def key(statuses: Any) -> Any:
        return statuses if statuses is None or isinstance(statuses, str) else tuple(statuses)

    try:
        return _shared_status_policy(key(success), key(failure))
    except TypeError:  # unhashable or not iterable: let build() judge it as it always did
        return StatusPolicy.build(success, failure)


@functools.lru_cache(maxsize=256)
def _shared_polling(
    poll_interval: float, first_interval: float, max_poll_gap: float | None = None
) -> PollingPolicy:
    return PollingPolicy(
        poll_interval=poll_interval, first_interval=first_interval, max_poll_gap=max_poll_gap
    )


class BaasWaitTrigger(BaseTrigger):
    """What both triggers share: the job, the deadline, the error budget, and the one wait loop.

    A subclass says what to watch (``_watch``), what one poll reads (``_read``), how the watch
    judges it (``_judge``), and what its event holds (``_event``).
    """

    # How many waits of this kind this process runs now (sizes the shared wake-up grid).
    waiting = 0

    def __init__(
        self,
        *,
        job_id: str,
        site_id: str | None = None,
        baas_conn_id: str = DEFAULT_CONN_ID,
        deadline: float | None = None,
        deadline_kind: str = DeadlineKind.TIMEOUT,
        started_at: float | None = None,
        next_poll_at: float | None = None,
        success_statuses: list[str] | None = None,
        failure_statuses: list[str] | None = None,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        error_window: float = DEFAULT_ERROR_WINDOW,
    ) -> None:
        """
        :param deadline: absolute wall-clock deadline (epoch seconds), or None to wait forever.
        :param deadline_kind: which limit the deadline is ("timeout" or "execution_timeout"), echoed
            in events.
        :param started_at: epoch seconds when the wait began (drives the polling schedule).
        :param next_poll_at: epoch seconds of the first poll (None: at once). The task that defers
            has just polled; the trigger does not read (and log) the same state again.
        :param max_consecutive_errors: failed polls in a row the wait rides out.
        :param error_window: seconds without a good poll the wait rides out.
        """
        super().__init__()
        self.job_id = str(job_id)
        self.site_id = site_id
        self.baas_conn_id = baas_conn_id
        self.deadline = deadline
        self.deadline_kind = str(deadline_kind)
        self.started_at = time.time() if started_at is None else started_at
        self.next_poll_at = next_poll_at
        self.status_policy = _status_policy(success_statuses, failure_statuses)
        self.max_consecutive_errors = max_consecutive_errors
        self.error_window = error_window

    def _common_kwargs(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "site_id": self.site_id,
            "baas_conn_id": self.baas_conn_id,
            "deadline": self.deadline,
            "deadline_kind": self.deadline_kind,
            "started_at": self.started_at,
            "next_poll_at": self.next_poll_at,
            "max_consecutive_errors": self.max_consecutive_errors,
            "error_window": self.error_window,
            **self.status_policy.to_kwargs(),
        }

    def _classpath(self) -> str:
        return f"{type(self).__module__}.{type(self).__qualname__}"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_baas.hooks.baas import BaasHook
        from airflow_provider_baas.hooks.transport import shared_session_lease

        hook = BaasHook(baas_conn_id=self.baas_conn_id, site_id=self.site_id)
        hook.retry_deadline = self.deadline
        watch = self._watch()
        kind = type(self)
        kind.waiting += 1
        try:
            async with shared_session_lease():
                decision = await self._wait(hook, watch)
        finally:
            kind.waiting -= 1
        # The final message is not logged here: the event carries it, and the task logs it once
        # when it resumes (the trigger's lines land in the same task log).
        yield TriggerEvent(self._event(decision, watch))

    async def _wait(self, hook: Any, watch: ExecutionWatch) -> Decision:
        if self.next_poll_at is not None:
            first = self.next_poll_at - time.time()
            if watch.deadline is not None:
                first = min(first, watch.deadline - time.time())
            if first > 0:
                await asyncio.sleep(first)
        while True:
            decision = watch.check_deadline() or await self._poll(hook, watch)
            if decision.final:
                return decision
            log_wait(self.log, decision)
            # Keep only the number across the sleep, not the decision and its message: thousands of
            # waiting triggers would otherwise each hold them between polls.
            wait = decision.wait
            del decision
            loop_time = asyncio.get_running_loop().time()
            await asyncio.sleep(coalesced(wait, loop_time, type(self).waiting))

    async def _poll(self, hook: Any, watch: ExecutionWatch) -> Decision:
        try:
            result = await self._read(hook)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # judged by the watch: transient → retry within budget, else error event
            decision = watch.observe_error(exc)
            if not decision.final:
                self.log.warning(
                    "Poll of %s failed (%s); retrying in %s",
                    watch.subject,
                    exc,
                    format_duration(decision.wait),
                )
            return decision
        return self._judge(watch, result)

    def _watch(self) -> ExecutionWatch:
        raise NotImplementedError

    async def _read(self, hook: Any) -> Any:
        raise NotImplementedError

    def _judge(self, watch: Any, result: Any) -> Decision:
        raise NotImplementedError

    def _event(self, decision: Decision, watch: Any) -> dict[str, Any]:
        raise NotImplementedError


class BaasExecutionTrigger(BaasWaitTrigger):
    """Polls one execution until it succeeds, fails, the deadline passes, or errors exhaust the budget.

    Fires exactly one event: ``{"status": "success" | "failed" | "timeout" | "error", "message",
    "job_id", "execution_id", "site_id", "execution": <record or None>, "elapsed_seconds",
    "deadline_kind"}``.

    Deadline, status sets and error budget: see ``BaasWaitTrigger``.
    """

    waiting = 0

    def __init__(
        self,
        *,
        job_id: str,
        execution_id: str,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        first_interval: float = DEFAULT_FIRST_INTERVAL,
        max_poll_gap: float | None = None,
        expected_duration: float | None = None,
        duration_spread: float = 0.0,
        **wait: Any,
    ) -> None:
        """
        :param job_id: the job.
        :param execution_id: the execution to wait for.
        :param poll_interval: the longest wait between polls once the job may be ending (seconds).
        :param first_interval: the shortest wait between polls (seconds).
        :param max_poll_gap: with a known duration, the longest wait before the usual end (seconds;
            None: ``polling.MAX_POLL_GAP_FACTOR`` poll intervals).
        :param expected_duration: the job's usual duration (median of recent successful runs), or None.
        :param duration_spread: how far the recent runs lay from ``expected_duration`` (seconds).
        :param wait: the arguments of every wait (see ``BaasWaitTrigger``).
        """
        super().__init__(job_id=job_id, **wait)
        self.execution_id = str(execution_id)
        self.poll_interval = poll_interval
        self.first_interval = first_interval
        self.max_poll_gap = max_poll_gap
        self.expected_duration = expected_duration
        self.duration_spread = duration_spread
        self._lookup = LookupChoice()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            self._classpath(),
            {
                **self._common_kwargs(),
                "execution_id": self.execution_id,
                "poll_interval": self.poll_interval,
                "first_interval": self.first_interval,
                "max_poll_gap": self.max_poll_gap,
                "expected_duration": self.expected_duration,
                "duration_spread": self.duration_spread,
            },
        )

    def _watch(self) -> ExecutionWatch:
        return ExecutionWatch(
            job_id=self.job_id,
            execution_id=self.execution_id,
            status_policy=self.status_policy,
            polling=_shared_polling(self.poll_interval, self.first_interval, self.max_poll_gap),
            started_at=self.started_at,
            deadline=self.deadline,
            expected_duration=(
                ExpectedDuration(self.expected_duration, self.duration_spread)
                if self.expected_duration
                else None
            ),
            max_consecutive_errors=self.max_consecutive_errors,
            error_window=self.error_window,
            lookup=self._lookup,
        )

    def _is_running(self, status: str | None) -> bool:
        return self.status_policy.classify(status) is Outcome.RUNNING

    async def _read(self, hook: Any) -> Any:
        return await hook.apoll_execution_by(
            self.job_id,
            self.execution_id,
            self.site_id,
            is_running=self._is_running,
            lookup=self._lookup.next(),
        )

    def _judge(self, watch: ExecutionWatch, result: Any) -> Decision:
        watch.lookup.learn(result.summary_answered)
        if result.rows and watch.wants_history:
            watch.learn_history(result.listed)
        return watch.observe(result.execution)

    def _event(self, decision: Decision, watch: ExecutionWatch) -> dict[str, Any]:
        return {
            "status": decision.state,
            "message": decision.message,
            "job_id": self.job_id,
            "execution_id": self.execution_id,
            "site_id": self.site_id,
            "execution": decision.execution,
            "elapsed_seconds": round(watch.elapsed(), 3),
            "deadline_kind": self.deadline_kind,
        }

    async def on_kill(self) -> None:
        """Airflow 3.3: the user marked the deferred task failed or cleared; nothing can be cancelled."""
        self.log.warning(NO_CANCEL.format(execution_id=self.execution_id, job_id=self.job_id))


class BaasFreshnessTrigger(BaasWaitTrigger):
    """Waits until a job's last successful backup is younger than ``max_age`` (gate without trigger).

    Fires once: ``{"status": "fresh" | "timeout" | "error", "message", "job_id", "site_id",
    "execution": <the fresh backup's record or None>, "deadline_kind"}``. The deadline is absolute,
    as above; transient errors are retried within the same error budget as an execution wait.
    """

    waiting = 0

    def __init__(
        self,
        *,
        job_id: str,
        max_age: float,
        deadline: float,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        **wait: Any,
    ) -> None:
        """:param wait: the arguments of every wait (see ``BaasWaitTrigger``)."""
        super().__init__(job_id=job_id, deadline=float(deadline), **wait)
        self.max_age = float(max_age)
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            self._classpath(),
            {**self._common_kwargs(), "max_age": self.max_age, "poll_interval": self.poll_interval},
        )

    def _watch(self) -> FreshnessWatch:
        return FreshnessWatch(
            job_id=self.job_id,
            execution_id="",
            status_policy=self.status_policy,
            polling=_shared_polling(self.poll_interval, DEFAULT_FIRST_INTERVAL),
            started_at=self.started_at,
            deadline=self.deadline,
            max_consecutive_errors=self.max_consecutive_errors,
            error_window=self.error_window,
            max_age=self.max_age,
        )

    async def _read(self, hook: Any) -> Any:
        return await hook.alist_job_executions(self.job_id, self.site_id)

    def _judge(self, watch: FreshnessWatch, result: Any) -> Decision:
        return watch.observe_listing(result)

    def _event(self, decision: Decision, watch: FreshnessWatch) -> dict[str, Any]:
        return {
            "status": decision.state,
            "message": decision.message,
            "job_id": self.job_id,
            "site_id": self.site_id,
            "execution": decision.execution,
            "deadline_kind": self.deadline_kind,
        }
