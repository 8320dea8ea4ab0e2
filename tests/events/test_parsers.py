"""Parsers are pure: every malformed input names its field; nothing escapes as KeyError/ValidationError."""

from __future__ import annotations

import json

import pytest

from cosync_worker.events import (
    Event,
    InvalidEvent,
    decode_message,
    parse_eventbridge_event,
    parse_hubspot_batch,
    schedule_tick,
)

HS = {
    "eventId": 100,
    "subscriptionId": 7,
    "portalId": 62515,
    "appId": 424242,
    "occurredAt": 1_700_000_000_000,
    "subscriptionType": "deal.propertyChange",
    "attemptNumber": 0,
    "objectId": 123,
    "propertyName": "dealstage",
    "propertyValue": "closedwon",
    "changeSource": "CRM_UI",
}

EB = {
    "version": "0",
    "id": "5c1a2b3c-0000-4000-8000-000000000001",
    "detail-type": "Opportunity Updated",
    "source": "aws.partnercentral-selling",
    "account": "123456789012",
    "time": "2026-11-20T10:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"schemaVersion": "1", "catalog": "Sandbox", "opportunity": {"identifier": "O1234567"}},
}


def test_hubspot_batch_becomes_one_event_per_item() -> None:
    events = parse_hubspot_batch(json.dumps([HS, {**HS, "eventId": 101, "objectId": 124}]).encode())
    assert [e.object.id for e in events] == ["123", "124"]
    first = events[0]
    assert first.source == "hubspot" and first.type == "deal.propertyChange"
    assert first.ordering_key == "hubspot:deal:123"
    assert first.dedupe_key == "hubspot:100"
    assert first.payload["propertyValue"] == "closedwon"
    assert first.received_at.year == 2023


