"""The five endpoints over real HTTP, with both clients: payloads, paging, filters, errors."""

from __future__ import annotations

import http.client
import re
from typing import Any

import pytest

from airflow_provider_baas.testing import BaasSimulator

from . import seed_payloads
from .conftest import SITE, TOKEN

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
DEMO = "demo-site"


def ids(items: list[dict[str, Any]], key: str = "job_id") -> list[Any]:
    return [item[key] for item in items]


def assert_error(answer: Any, status: int, *words: str) -> dict[str, Any]:
    assert answer.status == status, answer.body
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    for word in words:
        assert word in body["message"]
    return body


# -- J1 ------------------------------------------------------------------------------------------


def test_j1_default_page_size_gives_two_pages(demo: BaasSimulator, client: Any) -> None:
    url = f"{demo.base_url}/sites/{DEMO}/jobs"
    first = client.request("GET", url, token=demo.token)
    assert first.status == 200
    assert first.headers["content-type"].startswith("application/json")
    assert ids(first.json()) == list(range(34, 44))
    second = client.request("GET", url, params={"page": "2"}, token=demo.token)
    assert ids(second.json()) == [44, 45, 46]
    third = client.request("GET", url, params={"page": "3"}, token=demo.token)
    assert third.json() == []


def test_j1_page_size_and_short_pages(demo: BaasSimulator, client: Any) -> None:
    url = f"{demo.base_url}/sites/{DEMO}/jobs"
    pages = [
        ids(client.request("GET", url, params={"page": str(p), "page-size": "5"}, token=demo.token).json())
        for p in (1, 2, 3, 4)
    ]
    assert pages == [[34, 35, 36, 37, 38], [39, 40, 41, 42, 43], [44, 45, 46], []]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"is-active": "false"}, [38]),
        ({"is-active": "FALSE"}, [38]),
        ({"job-type": "RESTORE"}, [39, 44]),
        ({"job-type": "Restore"}, [39, 44]),
        (
            {"job-type": "backup", "is-active": "true", "page-size": "100"},
            [34, 35, 36, 37, *range(40, 44), 45, 46],
        ),
        ({"is-active": "true", "page": "2"}, [45, 46]),
    ],
)
def test_j1_filters(demo: BaasSimulator, http: Any, params: dict[str, str], expected: list[int]) -> None:
    answer = http.request("GET", f"{demo.base_url}/sites/{DEMO}/jobs", params=params, token=demo.token)
    assert answer.status == 200
    assert ids(answer.json()) == expected


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"is-active": "yes"}, "is-active"),
        ({"job-type": "SNAPSHOT"}, "job-type"),
        ({"page": "0"}, "page"),
        ({"page-size": "abc"}, "page-size"),
        ({"page": "-1"}, "page"),
    ],
)
def test_j1_bad_query_is_400(demo: BaasSimulator, http: Any, params: dict[str, str], word: str) -> None:
    answer = http.request("GET", f"{demo.base_url}/sites/{DEMO}/jobs", params=params, token=demo.token)
    assert_error(answer, 400, word)


def test_j1_job_fields(demo: BaasSimulator, http: Any) -> None:
    jobs = {
        j["job_id"]: j
        for j in http.request(
            "GET", f"{demo.base_url}/sites/{DEMO}/jobs?page-size=50", token=demo.token
        ).json()
    }
    warehouse = jobs[34]
    assert warehouse["name"] == "daily_warehouse_backup"
    assert warehouse["job_type"] == "BACKUP"
    assert warehouse["is_active"] is True
    assert "job_settings" not in warehouse
    last = warehouse["last_execution_details"]
    assert last["status"] == "SUCCESSFUL"
    assert last["backup_job_id"] == 34
    assert isinstance(last["backup_job_execution_id"], int)
    assert last["restore_execution_id"] is None
    assert ISO.match(last["start_time"]) and ISO.match(last["end_time"])
    assert ISO.match(warehouse["next_run_time"])
    assert jobs[45]["last_execution_details"] is None  # never run
    assert jobs[38]["is_active"] is False and jobs[38]["next_run_time"] is None
    restore = jobs[39]["last_execution_details"]
    assert restore["restore_execution_id"] == restore["backup_job_execution_id"]
    assert jobs[37]["last_execution_details"]["status"] == "FAILED"


