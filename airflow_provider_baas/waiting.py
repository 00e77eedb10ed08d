"""The wait for an execution, shared by the operator and the sensor: resolve, poll, defer, conclude.

Only the policy objects from ``polling`` and ``status`` decide anything; this module wires them
to the hook (blocking) or to the trigger (deferred) and turns the final decision into the task's
result or exception, identically for every caller.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_baas._compat import AirflowTaskTimeout
from airflow_provider_baas.durations import format_duration
from airflow_provider_baas.errors import (
    BaasConflictError,
    BaasError,
    BaasExecuteOutcomeUnknown,
    BaasExecutionFailed,
    BaasInvalidEvent,
    BaasValidationError,
    BaasWaitTimeout,
)
from airflow_provider_baas.polling import (
    ERROR,
    FAILED,
    FINAL_STATES,
    SUCCESS,
    TIMEOUT,
    DeadlineKind,
    Decision,
    ExecutionWatch,
    ExpectedDuration,
    PollingPolicy,
    as_expected,
    is_transient,
    log_wait,
)
from airflow_provider_baas.status import Outcome, StatusPolicy

if TYPE_CHECKING:
    from airflow_provider_baas.hooks.baas import BaasHook
    from airflow_provider_baas.models import Execution

NO_CANCEL = (
    "The BaaS API has no cancel endpoint: execution {execution_id} of job {job_id} goes on on the server. "
    "Check it in the BaaS console before starting the job again."
)
# The framework's own deferral timeout is only a backstop behind the trigger's deadline.
DEFER_BACKSTOP = timedelta(minutes=10)


def seconds(value: float | timedelta | None, name: str) -> float | None:
    """A duration argument as seconds (None stays None), rejecting nonsense early."""
    if value is None:
        return None
    result = value.total_seconds() if isinstance(value, timedelta) else value
    if (
        isinstance(result, bool)
        or not isinstance(result, int | float)
        or not math.isfinite(result)
        or result <= 0
    ):
        raise BaasValidationError(
            f"{name} must be a positive, finite number of seconds or a timedelta, got {value!r}"
        )
    return float(result)


def check_one_job_reference(job_id: Any, job_name: Any) -> None:
    if (job_id is None) == (job_name is None):
        raise BaasValidationError("Pass exactly one of job_id or job_name")


def resolve_job_id(hook: BaasHook, job_id: Any, job_name: str | None, site_id: str | None) -> str:
    """The job's id; a name is looked up here, at run time, never while the DAG is parsed."""
    from airflow_provider_baas.hooks.baas import validate_job_id

    if job_id is not None:
        return validate_job_id(job_id)
    return hook.find_job_by_name(str(job_name), site_id).job_id


def running_test(policy: StatusPolicy) -> Any:
    return lambda status: policy.classify(status) is Outcome.RUNNING


def poll_once(hook: BaasHook, watch: ExecutionWatch, site_id: str | None, log: Any = None) -> Decision:
    """One blocking poll judged by the watch (transient errors come back as a WAIT decision).

    The poll reads what the watch's ``lookup`` has learned answers it, one request in the usual
    case. A failed poll the wait rides out is logged to ``log`` (as the trigger does), so the task
    log says why the wait goes on.

    :param hook: the BaaS hook.
    :param watch: the wait; its lookup choice learns from this poll.
    :param site_id: the site (None: the connection's).
    :param log: where a failed poll is reported (None: nowhere).
    """
    if (timed_out := watch.check_deadline()) is not None:
        return timed_out
    hook.retry_deadline = watch.deadline
    try:
        polled = hook.poll_execution_by(
            watch.job_id,
            watch.execution_id,
            site_id,
            is_running=running_test(watch.status_policy),
            lookup=watch.lookup.next(),
        )
    except Exception as exc:
        decision = watch.observe_error(exc)
        if log is not None and not decision.final:
            log.warning(
                "Poll of %s failed (%s); retrying in %s", watch.subject, exc, format_duration(decision.wait)
            )
        return decision
    watch.lookup.learn(polled.summary_answered)
    if polled.rows and watch.wants_history:
        watch.learn_history(polled.listed)
    return watch.observe(polled.execution)


def wait_blocking(hook: BaasHook, watch: ExecutionWatch, site_id: str | None, log: Any) -> Decision:
    """Poll until the watch reaches a final decision, sleeping as the polling policy says."""
    while True:
        decision = poll_once(hook, watch, site_id, log)
        if decision.final:
            return decision
        log_wait(log, decision)
        time.sleep(decision.wait)


