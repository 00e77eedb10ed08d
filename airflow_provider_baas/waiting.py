"""The wait for an execution, shared by the operator and the sensor: resolve, poll, defer, conclude.

Only the policy objects from ``polling`` and ``status`` decide anything; this module wires them
to the hook (blocking) or to the trigger (deferred) and turns the final decision into the task's
result or exception, identically for every caller.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

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


def poll_once(hook: BaasHook, watch: ExecutionWatch, site_id: str | None) -> Decision:
    """One blocking poll judged by the watch (transient errors come back as a WAIT decision)."""
    if (timed_out := watch.check_deadline()) is not None:
        return timed_out
    try:
        execution = hook.poll_execution(
            watch.job_id, watch.execution_id, site_id, is_running=running_test(watch.status_policy)
        )
    except Exception as exc:
        return watch.observe_error(exc)
    return watch.observe(execution)


def wait_blocking(hook: BaasHook, watch: ExecutionWatch, site_id: str | None, log: Any) -> Decision:
    """Poll until the watch reaches a final decision, sleeping as the polling policy says."""
    while True:
        decision = poll_once(hook, watch, site_id)
        if decision.final:
            return decision
        log.info("%s", decision.message)
        time.sleep(decision.wait)


def make_trigger(watch: ExecutionWatch, site_id: str | None, conn_id: str, polling: PollingPolicy) -> Any:
    from airflow_provider_baas.triggers.baas import BaasExecutionTrigger

    return BaasExecutionTrigger(
        job_id=watch.job_id,
        execution_id=watch.execution_id,
        site_id=site_id,
        baas_conn_id=conn_id,
        deadline=watch.deadline,
        started_at=watch.started_at,
        poll_interval=polling.poll_interval,
        first_interval=polling.first_interval,
        expected_duration=watch.expected_duration,
        **watch.status_policy.to_kwargs(),
    )


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