# -- J2 ------------------------------------------------------------------------------------------


def test_j2_one_job_with_settings(demo: BaasSimulator, client: Any) -> None:
    answer = client.request("GET", f"{demo.base_url}/sites/{DEMO}/jobs/34", token=demo.token)
    assert answer.status == 200
    job = answer.json()
    assert job["job_id"] == 34 and job["site_id"] == DEMO
    settings = job["job_settings"]
    assert settings["objects"][0]["object_name"] == "WAREHOUSE"
    assert settings["objects"][0]["exclude_objects"] == [
        {"object_name": "WAREHOUSE_STAGE", "object_type": "DATABASE"}
    ]
    assert "skip_statstics" in settings  # sic, as in the API document


@pytest.mark.parametrize(
    ("path", "word"),
    [
        ("/sites/demo-site/jobs/999", "job 999 not found"),
        ("/sites/demo-site/jobs/abc", "job abc not found"),
        ("/sites/nowhere/jobs/34", "site nowhere not found"),
        ("/sites/nowhere/jobs", "site nowhere"),
        ("/sites/nowhere/executions", "site nowhere"),
        ("/sites/demo-site/jobs/999/executions", "job 999"),
        ("/sites/dr-site/jobs/34", "job 34 not found in site dr-site"),
    ],
)
def test_unknown_ids_are_404_json(demo: BaasSimulator, client: Any, path: str, word: str) -> None:
    assert_error(client.request("GET", demo.base_url + path, token=demo.token), 404, word)


# -- J3 ------------------------------------------------------------------------------------------


def test_j3_execute_answers_202_with_resource_id(sim: BaasSimulator, client: Any) -> None:
    answer = client.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/1/execute", json={"run_type": "FULL"})
    assert answer.status == 202
    assert answer.body == b""
    exec_id = answer.headers["x-resource-id"]
    assert exec_id.isdigit()
    listed = client.request("GET", f"{sim.base_url}/sites/{SITE}/jobs/1/executions").json()
    assert listed[0]["execution_id"] == exec_id
    assert listed[0]["status"] == "QUEUED"
    assert listed[0]["run_type"] == "FULL"
    assert exec_id in ids(
        client.request("GET", f"{sim.base_url}/sites/{SITE}/executions").json(), "execution_id"
    )
    job = client.request("GET", f"{sim.base_url}/sites/{SITE}/jobs/1").json()
    assert job["last_execution_details"]["backup_job_execution_id"] == int(exec_id)
    assert job["last_execution_details"]["status"] == "QUEUED"


@pytest.mark.parametrize(
    ("kwargs", "run_type"),
    [
        ({}, "FULL"),
        ({"json": {"run_type": "delta"}}, "DELTA"),
        ({"json": {"run_type": "Cumulative"}}, "CUMULATIVE"),
        ({"json": {}}, "FULL"),
        ({"data": b"", "headers": {"Content-Type": "application/json"}}, "FULL"),
    ],
)
def test_j3_run_type(sim: BaasSimulator, http: Any, kwargs: dict[str, Any], run_type: str) -> None:
    answer = http.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/1/execute", **kwargs)
    assert answer.status == 202
    assert sim.execution(answer.headers["x-resource-id"])["run_type"] == run_type


def test_delta_execution_names_its_parent_full_backup(sim: BaasSimulator, http: Any) -> None:
    full = http.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/1/execute").headers["x-resource-id"]
    sim.advance(200)
    delta = http.request(
        "POST", f"{sim.base_url}/sites/{SITE}/jobs/1/execute", json={"run_type": "DELTA"}
    ).headers["x-resource-id"]
    assert sim.execution(delta)["parent_execution_id"] == full
    assert sim.execution(full)["parent_execution_id"] is None


