"""A shared request budget leased in blocks: three processes (three stores on one SQLite file or one DynamoDB
table in moto's server) spend one HubSpot-sized budget (100 requests per rolling 10 s). The global bound holds
in every window, and the store is called a fraction as often as the API would be.

Time is the stores' :class:`FakeClock`, moved only by the budgets' own sleeps: nothing depends on how fast
the machine runs.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left

from cosync_worker.remote_budget import BucketShape, SharedBucket, bucket_shape
from cosync_worker.testing.clock import FakeClock

from .conftest import MakeStore

LIMIT, WINDOW = 100, 10.0
CALLS = 80  # per process: ~2.4 windows' worth for the three together (150 cost 32 CPU-s on moto, issue 15)


async def _spend(bucket: SharedBucket, clock: FakeClock, sent: list[float]) -> None:
    for _ in range(CALLS):
        await bucket.acquire()
        sent.append(clock())
        await asyncio.sleep(0)  # the request itself: the other processes run meanwhile


async def _run(make_store: MakeStore, clock: FakeClock, shape: BucketShape, name: str) -> tuple[int, int]:
    """The busiest window's requests and the store draws (every ``take_tokens``, taken or told to wait)."""
    buckets = [
        SharedBucket(name, shape, await make_store(), sleep=clock.sleep, clock=clock) for _ in range(3)
    ]
    sent: list[float] = []
    await asyncio.wait_for(asyncio.gather(*(_spend(b, clock, sent) for b in buckets)), 120)
    sent.sort()
    busiest = max(bisect_left(sent, t + WINDOW) - i for i, t in enumerate(sent))
    return busiest, sum(b.store_draws for b in buckets)


async def test_three_processes_leasing_blocks_never_exceed_the_limit_and_call_the_store_less(
    make_store: MakeStore, clock: FakeClock
) -> None:
    shape = bucket_shape(LIMIT, WINDOW)
    assert shape.block > 1
    busiest, draws = await _run(make_store, clock, shape, "hubspot:blocks")
    # One token per draw, as before blocks: the same maths without the lease.
    single = BucketShape(shape.rate_per_second, shape.capacity)
    busiest_single, draws_single = await _run(make_store, clock, single, "hubspot:single")

    assert busiest <= LIMIT and busiest_single <= LIMIT
    assert busiest >= 0.5 * LIMIT, (
        busiest,
        busiest_single,
    )  # throughput kept (finding: ~0.6-0.8x of one-by-one)
    assert draws <= 0.5 * draws_single, (draws, draws_single)


async def test_an_idle_process_takes_one_token_at_a_time(make_store: MakeStore, clock: FakeClock) -> None:
    bucket = SharedBucket(
        "hubspot:idle", bucket_shape(LIMIT, WINDOW), await make_store(), sleep=clock.sleep, clock=clock
    )
    for _ in range(5):
        await bucket.acquire()
        clock.advance(WINDOW)  # every lease expires unspent but for its first token
    assert bucket.store_draws == 5 and bucket._leased <= 2
