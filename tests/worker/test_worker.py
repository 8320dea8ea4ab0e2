"""The worker through its public interface (queue in, store/DLQ out), on the local queue and on SQS (moto)."""

from __future__ import annotations

from collections.abc import Callable

from cosync_worker.config import Settings
from cosync_worker.relay.jobs import create_job, get_job
from cosync_worker.runtime import Runtime

from .helpers import deal_change, run_until, send, trail_values, wait_until


async def test_keeps_per_key_order_with_concurrency(
    settings_for: Callable[..., Settings], backend: str
) -> None:
    # 1,000 events over 50 keys locally. moto's FIFO send slows down with queue length (1,000 messages
    # take minutes to enqueue there), so SQS runs the same scenario with 200 events over 20 keys.
    keys, per_key = (50, 20) if backend == "local" else (20, 10)
    async with Runtime(settings_for(concurrency=16)) as rt:
        events = [deal_change(f"ord{k}", str(seq)) for seq in range(per_key) for k in range(keys)]
        await send(rt.context.queue, events)

        async def all_done() -> bool:
            return rt.worker.processed >= keys * per_key

        await run_until(rt, all_done)
        for k in range(keys):
            assert await trail_values(rt, f"ord{k}") == [str(i) for i in range(per_key)]


async def test_finished_events_stay_hidden_while_their_batch_runs_long(
    settings_for: Callable[..., Settings],
) -> None:
    # One slow event keeps its batch open past the 5 s visibility timeout. The batch's finished events wait
    # for its one ack call: if their visibility lapsed meanwhile they would be delivered and run again.
    settings = settings_for(recorder={"slow_seconds": 7.0}, batch_size=10, heartbeat_seconds=1)
    async with Runtime(settings) as rt:
        await send(
            rt.context.queue,
            [deal_change("fast", "0"), deal_change("fast", "1"), deal_change("slowk", "slow")],
        )

        async def slow_done() -> bool:
            return await trail_values(rt, "slowk") == ["slow"]

        # A lapse would have redelivered the fast ones at ~5 s, before the slow one ends at ~7 s
        await run_until(rt, slow_done)
        assert await trail_values(rt, "fast") == ["0", "1"]
        assert await trail_values(rt, "slowk") == ["slow"]


async def test_event_delivered_twice_runs_once(settings_for: Callable[..., Settings]) -> None:
    async with Runtime(settings_for()) as rt:
        event = deal_change("dup1", "qualifiedtobuy")
        # Once as sent, once more under another message-level dedupe id: the queue cannot catch the
        # second one, so only the processed-key store stands between it and a second effect.
        await rt.context.queue.send([(event.to_json(), event.ordering_key, event.dedupe_key)])
        await rt.context.queue.send([(event.to_json(), event.ordering_key, "redelivery-of-" + event.id[:8])])

        async def both_handled() -> bool:
            return rt.worker.processed >= 2

        await run_until(rt, both_handled)
        assert await trail_values(rt, "dup1") == ["qualifiedtobuy"]


async def test_permanent_error_lands_in_dlq_with_reason(settings_for: Callable[..., Settings]) -> None:
    async with Runtime(settings_for()) as rt:
        await send(rt.context.queue, [deal_change("p1", "poison"), deal_change("p1", "closedwon")])

        async def after_poison() -> bool:
            return await trail_values(rt, "p1") == ["closedwon"]

        await run_until(rt, after_poison)
        dead = await rt.context.queue.list_dead_letters()
        assert len(dead) == 1
        assert "recorder: property value 'poison' is not acceptable" in dead[0].reason
        assert '"poison"' in dead[0].body


async def test_retryable_error_is_retried_in_order(settings_for: Callable[..., Settings]) -> None:
    async with Runtime(settings_for()) as rt:
        await send(rt.context.queue, [deal_change("r1", "flaky"), deal_change("r1", "after")])

        async def both() -> bool:
            return len(await trail_values(rt, "r1")) == 2

        await run_until(rt, both)
        assert await trail_values(rt, "r1") == ["flaky", "after"]
        assert await rt.context.queue.list_dead_letters() == []


async def test_bad_messages_are_dead_lettered_and_the_worker_goes_on(
    settings_for: Callable[..., Settings],
) -> None:
    async with Runtime(settings_for()) as rt:
        queue = rt.context.queue
        await queue.send([("this is not json", "bad", "bad-1")])
        await queue.send([('{"id": "x", "source": "hubspot"}', "bad", "bad-2")])
        unknown = deal_change("u1", "x").model_copy(update={"type": "company.propertyChange"})
        await queue.send([(unknown.to_json(), "bad", "bad-3")])
        await send(queue, [deal_change("ok1", "fine")])

        async def good_one_done() -> bool:
            return await trail_values(rt, "ok1") == ["fine"]

        await run_until(rt, good_one_done)

        async def three_parked() -> bool:
            return len(await queue.list_dead_letters()) == 3

        await wait_until(three_parked, timeout=10)
        reasons = sorted(d.reason for d in await queue.list_dead_letters())
        assert any(r.startswith("invalid message: body: is not valid JSON") for r in reasons)
        assert any("invalid message: type: field required" in r for r in reasons)
        assert any("unknown event type 'company.propertyChange'" in r for r in reasons)


async def test_an_api_jobs_dead_lettered_event_fails_the_job_with_the_reason(
    settings_for: Callable[..., Settings],
) -> None:
    # Otherwise GET /jobs/{id} would say "running" forever for a job nobody will finish.
    async with Runtime(settings_for()) as rt:
        job_id = await create_job(rt.context.store, "rollback", {"opportunityId": "O1"})
        poison = deal_change("j1", "poison")
        poison.payload["job_id"] = job_id
        await send(rt.context.queue, [poison, deal_change("j1", "closedwon")])

        async def after_poison() -> bool:
            return await trail_values(rt, "j1") == ["closedwon"]

        await run_until(rt, after_poison)
        job = await get_job(rt.context.store, job_id)
        assert job is not None and job.status == "failed"
        assert (
            job.error is not None
            and "dead-lettered" in job.error
            and "'poison' is not acceptable" in job.error
        )
