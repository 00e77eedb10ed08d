"""Fixtures for the runtime tests: a real simulator over real HTTP, log capture, session cleanup.

Every test here runs on Airflow 3.3 and 2.11 without a metadata DB: operators and sensors are
built directly and driven with a small fake context (see ``_support``); triggers are rebuilt from
``serialize()`` and run on pytest-asyncio's loop.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from airflow_provider_baas.testing import BaasSimulator

from ._support import CONN_EXTRA, ListHandler, runtime_scenario


@pytest.fixture
def sim(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[BaasSimulator]:
    """A started simulator (runtime scenario, time_scale 3600) behind ``baas_default``.

    ``@pytest.mark.sim(**BaasSimulator kwargs)`` changes it; ``conn_extra={...}`` adds connection extras.
    """
    options: dict[str, Any] = {"time_scale": 3600.0, "scenario": runtime_scenario()}
    marker = request.node.get_closest_marker("sim")
    extra = dict(CONN_EXTRA)
    if marker is not None:
        kwargs = dict(marker.kwargs)
        extra.update(kwargs.pop("conn_extra", {}))
        options.update(kwargs)
    with BaasSimulator(**options) as simulator:
        name, value = simulator.airflow_conn_env("baas_default", **extra)
        monkeypatch.setenv(name, value)
        yield simulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sim(**kwargs): BaasSimulator options for the runtime `sim` fixture")


@pytest.fixture
async def close_sessions() -> AsyncIterator[None]:
    """Close the pooled aiohttp sessions of the test's event loop at the end of an async test."""
    yield
    from airflow_provider_baas.hooks.transport import close_shared_sessions

    await close_shared_sessions()


@pytest.fixture
def provider_logs() -> Iterator[ListHandler]:
    """Every record of the provider's module loggers (``airflow_provider_baas.*``), at DEBUG."""
    handler = ListHandler()
    logger = logging.getLogger("airflow_provider_baas")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)
