"""BaasExecuteJobOperator: start a BaaS backup or restore job and (optionally) wait for it.

Importing this module is cheap (no requests, aiohttp or jwt): DAG files import it on every parse.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_baas._compat import (
    AirflowTaskTimeout,
    BaseOperator,
    BaseOperatorLink,
    default_deferrable,
    get_xcom_value,
)
from airflow_provider_baas.connection_form import DEFAULT_CONN_ID
from airflow_provider_baas.errors import BaasWaitTimeout
from airflow_provider_baas.polling import DEFAULT_POLL_INTERVAL, TIMEOUT, ExecutionWatch, PollingPolicy
from airflow_provider_baas.status import Outcome, StatusPolicy
from airflow_provider_baas.waiting import (
    NO_CANCEL,
    check_one_job_reference,
    decision_from_event,
    defer_timeout,
    make_trigger,
    poll_once,
    raise_for_decision,
    resolve_job_id,
    seconds,
    wait_blocking,
)

if TYPE_CHECKING:
    from airflow_provider_baas.hooks.baas import BaasHook

XCOM_EXECUTION_ID = "execution_id"
XCOM_EXECUTION_URL = "execution_url"
DEFAULT_TIMEOUT = timedelta(hours=24)


class BaasExecutionLink(BaseOperatorLink):
    """ "BaaS execution" button on the task: the execution's URL pushed to XCom before waiting."""

    name = "BaaS execution"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return get_xcom_value(ti_key=ti_key, key=XCOM_EXECUTION_URL) or ""


