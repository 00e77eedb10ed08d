"""Authorization headers for the BaaS API: a static bearer token, or RS256 JWTs minted from a PAT.

jwt and cryptography are imported only when a PAT connection first mints a token.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from airflow_provider_baas.connection import BaasConnectionConfig
from airflow_provider_baas.connection_form import AUTH_PAT
from airflow_provider_baas.errors import BaasConfigurationError
from airflow_provider_baas.secrets import Sealed, SecretSet

AuthHeaders = Sealed[dict[str, str]]

# Renew a minted JWT when less than this share of its lifetime is left (at least 60 s before exp).
RENEW_SHARE = 0.2
MIN_RENEW_MARGIN = 60.0


class Authenticator:
    """Builds the auth headers of every request; renewable when it mints its own tokens.

    Headers are handed out sealed (``repr`` hides them): the transport reveals them inline in the
    library call, so no frame of ours that may raise holds a credential.

    :param config: the connection's checked settings.
    """

    renewable = False

    def __init__(self, config: BaasConnectionConfig) -> None:
        self._config = config
        self._headers: AuthHeaders | None = None

    def headers(self) -> AuthHeaders:
        """The request's headers with credentials; callers never change them (one per hook)."""
        if self._headers is None:
            bearer = {"Authorization": f"Bearer {self._config.token}"} if self._config.token else {}
            self._headers = Sealed({**self._static_headers(), **bearer}, "auth headers")
        return self._headers

    def _static_headers(self) -> dict[str, str]:
        return {**self._config.headers, **self._config.secret_headers}

    def invalidate(self) -> None:
        """Forget a cached credential (after a 401); a static token cannot be renewed."""

    @property
    def secrets(self) -> SecretSet:
        """The connection's secrets, with every token this authenticator minted."""
        return self._config.secrets


class PatJwtAuthenticator(Authenticator):
    """Mints ``Authorization: Bearer <jwt>`` from a PAT and a private key, and re-mints before expiry.

    :param config: the connection's checked settings (PAT mode).
    :param clock: the epoch-seconds clock that times each JWT's expiry.
    """

    renewable = True

    def __init__(self, config: BaasConnectionConfig, clock: Callable[[], float] = time.time) -> None:
        super().__init__(config)
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def headers(self) -> AuthHeaders:
        """The request's headers with a current JWT; callers never change them (one per hook)."""
        return Sealed({**self._static_headers(), "Authorization": f"Bearer {self.token()}"}, "auth headers")

    def token(self) -> str:
        """The current JWT, minted anew when there is none or it nears expiry."""
        with self._lock:
            now = self._clock()
            lifetime = self._config.token_lifetime
            margin = max(MIN_RENEW_MARGIN, lifetime * RENEW_SHARE)
            if self._token is None or now >= self._expires_at - margin:
                self._token, self._expires_at = self._mint(now)
            return self._token

    def invalidate(self) -> None:
        """Forget the cached JWT (after a 401): the next request mints a new one."""
        with self._lock:
            self._token = None

    def _mint(self, now: float) -> tuple[str, float]:
        """A signed JWT and its expiry. The claims (they hold the PAT) and the key are only ever
        arguments of the signing call, and a failure is raised outside the handler, without the
        library's exception (whose frames hold them) as its context."""
        import jwt

        issued = int(now)
        expires = issued + self._config.token_lifetime
        failure = ""
        try:
            token = jwt.encode(
                self._claims(issued, expires),
                self._config.private_key,
                algorithm="RS256",
                headers={"kid": self._config.key_id, "typ": "JWT"},
            )
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            failure = type(exc).__name__  # the class only: a message might quote the key
        if failure:
            raise BaasConfigurationError(
                f"Cannot sign a JWT with the connection's private key ({failure}): "
                "check that it is an RSA private key in PEM format"
            )
        self._config.secrets.add(token, ephemeral=True)
        return token, float(expires)

    def _claims(self, issued: int, expires: int) -> dict[str, Any]:
        c = self._config
        return {
            "aud": list(c.audience),
            "iat": issued,
            "exp": expires,
            "iss": c.issuer,
            "jti": uuid.uuid4().hex,  # a re-mint after a 401 never resends the rejected token
            c.org_claim_name: c.org_claim_value,
            "multi-use": True,
            "pat": c.pat,
            "sub": c.subject,
        }


def authenticator_for(config: BaasConnectionConfig) -> Authenticator:
    """The authenticator of the connection's auth mode: PAT-signed JWTs, or the static token.

    :param config: the connection's checked settings.
    """
    return PatJwtAuthenticator(config) if config.auth_mode == AUTH_PAT else Authenticator(config)
