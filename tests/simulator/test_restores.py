"""The simulator's objects and restores endpoints (O1-O3, R1-R6) over real HTTP, from both clients:
preparations that take time, per-execution objects, restores that progress, credentials,
permission denials, name conflicts, the request log, and fault injection on every new endpoint."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from airflow_provider_baas.testing import (
    DEFAULT_DB_LOGIN,
    DEFAULT_DB_PASSWORD,
    BaasSimulator,
    JobSpec,
    Outcome,
    Scenario,
    SiteSpec,
)

from .conftest import SITE, small_scenario

JOB = 1  # backup_ok: two SUCCESSFUL executions in its history, objects generated from its name ("OK")


def basic(login: str = DEFAULT_DB_LOGIN, password: str = DEFAULT_DB_PASSWORD) -> dict[str, str]:
    return {"x-auth-credentials": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def site_url(sim: BaasSimulator, site: str = SITE) -> str:
    return f"{sim.base_url}/sites/{site}"


def exec_url(sim: BaasSimulator, execution: str, job: int = JOB) -> str:
    return f"{site_url(sim)}/jobs/{job}/executions/{execution}"


def newest(sim: BaasSimulator, job: int = JOB) -> str:
    return sim.executions(job)[0]["execution_id"]


def body(sim: BaasSimulator, execution: str, name: str = "r1", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "target_site": SITE,
        "job_settings": {
            "objects": [
                {
                    "object_name": "ORDERS",
                    "object_type": "TABLE",
                    "parent_name": "OK",
                    "parent_type": "DATABASE",
                    "exclude_objects": [],
                    "include_all": True,
                }
            ],
            "skip_statstics": False,
        },
    }
    data.update(overrides)
    return data


def prepared(sim: BaasSimulator, client: Any, execution: str) -> str:
    answer = client.request("POST", f"{exec_url(sim, execution)}/prepare-objects")
    assert answer.status == 202
    sim.advance(sim.scenario.preparation_duration)
    return answer.headers["x-resource-id"]


# -- O1-O3 ------------------------------------------------------------------------------------------


def test_a_preparation_takes_time_and_is_found_by_query_or_header(sim, client):
    execution = newest(sim)
    answer = client.request("POST", f"{exec_url(sim, execution)}/prepare-objects")
    assert answer.status == 202 and answer.body == b""
    prep = answer.headers["x-resource-id"]
    status_url = f"{site_url(sim)}/objects-preparation-status"
    assert client.request("GET", status_url, params={"resource-id": prep}).json()["status"] == "IN_PROGRESS"
    assert client.request("GET", f"{exec_url(sim, execution)}/objects").status == 409
    sim.advance(29)
    assert (
        client.request("GET", status_url, headers={"x-resource-id": prep}).json()["status"] == "IN_PROGRESS"
    )
    sim.advance(1)
    done = client.request("GET", status_url, params={"resource-id": prep}).json()
    assert done == {"status": "COMPLETED", "details": f"Objects of execution {execution} are ready"}
    assert client.request("GET", status_url).json()["status"] == "COMPLETED"  # the site's newest
    assert client.request("GET", status_url, params={"resource-id": "999"}).status == 404


def test_objects_are_listed_once_prepared_with_paging(sim, client):
    execution = newest(sim)
    prepared(sim, client, execution)
    objects = client.request("GET", f"{exec_url(sim, execution)}/objects").json()
    assert [(o["object_name"], o["object_type"], o["parent_name"]) for o in objects] == [
        ("OK", "DATABASE", "DBC"),
        ("CUSTOMERS", "TABLE", "OK"),
        ("ORDERS", "TABLE", "OK"),
        ("ORDER_ITEMS", "TABLE", "OK"),
    ]
    assert sum(o["byte_count"] for o in objects[1:]) <= objects[0]["byte_count"] > 0
    page2 = client.request("GET", f"{exec_url(sim, execution)}/objects", params={"page": 2, "page-size": 3})
    assert [o["object_name"] for o in page2.json()] == ["ORDER_ITEMS"]


def test_objects_come_from_the_scenario_or_are_set_per_execution(make_sim, client):
    tables = [{"object_name": "T1", "object_type": "TABLE", "parent_name": "ADW", "parent_type": "DATABASE"}]
    sim = make_sim(scenario=Scenario(sites=[SiteSpec(SITE, [JobSpec(1, "b", history=2, objects=tables)])]))
    first, second = (e["execution_id"] for e in sim.executions(1))
    sim.set_backup_objects(second, [{"object_name": "ADW", "object_type": "DATABASE", "byte_count": 5}])
    prepared(sim, client, first)
    prepared(sim, client, second)
    assert [o["object_name"] for o in client.request("GET", f"{exec_url(sim, first)}/objects").json()] == [
        "T1"
    ]
    assert client.request("GET", f"{exec_url(sim, second)}/objects").json() == [
        {
            "object_name": "ADW",
            "object_type": "DATABASE",
            "parent_name": None,
            "parent_type": None,
            "byte_count": 5,
        }
    ]


def test_a_preparation_fails_for_a_failed_backup_or_on_request(sim, client):
    failed = sim.start_execution(2)
    sim.advance(100)
    answer = client.request("POST", f"{exec_url(sim, failed, job=2)}/prepare-objects")
    prep = answer.headers["x-resource-id"]
    sim.advance(30)
    status = client.request(
        "GET", f"{site_url(sim)}/objects-preparation-status", params={"resource-id": prep}
    )
    assert status.json() == {
        "status": "FAILED",
        "details": f"execution {failed} has no save set (status FAILED)",
    }
    sim.fail_preparations("media server unreachable")
    prep = prepared(sim, client, newest(sim))
    status = client.request(
        "GET", f"{site_url(sim)}/objects-preparation-status", params={"resource-id": prep}
    )
    assert status.json()["details"] == "media server unreachable"
    assert client.request("GET", f"{exec_url(sim, newest(sim))}/objects").status == 409


def test_an_unknown_execution_is_404_and_a_wrong_method_405(sim, client):
    assert client.request("POST", f"{exec_url(sim, '424242')}/prepare-objects").status == 404
    other_job_execution = sim.executions(8)[0]["execution_id"]
    assert client.request("POST", f"{exec_url(sim, other_job_execution)}/prepare-objects").status == 404
    wrong = client.request("GET", f"{exec_url(sim, newest(sim))}/prepare-objects")
    assert wrong.status == 405 and wrong.headers["allow"] == "POST"


# -- R6, R1, R2, R5 ---------------------------------------------------------------------------------


def test_a_restore_progresses_and_is_listed_everywhere(sim, client):
    execution = newest(sim)
    answer = client.request(
        "POST", f"{exec_url(sim, execution)}/restores", json=body(sim, execution), headers=basic()
    )
    assert answer.status == 202
    restore_id = answer.headers["x-resource-id"]
    one = f"{exec_url(sim, execution)}/restores/{restore_id}"
    seen = [client.request("GET", one).json()["status"]]
    for step in (60, 540):
        sim.advance(step)
        seen.append(client.request("GET", one).json()["status"])
    assert seen == ["QUEUED", "RUNNING", "SUCCESSFUL"]
    record = client.request("GET", one).json()
    assert (
        record["name"] == "r1" and record["backup_job_execution_id"] == execution and record["job_id"] == JOB
    )
    assert record["start_time"] and record["end_time"]
    assert [r["restore_id"] for r in client.request("GET", f"{site_url(sim)}/restores").json()] == [
        restore_id
    ]
    assert [
        r["restore_id"] for r in client.request("GET", f"{exec_url(sim, execution)}/restores").json()
    ] == [restore_id]
    assert client.request("GET", f"{exec_url(sim, execution)}/restores/77").status == 404


def test_restore_outcomes_come_from_the_scenario_and_can_be_changed(make_sim, client):
    scenario = small_scenario()
    scenario.restore_outcomes = [Outcome("FAILED", "no space left on target")]
    scenario.restore_duration = 10
    sim = make_sim(scenario=scenario)
    execution = newest(sim)
    first = client.request(
        "POST", f"{exec_url(sim, execution)}/restores", json=body(sim, execution), headers=basic()
    )
    sim.set_restore_outcome(["SUCCESSFUL"])
    second = client.request(
        "POST", f"{exec_url(sim, execution)}/restores", json=body(sim, execution, "r2"), headers=basic()
    )
    sim.advance(10)
    assert sim.restore(first.headers["x-resource-id"])["status"] == "FAILED"
    assert sim.restore(first.headers["x-resource-id"])["status_detail"] == "no space left on target"
    assert sim.restore(second.headers["x-resource-id"])["status"] == "SUCCESSFUL"


def test_a_second_post_of_the_name_is_409_and_every_post_is_recorded(sim, client):
    execution = newest(sim)
    url = f"{exec_url(sim, execution)}/restores"
    assert client.request("POST", url, json=body(sim, execution), headers=basic()).status == 202
    again = client.request("POST", url, json=body(sim, execution), headers=basic())
    assert again.status == 409 and "already exists" in again.json()["message"]
    assert [r.status for r in sim.requests_matching("POST", r"/restores$")] == [202, 409]
    assert len(sim.restores()) == 1


@pytest.mark.parametrize(
    "headers, status, words",
    [
        ({}, 400, "x-auth-credentials header is required"),
        (basic(password="not-the-password"), 401, "database logon failed"),
        (basic(login="someone"), 401, "database logon failed for user 'someone'"),
        ({"x-auth-credentials": "Bearer abc"}, 401, "must be 'Basic base64(user:password)'"),
        ({"x-auth-credentials": "Basic %%%"}, 401, "must be 'Basic base64(user:password)'"),
    ],
)
def test_credentials_are_checked_on_create_and_permission_check(sim, client, headers, status, words):
    execution = newest(sim)
    create = client.request(
        "POST", f"{exec_url(sim, execution)}/restores", json=body(sim, execution), headers=headers
    )
    check = client.request(
        "POST",
        f"{site_url(sim)}/restore-permissions",
        json={"job_id": JOB, "execution_id": execution, **body(sim, execution)},
        headers=headers,
    )
    for answer in (create, check):
        assert answer.status == status and words in answer.json()["message"]
    assert sim.restores() == []


def test_the_accepted_database_user_can_change(sim, client):
    sim.set_database_credentials("etl_restorer", "another-long-password")
    execution = newest(sim)
    url = f"{exec_url(sim, execution)}/restores"
    assert client.request("POST", url, json=body(sim, execution), headers=basic()).status == 401
    good = basic("etl_restorer", "another-long-password")
    assert client.request("POST", url, json=body(sim, execution), headers=good).status == 202


def test_denied_users_and_target_sites_get_403(make_sim, client):
    scenario = small_scenario()
    scenario.restore_denied_sites = ["s2"]
    sim = make_sim(scenario=scenario)
    execution = newest(sim)
    url = f"{exec_url(sim, execution)}/restores"
    permissions = f"{site_url(sim)}/restore-permissions"
    check = {"job_id": JOB, "execution_id": execution, **body(sim, execution)}
    assert client.request("POST", permissions, json=check, headers=basic()).json()["has_permission"] is True
    to_s2 = body(sim, execution, target_site="s2")
    denied = client.request("POST", url, json=to_s2, headers=basic())
    assert denied.status == 403 and "site s2" in denied.json()["message"]
    assert (
        client.request("POST", permissions, json={**check, "target_site": "s2"}, headers=basic()).status
        == 403
    )
    sim.deny_restores(user=DEFAULT_DB_LOGIN)
    assert client.request("POST", url, json=body(sim, execution), headers=basic()).status == 403
    assert client.request("POST", permissions, json=check, headers=basic()).status == 403
    assert sim.restores() == []


@pytest.mark.parametrize(
    "change, words",
    [
        ({"name": ""}, "name is required"),
        ({"target_site": "nowhere"}, "is not a site"),
        ({"job_settings": {"objects": []}}, "non-empty array"),
        (
            {"job_settings": {"objects": [{"object_name": "NOPE", "object_type": "TABLE"}]}},
            "is not in the backup",
        ),
        ({"job_settings": "x"}, "job_settings must be a JSON object"),
    ],
)
def test_bad_create_bodies_are_400(sim, client, change, words):
    execution = newest(sim)
    answer = client.request(
        "POST", f"{exec_url(sim, execution)}/restores", json=body(sim, execution, **change), headers=basic()
    )
    assert answer.status == 400 and words in answer.json()["message"]


def test_a_restore_of_a_failed_backup_is_400(sim, client):
    failed = sim.start_execution(2)
    sim.advance(100)
    answer = client.request(
        "POST", f"{exec_url(sim, failed, job=2)}/restores", json=body(sim, failed), headers=basic()
    )
    assert answer.status == 400


# -- R4 ---------------------------------------------------------------------------------------------


def test_databases(sim, client):
    names = [d["database_name"] for d in client.request("GET", f"{site_url(sim)}/databases").json()]
    # DBC, and the database of every backup job (named after the job: backup_ok holds OK).
    assert names == sorted(names) and {"DBC", "OK", "FAILS", "RETRY"} <= set(names)


# -- faults -----------------------------------------------------------------------------------------

ENDPOINTS = {
    "O1": ("POST", "/jobs/1/executions/{e}/prepare-objects"),
    "O2": ("GET", "/objects-preparation-status"),
    "O3": ("GET", "/jobs/1/executions/{e}/objects"),
    "R1": ("GET", "/jobs/1/executions/{e}/restores/9001"),
    "R2": ("GET", "/restores"),
    "R3": ("POST", "/restore-permissions"),
    "R4": ("GET", "/databases"),
    "R5": ("GET", "/jobs/1/executions/{e}/restores"),
    "R6": ("POST", "/jobs/1/executions/{e}/restores"),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINTS)
@pytest.mark.parametrize("status", [429, 503])
def test_status_faults_apply_to_every_new_endpoint(sim, http, endpoint, status):
    method, suffix = ENDPOINTS[endpoint]
    target = site_url(sim) + suffix.format(e=newest(sim))
    sim.add_fault(
        kind="status", status=status, method=method, path=target.removeprefix(sim.url), retry_after=2
    )
    answer = http.request(method, target, json=body(sim, newest(sim)), headers=basic())
    assert answer.status == status and answer.headers["retry-after"] == "2"
    assert sim.requests[-1].fault == "status"


def test_a_lost_create_answer_still_creates_the_restore(sim, http):
    import requests

    execution = newest(sim)
    sim.add_fault(kind="lost_answer", method="POST", path="*/restores")
    with pytest.raises(requests.exceptions.ConnectionError):
        http.request(
            "POST", f"{exec_url(sim, execution)}/restores", json=body(sim, execution), headers=basic()
        )
    assert [r["name"] for r in sim.restores()] == ["r1"]
    recorded = sim.requests_matching("POST", r"/restores$")
    assert [(r.status, r.fault) for r in recorded] == [(None, "lost_answer")]


def test_a_dropped_create_creates_nothing(sim, http):
    import requests

    execution = newest(sim)
    sim.add_fault(kind="drop", method="POST", path="*/restores")
    with pytest.raises(requests.exceptions.ConnectionError):
        http.request(
            "POST", f"{exec_url(sim, execution)}/restores", json=body(sim, execution), headers=basic()
        )
    assert sim.restores() == []


def test_a_slow_preparation_status(sim, http):
    sim.add_fault(kind="delay", delay=0.05, path="*/objects-preparation-status")
    prepared(sim, http, newest(sim))
    assert http.request("GET", f"{site_url(sim)}/objects-preparation-status").json()["status"] == "COMPLETED"
    assert sim.requests[-1].fault == "delay"


# -- scenario and pytest plugin -----------------------------------------------------------------------


def test_the_restore_settings_of_a_scenario_survive_json():
    scenario = small_scenario()
    scenario.database_credentials = {"login": "u", "password": "p-long-enough"}
    scenario.restore_denied_users = ["bob"]
    scenario.restore_denied_sites = ["s2"]
    scenario.restore_duration = 5
    scenario.restore_outcomes = [Outcome("FAILED", "x")]
    scenario.preparation_duration = 3
    scenario.sites[0].jobs[0].objects = [{"object_name": "A", "object_type": "DATABASE"}]
    again = Scenario.from_json(scenario.to_json())
    assert again.to_dict() == scenario.to_dict()
    assert again.restore_outcomes == [Outcome("FAILED", "x")] and again.sites[0].jobs[0].objects


def test_scenario_refuses_bad_restore_settings():
    with pytest.raises(ValueError, match="database_credentials"):
        Scenario(sites=[SiteSpec("s")], database_credentials={"user": "u"})
    with pytest.raises(ValueError, match="restore_outcomes"):
        Scenario(sites=[SiteSpec("s")], restore_outcomes=[])


def test_the_restore_connections_fixture_feeds_the_hook(baas_restore_connections):
    from airflow_provider_baas.hooks.baas import BaasHook

    sim = baas_restore_connections
    hook = BaasHook()
    execution = sim.executions(34)[0]["execution_id"]
    objects = hook.list_backup_objects(34, execution, poll_interval=0.01)
    creds = hook.get_database_credentials("teradata_default")
    restore_id = hook.create_restore(
        34, execution, name="from-fixture", objects=objects[:1], credentials=creds
    )
    assert sim.restore(restore_id)["db_user"] == DEFAULT_DB_LOGIN
