"""Bad input: every invalid argument or connection fails with a clear exception *before* any request
reaches the API (the simulator's request log stays empty); bad answers from the API fail with the
status, the path and what was wrong with the body."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from airflow_provider_baas._compat import AirflowNotFoundException, TaskDeferred
from airflow_provider_baas.errors import (
    BaasConfigurationError,
    BaasError,
    BaasResponseError,
    BaasTransportError,
    BaasValidationError,
)
from airflow_provider_baas.hooks import baas as hook_module
from airflow_provider_baas.hooks.baas import BaasHook
from airflow_provider_baas.operators.baas import BaasExecuteJobOperator
from airflow_provider_baas.sensors.baas import BaasExecutionSensor
from airflow_provider_baas.testing import BaasSimulator, JobSpec, Scenario, SiteSpec
from airflow_provider_baas.triggers.baas import BaasExecutionTrigger

from ._support import (
    JOB,
    SITE,
    FakeStateStore,
    FakeTI,
    StaticServer,
    json_answer,
    make_context,
    rebuild_trigger,
    single_event,
)

pytestmark = pytest.mark.usefixtures("close_sessions")

BAD_JOB_IDS: dict[str, Any] = {
    "empty": "",
    "blank": "   ",
    "none": None,
    "zero": 0,
    "negative": -3,
    "negative-text": "-3",
    "non-numeric": "abc",
    "decimal": "1.5",
    "exponent": "1e3",
    "non-ascii-digits": "٣٤",
    "bool": True,
    "dot-dot": "../x",
    "slash": "a/b",
    "encoded-slash": "%2F",
    "encoded-in-number": "34%2F35",
    "leading-space": " 34",
    "inner-space": "3 4",
    "newline": "34\n",
    "only-newline": "\n",
}
BAD_EXECUTION_IDS: dict[str, Any] = {
    "empty": "",
    "none": None,
    "dot-dot": "../x",
    "dots": "..",
    "slash": "a/b",
    "encoded-slash": "%2F",
    "space": "1 2",
    "newline": "1\n",
    "backslash": "a\\b",
}


@pytest.fixture
def sim(make_sim: Any) -> BaasSimulator:
    return make_sim()


def op(mode: str = "polling", **kwargs: Any) -> BaasExecuteJobOperator:
    options: dict[str, Any] = {"task_id": "backup", "job_id": JOB, "poll_interval": 0.1, "timeout": 30}
    options["deferrable"] = mode == "deferrable"
    options.update(kwargs)
    return BaasExecuteJobOperator(**options)


# ---------------------------------------------------------------------------------------------
# Ids


@pytest.mark.parametrize("value", list(BAD_JOB_IDS.values()), ids=list(BAD_JOB_IDS))
def test_bad_job_id_in_every_hook_call_sends_nothing(sim: BaasSimulator, value: Any) -> None:
    hook = BaasHook()
    calls = [
        lambda: hook.get_job(value),
        lambda: hook.execute_job(value),
        lambda: hook.list_job_executions(value),
        lambda: hook.get_execution(value, "1001"),
        lambda: hook.poll_execution(value, "1001"),
    ]
    for call in calls:
        with pytest.raises(BaasValidationError, match="job_id"):
            call()
    assert sim.requests == []


@pytest.mark.parametrize("mode", ["polling", "deferrable"])
@pytest.mark.parametrize(
    "value", [v for v in BAD_JOB_IDS.values() if v is not None], ids=[k for k in BAD_JOB_IDS if k != "none"]
)
def test_bad_job_id_fails_the_operator_before_any_request(sim: BaasSimulator, mode: str, value: Any) -> None:
    with pytest.raises(BaasValidationError, match="job_id"):
        op(mode, job_id=value).execute(make_context(FakeTI(), FakeStateStore()))
    assert sim.requests == []


def test_job_id_none_and_no_name_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(BaasValidationError, match="exactly one of job_id or job_name"):
        op(job_id=None)


@pytest.mark.parametrize("value", list(BAD_EXECUTION_IDS.values()), ids=list(BAD_EXECUTION_IDS))
def test_bad_execution_id_in_the_hook_sends_nothing(sim: BaasSimulator, value: Any) -> None:
    hook = BaasHook()
    for call in (lambda: hook.get_execution(JOB, value), lambda: hook.poll_execution(JOB, value)):
        with pytest.raises(BaasValidationError, match="execution_id"):
            call()
    assert sim.requests == []


@pytest.mark.parametrize(
    "value", [v for v in BAD_EXECUTION_IDS.values() if v], ids=[k for k, v in BAD_EXECUTION_IDS.items() if v]
)
async def test_bad_execution_id_in_the_trigger_is_an_error_event_without_requests(
    sim: BaasSimulator, value: Any
) -> None:
    trigger = BaasExecutionTrigger(job_id=str(JOB), execution_id=value, deadline=time.time() + 30)
    started = time.monotonic()
    event = await single_event(rebuild_trigger(trigger))
    assert event["status"] == "error"
    assert "BaasValidationError" in event["message"] and "execution_id" in event["message"]
    assert time.monotonic() - started < 2  # at once: bad input is not a transient error
    assert sim.requests == []
    with pytest.raises(BaasError, match="execution_id"):
        op("deferrable").execute_complete(make_context(), event)


@pytest.mark.parametrize("value", ["../x", "a/b", "%2F", "1 2"])
def test_bad_execution_id_in_the_sensor_fails_without_requests(sim: BaasSimulator, value: str) -> None:
    sensor = BaasExecutionSensor(task_id="wait", job_id=JOB, execution_id=value, poke_interval=0.1, timeout=5)
    with pytest.raises(BaasError, match="execution_id"):
        sensor.poke(make_context())
    assert sim.requests == []


@pytest.mark.parametrize("value", ["../x", "a/b", "%2F", "s 1", "s1\n", ""])
def test_bad_site_id_sends_nothing(sim: BaasSimulator, value: str) -> None:
    hook = BaasHook(site_id=value or None)
    with pytest.raises(BaasValidationError, match="site_id"):
        hook.list_jobs(site_id=value if value else "..")
    assert sim.requests == []


# ---------------------------------------------------------------------------------------------
# Other arguments


@pytest.mark.parametrize("mode", ["polling", "deferrable"])
@pytest.mark.parametrize("run_type", ["INCREMENTAL", "", "FULL;DROP", 5])
def test_unknown_run_type_fails_before_any_request(sim: BaasSimulator, mode: str, run_type: Any) -> None:
    with pytest.raises(BaasValidationError, match="run_type must be one of FULL, DELTA, CUMULATIVE"):
        op(mode, run_type=run_type).execute(make_context(FakeTI(), FakeStateStore()))
    with pytest.raises(BaasValidationError, match="run_type"):
        BaasHook().execute_job(JOB, run_type)
    assert sim.requests == []


def test_run_type_in_any_case_is_accepted(make_sim: Any) -> None:
    sim = make_sim(time_scale=1_000_000)
    execution_id = op(run_type=" delta ", wait_for_completion=False).execute(make_context())
    assert sim.execution(execution_id)["run_type"] == "DELTA"


@pytest.mark.parametrize("mode", ["polling", "deferrable"])
def test_missing_connection_names_the_connection(sim: BaasSimulator, mode: str) -> None:
    with pytest.raises(AirflowNotFoundException, match="`baas_nowhere` isn't defined"):
        op(mode, baas_conn_id="baas_nowhere").execute(make_context(FakeTI(), FakeStateStore()))
    assert sim.requests == []


async def test_missing_connection_in_the_trigger_is_an_error_event(sim: BaasSimulator) -> None:
    trigger = BaasExecutionTrigger(
        job_id=str(JOB), execution_id="1001", baas_conn_id="baas_nowhere", deadline=time.time() + 30
    )
    event = await single_event(rebuild_trigger(trigger))
    assert event["status"] == "error"
    assert "baas_nowhere" in event["message"] and "isn't defined" in event["message"]
    assert sim.requests == []


def test_empty_connection_id_is_rejected() -> None:
    with pytest.raises(BaasValidationError, match="baas_conn_id"):
        BaasHook(baas_conn_id=" ")


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("", "has no host"),
        ("ftp://127.0.0.1", "host scheme must be https or http"),
        ("http://", "is not a valid URL"),
        ("http://exa mple.com", "is not a valid URL"),
    ],
)
def test_bad_host_is_a_configuration_error(
    sim: BaasSimulator, make_sim: Any, host: str, message: str
) -> None:
    make_sim(conn_id="baas_bad_host", conn_changes={"host": host})
    with pytest.raises(BaasConfigurationError, match=message) as info:
        BaasHook("baas_bad_host").list_jobs()
    assert "baas_bad_host" in str(info.value)


def test_host_without_scheme_means_https(make_sim: Any) -> None:
    """``host`` without a scheme is https (documented). Against a plain-HTTP server that is a TLS
    failure, reported at once (no retries) and before any HTTP request is made."""
    sim = make_sim()
    make_sim(conn_id="baas_no_scheme", conn_changes={"host": f"127.0.0.1:{sim.port}"})
    hook = BaasHook("baas_no_scheme")
    assert hook.config.base_url == f"https://127.0.0.1:{sim.port}/data-protection/v2"
    started = time.monotonic()
    with pytest.raises(BaasTransportError, match="SSL") as info:
        hook.list_jobs()
    assert time.monotonic() - started < 2
    assert "GET /sites/demo-site/jobs failed" in str(info.value)
    assert sim.requests == []


@pytest.mark.parametrize("mode", ["polling", "deferrable"])
def test_site_id_missing_everywhere(make_sim: Any, mode: str) -> None:
    sim = make_sim()
    make_sim(conn_id="baas_no_site", conn_changes={"extra": {"max_attempts": 1}})
    with pytest.raises(BaasConfigurationError) as info:
        op(mode, baas_conn_id="baas_no_site").execute(make_context(FakeTI(), FakeStateStore()))
    assert "No BaaS site_id: pass site_id= to the task or hook, or set 'site_id'" in str(info.value)
    assert "baas_no_site" in str(info.value)
    assert sim.requests == []
    with pytest.raises(BaasConfigurationError, match="No BaaS site_id"):
        BaasExecutionSensor(task_id="s", job_id=JOB, baas_conn_id="baas_no_site").poke(make_context())
    assert sim.requests == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"auth_mode": "oauth"}, "auth_mode must be one of token, pat"),
        ({"auth_mode": "pat"}, "auth_mode=pat needs .*private_key, key_id, subject, org_claim_value"),
        ({"read_timeout": "soon"}, "read_timeout must be a number"),
        ({"read_timeout": 0}, "read_timeout must be at least 0.1"),
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"headers": "not json"}, "headers must be a JSON object"),
        ({"timeout": [1]}, "timeout must be seconds or"),
    ],
)
def test_bad_connection_extra_is_a_configuration_error(make_sim: Any, extra: dict, message: str) -> None:
    sim = make_sim(conn_extra=extra)
    with pytest.raises(BaasConfigurationError, match=message):
        BaasHook().list_jobs()
    assert sim.requests == []


def test_token_mode_without_a_token(make_sim: Any) -> None:
    sim = make_sim()
    make_sim(conn_id="baas_no_token", conn_changes={"password": None})
    with pytest.raises(BaasConfigurationError, match="needs the API token in the Password field"):
        BaasHook("baas_no_token").list_jobs()
    assert sim.requests == []


def test_pat_with_a_key_that_is_not_a_key(make_sim: Any, pat_extra: dict[str, Any]) -> None:
    sim = make_sim(conn_extra={**pat_extra, "private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n"})
    with pytest.raises(BaasConfigurationError, match="Cannot sign a JWT") as info:
        BaasHook().list_jobs()
    assert "not a key" not in str(info.value)
    assert sim.requests == []


# ---------------------------------------------------------------------------------------------
# Bad answers


HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def test_200_with_html_body(make_sim: Any) -> None:
    with StaticServer(lambda m, p, q: (200, {"Content-Type": "text/html"}, HTML)) as server:
        make_sim(conn_changes={"host": server.url})
        with pytest.raises(BaasResponseError) as info:
            BaasHook().get_job(JOB)
    message = str(info.value)
    assert f"GET /sites/{SITE}/jobs/{JOB} returned HTTP 200: body is not JSON" in message
    assert "502 Bad Gateway" in message  # the start of the body, to recognise a proxy page
    assert len(server.requests) == 1  # a 200 is not retried


def test_200_with_truncated_json(sim: BaasSimulator) -> None:
    sim.add_fault(kind="malformed", method="GET", path="*/jobs")
    with pytest.raises(BaasResponseError, match="returned HTTP 200: body is not JSON"):
        BaasHook().list_jobs()


@pytest.mark.parametrize(
    ("call", "body", "message"),
    [
        ("list_jobs", {"jobs": []}, "expected a JSON array, got dict"),
        ("list_jobs", "jobs", "expected a JSON array, got str"),
        ("list_jobs", [{"job_id": 34, "name": "a"}, "oops"], "expected a JSON object for a job, got str"),
        ("list_jobs", [{"name": "no id"}], "job object has no job_id"),
        ("get_job", [{"job_id": 34}], "expected a JSON object for a job, got list"),
        ("get_job", {"name": "daily"}, "job object has no job_id"),
        ("get_job", 42, "expected a JSON object for a job, got int"),
        ("list_job_executions", {"executions": []}, "expected a JSON array, got dict"),
        ("list_job_executions", [{"status": "RUNNING"}], "execution object has no execution_id"),
        ("list_job_executions", [[1, 2]], "expected a JSON object for an execution, got list"),
    ],
)
def test_json_of_the_wrong_shape(sim: BaasSimulator, call: str, body: Any, message: str) -> None:
    path = {
        "list_jobs": "*/jobs",
        "get_job": f"*/jobs/{JOB}",
        "list_job_executions": f"*/jobs/{JOB}/executions",
    }
    sim.add_fault(kind="status", status=200, body=body, method="GET", path=path[call])
    hook = BaasHook()
    args = () if call == "list_jobs" else (JOB,)
    with pytest.raises(BaasResponseError, match=message) as info:
        getattr(hook, call)(*args)
    assert "returned HTTP 200" in str(info.value)


def test_tolerated_oddities_in_a_job(sim: BaasSimulator) -> None:
    """Unknown keys, odd types and odd times are kept or read as None, never a crash."""
    body = {
        "job_id": 34,
        "name": 7,
        "is_active": "yes",
        "new_field": {"x": 1},
        "last_execution_details": {"backup_job_execution_id": "77", "status": 5, "start_time": "string"},
    }
    sim.add_fault(kind="status", status=200, body=body, method="GET", path=f"*/jobs/{JOB}")
    job = BaasHook().get_job(JOB)
    assert (job.job_id, job.name, job.is_active) == ("34", None, None)
    assert job.raw["new_field"] == {"x": 1}
    assert job.last_execution is not None
    assert (job.last_execution.status, job.last_execution.start_time) == (None, None)


async def test_wrong_shape_during_the_wait_ends_it_with_the_reason(sim: BaasSimulator) -> None:
    """A persistent wrong answer is retried within the error budget, then fails with the reason."""
    context = make_context(FakeTI(), FakeStateStore())
    operator = op("deferrable", poll_interval=0.02)
    sim.add_fault(
        kind="status",
        status=200,
        body=["not", "a", "job"],
        method="GET",
        path="*/jobs/34",
        skip=1,
        count=None,
    )
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    event = await single_event(rebuild_trigger(deferred.value.trigger))
    assert event["status"] == "error"
    assert "giving up after 11 failed polls" in event["message"]
    assert "expected a JSON object for a job, got list" in event["message"]


# ---------------------------------------------------------------------------------------------
# Very large listings


def big_scenario(history: int) -> Scenario:
    return Scenario(sites=[SiteSpec(SITE, jobs=[JobSpec(JOB, "huge", history=history, history_interval=60)])])


def test_very_large_listing_is_read_page_by_page(make_sim: Any) -> None:
    sim = make_sim(scenario=big_scenario(20_000), conn_extra={"page_size": 500})
    started = time.monotonic()
    executions = BaasHook().list_job_executions(JOB)
    took = time.monotonic() - started
    assert len(executions) == 20_000
    assert len({e.execution_id for e in executions}) == 20_000
    pages = sim.requests_matching("GET", rf"/jobs/{JOB}/executions$")
    assert [r.query["page"] for r in pages] == [str(p) for p in range(1, 42)]  # 40 full pages, one empty
    assert {r.query["page-size"] for r in pages} == {"500"}
    assert took < 20, took


def test_finding_a_new_execution_in_a_huge_listing_reads_one_page(make_sim: Any) -> None:
    sim = make_sim(scenario=big_scenario(20_000), conn_extra={"page_size": 500})
    execution_id = sim.start_execution(JOB)
    sim.finish_all()
    record = BaasHook().poll_execution(JOB, execution_id, is_running=lambda s: s != "SUCCESSFUL")
    assert record.execution_id == execution_id and record.status == "SUCCESSFUL"
    assert len(sim.requests_matching("GET", rf"/jobs/{JOB}/executions$")) == 1


def test_server_that_ignores_paging_is_read_once(make_sim: Any) -> None:
    sim = make_sim(scenario=big_scenario(5_000), ignore_paging=True, conn_extra={"page_size": 100})
    executions = BaasHook().list_job_executions(JOB)
    assert len(executions) == 5_000 and len({e.execution_id for e in executions}) == 5_000
    assert len(sim.requests) == 2  # page 2 repeats page 1: the listing ends there, without duplicates


def test_listing_that_never_ends_is_cut_off(make_sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hook_module, "MAX_PAGES", 5)

    def endless(method: str, path: str, query: dict[str, str]) -> Any:
        page = int(query["page"])
        return json_answer([{"execution_id": f"{page}-{i}", "status": "SUCCESSFUL"} for i in range(2)])

    with StaticServer(endless) as server:
        make_sim(conn_changes={"host": server.url}, conn_extra={"page_size": 2})
        with pytest.raises(BaasResponseError, match="listing did not end after 5 pages"):
            BaasHook().list_job_executions(JOB)
    assert len(server.requests) == 5


def test_huge_error_body_is_truncated(make_sim: Any) -> None:
    body = json.dumps({"message": "x" * 100_000}).encode()
    with StaticServer(lambda m, p, q: (400, {"Content-Type": "application/json"}, body)) as server:
        make_sim(conn_changes={"host": server.url})
        with pytest.raises(BaasError) as info:
            BaasHook().get_job(JOB)
    assert "HTTP 400" in str(info.value)
    assert len(str(info.value)) < 700
