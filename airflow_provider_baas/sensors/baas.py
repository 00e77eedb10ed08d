"""BaasExecutionSensor: wait for a BaaS execution to finish (poke, reschedule or deferrable).

A failed execution fails the task, even with ``soft_fail`` (Airflow's deferrable sensors turn
*any* error into a skip under ``soft_fail``; we do not). Only the sensor's own timeout becomes
``AirflowSensorTimeout``, which ``soft_fail`` turns into a skip. ``never_fail=True`` is the
explicit opt-in to skip on anything.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_baas._compat import (
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    BaseOperator,
    BaseSensorOperator,
    default_deferrable,
    is_deferral_timeout,
    poke_return_value,
)
from airflow_provider_baas.connection_form import DEFAULT_CONN_ID
from airflow_provider_baas.errors import BaasError, BaasInvalidEvent, BaasLookupError, BaasValidationError
from airflow_provider_baas.polling import (
    DEFAULT_POLL_INTERVAL,
    DeadlineKind,
    Decision,
    ExecutionWatch,
    ExpectedDuration,
    Lookup,
    LookupChoice,
    PollingPolicy,
    WaitState,
    as_expected,
)
from airflow_provider_baas.status import StatusPolicy
from airflow_provider_baas.waiting import (
    ExecutionRunnerMixin,
    check_one_job_reference,
    conclude,
    decision_from_event,
    defer_timeout,
    make_trigger,
    poll_once,
    resolve_job_id,
    seconds,
    wait_deadline,
)

if TYPE_CHECKING:
    from airflow_provider_baas.freshness import Verdict
    from airflow_provider_baas.hooks.baas import BaasHook
    from airflow_provider_baas.models import Execution


class BaasSensorMixin:
    """What both sensors share: the hook, the provider's polling policy for pokes, and strict
    failure semantics: only a timeout may become a skip (under ``soft_fail``).

    Airflow's deferrable sensors turn *any* error into a skip under ``soft_fail`` when they resume;
    a failed backup must fail the task instead. ``never_fail=True`` stays the explicit opt-in.
    """

    soft_fail: bool
    never_fail: bool
    exponential_backoff: bool
    poke_interval: float
    timeout: float
    baas_conn_id: str
    site_id: str | None

    def _check_sensor_arguments(self) -> None:
        """Refuse, when the DAG is parsed, what would only fail (or overflow) once the task runs."""
        seconds(self.poke_interval, "poke_interval")
        seconds(self.timeout, "timeout")

    @cached_property
    def hook(self) -> BaasHook:
        from airflow_provider_baas.hooks.baas import BaasHook

        return BaasHook(baas_conn_id=self.baas_conn_id, site_id=self.site_id)

    def _get_next_poke_interval(self, started_at: Any, run_duration: Any, poke_count: int) -> float:
        """Pokes follow the provider's polling policy up to ``poke_interval`` (unless exponential_backoff)."""
        if self.exponential_backoff:
            return super()._get_next_poke_interval(started_at, run_duration, poke_count)  # type: ignore[misc]
        next_wait = getattr(self, "_next_wait", None)  # the watch's own schedule, when it polled
        if next_wait is not None:
            return next_wait
        return PollingPolicy(poll_interval=float(self.poke_interval)).next_wait(run_duration())

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        """Bypasses the base sensor's blanket "any error → skip under soft_fail" on resume.

        :param next_method: the method the task resumes in.
        :param next_kwargs: its keyword arguments (the trigger's event).
        :param context: the task's Airflow context.
        """
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


