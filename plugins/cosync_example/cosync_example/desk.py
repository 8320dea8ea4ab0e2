"""The Example ticket desk: the small remote system the example connector syncs with, as an emulator.

It is invented (no real service has this API), so it is documented here, whole:

* every call but the operator API needs ``Authorization: Bearer <token>`` (401 ``{"error": ...}`` otherwise);
* ``POST /v1/tickets`` ``{"subject", "deal_id", "stage", "amount"}`` opens a ticket (201). An
  ``Idempotency-Key`` header that was seen before answers the ticket it opened (200), not a second one;
* ``PATCH /v1/tickets/{id}`` with any of ``subject``, ``stage``, ``amount`` changes it (404: no such ticket);
* ``GET /v1/tickets?updated_since=<ISO 8601>&page_token=<t>`` lists tickets updated at or after that time,
  oldest first, 50 a page, with ``next_page_token`` (null on the last page);
* a bad field is a 422 ``{"error": "<what is wrong>", "field": "<name>"}``.

A ticket is ``{"id", "subject", "deal_id", "stage", "amount", "status", "updated_at", "version"}``; its
``status`` is ``open`` until the desk's agent moves it (``POST /_sandbox/tickets/{id}/status``
``{"status": "resolved"}``, the operator API a test or demo plays the agent with).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from cosync_worker.sandbox import Emulator

__all__ = ["PAGE_SIZE", "STATUSES", "TicketDeskEmulator"]

PAGE_SIZE = 50
STATUSES = ("open", "in_progress", "resolved")
_EDITABLE = ("subject", "stage", "amount")


class _Invalid(Exception):
    def __init__(self, field: str, error: str) -> None:
        super().__init__(error)
        self.field, self.error = field, error


def _check(body: Any, *, creating: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _Invalid("body", "the body must be a JSON object")
    unknown = sorted(set(body) - {*_EDITABLE, "deal_id"} if creating else set(body) - set(_EDITABLE))
    if unknown:
        raise _Invalid(unknown[0], "unknown field")
    subject = body.get("subject")
    if (creating or "subject" in body) and not (isinstance(subject, str) and 0 < len(subject) <= 200):
        raise _Invalid("subject", "subject must be 1 to 200 characters")
    amount = body.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0):
        raise _Invalid("amount", "amount must be a number, not negative")
    for name in ("stage", "deal_id"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise _Invalid(name, f"{name} must be a string")
    return dict(body)


class TicketDeskEmulator(Emulator):
    """The desk on loopback. ``clock`` stamps ``updated_at``; a test may replace it."""

    name = "example"

    def __init__(self, host: str = "127.0.0.1", token: str = "sandbox-desk-token") -> None:
        self.token = token
        self.tickets: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, str] = {}
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        super().__init__(host=host)

    def setup_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/tickets", self._create)
        router.add_patch("/v1/tickets/{id}", self._patch)
        router.add_get("/v1/tickets", self._list)
        router.add_post("/_sandbox/tickets/{id}/status", self._set_status)

    def reset(self) -> None:
        self.tickets.clear()
        self.idempotency.clear()

    # -- the API ------------------------------------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _body(self, request: web.Request, *, creating: bool) -> dict[str, Any]:
        try:
            return _check(await request.json(), creating=creating)
        except ValueError:
            raise _Invalid("body", "the body is not JSON") from None

    def _stamp(self, ticket: dict[str, Any]) -> dict[str, Any]:
        ticket["updated_at"] = self.clock().isoformat()
        ticket["version"] = ticket.get("version", 0) + 1
        return ticket

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "unauthorized")
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in self.idempotency:
            return web.json_response(self.tickets[self.idempotency[key]], status=200)
        try:
            body = await self._body(request, creating=True)
        except _Invalid as bad:
            return _error(422, bad.error, bad.field)
        ticket_id = f"T-{len(self.tickets) + 1}"
        fields = {name: body.get(name) for name in ("subject", "deal_id", "stage", "amount")}
        self.tickets[ticket_id] = self._stamp({"id": ticket_id, **fields, "status": "open"})
        if key is not None:
            self.idempotency[key] = ticket_id
        return web.json_response(self.tickets[ticket_id], status=201)

    async def _patch(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "unauthorized")
        ticket = self.tickets.get(request.match_info["id"])
        if ticket is None:
            return _error(404, "no such ticket")
        try:
            body = await self._body(request, creating=False)
        except _Invalid as bad:
            return _error(422, bad.error, bad.field)
        ticket.update(body)
        return web.json_response(self._stamp(ticket))

    async def _list(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "unauthorized")
        since_text = request.query.get("updated_since")
        try:
            since = None if since_text is None else datetime.fromisoformat(since_text)
            start = int(request.query.get("page_token", "0"))
        except ValueError:
            return _error(422, "updated_since must be ISO 8601 and page_token a token this API gave")
        found = sorted(
            (
                t
                for t in self.tickets.values()
                if since is None or datetime.fromisoformat(t["updated_at"]) >= since
            ),
            key=lambda t: (t["updated_at"], t["id"]),
        )
        page = found[start : start + PAGE_SIZE]
        more = start + PAGE_SIZE < len(found)
        return web.json_response(
            {"tickets": page, "next_page_token": str(start + PAGE_SIZE) if more else None}
        )

    # -- the operator API: the desk's agent -----------------------------------------------------------
    async def _set_status(self, request: web.Request) -> web.Response:
        ticket = self.tickets.get(request.match_info["id"])
        if ticket is None:
            return _error(404, "no such ticket")
        body = await request.json()
        status = body.get("status") if isinstance(body, dict) else None
        if status not in STATUSES:
            return _error(422, f"status must be one of {', '.join(STATUSES)}", "status")
        ticket["status"] = status
        return web.json_response(self._stamp(ticket))


def _error(status: int, error: str, field: str | None = None) -> web.Response:
    body = {"error": error} if field is None else {"error": error, "field": field}
    return web.json_response(body, status=status)
