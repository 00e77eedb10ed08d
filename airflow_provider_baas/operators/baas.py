"""BaasExecuteJobOperator: start a BaaS backup or restore job and (optionally) wait for it.

Importing this module is cheap (no requests, aiohttp or jwt): DAG files import it on every parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_baas._compat import (
    BaseOperator,
    BaseOperatorLink,
    default_deferrable,
    get_xcom_value,
)
from airflow_provider_baas.connection_form import DEFAULT_CONN_ID
from airflow_provider_baas.errors import BaasWaitTimeout
from airflow_provider_baas.polling import DEFAULT_POLL_INTERVAL, PollingPolicy
from airflow_provider_baas.status import StatusPolicy
from airflow_provider_baas.waiting import (
    NO_CANCEL,
    ExecutionRunnerMixin,
    check_one_job_reference,
    resolve_job_id,
    seconds,
)

if TYPE_CHECKING:
    from airflow_provider_baas.hooks.baas import BaasHook

XCOM_EXECUTION_ID = "execution_id"
XCOM_EXECUTION_URL = "execution_url"
XCOM_CONSOLE_URL = "console_url"
DEFAULT_TIMEOUT = timedelta(hours=24)


class BaasExecutionLink(BaseOperatorLink):
    """ "BaaS execution" button on the task: the execution's page in the BaaS console.

    Only when the connection has a ``console_url`` template: the REST API's URL (XCom
    ``execution_url``) answers 401 in a browser, so it is never the link.
    """

    name = "BaaS execution"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """The console URL the task pushed to XCom before waiting, or "" (no link).

        :param operator: the task (unused: the URL depends on the run).
        :param ti_key: the task instance whose XCom holds the URL.
        """
        return get_xcom_value(ti_key=ti_key, key=XCOM_CONSOLE_URL) or ""


class BaasExecuteJobOperator(ExecutionRunnerMixin, BaseOperator):
    """Starts a BaaS BACKUP or RESTORE job; returns the execution id, or the final execution record.

    :param job_id: the job to run. Exactly one of ``job_id`` and ``job_name``.
    :param job_name: the job's exact name, resolved when the task runs (never at DAG parse time).
    :param site_id: the BaaS site (default: the connection's ``site_id``).
    :param run_type: FULL, DELTA or CUMULATIVE (any case).
    :param wait_for_completion: wait for the execution to finish and return its record.
    :param poll_interval: the longest wait between two polls while the end may be near, in seconds;
        polls start at 15 s and grow (default 75 s).
    :param max_poll_gap: the longest wait between two polls while the job's recent successful runs
        (at least three of this run type, read before the start) say its end is still far, in
        seconds (default: 8 poll intervals): a failure is seen within it. Polls are dense from the shortest
        of those runs' durations on.
    :param timeout: how long to wait (seconds or timedelta; default 24 h; None waits forever).
        Separate from ``execution_timeout``, which is honoured in both modes too.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param success_statuses: statuses that mean success (default ``{"SUCCESSFUL"}``), any case.
    :param failure_statuses: statuses that mean failure (default FAILED, ABORTED, ERROR, CANCELLED, WARNING).
    :param reattach: on a retry of this task instance, attach to the execution an earlier try started.
    :param baas_conn_id: the ``baas`` connection.
    """

    template_fields: Sequence[str] = ("job_id", "job_name", "site_id", "run_type", "baas_conn_id")
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
        max_poll_gap: float | timedelta | None = None,
        baas_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_one_job_reference(job_id, job_name)
        self.max_poll_gap = seconds(max_poll_gap, "max_poll_gap")
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
        return PollingPolicy(
            poll_interval=self.poll_interval or DEFAULT_POLL_INTERVAL, max_poll_gap=self.max_poll_gap
        )

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
        console_url = hook.console_url(job_id, execution_id, site)
        if console_url:
            self._push(context, XCOM_CONSOLE_URL, console_url)
        self._started = (job_id, execution_id)
        if not self.wait_for_completion:
            self._ledger(context, job_id, site).forget()
            return execution_id
        record = self._wait(hook, context, job_id, execution_id, site)
        return self._with_assets(context, site, record)

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        """Resumes after the trigger: validates the event and concludes like the blocking path."""
        record = self._resume(context, event)
        return self._with_assets(context, str(event.get("site_id") or ""), record)

    def _with_assets(self, context: Any, site: str, record: dict[str, Any]) -> dict[str, Any]:
        """Attach the execution's details to declared ``baas://`` outlets of this job."""
        if self.outlets:
            from airflow_provider_baas.assets import annotate_outlet_events

            annotate_outlet_events(context, list(self.outlets), site, str(record["job_id"]), record)
        return record

    def _push(self, context: Any, key: str, value: Any) -> None:
        ti = context.get("ti") if hasattr(context, "get") else None
        if ti is not None:
            ti.xcom_push(key=key, value=value)

    def on_kill(self) -> None:
        job_id, execution_id = getattr(self, "_started", (None, None))
        if execution_id:
            self.log.warning(NO_CANCEL.format(execution_id=execution_id, job_id=job_id))


__all__ = ["BaasExecuteJobOperator", "BaasExecutionLink", "BaasWaitTimeout"]
