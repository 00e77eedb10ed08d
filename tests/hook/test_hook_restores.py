"""The hook's objects and restores calls (O1-O3, R1-R4, R6) with requests-mock: request shapes,
tolerant parsing, the preparation wait, the at-most-once create with recovery by name, auth and
permission errors, and the redaction of database credentials. The async twins run the same plans
against the simulator in test_hook_restores_async.py."""

from __future__ import annotations

import base64
import json
import logging

import pytest
import requests

from airflow_provider_baas.credentials import DatabaseCredentials
from airflow_provider_baas.errors import (
    BaasAuthError,
    BaasConflictError,
    BaasLookupError,
    BaasObjectsPreparationFailed,
    BaasResponseError,
    BaasRestoreOutcomeUnknown,
    BaasRestorePermissionDenied,
    BaasWaitTimeout,
)
from airflow_provider_baas.hooks import restores as restores_module
from airflow_provider_baas.models import BackupObject, ObjectType

from ._support import BASE, SITE, paged, path, query

EXEC_URL = f"{BASE}/sites/{SITE}/jobs/34/executions/e-1"
PREPARE = f"{EXEC_URL}/prepare-objects"
STATUS = f"{BASE}/sites/{SITE}/objects-preparation-status"
OBJECTS = f"{EXEC_URL}/objects"
CREATE = f"{EXEC_URL}/restores"
RESTORES = f"{BASE}/sites/{SITE}/restores"
PERMISSIONS = f"{BASE}/sites/{SITE}/restore-permissions"
DATABASES = f"{BASE}/sites/{SITE}/databases"

LOGIN = "restore_user"
PASSWORD = "s3cret-db-Passw0rd"
BASIC = base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()).decode()

WAREHOUSE = {
    "object_name": "WAREHOUSE",
    "object_type": "DATABASE",
    "parent_name": "DBC",
    "parent_type": "DATABASE",
    "byte_count": 1000,
}
ORDERS = {
    "object_name": "ORDERS",
    "object_type": "TABLE",
    "parent_name": "WAREHOUSE",
    "parent_type": "DATABASE",
    "byte_count": 500,
}


def restore_row(restore_id="r-1", name="nightly-fix", **overrides):
    row = {
        "restore_id": restore_id,
        "name": name,
        "status": "RUNNING",
        "job_id": 34,
        "backup_job_execution_id": "e-1",
        "target_site": SITE,
        "start_time": "2026-01-02T03:04:05.000000Z",
        "end_time": None,
    }
    row.update(overrides)
    return row


@pytest.fixture
def hook(make_hook):
    return make_hook(extra={"page_size": 50})


@pytest.fixture
def creds():
    return DatabaseCredentials(LOGIN, PASSWORD, "td_test")


def posts(requests_mock, url=CREATE):
    return [r for r in requests_mock.request_history if r.method == "POST" and r.url == url]


# ------------------------------------------------------------------------------------------------
# Models


def test_backup_object_keeps_unknown_words_and_fields():
    obj = BackupObject.from_dict({**ORDERS, "object_type": "JOIN INDEX", "owner": "ETL"})
    assert obj.object_type == "JOIN INDEX" and not isinstance(obj.object_type, ObjectType)
    assert obj.raw["owner"] == "ETL"
    assert BackupObject.from_dict(WAREHOUSE).object_type is ObjectType.DATABASE


def test_restore_entry_drops_byte_count_and_names_exclusions():
    db = BackupObject.from_dict(WAREHOUSE)
    entry = db.restore_entry(include_all=True, exclude_objects=[BackupObject.from_dict(ORDERS)])
    assert entry == {
        "object_name": "WAREHOUSE",
        "object_type": "DATABASE",
        "parent_name": "DBC",
        "parent_type": "DATABASE",
        "exclude_objects": [{"object_name": "ORDERS", "object_type": "TABLE"}],
        "include_all": True,
    }


@pytest.mark.parametrize(
    "row, restore_id, execution",
    [
        ({"restore_id": 9, "name": "a", "execution_id": "x"}, "9", "x"),
        ({"restore_execution_id": "r", "restore_name": "a", "backup_job_execution_id": 121}, "r", "121"),
        ({"id": "r", "restore_job_name": "a"}, "r", None),
    ],
)
def test_restore_reads_the_likely_spellings(row, restore_id, execution):
    from airflow_provider_baas.models import Restore

    restore = Restore.from_dict({**row, "surprise": 1})
    assert (restore.restore_id, restore.name, restore.execution_id) == (restore_id, "a", execution)
    assert restore.to_dict()["surprise"] == 1