class BaasExecuteJobOperator(BaseOperator):
    """Starts a BaaS BACKUP or RESTORE job; returns the execution id, or the final execution record.

    :param job_id: the job to run. Exactly one of ``job_id`` and ``job_name``.
    :param job_name: the job's exact name, resolved when the task runs (never at DAG parse time).
    :param site_id: the BaaS site (default: the connection's ``site_id``).
    :param run_type: FULL, DELTA or CUMULATIVE (any case).
    :param wait_for_completion: wait for the execution to finish and return its record.
    :param poll_interval: the longest wait between two polls, in seconds; polls start at 5 s and grow.
    :param timeout: how long to wait (seconds or timedelta; default 24 h; None waits forever).
        Separate from ``execution_timeout``, which is honoured in both modes too.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param success_statuses: statuses that mean success (default ``{"SUCCESSFUL"}``), any case.
    :param failure_statuses: statuses that mean failure (default FAILED, ABORTED, ERROR, CANCELLED, WARNING).
    :param reattach: on a retry of this task instance, attach to the execution an earlier try started.
    :param baas_conn_id: the ``baas`` connection.
    """

    template_fields: Sequence[str] = ("job_id", "job_name", "site_id", "run_type")
    operator_extra_links = (BaasExecutionLink(),)
    ui_color = "#f5d9b3"

    def __init__(
        self,
        *,
        job_id: int | str | None = None,
        job_name: str | None = None,
        site_id: str | None = None,
        run_type: str = "FULL",
        wait_for_completion: bool = True,
        poll_interval: float | timedelta = DEFAULT_POLL_INTERVAL,
        timeout: float | timedelta | None = DEFAULT_TIMEOUT,
        deferrable: bool | None = None,
        success_statuses: Sequence[str] | None = None,
        failure_statuses: Sequence[str] | None = None,
        reattach: bool = True,
        baas_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_one_job_reference(job_id, job_name)
        self.job_id = job_id
        self.job_name = job_name
        self.site_id = site_id
        self.run_type = run_type
        self.wait_for_completion = wait_for_completion
        self.poll_interval = seconds(poll_interval, "poll_interval")
        self.timeout = seconds(timeout, "timeout")
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.status_policy = StatusPolicy.build(success_statuses, failure_statuses)
        self.reattach = reattach
        self.baas_conn_id = baas_conn_id

    @cached_property
    def hook(self) -> BaasHook:
        from airflow_provider_baas.hooks.baas import BaasHook

        return BaasHook(baas_conn_id=self.baas_conn_id, site_id=self.site_id)

    @property
    def polling(self) -> PollingPolicy:
        return PollingPolicy(poll_interval=self.poll_interval or DEFAULT_POLL_INTERVAL)

    def execute(self, context: Any) -> Any:
        from airflow_provider_baas.hooks.baas import normalise_run_type, validate_job_id

        run_type = normalise_run_type(self.run_type)
        if self.job_id is not None:
            validate_job_id(self.job_id)
        hook = self.hook
        site = hook.resolve_site_id(self.site_id)
        job_id = resolve_job_id(hook, self.job_id, self.job_name, site)
        execution_id = self._attach_or_start(hook, context, job_id, run_type, site)
        self._push(context, XCOM_EXECUTION_ID, execution_id)
        self._push(context, XCOM_EXECUTION_URL, hook.execution_url(job_id, execution_id, site))
        self._started = (job_id, execution_id)
        result = (
            self._wait(hook, context, job_id, execution_id, site)
            if self.wait_for_completion
            else execution_id
        )
        self._ledger(context, job_id, site).forget()
        return result

    # -- starting, or attaching to what an earlier try started

    def _attach_or_start(self, hook: BaasHook, context: Any, job_id: str, run_type: str, site: str) -> str:
        from airflow_provider_baas.reattach import pick_earlier_execution

        ledger = self._ledger(context, job_id, site)
        if self.reattach and (earlier := ledger.earlier_start()) is not None:
            found = pick_earlier_execution(earlier, hook.list_job_executions(job_id, site))
            if found is not None:
                outcome = self.status_policy.classify(found.status)
                if outcome is not Outcome.FAILED:
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

    def _deadlines(self, context: Any) -> tuple[float | None, float | None]:
        """(wait deadline, execution_timeout deadline) as epoch seconds."""
        now = time.time()
        wait_deadline = now + self.timeout if self.timeout else None
        task_deadline = None
        ti = context.get("ti") if hasattr(context, "get") else None
        start = getattr(ti, "start_date", None)
        if self.execution_timeout is not None and isinstance(start, datetime):
            task_deadline = start.timestamp() + self.execution_timeout.total_seconds()
        return wait_deadline, task_deadline

    def _watch(self, context: Any, job_id: str, execution_id: str) -> ExecutionWatch:
        deadlines = [d for d in self._deadlines(context) if d is not None]
        return ExecutionWatch(
            job_id=job_id,
            execution_id=execution_id,
            status_policy=self.status_policy,
            polling=self.polling,
            deadline=min(deadlines) if deadlines else None,
        )

    def _wait(self, hook: BaasHook, context: Any, job_id: str, execution_id: str, site: str) -> Any:
        watch = self._watch(context, job_id, execution_id)
        decision = poll_once(hook, watch, site)  # a job that finished at once needs no trigger
        if not decision.final:
            if self.deferrable:
                self.log.info("%s; deferring to the triggerer", decision.message)
                self.defer(
                    trigger=make_trigger(watch, site, self.baas_conn_id, self.polling),
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
        return self._conclude(context, decision, job_id, execution_id)

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        """Resumes after the trigger: validates the event and concludes like the blocking path."""
        decision = decision_from_event(event)
        result = self._conclude(context, decision, str(event["job_id"]), str(event["execution_id"]))
        self._ledger(context, str(event["job_id"]), str(event.get("site_id") or "")).forget()
        return result

    def _conclude(self, context: Any, decision: Any, job_id: str, execution_id: str) -> dict[str, Any]:
        if decision.state == TIMEOUT and self._task_deadline_passed(context):
            self.log.error("%s", NO_CANCEL.format(execution_id=execution_id, job_id=job_id))
            raise AirflowTaskTimeout(f"execution_timeout reached: {decision.message}")
        record = raise_for_decision(decision, job_id, execution_id, self.log)
        record.setdefault("execution_id", execution_id)
        record.setdefault("job_id", job_id)
        return record

    def _task_deadline_passed(self, context: Any) -> bool:
        _, task_deadline = self._deadlines(context)
        return task_deadline is not None and time.time() >= task_deadline - 1

    def _push(self, context: Any, key: str, value: Any) -> None:
        ti = context.get("ti") if hasattr(context, "get") else None
        if ti is not None:
            ti.xcom_push(key=key, value=value)

    def on_kill(self) -> None:
        job_id, execution_id = getattr(self, "_started", (None, None))
        if execution_id:
            self.log.warning(NO_CANCEL.format(execution_id=execution_id, job_id=job_id))


__all__ = ["BaasExecuteJobOperator", "BaasExecutionLink", "BaasWaitTimeout"]
