"""BaasRestoreOperator: restore chosen databases or tables from a backup execution, and wait for it.

The order of a run, each step refusing before the next request:
validate the arguments → pick the backup execution (given, or the job's newest SUCCESSFUL one) →
list what it holds (O1-O3) and refuse objects it does not hold → check restore permissions (R3) →
remember the restore's name → create it (R6, at most once) → remember its id → XCom → wait on R1,
polling or deferred, with the same deadline, status policy and reattach rules as a backup.

Importing this module is cheap (no requests, aiohttp or jwt): DAG files import it on every parse.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_baas._compat import AirflowTaskTimeout, BaseOperator, default_deferrable
from airflow_provider_baas.connection_form import DEFAULT_CONN_ID
from airflow_provider_baas.durations import format_duration
from airflow_provider_baas.errors import BaasLookupError, BaasValidationError
from airflow_provider_baas.operators.baas import XCOM_CONSOLE_URL, BaasExecutionLink
from airflow_provider_baas.polling import DEFAULT_POLL_INTERVAL, PollingPolicy, RestoreWatch
from airflow_provider_baas.restore_request import (
    ObjectSpec,
    RestoreOption,
    check_exclusions,
    default_restore_name,
    match_backup_objects,
    name_for_try,
    parse_objects,
    restore_settings,
)
from airflow_provider_baas.status import Outcome, StatusPolicy
from airflow_provider_baas.validation import validate_job_id, validate_path_id, validate_restore_name
from airflow_provider_baas.waiting import (
    check_one_job_reference,
    conclude,
    decision_from_event,
    defer_timeout,
    poll_once,
    resolve_job_id,
    seconds,
    wait_blocking,
    wait_deadline,
)

if TYPE_CHECKING:
    from airflow_provider_baas.hooks.baas import BaasHook
    from airflow_provider_baas.models import Execution
    from airflow_provider_baas.reattach import RestoreLedger, RestoreMemory

XCOM_RESTORE_ID = "restore_id"
XCOM_RESTORE_NAME = "restore_name"
XCOM_BACKUP_EXECUTION_ID = "backup_execution_id"
DEFAULT_TIMEOUT = timedelta(hours=24)
# The longest wait between two looks at the objects preparation (O2): it takes seconds to minutes.
PREPARATION_POLL = 5.0
# Which backups a restore may pick by itself: only a fully successful one, whatever the restore's
# own success_statuses say.
BACKUP_POLICY = StatusPolicy()
NO_CANCEL = (
    "The BaaS API has no cancel endpoint: restore {restore_id} (of execution {execution_id} of job "
    "{job_id}) goes on on the server. Check it in the BaaS console before restoring again."
)
# Misspellings a DAG author is likely to copy from the API document.
SPELLING_HINTS = {"skip_statstics": "skip_statistics"}


def _is_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, list | tuple):
        return any(_is_template(v) for v in value)
    if isinstance(value, dict):
        return any(_is_template(v) for v in value.values())
    return False


class BaasRestoreLink(BaasExecutionLink):
    """ "BaaS backup execution" button: the console page of the backup execution being restored.

    Only when the connection has a ``console_url`` template (its placeholders are the execution's:
    the console's restore pages have no documented address).
    """

    name = "BaaS backup execution"


class BaasRestoreOperator(BaseOperator):
    """Restores chosen databases or tables from a BaaS backup execution; returns the restore's record.

    :param objects: what to restore: names (``"SALES"`` a database or user, ``"HR.EMPLOYEES"`` a table
        or other object in HR), dicts with ``object_name`` and optionally ``object_type``,
        ``parent_name``, ``include_all``, ``exclude_objects``, or ``BackupObject`` entries. Each must
        be in the backup (checked before anything is restored).
    :param teradata_conn_id: a ``teradata`` connection: the database user the restore runs as
        (sent only in the create request's ``x-auth-credentials`` header).
    :param job_id: the backup job. Exactly one of ``job_id`` and ``job_name``.
    :param job_name: the backup job's exact name, resolved when the task runs.
    :param execution_id: the backup execution to restore; default: the job's newest SUCCESSFUL one.
    :param max_age: with no ``execution_id``: refuse a newest successful backup that ended longer ago
        (seconds or timedelta).
    :param target_site: the site to restore into (default: the backup's own site).
    :param include_all: the API's ``include_all`` for every object that does not set its own.
    :param exclude_objects: the API's ``exclude_objects`` (names or dicts) for every object that does
        not set its own.
    :param skip_statistics: sent as the API's ``skip_statstics`` (the API document's spelling).
    :param continue_job_on_access_right_violation: the API option of that name.
    :param run_as_a_copy_job: the API option of that name.
    :param skip_join_or_hash_indexes: the API option of that name.
    :param job_settings: raw ``job_settings`` keys sent as given, on top of the options above (a raw
        key wins): for keys the API has and this operator does not name.
    :param restore_name: the restore's name (default: unique per task instance, from the DAG, run,
        task and map index). A later try that must create a new restore adds ``-t<try>``.
    :param check_permissions: ask the API (R3) whether the user may restore before creating it.
    :param site_id: the backup's site (default: the connection's ``site_id``).
    :param wait_for_completion: wait for the restore to finish and return its record; else return its id.
    :param poll_interval: the longest wait between two polls, in seconds (default 75 s).
    :param timeout: how long to wait (seconds or timedelta; default 24 h; None waits forever).
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param success_statuses: restore statuses that mean success (default ``{"SUCCESSFUL"}``).
    :param failure_statuses: restore statuses that mean failure (default FAILED, ABORTED, ERROR,
        CANCELLED, WARNING).
    :param reattach: on a retry, wait for the restore an earlier try created instead of creating another.
    :param baas_conn_id: the ``baas`` connection.
    """

    template_fields: Sequence[str] = (
        "objects",
        "job_id",
        "job_name",
        "execution_id",
        "site_id",
        "target_site",
        "restore_name",
        "teradata_conn_id",
        "baas_conn_id",
    )
    operator_extra_links = (BaasRestoreLink(),)
    ui_color = "#c9e4f5"

    def __init__(
        self,
        *,
        objects: Sequence[Any] | str,
        teradata_conn_id: str | None = None,
        job_id: int | str | None = None,
        job_name: str | None = None,
        execution_id: str | None = None,
        max_age: float | timedelta | None = None,
        target_site: str | None = None,
        include_all: bool = True,
        exclude_objects: Sequence[Any] | None = None,
        skip_statistics: bool = False,
        continue_job_on_access_right_violation: bool = False,
        run_as_a_copy_job: bool = False,
        skip_join_or_hash_indexes: bool = False,
        job_settings: dict[str, Any] | None = None,
        restore_name: str | None = None,
        check_permissions: bool = True,
        site_id: str | None = None,
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
        if hints := [f"{k} (did you mean {v}?)" for k, v in SPELLING_HINTS.items() if k in kwargs]:
            raise BaasValidationError(f"BaasRestoreOperator got unknown arguments: {', '.join(hints)}")
        super().__init__(**kwargs)
        if not teradata_conn_id or not isinstance(teradata_conn_id, str):
            raise BaasValidationError(
                "teradata_conn_id is required: the teradata connection of the database user "
                "the restore runs as"
            )
        check_one_job_reference(job_id, job_name)
        if max_age is not None and execution_id is not None:
            raise BaasValidationError(
                "max_age applies only without execution_id (it bounds the backup picked)"
            )
        if not isinstance(include_all, bool):
            raise BaasValidationError(f"include_all must be True or False, got {include_all!r}")
        self.objects = objects
        self.teradata_conn_id = teradata_conn_id
        self.job_id = job_id
        self.job_name = job_name
        self.execution_id = execution_id
        self.max_age = seconds(max_age, "max_age")
        self.target_site = target_site
        self.include_all = include_all
        self.exclude_objects = check_exclusions(exclude_objects)
        self.options = {
            RestoreOption.SKIP_STATISTICS: skip_statistics,
            RestoreOption.CONTINUE_JOB_ON_ACCESS_RIGHT_VIOLATION: continue_job_on_access_right_violation,
            RestoreOption.RUN_AS_A_COPY_JOB: run_as_a_copy_job,
            RestoreOption.SKIP_JOIN_OR_HASH_INDEXES: skip_join_or_hash_indexes,
        }
        self.settings = restore_settings(self.options, job_settings)
        self.restore_name = restore_name
        self.check_permissions = check_permissions
        self.site_id = site_id
        self.wait_for_completion = wait_for_completion
        self.poll_interval = seconds(poll_interval, "poll_interval")
        self.timeout = seconds(timeout, "timeout")
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.status_policy = StatusPolicy.build(success_statuses, failure_statuses)
        self.reattach = reattach
        self.baas_conn_id = baas_conn_id
        if not _is_template(objects):
            parse_objects(objects)
        if restore_name is not None and not _is_template(restore_name):
            validate_restore_name(restore_name)

    @cached_property
    def hook(self) -> BaasHook:
        from airflow_provider_baas.hooks.baas import BaasHook

        return BaasHook(baas_conn_id=self.baas_conn_id, site_id=self.site_id)

    @property
    def polling(self) -> PollingPolicy:
        """The polling schedule of the restore's wait, up to ``poll_interval``."""
        return PollingPolicy(poll_interval=self.poll_interval or DEFAULT_POLL_INTERVAL)

    # -- the run

    def execute(self, context: Any) -> Any:
        """Choose the backup, check the objects and permissions, create the restore (or attach to
        the one an earlier try created), push its ids, and wait or defer.

        :param context: the task's Airflow context.
        :return: the final restore record, or the restore id with ``wait_for_completion=False``.
        """
        specs = parse_objects(self.objects)  # again: templates are rendered now
        self._check_ids()
        hook = self.hook
        site = hook.resolve_site_id(self.site_id)
        ledger = self._ledger(context, site)
        earlier = ledger.earlier() if self.reattach else None
        memory, unsent = self._reattach(hook, ledger, earlier, site) if earlier else (None, None)
        if memory is None:
            memory = self._create(hook, context, ledger, specs, site, unsent)
        self._publish(hook, context, memory, site)
        self._started = memory
        if not self.wait_for_completion:
            ledger.forget()
            return memory.restore_id
        return self._wait(hook, context, memory, site)

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        """Resumes after the trigger: validates the event and concludes like the blocking path.

        :param context: the task's Airflow context.
        :param event: the trigger's event.
        """
        decision = decision_from_event(event)
        if not event.get("restore_id"):
            from airflow_provider_baas.errors import BaasInvalidEvent

            raise BaasInvalidEvent(f"Restore trigger event without a restore_id: {event!r}")
        from airflow_provider_baas.reattach import RestoreMemory

        memory = RestoreMemory(str(event["job_id"]), str(event["execution_id"]), "", str(event["restore_id"]))
        site = str(event.get("site_id") or "")
        return self._conclude(context, decision, memory, site, str(event.get("deadline_kind") or "timeout"))

    def on_kill(self) -> None:
        """Say loudly that the restore goes on on the server (the API has no cancel endpoint)."""
        memory = getattr(self, "_started", None)
        if memory is not None:
            self.log.warning(self._no_cancel(memory))

    def _check_ids(self) -> None:
        if self.job_id is not None:
            validate_job_id(self.job_id)
        if self.execution_id is not None:
            validate_path_id(self.execution_id, "execution_id")
        if self.target_site is not None:
            validate_path_id(self.target_site, "target_site")
        if self.restore_name is not None:
            validate_restore_name(self.restore_name)
        if not self.teradata_conn_id or not isinstance(self.teradata_conn_id, str):
            raise BaasValidationError("teradata_conn_id is required")

    # -- reattach: what an earlier try of this task instance created

    def _ledger(self, context: Any, site: str) -> RestoreLedger:
        from airflow_provider_baas.reattach import RestoreLedger

        return RestoreLedger(context, site)

    def _reattach(
        self, hook: BaasHook, ledger: RestoreLedger, earlier: RestoreMemory, site: str
    ) -> tuple[RestoreMemory | None, RestoreMemory | None]:
        """``(restore to wait for, None)`` when an earlier try's restore runs or succeeded;
        ``(None, earlier)`` when the site does not list the restore that try was about to create (it
        is created now under the same name and from the same backup, so a request of that try that
        did arrive meets its own restore, never a second one); ``(None, None)`` when it failed."""
        from dataclasses import replace

        if earlier.restore_id is None:
            found = hook.find_restore_by_name(earlier.name, site)
            if found is None:
                self.log.warning(
                    "An earlier try was about to create BaaS restore %r, which the site does not list: "
                    "creating it now under that name.",
                    earlier.name,
                )
                return None, earlier
            earlier = replace(earlier, restore_id=found.restore_id)
            ledger.remember(earlier)
            status = found.status
        else:
            status = hook.get_restore(earlier.job_id, earlier.execution_id, earlier.restore_id, site).status
        if self.status_policy.classify(status) is Outcome.FAILED:
            self.log.warning(
                "BaaS restore %s (%r) of an earlier try ended %s: creating a new one.",
                earlier.restore_id,
                earlier.name,
                status,
            )
            return None, None
        self.log.warning(
            "Reattaching to BaaS restore %s (%r, status %s) that an earlier try of this task instance "
            "created (found via %s); not creating another.",
            earlier.restore_id,
            earlier.name,
            status,
            ledger.store_name,
        )
        return earlier, None

    # -- creating the restore

    def _create(
        self,
        hook: BaasHook,
        context: Any,
        ledger: RestoreLedger,
        specs: list[ObjectSpec],
        site: str,
        unsent: RestoreMemory | None,
    ) -> RestoreMemory:
        """Check, then create the restore. ``unsent``: what an earlier try was about to create
        (its backup and name are used again)."""
        from airflow_provider_baas.reattach import RestoreMemory

        credentials = self._credentials()  # a broken teradata connection fails before any request
        if unsent is not None:
            job_id, execution_id = unsent.job_id, unsent.execution_id
        else:
            job_id = resolve_job_id(hook, self.job_id, self.job_name, site)
            execution_id = self._backup_execution(hook, job_id, site)
        listing = hook.list_backup_objects(
            job_id, execution_id, site, poll_interval=min(self.polling.poll_interval, PREPARATION_POLL)
        )
        entries = [self._entry(spec, listed) for spec, listed in match_backup_objects(specs, listing)]
        if self.check_permissions:
            hook.check_restore_permissions(
                job_id,
                execution_id,
                objects=entries,
                target_site=self.target_site,
                credentials=credentials,
                site_id=site,
            )
        name = unsent.name if unsent else name_for_try(self._base_name(context), _try_number(context))
        ledger.remember(RestoreMemory(job_id, execution_id, name))
        restore_id = hook.create_restore(
            job_id,
            execution_id,
            name=name,
            objects=entries,
            target_site=self.target_site,
            settings=self.settings,
            credentials=credentials,
            site_id=site,
        )
        memory = RestoreMemory(job_id, execution_id, name, restore_id)
        ledger.remember(memory)
        self.log.info(
            "Created BaaS restore %s (%r) of %s from execution %s of job %s into site %s",
            restore_id,
            name,
            ", ".join(spec.label for spec in specs),
            execution_id,
            job_id,
            self.target_site or site,
        )
        return memory

    def _backup_execution(self, hook: BaasHook, job_id: str, site: str) -> str:
        if self.execution_id is not None:
            return str(self.execution_id)
        chosen = newest_successful(hook.list_job_executions(job_id, site), self.max_age, datetime.now(UTC))
        self.log.info(
            "Restoring from execution %s of job %s, the newest SUCCESSFUL backup (ended %s)",
            chosen.execution_id,
            job_id,
            chosen.end_time,
        )
        return chosen.execution_id

    def _entry(self, spec: ObjectSpec, listed: Any) -> dict[str, Any]:
        include_all = self.include_all if spec.include_all is None else spec.include_all
        excluded = self.exclude_objects if spec.exclude_objects is None else spec.exclude_objects
        return listed.restore_entry(include_all=include_all, exclude_objects=list(excluded))

    def _credentials(self) -> Any:
        from airflow_provider_baas.credentials import database_credentials

        return database_credentials(self.teradata_conn_id)

    def _base_name(self, context: Any) -> str:
        if self.restore_name:
            return self.restore_name
        ti = context.get("ti") if hasattr(context, "get") else None
        run_id = getattr(ti, "run_id", None) or _context_run_id(context)
        dag_id = getattr(ti, "dag_id", None) or self.dag_id
        map_index = getattr(ti, "map_index", -1)
        return default_restore_name(str(dag_id), self.task_id, str(run_id or "run"), map_index)

    def _publish(self, hook: BaasHook, context: Any, memory: RestoreMemory, site: str) -> None:
        """XCom before the wait: what was created, so a downstream or a human can find it."""
        self._push(context, XCOM_RESTORE_ID, memory.restore_id)
        if memory.name:
            self._push(context, XCOM_RESTORE_NAME, memory.name)
        self._push(context, XCOM_BACKUP_EXECUTION_ID, memory.execution_id)
        console_url = hook.console_url(memory.job_id, memory.execution_id, site)
        if console_url:
            self._push(context, XCOM_CONSOLE_URL, console_url)

    def _push(self, context: Any, key: str, value: Any) -> None:
        ti = context.get("ti") if hasattr(context, "get") else None
        if ti is not None:
            ti.xcom_push(key=key, value=value)

    # -- waiting: the wait layer's deadline rule, watch and decisions; R1 is what a poll reads

    def _wait(self, hook: BaasHook, context: Any, memory: RestoreMemory, site: str) -> Any:
        deadline, kind = wait_deadline(context, self.timeout, self.execution_timeout)
        watch = RestoreWatch(
            job_id=memory.job_id,
            execution_id=memory.execution_id,
            restore_id=str(memory.restore_id),
            status_policy=self.status_policy,
            polling=self.polling,
            deadline=deadline,
        )

        def read() -> Any:
            return hook.get_restore(memory.job_id, memory.execution_id, memory.restore_id, site)

        decision = poll_once(hook, watch, site, self.log, read)
        if not decision.final:
            if self.deferrable:
                self.log.info("%s; deferring to the triggerer", decision.message)
                self.defer(
                    trigger=self._trigger(watch, site, kind),
                    method_name="execute_complete",
                    timeout=defer_timeout(watch.deadline),
                )
            self.log.info("%s", decision.message)
            try:
                time.sleep(decision.wait)
                decision = wait_blocking(hook, watch, site, self.log, read)
            except AirflowTaskTimeout:
                self.log.error("%s", self._no_cancel(memory))
                raise
        return self._conclude(context, decision, memory, site, kind)

    def _trigger(self, watch: RestoreWatch, site: str, deadline_kind: str) -> Any:
        from airflow_provider_baas.triggers.restore import BaasRestoreTrigger

        return BaasRestoreTrigger(
            job_id=watch.job_id,
            execution_id=watch.execution_id,
            restore_id=watch.restore_id,
            site_id=site,
            baas_conn_id=self.baas_conn_id,
            deadline=watch.deadline,
            deadline_kind=deadline_kind,
            started_at=watch.started_at,
            poll_interval=self.polling.poll_interval,
            first_interval=self.polling.first_interval,
            **self.status_policy.to_kwargs(),
        )

    def _conclude(
        self, context: Any, decision: Any, memory: RestoreMemory, site: str, deadline_kind: str
    ) -> dict[str, Any]:
        record = conclude(
            decision,
            memory.job_id,
            memory.execution_id,
            deadline_kind,
            self.log,
            no_cancel=self._no_cancel(memory),
        )
        self._ledger(context, site).forget()
        record.setdefault("restore_id", memory.restore_id)
        record.setdefault("execution_id", memory.execution_id)
        record.setdefault("job_id", memory.job_id)
        return record

    def _no_cancel(self, memory: RestoreMemory) -> str:
        return NO_CANCEL.format(
            restore_id=memory.restore_id, execution_id=memory.execution_id, job_id=memory.job_id
        )


