"""What a restore asks for, checked without I/O: objects, options, names, matching against the backup."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_baas.errors import BaasValidationError
from airflow_provider_baas.models import BackupObject
from airflow_provider_baas.restore_request import (
    MAX_RESTORE_NAME_CHARS,
    ObjectSpec,
    default_restore_name,
    match_backup_objects,
    name_for_try,
    parse_objects,
    restore_settings,
)


@dataclass
class Listed:
    object_name: str
    object_type: str
    parent_name: str | None = "DBC"


HOLDINGS = [Listed("SALES", "DATABASE"), Listed("HR", "DATABASE"), Listed("EMPLOYEES", "TABLE", "HR")]


def test_names_are_databases_and_dotted_names_objects_inside_them() -> None:
    specs = parse_objects(["SALES", "HR.EMPLOYEES", {"object_name": "HR", "object_type": "database"}])
    assert specs[0] == ObjectSpec("SALES")
    assert specs[1] == ObjectSpec("EMPLOYEES", "HR")
    assert specs[2].object_type == "DATABASE" and specs[2].parent_name is None


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        ([], "empty"),
        ("SALES", "must be a list"),
        ({"object_name": "SALES"}, "must be a list"),
        (["A" * 129], "129 characters"),
        (["SA\x00LES"], "control character"),
        (["SA\nLES"], "control character"),
        (["SALES/../HR"], "is not a Teradata name"),
        (["SALES\\X"], "is not a Teradata name"),
        (["A.B.C"], "DATABASE.TABLE"),
        (["HR."], "non-empty"),
        ([""], "non-empty"),
        ([" "], "non-empty"),
        ([42], "name, a dict or a BackupObject"),
        ([{"object_name": "SALES", "object_type": "SPACESHIP"}], "not a known object type"),
        ([{"object_name": "SALES", "colour": "red"}], "unknown keys"),
        ([{"object_name": "SALES", "include_all": "yes"}], "include_all"),
        ([{"object_name": "SALES", "exclude_objects": "T1"}], "must be a list"),
        ([{"object_name": "SALES", "exclude_objects": ["T/1"]}], "is not a Teradata name"),
        (["SALES", "sales"], "more than once"),
    ],
)
def test_bad_objects_are_refused_with_the_reason(objects: Any, message: str) -> None:
    with pytest.raises(BaasValidationError, match=message):
        parse_objects(objects)


def test_a_name_of_128_characters_is_a_teradata_name() -> None:
    assert parse_objects(["A" * 128, "B" * 128 + "." + "C" * 128])[1] == ObjectSpec("C" * 128, "B" * 128)


def test_matching_pairs_each_object_with_what_the_backup_lists_case_insensitively() -> None:
    pairs = match_backup_objects(parse_objects(["sales", "hr.employees"]), HOLDINGS)
    assert [listed for _, listed in pairs] == [HOLDINGS[0], HOLDINGS[2]]


def test_objects_not_in_the_backup_are_refused_with_what_it_holds() -> None:
    with pytest.raises(BaasValidationError) as info:
        match_backup_objects(parse_objects(["SALES", "FINANCE", "HR.PAYROLL"]), HOLDINGS)
    message = str(info.value)
    assert "Not in the backup: FINANCE, HR.PAYROLL" in message
    assert "It holds: SALES (DATABASE), HR (DATABASE), HR.EMPLOYEES (TABLE)" in message


def test_a_backup_that_lists_nothing_says_so() -> None:
    with pytest.raises(BaasValidationError, match=r"It holds: nothing \(the backup lists no objects\)"):
        match_backup_objects(parse_objects(["SALES"]), [])


def test_a_large_backup_is_named_up_to_fifty_objects_and_the_rest_counted() -> None:
    tables = [Listed(f"T{i:03d}", "TABLE", "SALES") for i in range(52)]

    with pytest.raises(BaasValidationError) as info:
        match_backup_objects(parse_objects(["FINANCE"]), tables)

    assert "SALES.T049 (TABLE) and 2 more" in str(info.value)
    assert "T050" not in str(info.value)


def test_a_backup_of_exactly_fifty_objects_is_named_whole() -> None:
    tables = [Listed(f"T{i:03d}", "TABLE", "SALES") for i in range(50)]

    with pytest.raises(BaasValidationError) as info:
        match_backup_objects(parse_objects(["FINANCE"]), tables)

    assert str(info.value).endswith("SALES.T049 (TABLE)")


def test_a_dict_without_a_type_matches_whatever_the_backup_holds_by_that_name() -> None:
    pairs = match_backup_objects(parse_objects([{"object_name": "sales"}]), HOLDINGS)

    assert pairs == [(ObjectSpec("sales"), HOLDINGS[0])]


def test_what_was_asked_for_cannot_be_changed_once_parsed() -> None:
    (spec,) = parse_objects(["SALES"])

    with pytest.raises(AttributeError):
        spec.object_name = "HR"  # type: ignore[misc]


def test_a_bare_name_is_not_matched_to_a_table_of_that_name() -> None:
    with pytest.raises(BaasValidationError, match="Not in the backup: EMPLOYEES"):
        match_backup_objects(parse_objects(["EMPLOYEES"]), HOLDINGS)


def test_an_ambiguous_name_asks_for_its_type() -> None:
    both = [Listed("X", "DATABASE"), Listed("X", "USER")]
    with pytest.raises(BaasValidationError, match="more than one object"):
        match_backup_objects(parse_objects(["X"]), both)
    pairs = match_backup_objects(parse_objects([{"object_name": "X", "object_type": "USER"}]), both)
    assert pairs[0][1] is both[1]


def test_options_are_sent_under_the_api_keys_and_raw_settings_win() -> None:
    options = {
        "skip_statistics": True,
        "continue_job_on_access_right_violation": False,
        "run_as_a_copy_job": None,
        "skip_join_or_hash_indexes": False,
    }
    assert restore_settings(options, None) == {
        "skip_statstics": True,
        "continue_job_on_access_right_violation": False,
        "skip_join_or_hash_indexes": False,
    }
    raw = restore_settings(options, {"skip_statstics": False, "skip_statistics": True})
    assert raw["skip_statstics"] is False and raw["skip_statistics"] is True


@pytest.mark.parametrize(
    ("options", "job_settings", "message"),
    [
        ({"skip_statistics": "yes"}, None, "True or False"),
        ({}, {"objects": []}, "objects="),
        ({}, ["skip_statstics"], "dict with string keys"),
    ],
)
def test_bad_options_are_refused(options: dict, job_settings: Any, message: str) -> None:
    with pytest.raises(BaasValidationError, match=message):
        restore_settings(options, job_settings)


def test_an_unknown_option_name_is_refused() -> None:
    with pytest.raises(ValueError, match="skip_statstics"):
        restore_settings({"skip_statstics": True}, None)


def test_default_names_are_unique_per_task_instance_and_fit_the_limit() -> None:
    a = default_restore_name("refresh", "restore", "manual__2026-01-01T00:00:00+00:00", -1)
    assert a == "airflow-refresh-restore-manual__2026-01-01T00_00_00_00_00"
    mapped = {default_restore_name("refresh", "restore", "r1", i) for i in range(3)}
    assert len(mapped) == 3 and a not in mapped
    long_a = default_restore_name("d" * 200, "t", "r", -1)
    long_b = default_restore_name("d" * 200, "u", "r", -1)
    assert len(long_a) == MAX_RESTORE_NAME_CHARS and long_a != long_b


def test_a_default_name_of_exactly_the_limit_is_kept_whole() -> None:
    dag_id = "d" * (MAX_RESTORE_NAME_CHARS - len("airflow--t-r"))

    name = default_restore_name(dag_id, "t", "r", -1)

    assert name == f"airflow-{dag_id}-t-r" and len(name) == MAX_RESTORE_NAME_CHARS


def test_an_unmapped_task_instance_is_named_alike_whether_its_map_index_is_none_or_minus_one() -> None:
    assert (
        default_restore_name("d", "t", "r", None)
        == default_restore_name("d", "t", "r", -1)
        == "airflow-d-t-r"
    )


def test_a_name_too_long_ends_in_the_first_16_hex_digits_of_the_whole_names_sha256() -> None:
    """The name is a contract with earlier tries: a retry after an upgrade must compute the same one."""
    whole = "-".join(["airflow", "d" * 200, "t", "r"])

    name = default_restore_name("d" * 200, "t", "r", -1)

    assert name.endswith("-" + hashlib.sha256(whole.encode()).hexdigest()[:16])
    assert name.startswith("airflow-ddd")


def test_a_later_try_gets_its_own_name_within_the_limit() -> None:
    assert name_for_try("n", 1) == "n"
    assert name_for_try("n", 3) == "n-t3"
    long = "x" * MAX_RESTORE_NAME_CHARS
    assert len(name_for_try(long, 2)) == MAX_RESTORE_NAME_CHARS
    assert name_for_try(long, 2) != name_for_try(long, 3)


def test_exclusions_become_typed_dicts_and_a_dict_must_say_its_type() -> None:
    (spec,) = parse_objects(
        [{"object_name": "SALES", "exclude_objects": ["T1", {"object_name": "V", "object_type": "view"}]}]
    )
    assert spec.exclude_objects == (
        {"object_name": "T1", "object_type": "TABLE"},
        {"object_name": "V", "object_type": "VIEW"},
    )
    with pytest.raises(BaasValidationError, match="object_type"):
        parse_objects([{"object_name": "SALES", "exclude_objects": [{"object_name": "T1"}]}])


def test_a_listed_backup_object_of_any_type_is_restorable_as_listed() -> None:
    macro = BackupObject("M1", "MACRO", "SALES", "DATABASE")
    (spec,) = parse_objects([macro])
    assert spec == ObjectSpec("M1", "SALES", "MACRO")
    assert match_backup_objects([spec], [Listed("M1", "MACRO", "SALES")])[0][1].object_type == "MACRO"
    with pytest.raises(BaasValidationError, match="not a known object type"):
        parse_objects([{"object_name": "M1", "object_type": "MACRO"}])  # typed by hand: the known words only


def test_a_listed_database_is_restorable_as_listed_without_its_parent() -> None:
    """A database's parent (DBC) is where it lives, not part of its name: it matches the bare name."""
    sales = BackupObject("SALES", "DATABASE", "DBC", "DATABASE")

    (spec,) = parse_objects([sales])

    assert spec == ObjectSpec("SALES", None, "DATABASE")
    assert match_backup_objects([spec], HOLDINGS)[0][1] is HOLDINGS[0]


def test_a_listed_object_without_a_type_is_matched_to_itself() -> None:
    untyped = BackupObject("ORDERS", None, "SALES")

    (spec,) = parse_objects([untyped])

    assert spec == ObjectSpec("ORDERS", "SALES", None)
    assert match_backup_objects([spec], [Listed("SALES", "DATABASE"), untyped])[0][1] is untyped