# ------------------------------------------------------------------------------------------------
# O1-O3


@pytest.mark.parametrize("status", [200, 202])
def test_prepare_objects_returns_the_resource_id(hook, requests_mock, status):
    requests_mock.post(PREPARE, status_code=status, headers={"x-resource-id": "p-7"})
    assert hook.prepare_objects(34, "e-1") == "p-7"
    assert requests_mock.last_request.body is None


def test_preparation_status_sends_the_id_as_query_and_header(hook, requests_mock):
    requests_mock.get(STATUS, json={"status": "COMPLETED", "details": "ready", "extra": 1})
    prep = hook.get_objects_preparation_status("p-7")
    assert (prep.status, prep.details, prep.raw["extra"]) == ("COMPLETED", "ready", 1)
    sent = requests_mock.last_request
    assert query(sent) == {"resource-id": "p-7"} and sent.headers["x-resource-id"] == "p-7"


def test_preparation_status_without_id_asks_the_site(hook, requests_mock):
    requests_mock.get(STATUS, json={"status": "IN_PROGRESS", "details": None})
    assert hook.get_objects_preparation_status().status == "IN_PROGRESS"
    sent = requests_mock.last_request
    assert query(sent) == {} and "x-resource-id" not in sent.headers


def test_list_backup_objects_prepares_waits_and_lists(hook, requests_mock, waits):
    requests_mock.post(PREPARE, status_code=202, headers={"x-resource-id": "p-7"})
    requests_mock.get(
        STATUS,
        [
            {"json": {"status": "IN_PROGRESS"}},
            {"json": {"status": "PREPARING"}},
            {"json": {"status": "COMPLETED"}},
        ],
    )
    requests_mock.get(
        OBJECTS, json=[WAREHOUSE, ORDERS, {**ORDERS, "object_name": "X", "object_type": "VIEW"}]
    )
    objects = hook.list_backup_objects(34, "e-1", poll_interval=2)
    assert [(o.object_name, o.object_type) for o in objects] == [
        ("WAREHOUSE", ObjectType.DATABASE),
        ("ORDERS", ObjectType.TABLE),
        ("X", "VIEW"),
    ]
    assert [r.method + " " + path(r).rsplit("/", 1)[-1] for r in requests_mock.request_history] == [
        "POST prepare-objects",
        "GET objects-preparation-status",
        "GET objects-preparation-status",
        "GET objects-preparation-status",
        "GET objects",
    ]
    assert waits == [2, 2]


def test_list_backup_objects_reads_every_page(make_hook, requests_mock):
    hook = make_hook(extra={"page_size": 2})
    rows = [{**ORDERS, "object_name": f"T{i}"} for i in range(3)]
    requests_mock.get(OBJECTS, json=paged([rows[:2], rows[2:]]))
    assert [o.object_name for o in hook.list_backup_objects(34, "e-1", prepare=False)] == ["T0", "T1", "T2"]
    assert [query(r)["page"] for r in requests_mock.request_history] == ["1", "2"]


def test_a_failed_preparation_is_an_error(hook, requests_mock):
    requests_mock.post(PREPARE, status_code=202, headers={"x-resource-id": "p-7"})
    requests_mock.get(STATUS, json={"status": "FAILED", "details": "save set deleted"})
    with pytest.raises(BaasObjectsPreparationFailed, match=r"p-7.*FAILED: save set deleted"):
        hook.list_backup_objects(34, "e-1")
    assert not any(path(r).endswith("/objects") for r in requests_mock.request_history)


def test_an_unknown_preparation_word_is_waited_on_until_the_timeout(hook, requests_mock, waits):
    requests_mock.post(PREPARE, status_code=202, headers={"x-resource-id": "p-7"})
    requests_mock.get(STATUS, json={"status": "MYSTERY", "details": "hm"})
    with pytest.raises(BaasWaitTimeout, match=r"Preparation p-7 .* within 30 s .*MYSTERY"):
        hook.list_backup_objects(34, "e-1", timeout=30, poll_interval=10)
    assert waits == [10, 10, 10]  # polls at 0, 10, 20 and 30 s


def test_objects_without_a_name_are_a_response_error(hook, requests_mock):
    requests_mock.get(OBJECTS, json=[{"object_type": "TABLE"}])
    with pytest.raises(BaasResponseError, match="object_name"):
        hook.list_backup_objects(34, "e-1", prepare=False)


