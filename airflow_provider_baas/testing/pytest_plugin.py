"""pytest plugin of airflow-provider-baas (entry point ``pytest11: baas``).

Fixtures:

* ``baas_simulator``: a started :class:`~airflow_provider_baas.testing.BaasSimulator` (default
  scenario, token ``DEFAULT_TOKEN``, ``time_scale=FIXTURE_TIME_SCALE``), stopped after the test.
  Change its arguments by overriding the ``baas_simulator_options`` fixture (a dict of
  ``BaasSimulator`` keyword arguments) or per test with ``@pytest.mark.baas_simulator(**kwargs)``
  (the marker wins).
* ``baas_connection``: the same simulator, with ``AIRFLOW_CONN_BAAS_DEFAULT`` pointing at it.
* ``baas_airflow_home``: an :class:`~airflow_provider_baas.testing.airflow_home.AirflowHome` of
  its own (a migrated sqlite DB, the dags folder of ``baas_dags_folder``), with ``baas_connection``
  in place: ``baas_airflow_home.run_dag("my_dag")`` runs the DAG with ``dag.test()`` in a child
  process, polls capped at 0.2 s. The DB is migrated once per session and copied for each test.
* ``baas_dags_folder``: the DAG files ``baas_airflow_home`` runs; ``<rootdir>/dags`` unless
  overridden.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_baas.testing.airflow_home import AirflowHome
    from airflow_provider_baas.testing.server import BaasSimulator


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``baas_simulator`` marker.

    :param config: the pytest configuration.
    """
    config.addinivalue_line(
        "markers",
        "baas_simulator(**options): BaasSimulator keyword arguments for the baas_simulator fixture",
    )


@pytest.fixture
def baas_simulator_options() -> dict[str, Any]:
    """Override to change the ``baas_simulator`` fixture's ``BaasSimulator`` arguments.

    :return: ``BaasSimulator`` keyword arguments (empty: the defaults).
    """
    return {}


@pytest.fixture
def baas_simulator(
    request: pytest.FixtureRequest, baas_simulator_options: dict[str, Any]
) -> Iterator[BaasSimulator]:
    """A started BaaS simulator (default scenario, fast time scale), stopped after the test.

    :param request: the requesting test (for its ``baas_simulator`` marker).
    :param baas_simulator_options: ``BaasSimulator`` keyword arguments (the marker's win).
    """
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

    :param sim: a started simulator.
    :param monkeypatch: sets (and at teardown removes) ``AIRFLOW_CONN_<CONN_ID>``.
    :param conn_id: the Airflow connection id.
    :param extra: keys added to the connection's extra, e.g. ``max_attempts=1``.
    :return: ``conn_id``.
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
    ``login``/``password``, e.g. wrong ones) through ``monkeypatch``. Returns ``conn_id``.

    :param sim: the simulator whose database user the connection holds.
    :param monkeypatch: sets ``AIRFLOW_CONN_<CONN_ID>`` for this test only.
    :param conn_id: the connection id.
    :param login: the database user to store instead of the simulator's (None: the simulator's).
    :param password: the password to store instead of the simulator's (None: the simulator's).
    """
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
    """The ``baas_simulator`` fixture, with ``AIRFLOW_CONN_BAAS_DEFAULT`` pointing at it.

    :param baas_simulator: the simulator.
    :param monkeypatch: sets the connection's environment variable for this test only.
    """
    use_baas_connection(baas_simulator, monkeypatch)
    return baas_simulator


@pytest.fixture
def baas_dags_folder(request: pytest.FixtureRequest) -> Path:
    """Override to point ``baas_airflow_home`` at your DAG files.

    :param request: the requesting test (for pytest's rootdir).
    :return: ``<rootdir>/dags``.
    """
    return request.config.rootpath / "dags"


@pytest.fixture(scope="session")
def baas_airflow_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated Airflow metadata DB, made once per session and copied by ``baas_airflow_home``.

    :param tmp_path_factory: pytest's session-wide temporary directories.
    :return: the sqlite file.
    """
    from airflow_provider_baas.testing.airflow_home import AirflowHome

    root = tmp_path_factory.mktemp("baas-airflow-template")
    (root / "dags").mkdir()
    return AirflowHome(root / "home", root / "dags").db_path


@pytest.fixture
def baas_airflow_home(
    baas_connection: BaasSimulator,
    baas_dags_folder: Path,
    baas_airflow_template_db: Path,
    tmp_path: Path,
) -> AirflowHome:
    """A throw-away Airflow home running the DAGs of ``baas_dags_folder`` against the simulator.

    :param baas_connection: the simulator behind ``baas_default`` (other connections pointed at
        it with :func:`use_baas_connection` work too).
    :param baas_dags_folder: the DAG files.
    :param baas_airflow_template_db: the migrated DB this home starts from.
    :param tmp_path: where the home lives.
    """
    from airflow_provider_baas.testing.airflow_home import AirflowHome

    return AirflowHome(tmp_path / "airflow-home", baas_dags_folder, template_db=baas_airflow_template_db)
