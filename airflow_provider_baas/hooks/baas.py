"""BaasHook: the one place that speaks HTTP to the BaaS data-protection API.

Each endpoint is written once as a *request plan*: a generator that yields ``RequestSpec`` (or
``Sleep``) and receives ``Response``. A sync driver (requests) and an async driver (aiohttp, for
triggers) run the same plans, so paging, validation, error mapping, retries and the at-most-once
execute rule exist exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from airflow_provider_baas._compat import BaseHook, aget_connection
from airflow_provider_baas.connection import BaasConnectionConfig
from airflow_provider_baas.connection_form import (
    CONN_TYPE,
    DEFAULT_CONN_ID,
    HOOK_NAME,
    UI_FIELD_BEHAVIOUR,
    connection_form_widgets,
)
from airflow_provider_baas.durations import format_duration
from airflow_provider_baas.errors import (
    BaasApiError,
    BaasAuthError,
    BaasConfigurationError,
    BaasError,
    BaasExecuteOutcomeUnknown,
    BaasExecutionNotFound,
    BaasLookupError,
    BaasNotFoundError,
    BaasResponseError,
    BaasTransportSetupError,
    BaasValidationError,
)
from airflow_provider_baas.hooks.auth import Authenticator, authenticator_for
from airflow_provider_baas.hooks.transport import (
    RETRYABLE_STATUSES,
    AsyncTransport,
    Fatal,
    MaybeSent,
    RequestSpec,
    Response,
    RetryPolicy,
    Sleep,
    SyncTransport,
    TransportFailure,
    path_segment,
    to_api_error,
    transport_error,
)
from airflow_provider_baas.models import (
    Execution,
    Job,
    executions_a_request_may_have_started,
    executions_started_since,
)
from airflow_provider_baas.polling import Lookup
from airflow_provider_baas.secrets import SecretSet

log = logging.getLogger(__name__)

T = TypeVar("T")
Plan = Generator[RequestSpec | Sleep, Response | None, T]
RunningTest = Callable[[str | None], bool] | None

RUN_TYPES = ("FULL", "DELTA", "CUMULATIVE")
JOB_TYPES = ("BACKUP", "RESTORE")
# Hard stop for a listing that never ends (a server that ignores paging is caught earlier).
MAX_PAGES = 10_000
# After a lost execute answer: how often and how long to look for the execution it may have started.
EXECUTE_LOOKUP_ATTEMPTS = 4
EXECUTE_LOOKUP_INTERVAL = 5.0
# Tolerated difference between our clock and the API's when matching "started after we sent it".
CLOCK_SKEW = timedelta(seconds=60)


@dataclass(frozen=True)
class LostAnswer:
    """What a lookup after a lost execute answer knows: the run type sent, and the executions
    listed before the request (None: not listed)."""

    run_type: str
    known_before: frozenset[str] | None


class Polled(NamedTuple):
    """One poll's answer: the execution, and what the poll learned about the job summary.

    ``summary_answered``: True when the summary named the execution, False when it was read and
    did not (so the listing was read too), None when only the listing was read. ``rows``: the
    listing's raw rows up to the page that holds ours (empty when it was not read): the job's
    history at no extra request, parsed only when asked for (``listed``).
    """

    execution: Execution
    summary_answered: bool | None
    rows: tuple[Any, ...] = ()

    @property
    def listed(self) -> list[Execution]:
        """The rows as executions; rows that are not one are left out (they only inform the schedule)."""
        parsed = []
        for row in self.rows:
            try:
                parsed.append(Execution.from_dict(row))
            except (TypeError, ValueError):
                continue
        return parsed


# Parsed connections shared per event loop (see BaasHook.aconfig), at most this many per loop.
MAX_SHARED_CONNECTIONS = 64
Shared = tuple[BaasConnectionConfig, Authenticator, AsyncTransport]
_loop_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Shared]] = (
    weakref.WeakKeyDictionary()
)


# ----------------------------------------------------------------------------------------------
# Input validation: every public call checks its input before any request is built.


# Whitespace (as str.isspace sees it) and control characters; then what would leave or escape the
# segment. Compiled once: the triggerer validates ids on every poll of thousands of waits.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_PATH_ESCAPE = re.compile(r"[/\\%]|\.\.")


def validate_path_id(value: Any, what: str) -> str:
    """A non-empty id that is safe as one URL path segment."""
    if value is None or isinstance(value, bool):
        raise BaasValidationError(f"{what} is required, got {value!r}")
    text = str(value)
    if not text.strip():
        raise BaasValidationError(f"{what} must not be empty")
    if _SPACE_OR_CONTROL.search(text):
        raise BaasValidationError(f"{what} {text!r} must not contain whitespace or control characters")
    if text == "." or _PATH_ESCAPE.search(text):
        raise BaasValidationError(f"{what} {text!r} must not contain '/', '\\', '..' or '%'")
    return text


def validate_job_id(value: Any) -> str:
    """Job ids are positive integers in the API (``"job_id": 34``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise BaasValidationError(f"job_id must be a positive integer, got {value}")
        return str(value)
    text = validate_path_id(value, "job_id")
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise BaasValidationError(f"job_id must be a positive integer, got {text!r}")
    return str(int(text))


def normalise_run_type(value: Any) -> str:
    word = str(value or "").strip().upper()
    if word not in RUN_TYPES:
        raise BaasValidationError(f"run_type must be one of {', '.join(RUN_TYPES)} (any case), got {value!r}")
    return word


def normalise_job_type(value: Any) -> str:
    word = str(value or "").strip().upper()
    if word not in JOB_TYPES:
        raise BaasValidationError(f"job_type must be BACKUP or RESTORE (any case), got {value!r}")
    return word


def _parse(spec: RequestSpec, response: Response, parser: Callable[[Any], T], raw: Any) -> T:
    try:
        return parser(raw)
    except TypeError as exc:
        raise BaasResponseError(
            response.status, spec.method, spec.path, f"unexpected payload: {exc}"
        ) from None


class BaasHook(BaseHook):
    """Talks to ``https://<api-path>/data-protection/v2/sites/{site_id}/...`` for one ``baas`` connection.

    :param baas_conn_id: the Airflow connection (type ``baas``).
    :param site_id: overrides the connection's ``site_id`` for every call of this hook.
    """

    conn_name_attr = "baas_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    def __init__(self, baas_conn_id: str = DEFAULT_CONN_ID, site_id: str | None = None) -> None:
        super().__init__()
        if not baas_conn_id or not str(baas_conn_id).strip():
            raise BaasValidationError("baas_conn_id must name an Airflow connection")
        self.baas_conn_id = baas_conn_id
        self.site_id = site_id
        # Epoch seconds after which no retry starts (set by a wait whose deadline must bind each poll).
        self.retry_deadline: float | None = None
        self._config: BaasConnectionConfig | None = None
        self._auth: Authenticator | None = None
        self._sync: SyncTransport | None = None
        self._async: AsyncTransport | None = None
        self._retry: RetryPolicy | None = None

    # -- connection form (Airflow 2.11; Airflow >= 3.2 reads the same definition from provider info)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, list) else dict(v)) for k, v in UI_FIELD_BEHAVIOUR.items()}

    # -- configuration

    def _configure(self, config: BaasConnectionConfig) -> BaasConnectionConfig:
        self._config = config
        self._auth = authenticator_for(config)
        self._retry = None
        return config

    @property
    def config(self) -> BaasConnectionConfig:
        """The parsed connection (looked up synchronously on first use)."""
        if self._config is None:
            # Inline: Airflow 3's Connection repr shows the password, so no frame of ours binds it.
            self._configure(BaasConnectionConfig.from_connection(self.get_connection(self.baas_conn_id)))
        assert self._config is not None
        return self._config

    async def aconfig(self) -> BaasConnectionConfig:
        """The parsed connection, looked up without blocking the event loop (triggerer-safe).

        Hooks on one event loop whose connection reads the same share its settings, authenticator
        (one minted JWT rather than one per trigger) and transport: see ``_share_on_loop``.
        """
        if self._config is None:
            # Inline: a Connection's repr shows its password and extra, and a frame that raises
            # (a refused setting) must not hold it as a local.
            parse = BaasConnectionConfig.from_connection
            self._share_on_loop(parse(await aget_connection(self.baas_conn_id)))
        assert self._config is not None
        return self._config

    def _share_on_loop(self, config: BaasConnectionConfig) -> None:
        per_loop = _loop_shared.setdefault(asyncio.get_running_loop(), {})
        key = config.identity()
        shared = per_loop.get(key)
        if shared is None:
            shared = (config, authenticator_for(config), AsyncTransport(config))
            if len(per_loop) >= MAX_SHARED_CONNECTIONS:
                per_loop.pop(next(iter(per_loop)))  # the oldest; hooks using it keep their own reference
            per_loop[key] = shared
        self._config, self._auth, self._async = shared
        self._retry = None

    def resolve_site_id(self, site_id: str | None = None) -> str:
        """The call's site, else the hook's, else the connection's; a clear error when none is set."""
        chosen = site_id or self.site_id or self.config.site_id
        if not chosen:
            raise BaasConfigurationError(
                f"No BaaS site_id: pass site_id= to the task or hook, or set 'site_id' in the extra of "
                f"connection {self.baas_conn_id!r}"
            )
        return validate_path_id(chosen, "site_id")

    def execution_url(self, job_id: str, execution_id: str, site_id: str | None = None) -> str:
        """The API URL of a job's executions, for XCom and the operator's extra link."""
        site = path_segment(self.resolve_site_id(site_id))
        return f"{self.config.base_url}/sites/{site}/jobs/{path_segment(job_id)}/executions#{execution_id}"

    def console_url(self, job_id: str, execution_id: str, site_id: str | None = None) -> str | None:
        """The execution's page in the BaaS console, from the connection's ``console_url``; None if unset.

        :param job_id: the job.
        :param execution_id: the execution.
        :param site_id: the site (default: the connection's).
        """
        template = self.config.console_url
        if not template:
            return None
        from airflow_provider_baas.console import render_console_url

        site = self.resolve_site_id(site_id)
        return render_console_url(template, site_id=site, job_id=str(job_id), execution_id=execution_id)

    # -- public API (sync)

    def list_jobs(
        self, site_id: str | None = None, *, is_active: bool | None = None, job_type: str | None = None
    ) -> list[Job]:
        """Every job of the site (all pages), optionally only active ones or one job type."""
        return self._run(self._plan_list_jobs(site_id, is_active, job_type))

    def get_job(self, job_id: Any, site_id: str | None = None) -> Job:
        return self._run(self._plan_get_job(job_id, site_id))

    def execute_job(
        self,
        job_id: Any,
        run_type: str = "FULL",
        site_id: str | None = None,
        known_before: Iterable[str] | None = None,
    ) -> str:
        """Start a job; returns the execution id. Never re-sends a request that may have started one.

        :param known_before: ids of the job's executions listed before this call. When the answer
            is lost, the execution it started is looked for among the others; without them, a
            queued execution (no start time) cannot be told from another caller's and is not taken.
        """
        return self._run(self._plan_execute_job(job_id, run_type, site_id, known_before))

    def list_executions(self, site_id: str | None = None) -> list[Execution]:
        return self._run(self._plan_list_executions(None, site_id))

    def list_job_executions(self, job_id: Any, site_id: str | None = None) -> list[Execution]:
        return self._run(self._plan_list_executions(validate_job_id(job_id), site_id))

    def get_execution(self, job_id: Any, execution_id: Any, site_id: str | None = None) -> Execution:
        """One execution, found in the job's listing (the API has no single-execution endpoint)."""
        return self._run(self._plan_get_execution(job_id, execution_id, site_id))

    def poll_execution(
        self, job_id: Any, execution_id: Any, site_id: str | None = None, *, is_running: RunningTest = None
    ) -> Execution:
        """The execution's current state, the summary first (see ``_plan_poll_execution``)."""
        return self.poll_execution_by(job_id, execution_id, site_id, is_running=is_running).execution

    def poll_execution_by(
        self,
        job_id: Any,
        execution_id: Any,
        site_id: str | None = None,
        *,
        is_running: RunningTest = None,
        lookup: Lookup | str = Lookup.SUMMARY,
    ) -> Polled:
        """The execution's current state through ``lookup``, and whether the summary could tell it.

        :param job_id: the job.
        :param execution_id: the execution.
        :param site_id: the site (default: the connection's).
        :param is_running: which statuses the summary may answer alone (None: never).
        :param lookup: ``"summary"`` (the job summary, then the listing if it cannot answer) or
            ``"listing"`` (the listing alone); see ``polling.LookupChoice``.
        """
        return self._run(self._plan_poll_execution(job_id, execution_id, site_id, is_running, lookup))

    def find_job_by_name(self, name: str, site_id: str | None = None) -> Job:
        """The one job whose name is exactly ``name``."""
        return self._run(self._plan_find_job_by_name(name, site_id))

    def test_connection(self) -> tuple[bool, str]:
        """Lists one page of jobs; never raises (the UI's Test button shows the message)."""
        try:
            jobs = self._run(self._plan_probe())
        except BaasAuthError as exc:
            return False, self._redacted(f"Authentication failed (HTTP {exc.status}): {exc.message}")
        except BaasNotFoundError as exc:
            return False, self._redacted(
                f"Not found (HTTP 404) - check the site ID and the base URL: {exc.message}"
            )
        except Exception as exc:
            return False, self._redacted(f"{type(exc).__name__}: {exc}")
        return (
            True,
            f"Connected to {self.config.base_url}, site {self.resolve_site_id()}: {jobs} job(s) on page 1",
        )

    def _redacted(self, text: str) -> str:
        """``text`` without the connection's secrets (when the connection could be read at all)."""
        return self._config.secrets.redact(text) if self._config is not None else text

    # -- public API (async, for triggers)

    async def alist_jobs(
        self, site_id: str | None = None, *, is_active: bool | None = None, job_type: str | None = None
    ) -> list[Job]:
        return await self._arun(self._plan_list_jobs(site_id, is_active, job_type))

    async def aget_job(self, job_id: Any, site_id: str | None = None) -> Job:
        return await self._arun(self._plan_get_job(job_id, site_id))

    async def aexecute_job(
        self,
        job_id: Any,
        run_type: str = "FULL",
        site_id: str | None = None,
        known_before: Iterable[str] | None = None,
    ) -> str:
        return await self._arun(self._plan_execute_job(job_id, run_type, site_id, known_before))

    async def alist_executions(self, site_id: str | None = None) -> list[Execution]:
        return await self._arun(self._plan_list_executions(None, site_id))

    async def alist_job_executions(self, job_id: Any, site_id: str | None = None) -> list[Execution]:
        return await self._arun(self._plan_list_executions(validate_job_id(job_id), site_id))

    async def aget_execution(self, job_id: Any, execution_id: Any, site_id: str | None = None) -> Execution:
        return await self._arun(self._plan_get_execution(job_id, execution_id, site_id))

    async def apoll_execution(
        self, job_id: Any, execution_id: Any, site_id: str | None = None, *, is_running: RunningTest = None
    ) -> Execution:
        polled = await self.apoll_execution_by(job_id, execution_id, site_id, is_running=is_running)
        return polled.execution

    async def apoll_execution_by(
        self,
        job_id: Any,
        execution_id: Any,
        site_id: str | None = None,
        *,
        is_running: RunningTest = None,
        lookup: Lookup | str = Lookup.SUMMARY,
    ) -> Polled:
        """Async ``poll_execution_by`` (same parameters)."""
        return await self._arun(self._plan_poll_execution(job_id, execution_id, site_id, is_running, lookup))

    async def afind_job_by_name(self, name: str, site_id: str | None = None) -> Job:
        return await self._arun(self._plan_find_job_by_name(name, site_id))

    # -- request plans (written once, run by both drivers)

    def _site_path(self, site_id: str | None) -> str:
        return f"/sites/{path_segment(self.resolve_site_id(site_id))}"

    def _plan_paged(
        self, path: str, params: dict[str, Any], stop: Callable[[list[Any]], bool] | None = None
    ) -> Plan[list[Any]]:
        """Every row of a bare-array listing, page by page, until a short, empty or repeated page."""
        size = self.config.page_size
        rows: list[Any] = []
        previous: list[Any] | None = None
        for page in range(1, MAX_PAGES + 1):
            spec = RequestSpec("GET", path, {**params, "page": page, "page-size": size})
            batch = self._json_list(spec, (yield spec))
            if not batch or batch == previous:
                break
            rows.extend(batch)
            if len(batch) < size or (stop is not None and stop(batch)):
                break
            previous = batch
        else:
            raise BaasResponseError(200, "GET", path, f"listing did not end after {MAX_PAGES} pages")
        return rows

    def _plan_list_jobs(
        self, site_id: str | None, is_active: bool | None, job_type: str | None
    ) -> Plan[list[Job]]:
        params: dict[str, Any] = {}
        if is_active is not None:
            if not isinstance(is_active, bool):
                raise BaasValidationError(f"is_active must be True, False or None, got {is_active!r}")
            params["is-active"] = "true" if is_active else "false"
        if job_type is not None:
            params["job-type"] = normalise_job_type(job_type)
        path = f"{self._site_path(site_id)}/jobs"
        rows = yield from self._plan_paged(path, params)
        return [_parse(RequestSpec("GET", path), Response(200, {}, ""), Job.from_dict, row) for row in rows]

    def _plan_get_job(self, job_id: Any, site_id: str | None) -> Plan[Job]:
        spec = RequestSpec("GET", f"{self._site_path(site_id)}/jobs/{validate_job_id(job_id)}")
        response = yield spec
        return _parse(spec, response, Job.from_dict, self._json(spec, response))

    def _plan_list_executions(
        self, job_id: Any, site_id: str | None, stop: Callable[[list[Any]], bool] | None = None
    ) -> Plan[list[Execution]]:
        base = self._site_path(site_id)
        path = (
            f"{base}/jobs/{validate_job_id(job_id)}/executions"
            if job_id is not None
            else f"{base}/executions"
        )
        rows = yield from self._plan_paged(path, {}, stop)
        return [
            _parse(RequestSpec("GET", path), Response(200, {}, ""), Execution.from_dict, row) for row in rows
        ]

    def _plan_get_execution(self, job_id: Any, execution_id: Any, site_id: str | None) -> Plan[Execution]:
        wanted = validate_path_id(execution_id, "execution_id")
        job = validate_job_id(job_id)

        def found(rows: list[Any]) -> bool:
            return any(isinstance(r, dict) and str(r.get("execution_id")) == wanted for r in rows)

        executions = yield from self._plan_list_executions(job, site_id, stop=found)
        for execution in executions:
            if execution.execution_id == wanted:
                return execution
        raise BaasExecutionNotFound(
            404,
            "GET",
            f"{self._site_path(site_id)}/jobs/{job}/executions",
            f"execution {wanted} not found among the {len(executions)} executions of job {job}",
        )

    def _plan_poll_listing(self, job: str, wanted: str, site_id: str | None) -> Plan[tuple[Execution, tuple]]:
        """The execution from the job's listing, read up to the page that holds it, and the raw rows.

        Only the execution's own row is parsed: a poll on a page of 100 executions would otherwise
        spend more on building records nobody reads than on the request itself.
        """
        path = f"{self._site_path(site_id)}/jobs/{job}/executions"

        def ours(row: Any) -> bool:
            return isinstance(row, dict) and str(row.get("execution_id")) == wanted

        rows = yield from self._plan_paged(path, {}, lambda page: any(ours(r) for r in page))
        row = next((r for r in rows if ours(r)), None)
        if row is None:
            raise BaasExecutionNotFound(
                404,
                "GET",
                path,
                f"execution {wanted} not found among the {len(rows)} executions of job {job}",
            )
        return _parse(RequestSpec("GET", path), Response(200, {}, ""), Execution.from_dict, row), tuple(rows)

    def _plan_poll_execution(
        self,
        job_id: Any,
        execution_id: Any,
        site_id: str | None,
        is_running: RunningTest,
        lookup: Lookup | str,
    ) -> Plan[Polled]:
        """One request per poll, by the lookup the wait has learned answers it.

        ``summary``: one small GET of the job, enough while its ``last_execution_details`` show this
        execution running. Jobs keep hundreds of past executions and the listing is paged, so the
        listing is read (stopping at the page that holds the execution) only when the summary
        cannot answer: the execution finished (the full record carries ``status_detail``), another
        one is newer, or the API shows only finished executions there. ``listing``: that read alone.
        """
        wanted = validate_path_id(execution_id, "execution_id")
        job = validate_job_id(job_id)
        if lookup not in tuple(Lookup):
            raise BaasValidationError(f"lookup must be one of {[str(k) for k in Lookup]}, got {lookup!r}")
        if lookup == Lookup.LISTING:
            execution, rows = yield from self._plan_poll_listing(job, wanted, site_id)
            return Polled(execution, None, rows)
        spec = RequestSpec("GET", f"{self._site_path(site_id)}/jobs/{job}")
        response = yield spec
        summary = _parse(
            spec, response, lambda raw: Execution.from_job_summary(raw, wanted), self._json(spec, response)
        )
        if is_running is not None and summary is not None and is_running(summary.status):
            return Polled(summary, True)
        execution, rows = yield from self._plan_poll_listing(job, wanted, site_id)
        return Polled(execution, summary is not None, rows)

    def _plan_find_job_by_name(self, name: str, site_id: str | None) -> Plan[Job]:
        if not isinstance(name, str) or not name.strip():
            raise BaasValidationError(f"job_name must be a non-empty string, got {name!r}")
        site = self.resolve_site_id(site_id)
        jobs = yield from self._plan_list_jobs(site, None, None)
        matches = [j for j in jobs if j.name == name]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            close = sorted(j.name for j in jobs if j.name and j.name.lower() == name.lower())
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise BaasLookupError(f"No BaaS job named {name!r} on site {site}{hint}")
        ids = ", ".join(j.job_id for j in matches)
        raise BaasLookupError(
            f"{len(matches)} BaaS jobs are named {name!r} on site {site} (ids {ids}): use job_id"
        )

    def _plan_probe(self) -> Plan[int]:
        spec = RequestSpec("GET", f"{self._site_path(None)}/jobs", {"page": 1, "page-size": 1})
        return len(self._json_list(spec, (yield spec)))

    def _plan_execute_job(
        self, job_id: Any, run_type: str, site_id: str | None, known_before: Iterable[str] | None = None
    ) -> Plan[str]:
        job = validate_job_id(job_id)
        body = {"run_type": normalise_run_type(run_type)}
        lost = LostAnswer(
            body["run_type"], None if known_before is None else frozenset(map(str, known_before))
        )
        site = self.resolve_site_id(site_id)
        spec = RequestSpec(
            "POST",
            f"{self._site_path(site)}/jobs/{job}/execute",
            json_body=body,
            idempotent=False,
            fresh_connection=True,
        )
        sent_at = datetime.now(UTC)
        try:
            response = yield spec
        except MaybeSent as exc:
            reason = self.config.secrets.redact(str(exc))
            log.warning(
                "Execute request for BaaS job %s got no answer (%s); looking for the execution it "
                "may have started instead of re-sending it",
                job,
                reason,
            )
            return (yield from self._plan_recover_execution(job, site, sent_at, reason, lost))
        execution_id = (response.headers.get("x-resource-id") or "").strip()
        if execution_id:
            log.info("Started BaaS job %s on site %s: execution %s", job, site, execution_id)
            return execution_id
        log.warning("Execute of BaaS job %s answered HTTP %s without x-resource-id", job, response.status)
        return (
            yield from self._plan_recover_execution(
                job, site, sent_at, "the answer had no x-resource-id", lost
            )
        )

    def _plan_recover_execution(
        self, job: str, site: str, sent_at: datetime, reason: str, lost: LostAnswer
    ) -> Plan[str]:
        """Find the execution a lost execute answer started; never re-send the POST.

        Never one listed before the POST or of another run type (see
        ``executions_a_request_may_have_started``).
        """
        since = sent_at - CLOCK_SKEW
        last_error = ""
        sighted: str | None = None
        # One look more than the attempts when the last one first saw a candidate: see below.
        for attempt in range(1, EXECUTE_LOOKUP_ATTEMPTS + 2):
            if attempt > EXECUTE_LOOKUP_ATTEMPTS and sighted is None:
                break
            if attempt > 1:
                yield Sleep(EXECUTE_LOOKUP_INTERVAL)
            try:
                executions = yield from self._plan_list_executions(job, site)
            except BaasError as exc:
                last_error = f"; listing executions failed: {exc}"
                continue
            candidates = executions_a_request_may_have_started(
                executions, since, lost.run_type, lost.known_before
            )
            if len(candidates) > 1:
                ids = ", ".join(c.execution_id for c in candidates)
                raise BaasExecuteOutcomeUnknown(
                    job, site, f"{reason}; several executions started since: {ids}"
                )
            if len(candidates) == 1 and candidates[0].execution_id == sighted:
                found = candidates[0]
                log.warning(
                    "Recovered execution %s of BaaS job %s (started %s) after: %s",
                    found.execution_id,
                    job,
                    found.start_time,
                    reason,
                )
                return found.execution_id
            # A listing that lags may show another caller's run, started just before ours, while
            # ours is not listed yet: a candidate counts once a second look shows it alone again.
            sighted = candidates[0].execution_id if candidates else None
            last_error = f"; no execution of the job started since {since.isoformat()}"
        raise BaasExecuteOutcomeUnknown(job, site, reason + last_error)

    # -- bodies

    def _json(self, spec: RequestSpec, response: Response) -> Any:
        try:
            return json.loads(response.text)
        except ValueError:
            pass  # raised below, outside the handler: the decoder's exception holds the body
        # Redact, then cut: a secret straddling the cut would otherwise leave its start behind.
        snippet = self.config.secrets.redact_prefix(response.text, 80)
        raise BaasResponseError(response.status, spec.method, spec.path, f"body is not JSON: {snippet!r}")

    def _json_list(self, spec: RequestSpec, response: Response) -> list[Any]:
        data = self._json(spec, response)
        if not isinstance(data, list):
            raise BaasResponseError(
                response.status, spec.method, spec.path, f"expected a JSON array, got {type(data).__name__}"
            )
        return data

    # -- drivers

    def _retry_policy(self) -> RetryPolicy:
        if self._retry is None:  # the connection's settings do not change: one policy per hook
            self._retry = RetryPolicy(self.config.max_attempts, self.config.max_retry_wait)
        return self._retry

    def _run(self, plan: Plan[T]) -> T:
        if self._sync is None:
            self._sync = SyncTransport(self.config)
        step: Any = None
        error: BaseException | None = None
        while True:
            try:
                instruction = plan.throw(error) if error is not None else plan.send(step)
            except StopIteration as done:
                return done.value
            step, error = None, None
            if isinstance(instruction, Sleep):
                time.sleep(instruction.seconds)
                continue
            try:
                step = self._send_sync(instruction)
            except Exception as exc:  # handed to the plan, which may recover (lost execute answer)
                error = exc

    async def _arun(self, plan: Plan[T]) -> T:
        if self._async is None:
            config = await self.aconfig()
            if self._async is None:  # configured earlier by the sync path
                self._async = AsyncTransport(config)
        step: Any = None
        error: BaseException | None = None
        while True:
            try:
                instruction = plan.throw(error) if error is not None else plan.send(step)
            except StopIteration as done:
                return done.value
            step, error = None, None
            if isinstance(instruction, Sleep):
                await asyncio.sleep(instruction.seconds)
                continue
            try:
                step = await self._send_async(instruction)
            except Exception as exc:  # handed to the plan, which may recover (lost execute answer)
                error = exc

    def _send_sync(self, spec: RequestSpec) -> Response:
        assert self._sync is not None and self._auth is not None
        attempt, waited, renewed = 0, 0.0, False
        policy = self._retry_policy()
        while True:
            attempt += 1
            try:
                response: Response | Exception = self._sync.send(spec, self._auth.headers())
            except TransportFailure as exc:
                response = exc
            if isinstance(response, Fatal):
                raise _setup_error(spec, response, self.config.secrets)
            wait, renewed = self._next_step(spec, response, attempt, waited, policy, renewed)
            if wait is None:
                assert isinstance(response, Response)
                return response
            time.sleep(wait)
            waited += wait

    async def _send_async(self, spec: RequestSpec) -> Response:
        assert self._async is not None and self._auth is not None
        attempt, waited, renewed = 0, 0.0, False
        policy = self._retry_policy()
        while True:
            attempt += 1
            try:
                response: Response | Exception = await self._async.send(spec, self._auth.headers())
            except TransportFailure as exc:
                response = exc
            if isinstance(response, Fatal):
                raise _setup_error(spec, response, self.config.secrets)
            wait, renewed = self._next_step(spec, response, attempt, waited, policy, renewed)
            if wait is None:
                assert isinstance(response, Response)
                return response
            await asyncio.sleep(wait)
            waited += wait

    def _next_step(
        self,
        spec: RequestSpec,
        outcome: Response | Exception,
        attempt: int,
        waited: float,
        policy: RetryPolicy,
        renewed: bool,
    ) -> tuple[float | None, bool]:
        """The retry rule, shared by both transports: ``(None, _)`` = done, else seconds to wait.

        Raises the error to report when no retry is allowed.
        """
        assert self._auth is not None
        if isinstance(outcome, Response) and outcome.status < 300:
            return None, renewed
        if isinstance(outcome, Response):
            if outcome.status == 401 and self._auth.renewable and not renewed:
                log.info("BaaS API answered 401: minting a new token and retrying once")
                self._auth.invalidate()
                return 0.0, True
            error = to_api_error(spec, outcome, self.config.secrets)
            if outcome.status not in RETRYABLE_STATUSES:
                raise error
            if outcome.status != 429 and not spec.idempotent:
                # A 5xx on execute may still have started the job: let the plan look for it.
                raise MaybeSent(str(error), type(error).__name__)
            retry_after = error.retry_after if outcome.status == 429 else None  # type: ignore[attr-defined]
            wait = self._within_deadline(policy.wait_before_retry(attempt, waited, retry_after))
            if wait is None:
                raise error
        else:
            if isinstance(outcome, MaybeSent) and not spec.idempotent:
                raise outcome
            wait = self._within_deadline(policy.wait_before_retry(attempt, waited))
            if wait is None:
                raise transport_error(spec, outcome, self.config.secrets) from None
        log.info(
            "BaaS API %s %s: %s; attempt %d failed, retrying in %s",
            spec.method,
            spec.path,
            _describe(outcome),
            attempt,
            format_duration(wait),
        )
        return wait, renewed

    def _within_deadline(self, wait: float | None) -> float | None:
        """No retry that would end after ``retry_deadline``: a wait's deadline binds its last poll too."""
        if wait is not None and self.retry_deadline is not None and time.time() + wait > self.retry_deadline:
            return None
        return wait

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()


def _setup_error(spec: RequestSpec, exc: Fatal, secrets: SecretSet) -> BaasTransportSetupError:
    """A failure no retry can fix (TLS verification, bad URL or proxy): not transient anywhere."""
    error = transport_error(spec, exc, secrets)
    return BaasTransportSetupError(error.method, error.path, error.reason)


def _describe(outcome: Response | Exception) -> str:
    if isinstance(outcome, Response):
        return f"HTTP {outcome.status}"
    return outcome.cause if isinstance(outcome, TransportFailure) else type(outcome).__name__


__all__ = ["BaasApiError", "BaasHook", "executions_started_since", "normalise_run_type", "validate_job_id"]
