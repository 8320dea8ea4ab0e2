"""WriteCoalescer (cosync_worker.hubspot.coalesce): writes made within one window go out as one batch call,
a write alone as the single-object call, and a failed batch fails every caller in it. The window is a gate
the test opens (no time window, no machine speed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cosync_worker.hubspot.coalesce import WriteCoalescer

BOUND = 10.0


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.fail = False

    async def _call(self, name: str, object_type: str, body: Any) -> dict[str, Any]:
        self.calls.append((name, object_type, body))
        if self.fail:
            raise RuntimeError("HubSpot answered 500 (injected)")
        return {"id": "1"}

    async def update(self, object_type: str, object_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        return await self._call("update", object_type, (object_id, properties))

    async def create(self, object_type: str, properties: dict[str, Any], *, associations: Any = None) -> Any:
        return await self._call("create", object_type, (properties, associations))

    async def batch_update(self, object_type: str, inputs: list[dict[str, Any]]) -> Any:
        return await self._call("batch_update", object_type, inputs)

    async def batch_create(self, object_type: str, inputs: list[dict[str, Any]]) -> Any:
        return await self._call("batch_create", object_type, inputs)


class Gate:
    """The window's sleep: it ends when the test opens the gate."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.waiting = 0

    async def sleep(self, _seconds: float) -> None:
        self.waiting += 1
        await self.opened.wait()


async def _until(check: Any) -> None:
    for _ in range(int(BOUND / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never")


async def test_writes_of_one_window_share_one_batch_call_per_kind() -> None:
    client, gate = FakeClient(), Gate()
    batch = WriteCoalescer(client, 1.0, sleep=gate.sleep)  # type: ignore[arg-type]
    link = [
        {"to": {"id": "d1"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}]}
    ]
    callers = [
        asyncio.create_task(batch.update("deals", "d1", {"aws_last_sync_date": "1"})),
        asyncio.create_task(batch.update("deals", "d2", {"aws_last_sync_date": "2"})),
        asyncio.create_task(batch.update("deals", "d1", {"aws_sync_status": "synced"})),
        asyncio.create_task(batch.create("notes", {"hs_note_body": "a"}, link)),
        asyncio.create_task(batch.create("notes", {"hs_note_body": "b"}, link)),
    ]
    await _until(lambda: gate.waiting == 2)  # one window per kind
    assert client.calls == [] and not any(c.done() for c in callers)
    gate.opened.set()
    await asyncio.wait_for(asyncio.gather(*callers), BOUND)
    assert sorted(name for name, _, _ in client.calls) == ["batch_create", "batch_update"]
    updates = next(body for name, _, body in client.calls if name == "batch_update")
    # one input per deal: HubSpot refuses a batch naming one id twice; later properties join earlier ones
    assert updates == [
        {"id": "d1", "properties": {"aws_last_sync_date": "1", "aws_sync_status": "synced"}},
        {"id": "d2", "properties": {"aws_last_sync_date": "2"}},
    ]
    notes = next(body for name, _, body in client.calls if name == "batch_create")
    assert [n["properties"]["hs_note_body"] for n in notes] == ["a", "b"]
    assert notes[0]["associations"] == link
    assert (batch.calls, batch.writes) == (2, 5)


async def test_a_write_alone_in_its_window_is_the_single_object_call() -> None:
    client, gate = FakeClient(), Gate()
    batch = WriteCoalescer(client, 1.0, sleep=gate.sleep)  # type: ignore[arg-type]
    gate.opened.set()
    await asyncio.wait_for(batch.update("deals", "d1", {"aws_last_sync_date": "1"}), BOUND)
    await asyncio.wait_for(batch.create("notes", {"hs_note_body": "a"}), BOUND)
    assert [name for name, _, _ in client.calls] == ["update", "create"]
    # no window at all: at once
    now = WriteCoalescer(client, 0.0)  # type: ignore[arg-type]
    await asyncio.wait_for(now.update("deals", "d2", {"x": "1"}), BOUND)
    assert client.calls[-1] == ("update", "deals", ("d2", {"x": "1"}))


async def test_a_failed_batch_fails_every_caller_in_it() -> None:
    """A caller must never take its write for landed when its batch did not (its note key is released and
    its event retried)."""
    client, gate = FakeClient(), Gate()
    client.fail = True
    batch = WriteCoalescer(client, 1.0, sleep=gate.sleep)  # type: ignore[arg-type]
    callers = [
        asyncio.create_task(batch.update("deals", d, {"aws_last_sync_date": "1"})) for d in ("d1", "d2")
    ]
    await _until(lambda: gate.waiting == 1)
    gate.opened.set()
    results = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), BOUND)
    assert all(isinstance(r, RuntimeError) for r in results), results
    client.fail = False  # the next window starts afresh
    gate.opened.set()
    await asyncio.wait_for(batch.update("deals", "d1", {"aws_last_sync_date": "2"}), BOUND)
    assert client.calls[-1][0] == "update"


