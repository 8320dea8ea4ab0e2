"""The connectors of one event fail alone (issue 16): one that fails permanently, asks for a retry or waits on
a lock neither drops nor holds up another's handling of the event, and a dead letter's replay runs only the
connector that failed it. Through the queue, on both backends, with the recorder connector (``poison``
fails permanently, ``flaky`` asks for one retry) beside an SDK connector of this module."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from cosync_worker.config import Settings
from cosync_worker.connector import Connector, Event, on
from cosync_worker.hooks import PluginManager
from cosync_worker.runtime import Runtime
from cosync_worker.store import AuditEntry
from cosync_worker.worker.loop import retry_lane

from .helpers import deal_change, run_until, send, wait_until

pytestmark = pytest.mark.timeout(120)


class Witness(Connector):
    """Handles every deal event beside the recorder, noting each one it finished."""

    name = "witness"

    @on("deal.*")
    async def deal(self, event: Event) -> None:
        await self.note(event, "done")

    async def note(self, event: Event, action: str) -> None:
        entry = AuditEntry(object_key=event.ordering_key, system=self.name, action=action)
        await self.store.append_audit(entry)


class Patient(Witness):
    """Takes the deal's lock (waiting as long as it takes) before finishing, as a connector serialising its
    own work on one deal does."""

    name = "patient"

    @on("deal.*")
    async def deal(self, event: Event) -> None:
        await self.note(event, "started")
        async with self.lock(event.object.id, ttl_seconds=120, wait_seconds=120):
            await self.note(event, "done")


class Other(Patient):
    name = "other"


async def _actions(rt: Runtime, deal: str, system: str) -> list[str]:
    trail = await rt.context.store.audit_trail(f"hubspot:deal:{deal}", limit=1000)
    return [e.action for e in trail if e.system == system]


def _with(*connectors: type[Connector]) -> PluginManager:
    plugins = PluginManager()
    for connector in connectors:
        plugins.register(connector)
    return plugins


async def test_a_permanent_failure_leaves_the_others_done_and_its_replay_runs_it_alone(
    settings_for: Callable[..., Settings],
) -> None:
    event = deal_change("alone", "poison")
    async with Runtime(settings_for(), plugins=_with(Witness), entry_points=False) as rt:
        queue = rt.context.queue
        await send(queue, [event])

        async def parked() -> bool:
            return len(await queue.list_dead_letters()) == 1

        await run_until(rt, parked, timeout=60)
        assert await _actions(rt, "alone", "witness") == ["done"]
        assert await _actions(rt, "alone", "recorder") == []
        [dead] = await queue.list_dead_letters()
        assert dead.connectors == ["recorder"]
        assert dead.reason.startswith("recorder: property value 'poison' is not acceptable")
        assert Event.from_json(dead.body).dedupe_key == event.dedupe_key

    # The cause removed (the recorder now accepts the value), the replay runs the recorder alone.
    settings = settings_for(recorder={"permanent_value": "something else"})
    async with Runtime(settings, plugins=_with(Witness), entry_points=False) as rt:
        assert await rt.context.queue.replay_dead_letters() == 1

        async def recorded() -> bool:
            return await _actions(rt, "alone", "recorder") == ["deal.propertyChange"]

        await run_until(rt, recorded, timeout=60)
        assert await _actions(rt, "alone", "witness") == ["done"]
        assert await rt.context.queue.list_dead_letters() == []


async def test_a_retry_of_one_connector_does_not_run_the_others_again(
    settings_for: Callable[..., Settings],
) -> None:
    async with Runtime(settings_for(), plugins=_with(Witness), entry_points=False) as rt:
        await send(rt.context.queue, [deal_change("again", "flaky")])

        async def acked() -> bool:
            return rt.worker.processed == 1

        await run_until(rt, acked, timeout=60)
        assert await _actions(rt, "again", "recorder") == ["deal.propertyChange"]
        assert await _actions(rt, "again", "witness") == ["done"]


async def test_a_connector_waiting_on_a_lock_does_not_hold_up_another(
    settings_for: Callable[..., Settings],
) -> None:
    # Both wait on a lock someone else holds, so whichever would run first one after the other, the other
    # must start while it waits; each then finishes when its own lock is freed, whatever the other does.
    async with Runtime(settings_for(), plugins=_with(Patient, Other), entry_points=False) as rt:
        store = rt.context.store
        for name in ("patient", "other"):
            assert await store.acquire_lease(f"{name}:locked", "a replica", 120) is not None
        await send(rt.context.queue, [deal_change("locked", "v")])
        task = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False))
        try:

            async def both_started() -> bool:
                seen = [await _actions(rt, "locked", name) for name in ("patient", "other")]
                return seen == [["started"], ["started"]]

            await wait_until(both_started, timeout=60)
            await store.release_lease("other:locked", "a replica")

            async def other_done() -> bool:
                return await _actions(rt, "locked", "other") == ["started", "done"]

            await wait_until(other_done, timeout=60)
            assert await _actions(rt, "locked", "patient") == ["started"]
            assert rt.worker.processed == 0  # the message waits for the patient one, not the other way
            await store.release_lease("patient:locked", "a replica")

            async def acked() -> bool:
                return rt.worker.processed == 1

            await wait_until(acked, timeout=60)
            assert await _actions(rt, "locked", "patient") == ["started", "done"]
            assert await _actions(rt, "locked", "other") == ["started", "done"]
        finally:
            rt.stop()
            await asyncio.wait_for(task, 30)


class Deferring(Witness):
    """Asks for a retry far in the future while a lock it needs is held (a lease of a killed replica)."""

    name = "deferring"

    @on("deal.*")
    async def deal(self, event: Event) -> None:
        async with self.lock("held", ttl_seconds=1200, wait_seconds=0):  # Retry(defer=600) while held
            await self.note(event, "done")


async def test_a_retry_of_one_connector_does_not_hold_the_objects_later_events_for_another(
    settings_for: Callable[..., Settings],
) -> None:
    # Before: the retry put the message back for 600 s, and the deal's next event waited behind it for all.
    async with Runtime(settings_for(), plugins=_with(Witness, Deferring), entry_points=False) as rt:
        store = rt.context.store
        assert await store.acquire_lease("deferring:held", "a killed replica", 1200) is not None
        await send(rt.context.queue, [deal_change("lane", "a", 1), deal_change("lane", "b", 2)])

        async def witnessed_both() -> bool:
            return await _actions(rt, "lane", "witness") == ["done", "done"]

        await run_until(rt, witnessed_both, timeout=60)  # a bound far under the 600 s deferral
        assert await _actions(rt, "lane", "deferring") == []
        assert await rt.context.queue.list_dead_letters() == []  # its retries wait in a group of their own


class Contended(Witness):
    """Needs a lock another replica holds for longer than all its attempts would last: each try is a wait."""

    name = "contended"

    @on("deal.*")
    async def deal(self, event: Event) -> None:
        await self.note(event, "tried")
        async with self.lock("held", ttl_seconds=0.2, wait_seconds=0):  # Busy(defer=0.1) while held
            await self.note(event, "done")


async def test_waiting_for_another_workers_lock_is_not_an_attempt(
    settings_for: Callable[..., Settings],
) -> None:
    # max_attempts is 3: a slow holder used to dead-letter the events queued behind it after three tries
    # ("gave up after 8 attempts: lock ... is held by another worker" in the SQS fault suite, issue 15).
    async with Runtime(settings_for(), plugins=_with(Contended), entry_points=False) as rt:
        store = rt.context.store
        assert await store.acquire_lease("contended:held", "a slow replica", 600) is not None
        await send(rt.context.queue, [deal_change("slow", "v")])
        task = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False))
        try:

            async def waited_past_the_attempts() -> bool:
                return (await _actions(rt, "slow", "contended")).count("tried") >= 6

            await wait_until(waited_past_the_attempts, timeout=60)
            assert await rt.context.queue.list_dead_letters() == []
            await store.release_lease("contended:held", "a slow replica")

            async def done() -> bool:
                return "done" in await _actions(rt, "slow", "contended")

            await wait_until(done, timeout=60)
            assert (await _actions(rt, "slow", "contended")).count("done") == 1
            assert await rt.context.queue.list_dead_letters() == []
        finally:
            rt.stop()
            await asyncio.wait_for(task, 30)


async def test_the_waits_for_a_lock_that_never_frees_are_bounded_and_named(
    settings_for: Callable[..., Settings],
) -> None:
    settings = settings_for(retry={"max_busy_waits": 4})
    async with Runtime(settings, plugins=_with(Contended), entry_points=False) as rt:
        store = rt.context.store
        assert await store.acquire_lease("contended:held", "a stuck replica", 600) is not None
        await send(rt.context.queue, [deal_change("stuck", "v")])

        async def parked() -> bool:
            return len(await rt.context.queue.list_dead_letters()) == 1

        await run_until(rt, parked, timeout=60)
        [dead] = await rt.context.queue.list_dead_letters()
        assert dead.reason.startswith("gave up after 4 waits for another worker: contended: lock")
        assert dead.connectors == ["contended"]
        assert (await _actions(rt, "stuck", "contended")).count("tried") == 5


def test_a_retry_re_sent_again_keeps_its_lane() -> None:
    # The SQLite fault suite's invitation event waited 51 times: each re-send appended "|retry:aws" again.
    once = retry_lane("partnercentral:Sandbox:engagement_invitation:engi-1", ["aws"])
    assert once == "partnercentral:Sandbox:engagement_invitation:engi-1|retry:aws"
    assert retry_lane(once, ["aws"]) == once
    assert (
        retry_lane(once, ["aws", "gcp"])
        == "partnercentral:Sandbox:engagement_invitation:engi-1|retry:aws+gcp"
    )
