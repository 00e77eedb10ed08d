"""The command line: ``python -m airflow_provider_baas.testing`` and the ``baas-simulator`` script."""

from __future__ import annotations

import json
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from airflow_provider_baas.testing import Scenario

from .conftest import small_scenario

MODULE = [sys.executable, "-m", "airflow_provider_baas.testing"]


class SimProcess:
    """The CLI in a subprocess; a thread collects its stdout lines (readline with a timeout)."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*MODULE, "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")  # EOF

    def read_line(self, timeout: float = 20.0) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            self.proc.kill()
            pytest.fail("the simulator printed nothing in time")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> tuple[int, str, str]:
        """Send ``sig``; return (exit code, rest of stdout, stderr)."""
        self.proc.send_signal(sig)
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        return code, "".join(rest), err

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def spawn() -> Iterator:
    procs: list[SimProcess] = []

    def start(*args: str) -> tuple[SimProcess, str, str]:
        proc = SimProcess(*args)
        procs.append(proc)
        first = proc.read_line()
        assert first.startswith("BaaS simulator listening on http://127.0.0.1:"), first
        return proc, first.rsplit(" ", 1)[1].strip(), proc.read_line()

    yield start
    for proc in procs:
        proc.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_request_and_stop(spawn, sig: signal.Signals) -> None:
    fault = json.dumps({"kind": "status", "status": 503, "path": "*/jobs/34", "count": 1})
    proc, url, conn_line = spawn("--token", "cli-token", "--time-scale", "0", "--fault", fault)
    name, _, quoted = conn_line.strip().partition("=")
    assert name == "AIRFLOW_CONN_BAAS_DEFAULT"
    conn = json.loads(shlex.split(quoted)[0])
    assert conn == {
        "conn_type": "baas",
        "host": url,
        "password": "cli-token",
        "extra": {"site_id": "demo-site"},
    }
    td_name, _, td_quoted = proc.read_line().strip().partition("=")
    assert td_name == "AIRFLOW_CONN_TERADATA_DEFAULT"
    assert json.loads(shlex.split(td_quoted)[0])["conn_type"] == "teradata"

    headers = {"Authorization": "Bearer cli-token"}
    jobs = requests.get(f"{url}/data-protection/v2/sites/demo-site/jobs", headers=headers, timeout=5)
    assert jobs.status_code == 200 and len(jobs.json()) == 10
    job = f"{url}/data-protection/v2/sites/demo-site/jobs/34"
    assert requests.get(job, headers=headers, timeout=5).status_code == 503  # --fault
    assert requests.get(job, headers=headers, timeout=5).status_code == 200
    assert requests.get(job, timeout=5).status_code == 401

    code, out, err = proc.stop(sig)
    assert code == 0, err
    assert out.rstrip().endswith("BaaS simulator stopped")
    assert "Traceback" not in err
    with pytest.raises(requests.ConnectionError):
        requests.get(job, timeout=2)


def test_scenario_file_and_options(spawn, tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(small_scenario().to_json())
    proc, url, conn_line = spawn(
        "--scenario", str(path), "--no-auth", "--ignore-paging", "--conn-id", "my_baas", "--log-requests"
    )
    assert conn_line.startswith("AIRFLOW_CONN_MY_BAAS=")
    assert "password" not in conn_line
    answer = requests.get(f"{url}/data-protection/v2/sites/s1/jobs?page-size=2", timeout=5)
    assert answer.status_code == 200 and len(answer.json()) == 8
    code, _, err = proc.stop()
    assert code == 0
    assert "GET /data-protection/v2/sites/s1/jobs -> 200" in err


def test_print_default_scenario() -> None:
    result = subprocess.run(
        [*MODULE, "--print-default-scenario"], capture_output=True, text=True, timeout=60, check=True
    )
    assert Scenario.from_json(json.loads(result.stdout)) == Scenario.default()


def test_console_script() -> None:
    script = Path(sys.executable).parent / "baas-simulator"
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    result = subprocess.run(
        [str(script), "--print-default-scenario"], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout)["sites"][0]["site_id"] == "demo-site"


def test_bad_fault_is_reported() -> None:
    result = subprocess.run([*MODULE, "--fault", "{not json"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--fault" in result.stderr


def test_default_port_is_fixed_and_not_an_airflow_port() -> None:
    from airflow_provider_baas.testing.__main__ import build_parser

    port = build_parser().parse_args([]).port
    # api-server/webserver, worker and triggerer log servers, scheduler health, Flower, StatsD
    assert port != 0 and port not in {8080, 8793, 8794, 8974, 5555, 8125}
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert re.search(rf"on port\s+{port}\b", readme) and "--port 8080" not in readme
