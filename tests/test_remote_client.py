"""RemoteClient against a scripted aiohttp server on loopback: attempts, waits, token refresh, metrics, budget.

Sleeps go to a :class:`FakeClock` and the budget lives in a SQLite store on the same frozen clock, so nothing
here waits for real or depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from cosync_worker.errors import PermanentError, Retry
from cosync_worker.metrics import REMOTE_CALLS
from cosync_worker.remote_budget import BucketShape, SharedBucket
from cosync_worker.remote_client import Answer, OutcomeUnknown, RemoteClient, RetryPolicy
from cosync_worker.store.base import Store
from cosync_worker.store.lease import LeaseLost, hold_lock
from cosync_worker.store.sqlite import SqliteStore
from cosync_worker.testing.clock import FakeClock
from cosync_worker.worker.backoff import backoff_delay

from .hubspot.faults import FaultServer

pytestmark = pytest.mark.timeout(30)

OP = "things.get"
CAPACITY = 20.0
RATE = 1e-6  # the clock moves only by the injected sleeps (seconds): next to nothing refills in a test


class Tokens:
    """A refreshable token source: each refusal of the current token issues the next one."""

    refreshable = True

    def __init__(self) -> None:
        self.issued = 1

    async def token(self, refused: str | None = None) -> str:
        if refused == f"t{self.issued}":
            self.issued += 1
        return f"t{self.issued}"


class Things(RemoteClient):
    service = "example"
    label = "Things"

    def error(self, operation: str, answer: Answer) -> Exception:
        return PermanentError(f"{operation}: HTTP {answer.status}")

    async def get(self) -> int:
        return (await self._call("GET", f"{self.base_url}/things/1", operation=OP)).status

    async def create(self) -> int:
        answer = await self._call("POST", f"{self.base_url}/things", operation=OP, idempotent=False)
        return answer.status


class DroppingServer(FaultServer):
    """A :class:`FaultServer` whose scripted status 0 reads the request, then drops the connection."""

    async def _answer(self, request: web.Request) -> web.Response:
        if self.script and self.script[0][0] == 0:
            self.script.popleft()
            self.requests.append((request.method, request.path))
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        return await super()._answer(request)


def calls(outcome: str) -> float:
    return REMOTE_CALLS.labels(service="example", operation=OP, outcome=outcome)._value.get()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    store = SqliteStore(tmp_path / "state.db", clock=clock)
    await store.open()
    yield store
    await store.close()


async def tokens_left(store: Store) -> int:
    """Whole tokens left in the client's bucket (drawn one at a time until empty, then put out of use)."""
    left = 0
    while await store.take_tokens("example:things", RATE, CAPACITY) == 0:
        left += 1
    return left


def client(url: str, store: Store, clock: FakeClock, **policy: object) -> Things:
    budget = SharedBucket("example:things", BucketShape(RATE, CAPACITY), store)
    return Things(
        url,
        tokens=Tokens(),
        policy=RetryPolicy(**policy),  # type: ignore[arg-type]
        budget=budget,
        sleep=clock.sleep,
        rng=random.Random(7),
    )


async def test_429_waits_retry_after_and_each_attempt_draws_the_budget(
    store: Store, clock: FakeClock
) -> None:
    before = calls("throttled"), calls("ok")
    script: list[tuple[int, object, dict[str, str]]] = [
        (429, {}, {"Retry-After": "7"}),
        (429, {}, {"Retry-After": "2"}),
        (200, {}, {}),
    ]
    async with FaultServer(*script) as server, client(server.url, store, clock, max_throttled=5) as things:
        assert await things.get() == 200
    assert len(server.requests) == 3 and clock.slept == [7.0, 2.0]
    assert (calls("throttled") - before[0], calls("ok") - before[1]) == (2, 1)
    assert things.throttled == 2
    assert await tokens_left(store) == CAPACITY - 3


async def test_5xx_backs_off_with_the_core_jitter_then_gives_up(store: Store, clock: FakeClock) -> None:
    before = calls("server_error")
    async with (
        FaultServer((503, {}), (502, {}), (200, {})) as server,
        client(server.url, store, clock, max_retries=2, backoff_base=0.5) as things,
    ):
        assert await things.get() == 200
    expected = random.Random(7)
    assert clock.slept == [backoff_delay(n, 0.5, 60.0, expected) for n in (1, 2)]
    assert calls("server_error") - before == 2

    clock.slept.clear()
    async with (
        FaultServer(*[(500, None)] * 5) as server,
        client(server.url, store, clock, max_retries=2) as things,
    ):
        with pytest.raises(Retry, match=r"Things things.get: HTTP 500 \(gave up after 3 attempts\)"):
            await things.get()
    assert len(server.requests) == 3 and len(clock.slept) == 2
    assert await tokens_left(store) == CAPACITY - 6