# ------------------------------------------------------------------------------------------------
# R6: create


def test_create_restore_sends_the_documented_body_and_credentials(hook, requests_mock, creds):
    requests_mock.post(CREATE, status_code=202, headers={"x-resource-id": "r-1"})
    restore_id = hook.create_restore(
        34,
        "e-1",
        name="nightly-fix",
        objects=[BackupObject.from_dict(WAREHOUSE), {**ORDERS, "rename_to": "ORDERS_OLD"}],
        settings={"run_as_a_copy_job": True, "skip_statstics": True},
        credentials=creds,
    )
    assert restore_id == "r-1"
    sent = requests_mock.last_request
    assert sent.headers["x-auth-credentials"] == f"Basic {BASIC}"
    assert sent.json() == {
        "name": "nightly-fix",
        "target_site": SITE,
        "job_settings": {
            "objects": [
                {
                    "object_name": "WAREHOUSE",
                    "object_type": "DATABASE",
                    "parent_name": "DBC",
                    "parent_type": "DATABASE",
                    "exclude_objects": [],
                    "include_all": True,
                },
                {
                    "object_name": "ORDERS",
                    "object_type": "TABLE",
                    "parent_name": "WAREHOUSE",
                    "parent_type": "DATABASE",
                    "rename_to": "ORDERS_OLD",
                    "exclude_objects": [],
                    "include_all": True,
                },
            ],
            "continue_job_on_access_right_violation": False,
            "run_as_a_copy_job": True,
            "skip_statstics": True,
            "skip_join_or_hash_indexes": False,
        },
    }


def test_create_restore_to_another_site(hook, requests_mock, creds):
    requests_mock.post(CREATE, status_code=202, headers={"x-resource-id": "r-1"})
    hook.create_restore(34, "e-1", name="n", objects=[WAREHOUSE], target_site="dr-site", credentials=creds)
    assert requests_mock.last_request.json()["target_site"] == "dr-site"


def test_create_restore_reads_an_id_from_the_body_without_header(hook, requests_mock, creds):
    requests_mock.post(CREATE, status_code=202, json={"restore_id": 77})
    assert hook.create_restore(34, "e-1", name="n", objects=[WAREHOUSE], credentials=creds) == "77"


LOST = {
    "read-timeout": {"exc": requests.exceptions.ReadTimeout("read timed out")},
    "connection-reset": {
        "exc": requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected")
    },
    "http-500": {"status_code": 500, "json": {"message": "internal error"}},
    "http-502": {"status_code": 502, "text": "<html>bad gateway</html>"},
    "202-without-id": {"status_code": 202},
}


@pytest.mark.parametrize("answer", LOST.values(), ids=LOST.keys())
def test_a_lost_answer_is_never_resent_and_is_found_by_name(hook, requests_mock, creds, answer):
    requests_mock.post(CREATE, **answer)
    requests_mock.get(RESTORES, [{"json": []}, {"json": [restore_row("r-9", "other"), restore_row("r-1")]}])
    assert hook.create_restore(34, "e-1", name="nightly-fix", objects=[WAREHOUSE], credentials=creds) == "r-1"
    assert len(posts(requests_mock)) == 1


@pytest.mark.parametrize("answer", LOST.values(), ids=LOST.keys())
def test_a_lost_answer_without_a_restore_is_an_unknown_outcome(hook, requests_mock, creds, answer, waits):
    requests_mock.post(CREATE, **answer)
    requests_mock.get(RESTORES, json=[restore_row("r-9", "other")])
    with pytest.raises(BaasRestoreOutcomeUnknown, match=r"'nightly-fix'.*NOT re-sent") as info:
        hook.create_restore(34, "e-1", name="nightly-fix", objects=[WAREHOUSE], credentials=creds)
    assert len(posts(requests_mock)) == 1
    assert len(waits) >= restores_module.RESTORE_LOOKUP_ATTEMPTS - 1
    assert "no restore named 'nightly-fix'" in str(info.value)
    assert (info.value.name, info.value.job_id, info.value.site_id) == ("nightly-fix", "34", SITE)


