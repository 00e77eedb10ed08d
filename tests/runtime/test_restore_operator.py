"""BaasRestoreOperator with a fake task context against the simulator (real HTTP, no metadata DB)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_baas._compat import AirflowException, AirflowNotFoundException, TaskDeferred
from airflow_provider_baas.errors import (
    BaasExecutionFailed,
    BaasInvalidEvent,
    BaasLookupError,
    BaasRestorePermissionDenied,
    BaasValidationError,
    BaasWaitTimeout,
)
from airflow_provider_baas.hooks.baas import BaasHook
from airflow_provider_baas.models import Execution
from airflow_provider_baas.operators.restore import (
    BaasRestoreLink,
    BaasRestoreOperator,
    _try_number,
    newest_successful,
)
from airflow_provider_baas.testing import BaasSimulator
from airflow_provider_baas.testing.constants import DEFAULT_DB_LOGIN, DEFAULT_DB_PASSWORD
from airflow_provider_baas.testing.scenario import Outcome
from airflow_provider_baas.triggers.restore import BaasRestoreTrigger

from ._support import FakeStateStore, FakeTI, make_context, rebuild_trigger, record_log, single_event

pytestmark = pytest.mark.usefixtures("close_sessions")

SITE = "demo-site"
TERADATA = "teradata_restore"
RESTORE_KEY = "baas_restore"


@pytest.fixture(autouse=True)
def teradata_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """The database user the simulator accepts, as a ``teradata`` connection."""
    conn = {
        "conn_type": "teradata",
        "host": "td.example",
        "login": DEFAULT_DB_LOGIN,
        "password": DEFAULT_DB_PASSWORD,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{TERADATA.upper()}", json.dumps(conn))


def operator(**kwargs: Any) -> BaasRestoreOperator:
    options: dict[str, Any] = {
        "task_id": "restore",
        "job_id": 34,
        "objects": ["WAREHOUSE"],
        "teradata_conn_id": TERADATA,
        "poll_interval": 0.2,
        "timeout": 20,
        "deferrable": False,
    }
    options.update(kwargs)
    return BaasRestoreOperator(**options)


def newest_successful_id(job_id: int = 34) -> str:
    executions = BaasHook().list_job_executions(job_id, SITE)
    good = [e for e in executions if e.status == "SUCCESSFUL" and e.end_time]
    return max(good, key=lambda e: e.end_time).execution_id  # type: ignore[arg-type,return-value]


def creates(sim: BaasSimulator) -> list[Any]:
    return sim.requests_matching("POST", r"/restores$")


def permission_checks(sim: BaasSimulator) -> list[Any]:
    return sim.requests_matching("POST", r"/restore-permissions$")


# ---------------------------------------------------------------------------------------------
# Bad input: refused with a clear error, nothing sent


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"teradata_conn_id": None}, "teradata_conn_id is required"),
        ({"teradata_conn_id": ""}, "teradata_conn_id is required"),
        ({"objects": []}, "objects is empty"),
        ({"objects": "WAREHOUSE"}, "must be a list"),
        ({"objects": ["W" * 129]}, "129 characters"),
        ({"objects": ["WARE\x07HOUSE"]}, "control characters"),
        ({"objects": ["../etc/passwd"]}, "not a Teradata name"),
        ({"objects": [{"object_name": "WAREHOUSE", "object_type": "GALAXY"}]}, "not a known object type"),
        ({"job_name": "daily_warehouse_backup"}, "exactly one of job_id or job_name"),
        ({"job_id": None}, "exactly one of job_id or job_name"),
        ({"execution_id": "1", "max_age": 3600}, "max_age applies only without execution_id"),
        ({"max_age": -5}, "max_age must be a positive"),
        ({"max_age": timedelta(0)}, "max_age must be a positive"),
        ({"skip_statistics": "yes"}, "True or False"),
        ({"job_settings": {"objects": []}}, "objects="),
        ({"include_all": "all"}, "include_all must be True or False"),
        ({"exclude_objects": "T1"}, "must be a list"),
        ({"restore_name": "bad\nname"}, "control characters"),
        ({"restore_name": "x" * 129}, "at most 128"),
        ({"skip_statstics": True}, "did you mean skip_statistics"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(
    sim: BaasSimulator, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(BaasValidationError, match=message):
        operator(**kwargs)
    assert sim.requests == []


def test_an_unknown_keyword_argument_is_refused(sim: BaasSimulator) -> None:
    # Airflow's own check: a TypeError on 3.x, an AirflowException on 2.11.
    with pytest.raises((TypeError, AirflowException), match=r"Invalid arguments[\s\S]*no_such_option"):
        operator(no_such_option=True)
    assert sim.requests == []


@pytest.mark.parametrize(
    ("field", "rendered", "message"),
    [
        ("objects", ["A" * 200], "200 characters"),
        ("execution_id", "1/../2", "execution_id"),
        ("target_site", "a b", "target_site"),
        ("job_id", "abc", "job_id"),
        ("restore_name", "two\nlines", "control characters"),
    ],
)
def test_templated_input_is_checked_again_before_any_request(
    sim: BaasSimulator, field: str, rendered: Any, message: str
) -> None:
    op = operator(**{field: "{{ params.value }}"})  # a template is checked once rendered
    setattr(op, field, rendered)  # what rendering gave
    with pytest.raises(BaasValidationError, match=message):
        op.execute(make_context())
    assert sim.requests == []


# ---------------------------------------------------------------------------------------------
# What the backup holds, and who may restore: checked before the restore is created


def test_objects_not_in_the_backup_are_refused_with_what_it_holds(sim: BaasSimulator) -> None:
    with pytest.raises(BaasValidationError) as info:
        operator(objects=["WAREHOUSE", "FINANCE", "WAREHOUSE.PAYROLL"]).execute(make_context())
    message = str(info.value)
    assert "Not in the backup: FINANCE, WAREHOUSE.PAYROLL" in message
    assert "WAREHOUSE (DATABASE)" in message and "WAREHOUSE.ORDERS (TABLE)" in message
    assert creates(sim) == [] and permission_checks(sim) == []
    assert sim.requests_matching("GET", r"/objects$")  # it did look


def test_permission_denied_fails_before_the_restore_is_created(sim: BaasSimulator) -> None:
    sim.deny_restores(user=DEFAULT_DB_LOGIN)
    with pytest.raises(BaasRestorePermissionDenied, match="403"):
        operator().execute(make_context())
    assert len(permission_checks(sim)) == 1 and creates(sim) == []


def test_a_denied_target_site_fails_before_the_restore_is_created(sim: BaasSimulator) -> None:
    sim.deny_restores(target_site="dr-site")
    with pytest.raises(BaasRestorePermissionDenied, match="dr-site"):
        operator(target_site="dr-site").execute(make_context())
    assert creates(sim) == []


# ---------------------------------------------------------------------------------------------
# Which backup


def test_the_newest_successful_backup_is_restored(sim: BaasSimulator) -> None:
    expected = newest_successful_id()
    sim.requests.clear()
    record = operator().execute(make_context())
    assert record["execution_id"] == expected
    (restore,) = sim.restores()
    assert restore["backup_job_execution_id"] == expected


def test_a_failed_newest_backup_is_passed_over_for_the_newest_successful_one(sim: BaasSimulator) -> None:
    # Job 37: newest FAILED (1 day ago), then SUCCESSFUL 2 and 3 days ago.
    record = operator(job_id=37, objects=["HR"]).execute(make_context())
    executions = BaasHook().list_job_executions(37, SITE)
    chosen = next(e for e in executions if e.execution_id == record["execution_id"])
    assert chosen.status == "SUCCESSFUL"
    newer = [e for e in executions if e.end_time and chosen.end_time and e.end_time > chosen.end_time]
    assert newer and all(e.status != "SUCCESSFUL" for e in newer)


def test_max_age_refuses_a_backup_too_old_and_restores_nothing(sim: BaasSimulator) -> None:
    with pytest.raises(BaasLookupError, match="older than max_age"):
        operator(job_id=37, objects=["HR"], max_age=timedelta(hours=30)).execute(make_context())
    assert creates(sim) == [] and sim.requests_matching("POST", r"/prepare-objects$") == []
    record = operator(job_id=37, objects=["HR"], max_age=timedelta(hours=60)).execute(make_context())
    assert record["status"] == "SUCCESSFUL"


def test_a_job_without_a_successful_backup_is_refused(sim: BaasSimulator) -> None:
    with pytest.raises(BaasLookupError, match=r"No SUCCESSFUL execution .*\(0 executions; statuses: none\)"):
        operator(job_id=45, objects=["AUDIT"]).execute(make_context())  # never run
    assert creates(sim) == []


def test_an_explicit_execution_is_restored_and_the_job_found_by_name(sim: BaasSimulator) -> None:
    executions = BaasHook().list_job_executions(34, SITE)
    older = sorted((e for e in executions if e.status == "SUCCESSFUL"), key=lambda e: e.end_time)[0]
    op = operator(job_id=None, job_name="daily_warehouse_backup", execution_id=older.execution_id)
    record = op.execute(make_context())
    assert record["execution_id"] == older.execution_id
    assert sim.restores()[0]["backup_job_execution_id"] == older.execution_id


# ---------------------------------------------------------------------------------------------
# The restore request


def test_the_restore_body_holds_the_listed_objects_and_the_options_under_their_api_keys(
    sim: BaasSimulator,
) -> None:
    op = operator(
        objects=["warehouse", "WAREHOUSE.ORDERS"],
        target_site="dr-site",
        skip_statistics=True,
        run_as_a_copy_job=True,
        exclude_objects=["ORDER_ITEMS"],
        job_settings={"retained_copy": "LATEST", "run_as_a_copy_job": False},
    )
    record = op.execute(make_context())
    assert record["status"] == "SUCCESSFUL"
    (restore,) = sim.restores()
    settings = restore["job_settings"]
    assert restore["target_site"] == "dr-site"
    assert settings["skip_statstics"] is True and "skip_statistics" not in settings
    assert settings["run_as_a_copy_job"] is False  # the raw key wins
    assert settings["retained_copy"] == "LATEST"
    assert settings["continue_job_on_access_right_violation"] is False
    warehouse, orders = settings["objects"]
    assert (warehouse["object_name"], warehouse["parent_name"], warehouse["object_type"]) == (
        "WAREHOUSE",
        "DBC",
        "DATABASE",
    )
    assert (orders["object_name"], orders["parent_name"], orders["object_type"]) == (
        "ORDERS",
        "WAREHOUSE",
        "TABLE",
    )
    assert warehouse["exclude_objects"] == [{"object_name": "ORDER_ITEMS", "object_type": "TABLE"}]
    assert warehouse["include_all"] is True


def test_include_all_applies_to_each_object_that_does_not_set_its_own(sim: BaasSimulator) -> None:
    op = operator(
        objects=["warehouse", {"object_name": "ORDERS", "parent_name": "WAREHOUSE", "include_all": True}],
        include_all=False,
    )
    op.execute(make_context())

    (restore,) = sim.restores()
    warehouse, orders = restore["job_settings"]["objects"]
    assert (warehouse["include_all"], orders["include_all"]) == (False, True)


def test_the_default_name_comes_from_the_task_instance(sim: BaasSimulator) -> None:
    ti = FakeTI()
    ti.dag_id, ti.run_id, ti.map_index = "refresh", "manual__2026-01-01", 2  # type: ignore[attr-defined]
    operator().execute(make_context(ti))
    assert sim.restores()[0]["name"] == "airflow-refresh-restore-manual__2026-01-01-2"
    assert ti.xcom("restore_name") == "airflow-refresh-restore-manual__2026-01-01-2"


def test_restore_name_overrides_the_default(sim: BaasSimulator) -> None:
    operator(restore_name="nightly refresh").execute(make_context())
    assert sim.restores()[0]["name"] == "nightly refresh"


# ---------------------------------------------------------------------------------------------
# The wait: success, failure, unknown status, XCom, link


def test_success_returns_the_restore_record_and_pushes_xcom(sim: BaasSimulator) -> None:
    ti = FakeTI()
    log = None
    op = operator()
    log = record_log(op)
    record = op.execute(make_context(ti))
    assert record["status"] == "SUCCESSFUL" and record["restore_id"] == ti.xcom("restore_id")
    assert ti.xcom("backup_execution_id") == record["execution_id"]
    assert [k for k, _ in ti.xcoms if k == "console_url"] == []  # no console_url template: no link
    assert "finished with status SUCCESSFUL" in log.text("info")
    assert f"BaaS restore {record['restore_id']}" in log.text("info")
    assert len(creates(sim)) == 1


def test_a_failed_restore_fails_the_task_with_its_status_and_message(sim: BaasSimulator) -> None:
    sim.set_restore_outcome(Outcome("FAILED", "DSA restore failed: [3807] WAREHOUSE.ORDERS is locked"))
    with pytest.raises(BaasExecutionFailed, match=r"ended with status FAILED: DSA restore failed: \[3807\]"):
        operator().execute(make_context())
    assert len(creates(sim)) == 1


def test_an_unknown_final_status_is_never_success(sim: BaasSimulator) -> None:
    sim.set_restore_outcome(Outcome("PARTIAL", "2 of 3 objects restored"))
    with pytest.raises(BaasWaitTimeout, match="last status PARTIAL"):
        operator(timeout=1.5).execute(make_context())


def test_wait_for_completion_false_returns_the_restore_id(sim: BaasSimulator) -> None:
    ti = FakeTI()
    restore_id = operator(wait_for_completion=False).execute(make_context(ti))
    assert restore_id == ti.xcom("restore_id") == sim.restores()[0]["restore_id"]
    assert sim.requests_matching("GET", r"/restores/\d+$") == []


@pytest.mark.sim(
    conn_extra={
        "console_url": "https://console.example/sites/{site_id}/jobs/{job_id}/executions/{execution_id}"
    }
)
def test_the_extra_link_opens_the_backup_executions_console_page(sim: BaasSimulator) -> None:
    ti = FakeTI()
    record = operator().execute(make_context(ti))
    expected = f"https://console.example/sites/{SITE}/jobs/34/executions/{record['execution_id']}"
    assert ti.xcom("console_url") == expected
    assert BaasRestoreLink().name == "BaaS backup execution"


# ---------------------------------------------------------------------------------------------
# Deferrable


def defer(op: BaasRestoreOperator, context: dict[str, Any]) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as info:
        op.execute(context)
    return info.value


@pytest.mark.sim(time_scale=600)
async def test_deferred_wait_pushes_xcom_first_and_resumes_with_the_record(sim: BaasSimulator) -> None:
    ti = FakeTI()
    op = operator(deferrable=True, poll_interval=0.2)
    deferred = defer(op, make_context(ti))
    restore_id = ti.xcom("restore_id")  # pushed before the task deferred
    trigger = rebuild_trigger(deferred.trigger)
    assert isinstance(trigger, BaasRestoreTrigger) and trigger.restore_id == restore_id
    _, kwargs = deferred.trigger.serialize()
    assert DEFAULT_DB_PASSWORD not in json.dumps(kwargs) and TERADATA not in json.dumps(kwargs)
    event = await single_event(trigger)
    assert event["status"] == "success" and event["restore_id"] == restore_id
    record = op.execute_complete(make_context(ti), event)
    assert record["status"] == "SUCCESSFUL" and record["restore_id"] == restore_id
    assert len(creates(sim)) == 1


@pytest.mark.sim(time_scale=600)
async def test_a_deferred_failed_restore_fails_with_its_detail(sim: BaasSimulator) -> None:
    sim.set_restore_outcome(Outcome("FAILED", "target database is in use"))
    op = operator(deferrable=True)
    event = await single_event(rebuild_trigger(defer(op, make_context()).trigger))
    assert event["status"] == "failed"
    with pytest.raises(BaasExecutionFailed, match="target database is in use"):
        op.execute_complete(make_context(), event)


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        {"status": "weird", "execution_id": "1", "restore_id": "2"},
        {"status": "success", "execution_id": "1", "restore_id": "2"},
        {"status": "success", "execution_id": "1", "execution": {}},
    ],
)
def test_a_malformed_event_is_never_success(event: Any) -> None:
    with pytest.raises(BaasInvalidEvent):
        operator().execute_complete(make_context(), event)


# ---------------------------------------------------------------------------------------------
# Reattach: a retry waits for the restore an earlier try created


def memory(execution_id: str, name: str, restore_id: str | None = None) -> dict[str, Any]:
    value = {
        "site_id": SITE,
        "job_id": "34",
        "execution_id": execution_id,
        "name": name,
        "restore_id": restore_id,
    }
    return {RESTORE_KEY: value}


def created_by_an_earlier_try(name: str) -> tuple[str, str]:
    """A restore created as a first try would have, whose answer that try never saw."""
    from airflow_provider_baas.credentials import database_credentials

    hook = BaasHook()
    execution_id = newest_successful_id()
    (warehouse,) = [
        o
        for o in hook.list_backup_objects(34, execution_id, SITE, poll_interval=0.1)
        if o.object_name == "WAREHOUSE"
    ]
    restore_id = hook.create_restore(
        34,
        execution_id,
        name=name,
        objects=[warehouse],
        credentials=database_credentials(TERADATA),
        site_id=SITE,
    )
    return execution_id, restore_id


@pytest.mark.sim(time_scale=600)
def test_a_retry_after_a_lost_answer_finds_the_restore_by_name(sim: BaasSimulator) -> None:
    execution_id, restore_id = created_by_an_earlier_try("airflow-d-restore-r1")
    store = FakeStateStore(memory(execution_id, "airflow-d-restore-r1"))
    op = operator()
    log = record_log(op)
    record = op.execute(make_context(FakeTI(try_number=2), store))
    assert record["restore_id"] == restore_id and len(creates(sim)) == 1
    assert "Reattaching to BaaS restore" in log.text("warning")
    assert RESTORE_KEY in store.deleted  # forgotten on success


@pytest.mark.sim(time_scale=600)
def test_a_retry_with_the_restore_id_waits_for_it(sim: BaasSimulator) -> None:
    execution_id, restore_id = created_by_an_earlier_try("first-try")
    store = FakeStateStore(memory(execution_id, "first-try", restore_id))
    record = operator().execute(make_context(FakeTI(try_number=3), store))
    assert record["restore_id"] == restore_id and len(creates(sim)) == 1
    assert sim.requests_matching("GET", r"/restores$") == []  # the id was known: no lookup by name


def test_a_retry_after_a_failed_restore_creates_a_new_one_under_its_own_name(sim: BaasSimulator) -> None:
    sim.set_restore_outcome([Outcome("FAILED", "locked"), Outcome("SUCCESSFUL")])
    store = FakeStateStore()
    ti = FakeTI()
    ti.dag_id, ti.run_id = "d", "r1"  # type: ignore[attr-defined]
    with pytest.raises(BaasExecutionFailed):
        operator().execute(make_context(ti, store))
    assert store.data[RESTORE_KEY]["restore_id"]  # remembered: the failure is not forgotten
    retry = FakeTI(try_number=2)
    retry.dag_id, retry.run_id = "d", "r1"  # type: ignore[attr-defined]
    record = operator().execute(make_context(retry, store))
    assert record["status"] == "SUCCESSFUL"
    assert [r["name"] for r in sim.restores()] == ["airflow-d-restore-r1", "airflow-d-restore-r1-t2"]


def test_the_name_is_remembered_before_the_post_and_the_id_after(sim: BaasSimulator) -> None:
    store = FakeStateStore(on_write=lambda: len(sim.restores()))
    operator().execute(make_context(FakeTI(), store))
    (first, second) = [w for w in store.writes if w[0] == RESTORE_KEY]
    assert first[1]["restore_id"] is None and first[2] == 0  # before the POST
    assert second[1]["restore_id"] == sim.restores()[0]["restore_id"] and second[2] == 1


def test_reattach_off_creates_a_new_restore(sim: BaasSimulator) -> None:
    execution_id, _ = created_by_an_earlier_try("earlier")
    store = FakeStateStore(memory(execution_id, "earlier"))
    operator(reattach=False, restore_name="later").execute(make_context(FakeTI(try_number=2), store))
    assert len(sim.restores()) == 2


def test_an_earlier_try_that_never_reached_the_server_creates_the_restore_now_under_its_name(
    sim: BaasSimulator,
) -> None:
    older = sorted(
        (e for e in BaasHook().list_job_executions(34, SITE) if e.status == "SUCCESSFUL"),
        key=lambda e: e.end_time,
    )[0]
    store = FakeStateStore(memory(older.execution_id, "never-sent"))
    op = operator()
    log = record_log(op)
    record = op.execute(make_context(FakeTI(try_number=2), store))
    assert "does not list" in log.text("warning")
    (restore,) = sim.restores()
    assert restore["name"] == "never-sent"  # the name that try sent: a lagging listing meets a 409
    assert record["execution_id"] == older.execution_id  # and the backup it chose, not today's newest


def test_a_missing_teradata_connection_fails_before_any_request(
    sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(f"AIRFLOW_CONN_{TERADATA.upper()}")
    with pytest.raises(AirflowNotFoundException, match=TERADATA):
        operator().execute(make_context())
    assert sim.requests == []


def test_the_trigger_serializes_only_ids_and_the_deadline() -> None:
    trigger = BaasRestoreTrigger(
        job_id="34", execution_id="e1", restore_id="9001", site_id=SITE, deadline=1.0
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_baas.triggers.restore.BaasRestoreTrigger"
    assert {"job_id", "execution_id", "restore_id", "site_id", "baas_conn_id", "deadline"} <= set(kwargs)
    assert not any("teradata" in k or "credential" in k or "password" in k for k in kwargs)
    json.dumps(kwargs)


# ---------------------------------------------------------------------------------------------
# The restore operator's own small decisions, without the simulator


def _ended(execution_id: str, end: datetime, status: str = "SUCCESSFUL") -> Execution:
    return Execution.from_dict({"execution_id": execution_id, "status": status, "end_time": end.isoformat()})


def test_a_backup_exactly_max_age_old_is_restored_like_the_gate_calls_it_fresh() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    newest = _ended("2", now - timedelta(hours=1))
    executions = [_ended("1", now - timedelta(hours=25)), newest, _ended("3", now, "FAILED")]

    assert newest_successful(executions, 3600.0, now) is newest
    with pytest.raises(BaasLookupError, match="older than max_age"):
        newest_successful(executions, 3599.0, now)


@pytest.mark.parametrize("ti", [object(), FakeTI(try_number="2")])  # type: ignore[arg-type]
def test_a_task_instance_without_a_usable_try_number_is_a_first_try(ti: Any) -> None:
    """A first try's name has no ``-t<try>`` suffix: a retry computes the same name to find it."""
    assert _try_number({"ti": ti}) == 1
    assert _try_number(object()) == 1
    assert _try_number({"ti": FakeTI(try_number=3)}) == 3
