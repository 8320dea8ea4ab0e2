"""What a connector declares for ``cosync link`` and ``cosync backfill`` (hook ``cosync_linkers``).

The core lists the deals, matches, plans, keeps the resumable ledger and spends nothing itself; a connector
says how to list its remote records, which keys match exactly, what fuzzy scoring compares, how a link is
written to a deal and how a missing record is created in either direction. See ``docs/first-day.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LinkerSpec", "Party", "RemoteRecord", "WriteQuota"]

DealProps = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Party:
    """What candidate scoring compares on either side: the customer and the deal, as plain text."""

    company: str = ""
    domain: str = ""  # a domain or a website URL
    title: str = ""
    close_date: str = ""  # YYYY-MM-DD


@dataclass(frozen=True, slots=True)
class RemoteRecord:
    """One opportunity, referral or lead as the remote lists it."""

    remote_id: str
    party: Party = Party()
    deal_id: str | None = None  # the HubSpot deal the record names itself (an exact match)
    label: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)
    open: bool = True  # a closed record is matched and linked, never made into a new deal


@dataclass(frozen=True, slots=True)
class WriteQuota:
    """A remote write quota a creation spends (Partner Central: 1/s and 10,000 a day, shared)."""

    per_second: float
    per_day: int
    writes_per_creation: int = 1
    # The writes one deal's creation costs when the connector can tell (Partner Central: CreateOpportunity
    # and one AssociateOpportunity per solution it would choose); else ``writes_per_creation``.
    # ``creation_writes(deal props, company props)``.
    creation_writes: Callable[[DealProps, DealProps], int] | None = None

    def cost(self, props: DealProps, company: DealProps) -> int:
        if self.creation_writes is None:
            return max(1, self.writes_per_creation)
        return max(1, self.creation_writes(props, company))


@dataclass(frozen=True)
class LinkerSpec:
    """``connector``'s part in linking and backfilling.

    * ``id_property``: the deal property that holds the remote id once linked;
    * ``also_ids``: other deal properties whose value also means "linked already" (adopted, never created);
    * ``tagged(props)``: whether the deal belongs in this cloud (then backfill creates its record);
    * ``list_remote()``: every remote record, reads only; None when the remote cannot be listed;
    * ``read_linked(deals)``: for a remote that cannot be listed, the records of ``(deal id, props)`` pairs
      that already carry an id, read one by one (reads only), so a backfill can compare linked pairs;
    * ``link(deal_id, props, record)``: write the link to the deal and record the connector's state, sending
      nothing remote; ``record`` is None when the deal already carries ``id_property`` (adopt it); idempotent;
    * ``create_remote(deal_id)``: create the deal's remote record through the connector's own idempotent
      flow (the remote's idempotency token where it has one); returns the remote id or None;
    * ``deal_from_remote(record)``: the properties of a new deal for a record no deal matches (must hold
      ``id_property``), or None when this cloud's records never become deals this way;
    * ``deal_properties``/``company_properties``: what else the callables read of a deal and its company;
    * ``differences(props, record)``: ``{field: (deal value, remote value)}`` of a linked pair;
    * ``reconcile(deal_id, props, record)``: apply a linked pair's differences once, in the direction the
      connector syncs them (``cosync backfill``); None when the connector leaves them to its own sync.
    """

    connector: str
    id_property: str
    tagged: Callable[[DealProps], bool]
    link: Callable[[str, DealProps, RemoteRecord | None], Awaitable[None]]
    list_remote: Callable[[], Awaitable[Sequence[RemoteRecord]]] | None = None
    read_linked: Callable[[Sequence[tuple[str, DealProps]]], Awaitable[Sequence[RemoteRecord]]] | None = None
    create_remote: Callable[[str], Awaitable[str | None]] | None = None
    deal_from_remote: Callable[[RemoteRecord], dict[str, str]] | None = None
    differences: Callable[[DealProps, RemoteRecord], dict[str, tuple[Any, Any]]] | None = None
    reconcile: Callable[[str, DealProps, RemoteRecord | None], Awaitable[None]] | None = None
    deal_properties: tuple[str, ...] = ()
    company_properties: tuple[str, ...] = ()
    also_ids: tuple[str, ...] = ()
    quota: WriteQuota | None = None
    label: str = ""
