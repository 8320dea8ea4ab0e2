"""EventBridge sources come from plugins (``cosync_event_sources``): registering a plugin teaches the core's
decoder its events, their metric labels included; the core itself knows no source."""

from __future__ import annotations

import json

import pytest

from cosync_worker import metrics
from cosync_worker.events import InvalidEvent, decode_message, parse_eventbridge_event
from cosync_worker.hooks import EventSourceSpec, PluginManager, hookimpl

ACME = EventSourceSpec(
    source="acme.cosell",
    system="acme",
    objects={"Ticket": ("ticket", ("ticket",))},
    detail_types=("Ticket Opened",),
    scope_key="region",
    scope_default="eu",
    label="Acme Co-Sell",
)


class AcmeSources:
    @hookimpl
    async def cosync_event_sources(self) -> list[EventSourceSpec]:
        return [ACME]


def _raw(detail_type: str = "Ticket Opened", **detail: object) -> dict[str, object]:
    return {
        "id": "ev-1",
        "source": "acme.cosell",
        "detail-type": detail_type,
        "time": "2026-02-18T10:00:00Z",
        "detail": {"ticket": {"id": "T-9"}, **detail},
    }


def test_a_registered_plugin_s_source_is_decoded_and_labelled() -> None:
    PluginManager().register(AcmeSources())
    event = decode_message(json.dumps(_raw(region="us")))
    assert (event.type, event.object.system, event.object.type, event.object.id) == (
        "acme.ticket_opened",
        "acme",
        "ticket",
        "T-9",
    )
    assert event.ordering_key == "acme:us:ticket:T-9" and event.dedupe_key == "eventbridge:ev-1"
    assert parse_eventbridge_event(_raw()).ordering_key == "acme:eu:ticket:T-9"
    assert metrics.event_type_label("acme.ticket_opened") == "acme.ticket_opened"
    with pytest.raises(InvalidEvent, match="^detail-type: unknown Acme Co-Sell event"):
        parse_eventbridge_event(_raw("Invoice Paid"))


def test_a_source_declared_twice_differently_is_refused_by_name() -> None:
    PluginManager().register(AcmeSources())

    class Rival:
        @hookimpl
        def cosync_event_sources(self) -> list[EventSourceSpec]:
            return [EventSourceSpec(source="acme.cosell", system="rival", objects={})]

    with pytest.raises(ValueError, match="'acme.cosell' is declared twice"):
        PluginManager().register(Rival())