@pytest.mark.parametrize(
    ("kwargs", "status", "word"),
    [
        ({"json": {"run_type": "SNAPSHOT"}}, 400, "run_type"),
        ({"json": {"run_type": 5}}, 400, "run_type"),
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "JSON"),
        ({"json": ["FULL"]}, 400, "JSON object"),
    ],
)
def test_j3_bad_body_is_400(
    sim: BaasSimulator, http: Any, kwargs: dict[str, Any], status: int, word: str
) -> None:
    answer = http.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/1/execute", **kwargs)
    assert_error(answer, status, word)
    assert len(sim.executions(1)) == 2  # history only: nothing started


def test_j3_inactive_job_is_refused(sim: BaasSimulator, client: Any) -> None:
    answer = client.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/5/execute", json={"run_type": "FULL"})
    assert_error(answer, 400, "not active")
    assert "x-resource-id" not in answer.headers
    assert sim.executions(5) == []


def test_j3_unknown_job_is_404(sim: BaasSimulator, client: Any) -> None:
    assert_error(client.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/77/execute"), 404, "job 77")


def test_j3_optional_json_body(make_sim: Any, http: Any) -> None:
    sim = make_sim(execute_response_body="{}")
    answer = http.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/1/execute")
    assert answer.status == 202 and answer.json() == {}
    assert answer.headers["x-resource-id"].isdigit()


# -- J4 / J5 -------------------------------------------------------------------------------------


def test_j4_lists_the_sites_executions_newest_first(sim: BaasSimulator, client: Any) -> None:
    new_id = client.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/2/execute").headers["x-resource-id"]
    items = client.request("GET", f"{sim.base_url}/sites/{SITE}/executions").json()
    numbers = [int(i) for i in ids(items, "execution_id")]
    assert numbers == sorted(numbers, reverse=True)
    assert items[0]["execution_id"] == new_id
    assert {i["site_id"] for i in items} == {SITE}
    assert {i["job_id"] for i in items} == {1, 2, 8}
    other = client.request("GET", f"{sim.base_url}/sites/s2/executions").json()
    assert ids(other, "job_id") == [9]


def test_j5_lists_one_jobs_executions(sim: BaasSimulator, client: Any) -> None:
    client.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/2/execute")
    items = client.request("GET", f"{sim.base_url}/sites/{SITE}/jobs/1/executions").json()
    assert len(items) == 2
    assert {i["job_id"] for i in items} == {1}
    assert all(i["status"] == "SUCCESSFUL" for i in items)
    assert all(ISO.match(i["start_time"]) and ISO.match(i["end_time"]) for i in items)


def test_executions_order_is_configurable(make_sim: Any, http: Any) -> None:
    sim = make_sim(executions_order="oldest_first")
    numbers = [
        int(i["execution_id"]) for i in http.request("GET", f"{sim.base_url}/sites/{SITE}/executions").json()
    ]
    assert numbers == sorted(numbers)
    sim.executions_order = "newest_first"
    numbers = [int(i["execution_id"]) for i in sim.executions(site_id=SITE)]
    assert numbers == sorted(numbers, reverse=True)


def test_j5_paging(demo: BaasSimulator, client: Any) -> None:
    url = f"{demo.base_url}/sites/{DEMO}/jobs/34/executions"
    everything = client.request("GET", url, token=demo.token).json()
    assert len(everything) == 30  # no paging parameters: all of them
    pages = [
        client.request("GET", url, params={"page": str(p), "page-size": "12"}, token=demo.token).json()
        for p in (1, 2, 3, 4)
    ]
    assert [len(p) for p in pages] == [12, 12, 6, 0]
    assert [i for page in pages for i in page] == everything
    # page-size alone means page 1, page alone means page-size 10
    assert client.request("GET", url, params={"page-size": "4"}, token=demo.token).json() == everything[:4]
    assert client.request("GET", url, params={"page": "3"}, token=demo.token).json() == everything[20:30]


def test_j4_paging(demo: BaasSimulator, http: Any) -> None:
    url = f"{demo.base_url}/sites/{DEMO}/executions"
    everything = http.request("GET", url, token=demo.token).json()
    assert len(everything) > 100
    page = http.request("GET", url, params={"page": "2", "page-size": "25"}, token=demo.token).json()
    assert page == everything[25:50]


def test_ignore_paging(make_sim: Any, http: Any) -> None:
    from airflow_provider_baas.testing import Scenario

    sim = make_sim(scenario=Scenario.default(), ignore_paging=True)
    params = {"page": "2", "page-size": "3"}
    jobs = http.request("GET", f"{sim.base_url}/sites/{DEMO}/jobs", params=params, token=sim.token).json()
    assert len(jobs) == 13
    j4 = http.request("GET", f"{sim.base_url}/sites/{DEMO}/executions", params=params, token=sim.token).json()
    assert len(j4) == len(sim.executions(site_id=DEMO))
    j5 = http.request(
        "GET", f"{sim.base_url}/sites/{DEMO}/jobs/34/executions", params=params, token=sim.token
    ).json()
    assert len(j5) == 30
    sim.ignore_paging = False
    assert (
        len(http.request("GET", f"{sim.base_url}/sites/{DEMO}/jobs", params=params, token=sim.token).json())
        == 3
    )


def test_retention_flags(demo: BaasSimulator) -> None:
    items = demo.executions(34)
    retained = [i["is_saveset_retained"] for i in items]
    assert retained == [True] * 7 + [False] * 23  # no_of_retention_copies = 7
    assert [i["is_saveset_deleted"] for i in items] == [not r for r in retained]
    assert all(isinstance(i["saveset_id"], int) for i in items)
    failed = next(i for i in demo.executions(37) if i["status"] == "FAILED")
    assert failed["saveset_id"] is None and failed["is_saveset_retained"] is False
    assert "DUMP access" in failed["status_detail"]


# -- routing errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/data-protection/v1/sites/s1/jobs",
        "/data-protection/v2/sites",
        "/data-protection/v2/sites/s1",
        "/data-protection/v2/sites/s1/",
        "/data-protection/v2/sites/s1/jobs/",
        "/data-protection/v2/sites/s1/jobs/1/restores",
        "/data-protection/v2/sites/s1/jobs/1/executions/extra",
    ],
)
def test_unknown_path_is_404_json(sim: BaasSimulator, client: Any, path: str) -> None:
    assert_error(client.request("GET", sim.url + path), 404, "no such endpoint")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/sites/s1/jobs", "GET"),
        ("DELETE", "/sites/s1/jobs/1", "GET"),
        ("GET", "/sites/s1/jobs/1/execute", "POST"),
        ("PUT", "/sites/s1/executions", "GET"),
        ("POST", "/sites/s1/jobs/1/executions", "GET"),
    ],
)
def test_wrong_method_is_405_json(
    sim: BaasSimulator, client: Any, method: str, path: str, allowed: str
) -> None:
    answer = client.request(method, sim.base_url + path)
    assert_error(answer, 405, method)
    assert answer.headers["allow"] == allowed