def test_an_association_change_is_the_event_of_its_from_object() -> None:
    """HubSpot's association change names both ends and no ``objectId``
    (https://developers.hubspot.com/docs/api/webhooks#webhook-payloads); one without ``fromObjectId`` names
    the field."""
    change = {k: v for k, v in HS.items() if k not in ("objectId", "propertyName", "propertyValue")}
    change.update(
        subscriptionType="deal.associationChange",
        fromObjectId=123,
        toObjectId=987,
        associationType="DEAL_TO_COMPANY",
        associationRemoved=False,
    )
    [event] = parse_hubspot_batch(json.dumps([change]).encode())
    assert (event.type, event.object.id, event.ordering_key) == (
        "deal.associationChange",
        "123",
        "hubspot:deal:123",
    )
    assert event.payload["toObjectId"] == 987
    del change["fromObjectId"]
    with pytest.raises(InvalidEvent) as info:
        parse_hubspot_batch(json.dumps([change]).encode())
    assert str(info.value).startswith("[0].fromObjectId: is required"), str(info.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "body: is not valid JSON"),
        (b'{"a": 1}', "body: must be a JSON array of events, got dict"),
        (json.dumps([{**HS, "objectId": None}]).encode(), "[0].objectId: is required"),
        (
            json.dumps([HS, {**HS, "subscriptionType": "widget.creation"}]).encode(),
            "[1].subscriptionType: unknown object type (one of",
        ),
        (json.dumps([{**HS, "eventId": True}]).encode(), "[0].eventId: must be int or str, got bool"),
        (
            json.dumps([{**HS, "occurredAt": "yesterday"}]).encode(),
            "[0].occurredAt: must be epoch milliseconds",
        ),
        (json.dumps([5]).encode(), "[0]: must be an object, got int"),
    ],
)
def test_hubspot_batch_errors_name_the_field(body: bytes, message: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_hubspot_batch(body)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # json.loads lets NaN, Infinity and out-of-range floats through; datetime cannot hold the rest.
        (
            b'[{"eventId": 1, "subscriptionType": "deal.creation", "objectId": 1, "occurredAt": NaN}]',
            "finite",
        ),
        (
            b'[{"eventId": 1, "subscriptionType": "deal.creation", "objectId": 1, "occurredAt": -Infinity}]',
            "finite",
        ),
        (
            b'[{"eventId": 1, "subscriptionType": "deal.creation", "objectId": 1, "occurredAt": 1e400}]',
            "finite",
        ),
        (json.dumps([{**HS, "occurredAt": 1e20}]).encode(), "between 1970 and 9999"),
        (json.dumps([{**HS, "occurredAt": -1e16}]).encode(), "between 1970 and 9999"),
        (json.dumps([{**HS, "occurredAt": 10**30}]).encode(), "between 1970 and 9999"),
    ],
)
def test_hubspot_occurred_at_out_of_range_names_the_field(body: bytes, message: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_hubspot_batch(body)
    assert info.value.field == "[0].occurredAt" and message in info.value.problem


@pytest.mark.parametrize("key", ["objectId", "eventId"])
@pytest.mark.parametrize(
    "value", ["1" * 200, "..", "../../crm/v3/owners", "12/34", -5, 10**25, "", "\uff11\uff12"]
)
def test_hubspot_ids_must_be_numeric_and_short(key: str, value: object) -> None:
    body = json.dumps([HS, {**HS, key: value}]).encode()
    with pytest.raises(InvalidEvent) as info:
        parse_hubspot_batch(body)
    assert info.value.field == f"[1].{key}"
    assert len(str(value)) < 3 or str(value) not in info.value.problem


def test_longest_hubspot_ids_fit_the_queue_keys() -> None:
    event = parse_hubspot_batch(json.dumps([{**HS, "objectId": "9" * 20, "eventId": 10**19}]))[0]
    assert event.object.id == "9" * 20 and len(event.ordering_key) <= 128 and len(event.dedupe_key) <= 128


def test_deep_nesting_is_an_invalid_event_not_a_recursion_error() -> None:
    for body in (b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000):
        with pytest.raises(InvalidEvent, match="^body: nests deeper than"):
            parse_hubspot_batch(body)
        with pytest.raises(InvalidEvent, match="^body: nests deeper than"):
            decode_message(body)
    nested: object = 1
    for _ in range(40):
        nested = [nested]
    with pytest.raises(InvalidEvent, match=r"^\[0\]\.extra\[0\].*nests deeper than"):
        parse_hubspot_batch(json.dumps([{**HS, "extra": nested}]))


def test_lone_surrogate_names_its_field_and_a_pair_is_fine() -> None:
    lone = b'[{"eventId": 1, "subscriptionType": "deal.creation", "objectId": 1, "propertyValue": "\\ud800"}]'
    with pytest.raises(InvalidEvent) as info:
        parse_hubspot_batch(lone)
    assert info.value.field == "[0].propertyValue" and "surrogate" in info.value.problem
    pair = lone.replace(b"\\ud800", b"\\ud83d\\ude00")
    event = parse_hubspot_batch(pair)[0]
    assert event.payload["propertyValue"] == "\U0001f600"
    assert decode_message(event.to_json()) == event


def test_messages_never_quote_the_input() -> None:
    hostile = "<script>x</script>"
    for change in ({"subscriptionType": f"deal.{hostile}"}, {"subscriptionType": f"{hostile}.creation"}):
        with pytest.raises(InvalidEvent) as info:
            parse_hubspot_batch(json.dumps([{**HS, **change}]))
        assert hostile not in str(info.value)


def test_eventbridge_event_is_keyed_by_catalog_and_object() -> None:
    event = parse_eventbridge_event(EB)
    assert event.type == "partnercentral.opportunity_updated"
    assert (event.object.system, event.object.type, event.object.id) == (
        "partnercentral",
        "opportunity",
        "O1234567",
    )
    assert event.ordering_key == "partnercentral:Sandbox:opportunity:O1234567"
    assert event.dedupe_key == f"eventbridge:{EB['id']}"


def test_eventbridge_invitation_event() -> None:
    inv = {
        **EB,
        "detail-type": "Engagement Invitation Created",
        "detail": {"catalog": "AWS", "engagementInvitation": {"id": "engi-1"}},
    }
    event = parse_eventbridge_event(inv)
    assert event.type == "partnercentral.engagement_invitation_created"
    assert event.object.type == "engagement_invitation" and event.object.id == "engi-1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"source": "aws.s3"}, "source: unknown source 'aws.s3'"),
        ({"detail-type": "Something Else"}, "detail-type: unknown Partner Central event 'Something Else'"),
        ({"detail": {"catalog": "AWS"}}, "detail.opportunity.identifier: is required"),
        ({"detail": "x"}, "detail: must be dict, got str"),
        ({"time": "not-a-time"}, "time: 'not-a-time' is not an ISO 8601 timestamp"),
    ],
)
def test_eventbridge_errors_name_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_eventbridge_event({**EB, **change})
    assert str(info.value).startswith(message)


def test_schedule_tick_dedupes_per_slot() -> None:
    a, b = schedule_tick("summary_sync", 42), schedule_tick("summary_sync", 42)
    assert a.id != b.id and a.dedupe_key == b.dedupe_key == "summary_sync:42"
    assert schedule_tick("summary_sync", 43).dedupe_key != a.dedupe_key


def test_decode_message_round_trips_and_accepts_raw_eventbridge() -> None:
    event = parse_hubspot_batch(json.dumps([HS]))[0]
    assert decode_message(event.to_json()) == event
    assert decode_message(json.dumps(EB)).type == "partnercentral.opportunity_updated"
    with pytest.raises(InvalidEvent, match="^attempt: input should be greater than or equal to 0"):
        decode_message(json.dumps({**json.loads(event.to_json()), "attempt": -1}))
    with pytest.raises(InvalidEvent, match="^body: must be a JSON object, got list"):
        decode_message("[]")
    assert isinstance(decode_message(event.to_json()), Event)
