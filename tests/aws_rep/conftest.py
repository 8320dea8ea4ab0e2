"""The AWS stack of the connector's own tests (worker + relay between the HubSpot and Partner Central
emulators), with a fallback task owner so deals AWS brings, which have no owner yet, still get their task."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

sys.path.insert(
    0, str(Path(__file__).resolve().parents[2] / "plugins" / "cosync_aws")
)  # as tests/console does
from tests_aws.conftest import Stack, start_stack

OWNER = "70000001"


def tasks_of(stack: Stack, deal_id: str) -> list[dict[str, Any]]:
    """The deal's tasks (properties), oldest first, from the HubSpot emulator's state."""
    linked = stack.hs.portal.associated("deals", deal_id, "tasks")
    tasks = stack.hs.objects("tasks")
    return [dict(t["properties"]) for tid, t in sorted(tasks.items()) if tid in linked]


@pytest.fixture
async def rep_stack(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> AsyncIterator[Stack]:
    async for s in start_stack(tmp_path, hubspot_emulator, partnercentral_emulator):
        notifier = s.rt.context.services["notify"]
        notifier.settings = notifier.settings.model_copy(update={"fallback_owner_id": OWNER})
        yield s