def make_trigger(
    watch: ExecutionWatch,
    site_id: str | None,
    conn_id: str,
    polling: PollingPolicy,
    deadline_kind: str = "timeout",
    first_wait: float | None = None,
) -> Any:
    """The trigger that goes on with ``watch`` in the triggerer (kwargs: no secret, JSON only).

    :param watch: the wait so far (job, execution, start, deadline, statuses, expected duration).
    :param site_id: the site (None: the connection's).
    :param conn_id: the ``baas`` connection id.
    :param polling: the polling schedule.
    :param deadline_kind: which limit the deadline is (echoed in the event).
    :param first_wait: seconds until the trigger's first poll, when the task has just polled
        (None: the trigger polls at once).
    """
    from airflow_provider_baas.triggers.baas import BaasExecutionTrigger

    expected = as_expected(watch.expected_duration)
    return BaasExecutionTrigger(
        job_id=watch.job_id,
        execution_id=watch.execution_id,
        site_id=site_id,
        baas_conn_id=conn_id,
        deadline=watch.deadline,
        deadline_kind=deadline_kind,
        started_at=watch.started_at,
        next_poll_at=None if first_wait is None else time.time() + first_wait,
        poll_interval=polling.poll_interval,
        first_interval=polling.first_interval,
        max_poll_gap=polling.max_poll_gap,
        expected_duration=expected.typical if expected else None,
        duration_spread=expected.spread if expected else 0.0,
        **watch.status_policy.to_kwargs(),
    )


def task_deadline(context: Any, execution_timeout: timedelta | None) -> float | None:
    """When ``execution_timeout`` ends this try (epoch seconds). Airflow 3 does not enforce it
    while a task is deferred, so the trigger's own deadline must include it."""
    ti = context.get("ti") if hasattr(context, "get") else None
    start = getattr(ti, "start_date", None)
    if execution_timeout is None or not isinstance(start, datetime):
        return None
    return start.timestamp() + execution_timeout.total_seconds()


def wait_deadline(
    context: Any, timeout: float | None, execution_timeout: timedelta | None, now: float | None = None
) -> tuple[float | None, DeadlineKind]:
    """The one deadline of every wait (epoch seconds, None = none) and which limit it is.

    The earlier of ``now + timeout`` and the end of ``execution_timeout``. The hook's retries are
    bound by it too (``BaasHook.retry_deadline``), so no retry outlives the wait it serves.
    """
    start = time.time() if now is None else now
    wait_end = start + timeout if timeout else None
    task_end = task_deadline(context, execution_timeout)
    if task_end is not None and (wait_end is None or task_end < wait_end):
        return task_end, DeadlineKind.EXECUTION_TIMEOUT
    return wait_end, DeadlineKind.TIMEOUT


def defer_timeout(deadline: float | None) -> timedelta | None:
    if deadline is None:
        return None
    return timedelta(seconds=max(0.0, deadline - time.time())) + DEFER_BACKSTOP


def decision_from_event(event: Any) -> Decision:
    """Validate a trigger event; anything missing or unknown is a failure, never a success."""
    if not isinstance(event, dict):
        raise BaasInvalidEvent(f"Trigger event is missing or not a dict: {event!r}")
    state = event.get("status")
    if state not in FINAL_STATES or not event.get("execution_id"):
        raise BaasInvalidEvent(f"Unknown BaaS trigger event (status {state!r}): {event!r}")
    execution = event.get("execution")
    if state == SUCCESS and not isinstance(execution, dict):
        raise BaasInvalidEvent(f"Success event without an execution record: {event!r}")
    return Decision(state, str(event.get("message") or state), execution=execution)


