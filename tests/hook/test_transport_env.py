"""One rule for the environment in both transports (requests on workers, aiohttp in the triggerer):
the connection's ``proxies`` win over ``HTTP(S)_PROXY``, the environment's proxy applies otherwise
(honouring ``NO_PROXY``), and ``~/.netrc`` never replaces the connection's credentials."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_baas.hooks.baas import BaasHook
from airflow_provider_baas.hooks.transport import close_shared_sessions, proxy_for, shared_session
from airflow_provider_baas.testing import BaasSimulator

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
# Nothing listens on port 9 (discard) of loopback: a request sent there is refused at once.
DEAD_PROXY = "http://127.0.0.1:9"
API = "https://api.example.com/data-protection/v2"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


@pytest.fixture
async def sessions() -> AsyncIterator[None]:
    yield
    await close_shared_sessions()


def test_the_environment_proxy_applies_when_the_connection_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://alice:pw@proxy.corp:3128")
    assert proxy_for(API, {}) == "http://alice:pw@proxy.corp:3128"
    assert proxy_for(API, {"http": "http://other:8080"}) == "http://alice:pw@proxy.corp:3128"


def test_no_proxy_and_the_connection_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "api.example.com")
    assert proxy_for(API, {}) is None
    # The connection's proxy wins over the environment, for its scheme or for "all".
    assert proxy_for(API, {"https": "http://other:8080"}) == "http://other:8080"
    assert proxy_for(API, {"all": "http://other:8080"}) == "http://other:8080"


async def test_shared_session_does_not_read_the_environment_per_request(sessions: None) -> None:
    assert shared_session(True).trust_env is False


def proxied_connection(monkeypatch: pytest.MonkeyPatch, sim: BaasSimulator, **extra: Any) -> BaasHook:
    """A connection to a host that does not resolve: only a proxy (the simulator) can answer."""
    conn = {"conn_type": "baas", "host": "http://baas-api.invalid", "password": sim.token}
    conn["extra"] = {"site_id": sim.site_id, "max_attempts": 1, "allow_insecure_http": True, **extra}
    monkeypatch.setenv("AIRFLOW_CONN_BAAS_PROXIED", json.dumps(conn))
    return BaasHook("baas_proxied")


async def get_job(hook: BaasHook, call: str) -> Any:
    return await hook.aget_job(34) if call == "async" else hook.get_job(34)


@pytest.mark.parametrize("call", ["sync", "async"])
async def test_requests_go_through_the_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, sessions: None, call: str
) -> None:
    with BaasSimulator(time_scale=0) as sim:
        monkeypatch.setenv("HTTP_PROXY", sim.url)
        hook = proxied_connection(monkeypatch, sim)
        assert (await get_job(hook, call)).job_id == "34"
        assert (await get_job(hook, call)).job_id == "34"
        assert [r.path for r in sim.requests] == [f"/data-protection/v2/sites/{sim.site_id}/jobs/34"] * 2


@pytest.mark.parametrize("call", ["sync", "async"])
async def test_the_connection_proxy_wins_over_the_environment_in_both_paths(
    monkeypatch: pytest.MonkeyPatch, sessions: None, call: str
) -> None:
    """Issue 18 item 8: requests let ``HTTP_PROXY`` override the session's proxies on workers."""
    with BaasSimulator(time_scale=0) as sim:
        monkeypatch.setenv("HTTP_PROXY", DEAD_PROXY)
        monkeypatch.setenv("HTTPS_PROXY", DEAD_PROXY)
        hook = proxied_connection(monkeypatch, sim, proxies={"http": sim.url})
        assert (await get_job(hook, call)).job_id == "34"
        assert len(sim.requests) == 1


@pytest.fixture
def netrc_for_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login bob password netrc-password-123\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))


@pytest.mark.usefixtures("netrc_for_loopback")
@pytest.mark.parametrize("call", ["sync", "async"])
async def test_a_netrc_entry_for_the_api_host_does_not_replace_the_token(
    monkeypatch: pytest.MonkeyPatch, sessions: None, call: str
) -> None:
    """Issue 18 item 10: requests' ``trust_env`` sent ``Basic bob:...`` instead of the bearer token
    (a 401), and the async execute path raised "Cannot combine AUTHORIZATION header with AUTH"."""
    with BaasSimulator(time_scale=3600) as sim:  # the simulator refuses anything but its token
        name, value = sim.airflow_conn_env("baas_netrc", max_attempts=1)
        monkeypatch.setenv(name, value)
        hook = BaasHook("baas_netrc")
        if call == "async":
            execution_id = await hook.aexecute_job(34)
            job = await hook.aget_job(34)
        else:
            execution_id = hook.execute_job(34)
            job = hook.get_job(34)
        assert execution_id and job.job_id == "34"
        assert [r.status for r in sim.requests] == [202, 200]
