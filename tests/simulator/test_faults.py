"""Fault injection, seen from both HTTP clients the provider uses (requests and aiohttp)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest
import requests

from airflow_provider_baas.testing import BaasSimulator, Fault

from .conftest import SITE, TOKEN, small_scenario

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def jobs_url(sim: BaasSimulator) -> str:
    return f"{sim.base_url}/sites/{SITE}/jobs"


def execute_url(sim: BaasSimulator, job_id: int = 1) -> str:
    return f"{sim.base_url}/sites/{SITE}/jobs/{job_id}/execute"


# -- status faults -------------------------------------------------------------------------------


def test_429_with_retry_after_seconds(sim: BaasSimulator, client: Any) -> None:
    sim.add_fault(kind="status", status=429, retry_after=7, path="*/jobs")
    first = client.request("GET", jobs_url(sim))
    assert first.status == 429
    assert first.headers["retry-after"] == "7"
    assert first.json() == {
        "status": 429,
        "error": "Too Many Requests",
        "message": "injected by the BaaS simulator",
    }
    assert client.request("GET", jobs_url(sim)).status == 200  # count=1 by default


def test_429_without_retry_after(sim: BaasSimulator, client: Any) -> None:
    sim.add_fault(status=429)
    answer = client.request("GET", jobs_url(sim))
    assert answer.status == 429
    assert "retry-after" not in answer.headers


def test_429_with_retry_after_http_date(sim: BaasSimulator, http: Any) -> None:
    sim.add_fault(status=429, retry_after_date=30)
    answer = http.request("GET", jobs_url(sim))
    when = parsedate_to_datetime(answer.headers["retry-after"])
    assert timedelta(seconds=25) < when - datetime.now(UTC) <= timedelta(seconds=31)
    sim.add_fault(status=503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    assert http.request("GET", jobs_url(sim)).headers["retry-after"] == "Wed, 21 Oct 2015 07:28:00 GMT"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 418])
def test_server_errors(sim: BaasSimulator, client: Any, status: int) -> None:
    sim.add_fault(status=status, method="GET", path="/data-protection/v2/sites/*/jobs/*/executions")
    answer = client.request("GET", f"{sim.base_url}/sites/{SITE}/jobs/1/executions")
    assert answer.status == status
    assert answer.json()["status"] == status and answer.json()["message"]
    assert client.request("GET", f"{sim.base_url}/sites/{SITE}/jobs/1/executions").status == 200


def test_custom_body_and_headers(sim: BaasSimulator, http: Any) -> None:
    sim.add_fault(status=503, body={"detail": "maintenance"}, headers={"x-maintenance": "yes"})
    answer = http.request("GET", jobs_url(sim))
    assert answer.json() == {"detail": "maintenance"}
    assert answer.headers["x-maintenance"] == "yes"


def test_status_fault_on_execute_starts_nothing(sim: BaasSimulator, client: Any) -> None:
    sim.add_fault(status=503, method="POST", path="*/execute")
    assert client.request("POST", execute_url(sim)).status == 503
    assert len(sim.executions(1)) == 2  # the two history entries only


def test_faults_apply_before_authentication(sim: BaasSimulator, http: Any) -> None:
    sim.add_fault(status=502)
    assert http.request("GET", jobs_url(sim), token=None).status == 502


# -- count, skip, matching -----------------------------------------------------------------------


def test_count_and_skip(sim: BaasSimulator, client: Any) -> None:
    fault = sim.add_fault(status=503, count=2, skip=1, path="*/jobs")
    statuses = [client.request("GET", jobs_url(sim)).status for _ in range(5)]
    assert statuses == [200, 503, 503, 200, 200]
    assert (fault.seen, fault.hits, fault.exhausted) == (5, 2, True)


def test_unlimited_count(sim: BaasSimulator, http: Any) -> None:
    sim.add_fault(status=500, count=None)
    assert {http.request("GET", jobs_url(sim)).status for _ in range(4)} == {500}
    sim.clear_faults()
    assert http.request("GET", jobs_url(sim)).status == 200
    assert sim.faults == []


def test_method_and_path_matching(sim: BaasSimulator, http: Any) -> None:
    sim.add_fault(status=503, method="post", path="*/execute", count=None)
    sim.add_fault(status=500, method="GET", path_regex=r"/jobs/\d+$", count=None)
    assert http.request("GET", jobs_url(sim)).status == 200
    assert http.request("GET", f"{jobs_url(sim)}/1").status == 500
    assert http.request("GET", f"{jobs_url(sim)}/1/executions").status == 200
    assert http.request("POST", execute_url(sim)).status == 503


def test_first_due_fault_answers_and_every_match_is_counted(sim: BaasSimulator, http: Any) -> None:
    first = sim.add_fault(status=500, count=1)
    second = sim.add_fault(status=502, skip=1, count=1)
    statuses = [http.request("GET", jobs_url(sim)).status for _ in range(3)]
    assert statuses == [500, 502, 200]
    assert (first.seen, first.hits, second.seen, second.hits) == (3, 1, 3, 1)


def test_fault_forms_and_validation(sim: BaasSimulator, http: Any) -> None:
    sim.add_fault({"kind": "status", "status": 504})
    sim.add_fault(Fault(kind="status", status=503))
    assert [http.request("GET", jobs_url(sim)).status for _ in range(3)] == [504, 503, 200]
    with pytest.raises(ValueError, match="unknown fault kind"):
        sim.add_fault(kind="explode")
    with pytest.raises(ValueError, match="delay > 0"):
        sim.add_fault(kind="delay")
    with pytest.raises(ValueError, match="unknown fault field"):
        sim.add_fault({"kind": "drop", "paht": "*"})
    with pytest.raises(TypeError):
        sim.add_fault(Fault(), status=500)
    assert Fault.from_dict(Fault(kind="drop", count=3).to_dict()) == Fault(kind="drop", count=3)


def test_faults_from_the_scenario_are_per_simulator(make_sim: Any, http: Any) -> None:
    scenario = small_scenario()
    scenario.faults = [Fault(status=503, count=1)]
    for _ in range(2):  # the same Scenario object: each simulator gets fresh counters
        sim = make_sim(scenario=scenario)
        assert [http.request("GET", jobs_url(sim)).status for _ in range(2)] == [503, 200]


# -- delay -------------------------------------------------------------------------------------


def test_delay_beyond_the_client_timeout_requests(sim: BaasSimulator, http: Any) -> None:
    sim.add_fault(kind="delay", delay=2.0)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.request("GET", jobs_url(sim), timeout=0.2)
    assert time.monotonic() - started < 1.5
    assert sim.requests[-1].fault == "delay"


async def test_delay_beyond_the_client_timeout_aiohttp(sim: BaasSimulator) -> None:
    sim.add_fault(kind="delay", delay=2.0)
    async with aiohttp.ClientSession(headers=AUTH) as session:
        with pytest.raises(asyncio.TimeoutError):
            async with session.get(jobs_url(sim), timeout=aiohttp.ClientTimeout(total=0.2)) as resp:
                await resp.read()


def test_delayed_execute_is_processed_after_the_client_gave_up(sim: BaasSimulator) -> None:
    """Like a slow server: the body is taken in before the delay, so a POST whose client timed out
    still starts the execution (the "maybe sent" case the hook must look up, never re-send)."""
    sim.add_fault(kind="delay", delay=0.5, method="POST", path="*/execute")
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(execute_url(sim), json={"run_type": "DELTA"}, headers=AUTH, timeout=0.1)
    deadline = time.monotonic() + 5
    while sim.requests[-1].status is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim.requests[-1].status == 202
    assert sim.executions(1)[0]["run_type"] == "DELTA"  # the body was read, not lost with the client


def test_short_delay_then_normal_answer(sim: BaasSimulator, client: Any) -> None:
    sim.add_fault(kind="delay", delay=0.15)
    started = time.monotonic()
    answer = client.request("GET", jobs_url(sim))
    assert answer.status == 200 and len(answer.json()) == 8
    assert time.monotonic() - started >= 0.15


def test_delay_combined_with_status(sim: BaasSimulator, http: Any) -> None:
    sim.add_fault(kind="status", status=504, delay=0.1)
    started = time.monotonic()
    assert http.request("GET", jobs_url(sim)).status == 504
    assert time.monotonic() - started >= 0.1


# -- drop --------------------------------------------------------------------------------------


def test_drop_requests(sim: BaasSimulator, http: Any) -> None:
    sim.add_fault(kind="drop", method="GET")
    with pytest.raises(requests.exceptions.ConnectionError):
        http.request("GET", jobs_url(sim))
    assert http.request("GET", jobs_url(sim)).status == 200
    assert [(r.status, r.fault) for r in sim.requests] == [(None, "drop"), (200, None)]


async def test_drop_aiohttp_post(sim: BaasSimulator) -> None:
    sim.add_fault(kind="drop", method="POST")
    async with aiohttp.ClientSession(headers=AUTH) as session:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with session.post(execute_url(sim), json={"run_type": "FULL"}) as resp:
                await resp.read()
    assert len(sim.executions(1)) == 2  # dropped before processing: nothing started


async def test_aiohttp_retries_an_idempotent_request_once_after_a_drop(sim: BaasSimulator) -> None:
    """aiohttp itself re-sends a GET once when the server disconnects: one drop is invisible."""
    sim.add_fault(kind="drop", method="GET", count=1)
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.get(jobs_url(sim)) as resp:
            assert resp.status == 200
        assert [r.fault for r in sim.requests] == ["drop", None]
        sim.clear_requests()
        sim.add_fault(kind="drop", method="GET", count=2)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with session.get(jobs_url(sim)) as resp:
                await resp.read()
        assert [r.fault for r in sim.requests] == ["drop", "drop"]


# -- malformed ---------------------------------------------------------------------------------


def test_malformed_requests(sim: BaasSimulator, http: Any) -> None:
    sim.add_fault(kind="malformed", path="*/executions")
    resp = http.session.get(f"{sim.base_url}/sites/{SITE}/executions", headers=AUTH, timeout=5)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    with pytest.raises(requests.exceptions.JSONDecodeError):
        resp.json()


async def test_malformed_aiohttp(sim: BaasSimulator) -> None:
    sim.add_fault(kind="malformed")
    async with aiohttp.ClientSession(headers=AUTH) as session, session.get(jobs_url(sim)) as resp:
        assert resp.status == 200
        with pytest.raises(json.JSONDecodeError):
            await resp.json()


# -- lost_answer -------------------------------------------------------------------------------


def test_lost_answer_requests_execution_exists(sim: BaasSimulator, http: Any) -> None:
    sim.add_fault(kind="lost_answer", method="POST", path="*/execute")
    before = {e["execution_id"] for e in sim.executions(1)}
    with pytest.raises(requests.exceptions.ConnectionError):
        http.request("POST", execute_url(sim), json={"run_type": "FULL"})
    listed = http.request("GET", f"{sim.base_url}/sites/{SITE}/jobs/1/executions").json()
    new = [e for e in listed if e["execution_id"] not in before]
    assert len(new) == 1 and new[0]["status"] == "QUEUED"
    posts = sim.requests_matching("POST", r"/execute$")
    assert [(r.status, r.fault) for r in posts] == [(None, "lost_answer")]


async def test_lost_answer_aiohttp_execution_exists(sim: BaasSimulator) -> None:
    sim.add_fault(kind="lost_answer", method="POST", path="*/execute")
    async with aiohttp.ClientSession(headers=AUTH) as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.post(execute_url(sim), json={"run_type": "FULL"}) as resp:
                await resp.read()
        async with session.get(f"{sim.base_url}/sites/{SITE}/jobs/1/executions") as resp:
            listed = await resp.json()
    assert len(listed) == 3 and listed[0]["status"] == "QUEUED"
    assert len(sim.requests_matching("POST", "execute")) == 1  # POST is not retried by aiohttp


def test_stop_does_not_wait_for_pending_delays(make_sim: Any, http: Any) -> None:
    sim = make_sim()
    sim.add_fault(kind="delay", delay=30)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.request("GET", jobs_url(sim), timeout=0.1)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 3