# -- seed payload fields -------------------------------------------------------------------------


def missing_fields(
    sample: Any, actual: Any, where: str = "", nullable: frozenset[str] = frozenset()
) -> list[str]:
    """Fields of ``sample`` (recursively) absent from ``actual`` or of another JSON type."""
    if isinstance(sample, dict):
        if actual is None and where.rstrip(".") in nullable:
            return []
        if not isinstance(actual, dict):
            return [f"{where or '<root>'}: expected an object, got {actual!r}"]
        problems = []
        for key, value in sample.items():
            if key not in actual:
                problems.append(where + key)
            else:
                problems += missing_fields(value, actual[key], f"{where}{key}.", nullable)
        return problems
    if isinstance(sample, list):
        if not isinstance(actual, list) or (sample and not actual):
            return [f"{where}: expected a non-empty list, got {actual!r}"]
        return [p for item in actual for p in missing_fields(sample[0], item, where, nullable)]
    if actual is not None and type(actual) is not type(sample):
        return [f"{where.rstrip('.')}: {type(actual).__name__} instead of {type(sample).__name__}"]
    return []


def test_missing_fields_helper_catches_gaps() -> None:
    sample = {"a": 1, "b": {"c": "x"}, "d": [{"e": True}]}
    assert missing_fields(sample, {"a": 2, "b": {"c": "y"}, "d": [{"e": False}]}) == []
    assert missing_fields(sample, {"a": "2", "b": {}, "d": [{}]}) == ["a: str instead of int", "b.c", "d.e"]


