"""Tolerant models (Job, Execution, LastExecution), the status policy, and the connection form
(one definition for Airflow 3's conn-fields and Airflow 2.11's widgets)."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from airflow_provider_baas import status as status_module
from airflow_provider_baas.connection_form import FORM_FIELDS, UI_FIELD_BEHAVIOUR, conn_fields
from airflow_provider_baas.hooks.baas import BaasHook
from airflow_provider_baas.models import Execution, Job, LastExecution, parse_time
from airflow_provider_baas.status import (
    DEFAULT_FAILURE_STATUSES,
    DEFAULT_SUCCESS_STATUSES,
    Outcome,
    StatusPolicy,
)
from tests.airflow_version import AIRFLOW_V_3

from ._support import execution_payload, job_payload

# ------------------------------------------------------------------------------------------------
# Job


def test_job_from_the_seed_sample():
    raw = job_payload(34, "test_backup_plan", future_field={"x": 1})

    job = Job.from_dict(raw)

    assert job.job_id == "34"
    assert job.name == "test_backup_plan"
    assert job.job_type == "BACKUP"
    assert job.site_id == "s1"
    assert job.is_active is True
    assert job.backup_type == "FULL"
    assert job.raw["future_field"] == {"x": 1}  # unknown keys kept
    assert job.raw["targetSiteDetails"]["target_site_id"] == "string"  # camelCase kept
    last = job.last_execution
    assert last is not None
    assert last.execution_id == "121"
    assert last.status == "SUCCESSFUL"
    assert last.start_time == datetime(2022, 12, 7, 11, 31, tzinfo=UTC)
    assert last.end_time == datetime(2022, 12, 7, 11, 35, tzinfo=UTC)
    assert last.backup_set_size == 1_000_000


def test_job_tolerates_odd_values():
    job = Job.from_dict({"job_id": " 7 ", "name": "", "is_active": "yes", "last_execution_details": {}})

    assert job.job_id == "7"
    assert job.name is None
    assert job.is_active is None
    assert job.last_execution is None
    assert job.job_type is None


@pytest.mark.parametrize("raw", [{}, {"job_id": None}, {"job_id": ""}, {"job_id": True}, [], "34", None])
def test_job_without_an_id_is_rejected(raw):
    with pytest.raises(TypeError):
        Job.from_dict(raw)


def test_last_execution_refers_to_backup_and_restore_ids_as_strings():
    last = LastExecution.from_dict({"backup_job_execution_id": 121, "restore_execution_id": "900"})

    assert last is not None
    assert last.refers_to("121")
    assert last.refers_to(121)
    assert last.refers_to("900")
    assert not last.refers_to("12")


@pytest.mark.parametrize("no_id", [None, "", "  "])
def test_no_execution_id_never_matches_details_that_lack_one_of_the_ids(no_id):
    backup_only = LastExecution.from_dict({"backup_job_execution_id": 121, "status": "RUNNING"})

    assert backup_only is not None
    assert not backup_only.refers_to(no_id)


def test_job_summary_of_a_restore_is_the_execution_asked_for():
    job = {
        "job_id": 77,
        "name": "restore_to_test",
        "job_type": "RESTORE",
        "site_id": "s1",
        "last_execution_details": {
            "backup_job_execution_id": 121,  # the backup it restores from
            "restore_execution_id": 900,
            "status": "RUNNING",
            "start_time": "2026-01-01T00:00:00Z",
        },
    }
    summary = Execution.from_job_summary(job, "900")
    assert summary is not None
    assert (summary.execution_id, summary.job_id, summary.status) == ("900", "77", "RUNNING")
    assert summary.to_dict()["execution_id"] == "900"
    assert summary.job_name == "restore_to_test" and summary.status_detail is None
    assert summary.run_type is None  # a job summary does not say which run type it was
    assert summary.start_time is not None and summary.start_time.year == 2026
    assert Execution.from_job_summary(job, "12") is None  # details of another execution
    assert Execution.from_job_summary({"job_id": 77}, "900") is None  # no details at all


@pytest.mark.parametrize("raw", [{"name": "x"}, [], None])
def test_job_summary_of_a_payload_that_is_not_a_job_is_rejected(raw):
    with pytest.raises(TypeError):
        Execution.from_job_summary(raw, "900")


def test_a_restore_jobs_last_execution_is_the_restore_not_its_source_backup():
    """What BaasExecutionSensor waits for on a RESTORE job without execution_id."""
    details = {"backup_job_execution_id": 121, "restore_execution_id": 900, "status": "RUNNING"}
    restore = Job.from_dict({"job_id": 77, "job_type": "RESTORE", "last_execution_details": details})
    backup = Job.from_dict({"job_id": 34, "job_type": "BACKUP", "last_execution_details": details})

    assert restore.last_execution is not None and restore.last_execution.execution_id == "900"
    assert backup.last_execution is not None and backup.last_execution.execution_id == "121"


def test_last_execution_falls_back_to_the_restore_id():
    last = LastExecution.from_dict({"restore_execution_id": 55, "status": "RUNNING"})

    assert last is not None
    assert last.execution_id == "55"


# ------------------------------------------------------------------------------------------------
# Execution


def test_execution_from_the_seed_sample():
    raw = execution_payload(
        "string",
        job_id=0,
        start_time="string",
        end_time="string",
        backup_set_size=0,
        new_key="kept",
    )

    execution = Execution.from_dict(raw)

    assert execution.execution_id == "string"
    assert execution.job_id == "0"
    assert execution.start_time is None  # "start_time": "string" in the seed
    assert execution.end_time is None
    assert execution.backup_set_size == 0
    assert execution.status == "SUCCESSFUL"
    assert execution.run_type == "FULL"
    assert execution.status_detail == "string"
    assert execution.raw["new_key"] == "kept"
    assert execution.raw["saveset_replication_status"] == "FAILED"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-12-07T11:35:00.000000Z", datetime(2022, 12, 7, 11, 35, tzinfo=UTC)),
        ("2022-12-07T11:35:00.123456z", datetime(2022, 12, 7, 11, 35, 0, 123456, tzinfo=UTC)),
        ("2022-12-07T13:35:00+02:00", datetime(2022, 12, 7, 11, 35, tzinfo=UTC)),
        ("2022-12-07T11:35:00", datetime(2022, 12, 7, 11, 35, tzinfo=UTC)),  # naive: taken as UTC
        (" 2022-12-07T11:35:00Z ", datetime(2022, 12, 7, 11, 35, tzinfo=UTC)),
        ("string", None),
        ("", None),
        ("   ", None),
        (None, None),
        (1670412900, None),
        ("2022-13-45T99:00:00Z", None),
    ],
)
def test_parse_time(value, expected):
    parsed = parse_time(value)

    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


@pytest.fixture
def worker_in_new_york(monkeypatch: pytest.MonkeyPatch):
    """The worker's local time zone is not UTC (naive times must not be read in it)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("worker_in_new_york")