class BaasExecutionSensor(BaasSensorMixin, BaseSensorOperator):
    """Waits until a BaaS execution succeeds; fails the task when it fails.

    :param job_id: the job. Exactly one of ``job_id`` and ``job_name``.
    :param job_name: the job's exact name, resolved when the task runs.
    :param execution_id: the execution to wait for (default: the job's latest execution when the
        task instance first pokes; it keeps waiting for that one across reschedules and retries),
        e.g. ``"{{ ti.xcom_pull(task_ids='backup', key='execution_id') }}"``.
    :param site_id: the BaaS site (default: the connection's ``site_id``).
    :param success_statuses: statuses that mean success (default ``{"SUCCESSFUL"}``), any case.
    :param failure_statuses: statuses that mean failure (default FAILED, ABORTED, ERROR, CANCELLED, WARNING).
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param max_poll_gap: the longest wait between polls (seconds) while the job's recent successful
        runs say its end is still far (default: 8 poll intervals): a failure is seen within it.
    :param baas_conn_id: the ``baas`` connection.

    ``poke_interval`` is the longest wait between polls while the end may be near: polls start at
    15 s and grow to it (the provider's one polling policy), unless ``exponential_backoff=True``
    asks for Airflow's own. The first poke reads the job's executions once; when at least three
    recent successful runs (of the same run type) are listed, polls are sparse (at most
    ``max_poll_gap`` apart) until the shortest of them would end, then dense.
    """

    template_fields: Sequence[str] = ("job_id", "job_name", "execution_id", "site_id", "baas_conn_id")
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
        max_poll_gap: float | timedelta | None = None,
        baas_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_one_job_reference(job_id, job_name)
        self._check_sensor_arguments()
        self.max_poll_gap = seconds(max_poll_gap, "max_poll_gap")
        self.job_id = job_id
        self.job_name = job_name
        self.execution_id = execution_id
        self.site_id = site_id
        self.status_policy = StatusPolicy.build(success_statuses, failure_statuses)
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.baas_conn_id = baas_conn_id
        self._watch: ExecutionWatch | None = None
        self._memory: Any = None
        self._next_wait: float | None = None

    @property
    def polling(self) -> PollingPolicy:
        """The polling schedule of the pokes, up to ``poke_interval``."""
        return PollingPolicy(poll_interval=float(self.poke_interval), max_poll_gap=self.max_poll_gap)

    def _target(self, context: Any) -> ExecutionWatch:
        """The execution to watch, resolved once per task instance (and never at parse time).

        Reschedule mode builds a new sensor for every poke, and a retry is a new try: both find
        what the first poke resolved, and when it poked, in the task instance's memory.
        """
        if self._watch is None:
            hook = self.hook
            site = hook.resolve_site_id(self.site_id)
            job_id = resolve_job_id(hook, self.job_id, self.job_name, site)
            ledger = self._ledger(context, job_id, site)
            memory = ledger.watched()
            asked = str(self.execution_id) if self.execution_id else None
            if memory is None or (asked is not None and memory.execution_id != asked):
                memory = self._first_look(job_id, site, asked)
                ledger.remember_watch(memory)
            self.log.info(
                "Waiting for BaaS execution %s of job %s on site %s", memory.execution_id, job_id, site
            )
            self._watch = ExecutionWatch(
                job_id=job_id,
                execution_id=memory.execution_id,
                status_policy=self.status_policy,
                polling=self.polling,
                started_at=memory.first_poke,
                consecutive_errors=memory.errors,
                last_good_poll=memory.errors_since,
                expected_duration=(
                    ExpectedDuration(memory.expected, memory.spread) if memory.expected else None
                ),
                history_read=memory.history_read,
                lookup=(
                    LookupChoice(Lookup(memory.lookup))
                    if memory.history_read
                    else LookupChoice.listing_once(Lookup(memory.lookup))
                ),
            )
            self._memory = (ledger, memory)
        return self._watch

    def _ledger(self, context: Any, job_id: str, site: str) -> Any:
        from airflow_provider_baas.reattach import ExecutionLedger

        return ExecutionLedger(context, job_id, site)

    def _remember_errors(self, watch: ExecutionWatch) -> None:
        """Keep the error streak, the learned lookup and the job's usual duration across
        reschedules, so the error budget ends there too and each poke spends one request.

        Written only when they change: a healthy wait writes nothing per poke.
        """
        from dataclasses import replace

        ledger, memory = self._memory
        errors = watch.consecutive_errors
        since = (watch.last_good_poll or watch.observing_since) if errors else None
        expected = as_expected(watch.expected_duration)
        now = replace(
            memory,
            errors=errors,
            errors_since=since,
            lookup=str(watch.lookup.preferred),
            history_read=watch.history_read or memory.history_read,
            expected=expected.typical if expected else None,
            spread=expected.spread if expected else 0.0,
        )
        if now != memory:
            ledger.remember_watch(now)
            self._memory = (ledger, now)

    def _first_look(self, job_id: str, site: str, asked: str | None) -> Any:
        """What the first poke of a task instance waits for: the execution asked for, else the job's
        latest. Its first poll reads the listing, which holds the job's history too."""
        from airflow_provider_baas.reattach import WatchMemory

        return WatchMemory(asked or self._latest_execution(job_id, site), time.time())

    def _latest_execution(self, job_id: str, site: str) -> str:
        """The job's newest execution: the one still running or queued, if any, else the newest
        that ended.

        The listing decides first: a job summary may show only finished executions (the API
        document's sample does), and waiting for the last finished run while a newer one runs
        would pass on the wrong execution.
        """
        from airflow_provider_baas.freshness import running_execution

        executions = self.hook.list_job_executions(job_id, site)
        if (running := running_execution(executions, self.status_policy)) is not None:
            return running.execution_id
        job = self.hook.get_job(job_id, site)
        if job.last_execution is not None and job.last_execution.execution_id:
            return job.last_execution.execution_id
        dated = [e for e in executions if e.start_time is not None]
        if not dated:
            raise BaasLookupError(f"BaaS job {job_id} on site {site} has no execution to wait for")
        return max(dated, key=lambda e: e.start_time).execution_id  # type: ignore[arg-type,return-value]

    def poke(self, context: Any) -> Any:
        """Poll the execution once; True (with its record) when it succeeded, a failure raises.

        :param context: the task's Airflow context.
        """
        watch = self._target(context)
        site = self.hook.resolve_site_id(self.site_id)
        decision = poll_once(self.hook, watch, site, self.log)
        if not decision.final:
            self._remember_errors(watch)
            self.log.info("%s", decision.message)
            self._next_wait = decision.wait
            return False
        record = self._conclude(
            context, decision, DeadlineKind.TIMEOUT, watch.job_id, watch.execution_id, site
        )
        return poke_return_value(True, record)

    def execute(self, context: Any) -> Any:
        """Poke once, then defer to ``BaasExecutionTrigger`` in deferrable mode (else the base sensor's loop).

        :param context: the task's Airflow context.
        """
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first:
            return first.xcom_value
        watch = self._target(context)
        watch.deadline, deadline_kind = wait_deadline(context, float(self.timeout), self.execution_timeout)
        self.defer(
            trigger=make_trigger(
                watch, self.site_id, self.baas_conn_id, self.polling, deadline_kind, self._next_wait
            ),
            method_name="execute_complete",
            timeout=defer_timeout(watch.deadline),
        )
        return None  # not reached: defer raises

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        """Resume after the trigger: validate its event and end the wait like a poke would.

        :param context: the task's Airflow context.
        :param event: the trigger's event.
        """
        decision = decision_from_event(event)
        job_id, execution_id = str(event["job_id"]), str(event["execution_id"])
        site = str(event.get("site_id") or "") or self.hook.resolve_site_id(self.site_id)
        kind = str(event.get("deadline_kind") or DeadlineKind.TIMEOUT)
        return self._conclude(context, decision, kind, job_id, execution_id, site)

    def _conclude(
        self, context: Any, decision: Decision, deadline_kind: str, job_id: str, execution_id: str, site: str
    ) -> dict[str, Any]:
        """Every path that ends the wait; on success the task instance forgets its execution."""
        record = conclude(decision, job_id, execution_id, deadline_kind, self.log, on_timeout=self._timed_out)
        self._ledger(context, job_id, site).forget()
        return record