def test_a_lost_answer_with_two_restores_of_the_name_is_an_unknown_outcome(hook, requests_mock, creds):
    requests_mock.post(CREATE, exc=requests.exceptions.ReadTimeout("read timed out"))
    requests_mock.get(RESTORES, json=[restore_row("r-1"), restore_row("r-2")])
    with pytest.raises(BaasRestoreOutcomeUnknown, match="2 BaaS restores are named"):
        hook.create_restore(34, "e-1", name="nightly-fix", objects=[WAREHOUSE], credentials=creds)
    assert len(posts(requests_mock)) == 1


def test_a_429_is_retried_because_the_server_refused_it(hook, requests_mock, creds, waits):
    requests_mock.post(
        CREATE,
        [
            {"status_code": 429, "headers": {"Retry-After": "3"}, "json": {"message": "slow down"}},
            {"status_code": 202, "headers": {"x-resource-id": "r-1"}},
        ],
    )
    assert hook.create_restore(34, "e-1", name="n", objects=[WAREHOUSE], credentials=creds) == "r-1"
    assert len(posts(requests_mock)) == 2 and waits == [3.0]


def test_a_conflict_finds_the_restore_by_name(hook, requests_mock, creds):
    requests_mock.post(CREATE, status_code=409, json={"message": "name taken"})
    requests_mock.get(RESTORES, json=[restore_row("r-1")])
    assert hook.create_restore(34, "e-1", name="nightly-fix", objects=[WAREHOUSE], credentials=creds) == "r-1"
    assert len(posts(requests_mock)) == 1


def test_a_conflict_without_the_restore_is_the_conflict(hook, requests_mock, creds):
    requests_mock.post(CREATE, status_code=409, json={"message": "job busy"})
    requests_mock.get(RESTORES, json=[])
    with pytest.raises(BaasConflictError, match="HTTP 409: job busy"):
        hook.create_restore(34, "e-1", name="nightly-fix", objects=[WAREHOUSE], credentials=creds)
    assert len(posts(requests_mock)) == 1


def test_a_restore_of_the_name_for_another_execution_is_not_ours(hook, requests_mock, creds):
    requests_mock.post(CREATE, status_code=409, json={"message": "name taken"})
    requests_mock.get(RESTORES, json=[restore_row("r-1", backup_job_execution_id="e-0")])
    with pytest.raises(BaasConflictError, match="already exists for job 34, execution e-0"):
        hook.create_restore(34, "e-1", name="nightly-fix", objects=[WAREHOUSE], credentials=creds)


def test_403_is_a_permission_denial_with_the_servers_words(hook, requests_mock, creds):
    requests_mock.post(CREATE, status_code=403, json={"message": "user may not restore ADW"})
    with pytest.raises(BaasRestorePermissionDenied, match="HTTP 403: user may not restore ADW") as info:
        hook.create_restore(34, "e-1", name="n", objects=[WAREHOUSE], credentials=creds)
    assert info.value.status == 403
    assert len(posts(requests_mock)) == 1


def test_401_says_which_credentials_may_be_wrong(hook, requests_mock, creds):
    requests_mock.post(CREATE, status_code=401, json={"message": "logon failed"})
    with pytest.raises(BaasAuthError, match=r"logon failed .*x-auth-credentials") as info:
        hook.create_restore(34, "e-1", name="n", objects=[WAREHOUSE], credentials=creds)
    assert info.value.status == 401 and not isinstance(info.value, BaasRestorePermissionDenied)


ECHOES = {
    "password": PASSWORD,
    "pair": f"{LOGIN}:{PASSWORD}",
    "base64": BASIC,
    "header": f"Basic {BASIC}",
    "json-escaped": json.dumps(f"Basic {BASIC}")[1:-1],
}


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
def test_credentials_echoed_in_an_error_are_redacted(hook, requests_mock, creds, echo):
    requests_mock.post(CREATE, status_code=400, json={"message": f"bad header {echo} for you"})
    with pytest.raises(Exception) as info:
        hook.create_restore(34, "e-1", name="n", objects=[WAREHOUSE], credentials=creds)
    text = str(info.value) + repr(info.value)
    assert PASSWORD not in text and BASIC not in text and "bad header *** for you" in text


def test_credentials_never_reach_the_logs(hook, requests_mock, creds, caplog):
    caplog.set_level(logging.DEBUG)
    requests_mock.post(CREATE, exc=requests.exceptions.ReadTimeout(f"timed out sending {BASIC}"))
    requests_mock.get(RESTORES, json=[restore_row("r-1")])
    hook.create_restore(34, "e-1", name="nightly-fix", objects=[WAREHOUSE], credentials=creds)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "got no answer" in logged
    assert PASSWORD not in logged and BASIC not in logged


