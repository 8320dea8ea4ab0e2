"""Running ``cosync link`` and ``cosync backfill``: read the deals once, ask each connector's linker for its
remote records, plan (:mod:`.plan`), then do the plan in order (links, deals for remote records, remote
records for tagged deals), each action through the :class:`~.ledger.Ledger` so a rerun continues.

Remote calls go through the connectors' own clients, so they draw from the same shared budgets as a running
``cosync run`` (the store keeps them): both can run at once without exceeding a quota.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TextIO

from ..errors import Retry
from ..hooks import Context, PluginManager, maybe_await
from ..hooks.linking import LinkerSpec, Party, RemoteRecord, WriteQuota
from ..logs import get_logger
from .ledger import DAY, Ledger
from .plan import Action, DealView, Plan, plan_connector, reconciliations
from .progress import Progress

__all__ = ["Budget", "Options", "Report", "collect_linkers", "read_deals", "run_linking"]

log = get_logger("cosync.linking")

SEARCH_WINDOW = 10_000  # HubSpot's search returns no result past this many
RESERVE_SHARE = 0.05
RESERVE_MIN = 5
RETRY_ROUNDS = 3
MAX_RETRY_WAIT = 60.0
DEAL_FIELDS = ("dealname", "closedate", "amount", "createdate")
COMPANY_FIELDS = ("name", "domain", "website")


@dataclass(frozen=True)
class Options:
    connector: str | None = None
    dry_run: bool = False
    backfill: bool = False
    accept_above: float | None = None
    confirmed: Mapping[str, set[tuple[str, str]]] = field(default_factory=dict)
    since: date | None = None
    concurrency: int = 8


@dataclass
class Budget:
    """What a connector's creations cost of its write quota, said before anything is spent."""

    connector: str
    creations: int
    writes: int
    per_second: float
    per_day: int
    available: int
    now: int  # creations done in this run; the rest wait for the next day
    seconds: float  # the lower bound the per-second quota sets for ``now``
    resume_after: float | None = None

    @property
    def deferred(self) -> int:
        return self.creations - self.now


@dataclass
class Report:
    plans: dict[str, Plan] = field(default_factory=dict)
    budgets: list[Budget] = field(default_factory=list)
    done: Counter[str] = field(default_factory=Counter)
    already: Counter[str] = field(default_factory=Counter)
    failed: list[tuple[Action, str]] = field(default_factory=list)
    deferred: list[Action] = field(default_factory=list)

    def actions(self) -> list[Action]:
        return [a for p in self.plans.values() for a in p.actions]


async def collect_linkers(
    plugins: PluginManager, context: Context, connector: str | None
) -> list[LinkerSpec]:
    """The configured connectors' linkers (one of them with ``connector``); an unknown name is refused."""
    specs: list[LinkerSpec] = []
    for result in plugins.hook.cosync_linkers(context=context):
        specs.extend(await maybe_await(result) or [])
    specs.sort(key=lambda s: s.connector)
    if connector is None:
        return specs
    chosen = [s for s in specs if s.connector == connector]
    if not chosen:
        known = ", ".join(s.connector for s in specs) or "none"
        raise LookupError(f"no configured connector named {connector!r} links deals; configured: {known}")
    return chosen


def _party(props: Mapping[str, Any], company: Mapping[str, Any] | None) -> Party:
    company = company or {}
    return Party(
        company=str(company.get("name") or ""),
        domain=str(company.get("domain") or company.get("website") or ""),
        title=str(props.get("dealname") or ""),
        close_date=str(props.get("closedate") or "")[:10],
    )


