"""Input from outside, as an attacker or a buggy sender would send it, over real loopback HTTP: every answer is
a 4xx problem naming the field, nothing is queued, and nothing the caller sent is quoted back."""

from __future__ import annotations

import json

import pytest

from .conftest import TOKENS, RelayFactory, raw_http

PROBLEM = "application/problem+json"
AUTH = {"Authorization": f"Bearer {TOKENS[0]}"}
EVIL = "EVIL7c1<script>"


def _event(i: int, **change: object) -> dict[str, object]:
    return {
        "eventId": 500 + i,
        "subscriptionType": "deal.propertyChange",
        "objectId": 7000 + i,
        "occurredAt": 1_700_000_000_000,
        "propertyName": "dealstage",
        "propertyValue": "closedwon",
        **change,
    }


def _batch_with(bad: dict[str, object]) -> bytes:
    """Three events, the middle one bad: the whole batch must be refused naming ``[1]``."""
    return json.dumps([_event(0), _event(1, **bad), _event(2)]).encode()


def _raw_occurred(literal: str) -> bytes:
    # NaN and Infinity are not JSON, so json.dumps would not write them; HubSpot's parser in Python reads them.
    return _batch_with({"occurredAt": 0}).replace(
        b'"occurredAt": 0,', f'"occurredAt": {literal},'.encode(), 1
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_batch_with({"occurredAt": 1e20}), "[1].occurredAt"),
        (_batch_with({"occurredAt": -1e16}), "[1].occurredAt"),
        (_raw_occurred("NaN"), "[1].occurredAt"),
        (_raw_occurred("Infinity"), "[1].occurredAt"),
        (_raw_occurred("-Infinity"), "[1].occurredAt"),
        (_raw_occurred("1e999"), "[1].occurredAt"),
        (_batch_with({"objectId": "1" * 200}), "[1].objectId"),
        (_batch_with({"eventId": "1" * 200}), "[1].eventId"),
        (_batch_with({"objectId": ".."}), "[1].objectId"),
        (_batch_with({"objectId": "../../crm/v3/objects/deals/1"}), "[1].objectId"),
        (_batch_with({"objectId": "12?archived=true"}), "[1].objectId"),
        (_batch_with({"propertyValue": "\ud800"}), "[1].propertyValue"),
        (_batch_with({"subscriptionType": "deal." + "x" * 500}), "[1].subscriptionType"),
        (b"[" * 100_000, "body"),
        (b"[" * 100_000 + b"]" * 100_000, "body"),
        (
            json.dumps(
                [
                    _event(0),
                    _event(1, extra=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
                ]
            ).encode(),
            None,
        ),
        (b"\xff\xfe\x00[", "body"),
    ],
)
async def test_signed_webhook_with_a_bad_value_is_400_naming_it_and_queues_nothing(
    make_relay: RelayFactory, body: bytes, field: str | None
) -> None:
    relay = await make_relay()
    resp = await relay.post_signed("/webhooks/hubspot", body)
    assert resp.status == 400, await resp.text()
    assert resp.content_type == PROBLEM
    problem = await resp.json()
    assert problem["type"] == "urn:cosync:problem:invalid-event"
    named = problem["errors"][0]["field"]
    assert named == field if field else named.startswith("[1].extra")
    assert await relay.queue.depth() == 0


