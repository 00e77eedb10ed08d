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


FORM_FIELDS: tuple[FormField, ...] = (
    FormField(
        "site_id",
        "Site ID",
        "string",
        "The BaaS site every call targets unless a task overrides it (BaaS console: Sites, the site's ID).",
    ),
    FormField(
        "auth_mode",
        "Auth mode",
        "string",
        "token: the Password field holds a bearer token. pat: a Personal Access Token plus an RS256 "
        "private key; the hook signs short-lived JWTs itself.",
        default=AUTH_TOKEN,
        enum=AUTH_MODES,
    ),
    FormField(
        "pat",
        "Personal Access Token",
        "string",
        "auth_mode=pat: the PAT created in the VantageCloud console (Profile, Personal access tokens).",
        sensitive=True,
    ),
    FormField(
        "private_key",
        "Private key (PEM)",
        "string",
        "auth_mode=pat: the RS256 private key whose public half is registered with the PAT.",
        sensitive=True,
    ),
    FormField(
        "private_key_path",
        "Private key file",
        "string",
        "auth_mode=pat: a path to the PEM file on the workers and triggerer, instead of pasting it.",
    ),
    FormField(
        "key_id",
        "Key ID (kid)",
        "string",
        "auth_mode=pat: the name of the registered public key, without .pem.",
    ),
    FormField(
        "subject",
        "Subject (database user)",
        "string",
        "auth_mode=pat: the database user the PAT belongs to (JWT 'sub' claim).",
    ),
    FormField(
        "org_claim_name",
        "Organisation claim name",
        "string",
        "auth_mode=pat: the JWT claim naming your organisation (org_key or org_id).",
        default=DEFAULT_ORG_CLAIM,
    ),
    FormField(
        "org_claim_value",
        "Organisation",
        "string",
        "auth_mode=pat: your organisation's key or id, as shown in the console.",
    ),
    FormField(
        "token_lifetime",
        "JWT lifetime (seconds)",
        "integer",
        "auth_mode=pat: how long each minted JWT lives; it is renewed before it expires.",
        default=DEFAULT_TOKEN_LIFETIME,
    ),
    FormField(
        "verify",
        "Verify TLS",
        "boolean",
        "Check the server's TLS certificate. Turn off only for a test endpoint.",
        default=True,
    ),
    FormField(
        "ca_bundle",
        "CA bundle path",
        "string",
        "A PEM file of CA certificates to trust instead of the system ones (private CAs).",
    ),
    FormField(
        "connect_timeout",
        "Connect timeout (seconds)",
        "number",
        "How long to wait for a TCP/TLS connection.",
        default=DEFAULT_CONNECT_TIMEOUT,
    ),
    FormField(
        "read_timeout",
        "Read timeout (seconds)",
        "number",
        "How long to wait for an answer.",
        default=DEFAULT_READ_TIMEOUT,
    ),
    FormField(
        "max_attempts",
        "Max attempts",
        "integer",
        "Attempts per call on 429, 5xx, timeouts and connection errors (1 = no retry).",
        default=DEFAULT_MAX_ATTEMPTS,
    ),
    FormField(
        "max_retry_wait",
        "Max total retry wait (seconds)",
        "number",
        "Upper bound of the time spent waiting between attempts of one call.",
        default=DEFAULT_MAX_RETRY_WAIT,
    ),
)

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port", "login"],
    "relabeling": {"host": "Base URL", "password": "API token"},
    "placeholders": {
        "host": "https://<api-path> (the part before /data-protection/v2)",
        "password": "bearer token (auth_mode=token)",
        "extra": '{"headers": {"x-custom": "value"}, "proxies": {"https": "http://proxy:3128"}}',
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
    from wtforms.validators import Optional

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
            widgets[f.name] = StringField(
                label, widget=BS3TextFieldWidget(), default=f.default, description=desc
            )
    return widgets