def test_seed_payloads_are_verbatim_copies_of_the_document() -> None:
    from pathlib import Path

    seed = Path("/work/shared/seed/baas-enterprise-jobs-api.txt")
    if not seed.exists():
        pytest.skip("seed document not available")
    text = seed.read_text()
    for name in ("JOB_LIST_TEXT", "JOB_BY_ID_TEXT", "ALL_EXECUTIONS_TEXT", "JOB_EXECUTIONS_TEXT"):
        assert getattr(seed_payloads, name).strip() in text


def test_jobs_and_executions_carry_every_seed_field(demo: BaasSimulator, client: Any) -> None:
    base = f"{demo.base_url}/sites/{DEMO}"
    never_run = frozenset({"last_execution_details"})
    jobs = client.request("GET", f"{base}/jobs?page-size=100", token=demo.token).json()
    assert len(jobs) == 13
    for job in jobs:
        nullable = never_run if job["job_id"] == 45 else frozenset()
        assert missing_fields(seed_payloads.JOB_LIST[0], job, nullable=nullable) == [], job["job_id"]
    job = client.request("GET", f"{base}/jobs/34", token=demo.token).json()
    assert missing_fields(seed_payloads.JOB_BY_ID, job) == []
    all_execs = client.request("GET", f"{base}/executions", token=demo.token).json()
    assert missing_fields(seed_payloads.ALL_EXECUTIONS, all_execs) == []
    job_execs = client.request("GET", f"{base}/jobs/34/executions", token=demo.token).json()
    assert missing_fields(seed_payloads.JOB_EXECUTIONS, job_execs) == []
    # and no field the seed does not know about
    assert set(job_execs[0]) == set(seed_payloads.JOB_EXECUTIONS[0])
    assert set(job) == set(seed_payloads.JOB_BY_ID)
    assert set(jobs[0]) == set(seed_payloads.JOB_LIST[0])


def test_running_execution_carries_every_seed_field(sim: BaasSimulator, http: Any) -> None:
    http.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/1/execute")
    running = http.request("GET", f"{sim.base_url}/sites/{SITE}/jobs/1/executions").json()
    assert missing_fields(seed_payloads.JOB_EXECUTIONS, running) == []
    assert running[0]["end_time"] is None and running[0]["start_time"] is None  # QUEUED


def test_keep_alive(sim: BaasSimulator) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        conn.request("GET", f"/data-protection/v2/sites/{SITE}/jobs", headers=headers)
        first = conn.getresponse()
        first.read()
        sock = conn.sock
        conn.request("GET", f"/data-protection/v2/sites/{SITE}/jobs/1", headers=headers)
        second = conn.getresponse()
        second.read()
        assert first.status == second.status == 200
        assert first.version == 11
        assert conn.sock is sock  # same TCP connection
    finally:
        conn.close()
