"""The SQS backend (aiobotocore): long polling, batch receive/delete, FIFO groups, DLQ via redrive policy.

FIFO queues (``.fifo``) give per-object order across replicas: the message group is the ordering key and
SQS never hands out a message of a group while an earlier one is in flight. Redrive to the DLQ after N
receives is SQS's own redrive policy (see :func:`ensure_queues`); ``dead_letter`` parks a message at once,
with the reason as a message attribute.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from typing import Any

from aiobotocore.session import AioSession, get_session
from botocore.exceptions import BotoCoreError, ClientError

from ..aws_client import OwnedClient
from .base import DeadLetter, Message, QueueUnavailable

__all__ = ["SqsQueue", "ensure_queues"]

_MAX_VISIBILITY = 43_200  # SQS's cap on a visibility timeout (12 h)
# A visibility change refused because the receipt is no longer ours: deleted, or received again (new receipt).
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibilityBatch.html
_NOT_HELD = frozenset({"ReceiptHandleIsInvalid", "MessageNotInflight", "InvalidParameterValue"})

# read_timeout must exceed the 20 s long poll.
_CONNECT_TIMEOUT, _READ_TIMEOUT = 5, 40


class SqsQueue:
    """The ``Queue`` protocol on SQS; for several replicas or a managed deployment. ``open()`` before use.

    Shapes follow the SQS API reference:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
    """

    def __init__(
        self,
        queue_url: str,
        *,
        dlq_url: str | None = None,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        visibility_timeout: float = 30.0,
        max_receives: int = 10,
        session: AioSession | None = None,
        max_attempts: int = 3,
    ) -> None:
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self.region = region
        self.endpoint_url = endpoint_url
        self.visibility_timeout = visibility_timeout
        self.max_receives = max_receives
        self.fifo = queue_url.endswith(".fifo")
        timeouts = (_CONNECT_TIMEOUT, _READ_TIMEOUT)
        self._aws = OwnedClient(
            "sqs", region, endpoint_url, session, max_attempts=max_attempts, timeouts=timeouts
        )

    async def open(self) -> None:
        await self._aws.open()

    async def close(self) -> None:
        await self._aws.close()

    def _sqs(self) -> Any:
        if self._aws.client is None:
            raise QueueUnavailable(f"SQS queue {self.queue_url} is not open")
        return self._aws.client

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await getattr(self._sqs(), operation)(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            # ``code`` (SQS's error code) is what a log line may carry: the message names the queue's URL.
            code = (
                str((exc.response.get("Error") or {}).get("Code") or "ClientError")
                if isinstance(exc, ClientError)
                else type(exc).__name__
            )
            failed = QueueUnavailable(f"SQS {operation} on {kwargs.get('QueueUrl', '')}: {exc}")
            failed.code = f"SQS {operation}: {code}"
            raise failed from None

    def _entry(self, i: int, body: str, group: str | None, dedupe_id: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {"Id": str(i), "MessageBody": body}
        if self.fifo:
            entry["MessageGroupId"] = _sqs_id(group or "default")
            entry["MessageDeduplicationId"] = _sqs_id(dedupe_id or hashlib.sha256(body.encode()).hexdigest())
        return entry

    async def send(self, bodies: Sequence[tuple[str, str | None, str | None]]) -> None:
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            entries = [self._entry(i, *item) for i, item in enumerate(chunk)]
            for _attempt in range(2):
                resp = await self._call("send_message_batch", QueueUrl=self.queue_url, Entries=entries)
                failed = {f["Id"] for f in resp.get("Failed", [])}
                if not failed:
                    break
                entries = [e for e in entries if e["Id"] in failed]
            else:
                raise QueueUnavailable(f"SQS refused {len(entries)} message(s) of a batch")

    async def receive(
        self, max_messages: int = 10, wait_seconds: float = 20.0, stop: asyncio.Event | None = None
    ) -> list[Message]:
        # ``stop`` cannot shorten a long poll already sent; the worker waits it out (at most 20 s).
        resp = await self._call(
            "receive_message",
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            WaitTimeSeconds=int(min(20, max(0, wait_seconds))),
            VisibilityTimeout=int(self.visibility_timeout),
            MessageSystemAttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
        )
        return [
            Message(
                id=m["MessageId"],
                body=m["Body"],
                receipt=m["ReceiptHandle"],
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
                group=m.get("Attributes", {}).get("MessageGroupId"),
            )
            for m in resp.get("Messages", [])
        ]

    async def ack(self, messages: Sequence[Message]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(chunk)]
            resp = await self._call("delete_message_batch", QueueUrl=self.queue_url, Entries=entries)
            if resp.get("Failed"):
                # A receipt that expired means the message was (or will be) redelivered; dedupe absorbs it.
                failed = ", ".join(f"{f['Id']}: {f.get('Code')}" for f in resp["Failed"])
                raise QueueUnavailable(f"SQS could not delete: {failed}")

    async def nack(self, message: Message, delay_seconds: float = 0.0) -> None:
        await self._visibility(message, delay_seconds)

    async def extend(self, message: Message, seconds: float) -> None:
        await self._visibility(message, seconds)

    async def extend_many(self, messages: Sequence[Message], seconds: float) -> list[Message]:
        # Ten per call, the calls side by side: one call per message, one after another, let the last
        # messages of a large in-flight set lapse before their turn when the queue answered slowly (the SQS
        # fault suite's heartbeats failed with ReceiptHandleIsInvalid after another replica got them).
        timeout = int(min(_MAX_VISIBILITY, max(0, round(seconds))))
        chunks = [messages[i : i + 10] for i in range(0, len(messages), 10)]

        async def one(chunk: Sequence[Message]) -> list[Message]:
            entries = [
                {"Id": str(i), "ReceiptHandle": m.receipt, "VisibilityTimeout": timeout}
                for i, m in enumerate(chunk)
            ]
            resp = await self._call(
                "change_message_visibility_batch", QueueUrl=self.queue_url, Entries=entries
            )
            return [chunk[int(f["Id"])] for f in resp.get("Failed", []) if f.get("Code") in _NOT_HELD]

        lost = await asyncio.gather(*(one(c) for c in chunks))
        return [m for chunk in lost for m in chunk]

    async def _visibility(self, message: Message, seconds: float) -> None:
        await self._call(
            "change_message_visibility",
            QueueUrl=self.queue_url,
            ReceiptHandle=message.receipt,
            VisibilityTimeout=int(min(_MAX_VISIBILITY, max(0, round(seconds)))),
        )

    async def dead_letter(self, message: Message, reason: str, *, body: str | None = None) -> None:
        if not self.dlq_url:
            raise QueueUnavailable("queue.dlq_url is not configured: cannot dead-letter")
        entry = self._entry(0, message.body if body is None else body, message.group, f"dlq-{message.id}")
        entry.pop("Id")
        entry["MessageAttributes"] = {
            "reason": {"DataType": "String", "StringValue": reason[:4000]},
            "failed_at": {"DataType": "Number", "StringValue": f"{time.time():.3f}"},
        }
        await self._call("send_message", QueueUrl=self.dlq_url, **entry)
        await self._call("delete_message", QueueUrl=self.queue_url, ReceiptHandle=message.receipt)

    async def _dlq_messages(self, limit: int) -> list[dict[str, Any]]:
        if not self.dlq_url:
            return []
        seen: dict[str, dict[str, Any]] = {}
        # Peek with a short visibility so the messages stay in the DLQ for the next look.
        while len(seen) < limit:
            resp = await self._call(
                "receive_message",
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=5,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            batch = [m for m in resp.get("Messages", []) if m["MessageId"] not in seen]
            if not batch:
                break
            for m in batch:
                seen[m["MessageId"]] = m
        return list(seen.values())[:limit]

    async def list_dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        messages = await self._dlq_messages(limit)
        for m in messages:
            await self._call(
                "change_message_visibility",
                QueueUrl=self.dlq_url,
                ReceiptHandle=m["ReceiptHandle"],
                VisibilityTimeout=0,
            )
        out = []
        for m in messages:
            attrs = m.get("MessageAttributes", {})
            # No ``reason`` attribute means SQS's redrive policy moved it, not ``dead_letter``.
            reason = (
                attrs.get("reason", {}).get("StringValue") or f"exceeded max receives ({self.max_receives})"
            )
            failed_at = attrs.get("failed_at", {}).get("StringValue")
            # SentTimestamp is epoch milliseconds; a redrive keeps the original send time.
            failed = (
                float(failed_at) if failed_at else int(m.get("Attributes", {}).get("SentTimestamp", 0)) / 1000
            )
            out.append(DeadLetter(id=m["MessageId"], body=m["Body"], reason=reason, failed_at=failed))
        return sorted(out, key=lambda d: d.failed_at)

    async def replay_dead_letters(self, ids: Sequence[str] | None = None) -> int:
        if ids is not None and not ids:
            return 0
        moved = 0
        for m in await self._dlq_messages(10_000):
            if ids is not None and m["MessageId"] not in ids:
                # Peeked but not chosen: make it visible again at once for the next list or replay.
                await self._call(
                    "change_message_visibility",
                    QueueUrl=self.dlq_url,
                    ReceiptHandle=m["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
                continue
            group = m.get("Attributes", {}).get("MessageGroupId")
            entry = self._entry(0, m["Body"], group, f"replay-{m['MessageId']}-{int(time.time())}")
            entry.pop("Id")
            await self._call("send_message", QueueUrl=self.queue_url, **entry)
            await self._call("delete_message", QueueUrl=self.dlq_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
        return moved

    async def depth(self) -> int:
        resp = await self._call(
            "get_queue_attributes", QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(resp["Attributes"]["ApproximateNumberOfMessages"])

    async def oldest_age(self) -> float | None:
        # ApproximateAgeOfOldestMessage is a CloudWatch metric, not a queue attribute, and peeking would
        # take the message from its consumers for a visibility timeout: not known here (the deployment's
        # alarm reads the metric).
        return None

    async def ping(self) -> None:
        await self.depth()


def _sqs_id(value: str) -> str:
    """SQS group and deduplication ids: at most 128 characters of a limited alphabet."""
    safe = "".join(c if c.isalnum() or c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" else "_" for c in value)
    return safe if len(safe) <= 128 else hashlib.sha256(value.encode()).hexdigest()


async def ensure_queues(
    name: str,
    *,
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    max_receives: int = 10,
    visibility_timeout: int = 30,
    session: AioSession | None = None,
) -> tuple[str, str]:
    """Create (or find) the FIFO queue ``name`` and its DLQ with a redrive policy; returns both URLs."""
    import json

    base = name.removesuffix(".fifo")
    async with (session or get_session()).create_client(
        "sqs", region_name=region, endpoint_url=endpoint_url
    ) as sqs:
        fifo = {"FifoQueue": "true"}
        dlq = await sqs.create_queue(
            QueueName=f"{base}-dlq.fifo", Attributes={**fifo, "MessageRetentionPeriod": "1209600"}
        )
        dlq_url = dlq["QueueUrl"]
        attrs = await sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
        redrive = {
            "deadLetterTargetArn": attrs["Attributes"]["QueueArn"],
            "maxReceiveCount": str(max_receives),
        }
        main = await sqs.create_queue(
            QueueName=f"{base}.fifo",
            Attributes={
                **fifo,
                "VisibilityTimeout": str(visibility_timeout),
                "RedrivePolicy": json.dumps(redrive),
            },
        )
        return str(main["QueueUrl"]), str(dlq_url)
