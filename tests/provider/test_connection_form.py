"""The connection form is one definition, and both Airflow lines build their form from it.

Airflow 2.11 builds it from ``BaasHook.get_connection_form_widgets()`` / ``get_ui_field_behaviour()``;
Airflow >= 3.2 from the provider info's ``conn-fields`` / ``ui-field-behaviour``. Here Airflow's own
``ProvidersManager`` (whichever line is installed) is asked what it will render, and the answer is
compared with ``FORM_FIELDS`` / ``UI_FIELD_BEHAVIOUR``. The browser test (tests/ui) checks the rest.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest

from airflow_provider_baas import get_provider_info
from airflow_provider_baas.connection_form import (
    CONN_TYPE,
    FORM_FIELDS,
    UI_FIELD_BEHAVIOUR,
    conn_fields,
    ui_field_behaviour_kebab,
)
from airflow_provider_baas.hooks.baas import BaasHook
from tests.airflow_version import AIRFLOW_VERSION

PREFIX = f"extra__{CONN_TYPE}__"


def _form_source() -> str:
    """Where the installed Airflow's UI gets the extra fields from: ``conn-fields`` (3.2+), the hook's
    wtforms ``widgets`` (2.x; 3.0 and 3.1 only with flask-appbuilder, i.e. the FAB provider), or
    ``none`` (3.0 and 3.1 without it: Airflow's generic form, settings go in Extra JSON)."""
    if AIRFLOW_VERSION >= (3, 2):
        return "conn-fields"
    try:
        import flask_appbuilder  # noqa: F401
    except ImportError:
        return "none"
    return "widgets"


FORM_SOURCE = _form_source()


def _should_hide(name: str) -> bool:
    """Airflow's rule for redacting an extra's value by its key name (API responses, form defaults)."""
    import importlib

    for home in (
        "airflow._shared.secrets_masker",  # 3.1+
        "airflow.sdk.execution_time.secrets_masker",  # 3.0
        "airflow.utils.log.secrets_masker",  # 2.x
    ):
        try:
            should_hide_value_for_key = importlib.import_module(home).should_hide_value_for_key
            break
        except ImportError:
            continue
    return should_hide_value_for_key(name)


def _providers_manager_view() -> tuple[dict[str, Any], dict[str, Any]]:
    """(extra-field widgets, field behaviour) of the ``baas`` type, as Airflow's form code gets them."""
    from airflow.providers_manager import ProvidersManager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm = ProvidersManager()
        widgets = {k[len(PREFIX) :]: v for k, v in pm.connection_form_widgets.items() if k.startswith(PREFIX)}
        behaviour = pm.field_behaviours[CONN_TYPE]
    return widgets, behaviour


# -- the definition itself ----------------------------------------------------------------------


def test_every_field_has_help_text_saying_what_it_is_and_where_it_comes_from():
    for f in FORM_FIELDS:
        assert len(f.description) > 40, f.name
        assert "console" in f.description, f"{f.name}: say where the value is found (or that it is not)"
    placeholders = UI_FIELD_BEHAVIOUR["placeholders"]
    shown = {"host", "port", "password"} - set(UI_FIELD_BEHAVIOUR["hidden_fields"])
    assert shown <= set(placeholders) and shown <= set(UI_FIELD_BEHAVIOUR["relabeling"])
    assert UI_FIELD_BEHAVIOUR["relabeling"]["host"] == "Base URL"
    assert "/data-protection/v2" in placeholders["host"]


def test_schema_and_login_are_hidden_and_port_is_not():
    # Airflow 3.3.2's Test button fails for a connection without a port (see connection_form.py).
    assert set(UI_FIELD_BEHAVIOUR["hidden_fields"]) == {"schema", "login"}


def test_secret_fields_have_names_airflow_redacts():
    """Airflow 3's API redacts extras by key name only; ``format: password`` alone leaks the value."""
    secrets = [f.name for f in FORM_FIELDS if f.sensitive]
    assert secrets == ["personal_access_token", "private_key", "secret_headers"]
    for name in secrets:
        assert _should_hide(name), name


def test_no_default_on_a_field_whose_name_airflow_redacts():
    """Airflow 3 replaces such a default with '***' in the form, and the form saves '***'."""
    for f in FORM_FIELDS:
        if f.default is not None:
            assert not _should_hide(f.name), f.name


def test_conn_fields_follow_the_definition():
    fields = conn_fields()
    assert list(fields) == [f.name for f in FORM_FIELDS]
    for f in FORM_FIELDS:
        spec = fields[f.name]
        assert spec["label"] == f.label and spec["description"] == f.description
        assert spec["schema"]["type"] == [f.kind, "null"]
        assert spec["schema"].get("default") == f.default
        assert spec["schema"].get("enum") == (list(f.enum) if f.enum else None)
        assert (spec["schema"].get("format") == "password") is f.sensitive
    info = get_provider_info()["connection-types"][0]
    assert info["conn-fields"] == fields
    assert info["ui-field-behaviour"] == ui_field_behaviour_kebab()


# -- what the installed Airflow renders ----------------------------------------------------------


def test_field_behaviour_from_the_hook_and_the_provider_info_is_the_same():
    hook = BaasHook.get_ui_field_behaviour()
    kebab = ui_field_behaviour_kebab()

    assert hook == UI_FIELD_BEHAVIOUR
    assert {k.replace("-", "_"): v for k, v in kebab.items()} == hook
    if FORM_SOURCE != "none":
        _, behaviour = _providers_manager_view()
        assert behaviour == hook


@pytest.mark.skipif(FORM_SOURCE != "widgets", reason="this line builds the form from the hook's widgets")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_airflow2_form_widgets_match_the_definition():
    from wtforms import BooleanField, IntegerField, PasswordField, StringField
    from wtforms.validators import AnyOf, Optional

    widgets, _ = _providers_manager_view()
    from_hook = BaasHook.get_connection_form_widgets()

    assert list(widgets) == list(from_hook) == [f.name for f in FORM_FIELDS]
    for f in FORM_FIELDS:
        info, field = widgets[f.name], widgets[f.name].field
        assert str(field.args[0]) == f.label, f.name
        assert field.kwargs["description"] == f.description, f.name
        assert field.kwargs.get("default") == f.default, f.name
        assert info.is_sensitive is f.sensitive, f.name
        expected = (
            PasswordField
            if f.sensitive
            else {"boolean": BooleanField, "integer": IntegerField}.get(f.kind, StringField)
        )
        assert field.field_class is expected, f.name
        validators = field.kwargs.get("validators", [])
        enums = [v.values for v in validators if isinstance(v, AnyOf)]
        assert enums == ([list(f.enum)] if f.enum else []), f.name
        if f.enum or f.kind == "integer":
            assert isinstance(validators[0], Optional), f"{f.name}: empty must stay allowed"


@pytest.mark.skipif(FORM_SOURCE != "conn-fields", reason="this line builds the form from conn-fields")
def test_airflow3_form_fields_match_the_definition():
    widgets, _ = _providers_manager_view()

    assert list(widgets) == [f.name for f in FORM_FIELDS]
    for f in FORM_FIELDS:
        info = widgets[f.name]
        assert isinstance(info.field, dict), "read from conn-fields, not from the hook's widgets"
        assert info.field["schema"]["title"] == f.label
        assert info.field["description"] == f.description
        assert info.field["value"] == f.default
        assert info.is_sensitive is f.sensitive


@pytest.mark.skipif(FORM_SOURCE != "none", reason="this line draws the provider's form")
def test_without_flask_appbuilder_airflow_3_0_and_3_1_draw_no_provider_form():
    """What the README says of 3.0 and 3.1: no provider's extra fields without flask-appbuilder."""
    from airflow.providers_manager import ProvidersManager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm = ProvidersManager()
        assert not [k for k in pm.connection_form_widgets if k.startswith(PREFIX)]
        assert CONN_TYPE not in pm.field_behaviours
        assert CONN_TYPE in pm.hooks  # the connection type itself is known


def test_readme_explains_every_form_field():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("\n## The connection\n", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| ")}
    for label in UI_FIELD_BEHAVIOUR["relabeling"].values():
        assert label in rows, label
    for f in FORM_FIELDS:
        assert f.label in rows, f.label
        assert f"`{f.name}`" in rows[f.label], f.name


def test_readme_airflow_lines_table_says_where_this_line_draws_the_form():
    """The README's compatibility table, row of the installed line, against what this line does."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = {}
    for line in readme.splitlines():
        match = re.match(r"\| (\d+\.\d+) \(\d+\.\d+\.\d+\) \|", line)
        if match:
            rows[tuple(int(p) for p in match.group(1).split("."))] = line.split("|")[4]
    assert set(rows) == {(3, 3), (3, 2), (3, 1), (3, 0), (2, 11)}
    from_conn_fields = {line for line, form in rows.items() if "`conn-fields`" in form}
    assert (AIRFLOW_VERSION[:2] in from_conn_fields) is (FORM_SOURCE == "conn-fields")
    # The same rule for every line, as _form_source applies it.
    assert from_conn_fields == {line for line in rows if line >= (3, 2)}
