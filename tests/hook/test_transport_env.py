"""The async transport honours the proxy variables and ~/.netrc like aiohttp's ``trust_env=True``,
but reads them once per transport instead of in two worker-thread hops per request."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from airflow_provider_baas.hooks.baas import BaasHook
from airflow_provider_baas.hooks.transport import (
    AsyncTransport,
    _read_request_env,
    close_shared_sessions,
    shared_session,
)
from airflow_provider_baas.testing import BaasSimulator

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


@pytest.fixture
async def sessions() -> AsyncIterator[None]:
    yield
    await close_shared_sessions()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_env_proxy_with_credentials_becomes_proxy_and_proxy_authorization(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://alice:pw@proxy.corp:3128")
    env = _read_request_env("https://api.example.com/data-protection/v2", None)
    assert env.proxy == "http://proxy.corp:3128"
    assert env.proxy_headers == {"Proxy-Authorization": basic("alice", "pw")}
    assert env.netrc_auth is None


def test_no_proxy_and_explicit_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "api.example.com")
    assert _read_request_env("https://api.example.com/data-protection/v2", None).proxy is None
    # A proxy from the connection's extra wins over the environment.
    explicit = _read_request_env("https://api.example.com/x", "http://other:8080")
    assert (explicit.proxy, explicit.proxy_headers) == ("http://other:8080", None)


def test_netrc_entry_for_the_api_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.example.com login bob password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    env = _read_request_env("https://api.example.com/data-protection/v2", None)
    assert env.netrc_auth is not None and env.netrc_auth.encode() == basic("bob", "s3cret")


async def test_shared_session_does_not_read_the_environment_per_request(sessions: None) -> None:
    assert shared_session(True).trust_env is False


async def test_requests_go_through_the_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, sessions: None
) -> None:
    """The simulator plays the proxy: the API host itself does not resolve."""
    with BaasSimulator(time_scale=0) as sim:
        monkeypatch.setenv("HTTP_PROXY", sim.url)
        conn = {"conn_type": "baas", "host": "http://baas-api.invalid", "password": sim.token}
        conn["extra"] = {"site_id": sim.site_id, "max_attempts": 1}
        monkeypatch.setenv("AIRFLOW_CONN_BAAS_PROXIED", json.dumps(conn))
        hook = BaasHook("baas_proxied")
        job = await hook.aget_job(34)
        assert job.job_id == "34"
        await hook.aget_job(35)
        assert [r.path for r in sim.requests] == [
            f"/data-protection/v2/sites/{sim.site_id}/jobs/34",
            f"/data-protection/v2/sites/{sim.site_id}/jobs/35",
        ]
        assert isinstance(hook._async, AsyncTransport)
        assert hook._async._env is not None and hook._async._env.proxy == sim.url  # read once, kept
