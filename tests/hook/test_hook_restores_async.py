"""The async twins of the objects and restores calls (aiohttp), against the simulator over real HTTP:
the same plans as the sync calls, the at-most-once create when the answer is lost, and the errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_baas.credentials import DatabaseCredentials
from airflow_provider_baas.errors import (
    BaasAuthError,
    BaasObjectsPreparationFailed,
    BaasRestoreOutcomeUnknown,
    BaasRestorePermissionDenied,
)
from airflow_provider_baas.hooks.baas import BaasHook
from airflow_provider_baas.hooks.transport import close_shared_sessions
from airflow_provider_baas.models import ObjectType
from airflow_provider_baas.testing import DEFAULT_DB_LOGIN, DEFAULT_DB_PASSWORD, BaasSimulator

JOB = 34


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[BaasSimulator]:
    # Fast enough that a preparation (30 BaaS seconds) ends within a few real milliseconds.
    with BaasSimulator(time_scale=36_000) as simulator:
        name, value = simulator.airflow_conn_env("baas_async_restores", page_size=2)
        monkeypatch.setenv(name, value)
        yield simulator


@pytest.fixture
def hook(sim: BaasSimulator) -> BaasHook:
    return BaasHook("baas_async_restores")


@pytest.fixture
def execution(sim: BaasSimulator) -> str:
    return sim.executions(JOB)[0]["execution_id"]


def creds(login: str = DEFAULT_DB_LOGIN, password: str = DEFAULT_DB_PASSWORD) -> DatabaseCredentials:
    return DatabaseCredentials(login, password, "td")


def run(coro: Any) -> Any:
    async def main() -> Any:
        try:
            return await coro
        finally:
            await close_shared_sessions()

    return asyncio.run(main())


def test_objects_prepared_and_listed(hook, sim, execution, async_waits):
    preparation = run(hook.aprepare_objects(JOB, execution))
    assert preparation.isdigit()
    objects = run(hook.alist_backup_objects(JOB, execution, poll_interval=0.01))
    assert [(o.object_name, o.object_type) for o in objects][:2] == [
        ("WAREHOUSE", ObjectType.DATABASE),
        ("CUSTOMERS", ObjectType.TABLE),
    ]
    assert len(objects) == len(sim.backup_objects(execution)) == 4  # two pages of two
    status = run(hook.aget_objects_preparation_status(preparation))
    assert status.status == "COMPLETED"


def test_a_failed_preparation(hook, sim, execution):
    sim.fail_preparations("save set expired")
    with pytest.raises(BaasObjectsPreparationFailed, match="save set expired"):
        run(hook.alist_backup_objects(JOB, execution, poll_interval=0.01))


def test_restore_created_read_listed_and_found(hook, sim, execution):
    objects = run(hook.alist_backup_objects(JOB, execution, poll_interval=0.01))
    assert run(hook.acheck_restore_permissions(JOB, execution, objects=objects[1:2], credentials=creds()))[
        "has_permission"
    ]
    restore_id = run(
        hook.acreate_restore(JOB, execution, name="async-1", objects=objects[1:2], credentials=creds())
    )
    assert run(hook.aget_restore(JOB, execution, restore_id)).name == "async-1"
    assert [r.restore_id for r in run(hook.alist_restores())] == [restore_id]
    assert run(hook.afind_restore_by_name("async-1")).restore_id == restore_id
    assert "WAREHOUSE" in [d.name for d in run(hook.alist_databases())]
    assert sim.restore(restore_id)["job_settings"]["objects"][0]["object_name"] == "CUSTOMERS"


def test_a_lost_answer_is_not_resent(hook, sim, execution, async_waits):
    sim.add_fault(kind="lost_answer", method="POST", path="*/restores")
    objects = sim.backup_objects(execution)[:1]
    restore_id = run(
        hook.acreate_restore(JOB, execution, name="async-lost", objects=objects, credentials=creds())
    )
    assert [r["restore_id"] for r in sim.restores()] == [restore_id]
    assert len(sim.requests_matching("POST", r"/restores$")) == 1


def test_an_answer_lost_before_processing_is_an_unknown_outcome(hook, sim, execution, async_waits):
    sim.add_fault(kind="drop", method="POST", path="*/restores")
    objects = sim.backup_objects(execution)[:1]
    with pytest.raises(BaasRestoreOutcomeUnknown, match="async-dropped"):
        run(hook.acreate_restore(JOB, execution, name="async-dropped", objects=objects, credentials=creds()))
    assert sim.restores() == [] and len(sim.requests_matching("POST", r"/restores$")) == 1


def test_denied_and_wrong_credentials(hook, sim, execution):
    objects = sim.backup_objects(execution)[:1]
    with pytest.raises(BaasAuthError, match="HTTP 401: database logon failed") as info:
        run(
            hook.acreate_restore(
                JOB, execution, name="a", objects=objects, credentials=creds(password="wrong-password")
            )
        )
    assert "wrong-password" not in json.dumps(str(info.value))
    sim.deny_restores(user=DEFAULT_DB_LOGIN)
    with pytest.raises(BaasRestorePermissionDenied, match="HTTP 403: user dbc_restore does not have"):
        run(hook.acheck_restore_permissions(JOB, execution, objects=objects, credentials=creds()))
    with pytest.raises(BaasRestorePermissionDenied):
        run(hook.acreate_restore(JOB, execution, name="a", objects=objects, credentials=creds()))
    assert sim.restores() == []
