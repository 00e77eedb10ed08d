"""The pre-ETL freshness gate with real Airflow against the simulator, on 3.3 and 2.11."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_baas.testing import BaasSimulator, HistoryEntry, JobSpec, Scenario, SiteSpec
from tests.dag_runs.conftest import run_dag

pytestmark = pytest.mark.dag

HOUR, DAY = 3600.0, 86400.0


def _scenario() -> Scenario:
    return Scenario(
        sites=[
            SiteSpec(
                site_id="demo-site",
                jobs=[
                    JobSpec(201, "fresh_job", duration=60, history=[HistoryEntry(ended_ago=600)]),
                    JobSpec(202, "stale_job", duration=HOUR, history=[HistoryEntry(ended_ago=2 * DAY)]),
                    JobSpec(
                        203,
                        "failed_last_job",
                        duration=60,
                        history=[
                            HistoryEntry(ended_ago=1800),
                            HistoryEntry(status="FAILED", ended_ago=600, status_detail="media server down"),
                        ],
                    ),
                    JobSpec(
                        204, "stale_no_trigger_job", duration=HOUR, history=[HistoryEntry(ended_ago=2 * DAY)]
                    ),
                    JobSpec(
                        205,
                        "queued_job",
                        duration=HOUR,
                        phases=[("QUEUED", 1), ("RUNNING", 1)],
                        history=[HistoryEntry(ended_ago=2 * DAY)],
                    ),
                ],
            )
        ]
    )


@pytest.fixture
def gate_simulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[BaasSimulator]:
    # Real time: ages are measured against the worker's clock, so the simulated one must not race.
    with BaasSimulator(_scenario(), time_scale=1000) as sim:
        name, value = sim.airflow_conn_env(max_attempts=1)
        monkeypatch.setenv(name, value)
        yield sim


def _posts(sim: BaasSimulator, job_id: int) -> int:
    return len(sim.requests_matching("POST", rf"/jobs/{job_id}/execute$"))


def test_fresh_backup_passes_without_a_backup(dagbag, gate_simulator: BaasSimulator) -> None:
    assert run_dag(dagbag, "baas_gate_fresh") == {"gate": "success", "__run__": "success"}
    assert _posts(gate_simulator, 201) == 0


@pytest.mark.parametrize("dag_id", ["baas_gate_stale_deferrable", "baas_gate_stale_poke"])
def test_stale_backup_runs_one_backup_then_passes(dagbag, gate_simulator: BaasSimulator, dag_id: str) -> None:
    assert run_dag(dagbag, dag_id) == {"gate": "success", "__run__": "success"}
    assert _posts(gate_simulator, 202) == 1
    newest = gate_simulator.executions(202)[0]
    assert newest["status"] == "SUCCESSFUL"


def test_last_execution_failed_runs_a_backup(dagbag, gate_simulator: BaasSimulator) -> None:
    assert run_dag(dagbag, "baas_gate_last_failed") == {"gate": "success", "__run__": "success"}
    assert _posts(gate_simulator, 203) == 1


def test_stale_without_trigger_times_out(dagbag, gate_simulator: BaasSimulator) -> None:
    assert run_dag(dagbag, "baas_gate_stale_no_trigger") == {"gate": "failed", "__run__": "failed"}
    assert _posts(gate_simulator, 204) == 0


def test_stale_without_trigger_and_soft_fail_is_skipped(dagbag, gate_simulator: BaasSimulator) -> None:
    assert run_dag(dagbag, "baas_gate_stale_no_trigger_soft")["gate"] == "skipped"
    assert _posts(gate_simulator, 204) == 0


@pytest.mark.parametrize("dag_id", ["baas_gate_join_queued_deferrable", "baas_gate_join_queued_poke"])
def test_stale_gate_joins_a_queued_backup(dagbag, gate_simulator: BaasSimulator, dag_id: str) -> None:
    """A QUEUED execution has no start time yet; the simulator answers a second execute with 409."""
    gate_simulator.time_scale = 0  # it stays QUEUED until the gate has looked at the job
    queued = gate_simulator.start_execution(205)
    assert gate_simulator.execution(queued)["start_time"] is None

    def finish_after_the_gates_look(record: Any) -> None:
        if record.method == "GET" and record.path.endswith("/jobs/205/executions"):
            gate_simulator.on_request = None
            gate_simulator.advance(2 * HOUR)

    gate_simulator.on_request = finish_after_the_gates_look
    assert run_dag(dagbag, dag_id) == {"gate": "success", "__run__": "success"}
    assert _posts(gate_simulator, 205) == 0
    assert gate_simulator.executions(205)[0]["execution_id"] == queued  # newest first: nothing newer
    assert gate_simulator.execution(queued)["status"] == "SUCCESSFUL"