# ------------------------------------------------------------------------------------------------
# R1, R2, R3, R4


def test_get_restore(hook, requests_mock):
    requests_mock.get(f"{CREATE}/r-1", json=restore_row(extra_field=[1]))
    restore = hook.get_restore(34, "e-1", "r-1")
    assert (restore.restore_id, restore.status, restore.job_id, restore.raw["extra_field"]) == (
        "r-1",
        "RUNNING",
        "34",
        [1],
    )


def test_list_restores_reads_every_page(make_hook, requests_mock):
    hook = make_hook(extra={"page_size": 2})
    rows = [restore_row(f"r-{i}", f"n{i}") for i in range(3)]
    requests_mock.get(RESTORES, json=paged([rows[:2], rows[2:]]))
    assert [r.restore_id for r in hook.list_restores()] == ["r-0", "r-1", "r-2"]


def test_list_restores_accepts_a_server_without_paging(make_hook, requests_mock):
    hook = make_hook(extra={"page_size": 2})
    rows = [restore_row(f"r-{i}", f"n{i}") for i in range(3)]
    requests_mock.get(RESTORES, json=rows)
    assert [r.restore_id for r in hook.list_restores()] == ["r-0", "r-1", "r-2"]


def test_find_restore_by_name(hook, requests_mock):
    requests_mock.get(
        RESTORES, json=[restore_row("r-1", "a"), restore_row("r-2", "b"), restore_row("r-3", "b")]
    )
    assert hook.find_restore_by_name("a").restore_id == "r-1"
    assert hook.find_restore_by_name("A") is None
    with pytest.raises(BaasLookupError, match="2 BaaS restores are named 'b'"):
        hook.find_restore_by_name("b")


def test_check_restore_permissions_body_and_answer(hook, requests_mock, creds):
    requests_mock.post(PERMISSIONS, json={"has_permission": True})
    answer = hook.check_restore_permissions(
        34, "e-1", objects=[WAREHOUSE], target_site="dr", credentials=creds
    )
    assert answer == {"has_permission": True}
    sent = requests_mock.last_request
    assert sent.headers["x-auth-credentials"] == f"Basic {BASIC}"
    assert sent.json() == {
        "job_id": 34,
        "execution_id": "e-1",
        "target_site": "dr",
        "job_settings": {
            "objects": [
                {k: v for k, v in WAREHOUSE.items() if k != "byte_count"}
                | {
                    "exclude_objects": [],
                    "include_all": True,
                }
            ]
        },
    }


@pytest.mark.parametrize(
    "answer",
    [
        {"status_code": 403, "json": {"message": "no RESTORE right on WAREHOUSE"}},
        {"status_code": 200, "json": {"has_permission": False, "message": "no RESTORE right on WAREHOUSE"}},
    ],
    ids=["403", "200-false"],
)
def test_check_restore_permissions_denied(hook, requests_mock, creds, answer):
    requests_mock.post(PERMISSIONS, **answer)
    with pytest.raises(BaasRestorePermissionDenied, match="no RESTORE right on WAREHOUSE") as info:
        hook.check_restore_permissions(34, "e-1", objects=[WAREHOUSE], credentials=creds)
    assert info.value.status == answer["status_code"]


def test_list_databases_accepts_objects_and_strings(hook, requests_mock):
    requests_mock.get(DATABASES, json=[{"database_name": "ADW", "perm": 1}, "DBC", {"name": "HR"}])
    assert [d.name for d in hook.list_databases()] == ["ADW", "DBC", "HR"]


# ------------------------------------------------------------------------------------------------
# Validation: before any request


def create(hook, creds, **overrides):
    kwargs = {"name": "n", "objects": [WAREHOUSE], "credentials": creds, **overrides}
    job = kwargs.pop("job_id", 34)
    execution = kwargs.pop("execution_id", "e-1")
    return hook.create_restore(job, execution, **kwargs)


