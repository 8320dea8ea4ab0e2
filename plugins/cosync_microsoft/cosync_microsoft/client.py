"""The one Partner Center Referrals API client of the process (aiohttp).

Modelled on Microsoft's reference pages:

* create https://learn.microsoft.com/en-us/partner-center/developer/create-a-referral
* get https://learn.microsoft.com/en-us/partner-center/developer/get-a-referral-by-id
* list (``$filter``/``$orderby``/``$top``, continuation token)
  https://learn.microsoft.com/en-us/partner-center/developer/get-a-list-of-referrals
* update (PATCH with ``If-Match``) https://learn.microsoft.com/en-us/partner-center/developer/patch-a-referral
* error body ``{"code", "message"}`` https://learn.microsoft.com/en-us/partner-center/developer/error-codes

Failure policy (the loop is :class:`~cosync_worker.remote_client.RemoteClient`'s): 429 honours
``Retry-After`` (sleeps when short, else ``Retry(defer=...)``); 5xx and network errors back off and then raise
``Retry``, except for a create: it takes no idempotency key, so a 5xx, timeout or connection lost after
sending raises ``OutcomeUnknown`` at once (the caller looks the referral up by ``externalReferenceId`` before
anything is created again); 401 refreshes the token once; any other 4xx is a :class:`MicrosoftApiError` (a
``PermanentError``) that keeps Microsoft's message.

Budget: every attempt draws from a request budget, shared through the store when one is given. Partner Center
throttles per partner tenant and publishes no figure, only that 429 carries ``Retry-After``
(https://learn.microsoft.com/en-us/partner-center/developer/api-throttling-guidance), so the default is the
emulator's 10 requests per second, as 600 a minute (``requests_per_minute``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from cosync_worker.connector import Answer, RemoteClient, RetryPolicy, request_budget
from cosync_worker.errors import PermanentError
from cosync_worker.store import Store

from .auth import TokenProvider

__all__ = [
    "API_PATH",
    "DEFAULT_REQUESTS_PER_MINUTE",
    "MicrosoftApiError",
    "PreconditionFailed",
    "ReferralNotFound",
    "ReferralsClient",
]

API_PATH = "/v1.0/engagements/referrals"
DEFAULT_REQUESTS_PER_MINUTE = 600
_SERVER_ERRORS = frozenset(range(500, 600))
_THROTTLE_WAIT = 1.0  # a 429 without a readable Retry-After: wait a moment


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


class ReferralsClient(RemoteClient):
    """``async with ReferralsClient(base_url, tokens) as client``; one per process."""

    service = "microsoft"
    label = "Microsoft Partner Center"
    tokens: TokenProvider

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        timeout_seconds: float = 30.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        max_inline_wait: float = 10.0,
        store: Store | None = None,
        requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        budget_name: str | None = None,
    ) -> None:
        policy = RetryPolicy(
            max_retries=max_retries,
            backoff_base=backoff_base,
            retryable=_SERVER_ERRORS,
            throttle_wait=_THROTTLE_WAIT,
            max_inline_wait=max_inline_wait,
        )
        budget = request_budget(
            budget_name or f"microsoft:{base_url.rstrip('/')}", store, requests_per_minute, 60.0
        )
        super().__init__(
            base_url, tokens=tokens, policy=policy, budget=budget, timeout_seconds=timeout_seconds
        )

    # -- operations -----------------------------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /referrals``; returns the created referral (with ``id`` and ``eTag``). Sent once unless refused
        unapplied; ``OutcomeUnknown`` when it may have created the referral."""
        referral, _, _ = await self._request(
            "referrals.create", "POST", API_PATH, json=body, idempotent=False
        )
        return dict(referral)

    async def get(self, referral_id: str) -> dict[str, Any]:
        referral, headers, _ = await self._request("referrals.get", "GET", self._one(referral_id))
        referral = dict(referral)
        referral["eTag"] = _etag(headers.get("ETag")) or referral.get("eTag")
        return referral

    async def update(
        self, referral_id: str, etag: str, operations: list[dict[str, Any]]
    ) -> tuple[dict[str, Any] | None, str | None]:
        """``PATCH`` with a JSON Patch array under ``If-Match: etag``; returns (referral or None, new eTag).

        Raises :class:`PreconditionFailed` when the eTag is stale."""
        body, headers, status = await self._request(
            "referrals.update",
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
            body, _, _ = await self._request(
                "referrals.list", "GET", API_PATH, params=params, headers=headers
            )
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
        operation: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = True,
    ) -> tuple[Any, Mapping[str, str], int]:
        answer = await self._call(
            method,
            self.base_url + path,
            operation=operation,
            json=json,
            params=params,
            headers=headers,
            idempotent=idempotent,
        )
        return _decode(answer.body), answer.headers, answer.status

    def error(self, operation: str, answer: Answer) -> Exception:
        return _api_error(answer.status, _decode(answer.body))


def _decode(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return {"message": raw[:300].decode("utf-8", "replace")}


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
