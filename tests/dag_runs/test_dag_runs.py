"""DAG-level behaviour with real Airflow (``dag.test()``), deferral included, on 3.3 and 2.11."""

from __future__ import annotations

import pytest

from airflow_provider_baas.hooks import baas as hook_module
from airflow_provider_baas.testing import BaasSimulator
from tests.dag_runs.conftest import run_dag

pytestmark = pytest.mark.dag

EXECUTE = r"/jobs/\d+/execute$"


def _executes(sim: BaasSimulator, job_id: int) -> int:
    return len(sim.requests_matching("POST", rf"/jobs/{job_id}/execute$"))


def test_execute_and_wait_deferrable(dagbag, simulator: BaasSimulator) -> None:
    assert run_dag(dagbag, "baas_execute_deferrable") == {"backup": "success", "__run__": "success"}
    assert _executes(simulator, 34) == 1
    finished = [e for e in simulator.executions(34) if e["status"] == "SUCCESSFUL"]
    assert finished, "the execution the DAG waited for must have finished"


def test_execute_without_waiting_then_deferrable_sensor(dagbag, simulator: BaasSimulator) -> None:
    states = run_dag(dagbag, "baas_execute_then_sensor")
    assert states == {"start": "success", "wait": "success", "__run__": "success"}
    assert _executes(simulator, 34) == 1
    # job_name was resolved at run time through the job listing
    assert simulator.requests_matching("GET", r"/sites/demo-site/jobs$")


def test_sensor_in_poke_mode(dagbag, simulator: BaasSimulator) -> None:
    assert run_dag(dagbag, "baas_poke") == {"wait_latest": "success", "__run__": "success"}
    assert _executes(simulator, 34) == 0


def test_failing_job_fails_the_task_with_the_servers_detail(
    dagbag, simulator: BaasSimulator, capfd, caplog
) -> None:
    assert run_dag(dagbag, "baas_failing_job") == {"payroll_backup": "failed", "__run__": "failed"}
    out, err = capfd.readouterr()
    text = out + err + caplog.text
    assert "does not have DUMP access to HR.PAYROLL" in text
    assert "BaasExecutionFailed" in text


def test_sensor_timeout_with_soft_fail_is_skipped(dagbag, simulator: BaasSimulator) -> None:
    states = run_dag(dagbag, "baas_sensor_soft_fail_timeout")
    assert states["start"] == "success"
    assert states["wait"] == "skipped"


@pytest.mark.parametrize("mode", ["polling", "deferrable"])
def test_retry_after_lost_execute_answer_sends_one_execute(
    dagbag, simulator: BaasSimulator, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(hook_module, "EXECUTE_LOOKUP_INTERVAL", 0.05)
    attempts = hook_module.EXECUTE_LOOKUP_ATTEMPTS
    # The execute starts the backup but its answer is lost; every lookup of the first try fails too,
    # so the first try ends "outcome unknown". The retry must attach, not execute again.
    simulator.add_fault(kind="lost_answer", method="POST", path="*/jobs/46/execute", count=1)
    simulator.add_fault(kind="status", status=503, method="GET", path="*/jobs/46/executions", count=attempts)
    states = run_dag(dagbag, f"baas_retry_lost_answer_{mode}")
    assert states == {"backup": "success", "__run__": "success"}
    assert _executes(simulator, 46) == 1
    assert len(simulator.executions(46)) >= 1
    # Where the line has no task state store the memory was a Variable: gone once the task succeeded.
    assert _reattach_variables(f"baas_retry_lost_answer_{mode}") == []


def test_retry_after_a_lost_wait_reattaches_to_the_execution_it_started(
    dagbag, simulator: BaasSimulator, capfd, caplog
) -> None:
    # The first try starts the backup; its deferred wait then dies on a permanent error (403 on the
    # first poll). The retry must wait for that execution, not start a second one.
    simulator.add_fault(kind="status", status=403, method="GET", path="*/jobs/34", count=1)
    states = run_dag(dagbag, "baas_retry_lost_wait")
    assert states == {"backup": "success", "__run__": "success"}
    assert _executes(simulator, 34) == 1
    out, err = capfd.readouterr()
    assert "Reattaching to execution" in out + err + caplog.text
    assert _reattach_variables("baas_retry_lost_wait") == []


def _reattach_variables(dag_id: str) -> list[str]:
    from airflow.models import Variable
    from airflow.utils.session import create_session

    prefix = f"baas_provider.task_state.{dag_id}."
    with create_session() as session:
        return [v.key for v in session.query(Variable).filter(Variable.key.startswith(prefix))]
