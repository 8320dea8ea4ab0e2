"""Group commit in front of a real LocalQueue: concurrent batches share sends, all-or-nothing per send."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from cosync_worker.queue import QueueUnavailable
from cosync_worker.queue.local import LocalQueue
from cosync_worker.relay.group_commit import GroupCommitQueue, Item

from .conftest import RelayFactory, batch


class CountingQueue(LocalQueue):
    """A real LocalQueue that records the size of each send it is given."""

    sends: list[int]

    async def send(self, bodies: Sequence[Item]) -> None:
        self.sends.append(len(bodies))
        await super().send(bodies)


async def test_concurrent_batches_share_sends_and_all_are_stored(tmp_path: Path) -> None:
    queue = CountingQueue(tmp_path / "q.db")
    queue.sends = []
    await queue.open()
    commit = GroupCommitQueue(queue, max_messages=50)
    batches = [[(f"body-{b}-{i}", f"g{b}", f"d{b}-{i}") for i in range(10)] for b in range(20)]
    await asyncio.wait_for(asyncio.gather(*(commit.send(items) for items in batches)), 30)
    assert await queue.depth() == 200
    assert len(queue.sends) < 20  # some were combined...
    assert max(queue.sends) <= 50  # ...within the cap
    await queue.close()


async def test_a_failed_send_fails_every_caller_in_it(tmp_path: Path) -> None:
    queue = LocalQueue(tmp_path / "q.db")
    await queue.open()
    await queue.close()
    commit = GroupCommitQueue(queue)
    results = await asyncio.gather(
        *(commit.send([(f"b{i}", None, f"d{i}")]) for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, QueueUnavailable) for r in results)
    await queue.open()
    assert await queue.depth() == 0
    await queue.close()


@pytest.mark.parametrize("senders", [16])
async def test_concurrent_webhooks_are_all_enqueued(make_relay: RelayFactory, senders: int) -> None:
    relay = await make_relay()
    responses = await asyncio.gather(
        *(relay.post_signed("/webhooks/hubspot", batch(10, start=1 + 10 * n)) for n in range(senders))
    )
    assert [r.status for r in responses] == [200] * senders
    assert await relay.queue.depth() == 10 * senders
