"""The wait for an execution, shared by the operator and the sensor: resolve, poll, defer, conclude.

Only the policy objects from ``polling`` and ``status`` decide anything; this module wires them
to the hook (blocking) or to the trigger (deferred) and turns the final decision into the task's
result or exception, identically for every caller.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_baas._compat import AirflowTaskTimeout
from airflow_provider_baas.errors import (
    BaasError,
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
    Decision,
    ExecutionWatch,
    PollingPolicy,
    log_wait,
)
from airflow_provider_baas.status import Outcome, StatusPolicy

if TYPE_CHECKING:
    from airflow_provider_baas.hooks.baas import BaasHook

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
    if isinstance(result, bool) or not isinstance(result, int | float) or result <= 0:
        raise BaasValidationError(
            f"{name} must be a positive number of seconds or a timedelta, got {value!r}"
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

    A failed poll the wait rides out is logged to ``log`` (as the trigger does), so the task log
    says why the wait goes on.
    """
    if (timed_out := watch.check_deadline()) is not None:
        return timed_out
    hook.retry_deadline = watch.deadline
    try:
        execution = hook.poll_execution(
            watch.job_id, watch.execution_id, site_id, is_running=running_test(watch.status_policy)
        )
    except Exception as exc:
        decision = watch.observe_error(exc)
        if log is not None and not decision.final:
            log.warning("Poll of %s failed (%s); retrying in %.0fs", watch.subject, exc, decision.wait)
        return decision
    return watch.observe(execution)


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
) -> Any:
    from airflow_provider_baas.triggers.baas import BaasExecutionTrigger

    return BaasExecutionTrigger(
        job_id=watch.job_id,
        execution_id=watch.execution_id,
        site_id=site_id,
        baas_conn_id=conn_id,
        deadline=watch.deadline,
        deadline_kind=deadline_kind,
        started_at=watch.started_at,
        poll_interval=polling.poll_interval,
        first_interval=polling.first_interval,
        expected_duration=watch.expected_duration,
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


def binding_deadline(wait_deadline: float | None, task_deadline_: float | None) -> tuple[float | None, str]:
    """The earlier of the wait deadline and the task deadline, and its kind."""
    if task_deadline_ is not None and (wait_deadline is None or task_deadline_ < wait_deadline):
        return task_deadline_, "execution_timeout"
    return wait_deadline, "timeout"


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


def raise_for_decision(decision: Decision, job_id: str, execution_id: str, log: Any) -> dict[str, Any]:
    """The final record on success; otherwise the exception that tells the DAG author why."""
    if decision.state == SUCCESS:
        log.info("%s", decision.message)
        return dict(decision.execution or {})
    if decision.state == FAILED:
        raise BaasExecutionFailed(decision.message)
    if decision.state == TIMEOUT:
        log.error("%s %s", decision.message, NO_CANCEL.format(execution_id=execution_id, job_id=job_id))
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

    @property
    def polling(self) -> PollingPolicy:
        raise NotImplementedError

    # -- starting, or attaching to what an earlier try of this task instance started

    def _attach_or_start(self, hook: BaasHook, context: Any, job_id: str, run_type: str, site: str) -> str:
        from airflow_provider_baas.reattach import pick_earlier_execution

        ledger = self._ledger(context, job_id, site)
        if self.reattach and (earlier := ledger.earlier_start()) is not None:
            found = pick_earlier_execution(earlier, hook.list_job_executions(job_id, site))
            if found is not None:
                if self.status_policy.classify(found.status) is not Outcome.FAILED:
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
                self.log.warning(
                    "Execution %s of BaaS job %s from an earlier try ended %s (%s): starting a new one.",
                    found.execution_id,
                    job_id,
                    found.status,
                    found.status_detail or "no detail",
                )
        sent_at = datetime.now(UTC)
        ledger.remember_sending(sent_at)
        execution_id = hook.execute_job(job_id, run_type, site)
        ledger.remember_started(sent_at, execution_id)
        return execution_id

    def _ledger(self, context: Any, job_id: str, site: str) -> Any:
        from airflow_provider_baas.reattach import ExecutionLedger

        return ExecutionLedger(context, job_id, site)

    # -- waiting

    def _watch(self, context: Any, job_id: str, execution_id: str) -> tuple[ExecutionWatch, str]:
        """The watch, and which deadline binds it ("timeout" or "execution_timeout")."""
        wait_deadline = time.time() + self.timeout if self.timeout else None
        deadline, kind = binding_deadline(wait_deadline, task_deadline(context, self.execution_timeout))
        watch = ExecutionWatch(
            job_id=job_id,
            execution_id=execution_id,
            status_policy=self.status_policy,
            polling=self.polling,
            deadline=deadline,
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
                    trigger=make_trigger(watch, site, self.baas_conn_id, self.polling, deadline_kind),
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
        return self._conclude(decision, job_id, execution_id, deadline_kind)

    def _resume(self, context: Any, event: Any) -> dict[str, Any]:
        """After the trigger: validate the event and conclude like the blocking path."""
        decision = decision_from_event(event)
        job_id, execution_id = str(event["job_id"]), str(event["execution_id"])
        record = self._conclude(decision, job_id, execution_id, str(event.get("deadline_kind") or "timeout"))
        self._ledger(context, job_id, str(event.get("site_id") or "")).forget()
        return record

    def _conclude(
        self, decision: Decision, job_id: str, execution_id: str, deadline_kind: str
    ) -> dict[str, Any]:
        if decision.state == TIMEOUT and deadline_kind == "execution_timeout":
            self.log.error("%s", NO_CANCEL.format(execution_id=execution_id, job_id=job_id))
            raise AirflowTaskTimeout(f"execution_timeout reached: {decision.message}")
        record = raise_for_decision(decision, job_id, execution_id, self.log)
        record.setdefault("execution_id", execution_id)
        record.setdefault("job_id", job_id)
        return record
