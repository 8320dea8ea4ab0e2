"""EventBridge rules that put Partner Central's events on the work queue, one rule per kind of object.

Partner Central publishes on the default bus of us-east-1 only, with source ``aws.partnercentral-selling``
(https://docs.aws.amazon.com/partner-central/latest/APIReference/selling-api-events.html). Each kind of
object carries its identifier at its own path, so each kind gets its own rule whose SQS target takes the
FIFO message group id from that path at delivery time (EventBridge dynamic path parameters:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html). All events of one object thus
share a message group and reach the worker in order.

When the service runs in another region, :class:`PartnerCentralForwarder` is deployed in us-east-1 and
forwards the same events to the default bus of the service's region, where these rules pick them up.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .settings import DeploySettings

__all__ = [
    "EVENT_KINDS",
    "EVENT_SOURCE",
    "EventKind",
    "PartnerCentralEventRules",
    "PartnerCentralForwarder",
    "event_pattern",
]

EVENT_SOURCE = "aws.partnercentral-selling"


@dataclass(frozen=True, slots=True)
class EventKind:
    """A family of detail types (matched by prefix) and where its events carry the object's identifier."""

    rule_id: str
    detail_type_prefix: str
    group_id_path: str


# Detail types and payloads: https://docs.aws.amazon.com/partner-central/latest/APIReference/selling-api-events.html
# Prefixes end with a space so that no detail type matches two kinds (a test checks this), and so no event
# is delivered twice.
EVENT_KINDS: tuple[EventKind, ...] = (
    EventKind("Opportunity", "Opportunity ", "$.detail.opportunity.identifier"),
    EventKind("EngagementInvitation", "Engagement Invitation ", "$.detail.engagementInvitation.identifier"),
    EventKind("EngagementMember", "Engagement Member ", "$.detail.engagement.identifier"),
    EventKind("ResourceSnapshot", "Resource Snapshot ", "$.detail.opportunity.identifier"),
    EventKind(
        "EngagementResourceSnapshot", "Engagement Resource Snapshot ", "$.detail.engagement.identifier"
    ),
)


def event_pattern(kind: EventKind, catalogs: list[str]) -> events.EventPattern:
    """The pattern of one kind's rule: our source, the kind's detail types, and only our catalogs."""
    return events.EventPattern(
        source=[EVENT_SOURCE],
        detail_type=events.Match.prefix(kind.detail_type_prefix),
        detail={"catalog": list(catalogs)},
    )


class PartnerCentralEventRules(Construct):
    """Rules on the default bus of the stack's region targeting the FIFO queue.

    Events EventBridge cannot deliver (e.g. the identifier path is missing, so there is no group id) go to
    ``undeliverable`` after retries, where an alarm reports them.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings,
        queue: sqs.IQueue,
        undeliverable: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rules: list[events.Rule] = []
        for kind in EVENT_KINDS:
            rule = events.Rule(
                self,
                kind.rule_id,
                rule_name=f"{settings.name}-pc-{kind.rule_id.lower()}",
                description=f"Partner Central '{kind.detail_type_prefix.strip()}' events to the cosync queue",
                event_pattern=event_pattern(kind, settings.catalogs),
                targets=[
                    targets.SqsQueue(
                        queue,
                        message_group_id=kind.group_id_path,
                        dead_letter_queue=undeliverable,
                        retry_attempts=20,
                        max_event_age=Duration.hours(24),
                    )
                ],
            )
            self.rules.append(rule)


class PartnerCentralForwarder(Stack):
    """Deployed in us-east-1 when cosync runs elsewhere: forwards Partner Central's events, unchanged, to
    the default bus of the service's region (cross-region bus targets:
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-region.html)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: DeploySettings, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        target_bus = events.EventBus.from_event_bus_arn(
            self,
            "ServiceRegionBus",
            f"arn:{self.partition}:events:{settings.region}:{settings.account}:event-bus/default",
        )
        self.rule = events.Rule(
            self,
            "Forward",
            rule_name=f"{settings.name}-pc-forward-{settings.region}",
            description=f"Partner Central events to the default bus of {settings.region}",
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE], detail={"catalog": list(settings.catalogs)}
            ),
            targets=[targets.EventBus(target_bus)],
        )
