"""What the internet may reach through the load balancer: the webhook intake and the authenticated API.

Everything else the relay serves (``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``) answers only
inside the VPC, on the task's port: the public listener's default action is a 404. ALB path patterns are
case-sensitive and ``*`` matches any characters, ``/`` included.
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html#path-conditions

tests/infra checks these lists against the routes a relay with the image's connectors actually mounts.
"""

from __future__ import annotations

__all__ = ["API_PATTERNS", "MAX_VALUES_PER_RULE", "WEBHOOK_PATTERNS", "chunks"]

# POST only: HubSpot's webhook target and the seeds' aliases (cosync_worker/relay/webhooks.py).
WEBHOOK_PATTERNS = ("/webhooks/hubspot", "/webhook/*")

# Every route here requires a bearer token (relay.api_tokens); the AWS connector's (submit, assign, solutions)
# are mounted only once it is configured.
API_PATTERNS = (
    "/jobs/*",
    "/audit-trail/*",
    "/conflicts/*",
    "/rollback",
    "/status",
    "/submit-opportunity",
    "/assign-opportunity",
    "/solutions",
    "/solutions/*",
)

# An ALB rule holds at most five condition values in all.
MAX_VALUES_PER_RULE = 5


def chunks(patterns: tuple[str, ...], size: int) -> list[tuple[str, ...]]:
    return [patterns[i : i + size] for i in range(0, len(patterns), size)]
