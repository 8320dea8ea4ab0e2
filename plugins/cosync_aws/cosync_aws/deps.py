"""What every flow needs, gathered by the running connector (``AwsConnector.deps``)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from cosync_worker.connector import BoundState, HeldLease
from cosync_worker.hubspot import HubSpotClient
from cosync_worker.store import Store

from .client import PartnerCentralClient
from .config import AwsConfig
from .solutions import SolutionCache
from .state import DealState

__all__ = ["DealLock", "Deps"]

# ``async with deps.deal_lock(deal_id):`` one flow at a time per deal, across message groups and replicas: a
# deal's HubSpot events are ordered in the deal's queue group, but Partner Central's events about its
# opportunity arrive in the opportunity's group, so a push and a reverse sync of one deal could otherwise run
# at the same moment and leave each side holding the other's old values. The SDK's lease expires by itself.
DealLock = Callable[[str], AbstractAsyncContextManager[HeldLease]]


@dataclass
class Deps:
    config: AwsConfig
    pc: PartnerCentralClient
    hs: HubSpotClient
    store: Store
    solutions: SolutionCache | None
    notifier: Any | None  # cosync_worker.notify.Notifier, when the process runs one
    deal_lock: DealLock
    deals: BoundState[DealState]  # typed per-deal state, written by compare-and-set
