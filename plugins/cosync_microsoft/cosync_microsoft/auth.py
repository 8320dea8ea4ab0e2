"""Bearer tokens for the Referrals API: a plain configured token, or MSAL's app + user flow.

The Referrals API needs app + user (delegated) authentication:
https://learn.microsoft.com/en-us/partner-center/developer/partner-center-authentication
MSAL's ``acquire_token_by_refresh_token`` redeems the configured refresh token; without one the
client-credentials flow is used (enough for the sandbox). MSAL is synchronous, so every call into it runs
in a thread (``asyncio.to_thread``), one at a time, and the token is cached until shortly before it expires.
Tokens and secrets are never logged: errors carry MSAL's ``error`` code and description only.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from cosync_worker.errors import PermanentError, Retry

from .config import LOOPBACK_HOSTS, MicrosoftConfig

if TYPE_CHECKING:
    import msal
    import requests

# MSAL and requests are imported when an MSAL provider is made: every cosync process loads this plugin, most
# of them with no Microsoft connector configured, or with a static token (~40 ms each).

__all__ = ["MsalTokenProvider", "StaticTokenProvider", "TokenProvider", "build_token_provider"]


class TokenProvider(Protocol):
    """A :class:`~cosync_worker.remote_client.BearerTokens` that can also be told to forget its token."""

    @property
    def refreshable(self) -> bool: ...

    async def token(self, refused: str | None = None) -> str:
        """A bearer token that is valid now; ``refused`` is one the API just answered 401 to."""
        ...

    def invalidate(self) -> None:
        """Forget the cached token (the API said 401)."""
        ...


class StaticTokenProvider:
    """A token configured by hand; it cannot be refreshed, so a 401 is a permanent error."""

    refreshable = False

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("connectors.microsoft.access_token is empty")
        self._token = token

    async def token(self, refused: str | None = None) -> str:
        return self._token

    def invalidate(self) -> None:
        """Nothing to refresh; the client turns the next 401 into a permanent error."""

    def __repr__(self) -> str:
        return "StaticTokenProvider(<secret>)"


def _loopback_session() -> requests.Session:
    """MSAL refuses non-https authorities; the sandbox speaks http on loopback. This session sends MSAL's
    ``https://127.0.0.1`` requests as http and says ``X-Forwarded-Proto: https`` (as a TLS proxy would)."""
    import requests

    class _LoopbackSession(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            text = url.decode() if isinstance(url, bytes) else url
            host = urlsplit(text).hostname or ""
            if text.startswith("https://") and host in LOOPBACK_HOSTS:
                text = "http://" + text[len("https://") :]
                kwargs["headers"] = {**(kwargs.get("headers") or {}), "X-Forwarded-Proto": "https"}
            method = method if isinstance(method, str) else method.decode()
            return super().request(method, text, *args, **kwargs)

    return _LoopbackSession()


class MsalTokenProvider:
    """Tokens from Azure AD through MSAL, cached until ``expires_in`` (minus a margin) runs out."""

    refreshable = True

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        authority: str,
        scope: str,
        refresh_token: str | None = None,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._client_id = client_id
        self._secret = client_secret
        self._refresh = refresh_token
        self._scopes = [scope]
        self._timeout = timeout_seconds
        self._http: requests.Session | None = None
        parts = urlsplit(authority)
        if parts.scheme == "http":
            # Only loopback may be http (config validation); MSAL still has to see https.
            authority = "https://" + authority[len("http://") :]
            self._http = _loopback_session()
        self._authority = authority
        self._app: msal.ConfidentialClientApplication | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"MsalTokenProvider(client_id={self._client_id!r}, authority={self._authority!r})"

    async def token(self, refused: str | None = None) -> str:
        if refused is not None and refused == self._token:
            # Revoked or expired early; a caller that saw an older token refused must not drop a fresh one.
            self.invalidate()
        if self._token is not None and time.monotonic() < self._expires_at:
            return self._token
        async with self._lock:
            # Another caller may have refreshed while this one waited for the lock.
            if self._token is not None and time.monotonic() < self._expires_at:
                return self._token
            result = await asyncio.to_thread(self._acquire)
            self._accept(result)
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        self._token = None
        self._expires_at = 0.0

    def _acquire(self) -> dict[str, Any]:
        """Runs in a worker thread: MSAL does blocking HTTP."""
        import msal
        import requests

        try:
            if self._app is None:
                kwargs: dict[str, Any] = {"timeout": self._timeout}
                if self._http is not None:
                    kwargs["http_client"] = self._http
                self._app = msal.ConfidentialClientApplication(
                    self._client_id,
                    client_credential=self._secret,
                    authority=self._authority,
                    instance_discovery=False,
                    **kwargs,
                )
            if self._refresh:
                return dict(self._app.acquire_token_by_refresh_token(self._refresh, scopes=self._scopes))
            return dict(self._app.acquire_token_for_client(scopes=self._scopes))
        except (requests.RequestException, ValueError) as exc:
            # ValueError: MSAL could not read the authority's discovery document.
            return {"error": "unreachable", "error_description": f"{type(exc).__name__}: {exc}"[:300]}

    def _accept(self, result: dict[str, Any]) -> None:
        access = result.get("access_token")
        if not access:
            self._app = None if result.get("error") == "unreachable" else self._app
            code = str(result.get("error", "unknown_error"))
            description = (str(result.get("error_description", "")).splitlines() or [""])[0][:300]
            reason = f"Azure AD refused the token request: {code}: {description}"
            if code in ("unreachable", "temporarily_unavailable", "server_error"):
                raise Retry(reason)
            raise PermanentError(reason)
        self._token = str(access)
        if result.get("refresh_token"):
            # Azure AD rotates refresh tokens; the newest one keeps working longest.
            self._refresh = str(result["refresh_token"])
        lifetime = float(result.get("expires_in") or 300)
        self._expires_at = time.monotonic() + lifetime - min(60.0, lifetime / 10)
        self.refreshes += 1


def build_token_provider(config: MicrosoftConfig) -> TokenProvider:
    """The provider ``config`` asks for; secrets must already be resolved."""
    if config.access_token is not None:
        return StaticTokenProvider(config.access_token.get())
    if config.client_id is None or config.client_secret is None:
        raise ValueError("connectors.microsoft: set access_token, or client_id + client_secret + tenant_id")
    return MsalTokenProvider(
        client_id=config.client_id,
        client_secret=config.client_secret.get(),
        authority=config.authority_url,
        scope=config.scope,
        refresh_token=config.refresh_token.get() if config.refresh_token is not None else None,
        timeout_seconds=config.request_timeout_seconds,
    )
