"""Every endpoint of the hook against requests-mock: paths, query parameters, bodies, site ids, hosts,
and the pagination rules (several pages, short page, empty page, a server that ignores paging)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from airflow_provider_baas.errors import BaasLookupError, BaasNotFoundError, BaasValidationError
from airflow_provider_baas.models import Execution, Job

from ._support import (
    BASE,
    EXECUTIONS_URL,
    JOBS_URL,
    SITE,
    TOKEN,
    execute_url,
    execution_payload,
    job_executions_url,
    job_payload,
    job_url,
    paged,
    path,
    query,
)

API = "/data-protection/v2"

# ------------------------------------------------------------------------------------------------
# J1: list_jobs


def test_list_jobs_sends_paging_params_and_parses_jobs(hook, requests_mock):
    requests_mock.get(JOBS_URL, json=[job_payload(34, "nightly")])

    jobs = hook.list_jobs()

    assert len(requests_mock.request_history) == 1
    request = requests_mock.request_history[0]
    assert request.method == "GET"
    assert path(request) == f"{API}/sites/{SITE}/jobs"
    assert query(request) == {"page": "1", "page-size": "2"}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert [type(j) for j in jobs] == [Job]
    assert jobs[0].job_id == "34"
    assert jobs[0].name == "nightly"
    assert jobs[0].job_type == "BACKUP"
    assert jobs[0].is_active is True
    assert jobs[0].raw["siteTargetType"] == "AWS"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"is_active": True}, {"is-active": "true"}),
        ({"is_active": False}, {"is-active": "false"}),
        ({"job_type": "backup"}, {"job-type": "BACKUP"}),
        ({"job_type": " Restore "}, {"job-type": "RESTORE"}),
        ({"is_active": True, "job_type": "BACKUP"}, {"is-active": "true", "job-type": "BACKUP"}),
    ],
)
def test_list_jobs_filters_become_query_params(hook, requests_mock, kwargs, expected):
    requests_mock.get(JOBS_URL, json=[])

    assert hook.list_jobs(**kwargs) == []

    assert query(requests_mock.request_history[0]) == {**expected, "page": "1", "page-size": "2"}


@pytest.mark.parametrize("kwargs", [{"is_active": "yes"}, {"is_active": 1}, {"job_type": "weekly"}])
def test_list_jobs_rejects_bad_filters_before_any_request(hook, requests_mock, kwargs):
    with pytest.raises(BaasValidationError):
        hook.list_jobs(**kwargs)
    assert requests_mock.request_history == []


def test_page_size_defaults_to_100(make_hook, requests_mock):
    hook = make_hook(extra={"page_size": None})
    requests_mock.get(JOBS_URL, json=[])

    hook.list_jobs()

    assert query(requests_mock.request_history[0])["page-size"] == "100"


# ------------------------------------------------------------------------------------------------
# J2: get_job


@pytest.mark.parametrize("job_id", [34, "34", "034"])
def test_get_job_fetches_one_job(hook, requests_mock, job_id):
    payload = job_payload(34, job_settings={"online": False, "skip_statstics": True})
    requests_mock.get(job_url(34), json=payload)

    job = hook.get_job(job_id)

    assert [path(r) for r in requests_mock.request_history] == [f"{API}/sites/{SITE}/jobs/34"]
    assert query(requests_mock.request_history[0]) == {}
    assert job.job_id == "34"
    assert job.raw["job_settings"] == {"online": False, "skip_statstics": True}
    assert job.last_execution is not None
    assert job.last_execution.execution_id == "121"


# ------------------------------------------------------------------------------------------------
# J3: execute_job


def test_execute_job_posts_full_and_returns_x_resource_id(hook, requests_mock):
    requests_mock.post(execute_url(34), status_code=202, headers={"x-resource-id": "exec-9"})

    assert hook.execute_job(34) == "exec-9"

    assert len(requests_mock.request_history) == 1
    request = requests_mock.request_history[0]
    assert request.method == "POST"
    assert path(request) == f"{API}/sites/{SITE}/jobs/34/execute"
    assert request.json() == {"run_type": "FULL"}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("run_type", "sent"),
    [
        ("full", "FULL"),
        ("DELTA", "DELTA"),
        (" Delta ", "DELTA"),
        ("delta", "DELTA"),
        ("Cumulative", "CUMULATIVE"),
    ],
)
def test_execute_job_normalises_run_type(hook, requests_mock, run_type, sent):
    requests_mock.post(execute_url(7), status_code=202, headers={"x-resource-id": "e1"})

    assert hook.execute_job("7", run_type=run_type) == "e1"

    assert requests_mock.request_history[0].json() == {"run_type": sent}


def test_execute_job_strips_the_execution_id_header(hook, requests_mock):
    requests_mock.post(execute_url(34), status_code=202, headers={"x-resource-id": " 812 "})

    assert hook.execute_job(34) == "812"


# ------------------------------------------------------------------------------------------------
# J4 / J5: executions


def test_list_executions_lists_the_site(hook, requests_mock):
    rows = [execution_payload("e1", job_id=34), execution_payload(9, job_id=35)]
    requests_mock.get(EXECUTIONS_URL, json=paged([rows]))

    executions = hook.list_executions()

    # A full page asks for the next one, which is empty.
    assert [(path(r), query(r)) for r in requests_mock.request_history] == [
        (f"{API}/sites/{SITE}/executions", {"page": "1", "page-size": "2"}),
        (f"{API}/sites/{SITE}/executions", {"page": "2", "page-size": "2"}),
    ]
    assert [type(e) for e in executions] == [Execution, Execution]
    assert [(e.execution_id, e.job_id) for e in executions] == [("e1", "34"), ("9", "35")]
    assert executions[0].start_time == datetime(2022, 12, 7, 11, 31, tzinfo=UTC)


def test_list_job_executions_lists_one_job(hook, requests_mock):
    requests_mock.get(job_executions_url(34), json=[execution_payload("e1")])

    executions = hook.list_job_executions(34)

    assert [path(r) for r in requests_mock.request_history] == [f"{API}/sites/{SITE}/jobs/34/executions"]
    assert query(requests_mock.request_history[0]) == {"page": "1", "page-size": "2"}
    assert [e.execution_id for e in executions] == ["e1"]


def test_get_execution_found_on_page_two_stops_paging_there(hook, requests_mock):
    pages = [
        [execution_payload("e1"), execution_payload("e2")],
        [execution_payload("e3", status="RUNNING"), execution_payload("e4")],
        [execution_payload("e5"), execution_payload("e6")],
    ]
    requests_mock.get(job_executions_url(34), json=paged(pages))

    execution = hook.get_execution(34, "e3")

    assert execution.execution_id == "e3"
    assert execution.status == "RUNNING"
    assert [query(r)["page"] for r in requests_mock.request_history] == ["1", "2"]


def test_get_execution_compares_ids_as_strings(hook, requests_mock):
    requests_mock.get(job_executions_url(34), json=[execution_payload(121)])

    assert hook.get_execution(34, "121").execution_id == "121"
    assert hook.get_execution(34, 121).execution_id == "121"


def test_get_execution_not_found_raises_not_found_after_all_pages(hook, requests_mock):
    pages = [[execution_payload("e1"), execution_payload("e2")], [execution_payload("e3")]]
    requests_mock.get(job_executions_url(34), json=paged(pages))

    with pytest.raises(BaasNotFoundError) as info:
        hook.get_execution(34, "e404")

    assert info.value.status == 404
    assert info.value.method == "GET"
    assert info.value.path == f"/sites/{SITE}/jobs/34/executions"
    assert "e404" in str(info.value)
    assert [query(r)["page"] for r in requests_mock.request_history] == ["1", "2"]


# ------------------------------------------------------------------------------------------------
# find_job_by_name


def test_find_job_by_name_exact_match(hook, requests_mock):
    pages = [
        [job_payload(1, "Nightly"), job_payload(2, "nightly-full")],
        [job_payload(3, "nightly"), job_payload(4, "weekly")],
        [],
    ]
    requests_mock.get(JOBS_URL, json=paged(pages))

    job = hook.find_job_by_name("nightly")

    assert job.job_id == "3"
    assert job.name == "nightly"


def test_find_job_by_name_none_raises_lookup_error(hook, requests_mock):
    requests_mock.get(JOBS_URL, json=[job_payload(1, "weekly")])

    with pytest.raises(BaasLookupError) as info:
        hook.find_job_by_name("nightly")

    assert "'nightly'" in str(info.value)
    assert SITE in str(info.value)


def test_find_job_by_name_suggests_a_case_variant(hook, requests_mock):
    requests_mock.get(JOBS_URL, json=[job_payload(1, "Nightly")])

    with pytest.raises(BaasLookupError, match="did you mean 'Nightly'"):
        hook.find_job_by_name("nightly")


def test_find_job_by_name_several_matches_names_the_ids(hook, requests_mock):
    requests_mock.get(JOBS_URL, json=[job_payload(34, "dup"), job_payload(56, "dup"), job_payload(7, "x")])

    with pytest.raises(BaasLookupError) as info:
        hook.find_job_by_name("dup")

    message = str(info.value)
    assert "34" in message
    assert "56" in message
    assert "2 BaaS jobs" in message


@pytest.mark.parametrize("name", ["", "   ", None, 34])
def test_find_job_by_name_rejects_bad_names_before_any_request(hook, requests_mock, name):
    with pytest.raises(BaasValidationError):
        hook.find_job_by_name(name)
    assert requests_mock.request_history == []


# ------------------------------------------------------------------------------------------------
# site_id: per call, per hook, from the connection

ENDPOINT_CALLS = {
    "list_jobs": (lambda h, site: h.list_jobs(site_id=site), "GET", "/jobs"),
    "get_job": (lambda h, site: h.get_job(34, site_id=site), "GET", "/jobs/34"),
    "execute_job": (lambda h, site: h.execute_job(34, site_id=site), "POST", "/jobs/34/execute"),
    "list_executions": (lambda h, site: h.list_executions(site_id=site), "GET", "/executions"),
    "list_job_executions": (
        lambda h, site: h.list_job_executions(34, site_id=site),
        "GET",
        "/jobs/34/executions",
    ),
    "get_execution": (lambda h, site: h.get_execution(34, "e1", site_id=site), "GET", "/jobs/34/executions"),
    "find_job_by_name": (lambda h, site: h.find_job_by_name("nightly", site_id=site), "GET", "/jobs"),
}


def _mock_every_endpoint(requests_mock, site):
    requests_mock.get(f"{BASE}/sites/{site}/jobs", json=[job_payload(34, "nightly")])
    requests_mock.get(f"{BASE}/sites/{site}/jobs/34", json=job_payload(34, "nightly"))
    requests_mock.post(
        f"{BASE}/sites/{site}/jobs/34/execute", status_code=202, headers={"x-resource-id": "e1"}
    )
    requests_mock.get(f"{BASE}/sites/{site}/executions", json=[execution_payload("e1")])
    requests_mock.get(f"{BASE}/sites/{site}/jobs/34/executions", json=[execution_payload("e1")])


@pytest.mark.parametrize("endpoint", sorted(ENDPOINT_CALLS))
def test_every_endpoint_uses_the_connection_site(hook, requests_mock, endpoint):
    call, method, suffix = ENDPOINT_CALLS[endpoint]
    _mock_every_endpoint(requests_mock, SITE)

    call(hook, None)

    assert [(r.method, path(r)) for r in requests_mock.request_history] == [
        (method, f"{API}/sites/{SITE}{suffix}")
    ]


@pytest.mark.parametrize("endpoint", sorted(ENDPOINT_CALLS))
def test_every_endpoint_accepts_a_per_call_site_override(hook, requests_mock, endpoint):
    call, method, suffix = ENDPOINT_CALLS[endpoint]
    _mock_every_endpoint(requests_mock, "other-site")

    call(hook, "other-site")

    assert [(r.method, path(r)) for r in requests_mock.request_history] == [
        (method, f"{API}/sites/other-site{suffix}")
    ]


def test_hook_level_site_overrides_the_connection_and_a_call_overrides_the_hook(make_hook, requests_mock):
    hook = make_hook(site_id="hook-site")
    requests_mock.get(f"{BASE}/sites/hook-site/jobs", json=[])
    requests_mock.get(f"{BASE}/sites/call-site/jobs", json=[])

    hook.list_jobs()
    hook.list_jobs(site_id="call-site")

    assert [path(r) for r in requests_mock.request_history] == [
        f"{API}/sites/hook-site/jobs",
        f"{API}/sites/call-site/jobs",
    ]


def test_hook_level_site_works_without_a_connection_site(make_hook, requests_mock):
    hook = make_hook(site_id="hook-site", drop=["site_id"])
    requests_mock.get(f"{BASE}/sites/hook-site/jobs/34", json=job_payload(34))

    assert hook.get_job(34).job_id == "34"


# ------------------------------------------------------------------------------------------------
# Host forms


@pytest.mark.parametrize(
    ("fields", "base_url"),
    [
        ({"host": "api.example.com"}, "https://api.example.com/data-protection/v2"),
        ({"host": "https://api.example.com"}, "https://api.example.com/data-protection/v2"),
        ({"host": "HTTPS://api.example.com/"}, "https://api.example.com/data-protection/v2"),
        (
            {"host": "http://api.example.com", "extra": {"allow_insecure_http": True}},
            "http://api.example.com/data-protection/v2",
        ),
        ({"host": "https://gw.example.com/baas/prod"}, "https://gw.example.com/baas/prod/data-protection/v2"),
        ({"host": "gw.example.com/baas/"}, "https://gw.example.com/baas/data-protection/v2"),
        (
            {"host": "https://api.example.com/data-protection/v2"},
            "https://api.example.com/data-protection/v2",
        ),
        (
            {"host": "https://gw.example.com/baas/data-protection/v2/"},
            "https://gw.example.com/baas/data-protection/v2",
        ),
        ({"host": "api.example.com", "port": 8443}, "https://api.example.com:8443/data-protection/v2"),
        (
            {"host": "http://10.0.0.5", "port": 8080, "extra": {"allow_insecure_http": "true"}},
            "http://10.0.0.5:8080/data-protection/v2",
        ),
        (
            {"host": "https://api.example.com:9443", "port": 8443},
            "https://api.example.com:9443/data-protection/v2",
        ),
    ],
)
def test_host_forms(make_hook, requests_mock, fields, base_url):
    hook = make_hook(**fields)
    requests_mock.get(f"{base_url}/sites/{SITE}/jobs", json=[])

    hook.list_jobs()

    assert hook.config.base_url == base_url
    assert requests_mock.request_history[0].url.split("?")[0] == f"{base_url}/sites/{SITE}/jobs"


# ------------------------------------------------------------------------------------------------
# Pagination


def _jobs(*ids):
    return [job_payload(i, f"job-{i}") for i in ids]


def test_pagination_reads_every_page_until_a_short_one(hook, requests_mock):
    requests_mock.get(JOBS_URL, json=paged([_jobs(1, 2), _jobs(3, 4), _jobs(5)]))

    jobs = hook.list_jobs(is_active=True)

    assert [j.job_id for j in jobs] == ["1", "2", "3", "4", "5"]
    assert [query(r) for r in requests_mock.request_history] == [
        {"is-active": "true", "page": str(n), "page-size": "2"} for n in (1, 2, 3)
    ]


def test_pagination_short_first_page_is_the_only_request(hook, requests_mock):
    requests_mock.get(JOBS_URL, json=paged([_jobs(1), _jobs(2, 3)]))

    assert [j.job_id for j in hook.list_jobs()] == ["1"]
    assert len(requests_mock.request_history) == 1


def test_pagination_empty_page_stops(hook, requests_mock):
    requests_mock.get(JOBS_URL, json=paged([_jobs(1, 2), _jobs(3, 4), [], _jobs(5, 6)]))

    assert [j.job_id for j in hook.list_jobs()] == ["1", "2", "3", "4"]
    assert [query(r)["page"] for r in requests_mock.request_history] == ["1", "2", "3"]


def test_pagination_empty_first_page(hook, requests_mock):
    requests_mock.get(JOBS_URL, json=[])

    assert hook.list_jobs() == []
    assert len(requests_mock.request_history) == 1


@pytest.mark.parametrize("rows", [(1, 2), (1, 2, 3)], ids=["page-sized", "longer-than-a-page"])
def test_pagination_server_ignoring_paging_stops_without_duplicates(hook, requests_mock, rows):
    # The server returns the same full array whatever page is asked for.
    requests_mock.get(JOBS_URL, json=_jobs(*rows))

    jobs = hook.list_jobs()

    assert [j.job_id for j in jobs] == [str(i) for i in rows]
    assert [query(r)["page"] for r in requests_mock.request_history] == ["1", "2"]


def test_pagination_applies_to_execution_listings(hook, requests_mock):
    pages = [[execution_payload("a"), execution_payload("b")], [execution_payload("c")]]
    requests_mock.get(EXECUTIONS_URL, json=paged(pages))
    requests_mock.get(job_executions_url(34), json=paged(pages))

    assert [e.execution_id for e in hook.list_executions()] == ["a", "b", "c"]
    assert [e.execution_id for e in hook.list_job_executions(34)] == ["a", "b", "c"]
    assert [query(r)["page"] for r in requests_mock.request_history] == ["1", "2", "1", "2"]


def test_pagination_execution_listing_ignoring_paging_stops(hook, requests_mock):
    requests_mock.get(job_executions_url(34), json=[execution_payload("a"), execution_payload("b")])

    assert [e.execution_id for e in hook.list_job_executions(34)] == ["a", "b"]
    assert len(requests_mock.request_history) == 2


# ------------------------------------------------------------------------------------------------
# test_connection: (ok, message), never raises


def test_test_connection_success(hook, requests_mock):
    requests_mock.get(JOBS_URL, json=[job_payload(1)])

    ok, message = hook.test_connection()

    assert ok is True
    assert BASE in message
    assert f"site {SITE}" in message
    assert "1 job(s)" in message
    assert [query(r) for r in requests_mock.request_history] == [{"page": "1", "page-size": "1"}]


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        (
            {"status_code": 401, "json": {"message": "bad token"}},
            "Authentication failed (HTTP 401): bad token",
        ),
        ({"status_code": 403, "json": {"message": "forbidden"}}, "Authentication failed (HTTP 403)"),
        ({"status_code": 404, "json": {"message": "no such site"}}, "Not found (HTTP 404)"),
        ({"status_code": 500, "json": {"message": "boom"}}, "boom"),
        ({"status_code": 200, "text": "<html>sso</html>"}, "not JSON"),
        (
            {"exc": requests.exceptions.ConnectionError("Name or service not known")},
            "Name or service not known",
        ),
    ],
    ids=["401", "403", "404", "500", "html", "connection-error"],
)
def test_test_connection_failure_never_raises(make_hook, requests_mock, response, fragment):
    hook = make_hook(extra={"max_attempts": 1})
    requests_mock.get(JOBS_URL, **response)

    ok, message = hook.test_connection()

    assert ok is False
    assert fragment in message
    assert TOKEN not in message


def test_test_connection_with_a_missing_connection(requests_mock):
    from airflow_provider_baas.hooks.baas import BaasHook

    ok, message = BaasHook("baas_missing_for_test").test_connection()

    assert ok is False
    assert "baas_missing_for_test" in message
    assert requests_mock.request_history == []