async def test_a_5xx_retry_after_is_honoured_and_a_long_one_goes_to_the_worker(
    store: Store, clock: FakeClock
) -> None:
    script: list[tuple[int, object, dict[str, str]]] = [
        (503, {}, {"Retry-After": "3"}),
        (429, {}, {"Retry-After": "120"}),
    ]
    async with FaultServer(*script) as server, client(server.url, store, clock, max_inline_wait=60) as things:
        with pytest.raises(Retry) as deferred:
            await things.get()
    assert clock.slept == [3.0] and len(server.requests) == 2
    assert deferred.value.defer == 120.0


async def test_401_refreshes_once_then_retries_once(store: Store, clock: FakeClock) -> None:
    before = calls("unauthorized")
    async with FaultServer((401, {}), (200, {})) as server, client(server.url, store, clock) as things:
        assert await things.get() == 200
    assert server.authorizations == ["Bearer t1", "Bearer t2"] and clock.slept == []
    assert calls("unauthorized") - before == 1

    async with (
        FaultServer((401, {}), (401, {}), (200, {})) as server,
        client(server.url, store, clock) as things,
    ):
        with pytest.raises(PermanentError, match="HTTP 401"):
            await things.get()
    assert server.authorizations == ["Bearer t1", "Bearer t2"]
    assert calls("unauthorized") - before == 3
    assert await tokens_left(store) == CAPACITY - 4


@pytest.mark.parametrize(
    "lost", [(503, {}), (500, {}), (504, {}), (0, {})], ids=["503", "500", "504", "dropped"]
)
async def test_a_non_idempotent_call_whose_outcome_is_unknown_is_not_sent_again(
    store: Store, clock: FakeClock, lost: tuple[int, object]
) -> None:
    async with DroppingServer(lost) as server, client(server.url, store, clock) as things:
        with pytest.raises(OutcomeUnknown, match="outcome unknown") as unknown:
            await things.create()
        assert len(server.requests) == 1 and clock.slept == []
        assert isinstance(unknown.value, PermanentError)
        # The same answers to an idempotent call are retried.
        server.script.append(lost)
        assert await things.get() == 200
    assert len(server.requests) == 3


async def test_a_non_idempotent_call_is_retried_after_answers_that_prove_it_was_not_applied(
    store: Store, clock: FakeClock
) -> None:
    script: list[tuple[int, object, dict[str, str]]] = [(429, {}, {"Retry-After": "2"}), (401, {}, {})]
    async with FaultServer(*script) as server, client(server.url, store, clock) as things:
        assert await things.create() == 200
    assert len(server.requests) == 3 and clock.slept == [2.0]

    with socket.socket() as unused:  # a port nothing listens on: the connection is refused, nothing sent
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    clock.slept.clear()
    async with client(f"http://127.0.0.1:{port}", store, clock, max_retries=2) as things:
        with pytest.raises(Retry, match=r"unreachable \(ClientConnectorError\)"):
            await things.create()
    assert len(clock.slept) == 2


async def test_a_holder_whose_lease_ran_out_during_a_wait_does_not_send_again(
    store: Store, clock: FakeClock
) -> None:
    # A 429's Retry-After outlasts the deal lock's lease (its renewals never land): another replica may hold
    # the deal by now, so the retry is not sent; LeaseLost sends the event round again (issue 15).
    async def never(_: float) -> None:
        await asyncio.Event().wait()

    async with (
        FaultServer((429, {}, {"Retry-After": "11"}), (200, {})) as server,
        client(server.url, store, clock, max_throttled=5) as things,
        hold_lock(store, "deal:9", 10, wait_seconds=0, clock=clock, heartbeat_sleep=never) as held,
    ):
        with pytest.raises(LeaseLost, match="deal:9"):
            await things.get()
        assert held.lost
    assert len(server.requests) == 1


async def test_a_holder_near_the_end_of_its_lease_renews_it_before_sending(
    store: Store, clock: FakeClock
) -> None:
    async def never(_: float) -> None:
        await asyncio.Event().wait()

    async with (
        FaultServer((429, {}, {"Retry-After": "5"}), (200, {})) as server,
        client(server.url, store, clock, max_throttled=5) as things,
        hold_lock(store, "deal:10", 10, wait_seconds=0, clock=clock, heartbeat_sleep=never) as held,
    ):
        assert await things.get() == 200  # the wait took half the TTL: renewed before the retry, then sent
        assert not held.lost
    assert len(server.requests) == 2
