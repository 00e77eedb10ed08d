"""The ``baas`` connection's form: one definition for Airflow 2.11's widgets and 3.x's ``conn-fields``.

Imports nothing from Airflow (provider discovery calls it while Airflow itself is initialising)
and nothing heavy: wtforms is imported only when Airflow 2.11 asks for the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONN_TYPE = "baas"
HOOK_NAME = "Teradata BaaS"
DEFAULT_CONN_ID = "baas_default"
API_ROOT = "/data-protection/v2"

AUTH_TOKEN = "token"
AUTH_PAT = "pat"
AUTH_MODES = (AUTH_TOKEN, AUTH_PAT)

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_MAX_RETRY_WAIT = 120.0
DEFAULT_PAGE_SIZE = 100
DEFAULT_TOKEN_LIFETIME = 3600
DEFAULT_AUDIENCE = "td:service:authentication"
DEFAULT_ORG_CLAIM = "org_key"


@dataclass(frozen=True)
class FormField:
    """One extra field of the connection form; both Airflow lines' forms are generated from these."""

    name: str
    label: str
    kind: str  # "string" | "integer" | "number" | "boolean"
    description: str
    default: Any = None
    enum: tuple[str, ...] | None = None
    sensitive: bool = False


# Help texts say what a value is and where it comes from. Teradata documents no console path for the
# Enterprise BaaS API values, so they name the console page only where Teradata's docs do (the
# VantageCloud PAT flow) and otherwise say who has the value.
#
# Two rules of Airflow >= 3 shape these names (tests/provider/test_connection_form.py checks both):
# - The API redacts an extra's value by its *name* (``token``, ``private_key``, ``secret``, ... anywhere
#   in it), not by the form's ``format: password``. A secret must therefore have such a name
#   (``personal_access_token``, not ``pat``), or the edit form shows it in clear text.
# - The same rule replaces a *default* of such a field with ``***`` in the form's metadata, and the
#   form then saves ``***``. So ``token_lifetime`` (and ``private_key_path``) carry no default here;
#   the hook applies it when the value is empty.
FORM_FIELDS: tuple[FormField, ...] = (
    FormField(
        "site_id",
        "Site ID",
        "string",
        "The BaaS site that tasks use unless they pass site_id=. It is listed with your sites in the "
        "Teradata BaaS console (the API cannot list sites); ask your Teradata administrator if you "
        "do not see it.",
    ),
    FormField(
        "auth_mode",
        "Auth mode",
        "string",
        "token: the API token (Password field) is sent as a bearer token. pat: the hook signs "
        "short-lived RS256 JWTs from a Personal Access Token and a private key that you create in the "
        "VantageCloud console; fill the five PAT fields below.",
        default=AUTH_TOKEN,
        enum=AUTH_MODES,
    ),
    FormField(
        "personal_access_token",
        "Personal access token (PAT)",
        "string",
        "Auth mode pat: the PAT shown once when you create it in the VantageCloud console "
        "(Personal Access Tokens). Stored masked. (Older connections may call this extra 'pat'.)",
        sensitive=True,
    ),
    FormField(
        "private_key",
        "Private key (PEM)",
        "string",
        "Auth mode pat: the RS256 private key (-----BEGIN PRIVATE KEY-----...) of the key pair whose "
        "public key you uploaded in the VantageCloud console with the PAT. Paste it whole: this "
        "one-line masked field drops the line breaks and the hook restores them. Or use the file below.",
        sensitive=True,
    ),
    FormField(
        "private_key_path",
        "Private key file",
        "string",
        "Auth mode pat: instead of pasting the key, the path of the PEM file on every worker and "
        "the triggerer (not from the console: where you deployed the key).",
    ),
    FormField(
        "key_id",
        "Key ID (kid)",
        "string",
        "Auth mode pat: the name of the public key as uploaded in the VantageCloud console, without "
        ".pem (sent as the JWT 'kid').",
    ),
    FormField(
        "subject",
        "Subject (database user)",
        "string",
        "Auth mode pat: the database user the PAT was created for, as shown with the PAT in the "
        "VantageCloud console (sent as the JWT 'sub').",
    ),
    FormField(
        "org_claim_name",
        "Organisation claim name",
        "string",
        "Auth mode pat: the JWT claim that names your organisation, org_key or org_id (Teradata's "
        "docs use both; take the one your console's PAT instructions show).",
        default=DEFAULT_ORG_CLAIM,
    ),
    FormField(
        "org_claim_value",
        "Organisation",
        "string",
        "Auth mode pat: your organisation's key or id, from your organisation's details in the "
        "VantageCloud console (or your Teradata administrator).",
    ),
    FormField(
        "token_lifetime",
        "JWT lifetime (seconds)",
        "integer",
        f"Auth mode pat: how long each signed JWT lives (at least 60; empty means "
        f"{DEFAULT_TOKEN_LIFETIME}); the hook renews it before it expires. Not from the console.",
    ),
    FormField(
        "secret_headers",
        "Secret headers (JSON)",
        "string",
        'Credential headers sent with every request, as a JSON object, e.g. {"Ocp-Apim-Subscription-Key": '
        '"<key>"} for an API gateway in front of BaaS (ask whoever runs the gateway; not from the '
        "console). Stored masked and redacted from every message. Headers that are not secret go in "
        "the Extra Fields JSON as 'headers', which Airflow shows in clear.",
        sensitive=True,
    ),
    FormField(
        "console_url",
        "Console URL template",
        "string",
        "The BaaS console page of an execution, for the task's 'BaaS execution' link: copy an "
        "execution's address from the console and put {site_id}, {job_id} and {execution_id} where "
        "those values are (https only). Empty: the task shows no link (the API's own URL answers "
        "401 in a browser).",
    ),
    FormField(
        "verify",
        "Verify TLS",
        "boolean",
        "Check the BaaS server's TLS certificate (default on). Turn off only for a test endpoint. "
        "Not from the console.",
        default=True,
    ),
    FormField(
        "ca_bundle",
        "CA bundle path",
        "string",
        "A PEM file of CA certificates on the workers and triggerer, trusted instead of the system "
        "ones: for a private CA or a TLS-inspecting proxy (ask whoever runs it; not from the console).",
    ),
    FormField(
        "connect_timeout",
        "Connect timeout (seconds)",
        "number",
        f"How long to wait for a TCP/TLS connection (default {DEFAULT_CONNECT_TIMEOUT:g}). Not from "
        "the console.",
        default=DEFAULT_CONNECT_TIMEOUT,
    ),
    FormField(
        "read_timeout",
        "Read timeout (seconds)",
        "number",
        f"How long to wait for each answer (default {DEFAULT_READ_TIMEOUT:g}). Not from the console.",
        default=DEFAULT_READ_TIMEOUT,
    ),
    FormField(
        "max_attempts",
        "Max attempts",
        "integer",
        f"Attempts per call on 429, 5xx, timeouts and connection errors; 1 = no retry (default "
        f"{DEFAULT_MAX_ATTEMPTS}). A backup is never started twice. Not from the console.",
        default=DEFAULT_MAX_ATTEMPTS,
    ),
    FormField(
        "max_retry_wait",
        "Max total retry wait (seconds)",
        "number",
        f"Upper bound of the time one call spends waiting between attempts (default "
        f"{DEFAULT_MAX_RETRY_WAIT:g}). Not from the console.",
        default=DEFAULT_MAX_RETRY_WAIT,
    ),
)

