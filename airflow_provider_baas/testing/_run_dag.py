"""Runs one DAG with ``dag.test()`` in the Airflow home of the environment, then prints its result.

Started by :meth:`airflow_provider_baas.testing.airflow_home.AirflowHome.run_dag` in a child
process whose environment names the home, the database and the dags folder. Polls of BaaS
executions wait at most ``--poll-cap`` seconds, so a deferred task does not wait 15 s of real time
per poll. The last stdout line starting with ``BAAS_DAG_RUN_RESULT`` is the result as JSON.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from collections.abc import Callable
from typing import Any

from airflow_provider_baas.testing.airflow_home import _MARKER


def _capped(method: Callable[..., float], cap: float) -> Callable[..., float]:
    @functools.wraps(method)
    def wait(*args: Any, **kwargs: Any) -> float:
        return min(method(*args, **kwargs), cap)

    return wait


def cap_polling(cap: float) -> None:
    """Every wait of the provider's polling policy (operator, sensors, triggers) at most ``cap`` s."""
    from airflow_provider_baas.polling import PollingPolicy

    for name in ("next_wait", "error_wait"):
        setattr(PollingPolicy, name, _capped(getattr(PollingPolicy, name), cap))


def load_dag(dag_id: str) -> Any:
    try:
        from airflow.dag_processing.dagbag import DagBag

        airflow_2 = False
    except ImportError:  # Airflow 2.11
        from airflow.models.dagbag import DagBag

        airflow_2 = True
    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise SystemExit(f"import errors in the dags folder: {bag.import_errors}")
    if dag_id not in bag.dag_ids:
        folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
        raise SystemExit(f"no DAG {dag_id!r} in {folder}: {sorted(bag.dag_ids)}")
    if airflow_2:  # register DAGs and datasets as its DAG processor does
        bag.sync_to_db()
    return bag.get_dag(dag_id)


def _state(value: Any) -> str:
    return str(value).rsplit(".", 1)[-1].lower()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dag_id")
    parser.add_argument("--poll-cap", type=float, required=True)
    parser.add_argument("--conf", default="{}")
    args = parser.parse_args()
    cap_polling(args.poll_cap)
    run = load_dag(args.dag_id).test(run_conf=json.loads(args.conf) or None)
    tasks = {
        ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": _state(ti.state)
        for ti in run.get_task_instances()
    }
    print(_MARKER + json.dumps({"state": _state(run.state), "tasks": tasks}), flush=True)


if __name__ == "__main__":
    main()
