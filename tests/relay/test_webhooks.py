"""Webhook intake over real loopback HTTP: signature rules, limits, and enqueue-before-acknowledge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cosync_worker.queue.local import LocalQueue

from .conftest import SECRET, RelayFactory, batch, hubspot_v1, hubspot_v2, hubspot_v3

PROBLEM = "application/problem+json"


async def test_valid_batch_enqueues_one_message_per_event(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    resp = await relay.post_signed("/webhooks/hubspot", batch(3))
    assert resp.status == 200, await resp.text()
    assert (await resp.json()) == {"accepted": 3}
    bodies = await relay.enqueued()
    assert sorted(b["dedupe_key"] for b in bodies) == ["hubspot:1", "hubspot:2", "hubspot:3"]
    assert {b["object"]["id"] for b in bodies} == {"1000", "1001", "1002"}
    assert all(b["source"] == "hubspot" and b["type"] == "deal.propertyChange" for b in bodies)


@pytest.mark.parametrize(
    "path",
    [
        "/webhook/hubspot",
        "/webhook/hubspot/gcp",
        "/webhook/microsoft",
        "/webhook/deal-update",
        "/webhook/contact-update",
        "/webhook/company-update",
        "/webhook/deal-owner-change",
    ],
)
async def test_seed_paths_are_aliases(make_relay: RelayFactory, path: str) -> None:
    relay = await make_relay()
    resp = await relay.post_signed(path, batch(1, start=50))
    assert resp.status == 200
    assert [b["dedupe_key"] for b in await relay.enqueued()] == ["hubspot:50"]


async def test_query_string_and_escapes_are_part_of_the_signed_uri(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    resp = await relay.post_signed("/webhooks/hubspot?portal=62515&src=a%3Ab%40c", batch(1))
    assert resp.status == 200, await resp.text()


async def test_redelivery_is_acknowledged_and_queued_once(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    body = batch(2)
    for _ in range(2):
        resp = await relay.post_signed("/webhooks/hubspot", body)
        assert resp.status == 200
    assert await relay.queue.depth() == 2


async def test_tampered_body_is_refused(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    body = batch(2)
    ts = int(relay.clock() * 1000)
    sig = hubspot_v3(SECRET, "POST", relay.url + "/webhooks/hubspot", body, ts)
    tampered = body.replace(b'"closedwon"', b'"closedlost"')
    resp = await relay.session.post(
        relay.url + "/webhooks/hubspot",
        data=tampered,
        headers={"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": str(ts)},
    )
    assert resp.status == 401
    assert resp.content_type == PROBLEM
    problem = await resp.json()
    assert problem["status"] == 401 and "X-HubSpot-Signature-v3" in problem["detail"]
    assert await relay.queue.depth() == 0


async def test_wrong_secret_is_refused(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    resp = await relay.post_signed("/webhooks/hubspot", batch(1), secret="not-the-secret")
    assert resp.status == 401
    assert await relay.queue.depth() == 0


async def test_stale_timestamp_is_refused(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    ts = int((relay.clock() - 301) * 1000)
    resp = await relay.post_signed("/webhooks/hubspot", batch(1), ts_ms=ts)
    assert resp.status == 401
    assert "seconds" in (await resp.json())["detail"]
    assert await relay.queue.depth() == 0


async def test_far_future_timestamp_is_refused(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    ts = int((relay.clock() + 3600) * 1000)
    resp = await relay.post_signed("/webhooks/hubspot", batch(1), ts_ms=ts)
    assert resp.status == 401
    assert await relay.queue.depth() == 0


async def test_replay_after_five_minutes_is_refused(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    body = batch(1, start=900)
    ts = int(relay.clock() * 1000)
    sig = hubspot_v3(SECRET, "POST", relay.url + "/webhooks/hubspot", body, ts)
    headers = {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": str(ts)}
    first = await relay.session.post(relay.url + "/webhooks/hubspot", data=body, headers=headers)
    assert first.status == 200
    assert len(await relay.enqueued()) == 1
    relay.clock.offset = 301  # the captured request is replayed just over five minutes later
    replay = await relay.session.post(relay.url + "/webhooks/hubspot", data=body, headers=headers)
    assert replay.status == 401
    assert await relay.queue.depth() == 0


@pytest.mark.parametrize(
    ("headers", "needle"),
    [
        ({}, "X-HubSpot-Signature-v3 header is required"),
        ({"X-HubSpot-Signature-v3": "abc"}, "X-HubSpot-Request-Timestamp"),
        ({"X-HubSpot-Signature-v3": "abc", "X-HubSpot-Request-Timestamp": "yesterday"}, "milliseconds"),
    ],
)
async def test_missing_headers_are_refused(
    make_relay: RelayFactory, headers: dict[str, str], needle: str
) -> None:
    relay = await make_relay()
    resp = await relay.session.post(relay.url + "/webhooks/hubspot", data=batch(1), headers=headers)
    assert resp.status == 401
    assert needle in (await resp.json())["detail"]
    assert await relay.queue.depth() == 0


async def test_oversized_body_is_refused_with_413(make_relay: RelayFactory) -> None:
    relay = await make_relay(relay={"max_body_bytes": 2048})
    body = batch(40)
    assert len(body) > 2048
    resp = await relay.post_signed("/webhooks/hubspot", body)
    assert resp.status == 413
    assert resp.content_type == PROBLEM
    assert await relay.queue.depth() == 0


async def test_oversized_chunked_body_is_refused_with_413(make_relay: RelayFactory) -> None:
    relay = await make_relay(relay={"max_body_bytes": 2048})

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"x" * 1024

    resp = await relay.session.post(relay.url + "/webhooks/hubspot", data=chunks())
    assert resp.status == 413
    assert await relay.queue.depth() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[{not json", "body"),
        (b'{"eventId": 1}', "body"),
        (b'[{"subscriptionType": "deal.creation", "objectId": 1}]', "[0].eventId"),
    ],
)
async def test_invalid_json_or_event_is_400_naming_the_field(
    make_relay: RelayFactory, body: bytes, field: str
) -> None:
    relay = await make_relay()
    resp = await relay.post_signed("/webhooks/hubspot", body)
    assert resp.status == 400
    problem = await resp.json()
    assert problem["errors"][0]["field"] == field
    assert await relay.queue.depth() == 0


async def test_batch_with_one_bad_event_queues_nothing(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    events = json.loads(batch(3))
    events[2]["subscriptionType"] = "spaceship.creation"
    resp = await relay.post_signed("/webhooks/hubspot", json.dumps(events).encode())
    assert resp.status == 400
    assert (await resp.json())["errors"][0]["field"] == "[2].subscriptionType"
    assert await relay.queue.depth() == 0


@pytest.mark.parametrize("version", ["v1", "v2"])
async def test_legacy_signatures_only_when_enabled(make_relay: RelayFactory, version: str) -> None:
    off = await make_relay()
    on = await make_relay(relay={"legacy_signatures": True})
    for relay, expected in ((off, 401), (on, 200)):
        body = batch(1, start=70)
        uri = relay.url + "/webhooks/hubspot"
        sig = hubspot_v1(SECRET, body) if version == "v1" else hubspot_v2(SECRET, "POST", uri, body)
        headers = {"X-HubSpot-Signature": sig, "X-HubSpot-Signature-Version": version}
        resp = await relay.session.post(uri, data=body, headers=headers)
        assert resp.status == expected, await resp.text()
        assert await relay.queue.depth() == (1 if expected == 200 else 0)
        # A legacy signature made with another secret is refused even when legacy is on.
        bad = {"X-HubSpot-Signature": hubspot_v1("wrong", body), "X-HubSpot-Signature-Version": "v1"}
        assert (await relay.session.post(uri, data=batch(1, start=71), headers=bad)).status == 401


async def test_forwarded_headers_only_from_trusted_proxy(make_relay: RelayFactory) -> None:
    public = "https://hooks.example.com/webhooks/hubspot"
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"}

    async def send(relay_url: str, relay: object, sign_uri: str, start: int) -> int:
        body = batch(1, start=start)
        ts = int(relay.clock() * 1000)  # type: ignore[attr-defined]
        headers = {
            "X-HubSpot-Signature-v3": hubspot_v3(SECRET, "POST", sign_uri, body, ts),
            "X-HubSpot-Request-Timestamp": str(ts),
            **forwarded,
        }
        resp = await relay.session.post(relay_url + "/webhooks/hubspot", data=body, headers=headers)  # type: ignore[attr-defined]
        return resp.status

    trusted = await make_relay(relay={"trusted_proxies": ["10.0.0.1", "127.0.0.0/8"]})
    assert await send(trusted.url, trusted, public, 1) == 200
    assert await trusted.queue.depth() == 1

    untrusted = await make_relay(relay={"trusted_proxies": ["10.0.0.0/8"]})
    # The forged headers are ignored: a signature over the public URI fails...
    assert await send(untrusted.url, untrusted, public, 2) == 401
    # ...and one over the URI the relay was really called at passes.
    assert await send(untrusted.url, untrusted, untrusted.url + "/webhooks/hubspot", 3) == 200
    assert await untrusted.queue.depth() == 1


async def test_public_url_sets_the_signed_uri(make_relay: RelayFactory) -> None:
    relay = await make_relay(relay={"public_url": "https://api.example.com/production"})
    body = batch(1)
    ts = int(relay.clock() * 1000)
    sig = hubspot_v3(SECRET, "POST", "https://api.example.com/production/webhook/hubspot", body, ts)
    resp = await relay.session.post(
        relay.url + "/webhook/hubspot",
        data=body,
        headers={"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": str(ts)},
    )
    assert resp.status == 200, await resp.text()


async def test_closed_queue_answers_503_and_stores_nothing(make_relay: RelayFactory, tmp_path: Path) -> None:
    path = tmp_path / "down.db"
    queue = LocalQueue(path)
    await queue.open()
    relay = await make_relay(queue=queue)
    await queue.close()  # the backend goes away under the relay
    body = batch(2, start=300)
    resp = await relay.post_signed("/webhooks/hubspot", body)
    assert resp.status == 503
    assert resp.content_type == PROBLEM
    assert "nothing was accepted" in (await resp.json())["detail"]
    await queue.open()  # back up: the 503 stored nothing, and HubSpot's retry is then accepted
    assert await queue.depth() == 0
    retry = await relay.post_signed("/webhooks/hubspot", body)
    assert retry.status == 200
    assert await queue.depth() == 2
    await queue.close()


async def test_unopenable_queue_answers_503(make_relay: RelayFactory, tmp_path: Path) -> None:
    queue = LocalQueue(tmp_path / "no-such-dir" / "queue.db")
    with pytest.raises(Exception, match="unable to open"):
        await queue.open()
    relay = await make_relay(queue=queue)
    resp = await relay.post_signed("/webhooks/hubspot", batch(1))
    assert resp.status == 503
    assert (await resp.json())["status"] == 503


async def test_missing_client_secret_is_503_not_a_crash(make_relay: RelayFactory) -> None:
    relay = await make_relay(hubspot={})
    resp = await relay.post_signed("/webhooks/hubspot", batch(1))
    assert resp.status == 503
    assert "client_secret" in (await resp.json())["detail"]
    assert await relay.queue.depth() == 0


async def test_secret_never_appears_in_responses(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    resp = await relay.post_signed("/webhooks/hubspot", batch(1), secret="x")
    assert SECRET not in await resp.text()
