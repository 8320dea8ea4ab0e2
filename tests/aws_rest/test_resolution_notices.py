"""Seed 002 "Security considerations": stakeholders are told of a resolution. A conflict resolved or an
opportunity rolled back through the relay leaves a note on the deal (who, what was chosen) and, with the SNS
channel enabled, one SNS message (moto's server over HTTP); a retried request tells it no second time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import get_session
from tests_aws.conftest import Stack, wait_until
from tests_aws.test_conflicts import created as created_deal

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

from .conftest import ADA, ADA_EMAIL, ADA_OWNER, VIEWER, api, job_done, rest_stack
from .test_governance import _pending_conflict


class Topic:
    """An SNS topic on moto's server with an SQS queue subscribed: what a stakeholder's subscription gets."""

    def __init__(self, sns: Any, sqs: Any, arn: str, queue_url: str) -> None:
        self.sns, self.sqs, self.arn, self.queue_url = sns, sqs, arn, queue_url
        self.received: list[dict[str, Any]] = []

    async def drain(self) -> list[dict[str, Any]]:
        """Every message delivered so far (the queue emptied into ``received``)."""
        while True:
            got = await self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return self.received
            for m in messages:
                self.received.append(json.loads(m["Body"]))
                await self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
async def topic(moto_endpoint: str, tmp_path: Path) -> AsyncIterator[Topic]:
    session = get_session()
    async with (
        session.create_client("sns", region_name="us-east-1", endpoint_url=moto_endpoint) as sns,
        session.create_client("sqs", region_name="us-east-1", endpoint_url=moto_endpoint) as sqs,
    ):
        arn = (await sns.create_topic(Name=f"resolutions-{tmp_path.name}"))["TopicArn"]
        url = (await sqs.create_queue(QueueName=f"resolutions-{tmp_path.name}"))["QueueUrl"]
        attrs = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        await sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=attrs["Attributes"]["QueueArn"])
        yield Topic(sns, sqs, arn, url)


@pytest.fixture
async def stack(
    tmp_path: Path,
    hubspot_emulator: HubSpotEmulator,
    partnercentral_emulator: PartnerCentralEmulator,
    topic: Topic,
    moto_endpoint: str,
) -> AsyncIterator[Stack]:
    sections = {
        "plugin_modules": ["cosync_worker.notify.sns_channel"],
        "notify": {"channels": {"sns": {"topic_arn": topic.arn, "endpoint_url": moto_endpoint}}},
    }
    async for s in rest_stack(
        tmp_path,
        hubspot_emulator,
        partnercentral_emulator,
        sections=sections,
        conflicts={"manual_fields": ["amount"]},
    ):
        yield s


def _notes(stack: Stack, deal_id: str, title: str) -> list[str]:
    return [n for n in stack.notes_of(deal_id) if title in n]


def _tasks(stack: Stack, deal_id: str, title: str) -> list[dict[str, Any]]:
    linked = stack.hs.portal.associated("deals", deal_id, "tasks")
    return [
        t
        for tid, t in stack.hs.objects("tasks").items()
        if tid in linked and title in str(t["properties"].get("hs_task_subject"))
    ]


def _sns_about(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    docs = [json.loads(m["Message"]) | {"attributes": m["MessageAttributes"]} for m in messages]
    return [d for d in docs if d["kind"] == kind]


async def test_a_resolution_is_noted_on_the_deal_and_published_once(stack: Stack, topic: Topic) -> None:
    deal_id, _, conflict_id = await _pending_conflict(stack)
    resolve = {"conflictId": conflict_id, "resolution": "USE_HUBSPOT_VALUE", "reason": "customer confirmed"}
    status, body = await api(stack, "POST", "/conflicts/resolve", resolve, token=ADA)
    assert status == 202, body
    assert (await job_done(stack, body["job_id"]))["status"] == "succeeded"

    await wait_until(lambda: bool(_notes(stack, deal_id, "Sync Conflict Resolved")))
    [note] = _notes(stack, deal_id, "Sync Conflict Resolved")
    assert ADA_EMAIL in note and conflict_id in note and "USE_HUBSPOT_VALUE" in note
    assert "20000" in note and "customer confirmed" in note
    assert _tasks(stack, deal_id, "Resolved") == []  # nothing is left to do: a note, no task

    async def published() -> bool:
        return bool(_sns_about(await topic.drain(), "cosync.conflict_resolved"))

    await wait_until(published)
    [doc] = _sns_about(topic.received, "cosync.conflict_resolved")
    assert doc["dealId"] == deal_id and doc["attributes"]["dealId"]["Value"] == deal_id
    assert any(ADA_EMAIL in line for line in doc["context"])

    # The client retries its request: refused, and nobody is told twice.
    status, body = await api(stack, "POST", "/conflicts/resolve", resolve, token=ADA)
    assert status == 409, body
    await stack.settle()
    assert len(_notes(stack, deal_id, "Sync Conflict Resolved")) == 1
    assert len(_sns_about(await topic.drain(), "cosync.conflict_resolved")) == 1


async def test_a_rollback_is_noted_once_however_often_it_is_asked(stack: Stack, topic: Topic) -> None:
    deal_id, opp_id = await created_deal(stack, hubspot_owner_id=ADA_OWNER)
    rollback = {"opportunityId": opp_id, "targetTimestamp": datetime.now(UTC).isoformat()}
    jobs = []
    for _ in range(2):  # the second is the client retrying a request whose answer it did not get
        status, body = await api(stack, "POST", "/rollback", rollback, token=ADA)
        assert status == 202, body
        jobs.append(body["job_id"])
    for job in jobs:
        assert (await job_done(stack, job))["status"] == "succeeded"
    await stack.settle()

    [note] = _notes(stack, deal_id, "Rolled Back")
    assert ADA_EMAIL in note and opp_id in note
    assert _tasks(stack, deal_id, "Rolled Back") == []

    async def published() -> bool:
        return bool(_sns_about(await topic.drain(), "cosync.rollback_done"))

    await wait_until(published)
    assert [d["dealId"] for d in _sns_about(topic.received, "cosync.rollback_done")] == [deal_id]
    # a viewer's attempt is refused before anything is queued, so nothing more is told
    status, _ = await api(stack, "POST", "/rollback", rollback, token=VIEWER)
    assert status == 403
    await stack.settle()
    assert len(_notes(stack, deal_id, "Rolled Back")) == 1
