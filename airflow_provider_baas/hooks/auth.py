"""Authorization headers for the BaaS API: a static bearer token, or RS256 JWTs minted from a PAT.

jwt and cryptography are imported only when a PAT connection first mints a token.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from airflow_provider_baas._compat import mask_secret
from airflow_provider_baas.connection import BaasConnectionConfig
from airflow_provider_baas.connection_form import AUTH_PAT
from airflow_provider_baas.errors import BaasConfigurationError

# Renew a minted JWT when less than this share of its lifetime is left (at least 60 s before exp).
RENEW_SHARE = 0.2
MIN_RENEW_MARGIN = 60.0


class Authenticator:
    """Builds the auth headers of every request; renewable when it mints its own tokens."""

    renewable = False

    def __init__(self, config: BaasConnectionConfig) -> None:
        self._config = config
        self._headers: dict[str, str] | None = None
        for secret in config.secrets:
            mask_secret(secret)

    def headers(self) -> dict[str, str]:
        """The request's auth headers; callers copy, never change, them (one dict per hook)."""
        if self._headers is None:
            headers = dict(self._config.headers)
            if self._config.token:
                headers["Authorization"] = f"Bearer {self._config.token}"
            self._headers = headers
        return self._headers

    def invalidate(self) -> None:
        """Forget a cached credential (after a 401); a static token cannot be renewed."""

    @property
    def secrets(self) -> list[str]:
        return list(self._config.secrets)


class PatJwtAuthenticator(Authenticator):
    """Mints ``Authorization: Bearer <jwt>`` from a PAT and a private key, and re-mints before expiry."""

    renewable = True

    def __init__(self, config: BaasConnectionConfig, clock: Callable[[], float] = time.time) -> None:
        super().__init__(config)
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._minted: list[str] = []

    def headers(self) -> dict[str, str]:
        headers = dict(self._config.headers)
        headers["Authorization"] = f"Bearer {self.token()}"
        return headers

    def token(self) -> str:
        with self._lock:
            now = self._clock()
            lifetime = self._config.token_lifetime
            margin = max(MIN_RENEW_MARGIN, lifetime * RENEW_SHARE)
            if self._token is None or now >= self._expires_at - margin:
                self._token, self._expires_at = self._mint(now)
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    @property
    def secrets(self) -> list[str]:
        return [*self._config.secrets, *self._minted]

    def _mint(self, now: float) -> tuple[str, float]:
        import jwt

        c = self._config
        issued = int(now)
        expires = issued + c.token_lifetime
        claims = {
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
        try:
            token = jwt.encode(
                claims, c.private_key, algorithm="RS256", headers={"kid": c.key_id, "typ": "JWT"}
            )
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            # The library's message never contains the key itself; keep only its class to be safe.
            raise BaasConfigurationError(
                f"Cannot sign a JWT with the connection's private key ({type(exc).__name__}): "
                "check that it is an RSA private key in PEM format"
            ) from None
        mask_secret(token)
        self._minted = [*self._minted[-4:], token]
        return token, float(expires)


def authenticator_for(config: BaasConnectionConfig) -> Authenticator:
    return PatJwtAuthenticator(config) if config.auth_mode == AUTH_PAT else Authenticator(config)
