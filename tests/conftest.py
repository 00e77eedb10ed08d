"""Test-wide Airflow settings: a private AIRFLOW_HOME and sqlite DB, set before Airflow is imported."""

from __future__ import annotations

import os
import tempfile

_home = tempfile.mkdtemp(prefix="baas-airflow-home-")
os.environ["AIRFLOW_HOME"] = _home
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home}/airflow.db"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(os.path.dirname(__file__), "dags")
os.environ.pop("AIRFLOW_CONN_BAAS_DEFAULT", None)
os.environ["AIRFLOW__METRICS__TIMER_UNIT_CONSISTENCY"] = "True"
