"""``CloudCrmPartnersClient``: the one door to the Cloud CRM Partners API v1.

Methods (https://developers.google.com/cloud-crm-partners/reference/rest):
* ``partners.leads.create``  https://developers.google.com/cloud-crm-partners/reference/rest/v1/partners.leads/create
* ``partners.leads.get``     https://developers.google.com/cloud-crm-partners/reference/rest/v1/partners.leads/get
* ``partners.opportunities.get``
  https://developers.google.com/cloud-crm-partners/reference/rest/v1/partners.opportunities/get
* ``partners.opportunities.patch``
  https://developers.google.com/cloud-crm-partners/reference/rest/v1/partners.opportunities/patch

Auth: a service-account key through google-auth with the ``cloudcrmpartners`` scope. google-auth's refresh is
blocking (``requests``), so it runs in a thread; one lock makes concurrent callers share a single refresh.
The access token is held only by google-auth's credentials and the ``Authorization`` header: never logged,
never part of an error message.

Failures: 429/5xx/connection errors back off (honouring ``Retry-After``) and finally raise
:class:`~cosync_worker.errors.Retry`; any other 4xx raises :class:`GoogleApiError` (a ``PermanentError``)
with Google's own message (``google.rpc.Status``: https://cloud.google.com/apis/design/errors#http_mapping).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import aiohttp
from google.auth.exceptions import RefreshError, TransportError
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from cosync_worker.errors import PermanentError, Retry
from cosync_worker.logs import get_logger
from cosync_worker.retry_after import retry_after_seconds
from cosync_worker.worker.backoff import backoff_delay

__all__ = ["SCOPE", "CloudCrmPartnersClient", "GoogleApiError", "GoogleNotFound"]

SCOPE = "https://www.googleapis.com/auth/cloudcrmpartners"
_RETRYABLE = frozenset({429, 500, 502, 503, 504})
_MAX_WAIT = 60.0

log = get_logger("cosync.gcp")


class GoogleApiError(PermanentError):
    """A 4xx other than 429: retrying the same request cannot succeed. Keeps Google's message."""

    def __init__(self, operation: str, status: int, message: str, google_status: str = "") -> None:
        super().__init__(f"{operation}: HTTP {status} {google_status}: {message}".replace("  ", " "))
        self.operation = operation
        self.status = status
        self.message = message
        self.google_status = google_status


class GoogleNotFound(GoogleApiError):
    """404: the resource does not exist (or is not visible to this partner)."""


