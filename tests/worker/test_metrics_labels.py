"""Event types come from outside: /metrics must not grow a series per invented type (issue 15)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY, generate_latest

from cosync_worker.runtime import Runtime

from .conftest import make_settings
from .helpers import deal_change, run_until, send

_INVENTED = 300


def _cosync_series() -> list[str]:
    """The sample lines of cosync's own metrics, as a scrape of /metrics shows them."""
    text = generate_latest(REGISTRY).decode()
    return [line for line in text.splitlines() if line.startswith("cosync_")]


async def test_invented_event_types_share_one_other_label(tmp_path: Path) -> None:
    # The recorder handles ``deal.*`` (so invented deal types are processed) but not ``ticket.*`` (so
    # those are dead-lettered as unknown): between them every metric with a ``type`` label is reached.
    known = deal_change("known", "a")
    invented = [
        deal_change(f"inv{i}", "x").model_copy(update={"type": f"{kind}.invented{i}"})
        for i in range(_INVENTED)
        for kind in ("deal", "ticket")
    ]
    async with Runtime(make_settings(tmp_path, "local", batch_size=10)) as rt:
        before = set(_cosync_series())
        await send(rt.context.queue, [known, *invented])

        async def all_settled() -> bool:
            return (
                rt.worker.processed >= 1 + _INVENTED
                and len(await rt.context.queue.list_dead_letters(limit=10_000)) >= _INVENTED
            )

        await run_until(rt, all_settled, timeout=120)

    new = set(_cosync_series()) - before
    assert not [s for s in new if "invented" in s]
    # One label set per metric for ``other`` (a histogram is its buckets, sum, count and created), plus
    # the known type's: a bound that does not grow with the number of types.
    assert len(new) <= 2 * 20, sorted(new)
    assert any('type="other"' in s and s.startswith("cosync_event_processing_seconds") for s in new)
    assert any('type="other"' in s and s.startswith("cosync_events_dead_lettered_total") for s in new)
    assert any('type="deal.propertyChange"' in s for s in _cosync_series())
