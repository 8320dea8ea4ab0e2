"""The desk's client against the desk's emulator: idempotent openings, paging, the desk's own words on a
refusal (never the token), and the SDK's retry loop on throttling and server errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cosync_example.client import DeskClient, DeskError
from cosync_example.desk import PAGE_SIZE, TicketDeskEmulator
from cosync_example.mapping import changed_fields, ticket_fields

from cosync_worker.connector import Retry

FIELDS = {"subject": "Acme #Example", "stage": "qualifiedtobuy", "amount": 10.0, "deal_id": "1"}


def _client(desk: TicketDeskEmulator, token: str | None = None) -> DeskClient:
    client = DeskClient(desk.base_url, token or desk.token)
    client._sleep = _no_sleep  # the waits are the retry loop's business, tested in the core
    return client


async def _no_sleep(seconds: float) -> None:
    return None


async def test_an_opening_retried_with_its_key_is_one_ticket(desk: TicketDeskEmulator) -> None:
    async with _client(desk) as client:
        first = await client.open_ticket(FIELDS, idempotency_key="deal-1")
        again = await client.open_ticket(FIELDS, idempotency_key="deal-1")
        other = await client.open_ticket({**FIELDS, "deal_id": "2"}, idempotency_key="deal-2")
    assert first.id == again.id != other.id
    assert len(desk.tickets) == 2


async def test_changes_are_listed_oldest_first_across_pages(desk: TicketDeskEmulator) -> None:
    stamps = iter(datetime(2030, 1, 1, tzinfo=UTC).replace(minute=m % 60, hour=m // 60) for m in range(200))
    desk.clock = lambda: next(stamps)
    async with _client(desk) as client:
        for n in range(PAGE_SIZE + 5):
            await client.open_ticket({**FIELDS, "deal_id": str(n)}, idempotency_key=f"deal-{n}")
        every = [t.deal_id async for t in client.changed_since(None)]
        later = [t.deal_id async for t in client.changed_since(datetime(2030, 1, 1, 0, 50, tzinfo=UTC))]
    assert every == [str(n) for n in range(PAGE_SIZE + 5)]
    assert later == [str(n) for n in range(50, PAGE_SIZE + 5)]
    assert desk.calls["GET /v1/tickets"] == 2 + 1


async def test_a_refusal_is_permanent_in_the_desks_words(desk: TicketDeskEmulator) -> None:
    async with _client(desk) as client:
        with pytest.raises(DeskError) as refused:
            await client.open_ticket({**FIELDS, "subject": ""}, idempotency_key="deal-1")
    assert refused.value.status == 422
    assert (
        str(refused.value)
        == "Example desk open_ticket: HTTP 422: subject: subject must be 1 to 200 characters"
    )
    async with _client(desk, token="wrong") as client:
        with pytest.raises(DeskError, match="HTTP 401: unauthorized") as denied:
            await client.update_ticket("T-1", {"stage": "x"})
    assert "wrong" not in str(denied.value)


async def test_server_errors_and_throttling_are_retried_then_handed_to_the_worker(
    desk: TicketDeskEmulator,
) -> None:
    async with _client(desk) as client:
        desk.faults.configure(error_rate=1.0)
        with pytest.raises(Retry, match="HTTP 500 .*gave up after 4 attempts"):
            await client.open_ticket(FIELDS, idempotency_key="deal-1")
        assert desk.faults.injected["error"] == 4  # max_retries=3: the first attempt and three more
        desk.faults.clear()
        desk.faults.configure(storm_seconds=3600, retry_after=7)
        with pytest.raises(Retry) as throttled:
            await client.open_ticket(FIELDS, idempotency_key="deal-1")
        assert throttled.value.defer == 7  # the desk's Retry-After, handed to the worker
        desk.faults.clear()
        assert (await client.open_ticket(FIELDS, idempotency_key="deal-1")).id == "T-1"
    assert len(desk.tickets) == 1 and sum(n for call, n in desk.calls.items() if call.startswith("POST")) == 1


def test_the_mapping_is_plain_functions() -> None:
    deal = {"dealname": " Acme #Example ", "dealstage": "closedwon", "amount": "12.5"}
    assert ticket_fields(deal) == {"subject": "Acme #Example", "stage": "closedwon", "amount": 12.5}
    assert ticket_fields({"dealname": "x" * 300, "amount": "n/a"})["subject"] == "x" * 200
    assert ticket_fields({"amount": "n/a"})["amount"] is None
    assert changed_fields({"stage": "a", "amount": 1.0}, {"stage": "b", "amount": 1.0}) == {"stage": "b"}
