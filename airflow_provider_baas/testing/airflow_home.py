"""A throw-away Airflow home for testing a user's DAGs against the simulator.

Airflow reads its home, database and dags folder once, when it is first imported, and a test
session has usually imported it long before a fixture runs. So each DAG run happens in a child
process (:mod:`airflow_provider_baas.testing._run_dag`) started with this home's settings: the
test process, its Airflow and its other tests are left as they were.

Standard library only at import time (the pytest plugin imports this module in every session).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Longest wait between two polls of a BaaS execution inside :meth:`AirflowHome.run_dag`. Without
#: it every wait, deferred ones included, lasts at least 15 s of real time (the polling policy's
#: first interval), whatever the simulator's time scale.
FAST_POLL_SECONDS = 0.2
#: Seconds ``airflow db migrate`` may take.
MIGRATE_TIMEOUT = 600.0
#: Seconds one :meth:`AirflowHome.run_dag` may take by default.
RUN_TIMEOUT = 600.0
_DB_FILE = "airflow.db"
_MARKER = "BAAS_DAG_RUN_RESULT "


class AirflowHomeError(RuntimeError):
    """Airflow could not be prepared or could not run the DAG (not a failed DAG run)."""


@dataclass(frozen=True)
class DagRunResult:
    """The outcome of one :meth:`AirflowHome.run_dag`.

    :param state: the DAG run's state: ``success``, ``failed``, ...
    :param task_states: ``{task_id: state}``; a mapped task's instances are ``task_id[map_index]``.
    :param log: everything the run wrote to stdout and stderr (Airflow's task logs included), for
        assertion messages.
    """

    state: str
    task_states: dict[str, str] = field(default_factory=dict)
    log: str = field(default="", repr=False)


class AirflowHome:
    """An Airflow home in a directory of its own: a migrated sqlite DB and a dags folder.

    :param path: the directory (created if missing); it holds ``airflow.db`` and ``airflow.cfg``.
    :param dags_folder: the DAG files to run.
    :param template_db: a migrated ``airflow.db`` to copy instead of migrating again (the pytest
        fixture migrates once per session).
    :param env: extra environment variables of every Airflow command, e.g. ``AIRFLOW_CONN_...``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        dags_folder: str | os.PathLike[str],
        *,
        template_db: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.dags_folder = Path(dags_folder)
        self.extra_env = dict(env or {})
        self.path.mkdir(parents=True, exist_ok=True)
        if template_db is not None:
            shutil.copyfile(template_db, self.db_path)
        else:
            self.migrate()

    @property
    def db_path(self) -> Path:
        """The sqlite metadata database of this home."""
        return self.path / _DB_FILE

    @property
    def env(self) -> dict[str, str]:
        """The environment of Airflow commands in this home: the current one, with this home's
        settings in place of any Airflow settings it had (``AIRFLOW_CONN_*`` are kept)."""
        env = dict(os.environ)
        env.update(
            AIRFLOW_HOME=str(self.path),
            AIRFLOW_CONFIG=str(self.path / "airflow.cfg"),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags_folder),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{self.db_path}",
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__METRICS__TIMER_UNIT_CONSISTENCY="True",
        )
        env.update(self.extra_env)
        return env

    def airflow(self, *args: str, timeout: float = MIGRATE_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run the ``airflow`` command line in this home.

        :param args: its arguments, e.g. ``"dags", "list"``.
        :param timeout: seconds before it is killed.
        :return: the finished process (text stdout and stderr); its exit code is not checked.
        """
        command = [sys.executable, "-m", "airflow", *args]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout)

    def migrate(self) -> None:
        """Create or upgrade this home's database (``airflow db migrate``).

        :raises AirflowHomeError: when the migration fails.
        """
        result = self.airflow("db", "migrate")
        if result.returncode != 0:
            raise AirflowHomeError(f"airflow db migrate failed:\n{result.stderr[-3000:]}")

    def run_dag(
        self, dag_id: str, *, conf: dict[str, Any] | None = None, timeout: float = RUN_TIMEOUT
    ) -> DagRunResult:
        """Run one DAG of the dags folder with ``dag.test()`` (deferral included), polls capped at
        :data:`FAST_POLL_SECONDS`.

        :param dag_id: the DAG to run.
        :param conf: the run's ``dag_run.conf``.
        :param timeout: seconds before the run is killed.
        :return: the run's state and its task states; a failed run is a result, not an error.
        :raises AirflowHomeError: when the DAG cannot be loaded (import errors, unknown ``dag_id``)
            or the runner died.
        """
        command = [sys.executable, "-m", "airflow_provider_baas.testing._run_dag", dag_id]
        command += ["--poll-cap", str(FAST_POLL_SECONDS), "--conf", json.dumps(conf or {})]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout)
        log = result.stdout + result.stderr
        lines = [line for line in result.stdout.splitlines() if line.startswith(_MARKER)]
        if result.returncode != 0 or not lines:
            code = result.returncode
            raise AirflowHomeError(f"running DAG {dag_id!r} failed (exit {code}):\n{log[-5000:]}")
        data = json.loads(lines[-1][len(_MARKER) :])
        return DagRunResult(state=data["state"], task_states=data["tasks"], log=log)
