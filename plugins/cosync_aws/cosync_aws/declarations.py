"""What the ``aws`` connector brings besides its handlers: its notice kinds, the Partner Central emulator for the
sandbox, and its part in ``cosync demo``. Registered with the connector (``plugin.py`` exposes these hooks)."""

from __future__ import annotations

from typing import Any

from cosync_worker.hooks import DemoCloudSpec, EmulatorSpec, NoticeKindSpec, hookimpl
from cosync_worker.sandbox import eventbridge_sink

from .demo import DEMO, EMULATOR

__all__ = ["cosync_demo", "cosync_emulators", "cosync_notice_kinds"]


def _emulator(host: str, time_scale: float) -> Any:
    from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

    return PartnerCentralEmulator(host=host, time_scale=time_scale)


def _connection(emulator: Any) -> dict[str, Any]:
    return {
        "endpoint_url": emulator.base_url,
        "region": "us-east-1",
        "aws_access_key_id": "sandbox",
        "aws_secret_access_key": "sandbox",
        "catalog": "Sandbox",
    }


def _connect_queue(emulator: Any, queue: Any) -> None:
    # In production Partner Central's events reach the queue through an EventBridge rule.
    emulator.set_event_sink(eventbridge_sink(queue))


@hookimpl
def cosync_notice_kinds() -> list[NoticeKindSpec]:
    return [NoticeKindSpec("aws", "AWS")]


@hookimpl
def cosync_emulators() -> list[EmulatorSpec]:
    return [
        EmulatorSpec(
            EMULATOR,
            _emulator,
            _connection,
            _connect_queue,
            "AWS Partner Central Selling API (botocore model)",
        )
    ]


@hookimpl
def cosync_demo() -> DemoCloudSpec:
    return DEMO
