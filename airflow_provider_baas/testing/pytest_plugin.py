"""pytest plugin of airflow-provider-baas (entry point ``pytest11: baas``).

Fixtures:

* ``baas_simulator``: a started :class:`~airflow_provider_baas.testing.BaasSimulator` (default
  scenario, token ``DEFAULT_TOKEN``, ``time_scale=FIXTURE_TIME_SCALE``), stopped after the test.
  Change its arguments by overriding the ``baas_simulator_options`` fixture (a dict of
  ``BaasSimulator`` keyword arguments) or per test with ``@pytest.mark.baas_simulator(**kwargs)``
  (the marker wins).
* ``baas_connection``: the same simulator, with ``AIRFLOW_CONN_BAAS_DEFAULT`` pointing at it.
* ``baas_restore_connections``: ``baas_connection`` plus ``AIRFLOW_CONN_TERADATA_DEFAULT`` (type
  ``teradata``) holding the database user the simulator accepts for restores.

Helpers: :func:`use_baas_connection` sets ``AIRFLOW_CONN_<CONN_ID>`` for any simulator;
:func:`use_teradata_connection` sets a ``teradata`` connection with a simulator's database user.
The simulator's own methods script restores: ``set_backup_objects``, ``backup_objects``,
``fail_preparations``, ``set_database_credentials``, ``deny_restores``, ``set_restore_outcome``,
``restores`` and ``restore``.

This module is imported in every pytest session of every project that installs the provider,
so it imports nothing heavy at module level (no aiohttp, requests, jwt, airflow).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_baas.testing.server import BaasSimulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "baas_simulator(**options): BaasSimulator keyword arguments for the baas_simulator fixture",
    )


@pytest.fixture
def baas_simulator_options() -> dict[str, Any]:
    """Override to change the ``baas_simulator`` fixture's ``BaasSimulator`` arguments."""
    return {}


@pytest.fixture
def baas_simulator(
    request: pytest.FixtureRequest, baas_simulator_options: dict[str, Any]
) -> Iterator[BaasSimulator]:
    """A started BaaS simulator (default scenario, fast time scale), stopped after the test."""
    from airflow_provider_baas.testing.constants import DEFAULT_TOKEN, FIXTURE_TIME_SCALE
    from airflow_provider_baas.testing.server import BaasSimulator

    options: dict[str, Any] = {"token": DEFAULT_TOKEN, "time_scale": FIXTURE_TIME_SCALE}
    options.update(baas_simulator_options)
    marker = request.node.get_closest_marker("baas_simulator")
    if marker is not None:
        if marker.args:
            raise TypeError("@pytest.mark.baas_simulator takes keyword arguments only")
        options.update(marker.kwargs)
    with BaasSimulator(**options) as sim:
        yield sim


def use_baas_connection(
    sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch, conn_id: str = "baas_default", **extra: Any
) -> str:
    """Point the Airflow connection ``conn_id`` at ``sim`` (env var via ``monkeypatch``).

    ``extra`` keys go into the connection's extra. Returns ``conn_id``.
    """
    name, value = sim.airflow_conn_env(conn_id, **extra)
    monkeypatch.setenv(name, value)
    return conn_id


def use_teradata_connection(
    sim: BaasSimulator,
    monkeypatch: pytest.MonkeyPatch,
    conn_id: str = "teradata_default",
    *,
    login: str | None = None,
    password: str | None = None,
) -> str:
    """Define the ``teradata`` connection ``conn_id`` with the database user ``sim`` accepts (or
    ``login``/``password``, e.g. wrong ones) through ``monkeypatch``. Returns ``conn_id``."""
    name, value = sim.teradata_conn_env(conn_id, login=login, password=password)
    monkeypatch.setenv(name, value)
    return conn_id


@pytest.fixture
def baas_restore_connections(
    baas_connection: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> BaasSimulator:
    """``baas_connection``, plus ``AIRFLOW_CONN_TERADATA_DEFAULT`` with the simulator's database user."""
    use_teradata_connection(baas_connection, monkeypatch)
    return baas_connection


@pytest.fixture
def baas_connection(baas_simulator: BaasSimulator, monkeypatch: pytest.MonkeyPatch) -> BaasSimulator:
    """The ``baas_simulator`` fixture, with ``AIRFLOW_CONN_BAAS_DEFAULT`` pointing at it."""
    use_baas_connection(baas_simulator, monkeypatch)
    return baas_simulator
