"""The BaaS simulator: an aiohttp HTTP server in a daemon thread, plus its Python control API."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from aiohttp import web

from airflow_provider_baas.testing.auth import Authenticator
from airflow_provider_baas.testing.constants import (
    BASE_PATH,
    DEFAULT_JWT_AUDIENCE,
    DEFAULT_TOKEN,
    JOB_TYPES,
    RUN_TYPES,
)
from airflow_provider_baas.testing.faults import MALFORMED_BODY, Fault, FaultSet
from airflow_provider_baas.testing.restores import RestoreBook, SimRestore, objects_of
from airflow_provider_baas.testing.scenario import SUMMARY_DETAILS, Outcome, Scenario, parse_time
from airflow_provider_baas.testing.state import SimClock, SimError, SimState

log = logging.getLogger(__name__)

_JSON = "application/json"
_BASE_PREFIX = BASE_PATH + "/sites/"
_SHUTDOWN_TIMEOUT = 2.0


@dataclass(slots=True)
class RecordedRequest:
    """One request as the simulator saw it. Headers and bodies are never recorded.

    ``time`` is the wall-clock arrival time (epoch seconds). ``status`` is None while the request
    is being answered and when no answer was sent (``drop`` and ``lost_answer`` faults, or a
    delayed request cut short by :meth:`BaasSimulator.stop`); ``fault`` is the kind of the fault
    applied, if any. A request held by a ``delay`` fault is processed after the delay even if the
    client has given up meanwhile, like on a slow server.
    """

    method: str
    path: str
    query: dict[str, str]
    time: float
    status: int | None = None
    fault: str | None = None


def _error(err: SimError, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=err.status, body=json.dumps(err.body()).encode(), content_type=_JSON, headers=headers
    )


_SITE_RESTORE_ENDPOINTS = {
    "objects-preparation-status": ("O2", ("GET",)),
    "restores": ("R2", ("GET",)),
    "restore-permissions": ("R3", ("POST",)),
    "databases": ("R4", ("GET",)),
}
_EXECUTION_RESTORE_ENDPOINTS = {
    "prepare-objects": ("O1", ("POST",)),
    "objects": ("O3", ("GET",)),
    "restores": ("R6", ("GET", "POST")),  # GET: R5, the execution's restores (path inferred)
}


def _restore_route(rest: list[str]) -> tuple[str | None, tuple[str, ...]]:
    """The endpoint id and its methods for a path below ``/sites/{site_id}``, else ``(None, ())``."""
    if len(rest) == 1:
        return _SITE_RESTORE_ENDPOINTS.get(rest[0], (None, ()))
    if rest[0] != "jobs" or rest[2] != "executions" or not rest[1] or not rest[3]:
        return None, ()
    if len(rest) == 5:
        return _EXECUTION_RESTORE_ENDPOINTS.get(rest[4], (None, ()))
    if len(rest) == 6 and rest[4] == "restores" and rest[5]:
        return "R1", ("GET",)
    return None, ()


def _json(status: int, data: Any) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(), content_type=_JSON)


async def _json_body(request: web.BaseRequest) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        raise SimError(400, "request body is not valid JSON") from None


def _bool_param(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise SimError(400, f"query parameter {name} must be true or false, got {raw!r}")
    return value == "true"


def _int_param(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise SimError(400, f"query parameter {name} must be a positive integer, got {raw!r}")
    return int(raw)


class BaasSimulator:
    """An in-process BaaS (data-protection v2) server for tests.

    Use it as a context manager (or call :meth:`start` / :meth:`stop`)::

        with BaasSimulator(time_scale=3600) as sim:
            requests.get(f"{sim.base_url}/sites/{sim.site_id}/jobs",
                         headers={"Authorization": f"Bearer {sim.token}"})

    With no token, JWT key or required header configured, every request is accepted.

    :param scenario: a :class:`Scenario`, a dict, JSON text or a JSON file path (default:
        :meth:`Scenario.default`).
    :param token: the accepted bearer token (principal ``"default"``); None: no static token.
    :param tokens: more accepted tokens: token value -> principal name.
    :param jwt_public_key: also accept RS256 JWTs signed by this key's private half (a PEM, a PEM
        file's path or a cryptography key).
    :param jwt_kid: the ``kid`` a JWT's header must carry (None: any).
    :param jwt_audience: the audience a JWT must contain when it has an ``aud`` claim.
    :param jwt_leeway: seconds of clock difference allowed when checking a JWT's expiry.
    :param site_access: principal -> the site ids it may use (principals not listed: every site).
    :param required_headers: headers every request must carry with exactly these values (an API
        gateway's key).
    :param time_scale: BaaS seconds per real second (0 freezes time; :meth:`advance` always works).
    :param start_time: the simulated "now" at start (ISO string, epoch seconds or datetime;
        default: the scenario's, else the real now).
    :param clock: a real-time source replacing :func:`time.monotonic`, for deterministic tests.
    :param host: the address to listen on.
    :param port: the port (0: a free one, see :attr:`port` once started).
    :param on_concurrent_execute: ``"reject"`` (409 while the job has a non-final execution) or
        ``"allow"``.
    :param executions_order: ``"newest_first"`` or ``"oldest_first"`` in the executions listings.
    :param run_schedules: run each active job with a ``schedule_interval`` at its
        ``next_run_time``, as BaaS's own scheduler does.
    :param ignore_paging: list endpoints ignore ``page``/``page-size``.
    :param execute_response_body: the body of the execute answer (J3; default empty).
    :param faults: faults to inject from the start (see :class:`Fault`).
    :param request_log_limit: how many of the latest requests the log keeps (None: all).
    :param on_request: called with each :class:`RecordedRequest` once answered.

    Objects and restores (O1-O3, R1-R6; docs/restores.md): backed-up objects per execution,
    preparations and restores that take (scaled) time, ``x-auth-credentials`` checked against the
    scenario's database user, denials and name conflicts; scripted with ``set_backup_objects``,
    ``fail_preparations``, ``set_database_credentials``, ``deny_restores``, ``set_restore_outcome``,
    and read with ``restores``/``restore``.
    """

    def __init__(
        self,
        scenario: Scenario | Mapping[str, Any] | str | os.PathLike[str] | None = None,
        *,
        token: str | None = DEFAULT_TOKEN,
        tokens: Mapping[str, str] | None = None,
        jwt_public_key: Any = None,
        jwt_kid: str | None = None,
        jwt_audience: str = DEFAULT_JWT_AUDIENCE,
        jwt_leeway: float = 0.0,
        site_access: Mapping[str, Iterable[str]] | None = None,
        required_headers: Mapping[str, str] | None = None,
        time_scale: float = 1.0,
        start_time: str | float | datetime | None = None,
        clock: Callable[[], float] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        on_concurrent_execute: str = "reject",
        executions_order: str = "newest_first",
        run_schedules: bool = False,
        ignore_paging: bool = False,
        execute_response_body: str | bytes | None = None,
        faults: Iterable[Fault | Mapping[str, Any]] = (),
        request_log_limit: int | None = 100_000,
        on_request: Callable[[RecordedRequest], None] | None = None,
    ) -> None:
        if scenario is None:
            scenario = Scenario.default()
        elif not isinstance(scenario, Scenario):
            scenario = Scenario.from_json(scenario)
        self.scenario = scenario
        start = parse_time(start_time) if start_time is not None else scenario.start_epoch()
        self.clock = SimClock(time_scale, start=start, source=clock)
        self.state = SimState(
            scenario,
            self.clock,
            on_concurrent_execute=on_concurrent_execute,
            executions_order=executions_order,
            run_schedules=run_schedules,
        )
        self.restore_book = RestoreBook(self.state, scenario)
        self.token = token
        self.auth = Authenticator(
            token=token,
            tokens=tokens,
            jwt_public_key=jwt_public_key,
            jwt_kid=jwt_kid,
            jwt_audience=jwt_audience,
            jwt_leeway=jwt_leeway,
            site_access=site_access if site_access is not None else scenario.site_access,
            required_headers=required_headers,
        )
        self.ignore_paging = ignore_paging
        if isinstance(execute_response_body, str):
            execute_response_body = execute_response_body.encode()
        self.execute_response_body = execute_response_body
        # Copies: fault counters must not leak between simulators sharing a Scenario object.
        self._faults = FaultSet(Fault.from_dict(f.to_dict()) for f in scenario.faults)
        for fault in faults:
            self._faults.add(fault)
        self._log: deque[RecordedRequest] = deque(maxlen=request_log_limit)
        self._log_lock = threading.Lock()
        self.on_request = on_request
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> BaasSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"<BaasSimulator {where} site={self.site_id}>"

    @property
    def running(self) -> bool:
        """Whether the server thread runs (between :meth:`start` and :meth:`stop`)."""
        return self._thread is not None

    def start(self) -> BaasSimulator:
        """Start serving (in a daemon thread); returns self.

        After :meth:`stop`, ``start()`` serves again on the same port (state and log are kept),
        which lets tests simulate a server restart.
        """
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        port = self._requested_port if self.port is None else self.port
        sock = socket.create_server((self.host, port), family=family, backlog=1024)
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        thread = threading.Thread(
            target=self._serve, args=(loop, sock, ready), name=f"baas-simulator-{self.port}", daemon=True
        )
        self._loop = loop
        self._thread = thread
        thread.start()
        try:
            ready.result(timeout=30)
        except BaseException:
            thread.join(timeout=5)
            self._thread = None
            self._loop = None
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving: close the port and every connection, join the thread. Idempotent.

        :param timeout: seconds to wait for the server thread.
        """
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError("the simulator thread did not stop in time")
        self._thread = None
        self._loop = None

    def _serve(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        ready: concurrent.futures.Future[None],
    ) -> None:
        asyncio.set_event_loop(loop)
        runner = None
        try:
            try:
                runner = loop.run_until_complete(self._setup(sock))
            except BaseException as exc:
                sock.close()
                ready.set_exception(exc)
                return
            ready.set_result(None)
            loop.run_forever()
            if self._stopping is not None:
                self._stopping.set()
            loop.run_until_complete(runner.cleanup())
            sock.close()
        finally:
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()

    async def _setup(self, sock: socket.socket) -> web.ServerRunner:
        self._stopping = asyncio.Event()
        server = web.Server(self._handle, access_log=None)
        runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        await web.SockSite(runner, sock, backlog=1024).start()
        return runner

    # -- addresses and Airflow connection ---------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no path)."""
        if self.port is None:
            raise RuntimeError("simulator not started")
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/data-protection/v2``."""
        return self.url + BASE_PATH

    @property
    def site_id(self) -> str:
        """The scenario's first site (the default site)."""
        return self.scenario.default_site_id

    def airflow_connection(self, conn_id: str = "baas_default", **extra: Any) -> str:
        """Airflow JSON connection (value of ``AIRFLOW_CONN_<CONN_ID>``) pointing at this simulator.

        ``extra`` keys are added to the connection's ``extra`` (``site_id`` defaults to the
        default site). ``conn_id`` is not part of the value; it is accepted for symmetry with
        :meth:`airflow_conn_env`.

        :param conn_id: not part of the value.
        :param extra: keys added to the connection's extra, e.g. ``max_attempts=1``.
        :return: the JSON text.
        """
        conn: dict[str, Any] = {"conn_type": "baas", "host": self.url}
        if self.token:
            conn["password"] = self.token
        conn["extra"] = {"site_id": self.site_id, **extra}
        return json.dumps(conn)

    def airflow_conn_env(self, conn_id: str = "baas_default", **extra: Any) -> tuple[str, str]:
        """``("AIRFLOW_CONN_BAAS_DEFAULT", <json>)`` for ``os.environ`` / ``monkeypatch.setenv``.

        :param conn_id: the Airflow connection id; it names the variable.
        :param extra: keys added to the connection's extra.
        """
        return f"AIRFLOW_CONN_{conn_id.upper()}", self.airflow_connection(conn_id, **extra)

    def teradata_conn_env(
        self, conn_id: str = "teradata_default", *, login: str | None = None, password: str | None = None
    ) -> tuple[str, str]:
        """``("AIRFLOW_CONN_TERADATA_DEFAULT", <json>)``: a ``teradata`` connection holding the
        database user this simulator accepts for restores (or the ``login``/``password`` given).

        :param conn_id: the connection id; the variable's name is ``AIRFLOW_CONN_`` + its upper case.
        :param login: the database user to store (None: the one this simulator accepts).
        :param password: the password to store (None: the one this simulator accepts).
        """
        good_login, good_password = self.database_credentials
        conn = {
            "conn_type": "teradata",
            "host": "teradata.simulator.invalid",
            "login": good_login if login is None else login,
            "password": good_password if password is None else password,
        }
        return f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn)

    # -- behaviour switches ---------------------------------------------------------------------

    @property
    def on_concurrent_execute(self) -> str:
        """What an execute does while the job runs: ``"reject"`` (409) or ``"allow"``; settable."""
        return self.state.on_concurrent_execute

    @on_concurrent_execute.setter
    def on_concurrent_execute(self, value: str) -> None:
        if value not in ("reject", "allow"):
            raise ValueError("on_concurrent_execute must be 'reject' or 'allow'")
        self.state.on_concurrent_execute = value

    @property
    def executions_order(self) -> str:
        """Order of the executions listings: ``"newest_first"`` or ``"oldest_first"``; settable."""
        return self.state.executions_order

    @executions_order.setter
    def executions_order(self, value: str) -> None:
        if value not in ("newest_first", "oldest_first"):
            raise ValueError("executions_order must be 'newest_first' or 'oldest_first'")
        self.state.executions_order = value

    @property
    def summary_details(self) -> str:
        """What ``last_execution_details`` describe: ``"latest"``, ``"finished"`` or ``"none"`` (see
        ``Scenario``)."""
        return self.state.summary_details

    @summary_details.setter
    def summary_details(self, value: str) -> None:
        if value not in SUMMARY_DETAILS:
            raise ValueError(f"summary_details must be one of {SUMMARY_DETAILS}")
        self.state.summary_details = value

    # -- time -----------------------------------------------------------------------------------

    @property
    def time_scale(self) -> float:
        """BaaS seconds per real second (0: frozen); settable while running."""
        return self.clock.time_scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        self.clock.time_scale = value

    def now(self) -> datetime:
        """The simulated "now" (UTC)."""
        return datetime.fromtimestamp(self.clock.now(), tz=UTC)

    def advance(self, seconds: float) -> None:
        """Move simulated time ``seconds`` BaaS seconds forward.

        :param seconds: BaaS seconds.
        """
        self.clock.advance(seconds)

    # -- state ----------------------------------------------------------------------------------

    def _site_for(self, job_id: int | None, site_id: str | None) -> str:
        if site_id is not None:
            return site_id
        if job_id is None:
            return self.site_id
        return self.state.find_job(job_id, None).site.site_id

    def jobs(self, site_id: str | None = None) -> list[dict[str, Any]]:
        """Every job of a site, as J1 returns them (without paging).

        :param site_id: the site (None: the default site).
        """
        return json.loads(self.state.jobs_payload(site_id or self.site_id))

    def job(self, job_id: int, site_id: str | None = None) -> dict[str, Any]:
        """One job as J2 returns it (``site_id=None``: whichever site has the job).

        :param job_id: the job.
        :param site_id: the site (None: any).
        """
        return json.loads(self.state.job_payload(self._site_for(job_id, site_id), job_id))

    def executions(self, job_id: int | None = None, site_id: str | None = None) -> list[dict[str, Any]]:
        """Executions as J5 (``job_id`` given) or J4 return them, in the configured order.

        :param job_id: the job (None: every job of the site).
        :param site_id: the site (None: the default site).
        """
        site = self._site_for(job_id, site_id)
        return json.loads(self.state.executions_payload(site, job_id))

    def execution(self, execution_id: str | int) -> dict[str, Any]:
        """One execution (any site) by id.

        :param execution_id: the execution.
        """
        with self.state.lock:
            e = self.state.by_id[str(execution_id)]
            for item in self.executions(e.job.spec.job_id, e.job.site.site_id):
                if item["execution_id"] == str(execution_id):
                    return item
        raise KeyError(execution_id)  # pragma: no cover - by_id and listings agree

    def start_execution(self, job_id: int, run_type: str = "FULL", site_id: str | None = None) -> str:
        """Start an execution like J3 would (raises :class:`SimError` on 400/404/409); returns its id.

        :param job_id: the job.
        :param run_type: FULL, DELTA or CUMULATIVE.
        :param site_id: the site (None: any that has the job).
        """
        return str(self.state.execute(self._site_for(job_id, site_id), job_id, run_type.upper()).id)

    def finish_all(self) -> int:
        """End every running execution now, with its planned outcome; returns how many."""
        return self.state.finish_all()

    def set_outcome(
        self,
        job_id: int,
        outcomes: Outcome | str | Mapping[str, Any] | Iterable[Outcome | str | Mapping[str, Any]],
        site_id: str | None = None,
    ) -> None:
        """Outcomes of the job's next executions (a sequence: 1st, 2nd, ...; the last repeats).

        :param job_id: the job.
        :param outcomes: one :class:`Outcome` (or status word, or dict) or a sequence of them.
        :param site_id: the site (None: any that has the job).
        """
        self.state.set_outcome(self.state.find_job(job_id, site_id), outcomes)

    def set_job_active(self, job_id: int, active: bool, site_id: str | None = None) -> None:
        """Make a job active or inactive (BaaS refuses to execute an inactive job).

        :param job_id: the job.
        :param active: its new state.
        :param site_id: the site (None: any that has the job).
        """
        with self.state.lock:
            self.state.find_job(job_id, site_id).active = bool(active)

    # -- backed-up objects and restores -----------------------------------------------------------

    def set_backup_objects(self, execution_id: str | int, objects: Iterable[Mapping[str, Any]]) -> None:
        """What execution ``execution_id`` holds (O3 items: ``object_name`` and ``object_type``
        required, ``parent_name``, ``parent_type``, ``byte_count`` and any other key optional).

        :param execution_id: an existing execution (``KeyError`` otherwise).
        :param objects: the O3 items, replacing the job's ``objects`` or the generated ones.
        """
        with self.state.lock:
            if str(execution_id) not in self.state.by_id:
                raise KeyError(f"execution {execution_id} not found")
            self.restore_book.objects[str(execution_id)] = objects_of(objects)

    def backup_objects(self, execution_id: str | int) -> list[dict[str, Any]]:
        """What execution ``execution_id`` holds, as O3 lists it once prepared.

        :param execution_id: an existing execution (``KeyError`` otherwise).
        """
        with self.state.lock:
            return [dict(o) for o in self.restore_book.backup_objects(self.state.by_id[str(execution_id)])]

    def fail_preparations(self, details: str | None = "Preparing the objects failed.") -> None:
        """Make every later objects preparation end FAILED with ``details`` (None: they succeed again).

        :param details: the failure's ``details`` in O2's answer; None to stop failing.
        """
        with self.state.lock:
            self.restore_book.preparation_failure = details

    def set_database_credentials(self, login: str, password: str) -> None:
        """The database user R3 and R6 accept in ``x-auth-credentials``.

        :param login: the database user.
        :param password: its password.
        """
        with self.state.lock:
            self.restore_book.db_login, self.restore_book.db_password = login, password

    @property
    def database_credentials(self) -> tuple[str, str]:
        """``(login, password)`` accepted in ``x-auth-credentials``."""
        return self.restore_book.db_login, self.restore_book.db_password

    def deny_restores(self, *, user: str | None = None, target_site: str | None = None) -> None:
        """Make R3 and R6 answer 403 for a database user, or for restores to a target site.

        Each call adds to the denials; none is lifted.

        :param user: a database user (login) to deny (None: no new user denial).
        :param target_site: a target site to deny restores to (None: no new site denial).
        """
        with self.state.lock:
            if user is not None:
                self.restore_book.denied_users.add(user)
            if target_site is not None:
                self.restore_book.denied_sites.add(target_site)

    def set_restore_outcome(self, outcomes: Outcome | str | Mapping[str, Any] | Iterable[Any]) -> None:
        """Outcomes of the next restores (a sequence: 1st, 2nd, ...; the last repeats).

        :param outcomes: one outcome or a non-empty sequence of them; each an ``Outcome``, a status
            word or a dict of ``Outcome`` fields. Counted from the next restore created.
        """
        if isinstance(outcomes, str | Outcome | Mapping):
            outcomes = [outcomes]
        parsed = [Outcome.parse(o) for o in outcomes]
        if not parsed:
            raise ValueError("outcomes must not be empty")
        with self.state.lock:
            self.restore_book.restore_outcomes = parsed
            self.restore_book.started = 0

    def restores(self, site_id: str | None = None) -> list[dict[str, Any]]:
        """Every restore created through R6 (oldest first; ``site_id=None``: every site), as R1 shows it.

        :param site_id: only restores of this source site; None: every site.
        """
        with self.state.lock:
            now = self.clock.now()
            return [
                r.to_dict(now) for r in self.restore_book.restores if site_id is None or r.site_id == site_id
            ]

    def restore(self, restore_id: str | int) -> dict[str, Any]:
        """One restore (any site) by id, as R1 shows it.

        :param restore_id: the restore's id (``KeyError`` when there is none).
        """
        with self.state.lock:
            found: SimRestore | None = next(
                (r for r in self.restore_book.restores if str(r.id) == str(restore_id)), None
            )
            if found is None:
                raise KeyError(f"restore {restore_id} not found")
            return found.to_dict(self.clock.now())

    # -- faults ---------------------------------------------------------------------------------

    def add_fault(self, fault: Fault | Mapping[str, Any] | None = None, /, **kwargs: Any) -> Fault:
        """Add a fault: ``add_fault(Fault(...))``, ``add_fault({...})`` or ``add_fault(kind=..., ...)``.

        :param fault: a :class:`Fault` or its dict form; None: built from ``kwargs``.
        :param kwargs: :class:`Fault` fields, when ``fault`` is not given.
        :return: the fault added (its ``seen`` and ``hits`` count as requests arrive).
        """
        if fault is None:
            fault = Fault(**kwargs)
        elif kwargs:
            raise TypeError("pass either a fault or keyword arguments, not both")
        return self._faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The active faults, in the order they were added (a copy)."""
        return self._faults.snapshot()

    # -- request log ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far (oldest first; a copy)."""
        with self._log_lock:
            return list(self._log)

    def requests_matching(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests with this method (any if None) whose path matches the regex ``path``
        (``re.search``; any if None).

        :param method: an HTTP method, or None for any.
        :param path: a regular expression searched in the path, or None for any.
        """
        pattern = re.compile(path) if path is not None else None
        wanted = method.upper() if method is not None else None
        return [
            r
            for r in self.requests
            if (wanted is None or r.method == wanted) and (pattern is None or pattern.search(r.path))
        ]

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._log_lock:
            self._log.clear()

    # -- HTTP -----------------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        method = request.method
        path = request.path
        record = RecordedRequest(method, path, dict(request.query), time.time())
        with self._log_lock:
            self._log.append(record)
        try:
            fault = self._faults.pick(method, path) if self._faults else None
            if fault is None:
                response = await self._dispatch(request, method, path)
            else:
                record.fault = fault.kind
                if fault.delay > 0:
                    # Take the body in first, like a slow server: once the client gives up, the
                    # connection is gone and the body could no longer be read.
                    await request.read()
                    await self._sleep(fault.delay)
                    if self._stopping is not None and self._stopping.is_set():
                        return self._drop(request, record)  # shutting down: do not process it
                kind = fault.kind
                if kind == "drop":
                    return self._drop(request, record)
                if kind == "status":
                    response = self._fault_response(fault)
                elif kind == "malformed":
                    response = web.Response(status=200, body=MALFORMED_BODY, content_type=_JSON)
                else:  # delay, lost_answer
                    response = await self._dispatch(request, method, path)
                    if kind == "lost_answer":
                        return self._drop(request, record)
        except Exception as exc:
            log.exception("BaaS simulator: error handling %s %s", method, path)
            response = _error(SimError(500, f"simulator error: {type(exc).__name__}"))
        record.status = response.status
        self._notify(record)
        return response

    def _notify(self, record: RecordedRequest) -> None:
        if self.on_request is not None:
            try:
                self.on_request(record)
            except Exception:
                log.exception("BaaS simulator: on_request callback failed")

    def _drop(self, request: web.BaseRequest, record: RecordedRequest) -> web.StreamResponse:
        """Close the connection without an answer (aiohttp then skips writing the response)."""
        transport = request.transport
        if transport is not None:
            transport.close()
        record.status = None
        self._notify(record)
        return web.Response(status=204)

    async def _sleep(self, seconds: float) -> None:
        stopping = self._stopping
        if stopping is None:  # pragma: no cover - only set while serving
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), seconds)

    def _fault_response(self, fault: Fault) -> web.Response:
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            value = fault.retry_after
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            headers["Retry-After"] = str(value)
        if fault.retry_after_date is not None:
            headers["Retry-After"] = formatdate(time.time() + fault.retry_after_date, usegmt=True)
        if fault.status in (204, 304) or 100 <= fault.status < 200:
            return web.Response(status=fault.status, headers=headers)
        if fault.body is not None:
            body = json.dumps(fault.body).encode()
        else:
            body = json.dumps(SimError(fault.status, "injected by the BaaS simulator").body()).encode()
        return web.Response(status=fault.status, body=body, content_type=_JSON, headers=headers)

    async def _dispatch(self, request: web.BaseRequest, method: str, path: str) -> web.Response:
        try:
            principal = self.auth.authenticate(request.headers)
        except SimError as err:
            return _error(err, {"WWW-Authenticate": "Bearer"})
        try:
            if not path.startswith(_BASE_PREFIX):
                raise SimError(404, f"no such endpoint: {path}")
            parts = path[len(_BASE_PREFIX) :].split("/")
            site_id, rest = parts[0], parts[1:]
            n = len(rest)
            if not site_id or n == 0 or n > 6:
                raise SimError(404, f"no such endpoint: {path}")
            if n >= 4 or (n == 1 and rest[0] in _SITE_RESTORE_ENDPOINTS):
                return await self._restore_endpoint(request, method, path, principal, site_id, rest)
            if n == 1 and rest[0] == "jobs":
                endpoint, allowed = "J1", "GET"
            elif n == 1 and rest[0] == "executions":
                endpoint, allowed = "J4", "GET"
            elif rest[0] == "jobs" and n == 2 and rest[1]:
                endpoint, allowed = "J2", "GET"
            elif rest[0] == "jobs" and n == 3 and rest[1] and rest[2] == "execute":
                endpoint, allowed = "J3", "POST"
            elif rest[0] == "jobs" and n == 3 and rest[1] and rest[2] == "executions":
                endpoint, allowed = "J5", "GET"
            else:
                raise SimError(404, f"no such endpoint: {path}")
            if method != allowed:
                return _error(SimError(405, f"method {method} not allowed on {path}"), {"Allow": allowed})
            if not self.auth.allowed(principal, site_id):
                raise SimError(403, f"no access to site {site_id}")
            state = self.state
            query = request.query
            if endpoint == "J1":
                job_type = query.get("job-type")
                if job_type is not None:
                    job_type = job_type.strip().upper()
                    if job_type not in JOB_TYPES:
                        raise SimError(400, "query parameter job-type must be BACKUP or RESTORE")
                is_active = _bool_param(query, "is-active")
                page, size = self._paging(query, default=True)
                payload = state.jobs_payload(
                    site_id, is_active=is_active, job_type=job_type, page=page, page_size=size
                )
            elif endpoint == "J2":
                payload = state.job_payload(site_id, rest[1])
            elif endpoint == "J3":
                return await self._execute(request, site_id, rest[1])
            else:
                page, size = self._paging(query, default=False)
                job_id = rest[1] if endpoint == "J5" else None
                payload = state.executions_payload(site_id, job_id, page=page, page_size=size)
            return web.Response(status=200, body=payload, content_type=_JSON)
        except SimError as err:
            return _error(err)

    async def _restore_endpoint(
        self,
        request: web.BaseRequest,
        method: str,
        path: str,
        principal: str | None,
        site_id: str,
        rest: list[str],
    ) -> web.Response:
        """O1-O3 and R1-R6 (see airflow_provider_baas.testing.restores)."""
        endpoint, allowed = _restore_route(rest)
        if endpoint is None:
            raise SimError(404, f"no such endpoint: {path}")
        if method not in allowed:
            return _error(
                SimError(405, f"method {method} not allowed on {path}"), {"Allow": ", ".join(allowed)}
            )
        if not self.auth.allowed(principal, site_id):
            raise SimError(403, f"no access to site {site_id}")
        book = self.restore_book
        if endpoint == "O1":
            preparation = book.prepare(site_id, rest[1], rest[3])
            return web.Response(status=202, headers={"x-resource-id": str(preparation.id)})
        if endpoint == "R3":
            body = await _json_body(request)
            return _json(200, book.permissions(site_id, request.headers, body))
        if endpoint == "R6" and method == "POST":
            body = await _json_body(request)
            restore = book.create(site_id, rest[1], rest[3], request.headers, body)
            return web.Response(status=202, headers={"x-resource-id": str(restore.id)})
        if endpoint == "O2":
            wanted = request.query.get("resource-id") or request.headers.get("x-resource-id")
            return _json(200, book.preparation_status(site_id, wanted))
        if endpoint == "O3":
            rows = book.list_objects(site_id, rest[1], rest[3])
        elif endpoint == "R1":
            return _json(200, book.restore(site_id, rest[1], rest[3], rest[5]))
        elif endpoint == "R2":
            rows = book.listing(site_id)
        elif endpoint == "R4":
            rows = book.databases(site_id)
        else:  # R5: GET on R6's path
            rows = book.listing(site_id, rest[3], rest[1])
        page, size = self._paging(request.query, default=False)
        if page is not None and size is not None:
            rows = rows[(page - 1) * size : page * size]
        return _json(200, rows)

    def _paging(self, query: Mapping[str, str], *, default: bool) -> tuple[int | None, int | None]:
        page = _int_param(query, "page")
        size = _int_param(query, "page-size")
        if self.ignore_paging or (not default and page is None and size is None):
            return None, None
        return page or 1, size or 10

    async def _execute(self, request: web.BaseRequest, site_id: str, job_id: str) -> web.Response:
        body = await request.read()
        run_type = "FULL"
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError:
                raise SimError(400, "request body is not valid JSON") from None
            if not isinstance(data, dict):
                raise SimError(400, 'request body must be a JSON object like {"run_type": "FULL"}')
            value = data.get("run_type")
            if value is not None:
                if not isinstance(value, str) or value.strip().upper() not in RUN_TYPES:
                    raise SimError(400, f"invalid run_type {value!r}; expected one of {', '.join(RUN_TYPES)}")
                run_type = value.strip().upper()
        execution = self.state.execute(site_id, job_id, run_type)
        headers = {"x-resource-id": str(execution.id)}
        if self.execute_response_body is None:
            return web.Response(status=202, headers=headers)
        return web.Response(status=202, body=self.execute_response_body, content_type=_JSON, headers=headers)


__all__ = ["BaasSimulator", "RecordedRequest", "SimError"]
