"""Database credentials for restores: a Teradata user, sent as ``x-auth-credentials``.

Creating a restore (and checking whether one is allowed) requires the header
``x-auth-credentials: Basic base64(user:password)`` of a database user. The user and password come
from a separate Airflow connection of the standard ``teradata`` type, so the database password
lives where Airflow keeps every other database password and is masked like them.

A ``DatabaseCredentials`` never shows its values (``repr``/``str``) and refuses every kind of
serialisation (pickle, Airflow's serde, JSON), so it cannot reach XCom or trigger kwargs: a task
that needs it again loads it again by connection id.

Imports nothing heavy.
"""

from __future__ import annotations

import base64
import re
from typing import Any, NoReturn

from airflow_provider_baas._compat import BaseHook, aget_connection
from airflow_provider_baas.errors import BaasConfigurationError
from airflow_provider_baas.secrets import Sealed, SecretSet, credential_problem

#: The Airflow connection type database credentials are read from.
TERADATA_CONN_TYPE = "teradata"
#: The request header that carries them (R3 and R6).
CREDENTIALS_HEADER = "x-auth-credentials"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DatabaseCredentials:
    """A database user and password, sealed: ``repr`` shows neither, and nothing can serialise it.

    :param login: the database user (no ``:``, which Basic credentials cannot carry).
    :param password: its password (at least ``MIN_SECRET_CHARS`` characters: shorter ones cannot be
        kept out of logs reliably).
    :param conn_id: the connection they came from, for messages.
    """

    __slots__ = ("_header", "_secrets", "_values", "conn_id")

    def __init__(self, login: str, password: str, conn_id: str = "?") -> None:
        self.conn_id = conn_id
        where = f"Connection {conn_id!r}"
        if not isinstance(login, str) or not login.strip():
            raise BaasConfigurationError(f"{where}: the database user (Login field) is empty")
        if ":" in login or _CONTROL.search(login):
            raise BaasConfigurationError(
                f"{where}: the database user (Login field) must not contain ':' or control characters"
            )
        if not isinstance(password, str):
            raise BaasConfigurationError(f"{where}: the database password (Password field) is empty")
        if problem := credential_problem(password):
            raise BaasConfigurationError(f"{where}: the database password (Password field) {problem}")
        pair = f"{login}:{password}"
        encoded = base64.b64encode(pair.encode()).decode()
        value = f"Basic {encoded}"
        # Every form: the password, the pair, its base64 and the header value (masked in Airflow too).
        self._values = Sealed((password, pair, encoded, value), "database credentials")
        self._secrets = SecretSet(self._values.reveal())
        self._header = Sealed({CREDENTIALS_HEADER: value}, "database credentials")

    @classmethod
    def from_connection(cls, conn: Any) -> DatabaseCredentials:
        """The login and password of a ``teradata`` connection; a clear error when either is missing.

        :param conn: an Airflow ``Connection``.
        """
        conn_id = getattr(conn, "conn_id", None) or "?"
        conn_type = getattr(conn, "conn_type", None)
        if conn_type and conn_type != TERADATA_CONN_TYPE:
            raise BaasConfigurationError(
                f"Connection {conn_id!r} is of type {conn_type!r}; database credentials for restores "
                f"are read from a {TERADATA_CONN_TYPE!r} connection (Login and Password)"
            )
        # Inline, as arguments: Airflow 3's Connection repr shows the password.
        return cls(getattr(conn, "login", None) or "", getattr(conn, "password", None) or "", conn_id)

    def header(self) -> Sealed[dict[str, str]]:
        """``{"x-auth-credentials": "Basic ..."}``, sealed: reveal it only inside the library call."""
        return self._header

    @property
    def secrets(self) -> SecretSet:
        """Every form of these credentials, for the hook's redaction."""
        return self._secrets

    def secret_values(self) -> tuple[str, ...]:
        """The values to add to another ``SecretSet`` (the hook's): password, pair, base64, header value."""
        return self._values.reveal()

    def __repr__(self) -> str:
        return f"<DatabaseCredentials of connection {self.conn_id!r}: hidden>"

    __str__ = __repr__

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            "DatabaseCredentials cannot be serialised (XCom, trigger kwargs, pickle): pass the "
            "teradata connection id and load them where they are used"
        )

    __reduce__ = __reduce_ex__ = __getstate__ = __copy__ = __deepcopy__ = _refuse  # type: ignore[assignment]
    # Airflow's serde calls serialize() on objects that have it: fail loudly there too.
    serialize = _refuse


def database_credentials(teradata_conn_id: str) -> DatabaseCredentials:
    """Load database credentials from the Airflow connection ``teradata_conn_id`` (type ``teradata``).

    :param teradata_conn_id: the connection id; its Login and Password are the database user's.
    """
    _check_conn_id(teradata_conn_id)
    return DatabaseCredentials.from_connection(BaseHook.get_connection(teradata_conn_id))


async def adatabase_credentials(teradata_conn_id: str) -> DatabaseCredentials:
    """``database_credentials`` without blocking the event loop (triggerer-safe, DB-stored
    connections included: see ``_compat.aget_connection``).

    :param teradata_conn_id: the connection id; its Login and Password are the database user's.
    """
    _check_conn_id(teradata_conn_id)
    return DatabaseCredentials.from_connection(await aget_connection(teradata_conn_id))


def _check_conn_id(conn_id: Any) -> None:
    if not isinstance(conn_id, str) or not conn_id.strip():
        raise BaasConfigurationError(
            f"teradata_conn_id must name an Airflow connection of type {TERADATA_CONN_TYPE!r} holding the "
            f"database user and password for restores, got {conn_id!r}"
        )


__all__ = [
    "CREDENTIALS_HEADER",
    "TERADATA_CONN_TYPE",
    "DatabaseCredentials",
    "adatabase_credentials",
    "database_credentials",
]