def _google_message(status: int, body: bytes) -> tuple[str, str]:
    """``(message, status name)`` from a ``google.rpc.Status`` body, or the raw text if it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body.decode("utf-8", "replace")[:500] or f"HTTP {status}", ""
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or "")
        for detail in error.get("details") or []:
            for violation in detail.get("fieldViolations") or [] if isinstance(detail, dict) else []:
                field = violation.get("field")
                if field and field not in message:
                    message = f"{message} [{field}: {violation.get('description', '')}]"
        return message or f"HTTP {status}", str(error.get("status") or "")
    if isinstance(error, str):  # OAuth-style {"error": "...", "error_description": "..."}
        return str(data.get("error_description") or error), error
    return body.decode("utf-8", "replace")[:500], ""


class CloudCrmPartnersClient:
    """``async with CloudCrmPartnersClient(base_url, partner_id, key_info) as gcp: await gcp.get_lead(...)``.

    ``key_info`` is the parsed service-account JSON key; ``token_url`` overrides its ``token_uri``
    (the sandbox serves its own token endpoint).
    """

    def __init__(
        self,
        base_url: str,
        partner_id: str,
        key_info: dict[str, Any],
        *,
        token_url: str | None = None,
        timeout_seconds: float = 30.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"Cloud CRM Partners base URL must be http(s), got {base_url!r}")
        if not partner_id:
            raise ValueError("partner_id must not be empty")
        info = dict(key_info)
        if token_url:
            info["token_uri"] = token_url
        try:
            self.credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
        except (ValueError, KeyError) as exc:
            # google-auth names the missing key field; the key material itself never reaches the message.
            raise ValueError(f"the service-account key is not usable: {type(exc).__name__}: {exc}") from None
        self.base_url = base_url.rstrip("/")
        self.partner_id = partner_id
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.refreshes = 0
        self._lock = asyncio.Lock()
        self._session = session
        self._owns_session = session is None

    def __repr__(self) -> str:
        return f"CloudCrmPartnersClient(base_url={self.base_url!r}, partner_id={self.partner_id!r})"

    # -- lifecycle ----------------------------------------------------------------------------------
    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._owns_session = True

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> CloudCrmPartnersClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- resource names -----------------------------------------------------------------------------
    @property
    def parent(self) -> str:
        return f"partners/{self.partner_id}"

    def resource_name(self, collection: str, name_or_id: str) -> str:
        """``partners/{p}/{collection}/{id}`` from either form; refuses another partner's names."""
        text = str(name_or_id).strip()
        if not text:
            raise ValueError(f"{collection} name must not be empty")
        prefix = f"{self.parent}/{collection}/"
        if text.startswith("partners/"):
            if not text.startswith(prefix) or "/" in text[len(prefix) :] or len(text) == len(prefix):
                raise ValueError(f"{text!r} is not a {collection} name of {self.parent}")
            return text
        if "/" in text:
            raise ValueError(f"{text!r} is not a {collection} id")
        return prefix + text

    # -- the four public methods --------------------------------------------------------------------
    async def create_lead(self, lead: dict[str, Any]) -> dict[str, Any]:
        return await self._call("leads.create", "POST", f"{self.parent}/leads", body=lead)

    async def get_lead(self, name: str) -> dict[str, Any]:
        return await self._call("leads.get", "GET", self.resource_name("leads", name))

    async def get_opportunity(self, name: str) -> dict[str, Any]:
        return await self._call("opportunities.get", "GET", self.resource_name("opportunities", name))

    async def patch_opportunity(
        self, name: str, body: dict[str, Any], update_mask: list[str]
    ) -> dict[str, Any]:
        """Only the fields named in ``update_mask`` change (an empty mask is refused before any call)."""
        if not update_mask:
            raise ValueError("update_mask must name at least one field")
        path = self.resource_name("opportunities", name)
        return await self._call(
            "opportunities.patch", "PATCH", path, body=body, params={"updateMask": ",".join(update_mask)}
        )

    # -- auth ---------------------------------------------------------------------------------------
    async def _access_token(self, stale: str | None = None) -> str:
        """A valid token; refreshes at most once for all concurrent callers.

        ``stale`` is a token the API just refused: refresh unless another caller already replaced it.
        """
        async with self._lock:
            token = self.credentials.token
            if token is None or not self.credentials.valid or (stale is not None and token == stale):
                try:
                    await asyncio.to_thread(self.credentials.refresh, Request())
                except RefreshError as exc:
                    raise PermanentError(f"Google token refresh refused: {_refresh_reason(exc)}") from None
                except TransportError as exc:
                    raise Retry(f"Google token endpoint unreachable: {type(exc).__name__}") from None
                self.refreshes += 1
                log.info("gcp_token_refreshed", refreshes=self.refreshes)
            return str(self.credentials.token)

    # -- transport ----------------------------------------------------------------------------------
    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        if self._session is None:
            raise RuntimeError("CloudCrmPartnersClient is not open (use 'async with' or open())")
        url = f"{self.base_url}/v1/{quote(path, safe='/')}"
        attempt = 0
        refused_token: str | None = None
        while True:
            token = await self._access_token(refused_token)
            headers = {"Authorization": f"Bearer {token}"}
            wait: float | None = None
            try:
                async with self._session.request(
                    method, url, json=body, params=params, headers=headers, timeout=self.timeout
                ) as resp:
                    status, raw, resp_headers = resp.status, await resp.read(), resp.headers
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, raw, resp_headers = 0, type(exc).__name__.encode(), None
            if 200 <= status < 300:
                log.debug("gcp_call", operation=operation, status=status)
                data = json.loads(raw) if raw else {}
                if not isinstance(data, dict):
                    raise PermanentError(f"{operation}: Google returned a non-object JSON body")
                return data
            if status == 401 and refused_token is None:
                # Revoked or expired early: refresh once (shared) and repeat the call.
                refused_token = token
                continue
            message, google_status = _google_message(status, raw) if status else (raw.decode(), "")
            if status in _RETRYABLE or status == 0:
                if resp_headers is not None:
                    wait = retry_after_seconds(resp_headers)
                attempt += 1
                log.warning("gcp_call_retryable", operation=operation, status=status, attempt=attempt)
                if attempt > self.max_retries:
                    raise Retry(f"{operation}: HTTP {status or 'connection error'} {message}", defer=wait)
                delay = wait if wait is not None else backoff_delay(attempt, self.backoff_base, _MAX_WAIT)
                await asyncio.sleep(min(delay, _MAX_WAIT))
                continue
            log.warning("gcp_call_failed", operation=operation, status=status, google_status=google_status)
            error_type = GoogleNotFound if status == 404 else GoogleApiError
            raise error_type(operation, status, message, google_status)


def _refresh_reason(exc: RefreshError) -> str:
    """RefreshError's args are ``(message, response_body)``; keep the message, which names no secret."""
    return str(exc.args[0]) if exc.args else type(exc).__name__