def test_a_naive_server_time_is_utc_whatever_the_workers_time_zone():
    assert parse_time("2022-12-07T11:35:00") == datetime(2022, 12, 7, 11, 35, tzinfo=UTC)
    assert parse_time("2022-12-07T13:35:00+02:00") == datetime(2022, 12, 7, 11, 35, tzinfo=UTC)


def test_execution_ids_and_numbers_are_normalised():
    execution = Execution.from_dict(
        {"execution_id": 5, "job_id": 34, "backup_set_size": "abc", "status": 3, "start_time": ""}
    )

    assert execution.execution_id == "5"
    assert execution.job_id == "34"
    assert execution.backup_set_size is None
    assert execution.status is None
    assert execution.start_time is None


@pytest.mark.parametrize("raw", [{}, {"execution_id": None}, {"execution_id": " "}, [], "e1"])
def test_execution_without_an_id_is_rejected(raw):
    with pytest.raises(TypeError):
        Execution.from_dict(raw)


def test_execution_duration_and_to_dict():
    start = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    raw = execution_payload(9, start_time=start, end_time="2024-01-01T10:02:30.000000Z", extra_key=1)

    execution = Execution.from_dict(raw)
    record = execution.to_dict()

    assert execution.duration_seconds == 150.0
    assert record["execution_id"] == "9"
    assert record["job_id"] == "34"
    assert record["start_time"] == "2024-01-01T10:00:00+00:00"
    assert record["end_time"] == "2024-01-01T10:02:30+00:00"
    assert record["duration_seconds"] == 150.0
    assert record["extra_key"] == 1
    assert record["saveset_id"] == 0


