"""The SQS FIFO work queue, its dead-letter queue, and the queue that catches undeliverable events.

FIFO so each object's events are handled in order by one replica at a time (message group = ordering key);
SQS's own redrive policy moves a message to the DLQ after ``max_receives`` receives.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues.html
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .settings import DeploySettings

__all__ = ["WorkQueues"]


class WorkQueues(Construct):
    """``queue`` (FIFO, the worker's input), ``dlq`` (FIFO) and ``undeliverable`` (standard: EventBridge's
    target DLQ must be a standard queue, and it receives events EventBridge could not put on ``queue``)."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings) -> None:
        super().__init__(scope, construct_id)
        retention = Duration.days(14)
        self.dlq = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=f"{settings.name}-dlq.fifo",
            fifo=True,
            retention_period=retention,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.queue = sqs.Queue(
            self,
            "Work",
            queue_name=f"{settings.name}-work.fifo",
            fifo=True,
            # The worker sets explicit deduplication ids; EventBridge deliveries fall back to the body hash.
            content_based_deduplication=True,
            # High-throughput FIFO: dedupe and throughput limits per group, not per queue.
            deduplication_scope=sqs.DeduplicationScope.MESSAGE_GROUP,
            fifo_throughput_limit=sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
            visibility_timeout=Duration.seconds(settings.visibility_timeout_seconds),
            retention_period=retention,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=settings.max_receives),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.undeliverable = sqs.Queue(
            self,
            "Undeliverable",
            queue_name=f"{settings.name}-undeliverable-events",
            retention_period=retention,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
