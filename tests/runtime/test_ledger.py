"""Unit tests of the reattach ledger (issue 20): what an earlier try of this task instance is
remembered to have done, and which memories are not this task instance's to use.

The ledger is driven with the task state store's interface (``FakeStateStore``); the operator and
sensor tests drive it through whole tries against the simulator.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_baas.models import Execution
from airflow_provider_baas.reattach import (
    RESTORE_STATE_KEY,
    STATE_KEY,
    EarlierStart,
    ExecutionLedger,
    RestoreLedger,
    RestoreMemory,
    WatchMemory,
    confusable_ids,
)

from ._support import FakeStateStore, FakeTI, make_context

SENT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def ledger(store: FakeStateStore, job_id: str = "34", site_id: str = "demo-site") -> ExecutionLedger:
    return ExecutionLedger(make_context(store=store), job_id, site_id)


def execution(execution_id: str, started: float | None) -> Execution:
    """An execution started ``started`` seconds before SENT (None: still queued)."""
    start = None if started is None else (SENT - timedelta(seconds=started)).isoformat()
    return Execution.from_dict({"execution_id": execution_id, "job_id": 34, "start_time": start})


def test_the_memory_of_a_send_is_found_again_by_the_next_try():
    store = FakeStateStore()
    ledger(store).remember_sending(SENT, "FULL")

    assert ledger(store).earlier_start() == EarlierStart(
        None, SENT - timedelta(seconds=60), "task state store", "FULL", None
    )


def test_a_send_of_no_particular_run_type_is_remembered_as_such():
    store = FakeStateStore()
    ledger(store).remember_sending(SENT)

    earlier = ledger(store).earlier_start()

    assert earlier is not None and earlier.run_type is None and earlier.known_before is None


def test_the_memory_of_a_started_execution_names_it():
    store = FakeStateStore()
    ledger(store).remember_started(SENT, "121")

    earlier = ledger(store).earlier_start()

    assert earlier is not None and earlier.execution_id == "121"


def test_an_empty_task_state_store_is_still_where_the_memory_goes():
    class EmptyStore(FakeStateStore):
        def __len__(self) -> int:  # falsy while empty: it must still be used
            return len(self.data)

    store = EmptyStore()
    ledger(store).remember_started(SENT, "121")

    assert STATE_KEY in store.data


@pytest.mark.parametrize(
    ("job_id", "site_id"), [("35", "demo-site"), ("34", "other-site"), ("35", "other-site")]
)
def test_the_memory_of_another_job_or_site_is_not_this_waits(job_id, site_id):
    store = FakeStateStore()
    ledger(store).remember_started(SENT, "121")
    ledger(store).remember_watch(WatchMemory("121", 1000.0))
    store.data[STATE_KEY]["sent_at"] = SENT.isoformat()  # both memories in one entry

    other = ledger(store, job_id, site_id)

    assert other.earlier_start() is None
    assert other.watched() is None
    assert ledger(store).watched() is not None


@pytest.mark.parametrize("sent_at", [None, "", "yesterday", 1767268800])
def test_a_memory_without_a_readable_send_time_proves_nothing(sent_at):
    store = FakeStateStore({STATE_KEY: {"job_id": "34", "site_id": "demo-site", "sent_at": sent_at}})

    assert ledger(store).earlier_start() is None


@pytest.mark.parametrize("memory", [None, "121", ["121"]])
def test_a_memory_that_is_not_a_record_is_ignored(memory):
    store = FakeStateStore({STATE_KEY: memory} if memory is not None else {})

    assert ledger(store).earlier_start() is None
    assert ledger(store).watched() is None


def test_what_existed_before_the_post_is_remembered_as_strings():
    store = FakeStateStore()
    history = [
        execution("old", started=61),  # started before the send time less the clock skew
        execution("edge", started=60),
        execution("recent", started=5),
        execution("queued", started=None),
    ]

    ledger(store).remember_sending(SENT, "FULL", history)

    assert store.data[STATE_KEY]["known_before"] == ["edge", "recent", "queued"]
    earlier = ledger(store).earlier_start()
    assert earlier is not None and earlier.known_before == ("edge", "recent", "queued")


def test_known_before_that_is_not_a_list_is_unknown():
    store = FakeStateStore(
        {
            STATE_KEY: {
                "job_id": "34",
                "site_id": "demo-site",
                "sent_at": SENT.isoformat(),
                "known_before": "121",
            }
        }
    )

    earlier = ledger(store).earlier_start()

    assert earlier is not None and earlier.known_before is None


def test_a_numeric_known_before_id_is_compared_as_a_string():
    store = FakeStateStore(
        {
            STATE_KEY: {
                "job_id": "34",
                "site_id": "demo-site",
                "sent_at": SENT.isoformat(),
                "known_before": [121],
            }
        }
    )

    earlier = ledger(store).earlier_start()

    assert earlier is not None and earlier.known_before == ("121",)


def test_confusable_ids_are_queued_or_started_at_or_after_since():
    history = [execution("before", 61), execution("at", 60), execution("queued", None)]

    assert confusable_ids(history, SENT - timedelta(seconds=60)) == ["at", "queued"]


# --- the sensor's watch memory ---------------------------------------------------------------


def test_a_watch_is_remembered_whole():
    store = FakeStateStore()
    memory = WatchMemory("121", 1000.5, errors=3, errors_since=990.25)

    ledger(store).remember_watch(memory)

    assert ledger(store).watched() == memory


def test_a_watch_without_errors_remembers_no_error_streak():
    store = FakeStateStore()
    ledger(store).remember_watch(WatchMemory("121", 1000.0))

    assert ledger(store).watched() == WatchMemory("121", 1000.0, 0, None)


def watch_memory(**watch) -> FakeStateStore:
    return FakeStateStore({STATE_KEY: {"job_id": "34", "site_id": "demo-site", "watch": watch}})


def test_a_watch_memory_written_by_hand_is_read_as_numbers():
    store = watch_memory(execution_id=121, first_poke="1000", errors=None, errors_since="990")

    assert ledger(store).watched() == WatchMemory("121", 1000.0, 0, 990.0)


@pytest.mark.parametrize(
    "watch",
    [
        {"first_poke": 1000.0},  # no execution
        {"execution_id": "", "first_poke": 1000.0},
        {"execution_id": "121"},  # no first poke
        {"execution_id": "121", "first_poke": "soon"},
        {"execution_id": "121", "first_poke": 1000.0, "errors": "many"},
        {"execution_id": "121", "first_poke": 1000.0, "errors_since": [1]},
    ],
)
def test_a_malformed_watch_memory_is_no_memory(watch):
    assert ledger(watch_memory(**watch)).watched() is None


def test_a_watch_memory_that_is_not_a_record_is_no_memory():
    store = FakeStateStore({STATE_KEY: {"job_id": "34", "site_id": "demo-site", "watch": "121"}})

    assert ledger(store).watched() is None


# --- forgetting, and where the memory lives --------------------------------------------------


def test_forgetting_deletes_the_memory():
    store = FakeStateStore()
    ledger(store).remember_started(SENT, "121")

    ledger(store).forget()

    assert store.deleted == [STATE_KEY]
    assert ledger(store).earlier_start() is None


class _NoDelete:
    """A task state store without ``delete`` (an accessor that cannot remove a key)."""

    def __init__(self) -> None:
        self.data: dict = {}

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value, *, retention=None):
        self.data[key] = value


def test_a_store_that_cannot_delete_is_left_alone():
    store = _NoDelete()
    the_ledger = ExecutionLedger({"ti": FakeTI(), "task_state_store": store}, "34", "demo-site")
    the_ledger.remember_started(SENT, "121")

    the_ledger.forget()

    assert the_ledger.earlier_start() is not None


def test_a_task_state_store_that_cannot_be_reached_is_no_store():
    class Unreachable(dict):
        def get(self, key, default=None):
            if key == "task_state_store":  # the accessor is built lazily, from the API server
                raise ConnectionError("API server unreachable")
            return super().get(key, default)

    the_ledger = ExecutionLedger(Unreachable(ti=FakeTI()), "34", "demo-site")
    the_ledger.remember_started(SENT, "121")

    assert the_ledger.earlier_start() is None


def test_a_task_instance_without_its_identity_has_no_variable_store():
    """Without dag, task and run ids there is no Variable name (and no metadata DB here to reach)."""
    the_ledger = ExecutionLedger(make_context(FakeTI()), "34", "demo-site")
    the_ledger.remember_started(SENT, "121")

    assert the_ledger.earlier_start() is None
    assert the_ledger.watched() is None
    the_ledger.forget()  # nothing to forget, and no error


class _IdentifiedTI(FakeTI):
    dag_id, task_id, run_id, map_index = "etl", "backup", "manual__1", -1


def test_without_a_task_state_store_the_memory_is_read_from_the_task_instances_variable(monkeypatch):
    """Lines without a task state store keep it in an Airflow Variable (read here from the
    environment-variables secrets backend, which every line consults first)."""
    memory = {"job_id": "34", "site_id": "demo-site", "sent_at": SENT.isoformat(), "execution_id": "121"}
    name = "baas_provider.task_state.etl.backup.manual__1.-1"
    monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", json.dumps({STATE_KEY: memory}))

    earlier = ExecutionLedger(make_context(_IdentifiedTI()), "34", "demo-site").earlier_start()

    assert earlier is not None
    assert (earlier.execution_id, earlier.source) == ("121", "Airflow Variable")


@pytest.mark.parametrize(
    ("memory", "field"),
    [
        (EarlierStart(None, SENT, "task state store"), "execution_id"),
        (WatchMemory("121", 1000.0), "errors"),
        (RestoreMemory("34", "121", "r"), "restore_id"),
    ],
)
def test_what_is_remembered_cannot_be_changed_after_it_is_read(memory, field):
    """The decision made from a memory is made from what was read, not from a later change."""
    with pytest.raises(AttributeError):
        setattr(memory, field, "another")


class _UnmappedTI(FakeTI):
    """A task instance object without ``map_index`` (unmapped)."""

    dag_id, task_id, run_id = "etl", "backup", "manual__1"


def test_an_unmapped_task_instance_without_map_index_reads_the_same_variable(monkeypatch):
    memory = {"job_id": "34", "site_id": "demo-site", "sent_at": SENT.isoformat(), "execution_id": "121"}
    name = "baas_provider.task_state.etl.backup.manual__1.-1"
    monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", json.dumps({STATE_KEY: memory}))

    earlier = ExecutionLedger(make_context(_UnmappedTI()), "34", "demo-site").earlier_start()

    assert earlier is not None and earlier.execution_id == "121"


def test_a_context_that_is_not_a_mapping_has_no_memory():
    the_ledger = ExecutionLedger(object(), "34", "demo-site")
    the_ledger.remember_started(SENT, "121")

    assert the_ledger.earlier_start() is None
    assert the_ledger.watched() is None


# --- the restore ledger: the name before the POST, the id after ------------------------------


def restore_ledger(store: FakeStateStore, site_id: str = "demo-site") -> RestoreLedger:
    return RestoreLedger(make_context(store=store), site_id)


def test_a_restore_remembered_by_name_before_the_post_is_found_by_the_next_try():
    store = FakeStateStore()
    restore_ledger(store).remember(RestoreMemory("34", "121", "airflow-etl-restore"))

    earlier = restore_ledger(store).earlier()

    assert earlier == RestoreMemory("34", "121", "airflow-etl-restore", None)
    assert store.data[RESTORE_STATE_KEY]["site_id"] == "demo-site"
    assert restore_ledger(store).store_name == "task state store"


def test_a_restore_remembered_with_its_id_is_found_with_it_as_a_string():
    store = FakeStateStore(
        {
            RESTORE_STATE_KEY: {
                "site_id": "demo-site",
                "job_id": 34,
                "execution_id": 121,
                "name": "airflow-etl-restore",
                "restore_id": 7001,
            }
        }
    )

    earlier = restore_ledger(store).earlier()

    assert earlier == RestoreMemory("34", "121", "airflow-etl-restore", "7001")


def test_a_restore_remembered_on_another_site_is_not_this_tasks():
    store = FakeStateStore()
    restore_ledger(store, site_id="site-a").remember(RestoreMemory("34", "121", "r", "7001"))

    assert restore_ledger(store, site_id="site-b").earlier() is None
    assert restore_ledger(store, site_id="site-a").earlier() is not None


@pytest.mark.parametrize(
    "memory",
    [
        None,
        "not a record",
        ["demo-site"],
        {"site_id": "demo-site", "job_id": "34", "execution_id": "121"},  # no name
        {"site_id": "demo-site", "name": "r"},
    ],
)
def test_a_restore_memory_that_is_not_whole_is_no_memory(memory):
    store = FakeStateStore({RESTORE_STATE_KEY: memory} if memory is not None else {})

    assert restore_ledger(store).earlier() is None


def test_a_restore_memory_is_its_own_key_beside_the_backups():
    store = FakeStateStore()
    ledger(store).remember_started(SENT, "121")
    restore_ledger(store).remember(RestoreMemory("34", "121", "r"))

    assert set(store.data) == {STATE_KEY, RESTORE_STATE_KEY}
    assert ledger(store).earlier_start() is not None


def test_forgetting_a_restore_deletes_only_its_memory():
    store = FakeStateStore()
    ledger(store).remember_started(SENT, "121")
    restore_ledger(store).remember(RestoreMemory("34", "121", "r", "7001"))

    restore_ledger(store).forget()

    assert store.deleted == [RESTORE_STATE_KEY]
    assert restore_ledger(store).earlier() is None
    assert ledger(store).earlier_start() is not None


def test_a_restore_ledger_without_any_store_remembers_nothing_and_does_not_fail():
    the_ledger = RestoreLedger(make_context(FakeTI()), "demo-site")
    the_ledger.remember(RestoreMemory("34", "121", "r"))

    assert the_ledger.earlier() is None
    assert the_ledger.store_name == "Airflow Variable"
    the_ledger.forget()


def test_a_restore_ledger_on_a_store_that_cannot_delete_leaves_it():
    store = _NoDelete()
    the_ledger = RestoreLedger({"ti": FakeTI(), "task_state_store": store}, "demo-site")
    the_ledger.remember(RestoreMemory("34", "121", "r"))

    the_ledger.forget()

    assert the_ledger.earlier() is not None


def test_without_a_task_state_store_the_restore_memory_is_read_from_the_variable(monkeypatch):
    memory = {"site_id": "demo-site", "job_id": "34", "execution_id": "121", "name": "r", "restore_id": None}
    name = "baas_provider.task_state.etl.backup.manual__1.-1"
    monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", json.dumps({RESTORE_STATE_KEY: memory}))

    the_ledger = RestoreLedger(make_context(_IdentifiedTI()), "demo-site")

    assert the_ledger.earlier() == RestoreMemory("34", "121", "r", None)
    assert the_ledger.store_name == "Airflow Variable"


class _VariableLike:
    """Airflow's ``Variable`` contract as both the ORM model (2.x) and the Task SDK (3.x) keep it:
    ``set`` stores ``json.dumps(value)`` with ``serialize_json=True`` and ``str(value)`` without;
    ``get(..., deserialize_json=True)`` reads it back with ``json.loads``. The DAG-level reattach
    tests (2.11, 3.0-3.2) write the real one; these tests have no metadata DB."""

    def __init__(self) -> None:
        self.stored: dict[str, str] = {}

    def set(self, key, value, serialize_json=False, description=None):
        self.stored[key] = json.dumps(value) if serialize_json else str(value)

    def get(self, key, default=None, deserialize_json=False):
        if key not in self.stored:
            return default
        return json.loads(self.stored[key]) if deserialize_json else self.stored[key]

    def delete(self, key):
        self.stored.pop(key, None)


def test_the_variable_store_writes_json_that_the_next_try_reads_back(monkeypatch):
    from airflow_provider_baas import reattach

    variables = _VariableLike()
    monkeypatch.setattr(reattach, "variable_api", lambda: variables)
    first = ExecutionLedger(make_context(_IdentifiedTI()), "34", "demo-site")
    first.remember_started(SENT, "121")

    earlier = ExecutionLedger(make_context(_IdentifiedTI()), "34", "demo-site").earlier_start()

    assert earlier is not None and (earlier.execution_id, earlier.source) == ("121", "Airflow Variable")
    first.forget()
    assert variables.stored == {}
