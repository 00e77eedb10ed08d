"""Fixtures for the BaasHook tests: connections via AIRFLOW_CONN_*, and recorded (never real) sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_baas.hooks import baas as baas_module
from airflow_provider_baas.hooks.baas import BaasHook

from ._support import CONN_ID, set_connection


class _ModuleProxy:
    """Stands in for a module inside ``hooks.baas`` only; everything not overridden is the real thing."""

    def __init__(self, real: Any, **overrides: Any) -> None:
        self._real = real
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every ``time.sleep`` the sync driver asks for, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(baas_module, "time", _ModuleProxy(time, sleep=recorded.append))
    return recorded


@pytest.fixture(autouse=True)
def async_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every ``asyncio.sleep`` the async driver asks for, recorded instead of slept."""
    recorded: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float, *args: Any, **kwargs: Any) -> None:
        recorded.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(baas_module, "asyncio", _ModuleProxy(asyncio, sleep=fake_sleep))
    return recorded


@pytest.fixture
def conn_id(monkeypatch: pytest.MonkeyPatch) -> str:
    """The default test connection: token auth, site s1, page size 2."""
    return set_connection(monkeypatch)


@pytest.fixture
def hook(conn_id: str) -> Iterator[BaasHook]:
    h = BaasHook(conn_id)
    yield h
    h.close()


@pytest.fixture
def make_hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``make_hook(extra=..., site_id=..., **connection_fields)``: a hook on a fresh connection."""
    made: list[BaasHook] = []

    def _make(conn_id: str = CONN_ID, *, site_id: str | None = None, **kwargs: Any) -> BaasHook:
        set_connection(monkeypatch, conn_id, **kwargs)
        h = BaasHook(conn_id, site_id=site_id)
        made.append(h)
        return h

    yield _make
    for h in made:
        h.close()