class BaasBackupFreshnessSensor(BaasSensorMixin, ExecutionRunnerMixin, BaseSensorOperator):
    """Pre-ETL gate: passes when the job's latest successful backup finished within ``max_age``.

    With ``trigger_if_stale=True`` it makes the backup itself when the last good one is too old or
    the newest execution failed: it waits for a backup already running (queued ones too; a 409
    "already running" on execute is joined the same way), else starts one (same reattach, status
    and timeout rules as ``BaasExecuteJobOperator``), waits for it, then passes. Without it, a
    stale backup keeps the sensor waiting until another process makes a fresh one, and the
    sensor's ``timeout`` ends as ``AirflowSensorTimeout`` (a skip under ``soft_fail``).

    Returns the record of the backup that made the gate pass, plus ``"backup_started"``. Asset
    aliases in ``outlets`` receive an event for the job's ``baas://`` asset only when the gate ran
    a backup (see ``airflow_provider_baas.assets``).

    :param max_age: how old the last successful backup may be (timedelta or seconds; required).
    :param trigger_if_stale: start (or join) a backup when stale, and wait for it.
    :param run_type: FULL, DELTA or CUMULATIVE, for a backup the gate starts.
    :param poll_interval: the longest wait between two polls of a running backup while its end may
        be near, in seconds.
    :param max_poll_gap: the longest wait between two polls of a backup it starts or joins while
        the job's recent successful runs say the end is still far (default: 8 poll intervals).
    :param job_id: the job. Exactly one of ``job_id`` and ``job_name``.
    :param job_name: the job's exact name, resolved when the task runs.
    :param site_id: the BaaS site (default: the connection's ``site_id``).
    :param success_statuses: statuses that mean success (default ``{"SUCCESSFUL"}``), any case.
    :param failure_statuses: statuses that mean failure (default FAILED, ABORTED, ERROR, CANCELLED,
        CANCELED, WARNING).
    :param reattach: a retry waits for the backup an earlier try started or joined, instead of
        starting another.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param baas_conn_id: the ``baas`` connection.
    """

    template_fields: Sequence[str] = ("job_id", "job_name", "site_id", "run_type", "baas_conn_id")
    ui_color = "#f5d9b3"

    def __init__(
        self,
        *,
        max_age: timedelta | float,
        job_id: int | str | None = None,
        job_name: str | None = None,
        site_id: str | None = None,
        trigger_if_stale: bool = False,
        run_type: str = "FULL",
        poll_interval: float | timedelta = DEFAULT_POLL_INTERVAL,
        success_statuses: Sequence[str] | None = None,
        failure_statuses: Sequence[str] | None = None,
        reattach: bool = True,
        deferrable: bool | None = None,
        max_poll_gap: float | timedelta | None = None,
        baas_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_one_job_reference(job_id, job_name)
        self._check_sensor_arguments()
        self.max_poll_gap = seconds(max_poll_gap, "max_poll_gap")
        if max_age is None:  # no default: "always stale" would start a backup on every run
            raise BaasValidationError("max_age is required: how old the last successful backup may be")
        self.max_age = seconds(max_age, "max_age")
        self.job_id = job_id
        self.job_name = job_name
        self.site_id = site_id
        self.trigger_if_stale = trigger_if_stale
        self.run_type = run_type
        self.poll_interval = seconds(poll_interval, "poll_interval") or DEFAULT_POLL_INTERVAL
        self.status_policy = StatusPolicy.build(success_statuses, failure_statuses)
        self.reattach = reattach
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.baas_conn_id = baas_conn_id

    @property
    def polling(self) -> PollingPolicy:
        """The polling schedule of the backup it waits for, up to ``poll_interval``."""
        return PollingPolicy(poll_interval=self.poll_interval, max_poll_gap=self.max_poll_gap)

    # -- the freshness rule

    def _assess(self, context: Any) -> GateState:
        # Imported when the task runs, not when the DAG file is parsed (pulls in the API models).
        from airflow_provider_baas.freshness import judge_freshness
        from airflow_provider_baas.hooks.baas import normalise_run_type

        normalise_run_type(self.run_type)  # bad input fails before any request
        hook = self.hook
        site = hook.resolve_site_id(self.site_id)
        job_id = resolve_job_id(hook, self.job_id, self.job_name, site)
        history = hook.list_job_executions(job_id, site)
        earlier = self._ledger(context, job_id, site).earlier_start() if self.reattach else None
        verdict = judge_freshness(
            history,
            self.status_policy,
            float(self.max_age),
            datetime.now(UTC),
            self.trigger_if_stale,
            owned=earlier.execution_id if earlier is not None else None,
        )
        self.log.info("BaaS job %s: %s: %s", job_id, verdict.kind, verdict.reason)
        return GateState(job_id, site, history, verdict)

    def _execution_to_wait_for(self, context: Any, state: GateState) -> str:
        from airflow_provider_baas.freshness import JOIN
        from airflow_provider_baas.hooks.baas import normalise_run_type

        if state.verdict.kind == JOIN and state.verdict.execution is not None:
            joined = state.verdict.execution.execution_id
            self._expected = ExpectedDuration.from_history(
                state.history, self.status_policy, state.verdict.execution.run_type
            )
            # Remembered like a started one: a retry waits for this one while it runs.
            self._ledger(context, state.job_id, state.site).remember_started(datetime.now(UTC), joined)
            return joined
        run_type = normalise_run_type(self.run_type)
        return self._attach_or_start(
            self.hook, context, state.job_id, run_type, state.site, state.history, join_on_conflict=True
        )

    def _pass_fresh(self, context: Any, job_id: str, site: str, record: dict[str, Any]) -> dict[str, Any]:
        """Pass on someone else's fresh backup; what an earlier try of this task instance started
        (and did not see end) is forgotten too: the task instance succeeded."""
        self._ledger(context, job_id, site).forget()
        return {**record, "backup_started": False}

    def _fresh_record(self, context: Any, state: GateState) -> dict[str, Any]:
        assert state.verdict.execution is not None
        return self._pass_fresh(context, state.job_id, state.site, state.verdict.execution.to_dict())

    def _run_backup(self, context: Any, state: GateState) -> dict[str, Any]:
        execution_id = self._execution_to_wait_for(context, state)
        record = self._wait(self.hook, context, state.job_id, execution_id, state.site)
        return self._backup_done(context, state.job_id, state.site, record)

    # -- poke / reschedule modes

    def poke(self, context: Any) -> Any:
        """Pass on a fresh backup; wait while stale; or join or start a backup and wait for it.

        :param context: the task's Airflow context.
        """
        from airflow_provider_baas.freshness import FRESH_CHOICE, STALE

        state = self._assess(context)
        if state.verdict.kind == FRESH_CHOICE:
            return poke_return_value(True, self._fresh_record(context, state))
        if state.verdict.kind == STALE:
            return False
        return poke_return_value(True, self._run_backup(context, state))

    # -- deferrable mode

    def execute(self, context: Any) -> Any:
        """Judge once, then pass, defer until fresh, or run the backup (deferrable mode; else the base
        sensor's loop).

        :param context: the task's Airflow context.
        """
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_baas.freshness import FRESH_CHOICE, STALE

        state = self._assess(context)
        if state.verdict.kind == FRESH_CHOICE:
            return self._fresh_record(context, state)
        if state.verdict.kind == STALE:
            self._defer_until_fresh(context, state)
        return self._run_backup(context, state)

    def _defer_until_fresh(self, context: Any, state: GateState) -> None:
        from airflow_provider_baas.triggers.baas import BaasFreshnessTrigger

        deadline, deadline_kind = wait_deadline(context, float(self.timeout), self.execution_timeout)
        assert deadline is not None  # a sensor's timeout is always set
        self.defer(
            trigger=BaasFreshnessTrigger(
                job_id=state.job_id,
                site_id=state.site,
                max_age=float(self.max_age),
                deadline=deadline,
                deadline_kind=deadline_kind,
                baas_conn_id=self.baas_conn_id,
                poll_interval=float(self.poke_interval),
                **self.status_policy.to_kwargs(),
            ),
            method_name="execute_fresh",
            timeout=defer_timeout(deadline),
        )

    def execute_fresh(self, context: Any, event: Any = None) -> Any:
        """Back from BaasFreshnessTrigger: a fresh backup appeared, the deadline passed, or an error.

        :param context: the task's Airflow context.
        :param event: the trigger's event.
        """
        if not isinstance(event, dict) or event.get("status") not in FRESHNESS_EVENT_STATES:
            raise BaasInvalidEvent(f"Unknown BaaS freshness event: {event!r}")
        message = str(event.get("message") or event)
        if event["status"] == WaitState.TIMEOUT:
            if event.get("deadline_kind") == DeadlineKind.EXECUTION_TIMEOUT:
                raise AirflowTaskTimeout(f"execution_timeout reached: {message}")
            self._timed_out(message)
        if event["status"] == WaitState.ERROR or not isinstance(event.get("execution"), dict):
            raise BaasError(message)
        site = str(event.get("site_id") or self.hook.resolve_site_id(self.site_id))
        self.log.info("%s", message)
        return self._pass_fresh(context, str(event.get("job_id")), site, event["execution"])

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        """Resume after the backup the gate started or joined: validate the event and pass with its record.

        :param context: the task's Airflow context.
        :param event: the trigger's event.
        """
        record = self._resume(context, event)
        site = str(event.get("site_id") or self.hook.resolve_site_id(self.site_id))
        return self._backup_done(context, str(event["job_id"]), site, record)

    def _backup_done(self, context: Any, job_id: str, site: str, record: dict[str, Any]) -> dict[str, Any]:
        record = {**record, "backup_started": True}
        if self.outlets:
            from airflow_provider_baas.assets import emit_to_aliases

            host = self.hook.config.base_url.split("://", 1)[1].split("/", 1)[0]
            emit_to_aliases(context, list(self.outlets), host, site, job_id, record)
        return record


class GateState(NamedTuple):
    """What one look at the job told the gate: the job, its history, and the choice made on it."""

    job_id: str
    site: str
    history: list[Execution]
    verdict: Verdict


FRESHNESS_EVENT_STATES = (WaitState.FRESH, WaitState.TIMEOUT, WaitState.ERROR)
