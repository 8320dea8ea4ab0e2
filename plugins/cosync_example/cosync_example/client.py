"""``DeskClient``: the one door to the Example ticket desk (its API is described in :mod:`cosync_example.desk`).

Built on the SDK's ``RemoteClient``, which owns the retry loop: 429 and 5xx back off (honouring
``Retry-After``) and finally ask the worker for a ``Retry``; every attempt draws from a request budget shared
through the store, so N replicas stay under the desk's limit together. Any other refusal is a
:class:`DeskError`, a ``PermanentError`` carrying the desk's own words (which never quote the token).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

from cosync_worker.connector import (
    Answer,
    PermanentError,
    RemoteClient,
    RetryPolicy,
    StaticToken,
    request_budget,
)
from cosync_worker.store import Store

__all__ = ["DeskClient", "DeskError", "Ticket"]


class Ticket(BaseModel):
    """A ticket as the desk answers it."""

    id: str
    subject: str
    deal_id: str | None = None
    stage: str | None = None
    amount: float | None = None
    status: str
    updated_at: datetime
    version: int


class DeskError(PermanentError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class DeskClient(RemoteClient):
    service = "example_desk"
    label = "Example desk"

    def __init__(
        self, base_url: str, token: str, *, store: Store | None = None, requests_per_minute: int = 600
    ) -> None:
        super().__init__(
            base_url,
            tokens=StaticToken(token),
            policy=RetryPolicy(max_retries=3, max_inline_wait=30.0),
            budget=request_budget("example:desk", store, requests_per_minute, 60.0),
        )

    def describe(self, answer: Answer) -> str:
        try:
            found = json.loads(answer.body)
        except ValueError:
            return ""
        error = found.get("error") if isinstance(found, dict) else None
        field = found.get("field") if isinstance(found, dict) else None
        if not isinstance(error, str):
            return ""
        return f"{field}: {error}" if isinstance(field, str) else error

    def error(self, operation: str, answer: Answer) -> Exception:
        words = self.describe(answer)
        detail = f"HTTP {answer.status}" + (f": {words}" if words else "")
        return DeskError(f"{self.label} {operation}: {detail}", answer.status)

    async def open_ticket(self, fields: dict[str, Any], *, idempotency_key: str) -> Ticket:
        """Open a ticket; the same ``idempotency_key`` again answers the ticket it opened, so a retry after
        a lost answer never opens a second one."""
        answer = await self._call(
            "POST",
            f"{self.base_url}/v1/tickets",
            operation="open_ticket",
            json=fields,
            headers={"Idempotency-Key": idempotency_key},
        )
        return Ticket.model_validate_json(answer.body)

    async def update_ticket(self, ticket_id: str, fields: dict[str, Any]) -> Ticket:
        answer = await self._call(
            "PATCH",
            f"{self.base_url}/v1/tickets/{quote(ticket_id, safe='')}",
            operation="update_ticket",
            json=fields,
        )
        return Ticket.model_validate_json(answer.body)

    async def changed_since(self, since: datetime | None) -> AsyncIterator[Ticket]:
        """Every ticket updated at or after ``since`` (all of them for None), oldest first, page by page."""
        params: dict[str, str] = {} if since is None else {"updated_since": since.isoformat()}
        while True:
            answer = await self._call(
                "GET", f"{self.base_url}/v1/tickets", operation="list_tickets", params=params
            )
            page = json.loads(answer.body)
            for ticket in page["tickets"]:
                yield Ticket.model_validate(ticket)
            if not page.get("next_page_token"):
                return
            params = {**params, "page_token": str(page["next_page_token"])}
