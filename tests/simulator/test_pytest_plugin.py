"""The ``baas`` pytest plugin (auto-loaded through the pytest11 entry point) and the Airflow connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from airflow_provider_baas.testing import (
    DEFAULT_TOKEN,
    FIXTURE_TIME_SCALE,
    BaasSimulator,
    use_baas_connection,
)

HEAVY = ("aiohttp", "requests", "jwt", "cryptography", "airflow")


def test_fixture_gives_a_started_default_simulator(baas_simulator: BaasSimulator) -> None:
    assert baas_simulator.running
    assert baas_simulator.token == DEFAULT_TOKEN
    assert baas_simulator.time_scale == FIXTURE_TIME_SCALE
    assert baas_simulator.site_id == "demo-site"
    answer = requests.get(
        f"{baas_simulator.base_url}/sites/demo-site/jobs/34",
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
        timeout=5,
    )
    assert answer.json()["name"] == "daily_warehouse_backup"


@pytest.mark.baas_simulator(token="marker-token", time_scale=0, on_concurrent_execute="allow")
def test_marker_sets_simulator_options(baas_simulator: BaasSimulator) -> None:
    assert baas_simulator.token == "marker-token"
    assert baas_simulator.time_scale == 0
    assert baas_simulator.on_concurrent_execute == "allow"


def test_connection_fixture_sets_the_env_var(baas_connection: BaasSimulator) -> None:
    value = json.loads(os.environ["AIRFLOW_CONN_BAAS_DEFAULT"])
    assert value == {
        "conn_type": "baas",
        "host": baas_connection.url,
        "password": DEFAULT_TOKEN,
        "extra": {"site_id": "demo-site"},
    }


def test_helper_with_conn_id_and_extra(
    baas_simulator: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert use_baas_connection(baas_simulator, monkeypatch, "baas_other", timeout=7) == "baas_other"
    value = json.loads(os.environ["AIRFLOW_CONN_BAAS_OTHER"])
    assert value["extra"] == {"site_id": "demo-site", "timeout": 7}
    assert baas_simulator.airflow_conn_env("baas_other", timeout=7) == (
        "AIRFLOW_CONN_BAAS_OTHER",
        json.dumps(value),
    )


def test_airflow_reads_the_connection(baas_connection: BaasSimulator) -> None:
    """Airflow's own secrets lookup (2.11 and 3.x) parses the JSON connection."""
    from airflow.models.connection import Connection

    conn = Connection.get_connection_from_secrets("baas_default")
    assert conn.conn_type == "baas"
    assert conn.host == baas_connection.url  # with the http:// scheme
    assert conn.password == DEFAULT_TOKEN
    assert conn.extra_dejson == {"site_id": "demo-site"}


def test_fixture_stops_the_simulator() -> None:
    sim = BaasSimulator(time_scale=0).start()
    url = sim.url
    sim.stop()
    assert not sim.running
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
    sim.stop()  # idempotent
    assert sim.start() is sim  # and restartable, on the same port
    try:
        assert sim.url == url
        assert requests.get(url + "/x", timeout=2).status_code == 401
    finally:
        sim.stop()


def test_importing_the_plugin_is_cheap() -> None:
    code = (
        "import json, sys\n"
        "import airflow_provider_baas.testing.pytest_plugin\n"
        "import airflow_provider_baas.testing as t\n"
        "t.Scenario.default()\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == []


PLUGIN_USER_TESTS = """
import json
import os
import sys

import pytest

from airflow_provider_baas.testing import DEFAULT_TOKEN, use_baas_connection


def test_no_aiohttp_before_the_fixture_runs():
    # the plugin and the package are loaded, the server module is not
    assert "airflow_provider_baas.testing.pytest_plugin" in sys.modules
    assert "aiohttp" not in sys.modules and "jwt" not in sys.modules


def test_defaults(baas_simulator):
    assert type(baas_simulator).__name__ == "BaasSimulator" and baas_simulator.running
    assert baas_simulator.token == DEFAULT_TOKEN


@pytest.mark.baas_simulator(token="marker-token", time_scale=0)
def test_marker(baas_simulator):
    assert (baas_simulator.token, baas_simulator.time_scale) == ("marker-token", 0)


def test_connection(baas_connection):
    assert json.loads(os.environ["AIRFLOW_CONN_BAAS_DEFAULT"])["host"] == baas_connection.url


def test_helper(baas_simulator, monkeypatch):
    use_baas_connection(baas_simulator, monkeypatch, conn_id="mine")
    assert "AIRFLOW_CONN_MINE" in os.environ


class TestOptionsFixture:
    @pytest.fixture
    def baas_simulator_options(self):
        return {"token": "options-token", "ignore_paging": True}

    def test_options(self, baas_simulator):
        assert baas_simulator.token == "options-token" and baas_simulator.ignore_paging

    @pytest.mark.baas_simulator(token="marker-wins")
    def test_marker_beats_options(self, baas_simulator):
        assert baas_simulator.token == "marker-wins" and baas_simulator.ignore_paging
"""


def test_plugin_in_a_fresh_pytest_session(tmp_path: Path) -> None:
    """A user's project: the plugin comes from the entry point; --strict-markers knows the marker."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(PLUGIN_USER_TESTS))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "--strict-markers",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "7 passed" in result.stdout