def newest_successful(executions: list[Execution], max_age: float | None, now: datetime) -> Execution:
    """The newest backup that ended SUCCESSFUL (by end time); younger than ``max_age`` if given.

    :param executions: the job's executions.
    :param max_age: seconds; an older newest-successful backup is refused, not replaced by an older one.
    :param now: the time the age is measured at.
    """
    good = [e for e in executions if e.end_time and BACKUP_POLICY.classify(e.status) is Outcome.SUCCESS]
    if not good:
        statuses = ", ".join(sorted({str(e.status) for e in executions})) or "none"
        raise BaasLookupError(
            f"No SUCCESSFUL execution to restore from ({len(executions)} executions; statuses: {statuses})"
        )
    newest = max(good, key=lambda e: e.end_time)  # type: ignore[arg-type,return-value]
    age = (now - newest.end_time).total_seconds()  # type: ignore[operator]
    if max_age is not None and age > max_age:
        raise BaasLookupError(
            f"The newest SUCCESSFUL backup, execution {newest.execution_id}, ended {format_duration(age)} "
            f"ago: older than max_age {format_duration(max_age)}"
        )
    return newest


def _try_number(context: Any) -> int:
    ti = context.get("ti") if hasattr(context, "get") else None
    value = getattr(ti, "try_number", 1)
    return value if isinstance(value, int) else 1


def _context_run_id(context: Any) -> str | None:
    run_id = context.get("run_id") if hasattr(context, "get") else None
    return str(run_id) if run_id else None


__all__ = ["BaasRestoreLink", "BaasRestoreOperator", "newest_successful"]