def conclude(
    decision: Decision,
    job_id: str,
    execution_id: str,
    deadline_kind: str,
    log: Any,
    on_timeout: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The end of every wait, blocking or resumed: the final record on success, else the exception
    that tells the DAG author why. ``on_timeout`` (a sensor's) handles the wait's own timeout."""
    if decision.state == SUCCESS:
        log.info("%s", decision.message)
        return dict(decision.execution or {})
    if decision.state == FAILED:
        raise BaasExecutionFailed(decision.message)
    if decision.state == TIMEOUT:
        log.error("%s %s", decision.message, NO_CANCEL.format(execution_id=execution_id, job_id=job_id))
        if deadline_kind == DeadlineKind.EXECUTION_TIMEOUT:
            raise AirflowTaskTimeout(f"execution_timeout reached: {decision.message}")
        if on_timeout is not None:
            on_timeout(decision.message)
        raise BaasWaitTimeout(decision.message)
    if decision.state == ERROR:
        raise BaasError(decision.message)
    raise BaasInvalidEvent(f"Not a final decision: {decision!r}")


class ExecutionRunnerMixin:
    """Start-or-reattach and wait, for any operator or sensor that runs a BaaS job itself.

    The class using it provides: ``status_policy``, ``reattach``, ``timeout`` (seconds or None),
    ``polling``, ``deferrable``, ``baas_conn_id``, and BaseOperator's ``execution_timeout``,
    ``log`` and ``defer``.
    """

    status_policy: StatusPolicy
    reattach: bool
    timeout: float | None
    deferrable: bool
    baas_conn_id: str
    execution_timeout: timedelta | None
    log: Any
    defer: Any
    # The job's usual duration, from the history read before starting or joining (None: unknown).
    _expected: ExpectedDuration | None = None

    @property
    def polling(self) -> PollingPolicy:
        raise NotImplementedError

    # -- starting, or attaching to what an earlier try of this task instance started

    def _attach_or_start(
        self,
        hook: BaasHook,
        context: Any,
        job_id: str,
        run_type: str,
        site: str,
        history: list[Execution] | None = None,
        join_on_conflict: bool = False,
    ) -> str:
        """The execution this task instance owns: the one an earlier try started, else a new one.

        :param history: the job's executions, listed before any POST of this try (listed here if None).
        :param join_on_conflict: on a 409 ("already running"), wait for the running execution.
        """
        ledger = self._ledger(context, job_id, site)
        earlier = ledger.earlier_start() if self.reattach else None
        if history is None:
            history = self._history_before_start(hook, job_id, site, required=earlier is not None)
        self._expected = ExpectedDuration.from_history(history or [], self.status_policy, run_type)
        if earlier is not None:
            reattached = self._reattach(earlier, history or [], job_id)
            if reattached is not None:
                return reattached
        return self._start(hook, ledger, job_id, run_type, site, history, join_on_conflict)

    def _history_before_start(
        self, hook: BaasHook, job_id: str, site: str, required: bool
    ) -> list[Execution] | None:
        """The job's executions before this try's POST: what a lost answer must not be taken for.

        Reattaching needs them; otherwise a transient failure to list them does not stop the
        start (a lost answer is then matched by its time alone, and never to a queued execution).
        """
        try:
            return hook.list_job_executions(job_id, site)
        except BaasError as exc:
            if required or not is_transient(exc):
                raise
            self.log.warning("Could not list BaaS job %s's executions before starting it: %s", job_id, exc)
            return None

    def _reattach(self, earlier: Any, history: list[Execution], job_id: str) -> str | None:
        from airflow_provider_baas.reattach import pick_earlier_execution

        found = pick_earlier_execution(earlier, history)
        if found is None and earlier.execution_id is not None:
            # The server answered 202 with this id: a listing that lags behind is no reason to
            # start another. The wait's not-found grace covers the lag.
            self.log.warning(
                "Reattaching to execution %s of BaaS job %s that an earlier try started (found via %s); "
                "it is not listed yet.",
                earlier.execution_id,
                job_id,
                earlier.source,
            )
            return str(earlier.execution_id)
        if found is None:
            return None
        if self.status_policy.classify(found.status) is Outcome.FAILED:
            self.log.warning(
                "Execution %s of BaaS job %s from an earlier try ended %s (%s): starting a new one.",
                found.execution_id,
                job_id,
                found.status,
                found.status_detail or "no detail",
            )
            return None
        self.log.warning(
            "Reattaching to execution %s of BaaS job %s (status %s, started %s): an earlier try "
            "of this task instance started it (found via %s); not starting another.",
            found.execution_id,
            job_id,
            found.status,
            found.start_time,
            earlier.source,
        )
        return found.execution_id

    def _start(
        self,
        hook: BaasHook,
        ledger: Any,
        job_id: str,
        run_type: str,
        site: str,
        history: list[Execution] | None,
        join_on_conflict: bool,
    ) -> str:
        sent_at = datetime.now(UTC)
        ledger.remember_sending(sent_at, run_type, history)
        known_before = None if history is None else [e.execution_id for e in history]
        try:
            execution_id = hook.execute_job(job_id, run_type, site, known_before=known_before)
        except BaasConflictError:
            ledger.forget()  # refused: nothing of this task instance runs
            if not join_on_conflict:
                raise
            return self._join_after_conflict(hook, ledger, job_id, site, sent_at)
        ledger.remember_started(sent_at, execution_id)
        return execution_id

    def _join_after_conflict(
        self, hook: BaasHook, ledger: Any, job_id: str, site: str, sent_at: datetime
    ) -> str:
        """The execution a 409 ("already running") refers to: the running one, looked for as a
        lost answer is (the listing may lag); or one that ended since, if it ended in success."""
        from airflow_provider_baas.freshness import execution_to_join_after_conflict
        from airflow_provider_baas.hooks import baas as hook_module

        for attempt in range(1, hook_module.EXECUTE_LOOKUP_ATTEMPTS + 1):
            if attempt > 1:
                time.sleep(hook_module.EXECUTE_LOOKUP_INTERVAL)
            executions = hook.list_job_executions(job_id, site)
            found = execution_to_join_after_conflict(executions, self.status_policy, sent_at)
            if found is not None:
                self.log.warning(
                    "BaaS job %s is already running (409 on execute): joining execution %s (%s)",
                    job_id,
                    found.execution_id,
                    found.status,
                )
                ledger.remember_started(sent_at, found.execution_id)
                return found.execution_id
        raise BaasExecuteOutcomeUnknown(
            job_id,
            site,
            "the execute request was refused with 409 (already running), yet no execution "
            "is listed as running",
        )

    def _ledger(self, context: Any, job_id: str, site: str) -> Any:
        from airflow_provider_baas.reattach import ExecutionLedger

        return ExecutionLedger(context, job_id, site)

    # -- waiting

    def _watch(self, context: Any, job_id: str, execution_id: str) -> tuple[ExecutionWatch, DeadlineKind]:
        """The watch, and which deadline binds it; with the job's usual duration when its history
        was read (``_attach_or_start``, or the gate's look at the job)."""
        deadline, kind = wait_deadline(context, self.timeout, self.execution_timeout)
        watch = ExecutionWatch(
            job_id=job_id,
            execution_id=execution_id,
            status_policy=self.status_policy,
            polling=self.polling,
            deadline=deadline,
            expected_duration=self._expected,
        )
        return watch, kind

    def _wait(self, hook: BaasHook, context: Any, job_id: str, execution_id: str, site: str) -> Any:
        """Poll once; then defer to the trigger, or poll here until a final decision."""
        watch, deadline_kind = self._watch(context, job_id, execution_id)
        decision = poll_once(hook, watch, site, self.log)  # a job that finished at once needs no trigger
        if not decision.final:
            if self.deferrable:
                self.log.info("%s; deferring to the triggerer", decision.message)
                self.defer(
                    trigger=make_trigger(
                        watch, site, self.baas_conn_id, self.polling, deadline_kind, decision.wait
                    ),
                    method_name="execute_complete",
                    timeout=defer_timeout(watch.deadline),
                )
            self.log.info("%s", decision.message)
            try:
                time.sleep(decision.wait)
                decision = wait_blocking(hook, watch, site, self.log)
            except AirflowTaskTimeout:
                self.log.error("%s", NO_CANCEL.format(execution_id=execution_id, job_id=job_id))
                raise
        return self._conclude(context, decision, job_id, execution_id, site, deadline_kind)

    def _resume(self, context: Any, event: Any) -> dict[str, Any]:
        """After the trigger: validate the event and conclude like the blocking path."""
        decision = decision_from_event(event)
        job_id, execution_id = str(event["job_id"]), str(event["execution_id"])
        site = str(event.get("site_id") or "")
        kind = str(event.get("deadline_kind") or DeadlineKind.TIMEOUT)
        return self._conclude(context, decision, job_id, execution_id, site, kind)

    def _conclude(
        self, context: Any, decision: Decision, job_id: str, execution_id: str, site: str, deadline_kind: str
    ) -> dict[str, Any]:
        """Every path that ends a wait ends here; on success the task instance forgets what it owned."""
        record = conclude(decision, job_id, execution_id, deadline_kind, self.log)
        self._ledger(context, job_id, site).forget()
        record.setdefault("execution_id", execution_id)
        record.setdefault("job_id", job_id)
        return record
