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

Failures (the loop is :class:`~cosync_worker.remote_client.RemoteClient`'s): 429/5xx/connection errors back
off (honouring ``Retry-After``) and finally raise :class:`~cosync_worker.errors.Retry`, except for
``leads.create``: it takes no request id, so a 5xx, timeout or lost connection after sending raises
``OutcomeUnknown`` at once instead of possibly creating a second lead (google.rpc.Code's UNAVAILABLE and
DEADLINE_EXCEEDED: "not always safe to retry non-idempotent operations"); a 429 (a quota refusal, before the
request is served) and a refused connection are still retried. A 401 refreshes the
token once; any other 4xx raises :class:`GoogleApiError` (a ``PermanentError``) with Google's own message
(``google.rpc.Status``: https://cloud.google.com/apis/design/errors#http_mapping).

Budget: every attempt draws from a request budget, shared through the store when one is given. Google counts
rate quotas per project in 60-second intervals (https://docs.cloud.google.com/docs/quotas/overview) and
publishes no figure for this API, so the default is the emulator's 10 requests per second, as 600 a minute
(``requests_per_minute``; raise it to the quota the Cloud console shows).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp

from cosync_worker.connector import Answer, RemoteClient, RetryPolicy, request_budget
from cosync_worker.errors import PermanentError, Retry
from cosync_worker.logs import get_logger
from cosync_worker.store import Store

if TYPE_CHECKING:
    from google.auth.exceptions import RefreshError
    from google.oauth2 import service_account

# google-auth (and the requests stack under it) is imported where a client is made or a token refreshed:
# every cosync process loads this plugin, most of them with no Google connector configured (~40 ms each).

__all__ = [
    "DEFAULT_REQUESTS_PER_MINUTE",
    "SCOPE",
    "CloudCrmPartnersClient",
    "GoogleApiError",
    "GoogleNotFound",
]

SCOPE = "https://www.googleapis.com/auth/cloudcrmpartners"
DEFAULT_REQUESTS_PER_MINUTE = 600
_RETRYABLE = frozenset({500, 502, 503, 504})
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


class ServiceAccountTokens:
    """google-auth credentials as a token source. google-auth's refresh is blocking (``requests``), so it runs
    in a thread; one lock makes concurrent callers share a single refresh."""

    refreshable = True

    def __init__(self, credentials: service_account.Credentials) -> None:
        self.credentials = credentials
        self.refreshes = 0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"ServiceAccountTokens({self.credentials.service_account_email!r})"

    async def token(self, refused: str | None = None) -> str:
        """A valid token; refreshes at most once for all concurrent callers.

        ``refused`` is a token the API just refused: refresh unless another caller already replaced it.
        """
        async with self._lock:
            token = self.credentials.token
            if token is None or not self.credentials.valid or (refused is not None and token == refused):
                from google.auth.exceptions import RefreshError, TransportError
                from google.auth.transport.requests import Request

                try:
                    await asyncio.to_thread(self.credentials.refresh, Request())
                except RefreshError as exc:
                    if exc.retryable:
                        # google-auth marks 429, 5xx and "temporarily_unavailable" answers of the token
                        # endpoint retryable (after its own few attempts): a throttled refresh is a wait, not
                        # a refused key, so the event comes back rather than being dead-lettered.
                        raise Retry(f"Google token endpoint busy: {_refresh_reason(exc)}") from None
                    raise PermanentError(f"Google token refresh refused: {_refresh_reason(exc)}") from None
                except TransportError as exc:
                    raise Retry(f"Google token endpoint unreachable: {type(exc).__name__}") from None
                self.refreshes += 1
                log.info("gcp_token_refreshed", refreshes=self.refreshes)
            return str(self.credentials.token)


class CloudCrmPartnersClient(RemoteClient):
    """``async with CloudCrmPartnersClient(base_url, partner_id, key_info) as gcp: await gcp.get_lead(...)``.

    ``key_info`` is the parsed service-account JSON key; ``token_url`` overrides its ``token_uri``
    (the sandbox serves its own token endpoint).
    """

    service = "gcp"
    label = "Cloud CRM Partners"
    tokens: ServiceAccountTokens

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
        store: Store | None = None,
        requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        budget_name: str | None = None,
    ) -> None:
        if not partner_id:
            raise ValueError("partner_id must not be empty")
        info = dict(key_info)
        if token_url:
            info["token_uri"] = token_url
        from google.oauth2 import service_account

        try:
            credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
        except (ValueError, KeyError) as exc:
            # google-auth names the missing key field; the key material itself never reaches the message.
            raise ValueError(f"the service-account key is not usable: {type(exc).__name__}: {exc}") from None
        budget = request_budget(
            budget_name or f"gcp:{partner_id}:{base_url.rstrip('/')}", store, requests_per_minute, 60.0
        )
        # A 429 counts as a failure here, and without Retry-After waits the backoff step.
        policy = RetryPolicy(
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=_MAX_WAIT,
            retryable=_RETRYABLE,
            throttle_wait=None,
            max_inline_wait=_MAX_WAIT,
        )
        super().__init__(
            base_url,
            tokens=ServiceAccountTokens(credentials),
            policy=policy,
            budget=budget,
            timeout_seconds=timeout_seconds,
            session=session,
        )
        self.partner_id = partner_id

    def __repr__(self) -> str:
        return f"CloudCrmPartnersClient(base_url={self.base_url!r}, partner_id={self.partner_id!r})"

    @property
    def credentials(self) -> service_account.Credentials:
        return self.tokens.credentials

    @property
    def refreshes(self) -> int:
        return self.tokens.refreshes

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
        """Sent once unless refused unapplied; ``OutcomeUnknown`` when it may have created the lead."""
        return await self._json_call(
            "leads.create", "POST", f"{self.parent}/leads", body=lead, idempotent=False
        )

    async def get_lead(self, name: str) -> dict[str, Any]:
        return await self._json_call("leads.get", "GET", self.resource_name("leads", name))

    async def get_opportunity(self, name: str) -> dict[str, Any]:
        return await self._json_call("opportunities.get", "GET", self.resource_name("opportunities", name))

    async def patch_opportunity(
        self, name: str, body: dict[str, Any], update_mask: list[str]
    ) -> dict[str, Any]:
        """Only the fields named in ``update_mask`` change (an empty mask is refused before any call)."""
        if not update_mask:
            raise ValueError("update_mask must name at least one field")
        path = self.resource_name("opportunities", name)
        return await self._json_call(
            "opportunities.patch", "PATCH", path, body=body, params={"updateMask": ",".join(update_mask)}
        )

    # -- transport ----------------------------------------------------------------------------------
    async def _json_call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        url = f"{self.base_url}/v1/{quote(path, safe='/')}"
        answer = await self._call(
            method, url, operation=operation, json=body, params=params, idempotent=idempotent
        )
        log.debug("gcp_call", operation=operation, status=answer.status)
        data = json.loads(answer.body) if answer.body else {}
        if not isinstance(data, dict):
            raise PermanentError(f"{operation}: Google returned a non-object JSON body")
        return data

    def describe(self, answer: Answer) -> str:
        return _google_message(answer.status, answer.body)[0]

    def error(self, operation: str, answer: Answer) -> Exception:
        message, google_status = _google_message(answer.status, answer.body)
        log.warning("gcp_call_failed", operation=operation, status=answer.status, google_status=google_status)
        error_type = GoogleNotFound if answer.status == 404 else GoogleApiError
        return error_type(operation, answer.status, message, google_status)


def _refresh_reason(exc: RefreshError) -> str:
    """RefreshError's args are ``(message, response_body)``; keep the message, which names no secret."""
    return str(exc.args[0]) if exc.args else type(exc).__name__
