"""``PartnerCentralClient`` on the SDK's one retry loop, against the emulator: every attempt draws its own
token (a write token for a write, a read token for a read) and is counted in ``REMOTE_CALLS`` under service
``partnercentral``; throttling and 5xx are retried, then handed to the worker as ``Retry``; a 4xx is a
``PartnerCentralError`` with its code after one attempt. The loop's waits are recorded, not slept."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cosync_aws.client import PartnerCentralClient, PartnerCentralError, Priority
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from cosync_worker.errors import Retry
from cosync_worker.sandbox.faults import Fault
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.store.sqlite import SqliteStore

from .test_write_priority_and_cap import _assign, _config, _create


class Faulty(PartnerCentralEmulator):
    """Answers the next faults queued for an operation before serving it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.faults: dict[str, list[Fault]] = {}

    async def _api(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        queued = self.faults.get(operation) or []
        if queued:
            self.count(request, operation)
            return self.fault_response(request, queued.pop(0))
        return await super()._api(request)


class Draws:
    """The store's token draws by budget kind (``reads``, ``writes``, ``daily``, ...)."""

    def __init__(self, store: SqliteStore) -> None:
        self.seen: Counter[str] = Counter()
        take = store.take_tokens

        async def counted(budget: str, *args: Any, **kwargs: Any) -> float:
            self.seen[budget.rsplit(":", 1)[-1]] += 1
            return await take(budget, *args, **kwargs)

        store.take_tokens = counted  # type: ignore[method-assign]


def _calls(operation: str, outcome: str) -> float:
    labels = {"service": "partnercentral", "operation": operation, "outcome": outcome}
    return REGISTRY.get_sample_value("cosync_remote_calls_total", labels) or 0.0


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Faulty, PartnerCentralClient, Draws, list[float]]]:
    pc = Faulty(task_seconds=0.05, write_rate=1000.0)  # no quota throttling: only the faults queued
    await pc.start()
    store = SqliteStore(tmp_path / "state.db")
    await store.open()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    draws = Draws(store)
    try:
        async with PartnerCentralClient(
            _config(pc, write_rate_per_second=1000), store, sleep=sleep
        ) as client:
            yield pc, client, draws, waits
    finally:
        await store.close()
        await pc.stop()


async def test_a_throttled_then_failing_read_is_retried_drawing_a_read_token_each_time(
    world: tuple[Faulty, PartnerCentralClient, Draws, list[float]],
) -> None:
    pc, client, draws, waits = world
    opp = await client.call("CreateOpportunity", Priority.CREATE, **_create(1))
    pc.faults["GetOpportunity"] = [Fault("throttle"), Fault("error")]
    before = {o: _calls("GetOpportunity", o) for o in ("throttled", "server_error", "ok")}
    reads = draws.seen["reads"]

    found = await client.call("GetOpportunity", Identifier=opp["Id"])

    assert found["Id"] == opp["Id"] and "ResponseMetadata" not in found
    after = {o: _calls("GetOpportunity", o) - before[o] for o in before}
    assert after == {"throttled": 1, "server_error": 1, "ok": 1}
    assert client.calls["GetOpportunity"] == pc.calls["GetOpportunity"] == 3  # botocore retried nothing
    assert draws.seen["reads"] - reads == 3
    assert len(waits) == 2 and all(0 < w <= 8 for w in waits)


async def test_a_write_that_keeps_failing_is_retried_five_times_then_handed_to_the_worker(
    world: tuple[Faulty, PartnerCentralClient, Draws, list[float]],
) -> None:
    pc, client, draws, waits = world
    opp = await client.call("CreateOpportunity", Priority.CREATE, **_create(1))
    waits.clear()
    pc.faults["AssignOpportunity"] = [Fault("error")] * 5
    writes = draws.seen["writes"]
    attempts = REGISTRY.get_sample_value("cosync_aws_writes_total", {"operation": "AssignOpportunity"}) or 0.0
    with capture_logs() as logs, pytest.raises(Retry, match="AssignOpportunity"):
        await client.call("AssignOpportunity", **_assign(opp["Id"], 1))
    assert pc.calls["AssignOpportunity"] == 5
    assert draws.seen["writes"] - writes == 5  # one token per attempt
    assert not [e for e in logs if e["event"] == "partnercentral.write"]  # the alarm counts landed writes
    assert client.writes_last_24h == 1 and len(waits) == 4

    with capture_logs() as logs:
        await client.call("AssignOpportunity", **_assign(opp["Id"], 2))
    assert [e["operation"] for e in logs if e["event"] == "partnercentral.write"] == ["AssignOpportunity"]
    # What cosync status counts against the daily quota: every attempt, as each drew a token of it
    counted = REGISTRY.get_sample_value("cosync_aws_writes_total", {"operation": "AssignOpportunity"})
    assert counted is not None and counted - attempts == 6


async def test_an_error_answer_is_a_partner_central_error_with_its_code_after_one_attempt(
    world: tuple[Faulty, PartnerCentralClient, Draws, list[float]],
) -> None:
    pc, client, _, waits = world
    before = _calls("GetOpportunity", "client_error")
    with pytest.raises(PartnerCentralError) as raised:
        await client.call("GetOpportunity", Identifier="O0000000000")
    assert raised.value.code == "ResourceNotFoundException"
    assert pc.calls["GetOpportunity"] == 1 and waits == []
    assert _calls("GetOpportunity", "client_error") - before == 1


async def test_a_partner_central_that_cannot_be_reached_is_retried_then_handed_to_the_worker(
    tmp_path: Path,
) -> None:
    pc = PartnerCentralEmulator()
    await pc.start()
    config = _config(pc)
    await pc.stop()  # nothing listens there now: botocore's EndpointConnectionError
    store = SqliteStore(tmp_path / "state.db")
    await store.open()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    before = _calls("GetOpportunity", "unreachable")
    try:
        async with PartnerCentralClient(config, store, sleep=sleep) as client:
            with pytest.raises(Retry, match="unreachable"):
                await client.call("GetOpportunity", Identifier="O0000000001")
    finally:
        await store.close()
    assert _calls("GetOpportunity", "unreachable") - before == 5 and len(waits) == 4
