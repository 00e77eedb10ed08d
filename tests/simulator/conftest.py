"""Fixtures for the simulator tests: simulator factory, and one HTTP interface over two clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import requests

from airflow_provider_baas.testing import BaasSimulator, HistoryEntry, JobSpec, Outcome, Scenario, SiteSpec

TOKEN = "test-token-0123456789"
SITE = "s1"


def small_scenario() -> Scenario:
    """One site ``s1`` with a few short jobs (durations in BaaS seconds)."""
    jobs = [
        JobSpec(1, "backup_ok", duration=100, backup_size=1000, history=2),
        JobSpec(2, "backup_fails", duration=100, outcomes=[Outcome("FAILED", "disk full on media server")]),
        JobSpec(3, "backup_aborts", duration=100, outcomes=["ABORTED"]),
        JobSpec(4, "restore_ok", job_type="RESTORE", duration=100, schedule_interval=None),
        JobSpec(5, "inactive", active=False),
        JobSpec(6, "retry_me", duration=100, outcomes=[Outcome("FAILED", "transient"), "SUCCESSFUL"]),
        JobSpec(
            7,
            "verifying",
            duration=100,
            phases=[("QUEUED", 1), ("RUNNING", 5), ("VERIFYING", 4)],
        ),
        JobSpec(8, "running_at_start", duration=100, history=[HistoryEntry("SUCCESSFUL", ended_ago=-50)]),
    ]
    return Scenario(sites=[SiteSpec(SITE, jobs), SiteSpec("s2", [JobSpec(9, "other_site_job", history=1)])])


@pytest.fixture
def make_sim() -> Iterator[Callable[..., BaasSimulator]]:
    """Factory: ``make_sim(**BaasSimulator kwargs)`` -> started simulator (small scenario, frozen
    clock, token TOKEN unless overridden); all are stopped at teardown."""
    started: list[BaasSimulator] = []

    def factory(**kwargs: Any) -> BaasSimulator:
        kwargs.setdefault("scenario", small_scenario())
        kwargs.setdefault("token", TOKEN)
        kwargs.setdefault("time_scale", 0.0)
        sim = BaasSimulator(**kwargs).start()
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: Callable[..., BaasSimulator]) -> BaasSimulator:
    return make_sim()


@pytest.fixture
def demo(make_sim: Callable[..., BaasSimulator]) -> BaasSimulator:
    """The default demo scenario, frozen clock."""
    return make_sim(scenario=Scenario.default())


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RequestsClient:
    name = "requests"

    def __init__(self) -> None:
        self.session = requests.Session()

    def request(self, method: str, url: str, *, token: str | None = TOKEN, **kwargs: Any) -> Answer:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        resp = self.session.request(method, url, headers=headers, timeout=kwargs.pop("timeout", 10), **kwargs)
        return Answer(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content)

    def close(self) -> None:
        self.session.close()


class AiohttpClient:
    """aiohttp used from a synchronous test: one private event loop and one keep-alive session."""

    name = "aiohttp"

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.session = self.loop.run_until_complete(self._session())

    @staticmethod
    async def _session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    def request(self, method: str, url: str, *, token: str | None = TOKEN, **kwargs: Any) -> Answer:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        timeout = aiohttp.ClientTimeout(total=kwargs.pop("timeout", 10))

        async def go() -> Answer:
            async with self.session.request(method, url, headers=headers, timeout=timeout, **kwargs) as resp:
                body = await resp.read()
                return Answer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, body)

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        self.loop.run_until_complete(self.session.close())
        self.loop.close()


@pytest.fixture(params=["requests", "aiohttp"])
def client(request: pytest.FixtureRequest) -> Iterator[RequestsClient | AiohttpClient]:
    """The same tests over both HTTP clients the provider uses."""
    c: RequestsClient | AiohttpClient = RequestsClient() if request.param == "requests" else AiohttpClient()
    yield c
    c.close()


@pytest.fixture
def http() -> Iterator[RequestsClient]:
    c = RequestsClient()
    yield c
    c.close()
