"""The ``Queue`` contract, run against both backends (local SQLite file, SQS on moto's server over HTTP)."""

from __future__ import annotations

import asyncio
import time

from cosync_worker.queue import DeadLetter, Queue
from cosync_worker.queue.local import LocalQueue

from .conftest import MakeQueue, receive_all


async def test_send_receive_ack(make_queue: MakeQueue) -> None:
    queue = await make_queue(visibility_timeout=30)
    await queue.send([("one", "g1", "d1"), ("two", "g2", "d2"), ("three", None, "d3")])
    got = await receive_all(queue, 3)
    assert sorted(m.body for m in got) == ["one", "three", "two"]
    assert all(m.receive_count == 1 for m in got)
    assert {m.group for m in got if m.body == "one"} == {"g1"}
    await queue.ack(got)
    assert await queue.receive(10, wait_seconds=0) == []
    assert await queue.depth() == 0


async def test_send_of_nothing_and_ack_of_nothing_are_no_ops(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    await queue.send([])
    await queue.ack([])
    assert await queue.depth() == 0


async def test_repeated_dedupe_id_is_dropped(make_queue: MakeQueue) -> None:
    queue = await make_queue(visibility_timeout=30)
    await queue.send([("a", "g", "same"), ("a-again", "g", "same"), ("b", "g", "other")])
    await queue.send([("a-later", "g", "same")])
    got = await receive_all(queue, 3, wait=2)
    assert [m.body for m in got] == ["a", "b"]


async def test_group_order_holds_with_two_concurrent_consumers(make_queue: MakeQueue) -> None:
    # Long visibility: the test is about order, and a busy moto could let a 5 s one lapse between the receive
    # and the ack of a batch's second message (a redelivery, seen as [0, 0, 1, 2, 3] under make test's load).
    # Serialized and short polls on SQS: moto's receive is not atomic, and a long poll keeps the in-flight groups
    # it saw when it started, so under load it handed out a group's next message while the other consumer still
    # held the one before (busy run at 4cada16: overlaps ['obj-0:2', 'obj-1:2']). Real SQS FIFO never does.
    queue = await make_queue(visibility_timeout=60, serialized=True)
    groups = [f"obj-{g}" for g in range(3)]
    per_group = 4
    await queue.send([(f"{g}:{i}", g, f"{g}-{i}") for i in range(per_group) for g in groups])
    processed: dict[str, list[int]] = {g: [] for g in groups}
    in_flight: set[str] = set()
    overlaps: list[str] = []
    total = len(groups) * per_group

    async def consumer() -> None:
        deadline = time.monotonic() + 50
        while sum(map(len, processed.values())) < total and time.monotonic() < deadline:
            batch = await queue.receive(2, wait_seconds=0)
            if not batch:
                await asyncio.sleep(0.02)
            for message in batch:
                group, seq = message.body.split(":")
                if group in in_flight:
                    overlaps.append(message.body)
                in_flight.add(group)
                await asyncio.sleep(0.02)  # yield so the other consumer gets a chance to claim meanwhile
                processed[group].append(int(seq))
                in_flight.discard(group)
                await queue.ack([message])

    await asyncio.wait_for(asyncio.gather(consumer(), consumer()), timeout=60)
    assert overlaps == []
    assert processed == {g: list(range(per_group)) for g in groups}


async def test_nack_with_delay_hides_the_message_until_the_delay_passes(make_queue: MakeQueue) -> None:
    queue = await make_queue(visibility_timeout=30)
    await queue.send([("x", "g", "x")])
    (first,) = await receive_all(queue, 1)
    started = time.monotonic()
    await queue.nack(first, delay_seconds=2)
    assert await queue.receive(10, wait_seconds=0) == []
    again = await receive_all(queue, 1, wait=5)
    assert [m.body for m in again] == ["x"]
    assert time.monotonic() - started >= 1.5
    assert again[0].receive_count == 2
    assert again[0].id == first.id


async def test_nack_without_delay_releases_at_once(make_queue: MakeQueue) -> None:
    queue = await make_queue(visibility_timeout=30)
    await queue.send([("x", "g", "x")])
    (first,) = await receive_all(queue, 1)
    await queue.nack(first)
    again = await queue.receive(10, wait_seconds=1)
    assert [m.id for m in again] == [first.id]


async def test_expired_visibility_redelivers(make_queue: MakeQueue) -> None:
    queue = await make_queue(visibility_timeout=1)
    await queue.send([("x", "g", "x")])
    (first,) = await receive_all(queue, 1)
    assert await queue.receive(10, wait_seconds=0) == []  # still in flight
    again = await receive_all(queue, 1, wait=5)
    assert [(m.id, m.body, m.receive_count) for m in again] == [(first.id, "x", 2)]
    await queue.ack(again)
    assert await queue.receive(10, wait_seconds=0) == []


async def test_extend_keeps_a_message_invisible(make_queue: MakeQueue) -> None:
    queue = await make_queue(visibility_timeout=1)
    await queue.send([("x", "g", "x")])
    (first,) = await receive_all(queue, 1)
    await queue.extend(first, 3)
    await asyncio.sleep(1.5)  # well past the original 1 s visibility
    assert await queue.receive(10, wait_seconds=0) == []
    # Hidden, not lost: it comes back once the extended deadline passes.
    again = await receive_all(queue, 1, wait=4)
    assert [(m.id, m.receive_count) for m in again] == [(first.id, 2)]


async def test_extend_many_reports_the_messages_no_longer_held(make_queue: MakeQueue) -> None:
    # The worker's heartbeat: one call for every message it holds; one that is gone is named, so the heartbeat
    # stops extending it (whether an older receipt of a message received again still works is the backend's:
    # moto accepts it, so the contract does not say).
    queue = await make_queue(visibility_timeout=30)
    await queue.send([("a", "g1", "a"), ("b", "g2", "b"), ("c", "g3", "c")])
    got = {m.body: m for m in await receive_all(queue, 3)}
    await queue.ack([got["a"]])
    assert await queue.extend_many(list(got.values()), 60) == [got["a"]]
    assert await queue.receive(10, wait_seconds=0) == []  # b and c still held
    assert await queue.extend_many([], 60) == []


async def test_redrive_to_dead_letters_after_max_receives(make_queue: MakeQueue) -> None:
    queue = await make_queue(visibility_timeout=30, max_receives=2)
    await queue.send([("poison", "g", "p"), ("fine", "h", "f")])
    for attempt, expected in ((1, 2), (2, 1)):
        got = await receive_all(queue, expected)
        poison = [m for m in got if m.body == "poison"]
        assert [m.receive_count for m in poison] == [attempt]
        await queue.ack([m for m in got if m.body == "fine"])
        await queue.nack(poison[0])
    # The third receive finds it over the limit: it is parked, never handed out again.
    assert await queue.receive(10, wait_seconds=0) == []
    letters = await queue.list_dead_letters()
    assert [(d.body, d.reason) for d in letters] == [("poison", "exceeded max receives (2)")]
    assert await queue.depth() == 0


async def test_dead_letter_with_reason_then_list_and_replay(make_queue: MakeQueue) -> None:
    queue = await make_queue(visibility_timeout=30)
    await queue.send([("bad", "g1", "b"), ("worse", "g2", "w")])
    got = await receive_all(queue, 2)
    by_body = {m.body: m for m in got}
    before = time.time()
    await queue.dead_letter(by_body["bad"], "invalid message: body: is not valid JSON")
    await queue.dead_letter(by_body["worse"], "connector refused: 422")
    assert await queue.receive(10, wait_seconds=0) == []

    letters = await queue.list_dead_letters()
    assert all(isinstance(d, DeadLetter) for d in letters)
    assert {d.body: d.reason for d in letters} == {
        "bad": "invalid message: body: is not valid JSON",
        "worse": "connector refused: 422",
    }
    assert all(d.failed_at >= before - 1 for d in letters)
    # Listing does not consume: a second look sees the same letters.
    assert sorted(d.id for d in await queue.list_dead_letters()) == sorted(d.id for d in letters)

    assert await queue.replay_dead_letters([]) == 0
    assert await queue.replay_dead_letters(["no-such-id"]) == 0
    bad_id = next(d.id for d in letters if d.body == "bad")
    assert await queue.replay_dead_letters([bad_id]) == 1
    back = await receive_all(queue, 1)
    assert [(m.body, m.receive_count) for m in back] == [("bad", 1)]
    assert [d.body for d in await queue.list_dead_letters()] == ["worse"]

    assert await queue.replay_dead_letters() == 1
    assert [m.body for m in await receive_all(queue, 1)] == ["worse"]
    assert await queue.list_dead_letters() == []


async def test_depth_counts_visible_messages(make_queue: MakeQueue) -> None:
    queue = await make_queue(visibility_timeout=30)
    assert await queue.depth() == 0
    await queue.send([(f"m{i}", f"g{i}", f"d{i}") for i in range(3)])
    assert await queue.depth() == 3
    got = await queue.receive(1, wait_seconds=1)
    assert len(got) == 1
    assert await queue.depth() == 2


async def test_ping_on_a_healthy_queue(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    await queue.ping()
    assert isinstance(queue, Queue)


async def test_oldest_age_counts_from_the_send_of_the_oldest_message_still_there(
    make_queue: MakeQueue, backend: str
) -> None:
    queue = await make_queue(visibility_timeout=30)
    assert await queue.oldest_age() is None
    if backend == "sqs":
        # SQS has it only as a CloudWatch metric (ApproximateAgeOfOldestMessage), not a queue attribute.
        await queue.send([("first", "g", "1")])
        assert await queue.oldest_age() is None
        return
    assert isinstance(queue, LocalQueue)
    now = [1_000_000.0]
    queue.clock = lambda: now[0]
    await queue.send([("first", "g", "1")])
    now[0] += 60
    await queue.send([("second", "h", "2")])
    now[0] += 30
    assert await queue.oldest_age() == 90
    got = await queue.receive(10, wait_seconds=0)
    assert await queue.oldest_age() == 90  # in flight still counts: a stuck worker is what it shows
    await queue.ack([m for m in got if m.body == "first"])
    assert await queue.oldest_age() == 30
    await queue.ack([m for m in got if m.body == "second"])
    assert await queue.oldest_age() is None
