"""Fixtures for the UI tests: a real `airflow api-server` (Airflow 3), the simulator, and Chromium.

These tests are marked ``ui`` and skipped unless ``BAAS_UI_TESTS=1`` (``make test-ui`` sets it and
installs Debian's chromium and Playwright first), so ``make test`` needs neither a browser nor a
server. They need Airflow 3 (Airflow 2.11 has no api-server; its form is checked in
tests/provider/test_connection_form.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ._support import (
    ARTIFACTS,
    BIN,
    CHROMIUM,
    CHROMIUM_FLAGS,
    KEY_ID,
    TIMINGS,
    TOKEN,
    ManagedProcess,
    airflow_env,
    free_port,
    http_json,
    timed,
    wait_for,
)

UI_ENV = "BAAS_UI_TESTS"


def _airflow_major() -> int:
    try:
        from airflow import __version__
    except ImportError:
        return 0
    return int(__version__.split(".")[0])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ui: needs a real airflow api-server (and Chromium); BAAS_UI_TESTS=1")
    if os.environ.get(UI_ENV) == "1" and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        # A terminated run (CI timeout, `kill`) still stops the api-server, simulator and browser:
        # SIGTERM becomes an interrupt, and pytest runs the fixtures' teardown.
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(UI_ENV) != "1":
        reason = f"UI test: run `make test-ui` (or set {UI_ENV}=1)"
    elif _airflow_major() < 3:
        reason = "UI tests drive Airflow 3's api-server; Airflow 2's form is tested in tests/provider"
    else:
        return
    for item in items:
        if item.get_closest_marker("ui"):
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.write_sep("-", "UI test timings (s)")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name:<40} {seconds:6.1f}")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="baas-ui-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class RsaKey:
    private_pem: str
    public_pem_path: Path


@pytest.fixture(scope="session")
def rsa_key(workdir: Path) -> RsaKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = workdir / f"{KEY_ID}.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return RsaKey(private, public)


@dataclass(frozen=True)
class Simulator:
    url: str
    port: int
    site_id: str = "demo-site"


@pytest.fixture(scope="session")
def simulator(workdir: Path, artifacts: Path, rsa_key: RsaKey) -> Iterator[Simulator]:
    """The BaaS simulator in its own process: bearer TOKEN, or RS256 JWTs from rsa_key (kid KEY_ID)."""
    cmd = [
        str(BIN / "python"),
        "-m",
        "airflow_provider_baas.testing",
        "--port",
        "0",
        "--time-scale",
        "0",
        "--token",
        TOKEN,
        "--jwt-public-key",
        str(rsa_key.public_pem_path),
        "--jwt-kid",
        KEY_ID,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    process = ManagedProcess("simulator", cmd, env, artifacts / "simulator.log")
    try:
        with timed("simulator start"):
            line = wait_for(
                lambda: next((x for x in process.output().splitlines() if "listening on" in x), None),
                30,
                "simulator",
                process,
            )
        url = line.rsplit(" ", 1)[-1].strip()
        yield Simulator(url=url, port=int(url.rsplit(":", 1)[-1]))
    finally:
        process.stop()


@dataclass
class AirflowServer:
    url: str
    env: dict[str, str]
    process: ManagedProcess


@pytest.fixture(scope="session")
def airflow_server(workdir: Path, artifacts: Path) -> Iterator[AirflowServer]:
    """`airflow api-server` of Airflow 3 on a free port, own AIRFLOW_HOME and sqlite DB."""
    home = workdir / "airflow-home"
    env = airflow_env(home)
    with timed("airflow db migrate"):
        migrate = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    (artifacts / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
    assert migrate.returncode == 0, migrate.stderr[-3000:]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    process = ManagedProcess("airflow api-server", cmd, env, artifacts / "api-server.log")
    try:
        with timed("api-server start (until healthy)"):
            wait_for(
                lambda: http_json("GET", f"{url}/api/v2/monitor/health", timeout=5)[0] == 200,
                180,
                "airflow api-server",
                process,
            )
        yield AirflowServer(url=url, env=env, process=process)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def browser_context(workdir: Path) -> Iterator[Any]:
    """Headless Debian chromium driven by Playwright (never `playwright install`), fresh profile."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run `make test-ui`")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: run `make test-ui` (apt-get install chromium)")
    profile = workdir / "chromium-profile"
    profile.mkdir()
    playwright = sync_playwright().start()
    context = None
    try:
        with timed("chromium start"):
            context = playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1280, "height": 1400},
            )
        context.set_default_timeout(30_000)
        yield context
    finally:
        if context is not None:
            context.close()
        playwright.stop()
