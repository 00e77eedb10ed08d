"""BaasExecutionSensor: wait for a BaaS execution to finish (poke, reschedule or deferrable).

A failed execution fails the task, even with ``soft_fail`` (Airflow's deferrable sensors turn
*any* error into a skip under ``soft_fail``; we do not). Only the sensor's own timeout becomes
``AirflowSensorTimeout``, which ``soft_fail`` turns into a skip. ``never_fail=True`` is the
explicit opt-in to skip on anything.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_baas._compat import (
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseOperator,
    BaseSensorOperator,
    default_deferrable,
    is_deferral_timeout,
    poke_return_value,
)
from airflow_provider_baas.connection_form import DEFAULT_CONN_ID
from airflow_provider_baas.errors import BaasLookupError
from airflow_provider_baas.polling import SUCCESS, TIMEOUT, ExecutionWatch, PollingPolicy
from airflow_provider_baas.status import StatusPolicy
from airflow_provider_baas.waiting import (
    check_one_job_reference,
    decision_from_event,
    defer_timeout,
    make_trigger,
    poll_once,
    raise_for_decision,
    resolve_job_id,
)

if TYPE_CHECKING:
    from airflow_provider_baas.hooks.baas import BaasHook


class BaasExecutionSensor(BaseSensorOperator):
    """Waits until a BaaS execution succeeds; fails the task when it fails.

    :param job_id: the job. Exactly one of ``job_id`` and ``job_name``.
    :param job_name: the job's exact name, resolved when the task runs.
    :param execution_id: the execution to wait for (default: the job's latest execution), e.g.
        ``"{{ ti.xcom_pull(task_ids='backup', key='execution_id') }}"``.
    :param site_id: the BaaS site (default: the connection's ``site_id``).
    :param success_statuses: statuses that mean success (default ``{"SUCCESSFUL"}``), any case.
    :param failure_statuses: statuses that mean failure (default FAILED, ABORTED, ERROR, CANCELLED, WARNING).
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param baas_conn_id: the ``baas`` connection.

    ``poke_interval`` is the longest wait between polls: polls start at 5 s and grow to it (the
    provider's one polling policy), unless ``exponential_backoff=True`` asks for Airflow's own.
    """

    template_fields: Sequence[str] = ("job_id", "job_name", "execution_id", "site_id")
    ui_color = "#f5d9b3"

    def __init__(
        self,
        *,
        job_id: int | str | None = None,
        job_name: str | None = None,
        execution_id: str | None = None,
        site_id: str | None = None,
        success_statuses: Sequence[str] | None = None,
        failure_statuses: Sequence[str] | None = None,
        deferrable: bool | None = None,
        baas_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_one_job_reference(job_id, job_name)
        self.job_id = job_id
        self.job_name = job_name
        self.execution_id = execution_id
        self.site_id = site_id
        self.status_policy = StatusPolicy.build(success_statuses, failure_statuses)
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.baas_conn_id = baas_conn_id
        self._watch: ExecutionWatch | None = None

    @cached_property
    def hook(self) -> BaasHook:
        from airflow_provider_baas.hooks.baas import BaasHook

        return BaasHook(baas_conn_id=self.baas_conn_id, site_id=self.site_id)

    @property
    def polling(self) -> PollingPolicy:
        return PollingPolicy(poll_interval=float(self.poke_interval))

    def _target(self) -> ExecutionWatch:
        """The execution to watch, resolved once per sensor instance (and never at parse time)."""
        if self._watch is None:
            hook = self.hook
            site = hook.resolve_site_id(self.site_id)
            job_id = resolve_job_id(hook, self.job_id, self.job_name, site)
            execution_id = (
                str(self.execution_id) if self.execution_id else self._latest_execution(job_id, site)
            )
            self.log.info("Waiting for BaaS execution %s of job %s on site %s", execution_id, job_id, site)
            self._watch = ExecutionWatch(
                job_id=job_id,
                execution_id=execution_id,
                status_policy=self.status_policy,
                polling=self.polling,
            )
        return self._watch

    def _latest_execution(self, job_id: str, site: str) -> str:
        job = self.hook.get_job(job_id, site)
        if job.last_execution is not None and job.last_execution.execution_id:
            return job.last_execution.execution_id
        executions = self.hook.list_job_executions(job_id, site)
        dated = [e for e in executions if e.start_time is not None]
        if not dated:
            raise BaasLookupError(f"BaaS job {job_id} on site {site} has no execution to wait for")
        return max(dated, key=lambda e: e.start_time).execution_id  # type: ignore[arg-type,return-value]

    def poke(self, context: Any) -> Any:
        watch = self._target()
        decision = poll_once(self.hook, watch, self.hook.resolve_site_id(self.site_id))
        if decision.state == SUCCESS:
            return poke_return_value(
                True, raise_for_decision(decision, watch.job_id, watch.execution_id, self.log)
            )
        if not decision.final:
            self.log.info("%s", decision.message)
            return False
        raise_for_decision(decision, watch.job_id, watch.execution_id, self.log)
        return False  # not reached: raise_for_decision raises for every non-success final state

    def _get_next_poke_interval(self, started_at: Any, run_duration: Any, poke_count: int) -> float:
        if self.exponential_backoff:
            return super()._get_next_poke_interval(started_at, run_duration, poke_count)
        return self.polling.next_wait(run_duration())

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first:
            return first.xcom_value
        watch = self._target()
        watch.deadline = time.time() + float(self.timeout)
        self.defer(
            trigger=make_trigger(watch, self.site_id, self.baas_conn_id, self.polling),
            method_name="execute_complete",
            timeout=defer_timeout(watch.deadline),
        )
        return None  # not reached: defer raises

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        decision = decision_from_event(event)
        if decision.state == TIMEOUT:
            self._timed_out(decision.message)
        return raise_for_decision(decision, str(event["job_id"]), str(event["execution_id"]), self.log)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        """Bypasses the base sensor's blanket "any error → skip under soft_fail" on resume."""
        try:
            return BaseOperator.resume_execution(self, next_method, next_kwargs, context)
        except Exception as exc:
            if is_deferral_timeout(exc):
                self._timed_out(f"Sensor timed out (deferral timeout): {exc}")
            if self.never_fail and not isinstance(exc, AirflowSkipException):
                raise AirflowSkipException(f"Skipping due to never_fail: {exc}") from exc
            raise

    def _timed_out(self, message: str) -> None:
        if self.soft_fail:
            raise AirflowSkipException(f"{message} (soft_fail)")
        raise AirflowSensorTimeout(message)
