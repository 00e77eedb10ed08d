"""Fixtures of the reliability suite: simulators over real HTTP behind ``AIRFLOW_CONN_*`` variables.

Everything here runs on Airflow 3.3 and 2.11. Operators and sensors run with a fake task context
(no metadata DB) unless a test says otherwise; triggers are rebuilt from ``serialize()`` and run on
pytest-asyncio's loop, as the triggerer would.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from airflow_provider_baas.hooks import baas as hook_module
from airflow_provider_baas.hooks.auth import PatJwtAuthenticator
from airflow_provider_baas.hooks.transport import RetryPolicy
from airflow_provider_baas.testing import BaasSimulator

from ._support import FAST_EXTRA, Finisher, StaticServer, generate_rsa_key, json_answer, self_signed_cert

# A PAT connection's identity (the private key is generated once per session).
PAT = "pat-RELIABILITY-5b1c0e9a7d3f"
KEY_ID = "airflow-key"
SUBJECT = "dbc_backup_user"
ORG = "org-reliability"


@pytest.fixture
def make_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., BaasSimulator]]:
    """``make_sim(conn_extra=..., conn_id=..., finisher=Finisher(), password=..., **BaasSimulator kwargs)``.

    Starts a simulator (time frozen unless ``time_scale`` is given) and points ``conn_id`` at it.
    """
    started: list[BaasSimulator] = []

    def _make(
        *,
        conn_extra: dict[str, Any] | None = None,
        conn_id: str = "baas_default",
        finisher: Finisher | None = None,
        conn_changes: dict[str, Any] | None = None,
        **options: Any,
    ) -> BaasSimulator:
        options.setdefault("time_scale", 0)
        if finisher is not None:
            options["on_request"] = finisher
        sim = BaasSimulator(**options).start()
        started.append(sim)
        if finisher is not None:
            finisher.sim = sim
        name, value = sim.airflow_conn_env(conn_id, **{**FAST_EXTRA, **(conn_extra or {})})
        if conn_changes:
            conn = json.loads(value)
            conn.update(conn_changes)
            value = json.dumps(conn)
        monkeypatch.setenv(name, value)
        return sim

    yield _make
    for sim in started:
        sim.stop()


@pytest.fixture(scope="session")
def rsa_key() -> tuple[str, str]:
    return generate_rsa_key()


@pytest.fixture
def pat_extra(rsa_key: tuple[str, str]) -> dict[str, Any]:
    """Connection extras of a PAT connection whose JWTs the simulator accepts."""
    return {
        "auth_mode": "pat",
        "pat": PAT,
        "private_key": rsa_key[0],
        "key_id": KEY_ID,
        "subject": SUBJECT,
        "org_claim_value": ORG,
    }


@pytest.fixture
def fast_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lost-execute-answer lookups 0.15 s apart instead of 5 s (same number of attempts)."""
    monkeypatch.setattr(hook_module, "EXECUTE_LOOKUP_INTERVAL", 0.15)


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook's backoff between attempts drawn from [0, 0.05 s] instead of [0, 1 s] (the schedule
    itself is tested in tests/hook); ``Retry-After`` and every other rule are unchanged."""
    monkeypatch.setattr(hook_module, "RetryPolicy", functools.partial(RetryPolicy, base=0.05))


@pytest.fixture
def mints(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every JWT minted by a PAT connection's authenticator, in order."""
    minted: list[str] = []
    real = PatJwtAuthenticator._mint

    def mint(self: PatJwtAuthenticator, now: float) -> tuple[str, float]:
        token, expires = real(self, now)
        minted.append(token)
        return token, expires

    monkeypatch.setattr(PatJwtAuthenticator, "_mint", mint)
    return minted


@pytest.fixture
async def close_sessions() -> AsyncIterator[None]:
    yield
    from airflow_provider_baas.hooks.transport import close_shared_sessions

    await close_shared_sessions()


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated metadata DB in the session's private AIRFLOW_HOME (see tests/conftest.py)."""
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    result = subprocess.run([airflow, "db", "migrate"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: (cert path, key path)."""
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_server(tls: tuple[str, str]) -> Iterator[StaticServer]:
    """HTTPS with the ``tls`` certificate; one job, named "tls", in the listing and by id."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls)

    def answer(method: str, path: str, query: dict[str, str]) -> Any:
        job = {"job_id": 34, "name": "tls"}
        return json_answer([job] if path.endswith("/jobs") else job)

    with StaticServer(answer, ssl_context=context) as server:
        yield server