BAD_CREATE = {
    "job-id-zero": {"job_id": 0},
    "execution-id-escapes": {"execution_id": "../e"},
    "empty-name": {"name": " "},
    "name-with-space-around": {"name": " n"},
    "name-too-long": {"name": "n" * 129},
    "name-control": {"name": "a\x07b"},
    "no-objects": {"objects": []},
    "objects-a-dict": {"objects": WAREHOUSE},
    "object-not-dict": {"objects": ["WAREHOUSE"]},
    "object-name-empty": {"objects": [{**WAREHOUSE, "object_name": ""}]},
    "object-name-slash": {"objects": [{**WAREHOUSE, "object_name": "a/b"}]},
    "object-name-backslash": {"objects": [{**WAREHOUSE, "object_name": "a\\b"}]},
    "object-name-129": {"objects": [{**WAREHOUSE, "object_name": "x" * 129}]},
    "object-name-control": {"objects": [{**WAREHOUSE, "object_name": "a\nb"}]},
    "object-type-missing": {"objects": [{"object_name": "ADW"}]},
    "object-type-not-a-word": {"objects": [{**WAREHOUSE, "object_type": "DATABASE;DROP"}]},
    "parent-name-slash": {"objects": [{**WAREHOUSE, "parent_name": "D/BC"}]},
    "include-all-not-bool": {"objects": [{**WAREHOUSE, "include_all": "yes"}]},
    "exclusion-bad-name": {
        "objects": [{**WAREHOUSE, "exclude_objects": [{"object_name": "", "object_type": "TABLE"}]}]
    },
    "object-value-not-json": {"objects": [{**WAREHOUSE, "rename_to": object()}]},
    "settings-not-json": {"settings": {"run_as_a_copy_job": object()}},
    "settings-nan": {"settings": {"x": float("nan")}},
    "settings-objects": {"settings": {"objects": []}},
    "settings-not-dict": {"settings": ["x"]},
    "target-site-escapes": {"target_site": "a/b"},
    "credentials-a-dict": {"credentials": {"login": LOGIN, "password": PASSWORD}},
}


@pytest.mark.parametrize("bad", BAD_CREATE.values(), ids=BAD_CREATE.keys())
def test_bad_create_input_fails_before_any_request(hook, requests_mock, creds, bad):
    from airflow_provider_baas.errors import BaasValidationError

    with pytest.raises(BaasValidationError):
        create(hook, creds, **bad)
    assert requests_mock.request_history == []


def test_bad_lookups_fail_before_any_request(hook, requests_mock, creds):
    from airflow_provider_baas.errors import BaasValidationError

    calls = [
        lambda: hook.get_restore(34, "e-1", "r/1"),
        lambda: hook.find_restore_by_name(""),
        lambda: hook.prepare_objects("x", "e-1"),
        lambda: hook.get_objects_preparation_status("p 1"),
        lambda: hook.list_backup_objects(34, "e-1", timeout=0),
        lambda: hook.list_backup_objects(34, "e-1", poll_interval=-1),
        lambda: hook.check_restore_permissions(34, "e-1", objects=[], credentials=creds),
        lambda: hook.check_restore_permissions(34, "e-1", objects=[WAREHOUSE], credentials=None),
    ]
    for call in calls:
        with pytest.raises(BaasValidationError):
            call()
    assert requests_mock.request_history == []


FAILURES = {
    "400-echo": {"status_code": 400, "json": {"message": f"bad header Basic {BASIC}"}},
    "401": {"status_code": 401, "json": {"message": f"logon failed for {LOGIN}:{PASSWORD}"}},
    "403": {"status_code": 403, "json": {"message": "denied"}},
    "lost-then-unknown": {"exc": requests.exceptions.ReadTimeout(f"timed out; sent Basic {BASIC}")},
}


@pytest.mark.parametrize("answer", FAILURES.values(), ids=FAILURES.keys())
def test_no_frame_of_a_failed_create_shows_the_credentials(hook, requests_mock, creds, answer):
    """What error reporters show (text, repr, every frame's locals) holds no form of the credentials."""
    import traceback

    requests_mock.post(CREATE, **answer)
    requests_mock.get(RESTORES, json=[])
    with pytest.raises(Exception) as info:
        hook.create_restore(34, "e-1", name="n", objects=[WAREHOUSE], credentials=creds)
    shown = traceback.TracebackException.from_exception(info.value, capture_locals=True)
    # Every frame but this test's own (whose parameters hold the secrets by construction).
    frames = [f for f in shown.stack if f.filename != __file__]
    assert any(f.name == "_plan_create_restore" for f in frames)
    text = "\n".join(
        [
            str(info.value),
            repr(info.value),
            *(f"{f.name} {k}={v}" for f in frames for k, v in (f.locals or {}).items()),
        ]
    )
    for secret in (PASSWORD, BASIC, f"{LOGIN}:{PASSWORD}"):
        assert secret not in text
