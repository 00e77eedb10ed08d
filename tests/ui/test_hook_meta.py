"""What a real Airflow 3 api-server tells its UI about the ``baas`` connection type (no browser).

``GET /ui/connections/hook_meta`` is the UI's own connection-type metadata (the public ``/api/v2`` has
no such route): the form is rendered from exactly this.
"""

from __future__ import annotations

import pytest

from airflow_provider_baas.connection_form import FORM_FIELDS, UI_FIELD_BEHAVIOUR

from ._support import TOKEN, http_json

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def baas_meta(airflow_server) -> dict:
    status, body = http_json("GET", f"{airflow_server.url}/ui/connections/hook_meta")
    assert status == 200, body
    ours = [m for m in body if m["connection_type"] == "baas"]
    assert len(ours) == 1, [m["connection_type"] for m in body]
    return ours[0]


def test_type_and_hook(baas_meta):
    assert baas_meta["hook_name"] == "Teradata BaaS"
    assert baas_meta["hook_class_name"] == "airflow_provider_baas.hooks.baas.BaasHook"


def test_standard_fields_relabelled_hidden_and_explained(baas_meta):
    std = baas_meta["standard_fields"]
    placeholders = UI_FIELD_BEHAVIOUR["placeholders"]

    assert std["url_schema"]["hidden"] is True
    assert std["login"]["hidden"] is True
    assert std["host"] == {"hidden": False, "title": "Base URL", "placeholder": placeholders["host"]}
    assert std["port"] == {"hidden": False, "title": "Port (optional)", "placeholder": placeholders["port"]}
    assert std["password"] == {"hidden": False, "title": "API token", "placeholder": placeholders["password"]}


def test_extra_fields_labels_help_defaults_enum_and_secrets(baas_meta):
    extra = baas_meta["extra_fields"]

    assert list(extra) == [f.name for f in FORM_FIELDS]
    for f in FORM_FIELDS:
        spec = extra[f.name]
        assert spec["schema"]["title"] == f.label, f.name
        assert spec["description"] == f.description, f.name
        assert spec["value"] == f.default, f"{f.name}: the form would save {spec['value']!r}"
        assert spec["schema"]["type"] == [f.kind, "null"], f.name
        assert (spec["schema"].get("format") == "password") is f.sensitive, f.name
    assert extra["auth_mode"]["schema"]["enum"] == ["token", "pat"]
    assert extra["auth_mode"]["value"] == "token"
    assert extra["verify"]["value"] is True
    assert {n for n, s in extra.items() if s["schema"].get("format") == "password"} == {
        "personal_access_token",
        "private_key",
        "secret_headers",
    }
    assert "***" not in [s["value"] for s in extra.values()]


def test_connection_test_endpoint_runs_our_hook(airflow_server, simulator):
    """What the UI's Test button posts, for a connection that is not stored: our test_connection()."""
    body = {
        "connection_id": "baas_unsaved",
        "conn_type": "baas",
        "host": simulator.url,
        "password": TOKEN,
        "extra": '{"site_id": "demo-site"}',
    }
    status, answer = http_json("POST", f"{airflow_server.url}/api/v2/connections/test", body)

    assert status == 200, answer
    assert answer["status"] is True, answer
    assert answer["message"].startswith(f"Connected to {simulator.url}/data-protection/v2, site demo-site")


def test_why_the_port_field_is_shown(airflow_server, simulator):
    """Airflow 3.3.2's Test button posts ``port: Number(null)`` = 0 for a connection without a port,
    and the API then refuses to test the stored one (apache/airflow#73298). With a port it works."""
    from airflow import __version__

    def create_and_test(conn_id: str, port: int | None) -> tuple[int, dict]:
        conn = {"connection_id": conn_id, "conn_type": "baas", "host": simulator.url, "port": port}
        created = {**conn, "password": TOKEN, "extra": '{"site_id": "demo-site"}'}
        status, answer = http_json("POST", f"{airflow_server.url}/api/v2/connections", created)
        assert status == 201, answer
        # The body the UI's Test button sends: the listing's (redacted) values, port as a number.
        ui_body = {**conn, "password": "***", "extra": answer["extra"], "port": port or 0}
        ui_body.update(description="", login="", schema="")
        return http_json("POST", f"{airflow_server.url}/api/v2/connections/test", ui_body)

    status, answer = create_and_test("baas_port_given", simulator.port)
    assert (status, answer["status"]) == (200, True), answer

    status, answer = create_and_test("baas_no_port", None)
    if __version__ == "3.3.2":
        assert status == 400 and "differs from the stored connection" in answer["detail"], answer
    else:  # fixed upstream: the port could be hidden again (see connection_form.py)
        print(f"Airflow {__version__}: Test without a port answered {status} {answer}")


def test_why_the_pat_is_stored_as_personal_access_token(airflow_server):
    """Airflow 3's API (and so its Edit form) redacts extras by key name only, whatever the form's
    ``format: password`` says: a ``pat`` value comes back in clear text, ``personal_access_token`` not."""
    extra = '{"pat": "clear-pat-value-123", "personal_access_token": "hidden-pat-value-456"}'
    created = {"connection_id": "baas_pat_names", "conn_type": "baas", "host": "h", "extra": extra}
    status, answer = http_json("POST", f"{airflow_server.url}/api/v2/connections", created)
    assert status == 201, answer

    status, answer = http_json("GET", f"{airflow_server.url}/api/v2/connections/baas_pat_names")

    assert status == 200, answer
    assert "clear-pat-value-123" in answer["extra"]
    assert "hidden-pat-value-456" not in answer["extra"]
