"""``/healthz``, ``/readyz`` and ``/metrics`` over real loopback HTTP."""

from __future__ import annotations

from pathlib import Path

from cosync_worker.queue.local import LocalQueue

from .conftest import RelayFactory, batch


async def test_healthz_needs_nothing(make_relay: RelayFactory) -> None:
    relay = await make_relay(connector=False)
    resp = await relay.session.get(relay.url + "/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_readyz_ready_when_all_checks_pass(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    resp = await relay.session.get(relay.url + "/readyz")
    assert resp.status == 200
    assert await resp.json() == {
        "status": "ready",
        "checks": {"queue": "ok", "store": "ok", "connectors": "ok"},
    }


async def test_readyz_names_the_failed_check(make_relay: RelayFactory, tmp_path: Path) -> None:
    queue = LocalQueue(tmp_path / "q.db")
    await queue.open()
    relay = await make_relay(queue=queue, connector=False)
    await queue.close()
    resp = await relay.session.get(relay.url + "/readyz")
    assert resp.status == 503
    report = await resp.json()
    assert report["status"] == "not ready"
    assert report["checks"]["queue"] == "failed: QueueUnavailable"
    assert report["checks"]["store"] == "ok"
    assert report["checks"]["connectors"].startswith("failed: no connector")
    await relay.store.close()
    resp = await relay.session.get(relay.url + "/readyz")
    assert (await resp.json())["checks"]["store"].startswith("failed")
    # Liveness does not depend on any of it.
    assert (await relay.session.get(relay.url + "/healthz")).status == 200


async def test_metrics_count_accepted_and_rejected_webhooks(make_relay: RelayFactory) -> None:
    relay = await make_relay()

    async def sample(name: str) -> float:
        text = await (await relay.session.get(relay.url + "/metrics")).text()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))

    resp = await relay.session.get(relay.url + "/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    accepted_before = await sample('cosync_webhook_events_accepted_total{route="/webhooks/hubspot"}')
    rejected_before = await sample('cosync_webhook_rejected_total{reason="mismatch"}')
    await relay.post_signed("/webhooks/hubspot", batch(4, start=4000))
    await relay.post_signed("/webhooks/hubspot", batch(1), secret="nope")
    assert (
        await sample('cosync_webhook_events_accepted_total{route="/webhooks/hubspot"}') == accepted_before + 4
    )
    assert await sample('cosync_webhook_rejected_total{reason="mismatch"}') == rejected_before + 1
