"""Channel plugin: publish each notification to an SNS topic (seed 001 §4 "SNS Topic (Optional)", message
attributes ``dealId`` and ``priority``), ten per ``PublishBatch`` call.

Config: ``notify.channels.sns: {topic_arn, region, endpoint_url, priorities}``. Enable the plugin with
``plugin_modules: [cosync_worker.notify.sns_channel]``.

SNS has no idempotent publish for standard topics: the ledger records each message id, so a retry never
republishes an acknowledged item; only a crash between SNS's answer and the checkpoint can repeat one
message. FIFO topics (``.fifo``) get ``MessageDeduplicationId`` = notice key, which closes that gap too.
Shapes: https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aiobotocore.session import get_session

from cosync_worker.hooks.specs import hookimpl
from cosync_worker.hooks.types import NotificationChannelSpec

from .channel import Checkpoint, Delivery
from .rendering import message_document, plain_text

__all__ = ["SnsChannel"]

_BATCH = 10


class SnsChannel:
    name = "sns"

    def __init__(self, topic_arn: str, *, region: str = "us-east-1", endpoint_url: str | None = None) -> None:
        if not str(topic_arn).startswith("arn:"):
            raise ValueError(
                "notify.channels.sns.topic_arn must be an SNS topic ARN (arn:aws:sns:region:account:name)"
            )
        self.topic_arn = topic_arn
        self.region = region
        self.endpoint_url = endpoint_url
        self._session = get_session()

    async def deliver(self, items: Sequence[Delivery], checkpoint: Checkpoint) -> None:
        todo = [d for d in items if not d.record.get("message_id")]
        fifo = self.topic_arn.endswith(".fifo")
        async with self._session.create_client(
            "sns", region_name=self.region, endpoint_url=self.endpoint_url
        ) as sns:
            failed: list[str] = []
            for start in range(0, len(todo), _BATCH):
                chunk = todo[start : start + _BATCH]
                entries = []
                for n, d in enumerate(chunk):
                    m = d.message
                    entry: dict[str, Any] = {
                        "Id": str(n),
                        "Subject": m.subject.encode("ascii", "ignore").decode().strip()[:100] or "cosync",
                        "Message": json.dumps({**message_document(m), "text": plain_text(m)}),
                        "MessageAttributes": {
                            "dealId": {"DataType": "String", "StringValue": m.notice.deal_id},
                            "priority": {"DataType": "String", "StringValue": m.priority},
                        },
                    }
                    if fifo:
                        entry["MessageGroupId"] = m.notice.deal_id
                        entry["MessageDeduplicationId"] = m.key
                    entries.append(entry)
                answer = await sns.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=entries)
                for ok in answer.get("Successful", []):
                    chunk[int(ok["Id"])].record["message_id"] = ok["MessageId"]
                failed += [f"{f.get('Code')}: {f.get('Message', '')}" for f in answer.get("Failed", [])]
                await checkpoint(chunk)
            if failed:
                raise RuntimeError(f"SNS refused {len(failed)} messages: {failed[0]}")

    async def close(self) -> None:
        """Clients are opened per batch; nothing is held."""


def _factory(context: Any, options: dict[str, Any]) -> SnsChannel:
    if not options.get("topic_arn"):
        raise ValueError("notify.channels.sns.topic_arn is required when the SNS channel is enabled")
    return SnsChannel(
        str(options["topic_arn"]),
        region=str(options.get("region", "us-east-1")),
        endpoint_url=options.get("endpoint_url"),
    )


@hookimpl
def cosync_notification_channels(context: Any) -> list[NotificationChannelSpec]:
    return [
        NotificationChannelSpec("sns", _factory, description="Amazon SNS topic (dealId/priority attributes)")
    ]
