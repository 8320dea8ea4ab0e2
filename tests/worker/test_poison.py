"""A message that cannot be decoded is settled alone: its batch and its ordering group go on (issue 15)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from cosync_worker.config import Settings
from cosync_worker.events import Event
from cosync_worker.runtime import Runtime
from cosync_worker.worker import dispatcher

from .helpers import deal_change, run_until, send, trail_values

_DEEP = "[" * 100_000 + "]" * 100_000  # json itself raises RecursionError here, not ValueError
_PARSER_GAP = '{"explode": "in the parser"}'
_CORE_GAP = "explode-in-dispatch"


@pytest.fixture
def gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faults no parser or core code is known to have today, so the worker's guard is what is tested:
    a decoder that raises something other than ``ValueError``, and a dispatch that raises."""
    decode, dispatch = dispatcher.decode_message, dispatcher.Dispatcher.dispatch

    def decode_message(body: str | bytes) -> Event:
        if body == _PARSER_GAP:
            raise RecursionError("maximum recursion depth exceeded")
        return decode(body)

    async def failing_dispatch(self: dispatcher.Dispatcher, event: Event, **kw: Any) -> dispatcher.Outcome:
        if event.payload.get("propertyValue") == _CORE_GAP:
            raise KeyError("core bug")
        return await dispatch(self, event, **kw)

    monkeypatch.setattr(dispatcher, "decode_message", decode_message)
    monkeypatch.setattr(dispatcher.Dispatcher, "dispatch", failing_dispatch)


@pytest.mark.usefixtures("gaps")
async def test_undecodable_messages_between_good_ones_are_dead_lettered_alone(
    settings_for: Callable[..., Settings], backend: str
) -> None:
    good = [deal_change("poisoned", v) for v in ("first", "second", "third")]
    group = good[0].ordering_key
    bad: list[tuple[str | bytes, tuple[str, ...]]] = [
        (_PARSER_GAP, ("undecodable message: RecursionError: maximum recursion depth exceeded",)),
        (_DEEP, ("undecodable message: RecursionError", "invalid message: body: nests deeper")),
        (deal_change("poisoned", _CORE_GAP).to_json(), ("dispatch failed: KeyError: 'core bug'",)),
        ("[1, 2]", ("invalid message: body: must be a JSON object, got list",)),
        ('{"id": "x", "source": "hubspot"}', ("invalid message: type: field required",)),
    ]
    if backend == "local":  # SQS cannot carry a body that is not text; the local file can hold one
        bad.append((b'{"id": "\xff\xfe"}', ("undecodable message: body is not UTF-8 text",)))
    # good, bad, good, bad, ...: one send, one group, fewer than batch_size (10), so one receive claims all
    bodies: list[tuple[str | bytes, str]] = []
    for i, event in enumerate(good):
        bodies.append((event.to_json(), event.dedupe_key))
        bodies.extend((body, f"bad-{i}-{j}") for j, (body, _) in enumerate(bad[i :: len(good)]))
    assert len(bodies) <= 10
    async with Runtime(settings_for(batch_size=10)) as rt:
        queue = rt.context.queue
        await queue.send([(body, group, dedupe) for body, dedupe in bodies])  # type: ignore[misc]

        later = deal_change("poisoned", "fourth")
        seen: list[list[str]] = []

        async def batch_then_later_done() -> bool:
            values = await trail_values(rt, "poisoned")
            if not seen and len(values) == 3 and len(await queue.list_dead_letters()) == len(bad):
                seen.append(values)
                # The group is not blocked behind what was parked: its next message runs.
                await send(queue, [later])
            return len(values) == 4

        with capture_logs() as logs:
            # A batch killed by one message is redelivered every visibility timeout (5 s) until max_receives
            # parks it all: well past this bound.
            await run_until(rt, batch_then_later_done, timeout=30)

        assert seen == [["first", "second", "third"]]
        assert await trail_values(rt, "poisoned") == ["first", "second", "third", "fourth"]
        dead = await queue.list_dead_letters()
        reasons = sorted(d.reason for d in dead)
        for _, expected in bad:
            assert any(r.startswith(expected) for r in reasons), (expected, reasons)
        assert not [r for r in reasons if "max receives" in r]
        # The reason names the fault without dumping the body.
        assert all(len(r) <= 300 and "[[[" not in r for r in reasons), reasons
        assert _DEEP in {d.body for d in dead}  # parked as received, for inspection or replay

    parked = [e for e in logs if e["event"] == "event_dead_lettered"]
    assert sorted(e["reason"] for e in parked) == reasons
    assert not [e for e in logs if "exc_info" in e or e["event"] in ("batch_failed", "settle_failed")]