async def test_the_same_batch_without_its_bad_event_is_accepted(make_relay: RelayFactory) -> None:
    # The refusals above are about the bad value, not about the batch's shape.
    relay = await make_relay()
    resp = await relay.post_signed("/webhooks/hubspot", json.dumps([_event(0), _event(2)]).encode())
    assert resp.status == 200
    assert await relay.queue.depth() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[" * 100_000, "body"),
        (b'{"a": ' * 100_000, "body"),
        (
            b'{"opportunityId": "O1", "targetTimestamp": "2020-01-01T00:00:00Z", "x": '
            + b"[" * 40
            + b"]" * 40
            + b"}",
            "x",
        ),
        (b'{"opportunityId": "O1", "targetTimestamp": "2020-01-01T00:00:00Z", "extra": NaN}', "extra"),
        (b'{"conflictId": "c1", "resolution": "USE_HUBSPOT_VALUE", "reason": "\\ud800"}', "reason"),
    ],
)
@pytest.mark.parametrize("path", ["/rollback", "/conflicts/resolve"])
async def test_authenticated_post_with_hostile_json_is_400_and_queues_nothing(
    make_relay: RelayFactory, path: str, body: bytes, field: str
) -> None:
    relay = await make_relay()
    resp = await relay.session.post(
        relay.url + path, data=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert resp.status == 400, await resp.text()
    assert resp.content_type == PROBLEM
    assert (await resp.json())["errors"][0]["field"].startswith(field)
    assert await relay.queue.depth() == 0


async def test_header_trickle_is_closed_after_the_header_timeout(make_relay: RelayFactory) -> None:
    relay = await make_relay(relay={"header_timeout_seconds": 0.5})
    answer = await raw_http(
        relay.url, b"POST /webhooks/hubspot HTTP/1.1\r\nHost: x\r\n", trickle=b"X-Slow: 1\r\n", within=15
    )
    assert answer.closed, "the relay kept a trickling connection open"
    assert answer.seconds < 10
    assert await relay.queue.depth() == 0


async def test_idle_connection_is_closed_after_the_header_timeout(make_relay: RelayFactory) -> None:
    relay = await make_relay(relay={"header_timeout_seconds": 0.5})
    answer = await raw_http(relay.url, b"", within=15)
    assert answer.closed and answer.seconds < 10


async def test_body_trickle_is_408_and_closed_after_the_body_timeout(make_relay: RelayFactory) -> None:
    relay = await make_relay(relay={"body_timeout_seconds": 0.5})
    head = b"POST /webhooks/hubspot HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: 100000\r\n\r\n["
    answer = await raw_http(relay.url, head, trickle=b"1,", within=15)
    assert answer.closed and answer.seconds < 10
    assert answer.status == 408
    assert b"application/problem+json" in answer.data
    assert json.loads(answer.body)["errors"][0]["field"] == "body"
    assert await relay.queue.depth() == 0


async def test_declared_length_over_the_limit_is_413_before_the_body_is_read(
    make_relay: RelayFactory,
) -> None:
    # No body is ever sent: only an answer given before reading it can arrive.
    relay = await make_relay(relay={"max_body_bytes": 2048})
    for path in ("/webhooks/hubspot", "/rollback"):
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n".encode()
        answer = await raw_http(relay.url, head, within=15)
        assert answer.status == 413
        assert answer.closed and answer.seconds < 10
        assert json.loads(answer.body)["errors"][0]["field"] == "Content-Length"
    assert await relay.queue.depth() == 0


@pytest.mark.parametrize(
    ("head", "field"),
    [
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header" + EVIL.encode() + b": 1\r\n\r\n", "headers"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Ok: a\x01" + EVIL.encode() + b"\r\n\r\n", "headers"),
        (b"G<ET /healthz" + EVIL.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n", "request line"),
        (b"GET /" + b"a" * 20000 + EVIL.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n", "headers"),
        (
            b"POST /webhooks/hubspot HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ"
            + EVIL.encode()
            + b"\r\n\r\n",
            "body",
        ),
        (b"POST /webhooks/hubspot HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 7\r\n\r\n12345", "headers"),
    ],
)
async def test_malformed_http_is_a_400_problem_that_quotes_nothing(
    make_relay: RelayFactory, head: bytes, field: str
) -> None:
    relay = await make_relay()
    answer = await raw_http(relay.url, head, within=15)
    assert answer.status == 400, answer.data[:300]
    assert b"application/problem+json" in answer.data
    problem = json.loads(answer.body)
    assert problem["status"] == 400 and problem["errors"][0]["field"] == field
    assert b"EVIL7c1" not in answer.data
    assert await relay.queue.depth() == 0


async def test_undecodable_signature_headers_are_401_not_500(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    body = b"[]"
    for headers in (
        b"X-HubSpot-Signature-v3: \xff\xfe\r\nX-HubSpot-Request-Timestamp: 1\r\n",
        b"X-HubSpot-Signature-v3: abc\r\nX-HubSpot-Request-Timestamp: " + b"9" * 400 + b"\r\n",
    ):
        head = b"POST /webhooks/hubspot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers
        head += b"Content-Length: %d\r\n\r\n" % len(body) + body
        answer = await raw_http(relay.url, head, within=15)
        assert answer.status == 401, answer.data[:300]
    assert await relay.queue.depth() == 0


async def test_hostile_values_are_never_quoted_back(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    url = relay.url
    answers = [
        await relay.session.get(f"{url}/nowhere/{EVIL}"),
        await relay.session.delete(f"{url}/healthz?x={EVIL}"),
        await relay.session.get(f"{url}/jobs/{EVIL}", headers=AUTH),
        await relay.session.post(
            f"{url}/conflicts/resolve",
            json={"conflictId": EVIL, "resolution": "USE_HUBSPOT_VALUE"},
            headers=AUTH,
        ),
        await relay.session.post(
            f"{url}/conflicts/resolve", json={"conflictId": "c", "resolution": EVIL}, headers=AUTH
        ),
        await relay.session.post(
            f"{url}/conflicts/resolve",
            json={"conflictId": "c", "resolution": "USE_HUBSPOT_VALUE", EVIL: 1},
            headers=AUTH,
        ),
        await relay.session.post(
            f"{url}/rollback", json={"opportunityId": EVIL, "targetTimestamp": EVIL}, headers=AUTH
        ),
        await relay.session.post(f"{url}/rollback", data=b"{" + EVIL.encode(), headers=AUTH),
        await relay.post_signed("/webhooks/hubspot", _batch_with({"subscriptionType": f"deal.{EVIL}"})),
        await relay.post_signed("/webhooks/hubspot", _batch_with({"subscriptionType": f"{EVIL}.creation"})),
        await relay.post_signed("/webhooks/hubspot", _batch_with({"objectId": EVIL, "eventId": EVIL})),
        await relay.post_signed("/webhooks/hubspot", f"[{EVIL}]".encode()),
    ]
    for resp in answers:
        text = await resp.text()
        assert 400 <= resp.status < 500, (resp.status, text)
        assert resp.content_type == PROBLEM
        assert "EVIL7c1" not in text and "<script>" not in text, text
        assert "EVIL7c1" not in str(resp.headers)
    assert await relay.queue.depth() == 0
