"""The running Airflow line, for tests whose expectations differ by line (the package itself never asks)."""

from __future__ import annotations

from airflow import __version__

AIRFLOW_VERSION = tuple(int(part) for part in __version__.split(".")[:2])
AIRFLOW_V_3 = AIRFLOW_VERSION >= (3, 0)