async def _all_deals(hubspot: Any, properties: list[str]) -> list[dict[str, Any]]:
    """Every deal, by id: HubSpot's search stops at 10,000 results, so it goes on after the last id seen."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        filters = [{"propertyName": "hs_object_id", "operator": "GT", "value": after}] if after else []
        page = []
        async for record in hubspot.search(
            "deals",
            filter_groups=[{"filters": filters}] if filters else [],
            properties=properties,
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            limit=100,
        ):
            page.append(record)
            if len(page) >= SEARCH_WINDOW:
                break
        found += page
        if len(page) < SEARCH_WINDOW:
            return found
        after = str(page[-1]["id"])


async def read_deals(hubspot: Any, specs: Sequence[LinkerSpec]) -> list[DealView]:
    """Every deal with what the linkers read, and its first company: one search and two batch reads per 100."""
    wanted = dict.fromkeys(
        [*DEAL_FIELDS, *(p for s in specs for p in (s.id_property, *s.also_ids, *s.deal_properties))]
    )
    records = await _all_deals(hubspot, list(wanted))
    company_fields = list(dict.fromkeys([*COMPANY_FIELDS, *(p for s in specs for p in s.company_properties)]))
    ids = [str(r["id"]) for r in records]
    links = await hubspot.batch_associations("deals", "companies", ids) if ids else {}
    company_ids = sorted({c[0] for c in links.values() if c})
    companies = (
        {
            str(c["id"]): c.get("properties") or {}
            for c in await hubspot.batch_read("companies", company_ids, properties=company_fields)
        }
        if company_ids
        else {}
    )
    views = []
    for record in records:
        props = record.get("properties") or {}
        first = (links.get(str(record["id"])) or [None])[0]
        company = companies.get(str(first)) if first else None
        views.append(DealView(str(record["id"]), props, _party(props, company), company or {}))
    return views


def _carries(spec: LinkerSpec, deal: DealView) -> bool:
    return any(deal.props.get(p) for p in (spec.id_property, *spec.also_ids))


def _created_since(deal: DealView | None, since: date | None) -> bool:
    if since is None or deal is None:
        return True
    created = str(deal.props.get("createdate") or "")
    return created[:10] >= since.isoformat()


def _share(quota: WriteQuota) -> int:
    """The day's writes a backfill plans for: the quota less a reserve for the client's retries (a throttled
    attempt draws from the daily budget too) and for what a running ``cosync run`` writes meanwhile."""
    return quota.per_day - max(RESERVE_MIN, int(quota.per_day * RESERVE_SHARE))


def _cost(quota: WriteQuota, deal: DealView | None) -> int:
    return quota.cost(deal.props, deal.company) if deal is not None else quota.cost({}, {})


def _priority(action: Action) -> tuple[int, str, str]:
    # Soonest close first (a deal closing this month needs its co-sell now); undated last.
    return (0 if action.close_date else 1, action.close_date, action.deal_id or "")


async def _budget(
    spec: LinkerSpec, creations: list[Action], deals: Mapping[str, DealView], ledger: Ledger
) -> Budget | None:
    """The quota the creations need, and how many of them (in priority order) fit what is left today."""
    quota = spec.quota
    if quota is None or not creations:
        return None
    costs = [_cost(quota, deals.get(a.deal_id or "")) for a in creations]
    available = max(0, _share(quota) - await ledger.writes_today(spec.connector))
    now, spent = 0, 0
    for cost in costs:
        if spent + cost > available:
            break
        now, spent = now + 1, spent + cost
    return Budget(
        spec.connector,
        len(creations),
        sum(costs),
        quota.per_second,
        quota.per_day,
        available,
        now,
        spent / quota.per_second,
        None if now == len(creations) else (await ledger.resume_after(spec.connector) or time.time() + DAY),
    )


async def run_linking(
    context: Context, specs: Sequence[LinkerSpec], options: Options, progress_to: TextIO | None = None
) -> Report:
    """Plan every connector and, unless ``dry_run``, do the plan; returns what was planned and done."""
    hubspot = context.service("hubspot")
    ledger = Ledger(context.store)
    report = Report()
    deals = await read_deals(hubspot, specs)
    by_id = {d.id: d for d in deals}
    records: dict[str, dict[str, RemoteRecord]] = {}
    for spec in specs:
        listed = list(await spec.list_remote()) if spec.list_remote is not None else []
        if options.backfill and spec.read_linked is not None:
            # Only a backfill reconciles linked pairs: ``link`` spends no reads on comparing them.
            listed += await spec.read_linked([(d.id, d.props) for d in deals if _carries(spec, d)])
        records[spec.connector] = {r.remote_id: r for r in listed}
        plan = plan_connector(
            spec,
            deals,
            listed,
            accept_above=options.accept_above,
            confirmed=options.confirmed.get(spec.connector, set()),
        )
        if not options.backfill:
            plan.actions = [a for a in plan.actions if a.kind not in ("create_remote", "create_deal")]
        else:
            plan.actions = [
                a
                for a in plan.actions
                if a.kind != "create_remote" or _created_since(by_id.get(a.deal_id or ""), options.since)
            ]
            plan.actions += reconciliations(spec, plan)
        creations = sorted(plan.of("create_remote"), key=_priority)
        budget = await _budget(spec, creations, by_id, ledger)
        if budget is not None:
            report.budgets.append(budget)
            report.deferred += creations[budget.now :]
            keep = set(map(id, creations[: budget.now]))
            plan.actions = [a for a in plan.actions if a.kind != "create_remote" or id(a) in keep]
            plan.actions.sort(key=lambda a: _priority(a) if a.kind == "create_remote" else (0, "", ""))
        report.plans[spec.connector] = plan
    if options.dry_run:
        return report
    runner = _Runner(context, ledger, report, by_id, records, options.concurrency)
    for spec in specs:
        plan = report.plans[spec.connector]
        for kinds in (("adopt", "link", "accept"), ("reconcile",), ("create_deal",), ("create_remote",)):
            batch = [a for a in plan.actions if a.kind in kinds]
            if batch:
                await runner.run(spec, batch, progress_to)
    return report


class _Deferred(Exception):
    """The action no longer fits today's quota: left (not done) for the next run."""


