"""Restores in real Airflow runs (``dag.test()``, deferral and retries included) against the simulator."""

from __future__ import annotations

import pytest

from airflow_provider_baas.testing import BaasSimulator
from airflow_provider_baas.testing.pytest_plugin import use_teradata_connection
from airflow_provider_baas.testing.scenario import Outcome
from tests.airflow_version import AIRFLOW_VERSION
from tests.dag_runs.conftest import run_dag

pytestmark = pytest.mark.dag


@pytest.fixture
def restore_sim(simulator: BaasSimulator, monkeypatch: pytest.MonkeyPatch) -> BaasSimulator:
    use_teradata_connection(simulator, monkeypatch, "teradata_dag_tests")
    return simulator


def creates(sim: BaasSimulator) -> int:
    return len(sim.requests_matching("POST", r"/restores$"))


def test_a_failed_restore_fails_the_task_with_the_servers_detail(
    dagbag, restore_sim: BaasSimulator, capfd, caplog
) -> None:
    restore_sim.set_restore_outcome(Outcome("FAILED", "DSA restore failed: [2644] No more room in WAREHOUSE"))
    assert run_dag(dagbag, "baas_restore_failing") == {"restore": "failed", "__run__": "failed"}
    assert creates(restore_sim) == 1
    if (3, 0) <= AIRFLOW_VERSION < (3, 1):
        # Airflow 3.0's in-process dag.test() does not log the exception a task raises when it
        # resumes from a deferral (its state is still "failed", checked above).
        return
    out, err = capfd.readouterr()
    text = out + err + caplog.text
    assert "ended with status FAILED: DSA restore failed: [2644] No more room in WAREHOUSE" in text
    assert "BaasExecutionFailed" in text


def test_a_retry_after_a_lost_wait_reattaches_to_the_restore_it_created(
    dagbag, restore_sim: BaasSimulator, capfd, caplog
) -> None:
    # The first try creates the restore; its wait then dies on a permanent error (403 on the first
    # poll of the restore). The retry must wait for that restore, not create a second one.
    restore_sim.add_fault(kind="status", status=403, method="GET", path="*/restores/*", count=1)
    states = run_dag(dagbag, "baas_restore_retry_lost_wait")
    assert states == {"restore": "success", "__run__": "success"}
    assert creates(restore_sim) == 1 and len(restore_sim.restores()) == 1
    out, err = capfd.readouterr()
    assert "Reattaching to BaaS restore" in out + err + caplog.text
    assert _reattach_variables("baas_restore_retry_lost_wait") == []


def _reattach_variables(dag_id: str) -> list[str]:
    from airflow.models import Variable
    from airflow.utils.session import create_session

    prefix = f"baas_provider.task_state.{dag_id}."
    with create_session() as session:
        return [v.key for v in session.query(Variable).filter(Variable.key.startswith(prefix))]