def test_execution_duration_unknown_without_both_times():
    assert Execution.from_dict(execution_payload(1, end_time=None)).duration_seconds is None
    no_start = Execution.from_dict(execution_payload(1, start_time=None, end_time="2024-01-01T10:02:30Z"))
    assert no_start.end_time is not None and no_start.duration_seconds is None
    assert no_start.to_dict()["start_time"] is None


def test_execution_times_in_other_zones_are_converted():
    raw = execution_payload(1, start_time="2024-06-01T12:00:00-05:00")

    start = Execution.from_dict(raw).start_time

    assert start == datetime(2024, 6, 1, 17, 0, tzinfo=UTC)
    assert start == datetime(2024, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))


# ------------------------------------------------------------------------------------------------
# StatusPolicy


@pytest.fixture
def fresh_unknown_log(monkeypatch):
    """Forget which unknown statuses were already reported in this process."""
    monkeypatch.setattr(status_module, "_reported_unknown", set())


def test_status_policy_defaults():
    policy = StatusPolicy.build()

    assert policy.success == DEFAULT_SUCCESS_STATUSES == frozenset({"SUCCESSFUL"})
    assert {"FAILED", "ABORTED", "WARNING"} <= policy.failure
    assert policy.classify("SUCCESSFUL") is Outcome.SUCCESS
    for word in ("FAILED", "ABORTED", "ERROR", "WARNING"):
        assert policy.classify(word) is Outcome.FAILED
    for word in ("RUNNING", "EXECUTING", "QUEUED", "ABORTING"):
        assert policy.classify(word) is Outcome.RUNNING


@pytest.mark.parametrize("word", ["successful", " Successful ", "SUCCESSFUL"])
def test_status_policy_is_case_insensitive(word):
    assert StatusPolicy.build().classify(word) is Outcome.SUCCESS


def test_status_policy_overrides_are_normalised():
    policy = StatusPolicy.build(success_statuses=["successful", " warning "])

    assert policy.success == {"SUCCESSFUL", "WARNING"}
    assert "WARNING" not in policy.failure  # a default failure moved to success by the override
    assert policy.classify("Warning") is Outcome.SUCCESS
    assert policy.classify("FAILED") is Outcome.FAILED


def test_status_policy_failure_override_replaces_the_defaults():
    policy = StatusPolicy.build(failure_statuses=["broken"])

    assert policy.failure == {"BROKEN"}
    assert policy.classify("BROKEN") is Outcome.FAILED
    assert policy.classify("successful") is Outcome.SUCCESS


def test_status_policy_accepts_a_single_string():
    assert StatusPolicy.build(success_statuses="done").success == {"DONE"}


def test_status_policy_rejects_overlapping_sets():
    with pytest.raises(ValueError, match="WARNING"):
        StatusPolicy.build(success_statuses=["SUCCESSFUL", "warning"], failure_statuses=["WARNING", "FAILED"])


@pytest.mark.parametrize("statuses", [[], [""], ["  "]])
def test_status_policy_rejects_empty_sets(statuses):
    with pytest.raises(ValueError):
        StatusPolicy.build(success_statuses=statuses)


def test_status_policy_round_trips_through_kwargs():
    policy = StatusPolicy.build(success_statuses=["SUCCESSFUL", "WARNING"], failure_statuses=["FAILED"])

    assert StatusPolicy.build(**policy.to_kwargs()) == policy
    assert policy.to_kwargs() == {
        "success_statuses": ["SUCCESSFUL", "WARNING"],
        "failure_statuses": ["FAILED"],
    }


