"""Restores under faults: a lost create answer, and a worker killed mid-restore then retried.
Exactly one restore, every time (the simulator would create a second one under another name)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from typing import Any

import pytest

from airflow_provider_baas.testing import BaasSimulator
from airflow_provider_baas.testing.constants import DEFAULT_DB_LOGIN, DEFAULT_DB_PASSWORD
from tests.airflow_version import AIRFLOW_V_3
from tests.reliability._crash_restore_worker import TERADATA_CONN_ID, restore_operator, restore_ti

from ._support import FakeStateStore, FakeTI, FileStateStore, make_context
from .test_restarts import REPO, STORES, run_try, worker_env

pytestmark = pytest.mark.usefixtures("close_sessions", "quick_backoff")


@pytest.fixture(autouse=True)
def teradata_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "teradata", "login": DEFAULT_DB_LOGIN, "password": DEFAULT_DB_PASSWORD}
    monkeypatch.setenv(f"AIRFLOW_CONN_{TERADATA_CONN_ID.upper()}", json.dumps(conn))


def creates(sim: BaasSimulator) -> list[Any]:
    return sim.requests_matching("POST", r"/jobs/34/executions/[^/]+/restores$")


@pytest.mark.parametrize("mode", ["polling", "deferrable"])
async def test_a_lost_create_answer_makes_exactly_one_restore(make_sim: Any, mode: str) -> None:
    sim = make_sim(time_scale=600)
    sim.add_fault(kind="lost_answer", method="POST", path="*/restores", count=1)
    ti = FakeTI()
    record = await run_try(restore_operator(mode), make_context(ti, FakeStateStore()))
    assert record["status"] == "SUCCESSFUL"
    (restore,) = sim.restores()
    assert record["restore_id"] == restore["restore_id"] == ti.xcom("restore_id")
    assert len(creates(sim)) == 1 and creates(sim)[0].fault == "lost_answer"


CRASH_POINTS = {
    # The worker dies while the create request is being answered: only the name was remembered.
    "before-the-answer": r"/restores$",
    # The worker dies at its first poll of the restore: the restore id was remembered.
    "mid-wait": r"/restores/\d+$",
}


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("crash", list(CRASH_POINTS))
@pytest.mark.parametrize("mode", ["polling", "deferrable"])
async def test_worker_killed_mid_restore_then_retry_reattaches_to_one_restore(
    request: pytest.FixtureRequest, make_sim: Any, tmp_path: Any, mode: str, crash: str, store: str
) -> None:
    if store == "variable":
        request.getfixturevalue("airflow_db")
        from airflow.models import Variable

        Variable.delete("baas_provider.task_state.baas_rel_crash.restore.manual__crash.-1")
    victim: dict[str, Any] = {"pid": None, "killed_at": None}
    point = re.compile(CRASH_POINTS[crash])

    def kill_worker(record: Any) -> None:
        if victim["pid"] and victim["killed_at"] is None and point.search(record.path):
            victim["killed_at"] = record.path
            os.kill(victim["pid"], signal.SIGKILL)

    sim = make_sim(time_scale=60, on_request=kill_worker)  # a restore takes 10 s: the crash is mid-wait
    state_file = str(tmp_path / "task_state.json")
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability._crash_restore_worker", mode, store, state_file],
        cwd=REPO,
        env=worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    victim["pid"] = worker.pid
    output, _ = worker.communicate(timeout=60)
    assert worker.returncode == -signal.SIGKILL, output[-3000:]
    assert victim["killed_at"] is not None and "worker finished without being killed" not in output
    assert len(sim.restores()) == 1
    # The retry: same task instance, try 2, same memory (the state store file or the Variable).
    ti = restore_ti(try_number=2)
    memory = FileStateStore(state_file) if store == "state-store" else None
    record = await run_try(restore_operator(mode), make_context(ti, memory))
    assert record["status"] == "SUCCESSFUL"
    (restore,) = sim.restores()
    assert record["restore_id"] == restore["restore_id"] == ti.xcom("restore_id")
    assert len(creates(sim)) == 1  # one create request in the whole life of the task instance
    if store == "state-store":
        assert "baas_restore" not in FileStateStore(state_file)._load()  # forgotten after success
    elif AIRFLOW_V_3 is False:
        from airflow.models import Variable

        assert Variable.get("baas_provider.task_state.baas_rel_crash.restore.manual__crash.-1", None) is None
