"""Processes for the UI tests: the BaaS simulator and `airflow api-server`, each stopped by its PID.

Every process is started in its own session (so its PID is also its process group id) and is stopped
with SIGTERM to that group, then SIGKILL if it has not exited. An ``atexit`` hook stops whatever a
crashed fixture left running.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "ui"
BIN = Path(sys.executable).parent

CHROMIUM = os.environ.get("BAAS_CHROMIUM", "/usr/bin/chromium")
# What works here: Debian's chromium, headless, without any network of its own.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "ui-test-token-7f3a9c2e51"
WRONG_TOKEN = "ui-wrong-token-0b1d2e3f4a"
KEY_ID = "airflow_ui_key"

TIMINGS: dict[str, float] = {}

_RUNNING: dict[int, ManagedProcess] = {}


class timed:
    """``with timed("name"):`` records the block's wall time in TIMINGS (and the summary)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> timed:
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        TIMINGS[self.name] = round(time.monotonic() - self.start, 2)


class ManagedProcess:
    """One child process with its output in a log file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.cmd, self.log = name, cmd, log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        _RUNNING[self.pid] = self

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the process group led by our PID, then SIGKILL; idempotent."""
        try:
            if self.alive():
                _signal_group(self.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    _signal_group(self.pid, signal.SIGKILL)
                    self.proc.wait(10)
            # Whatever the leader left behind in its group (workers) goes too.
            _signal_group(self.pid, signal.SIGKILL)
        finally:
            self._log_file.close()
            _RUNNING.pop(self.pid, None)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@atexit.register
def _stop_leftovers() -> None:
    for process in list(_RUNNING.values()):
        process.stop(timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], Any], timeout: float, what: str, process: ManagedProcess) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the process's log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            code = process.proc.returncode
            raise RuntimeError(f"{process.name} exited ({code}):\n{process.output()[-4000:]}")
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s:\n{process.output()[-4000:]}")


def http_json(method: str, url: str, body: Any = None, timeout: float = 30.0) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, text.decode(errors="replace")


def airflow_env(home: Path) -> dict[str, str]:
    """An environment for an Airflow 3 of its own: private home, sqlite, no login, Test enabled."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
    )
    (home / "dags").mkdir(parents=True, exist_ok=True)
    return env


_READ_CONNECTION = """
import json, sys
from airflow.models.connection import Connection
from airflow.utils.session import create_session

with create_session() as session:
    conn = session.query(Connection).filter(Connection.conn_id == sys.argv[1]).one()
    print(json.dumps({
        "conn_type": conn.conn_type, "host": conn.host, "port": conn.port, "login": conn.login,
        "schema": conn.schema, "password": conn.password, "extra": conn.extra_dejson,
    }))
"""


def stored_connection(env: dict[str, str], conn_id: str) -> dict[str, Any]:
    """The connection as stored in the metadata DB (decrypted, unredacted), read by Airflow itself."""
    result = subprocess.run(
        [sys.executable, "-c", _READ_CONNECTION, conn_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
