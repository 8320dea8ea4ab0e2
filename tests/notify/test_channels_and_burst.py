"""Channels beyond HubSpot (SNS on moto's server, a Slack webhook on loopback), priority filters, channel
failures that never fail the sync, the daily digest, and a burst of 500 through HubSpot's batch endpoints."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import get_session
from aiohttp import web

from cosync_worker.notify import Notice
from cosync_worker.sandbox.hubspot import HubSpotEmulator

from .conftest import OWNER, by_deal, create_deals, make_settings, running, wait_until
from .notice_connector import notice_event

SLACK_AND_SNS = ["cosync_worker.notify.slack_channel", "cosync_worker.notify.sns_channel"]


class FakeSlack:
    """A loopback incoming webhook that answers ``status`` and keeps what it received."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.Response(status=self.status, text="ok" if self.status == 200 else "boom")


@pytest.fixture
async def slack() -> AsyncIterator[tuple[FakeSlack, str]]:
    fake = FakeSlack()
    app = web.Application()
    app.router.add_post("/hook", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield fake, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


def _with_plugins(settings: Any, modules: list[str]) -> Any:
    return settings.model_copy(update={"plugin_modules": [*settings.plugin_modules, *modules]})


async def test_sns_receives_the_message_with_its_attributes(
    hubspot_emulator: HubSpotEmulator, moto_endpoint: str, tmp_path: Path
) -> None:
    session = get_session()
    async with (
        session.create_client("sns", region_name="us-east-1", endpoint_url=moto_endpoint) as sns,
        session.create_client("sqs", region_name="us-east-1", endpoint_url=moto_endpoint) as sqs,
    ):
        topic = (await sns.create_topic(Name=f"notify-{tmp_path.name}"))["TopicArn"]
        queue_url = (await sqs.create_queue(QueueName=f"notify-{tmp_path.name}"))["QueueUrl"]
        queue_arn = (await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        await sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        [high, low] = await create_deals(hubspot_emulator, 2)
        notify = {
            "channels": {
                "sns": {"topic_arn": topic, "endpoint_url": moto_endpoint, "priorities": ["HIGH"]},
            }
        }
        settings = _with_plugins(make_settings(tmp_path, hubspot_emulator, notify), SLACK_AND_SNS)
        async with running(settings) as (_, notifier):
            assert (
                await notifier.notify(Notice("aws.seller_assigned", high, "jo", {"seller_name": "Jo"}))
                == "sent"
            )
            # LOW is filtered out of SNS by config but still reaches HubSpot.
            assert (
                await notifier.notify(Notice("aws.resources_available", low, "2", {"resource_count": 2}))
                == "sent"
            )
        got = await sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies = [json.loads(m["Body"]) for m in got.get("Messages", [])]
        assert len(bodies) == 1
        attrs = bodies[0]["MessageAttributes"]
        assert attrs["dealId"]["Value"] == high and attrs["priority"]["Value"] == "HIGH"
        doc = json.loads(bodies[0]["Message"])
        assert doc["dealId"] == high and doc["subject"].startswith("👤") and doc["ownerId"] == OWNER
        assert low in by_deal(hubspot_emulator, "tasks")


async def test_failing_slack_never_fails_the_sync_and_is_recorded(
    hubspot_emulator: HubSpotEmulator, slack: tuple[FakeSlack, str], tmp_path: Path
) -> None:
    fake, url = slack
    fake.status = 500
    [deal] = await create_deals(hubspot_emulator, 1)
    notify = {"channels": {"slack": {"webhook_url": url}}}
    settings = _with_plugins(make_settings(tmp_path, hubspot_emulator, notify), SLACK_AND_SNS)
    async with running(settings) as (rt, notifier):
        await rt.context.enqueue([notice_event("s1", "aws.review_status", deal, "Approved")])
        store = rt.context.store
        await wait_until(lambda: _has_audit(store, deal))
        [entry] = await store.audit_trail(f"deal:{deal}")
        assert entry.action == "partial"  # the sync completed; the notice is partly delivered
        assert len(fake.received) == 2  # delivery_attempts: 2
        ledger = await store.get_state(f"notify:{entry.detail['key']}")
        assert ledger is not None and ledger["channels"]["slack"]["status"] == "failed"
        assert "HTTP 500" in ledger["channels"]["slack"]["error"] and url not in json.dumps(ledger)
        assert ledger["channels"]["hubspot"]["status"] == "done"
        # Slack recovers; a redelivery retries only Slack: HubSpot gets no second task.
        fake.status = 200
        notice = Notice("aws.review_status", deal, "Approved")
        assert await notifier.notify(notice) == "sent"
        assert "AWS Approved Opportunity" in fake.received[-1]["text"]
        assert len(by_deal(hubspot_emulator, "tasks")[deal]) == 1
        assert await notifier.notify(notice) == "duplicate"


async def _has_audit(store: Any, deal: str) -> bool:
    return bool(await store.audit_trail(f"deal:{deal}"))


async def test_daily_digest_sends_one_task_per_owner(
    hubspot_emulator: HubSpotEmulator, slack: tuple[FakeSlack, str], tmp_path: Path
) -> None:
    fake, url = slack
    deals = await create_deals(hubspot_emulator, 3)
    notify = {"digest": {"enabled": True}, "channels": {"slack": {"webhook_url": url}}}
    settings = _with_plugins(make_settings(tmp_path, hubspot_emulator, notify), SLACK_AND_SNS)
    async with running(settings) as (_, notifier):
        lows = [Notice("aws.resources_available", d, "1", {"resource_count": 1}) for d in deals]
        assert await notifier.notify_many(lows) == ["digested"] * 3
        high = Notice("aws.new_opportunity", deals[0], "O1")
        assert await notifier.notify(high) == "sent"  # HIGH is not held back
        assert len(hubspot_emulator.objects("tasks")) == 1
        assert await notifier.send_digest() == {OWNER: "sent"}
        tasks = by_deal(hubspot_emulator, "tasks")
        digest = [
            t
            for t in hubspot_emulator.objects("tasks").values()
            if "digest" in t["properties"]["hs_task_subject"]
        ]
        assert len(digest) == 1 and "3 updates" in digest[0]["properties"]["hs_task_subject"]
        assert all(digest[0] in tasks[d] for d in deals)  # associated with every deal it lists
        assert sum("digest" in m["text"] for m in fake.received) == 1
        assert await notifier.send_digest() == {OWNER: "duplicate"}
        assert await notifier.notify(lows[0]) == "duplicate"


async def test_daily_digest_runs_from_its_schedule_tick(
    hubspot_emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    from cosync_worker.events import schedule_tick

    deals = await create_deals(hubspot_emulator, 2)
    settings = make_settings(tmp_path, hubspot_emulator, {"digest": {"enabled": True}})
    async with running(settings) as (rt, notifier):
        lows = [Notice("aws.resources_available", d, "1", {"resource_count": 1}) for d in deals]
        assert await notifier.notify_many(lows) == ["digested"] * 2
        tick = schedule_tick("notify_digest", 1)
        await rt.context.queue.send([(tick.to_json(), tick.ordering_key, tick.dedupe_key)])

        async def digest_task() -> bool:
            subjects = [
                t["properties"]["hs_task_subject"] for t in hubspot_emulator.objects("tasks").values()
            ]
            return any("digest" in s and "2 updates" in s for s in subjects)

        await wait_until(digest_task)
        assert len(hubspot_emulator.objects("tasks")) == 1


async def test_burst_of_500_uses_batch_endpoints_within_the_rate_limit(
    hubspot_emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    emu = hubspot_emulator
    deals = await create_deals(emu, 500)
    emu.calls.clear()
    async with running(make_settings(tmp_path, emu)) as (rt, notifier):
        notices = [
            Notice("aws.engagement_score", d, "60>90", {"old_score": 60, "new_score": 90}) for d in deals
        ]
        outcomes = await notifier.notify_many(notices)
        assert outcomes == ["sent"] * 500
        hs = rt.context.service("hubspot")
        assert hs.calls["POST /crm/v3/objects/{objectType}/batch/create"] == 10  # 5 for tasks, 5 for notes
        assert hs.calls["POST /crm/v3/objects/{objectType}/batch/read"] <= 5 + 10  # owners (+ key read-backs)
        assert sum(hs.calls.values()) <= 40
    assert len(emu.objects("tasks")) == 500 and len(emu.objects("notes")) == 500
    assert all(len(v) == 1 for v in by_deal(emu, "tasks").values())
