"""The plan of ``cosync link`` and ``cosync backfill``: a pure function of the deals, one connector's remote
records and the person's confirmations. Nothing here does I/O, so every rule is tested on plain values.

Order of precedence, per connector:
1. a deal that already carries the remote id (``id_property``) is *adopted* (its state recorded);
2. a record that names a deal (Partner Central's ``PartnerOpportunityIdentifier``, Microsoft's
   ``externalReferenceId``) is *linked* to it;
3. the rest are paired by score, best first, one to one; a pair is linked only when the person confirmed it
   (``--accept-above SCORE`` or a row of ``--apply FILE``), otherwise it is a *candidate* and blocks creating
   either side (it may be the same deal entered twice);
4. a tagged deal left alone gets its remote record *created*; a record left alone gets a deal *created*;
5. (backfill) a linked pair whose fields differ is *reconciled* once, where the connector can.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..hooks.linking import LinkerSpec, Party, RemoteRecord
from .score import score

__all__ = ["CANDIDATE_MIN", "Action", "DealView", "Kind", "Plan", "plan_connector", "reconciliations"]

Kind = Literal["adopt", "link", "accept", "candidate", "create_deal", "create_remote", "reconcile"]
KINDS: tuple[Kind, ...] = (
    "adopt",
    "link",
    "accept",
    "candidate",
    "create_deal",
    "create_remote",
    "reconcile",
)
# Below this a pair is not worth a person's look.
CANDIDATE_MIN = 0.5


@dataclass(frozen=True, slots=True)
class DealView:
    id: str
    props: Mapping[str, Any]
    party: Party
    company: Mapping[str, Any] = field(default_factory=dict)  # the first associated company's properties


@dataclass(frozen=True, slots=True)
class Action:
    connector: str
    kind: Kind
    deal_id: str | None = None
    remote_id: str | None = None
    score: float | None = None
    label: str = ""
    differs: tuple[str, ...] = ()
    close_date: str = ""  # creations are prioritised by it (soonest first)

    @property
    def key(self) -> str:
        """The action's ledger key: stable across runs, so a rerun finds what it did."""
        ident = self.deal_id if self.kind in ("adopt", "create_remote", "reconcile") else self.remote_id
        if self.kind in ("link", "accept"):
            ident = f"{self.deal_id}:{self.remote_id}"
        return f"{self.connector}:{self.kind}:{ident}"


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)

    def of(self, *kinds: Kind) -> list[Action]:
        return [a for a in self.actions if a.kind in kinds]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = dict.fromkeys(KINDS, 0)
        for a in self.actions:
            found[a.kind] += 1
        return found


def _differs(spec: LinkerSpec, deal: DealView, record: RemoteRecord) -> tuple[str, ...]:
    if spec.differences is None:
        return ()
    return tuple(sorted(spec.differences(deal.props, record)))


def plan_connector(
    spec: LinkerSpec,
    deals: Sequence[DealView],
    records: Sequence[RemoteRecord],
    *,
    accept_above: float | None = None,
    confirmed: Collection[tuple[str, str]] = (),
) -> Plan:
    """Every action for one connector. ``confirmed`` holds ``(deal id, remote id)`` pairs a person accepted."""
    plan = Plan()
    name = spec.connector
    by_remote = {r.remote_id: r for r in records}
    claimed: set[str] = set()
    open_deals: list[DealView] = []
    naming = {r.deal_id: r for r in records if r.deal_id}
    for deal in deals:
        carried = next(
            (str(deal.props[p]) for p in (spec.id_property, *spec.also_ids) if deal.props.get(p)), ""
        )
        if carried:
            claimed.add(carried)
            found = by_remote.get(carried)
            differs = _differs(spec, deal, found) if found else ()
            plan.actions.append(
                Action(name, "adopt", deal.id, carried, label=deal.party.title, differs=differs)
            )
            continue
        record = naming.get(deal.id)
        if record is not None and record.remote_id not in claimed:
            claimed.add(record.remote_id)
            differs = _differs(spec, deal, record)
            plan.actions.append(
                Action(name, "link", deal.id, record.remote_id, 1.0, deal.party.title, differs)
            )
            continue
        open_deals.append(deal)
    free = [r for r in records if r.remote_id not in claimed]
    pairs = sorted(
        (
            (s.total, deal.id, record.remote_id)
            for deal in open_deals
            for record in free
            if (s := score(deal.party, record.party)).total >= CANDIDATE_MIN
        ),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    by_deal = {d.id: d for d in open_deals}
    paired: set[str] = set()
    wanted = set(confirmed)
    for total, deal_id, remote_id in pairs:
        if deal_id in paired or remote_id in claimed:
            continue
        paired.add(deal_id)
        claimed.add(remote_id)
        accepted = (deal_id, remote_id) in wanted or (accept_above is not None and total >= accept_above)
        deal, record = by_deal[deal_id], by_remote[remote_id]
        plan.actions.append(
            Action(
                name,
                "accept" if accepted else "candidate",
                deal_id,
                remote_id,
                total,
                f"{deal.party.title} ~ {record.label or record.party.title}",
                _differs(spec, deal, record),
            )
        )
    # Confirmed pairs below the candidate floor (a person knows better than the score).
    for deal_id, remote_id in sorted(wanted):
        if (
            deal_id in by_deal
            and deal_id not in paired
            and remote_id in by_remote
            and remote_id not in claimed
        ):
            paired.add(deal_id)
            claimed.add(remote_id)
            deal, record = by_deal[deal_id], by_remote[remote_id]
            total = score(deal.party, record.party).total
            plan.actions.append(Action(name, "accept", deal_id, remote_id, total, deal.party.title))
    if spec.create_remote is not None:
        for deal in open_deals:
            if deal.id not in paired and spec.tagged(deal.props):
                plan.actions.append(
                    Action(
                        name,
                        "create_remote",
                        deal.id,
                        label=deal.party.title,
                        close_date=deal.party.close_date,
                    )
                )
    if spec.deal_from_remote is not None:
        for record in free:
            # A record naming a deal was made from one: never give it a second deal.
            if record.remote_id not in claimed and not record.deal_id and record.open:
                plan.actions.append(
                    Action(
                        name,
                        "create_deal",
                        remote_id=record.remote_id,
                        label=record.label or record.party.title,
                        close_date=record.party.close_date,
                    )
                )
    return plan


def reconciliations(spec: LinkerSpec, plan: Plan) -> list[Action]:
    """One ``reconcile`` per linked pair that differs, when the connector can apply differences."""
    if spec.reconcile is None:
        return []
    return [
        Action(a.connector, "reconcile", a.deal_id, a.remote_id, label=a.label, differs=a.differs)
        for a in plan.of("adopt", "link", "accept")
        if a.differs
    ]
