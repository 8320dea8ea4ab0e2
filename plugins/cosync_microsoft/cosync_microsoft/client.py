"""The one Partner Center Referrals API client of the process (aiohttp).

Modelled on Microsoft's reference pages:

* create https://learn.microsoft.com/en-us/partner-center/developer/create-a-referral
* get https://learn.microsoft.com/en-us/partner-center/developer/get-a-referral-by-id
* list (``$filter``/``$orderby``/``$top``, continuation token)
  https://learn.microsoft.com/en-us/partner-center/developer/get-a-list-of-referrals
* update (PATCH with ``If-Match``) https://learn.microsoft.com/en-us/partner-center/developer/patch-a-referral
* error body ``{"code", "message"}`` https://learn.microsoft.com/en-us/partner-center/developer/error-codes

Failure policy: 429 honours ``Retry-After`` (sleeps when short, else ``Retry(defer=...)``); 5xx and network
errors back off and then raise ``Retry``; 401 refreshes the token once; any other 4xx is a
:class:`MicrosoftApiError` (a ``PermanentError``) that keeps Microsoft's message.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp

from cosync_worker.errors import PermanentError, Retry
from cosync_worker.logs import get_logger

from .auth import StaticTokenProvider, TokenProvider

__all__ = ["API_PATH", "MicrosoftApiError", "PreconditionFailed", "ReferralNotFound", "ReferralsClient"]

API_PATH = "/v1.0/engagements/referrals"
log = get_logger("cosync.microsoft.client")


class MicrosoftApiError(PermanentError):
    """A 4xx from the Referrals API; ``reason`` keeps Microsoft's code and message."""

    def __init__(self, status: int, code: str, message: str, *, target: str | None = None) -> None:
        where = f" (field {target})" if target else ""
        super().__init__(f"Microsoft Partner Center {status} {code}: {message}{where}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target


class PreconditionFailed(MicrosoftApiError):
    """412: the referral changed since its eTag was read; GET it again and reapply the change."""


class ReferralNotFound(MicrosoftApiError):
    """404: no such referral."""


def _etag(value: str | None) -> str | None:
    return value.strip() if value else None


class ReferralsClient:
    """``async with ReferralsClient(base_url, tokens) as client``; one per process."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        timeout_seconds: float = 30.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        max_inline_wait: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._max_retries = max_retries
        self._backoff = backoff_base
        self._max_inline_wait = max_inline_wait
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ReferralsClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- operations -----------------------------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /referrals``; returns the created referral (with ``id`` and ``eTag``)."""
        referral, _, _ = await self._request("POST", API_PATH, json=body)
        return dict(referral)

    async def get(self, referral_id: str) -> dict[str, Any]:
        referral, headers, _ = await self._request("GET", self._one(referral_id))
        referral = dict(referral)
        referral["eTag"] = _etag(headers.get("ETag")) or referral.get("eTag")
        return referral

    async def update(
        self, referral_id: str, etag: str, operations: list[dict[str, Any]]
    ) -> tuple[dict[str, Any] | None, str | None]:
        """``PATCH`` with a JSON Patch array under ``If-Match: etag``; returns (referral or None, new eTag).

        Raises :class:`PreconditionFailed` when the eTag is stale."""
        body, headers, status = await self._request(
            "PATCH",
            self._one(referral_id),
            json=operations,
            headers={"If-Match": etag, "Prefer": "return=representation"},
        )
        new_etag = _etag(headers.get("ETag"))
        if status == 200 and isinstance(body, dict) and body:
            return dict(body), new_etag or body.get("eTag")
        return None, new_etag

    async def find_by_external_reference(self, external_id: str) -> dict[str, Any] | None:
        """The referral whose ``externalReferenceId`` is ``external_id`` (the HubSpot deal id), if any."""
        literal = external_id.replace("'", "''")
        async for referral in self.list_referrals(f"externalReferenceId eq '{literal}'", top=2):
            return referral
        return None

    async def list_referrals(
        self, filter_: str | None = None, *, top: int = 100, orderby: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every referral matching ``filter_``, page by page (the service's continuation token)."""
        async for page in self.pages(filter_, top=top, orderby=orderby):
            for referral in page:
                yield referral

    async def pages(
        self, filter_: str | None = None, *, top: int = 100, orderby: str | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        params: dict[str, str] = {"$top": str(top)}
        if filter_:
            params["$filter"] = filter_
        if orderby:
            params["$orderby"] = orderby
        token: str | None = None
        while True:
            # The same $filter/$orderby/$top must accompany the token; the token travels as a header.
            headers = {"continuationToken": token} if token else None
            body, _, _ = await self._request("GET", API_PATH, params=params, headers=headers)
            values = body.get("value") if isinstance(body, dict) else None
            if not isinstance(values, list):
                raise MicrosoftApiError(200, "UnexpectedResponse", "the list response has no 'value' array")
            yield [v for v in values if isinstance(v, dict)]
            token = body.get("continuationToken") if isinstance(body, dict) else None
            if not token or not values:
                return

    # -- transport ------------------------------------------------------------------------------
    @staticmethod
    def _one(referral_id: str) -> str:
        if not referral_id or not referral_id.strip():
            raise ValueError("referral id is empty")
        return f"{API_PATH}/{quote(referral_id, safe='')}"

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[Any, dict[str, str], int]:
        if self._session is None:
            raise RuntimeError("ReferralsClient is not open")
        url = self.base_url + path
        refreshed = False
        attempt = 0
        while True:
            token = await self.tokens.token()
            all_headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                **(headers or {}),
            }
            try:
                async with self._session.request(
                    method, url, json=json, params=params, headers=all_headers
                ) as resp:
                    status = resp.status
                    resp_headers = {k: v for k, v in resp.headers.items()}
                    raw = await resp.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = f"Microsoft Partner Center unreachable: {type(exc).__name__}"
                if attempt >= self._max_retries:
                    raise Retry(reason) from None
                await self._sleep_backoff(attempt)
                attempt += 1
                continue
            body = _decode(raw)
            if status < 300:
                return body, resp_headers, status
            if status == 401 and not refreshed and not isinstance(self.tokens, StaticTokenProvider):
                # The token expired early or was revoked: get a fresh one once.
                self.tokens.invalidate()
                refreshed = True
                continue
            if status == 429:
                wait = _retry_after(resp_headers.get("Retry-After"))
                if wait > self._max_inline_wait or attempt >= self._max_retries:
                    raise Retry("Microsoft Partner Center throttled the request (429)", defer=wait)
                log.info("microsoft_throttled", wait_seconds=wait)
                await asyncio.sleep(wait)
                attempt += 1
                continue
            if status >= 500:
                if attempt >= self._max_retries:
                    raise Retry(f"Microsoft Partner Center answered {status}")
                await self._sleep_backoff(attempt)
                attempt += 1
                continue
            raise _api_error(status, body)

    async def _sleep_backoff(self, attempt: int) -> None:
        delay = self._backoff * (2**attempt)
        await asyncio.sleep(delay + random.uniform(0, delay / 2))


def _decode(raw: bytes) -> Any:
    import json

    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return {"message": raw[:300].decode("utf-8", "replace")}


def _retry_after(value: str | None) -> float:
    try:
        return max(float(value), 0.0) if value else 1.0
    except ValueError:
        return 1.0  # an HTTP-date is legal too, but Partner Center sends seconds; wait a moment


def _api_error(status: int, body: Any) -> MicrosoftApiError:
    data = body if isinstance(body, dict) else {}
    # Partner Center answers {"code", "message"}; some gateways wrap it in {"error": {...}}.
    inner: dict[str, Any] = data["error"] if isinstance(data.get("error"), dict) else data
    code = str(inner.get("code") or inner.get("error") or "Error")
    message = str(inner.get("message") or inner.get("description") or "no message")[:500]
    target = inner.get("target") if isinstance(inner.get("target"), str) else None
    cls = PreconditionFailed if status == 412 else ReferralNotFound if status == 404 else MicrosoftApiError
    if status == 401:
        message += " (the configured access token is invalid or expired)"
    return cls(status, code, message, target=target)
