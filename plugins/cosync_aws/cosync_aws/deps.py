"""What every flow needs, gathered by the running connector (``AwsConnector.deps``)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from cosync_worker.connector import BoundState, HeldLease, HeldWrites
from cosync_worker.hubspot import HubSpotClient
from cosync_worker.store import Store

from .client import PartnerCentralClient
from .config import AwsConfig
from .solutions import SolutionCache
from .state import DealState, InvitationState, OpportunityLink, RelatedMark, ToldState

__all__ = ["DealLock", "Deps", "Lock"]

# ``async with deps.deal_lock(deal_id):`` one flow at a time per deal, across message groups and replicas: a
# deal's HubSpot events are ordered in the deal's queue group, but Partner Central's events about its
# opportunity arrive in the opportunity's group, so a push and a reverse sync of one deal could otherwise run
# at the same moment and leave each side holding the other's old values. The SDK's lease expires by itself.
DealLock = Callable[[str], AbstractAsyncContextManager[HeldLease]]


class Lock(Protocol):
    """The connector's lease on any key (``Connector.lock``: ``aws:<key>``, renewed while held, fenced writes);
    another worker holding it past ``wait_seconds`` is a ``Busy`` retry deferred by half the TTL."""

    def __call__(
        self,
        key: str,
        *,
        ttl_seconds: float = ...,
        wait_seconds: float = ...,
        max_hold_seconds: float | None = ...,
    ) -> AbstractAsyncContextManager[HeldLease]: ...


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
    lock: Lock
    opportunities: BoundState[OpportunityLink]  # opportunity -> deal, written once
    invitations: BoundState[InvitationState]
    related: BoundState[RelatedMark]  # a company's or contact's last push read (related_id)
    told: BoundState[ToldState]  # what the rep was told, per opportunity (notices.Told)
    # Rep edits held while the write budget is busy, written by the drain (outbound.sync_change); None
    # outside a running connector (``cosync link``): a change then waits for its turn.
    held: HeldWrites | None = None