async def test_a_direct_write_takes_the_objects_queued_updates_with_it() -> None:
    """A push's stamp waits in its window; an error then written to the same deal at once must not be
    overwritten by that older stamp a window later: the stamp goes out in the direct write, under it."""
    client, gate = FakeClient(), Gate()
    batch = WriteCoalescer(client, 1.0, sleep=gate.sleep)  # type: ignore[arg-type]
    stamp = asyncio.create_task(batch.update("deals", "d1", {"aws_sync_status": "synced", "by": "rep"}))
    other = asyncio.create_task(batch.update("deals", "d2", {"by": "rep"}))
    await _until(lambda: gate.waiting == 1)
    await asyncio.wait_for(batch.update_now("deals", "d1", {"aws_sync_status": "error"}), BOUND)
    assert client.calls == [("update", "deals", ("d1", {"aws_sync_status": "error", "by": "rep"}))]
    await asyncio.wait_for(stamp, BOUND)  # answered by the direct write
    assert not other.done()  # another deal's stamp still waits for its window
    gate.opened.set()
    await asyncio.wait_for(other, BOUND)
    assert client.calls[-1] == ("update", "deals", ("d2", {"by": "rep"}))


async def test_a_failed_direct_write_fails_the_updates_it_took() -> None:
    client, gate = FakeClient(), Gate()
    batch = WriteCoalescer(client, 1.0, sleep=gate.sleep)  # type: ignore[arg-type]
    stamp = asyncio.create_task(batch.update("deals", "d1", {"by": "rep"}))
    await _until(lambda: gate.waiting == 1)
    client.fail = True
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(batch.update_now("deals", "d1", {"aws_sync_status": "error"}), BOUND)
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(stamp, BOUND)


async def test_hurry_ends_every_window_at_once() -> None:
    """A graceful stop does not wait out the windows (the gate is never opened here)."""
    client, gate = FakeClient(), Gate()
    batch = WriteCoalescer(client, 1.0, sleep=gate.sleep)  # type: ignore[arg-type]
    waiting = [
        asyncio.create_task(batch.update("deals", "d1", {"by": "rep"})),
        asyncio.create_task(batch.create("notes", {"hs_note_body": "a"})),
    ]
    await _until(lambda: gate.waiting == 2)
    batch.hurry()
    await asyncio.wait_for(asyncio.gather(*waiting), BOUND)
    assert sorted(name for name, _, _ in client.calls) == ["create", "update"]
    # and a write queued after it goes out at once
    await asyncio.wait_for(batch.update("deals", "d2", {"by": "rep"}), BOUND)
    assert gate.waiting == 2


async def test_a_write_queued_soon_is_taken_by_a_direct_write_made_before_it_ran() -> None:
    """``update_soon`` queues at the call, not at the caller's next await: a flow that queues its stamp and
    then writes the deal directly has the stamp carried by that write."""
    client, gate = FakeClient(), Gate()
    batch = WriteCoalescer(client, 1.0, sleep=gate.sleep)  # type: ignore[arg-type]
    stamp = batch.update_soon("deals", "d1", {"aws_sync_status": "synced"})
    await asyncio.wait_for(batch.update_now("deals", "d1", {"aws_sync_status": "error"}), BOUND)
    assert client.calls == [("update", "deals", ("d1", {"aws_sync_status": "error"}))]
    await asyncio.wait_for(stamp, BOUND)


class SlowClient(FakeClient):
    """Its batch calls wait for ``answer``: a batch under way while a direct write comes."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = asyncio.Event()

    async def batch_update(self, object_type: str, inputs: list[dict[str, Any]]) -> Any:
        self.calls.append(("batch_update", object_type, inputs))
        await self.answer.wait()
        return {}


async def test_a_direct_write_waits_for_a_batch_under_way_with_the_same_object() -> None:
    client, gate = SlowClient(), Gate()
    batch = WriteCoalescer(client, 1.0, sleep=gate.sleep)  # type: ignore[arg-type]
    stamps = [batch.update_soon("deals", d, {"aws_sync_status": "synced"}) for d in ("d1", "d2")]
    gate.opened.set()
    await _until(lambda: len(client.calls) == 1)  # the batch is sent, not answered
    direct = asyncio.create_task(batch.update_now("deals", "d1", {"aws_sync_status": "error"}))
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(client.calls) == 1 and not direct.done()  # it would race the batch to HubSpot
    client.answer.set()
    await asyncio.wait_for(asyncio.gather(direct, *stamps), BOUND)
    assert client.calls[-1] == ("update", "deals", ("d1", {"aws_sync_status": "error"}))
