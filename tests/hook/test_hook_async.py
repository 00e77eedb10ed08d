"""The async driver (aiohttp) against a tiny real HTTP server: paging, execute, retries, the
at-most-once rule when the server drops the connection, and the non-blocking connection lookup."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from airflow_provider_baas.errors import (
    BaasExecuteOutcomeUnknown,
    BaasNotFoundError,
    BaasTransportError,
    BaasValidationError,
)
from airflow_provider_baas.hooks import baas as baas_module
from airflow_provider_baas.hooks.baas import BaasHook
from airflow_provider_baas.hooks.transport import close_shared_sessions

from ._support import SITE, TOKEN, execution_payload, job_payload, set_connection

ROOT = "/data-protection/v2"


@dataclass
class FakeBaas:
    """State and behaviour of the tiny server; every request is recorded."""

    jobs: list[dict[str, Any]] = field(default_factory=list)
    executions: list[dict[str, Any]] = field(default_factory=list)
    # Queued answers per route: "503", "429:<seconds>", "drop" (close the connection without answering).
    faults: dict[str, list[str]] = field(default_factory=dict)
    execute_mode: str = "accept"  # "accept" | "drop" | "drop-silently" | "no-header"
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def recorded(self, method: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.requests if method is None or r["method"] == method]


def _drop(request: web.Request) -> web.Response:
    assert request.transport is not None
    request.transport.close()
    return web.Response(status=500)  # never reaches the client: the connection is gone


def build_app(state: FakeBaas) -> web.Application:
    async def record(request: web.Request, route: str) -> web.Response | None:
        body = await request.json() if request.can_read_body else None
        state.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": body,
            }
        )
        queued = state.faults.get(route) or []
        if queued:
            fault = queued.pop(0)
            if fault == "drop":
                return _drop(request)
            if fault.startswith("429"):
                return web.json_response(
                    {"message": "slow down"}, status=429, headers={"Retry-After": fault.split(":")[1]}
                )
            return web.json_response({"message": f"fault {fault}"}, status=int(fault))
        return None

    def page(request: web.Request, rows: list[dict[str, Any]]) -> web.Response:
        number = int(request.query.get("page", "1"))
        size = int(request.query.get("page-size", "10"))
        return web.json_response(rows[(number - 1) * size : number * size])

    async def list_jobs(request: web.Request) -> web.Response:
        return await record(request, "jobs") or page(request, state.jobs)

    async def list_job_executions(request: web.Request) -> web.Response:
        job = request.match_info["job"]
        rows = [e for e in state.executions if str(e["job_id"]) == job]
        return await record(request, "executions") or page(request, rows)

    async def execute(request: web.Request) -> web.Response:
        fault = await record(request, "execute")
        if fault is not None:
            return fault
        job = request.match_info["job"]
        new_id = f"exec-{len(state.executions) + 1}"
        state.executions.append(
            execution_payload(new_id, job_id=int(job), start_time=datetime.now(UTC), status="RUNNING")
        )
        if state.execute_mode == "drop":
            return _drop(request)
        if state.execute_mode == "drop-silently":
            state.executions.pop()  # the request arrived, but nothing was started
            return _drop(request)
        headers = {} if state.execute_mode == "no-header" else {"x-resource-id": new_id}
        return web.Response(status=202, headers=headers)

    app = web.Application()
    app.router.add_get(f"{ROOT}/sites/{{site}}/jobs", list_jobs)
    app.router.add_get(f"{ROOT}/sites/{{site}}/jobs/{{job}}/executions", list_job_executions)
    app.router.add_post(f"{ROOT}/sites/{{site}}/jobs/{{job}}/execute", execute)
    return app


@pytest.fixture
async def server():
    state = FakeBaas()
    runner = web.AppRunner(build_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = runner.addresses[0][1]
    try:
        yield state
    finally:
        await close_shared_sessions()
        await runner.cleanup()


@pytest.fixture
def async_hook(server, monkeypatch):
    set_connection(
        monkeypatch, "baas_async", host=server.host, extra={"read_timeout": 5, "connect_timeout": 2}
    )
    return BaasHook("baas_async")


# ------------------------------------------------------------------------------------------------


async def test_alist_jobs_reads_every_page(server, async_hook):
    server.jobs = [job_payload(i, f"job-{i}") for i in range(1, 6)]

    jobs = await async_hook.alist_jobs(is_active=True, job_type="backup")

    assert [j.job_id for j in jobs] == ["1", "2", "3", "4", "5"]
    gets = server.recorded("GET")
    assert [r["path"] for r in gets] == [f"{ROOT}/sites/{SITE}/jobs"] * 3
    assert [r["query"] for r in gets] == [
        {"is-active": "true", "job-type": "BACKUP", "page": str(n), "page-size": "2"} for n in (1, 2, 3)
    ]
    assert {r["headers"]["Authorization"] for r in gets} == {f"Bearer {TOKEN}"}


async def test_alist_jobs_stops_on_an_empty_page(server, async_hook):
    server.jobs = [job_payload(i) for i in (1, 2, 3, 4)]

    jobs = await async_hook.alist_jobs()

    assert len(jobs) == 4
    assert [r["query"]["page"] for r in server.recorded()] == ["1", "2", "3"]


async def test_aexecute_job_returns_x_resource_id(server, async_hook):
    execution_id = await async_hook.aexecute_job(34, run_type="delta")

    assert execution_id == "exec-1"
    (post,) = server.recorded("POST")
    assert post["path"] == f"{ROOT}/sites/{SITE}/jobs/34/execute"
    assert post["body"] == {"run_type": "DELTA"}
    assert post["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert server.recorded("GET") == []


async def test_async_retry_on_503(server, async_hook, async_waits):
    server.jobs = [job_payload(1)]
    server.faults["jobs"] = ["503"]

    jobs = await async_hook.alist_jobs()

    assert [j.job_id for j in jobs] == ["1"]
    assert len(server.recorded("GET")) == 2
    assert len(async_waits) == 1
    assert 0 <= async_waits[0] <= 1.0


async def test_async_retry_after_on_429(server, async_hook, async_waits):
    server.faults["jobs"] = ["429:2"]

    assert await async_hook.alist_jobs() == []

    assert async_waits == [2.0]
    assert len(server.recorded("GET")) == 2


async def test_async_execute_dropped_connection_sends_one_post_and_recovers(server, async_hook, async_waits):
    server.executions = [execution_payload("old-1", job_id=34)]
    server.execute_mode = "drop"

    execution_id = await async_hook.aexecute_job(34)

    assert execution_id == "exec-2"
    assert len(server.recorded("POST")) == 1
    # two listings of the job's executions (two rows at page size 2: pages 1 and 2): the second
    # confirms that the candidate is alone (a lagging listing may show another caller's run first)
    gets = server.recorded("GET")
    listing = [
        (f"{ROOT}/sites/{SITE}/jobs/34/executions", "1"),
        (f"{ROOT}/sites/{SITE}/jobs/34/executions", "2"),
    ]
    assert [(r["path"], r["query"]["page"]) for r in gets] == listing * 2
    assert async_waits == [baas_module.EXECUTE_LOOKUP_INTERVAL]


async def test_async_execute_dropped_without_a_new_execution_is_outcome_unknown(
    server, async_hook, async_waits
):
    server.executions = [execution_payload("old-1", job_id=34)]
    server.execute_mode = "drop-silently"

    with pytest.raises(BaasExecuteOutcomeUnknown) as info:
        await async_hook.aexecute_job(34)

    assert info.value.job_id == "34"
    assert len(server.recorded("POST")) == 1
    attempts = baas_module.EXECUTE_LOOKUP_ATTEMPTS
    assert len(server.recorded("GET")) == attempts
    assert async_waits == [baas_module.EXECUTE_LOOKUP_INTERVAL] * (attempts - 1)


async def test_async_execute_503_is_not_resent(server, async_hook, async_waits):
    server.faults["execute"] = ["503"]
    server.executions = [execution_payload("queued", job_id=34, start_time=None)]

    assert await async_hook.aexecute_job(34, known_before=[]) == "queued"

    assert len(server.recorded("POST")) == 1
    assert async_waits == [baas_module.EXECUTE_LOOKUP_INTERVAL]  # the confirming look; no re-send


async def test_async_execute_with_a_failing_lookup_is_outcome_unknown(server, async_hook):
    server.execute_mode = "drop"
    server.faults["executions"] = ["404"] * 20

    with pytest.raises(BaasExecuteOutcomeUnknown) as info:
        await async_hook.aexecute_job(34)

    assert "listing executions failed" in str(info.value)
    assert len(server.recorded("POST")) == 1


async def test_async_execute_429_is_resent(server, async_hook, async_waits):
    server.faults["execute"] = ["429:1"]

    assert await async_hook.aexecute_job(34) == "exec-1"

    assert len(server.recorded("POST")) == 2
    assert async_waits == [1.0]


async def test_async_execute_without_x_resource_id_looks_up(server, async_hook):
    server.execute_mode = "no-header"

    assert await async_hook.aexecute_job(34) == "exec-1"

    assert len(server.recorded("POST")) == 1
    assert len(server.recorded("GET")) == 2  # the lookup and its confirming look


async def test_async_connection_refused_is_retried_then_reported(monkeypatch, async_waits):
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    set_connection(monkeypatch, "baas_refused", host=f"http://127.0.0.1:{port}", extra={"max_attempts": 3})
    hook = BaasHook("baas_refused")

    try:
        with pytest.raises(BaasTransportError) as info:
            await hook.aexecute_job(34)
    finally:
        await close_shared_sessions()

    assert info.value.method == "POST"
    assert len(async_waits) == 2  # refused = not sent: the POST was attempted 3 times


async def test_async_validation_happens_before_any_request(server, async_hook):
    with pytest.raises(BaasValidationError):
        await async_hook.aexecute_job("abc")
    with pytest.raises(BaasValidationError):
        await async_hook.alist_jobs(job_type="weekly")

    assert server.requests == []


async def test_async_get_execution_and_not_found(server, async_hook):
    server.executions = [execution_payload(f"e{i}", job_id=34) for i in range(1, 6)]

    found = await async_hook.aget_execution(34, "e3")
    assert found.execution_id == "e3"
    assert [r["query"]["page"] for r in server.recorded()] == ["1", "2"]

    with pytest.raises(BaasNotFoundError):
        await async_hook.aget_execution(34, "nope")


async def test_async_connection_lookup_uses_aget_connection(server, async_hook, monkeypatch):
    seen: list[str] = []
    real = baas_module.aget_connection

    async def spy(conn_id: str) -> Any:
        seen.append(conn_id)
        return await real(conn_id)

    def no_sync_lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the async path must not call the blocking get_connection")

    monkeypatch.setattr(baas_module, "aget_connection", spy)
    monkeypatch.setattr(async_hook, "get_connection", no_sync_lookup)

    await async_hook.alist_jobs()
    await async_hook.alist_jobs()

    assert seen == ["baas_async"]  # looked up once, then cached on the hook
    assert len(server.recorded("GET")) == 2


# ------------------------------------------------------------------------------------------------
# Hooks on one loop share what an unchanged connection gives them (a triggerer runs thousands)


async def test_hooks_on_one_loop_share_settings_auth_and_transport(server, monkeypatch):
    server.jobs = [job_payload(34)]
    set_connection(monkeypatch, "baas_shared", host=server.host)
    hooks = [BaasHook("baas_shared") for _ in range(3)]
    for hook in hooks:
        await hook.alist_jobs()
    assert len({id(h._auth) for h in hooks}) == len({id(h._async) for h in hooks}) == 1
    assert len({id(h._config) for h in hooks}) == 1
    assert len({id(h) for h in hooks}) == 3  # each keeps its own hook (and its own retry deadline)

    set_connection(monkeypatch, "baas_shared", host=server.host, password="rotated-token")
    changed = BaasHook("baas_shared")
    await changed.alist_jobs()
    assert changed._auth is not hooks[0]._auth  # a changed connection is read afresh, never stale
    assert server.recorded("GET")[-1]["headers"]["Authorization"] == "Bearer rotated-token"


async def test_pat_hooks_on_one_loop_mint_one_jwt(server, monkeypatch):
    from .test_hook_auth import pat_extra

    server.jobs = [job_payload(34)]
    set_connection(monkeypatch, "baas_shared_pat", host=server.host, password=None, extra=pat_extra())
    for _ in range(4):
        await BaasHook("baas_shared_pat").alist_jobs()
    tokens = {r["headers"]["Authorization"] for r in server.recorded("GET")}
    assert len(server.recorded("GET")) == 4 and len(tokens) == 1  # not one RS256 signature per trigger


def test_hooks_on_different_loops_do_not_share(monkeypatch):
    import asyncio

    set_connection(monkeypatch, "baas_loops", host="http://127.0.0.1:9")

    async def configure() -> BaasHook:
        hook = BaasHook("baas_loops")
        await hook.aconfig()
        return hook

    first, second = asyncio.run(configure()), asyncio.run(configure())
    assert first._auth is not second._auth and first._async is not second._async
    assert first._config == second._config
