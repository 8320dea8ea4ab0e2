"""cdk-nag AwsSolutions findings we accept, each on the one construct it concerns and with its reason.

Anything not listed here fails the tests. Rules: https://github.com/cdklabs/cdk-nag/blob/main/RULES.md
"""

from __future__ import annotations

from collections.abc import Iterable

from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import IConstruct

__all__ = ["SECRET_ROTATION", "suppress"]

SECRET_ROTATION = (
    "Third-party credentials (HubSpot private-app token and client secret, Microsoft and Google credentials) are "
    "issued and rotated in those vendors' consoles; Secrets Manager has no rotation function for them. "
    "docs/deploy.md describes the manual rotation."
)

_REASONS: dict[str, str] = {
    "AwsSolutions-SMG4": SECRET_ROTATION,
    "AwsSolutions-ECS2": (
        "The environment holds only non-secret settings (queue URL, table name, region, sizes) and env: "
        "references to the variables ECS fills from Secrets Manager through the container's secrets "
        "(valueFrom); no secret value is in the environment or the template."
    ),
    "AwsSolutions-EC23": (
        "HubSpot posts webhooks from addresses it does not publish as a fixed list, so the HTTPS listener is "
        "public by default (relay.ingress_cidrs narrows it); every webhook is verified by its v3 signature."
    ),
    "AwsSolutions-S1": (
        "This bucket only receives the load balancer's access logs; logging access to the log bucket itself "
        "would need another bucket with the same question."
    ),
    "AwsSolutions-SQS3": (
        "This queue is itself a dead-letter queue: the EventBridge targets' DLQ (EventBridge requires a standard "
        "queue there, so it cannot be the FIFO DLQ)."
    ),
}


def suppress(
    construct: IConstruct, rule: str, *, applies_to: Iterable[str] | None = None, reason: str = ""
) -> None:
    """Suppress ``rule`` on ``construct`` and its children; ``reason`` defaults to the rule's standard one."""
    text = reason or _REASONS[rule]
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=rule, reason=text, applies_to=list(applies_to) if applies_to else None)],
        apply_to_children=True,
    )
