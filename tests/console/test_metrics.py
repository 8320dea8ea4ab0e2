"""``/metrics`` carries what the console and an SRE need: queue depth and oldest age, dead-letter depth, the
last success of each loop, writes in 24 h, the build, and the relay's requests by route template (never
by path, so a scanner cannot grow the series)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from cosync_worker import __version__, metrics
from cosync_worker.events import schedule_tick
from cosync_worker.hooks import ConnectorSpec, ScheduleSpec, hookimpl
from cosync_worker.status import ActivitySampler
from tests.relay.conftest import TOKENS, RelayFactory
from tests.relay.conftest import make_relay as make_relay  # the relay fixture, reused


class LoopingConnector:
    @hookimpl
    def cosync_connector(self) -> ConnectorSpec:
        return ConnectorSpec(
            name="looper", event_types=("deal.*",), schedules=(ScheduleSpec("metrics_loop", 60.0),)
        )


def _value(text: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    assert found is not None, f"{series} not in /metrics"
    return float(found.group(1))


async def test_metrics_for_the_console_and_an_sre(make_relay: RelayFactory) -> None:
    relay = await make_relay(plugins=[LoopingConnector()], connector=False)
    old = schedule_tick("metrics_loop", 1, now=datetime.now(UTC) - timedelta(minutes=5))
    await relay.queue.send([('{"broken": true}', "g", "b1")])
    [broken] = await relay.queue.receive(1, 1)
    relay.queue.clock = lambda: time.time() - 300  # queued five minutes ago
    await relay.queue.send([(old.to_json(), old.ordering_key, old.dedupe_key)])
    relay.queue.clock = time.time
    await relay.queue.dead_letter(broken, "invalid message: body: not an event")
    metrics.declare_event_types(["schedule.metrics_loop"])
    metrics.EVENTS_PROCESSED.labels(type="schedule.metrics_loop", connector="looper").inc()
    await ActivitySampler(relay.store, ["looper"]).sample()

    auth = {"Authorization": f"Bearer {TOKENS[0]}"}
    async with relay.session.get(relay.url + "/jobs/0123abcd", headers=auth) as r:
        assert r.status == 404
    async with relay.session.get(relay.url + "/wp-admin/setup-config.php?step=1") as r:
        assert r.status == 404
    async with relay.session.get(relay.url + "/healthz") as r:
        assert r.status == 200
    async with relay.session.get(relay.url + "/metrics") as r:
        assert r.status == 200
        text = await r.text()

    assert _value(text, "cosync_queue_depth") == 1
    assert _value(text, "cosync_dlq_depth") == 1
    assert 299 <= _value(text, "cosync_queue_oldest_message_age_seconds") < 3600
    assert _value(text, 'cosync_loop_last_success_timestamp_seconds{loop="metrics_loop"}') > 0
    assert re.search(
        rf'^cosync_build_info\{{python="[\d.]+",version="{re.escape(__version__)}"\}} 1\.0$', text, re.M
    )
    assert _value(text, 'cosync_relay_requests_total{method="GET",route="/jobs/{id}",status="4xx"}') >= 1
    assert _value(text, 'cosync_relay_requests_total{method="GET",route="/healthz",status="2xx"}') >= 1
    assert _value(text, 'cosync_relay_requests_total{method="GET",route="other",status="4xx"}') >= 1
    assert 'cosync_relay_request_seconds_count{method="GET",route="/healthz"}' in text
    assert "wp-admin" not in text and "0123abcd" not in text
