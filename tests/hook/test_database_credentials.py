"""Database credentials for restores: loaded from a ``teradata`` connection (sync and async), masked,
never shown, never serialisable."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import pickle

import pytest

from airflow_provider_baas._compat import AirflowNotFoundException
from airflow_provider_baas.credentials import (
    CREDENTIALS_HEADER,
    DatabaseCredentials,
    adatabase_credentials,
    database_credentials,
)
from airflow_provider_baas.errors import BaasConfigurationError

from ._support import redact

LOGIN = "restore_user"
PASSWORD = "Db-pass-for-restores-1"


def set_teradata(monkeypatch, conn_id="td_test", **fields):
    conn = {"conn_type": "teradata", "host": "td.example.com", "login": LOGIN, "password": PASSWORD, **fields}
    conn = {k: v for k, v in conn.items() if v is not None}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


def header_of(creds: DatabaseCredentials) -> str:
    return creds.header().reveal()[CREDENTIALS_HEADER]


def test_loaded_from_a_teradata_connection(monkeypatch):
    creds = database_credentials(set_teradata(monkeypatch))
    assert header_of(creds) == "Basic " + base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()).decode()
    assert creds.conn_id == "td_test"


def test_loaded_without_blocking_the_loop(monkeypatch):
    creds = asyncio.run(adatabase_credentials(set_teradata(monkeypatch)))
    assert header_of(creds).startswith("Basic ")


def test_loading_masks_every_form_in_airflows_masker(monkeypatch):
    creds = database_credentials(set_teradata(monkeypatch))
    value = header_of(creds)
    encoded = value.removeprefix("Basic ")
    for secret in (PASSWORD, f"{LOGIN}:{PASSWORD}", encoded, value):
        assert secret not in redact(f"leak: {secret}")


def test_never_shown():
    creds = DatabaseCredentials(LOGIN, PASSWORD, "td")
    for text in (repr(creds), str(creds), f"{creds}", repr(creds.header()), repr(creds.secrets)):
        assert PASSWORD not in text and LOGIN not in text


@pytest.mark.parametrize(
    "serialise",
    [pickle.dumps, copy.copy, copy.deepcopy, json.dumps],
    ids=["pickle", "copy", "deepcopy", "json"],
)
def test_never_serialisable(serialise):
    with pytest.raises(TypeError):
        serialise(DatabaseCredentials(LOGIN, PASSWORD))


def test_airflows_serde_refuses_it():
    try:
        from airflow.sdk.serde import serialize
    except ImportError:  # Airflow 2
        from airflow.serialization.serde import serialize
    with pytest.raises(TypeError, match="cannot be serialised"):
        serialize({"credentials": DatabaseCredentials(LOGIN, PASSWORD)})


def test_trigger_kwargs_serialisation_carries_no_secret():
    """BaseSerialization (trigger kwargs) casts unknown objects to str: only the hidden repr."""
    from airflow.serialization.serialized_objects import BaseSerialization

    text = json.dumps(BaseSerialization.serialize({"credentials": DatabaseCredentials(LOGIN, PASSWORD)}))
    assert PASSWORD not in text and "hidden" in text


@pytest.mark.parametrize(
    "fields, problem",
    [
        ({"login": None}, "database user .* is empty"),
        ({"password": None}, "database password .* is empty"),
        ({"password": "Xq7!z"}, "shorter than 8"),
        ({"login": "a:b"}, "must not contain ':'"),
        ({"conn_type": "postgres"}, "of type 'postgres'"),
    ],
)
def test_incomplete_connections_are_refused_without_showing_values(monkeypatch, fields, problem):
    conn_id = set_teradata(monkeypatch, **fields)
    with pytest.raises(BaasConfigurationError, match=problem) as info:
        database_credentials(conn_id)
    text = str(info.value)
    assert "td_test" in text and PASSWORD not in text and "Xq7!z" not in text


@pytest.mark.parametrize("conn_id", [None, "", "  ", 5])
def test_a_missing_conn_id_is_refused(conn_id):
    with pytest.raises(BaasConfigurationError, match="teradata_conn_id must name"):
        database_credentials(conn_id)
    with pytest.raises(BaasConfigurationError, match="teradata_conn_id must name"):
        asyncio.run(adatabase_credentials(conn_id))


def test_an_undefined_connection_is_airflows_not_found():
    with pytest.raises(AirflowNotFoundException):
        database_credentials("no_such_teradata_conn")


def test_the_hook_loads_them_too(monkeypatch, hook):
    conn_id = set_teradata(monkeypatch)
    assert header_of(hook.get_database_credentials(conn_id)) == header_of(
        asyncio.run(hook.aget_database_credentials(conn_id))
    )