# Standard fields show no help text in Airflow's forms, only a label and a placeholder.
# The port stays visible: Airflow 3.3.2's Test button sends port 0 for an empty port and the API
# then refuses to test the stored connection ("Bad Request", apache/airflow#73298, fixed after
# 3.3.2). With the port filled in, Test works; the hook uses it only when the Base URL has no port.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "login"],
    "relabeling": {"host": "Base URL", "port": "Port (optional)", "password": "API token"},
    "placeholders": {
        "host": "https://<api-path>: your BaaS API address, without /data-protection/v2",
        "port": "443 (Airflow 3.3.2's Test button needs it)",
        "password": "auth mode token: the BaaS API bearer token",
        "extra": '{"headers": {"x-team": "not secret"}, "proxies": {"https": "http://proxy:3128"}}',
    },
}


def conn_fields() -> dict[str, dict[str, Any]]:
    """``conn-fields`` for the provider info (Airflow >= 3.2 renders the form from it)."""
    out: dict[str, dict[str, Any]] = {}
    for f in FORM_FIELDS:
        schema: dict[str, Any] = {"type": [f.kind, "null"]}
        if f.default is not None:
            schema["default"] = f.default
        if f.enum:
            schema["enum"] = list(f.enum)
        if f.sensitive:
            schema["format"] = "password"
        out[f.name] = {"label": f.label, "schema": schema, "description": f.description}
    return out


def ui_field_behaviour_kebab() -> dict[str, Any]:
    """``ui-field-behaviour`` for the provider info (kebab-case keys)."""
    return {k.replace("_", "-"): v for k, v in UI_FIELD_BEHAVIOUR.items()}


def connection_form_widgets() -> dict[str, Any]:
    """wtforms widgets for Airflow 2.11's connection form, from the same definition."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, IntegerField, PasswordField, StringField
    from wtforms.validators import AnyOf, Optional

    widgets: dict[str, Any] = {}
    for f in FORM_FIELDS:
        label, desc = lazy_gettext(f.label), f.description
        if f.sensitive:
            widgets[f.name] = PasswordField(label, widget=BS3PasswordFieldWidget(), description=desc)
        elif f.kind == "boolean":
            widgets[f.name] = BooleanField(label, default=f.default, description=desc)
        elif f.kind == "integer":
            widgets[f.name] = IntegerField(
                label,
                widget=BS3TextFieldWidget(),
                validators=[Optional()],
                default=f.default,
                description=desc,
            )
        else:
            validators = [Optional(), AnyOf(list(f.enum))] if f.enum else []
            widgets[f.name] = StringField(
                label,
                widget=BS3TextFieldWidget(),
                validators=validators,
                default=f.default,
                description=desc,
            )
    return widgets
