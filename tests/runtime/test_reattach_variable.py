"""The reattach Variable's name: one per task instance, within Airflow's 250-character key limit."""

from __future__ import annotations

from airflow_provider_baas.reattach import VARIABLE_KEY_LIMIT, variable_name


def test_a_short_name_reads_as_the_task_instance() -> None:
    name = variable_name("etl", "backup", "manual__2026-01-01", 3)
    assert name == "baas_provider.task_state.etl.backup.manual__2026-01-01.3"


def test_a_name_past_the_key_limit_is_cut_to_it_and_stays_unique() -> None:
    dag_id, run_id = "d" * 200, "scheduled__2026-01-01T00:00:00+00:00"
    names = {variable_name(dag_id, f"task_{i}", run_id, -1) for i in range(50)}
    names |= {variable_name(dag_id, "task_0", run_id, i) for i in range(50)}
    assert len(names) == 100
    assert all(len(name) == VARIABLE_KEY_LIMIT for name in names)
    assert all(name.startswith("baas_provider.task_state." + "d" * 100) for name in names)


def test_the_long_name_is_the_same_on_every_try() -> None:
    args = ("x" * 150, "y" * 150, "manual__1", -1)
    assert variable_name(*args) == variable_name(*args)