def test_unknown_status_is_running_and_logged_once(caplog, fresh_unknown_log):
    caplog.set_level(logging.WARNING, logger="airflow_provider_baas")
    word = f"NEW_STATE_{uuid.uuid4().hex[:8]}".upper()
    policy = StatusPolicy.build()

    outcomes = [policy.classify(word), policy.classify(word.lower()), StatusPolicy.build().classify(word)]

    assert outcomes == [Outcome.RUNNING] * 3
    mentions = [r for r in caplog.records if word in r.getMessage()]
    assert len(mentions) == 1
    assert mentions[0].levelno == logging.WARNING


def test_known_running_statuses_are_not_logged(caplog, fresh_unknown_log):
    caplog.set_level(logging.WARNING, logger="airflow_provider_baas")
    policy = StatusPolicy.build()

    for word in ("RUNNING", "EXECUTING", "QUEUED", "PENDING", "ABORTING"):
        assert policy.classify(word) is Outcome.RUNNING
    policy.classify("SUCCESSFUL")
    policy.classify("FAILED")

    assert caplog.records == []
    policy.classify("MYSTERY")  # control: an unknown word is logged through the same capture
    assert len(caplog.records) == 1


@pytest.mark.parametrize("status", [None, "", "SUCCESS", "OK", "COMPLETED"])
def test_unknown_or_missing_status_is_never_success(status):
    assert StatusPolicy.build().classify(status) is Outcome.RUNNING


def test_default_sets_do_not_overlap():
    assert not DEFAULT_SUCCESS_STATUSES & DEFAULT_FAILURE_STATUSES


# ------------------------------------------------------------------------------------------------
# Connection form


def test_conn_fields_describe_every_form_field():
    fields = conn_fields()

    assert list(fields) == [f.name for f in FORM_FIELDS]
    assert {
        "site_id",
        "auth_mode",
        "personal_access_token",
        "private_key",
        "private_key_path",
        "key_id",
        "subject",
        "org_claim_name",
        "org_claim_value",
        "token_lifetime",
        "max_attempts",
        "max_retry_wait",
    } <= set(fields)
    for name, spec in fields.items():
        assert spec["label"], name
        assert spec["description"], name
        assert "null" in spec["schema"]["type"], name
    assert fields["auth_mode"]["schema"]["enum"] == ["token", "pat"]
    assert fields["personal_access_token"]["schema"]["format"] == "password"
    assert fields["private_key"]["schema"]["format"] == "password"
    assert "format" not in fields["site_id"]["schema"]
    # No default: Airflow 3 would show (and save) a default of a field named *token* as "***".
    assert fields["token_lifetime"]["schema"] == {"type": ["integer", "null"]}


def _widgets_available() -> bool:
    try:
        import flask_appbuilder.fieldwidgets  # noqa: F401
        import wtforms  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::sqlalchemy.exc.MovedIn20Warning")
@pytest.mark.skipif(
    AIRFLOW_V_3 and not _widgets_available(),
    reason="Airflow 3 without wtforms/flask_appbuilder renders the form from conn-fields",
)
def test_airflow2_widgets_describe_the_same_fields_as_conn_fields():
    from wtforms import PasswordField

    widgets = BaasHook.get_connection_form_widgets()

    assert list(widgets) == list(conn_fields())
    secret_widgets = {name for name, w in widgets.items() if w.field_class is PasswordField}
    assert secret_widgets == {
        n for n, spec in conn_fields().items() if spec["schema"].get("format") == "password"
    }
    assert secret_widgets == {"personal_access_token", "private_key", "secret_headers"}


def test_ui_field_behaviour_is_a_copy():
    behaviour = BaasHook.get_ui_field_behaviour()
    behaviour["hidden_fields"].append("host")
    behaviour["relabeling"]["host"] = "changed"

    assert "host" not in UI_FIELD_BEHAVIOUR["hidden_fields"]
    assert BaasHook.get_ui_field_behaviour()["relabeling"]["host"] == "Base URL"


def test_hook_metadata():
    assert BaasHook.conn_type == "baas"
    assert BaasHook.conn_name_attr == "baas_conn_id"
    assert BaasHook.default_conn_name == "baas_default"