class _Runner:
    def __init__(
        self,
        context: Context,
        ledger: Ledger,
        report: Report,
        deals: dict[str, DealView],
        records: dict[str, dict[str, RemoteRecord]],
        concurrency: int,
    ) -> None:
        self.hubspot = context.service("hubspot")
        self.ledger = ledger
        self.report = report
        self.deals = deals
        self.records = records
        self.gate = asyncio.Semaphore(concurrency)

    async def run(self, spec: LinkerSpec, actions: list[Action], stream: TextIO | None) -> None:
        quota = spec.quota if actions[0].kind == "create_remote" else None
        per_action = None
        if quota is not None:
            costs = [_cost(quota, self.deals.get(a.deal_id or "")) for a in actions]
            per_action = sum(costs) / max(1, len(costs)) / quota.per_second
        progress = Progress(f"{spec.connector} {actions[0].kind}", len(actions), stream, per_action)

        waiting: list[tuple[Action, float]] = []

        async def one(action: Action) -> None:
            async with self.gate:
                defer = await self._one(spec, action, last_try=False)
                if defer is None:
                    progress.advance()
                else:
                    waiting.append((action, defer))

        await asyncio.gather(*(one(a) for a in actions))
        for attempt in range(1, RETRY_ROUNDS + 1):
            if not waiting:
                break
            # A lease a killed run (or a busy worker) holds expires by itself: wait for it, then go on.
            pause = min(max(d for _, d in waiting), MAX_RETRY_WAIT)
            if stream is not None:
                stream.write(f"{len(waiting)} action(s) wait {pause:.0f}s for a deal another process holds\n")
            await asyncio.sleep(pause)
            again, waiting = waiting, []
            last = attempt == RETRY_ROUNDS
            for action, _ in again:
                defer = await self._one(spec, action, last_try=last)
                if defer is None:
                    progress.advance()
                else:
                    waiting.append((action, defer))
        progress.close()

    async def _one(self, spec: LinkerSpec, action: Action, *, last_try: bool) -> float | None:
        """Do ``action`` unless done; the seconds to wait before trying again when a lease is held."""
        entry = await self.ledger.read(action)
        if entry.get("status") == "done":
            self.report.already[action.kind] += 1
            return None
        await self.ledger.started(action)
        try:
            result = await self._perform(spec, action, entry)
        except _Deferred:
            self.report.deferred.append(action)
            return None
        except Retry as exc:
            if not last_try:
                return exc.defer if exc.defer is not None else 1.0
            self.report.failed.append((action, f"Retry: {str(exc)[:300]}"))
            return None
        except Exception as exc:  # one record's failure must not stop the run; it is reported and rerun
            reason = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.warning("backfill_action_failed", action=action.key, error=type(exc).__name__)
            self.report.failed.append((action, reason))
            return None
        await self.ledger.finished(action, **result)
        self.report.done[action.kind] += 1
        return None

    async def _perform(self, spec: LinkerSpec, action: Action, entry: dict[str, Any]) -> dict[str, Any]:
        record = self.records[spec.connector].get(action.remote_id or "")
        if action.kind == "adopt":
            deal = self.deals[action.deal_id or ""]
            await spec.link(deal.id, deal.props, None)
            return {}
        if action.kind in ("link", "accept"):
            assert record is not None
            deal = self.deals[action.deal_id or ""]
            await spec.link(deal.id, deal.props, record)
            return {}
        if action.kind == "reconcile":
            assert spec.reconcile is not None
            deal = self.deals[action.deal_id or ""]
            # A reconcile may write once to the remote (its update): counted against the day's share too.
            if spec.quota is not None and not await self.ledger.try_spend(
                spec.connector, 1, _share(spec.quota)
            ):
                raise _Deferred
            await spec.reconcile(deal.id, deal.props, record)
            return {}
        if action.kind == "create_deal":
            assert record is not None and spec.deal_from_remote is not None
            deal_id = entry.get("deal_id") or await self._deal_for(spec, record)
            props = spec.deal_from_remote(record)
            if not deal_id:
                created = await self.hubspot.create("deals", props)
                deal_id = str(created["id"])
                # Before the link: a rerun after a kill here reuses this deal instead of creating another.
                await self.ledger.started(action, deal_id=deal_id)
            await spec.link(str(deal_id), props, record)
            return {"deal_id": deal_id}
        assert action.kind == "create_remote" and spec.create_remote is not None
        if spec.quota is not None:
            cost = _cost(spec.quota, self.deals.get(action.deal_id or ""))
            # The plan fitted today's quota; a creation that would no longer fit (an estimate was short,
            # another backfill spent some) waits for the next run instead of blocking on the daily bucket.
            if not await self.ledger.try_spend(spec.connector, cost, _share(spec.quota)):
                raise _Deferred
        remote_id = await spec.create_remote(action.deal_id or "")
        return {"remote_id": remote_id}

    async def _deal_for(self, spec: LinkerSpec, record: RemoteRecord) -> str | None:
        """A deal that already holds the record's id (made by an earlier run or by the connector's poll)."""
        found = await self.hubspot.search_all(
            "deals",
            filter_groups=[
                {"filters": [{"propertyName": spec.id_property, "operator": "EQ", "value": record.remote_id}]}
            ],
            properties=[spec.id_property],
            limit=2,
        )
        return str(found[0]["id"]) if found else None


def when(ts: float | None) -> str:
    return "-" if not ts else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
