"""The request log: what is recorded, what never is, and that it is safe under concurrency."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from airflow_provider_baas.testing import BaasSimulator, RecordedRequest

from .conftest import SITE, TOKEN


def test_one_execute_is_recorded_once(sim: BaasSimulator, client: Any) -> None:
    before = time.time()
    client.request("GET", f"{sim.base_url}/sites/{SITE}/jobs", params={"page": "1", "page-size": "5"})
    client.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/1/execute", json={"run_type": "FULL"})
    client.request("GET", f"{sim.base_url}/sites/{SITE}/jobs/1/executions")
    posts = sim.requests_matching("POST", r"/jobs/1/execute$")
    assert len(posts) == 1
    assert posts[0] == RecordedRequest(
        method="POST",
        path=f"/data-protection/v2/sites/{SITE}/jobs/1/execute",
        query={},
        time=posts[0].time,
        status=202,
        fault=None,
    )
    log = sim.requests
    assert [(r.method, r.status) for r in log] == [("GET", 200), ("POST", 202), ("GET", 200)]
    assert log[0].query == {"page": "1", "page-size": "5"}
    assert before <= log[0].time <= log[1].time <= log[2].time <= time.time()
    assert len(sim.requests_matching("GET")) == 2
    assert len(sim.requests_matching(path="executions")) == 1
    assert len(sim.requests_matching()) == 3
    sim.clear_requests()
    assert sim.requests == []


def test_no_secret_is_ever_recorded(make_sim: Any, http: Any) -> None:
    sim = make_sim(required_headers={"x-api-key": "header-secret-42"})
    headers = {"x-api-key": "header-secret-42"}
    http.request("GET", f"{sim.base_url}/sites/{SITE}/jobs", headers=headers)
    http.request("GET", f"{sim.base_url}/sites/{SITE}/jobs", token="wrong-secret-99", headers=headers)
    http.request(
        "POST", f"{sim.base_url}/sites/{SITE}/jobs/1/execute", headers=headers, json={"run_type": "FULL"}
    )
    assert len(sim.requests) == 3
    assert [r.status for r in sim.requests] == [200, 401, 202]
    dumped = repr(sim.requests) + repr([dataclasses.asdict(r) for r in sim.requests])
    for secret in (TOKEN, "wrong-secret-99", "header-secret-42", "Bearer", "Authorization", "run_type"):
        assert secret not in dumped
    assert {f.name for f in dataclasses.fields(RecordedRequest)} == {
        "method",
        "path",
        "query",
        "time",
        "status",
        "fault",
    }


def test_log_is_thread_safe(sim: BaasSimulator) -> None:
    url = f"{sim.base_url}/sites/{SITE}/jobs/1"

    def worker(_: int) -> list[int]:
        with requests.Session() as session:
            return [
                session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).status_code
                for _ in range(25)
            ]

    with ThreadPoolExecutor(8) as pool:
        results = [s for chunk in pool.map(worker, range(8)) for s in chunk]
        # read the log while requests are still coming in
        assert len(sim.requests) <= 200
    assert results == [200] * 200
    assert len(sim.requests_matching("GET", r"/jobs/1$")) == 200


def test_log_limit_and_callback(make_sim: Any, http: Any) -> None:
    seen: list[tuple[str, int | None]] = []
    sim = make_sim(request_log_limit=3, on_request=lambda r: seen.append((r.path, r.status)))
    for job_id in range(1, 6):
        http.request("GET", f"{sim.base_url}/sites/{SITE}/jobs/{job_id}")
    assert [r.path.rsplit("/", 1)[1] for r in sim.requests] == ["3", "4", "5"]
    assert [status for _, status in seen] == [200] * 5
