"""``cosync demo``: the whole system on one machine, against the sandbox, with a live table.

The demo plays both sides over the same HTTP interfaces the real services expose: the rep edits deals in
HubSpot with a user token (so HubSpot sends signed webhooks to the relay), each cloud acts through its emulator's
operator API (an emulator that publishes events feeds them onto the queue). What each cloud plays, and which
deal properties show its progress, comes from its connector's ``cosync_demo`` hook; its emulator from
``cosync_emulators``. Everything listens on loopback only.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..config import Settings
from ..hooks import DemoAction, DemoCloudSpec, PluginManager
from ..runtime import Runtime
from ..sandbox.stack import SandboxStack
from .script import DemoDeal, book

__all__ = ["DemoResult", "demo_clouds", "run_demo"]


def demo_clouds(plugins: PluginManager) -> list[DemoCloudSpec]:
    """Every connector's ``cosync_demo`` answer, once per connector, in registration order."""
    found: dict[str, DemoCloudSpec] = {}
    for spec in reversed(plugins.hook.cosync_demo()):  # pluggy answers last-registered first
        if spec is not None:
            found.setdefault(spec.connector, spec)
    return list(found.values())


@dataclass
class DemoResult:
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)
    hops: dict[str, float] = field(default_factory=dict)  # "<deal name> -> <cloud>": seconds
    incoming: dict[str, bool] = field(default_factory=dict)
    elapsed: float = 0.0
    book: tuple[DemoDeal, ...] = ()
    clouds: tuple[DemoCloudSpec, ...] = ()

    @property
    def expected_hops(self) -> list[str]:
        return [f"{d.name} -> {c}" for d in self.book for c in d.clouds]

    @property
    def arrivals(self) -> list[DemoAction]:
        """The clouds' moves that should land in HubSpot as a deal."""
        return [a for c in self.clouds for a in (*c.incoming, *c.reviews) if a.lands_as]

    @property
    def complete(self) -> bool:
        return all(h in self.hops for h in self.expected_hops) and all(self.incoming.values())


class _Rep:
    """Acts as a person in HubSpot's UI: the user token, so changes are attributed to a user."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session, self.base_url = session, base_url
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        for _ in range(20):
            async with self.session.request(
                method, self.base_url + path, json=body, headers=self.headers
            ) as r:
                if r.status == 429:
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                    continue
                r.raise_for_status()
                return await r.json() if r.content_type == "application/json" else None
        raise RuntimeError(f"HubSpot emulator kept throttling {method} {path}")


async def _ensure_properties(rt: Runtime, pm: PluginManager) -> None:
    client = rt.context.services.get("hubspot")
    if client is None:
        return
    specs = [spec for specs in pm.hook.cosync_hubspot_properties() for spec in specs or []]
    await client.ensure_properties(specs)


async def _seed(rep: _Rep, owner_id: str, deals: tuple[DemoDeal, ...]) -> dict[str, str]:
    """Companies, contacts and deals, associated, as a rep would enter them; returns deal name -> id."""
    ids: dict[str, str] = {}
    for deal in deals:
        company = await rep.call("POST", "/crm/v3/objects/companies", {"properties": deal.company})
        contact = await rep.call(
            "POST",
            "/crm/v3/objects/contacts",
            {
                "properties": deal.contact,
                "associations": [
                    {
                        "to": {"id": company["id"]},
                        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
                    }
                ],
            },
        )
        created = await rep.call(
            "POST",
            "/crm/v3/objects/deals",
            {
                "properties": {
                    "dealname": deal.name,
                    "amount": deal.amount,
                    "dealstage": deal.stage,
                    "pipeline": "default",
                    "closedate": "2027-01-31",
                    "hubspot_owner_id": owner_id,
                    "description": f"{deal.company['name']} evaluating a move to the cloud.",
                },
                "associations": [
                    {
                        "to": {"id": company["id"]},
                        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}],
                    },
                    {
                        "to": {"id": contact["id"]},
                        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                    },
                ],
            },
        )
        ids[deal.name] = created["id"]
    return ids


def _table(stack: SandboxStack, result: DemoResult, started: float) -> Table:
    table = Table(title=f"cosync demo: {time.monotonic() - started:5.1f} s", expand=True)
    for col in ("deal", "stage", "amount", *(c.label for c in result.clouds)):
        table.add_column(col)
    for record in sorted(stack.hubspot.objects("deals").values(), key=lambda r: int(r["id"])):
        p = record["properties"]
        cells = []
        for cloud in result.clouds:
            ident = p.get(cloud.id_property)
            cells.append(f"[green]{ident}[/]" if ident else (p.get(cloud.status_property) or "-"))
        table.add_row(p.get("dealname", ""), p.get("dealstage", ""), p.get("amount", ""), *cells)
    return table


def _observe(stack: SandboxStack, result: DemoResult, created_at: dict[str, float]) -> None:
    deals = stack.hubspot.objects("deals")
    by_name = {r["properties"].get("dealname"): r for r in deals.values()}
    id_property = {c.connector: c.id_property for c in result.clouds}
    for deal in result.book:
        record = by_name.get(deal.name)
        if record is None:
            continue
        result.deals[deal.name] = dict(record["properties"])
        for cloud in deal.clouds:
            hop = f"{deal.name} -> {cloud}"
            if hop not in result.hops and record["properties"].get(id_property[cloud]):
                result.hops[hop] = time.monotonic() - created_at.get(deal.name, time.monotonic())
    names = [r["properties"].get("dealname", "") for r in deals.values()]
    for action in result.arrivals:
        result.incoming[action.result or action.label] = any(action.lands_as in n for n in names)


async def run_demo(
    *,
    speed: float = 1.0,
    duration: float = 60.0,
    console: Console | None = None,
    data_dir: Path | None = None,
) -> DemoResult:
    console = console or Console(stderr=True)
    pause = 1.0 / max(speed, 0.01)
    pm = PluginManager().load(None)
    clouds = tuple(demo_clouds(pm))
    result = DemoResult(book=book(clouds), clouds=clouds)
    result.incoming = {a.result or a.label: False for a in result.arrivals}
    with tempfile.TemporaryDirectory(prefix="cosync-demo-") as tmp:
        data = data_dir or Path(tmp)
        stack = SandboxStack(time_scale=20.0, plugins=pm)
        await stack.start()
        try:
            settings = Settings.model_validate(
                stack.config(data, plugins=pm) | {"logging": {"level": "WARNING"}}
            )
            plugins = PluginManager()
            async with Runtime(settings, plugins=plugins) as rt, aiohttp.ClientSession() as session:
                stack.connect_queue(rt.context.queue)
                await rt.start_relay()
                worker = asyncio.create_task(rt.run(with_relay=False))
                await _ensure_properties(rt, plugins)
                rep = _Rep(session, stack.hubspot.base_url, stack.hubspot.user_token)
                owners = await rep.call("GET", "/crm/v3/owners")
                owner_id = str(owners["results"][0]["id"])
                started = time.monotonic()
                steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
                ids: dict[str, str] = {}
                created_at: dict[str, float] = {}

                async def seed() -> None:
                    ids.update(await _seed(rep, owner_id, result.book))
                    created_at.update({n: time.monotonic() for n in ids})

                async def edit() -> None:
                    for deal in result.book:
                        if deal.edits and deal.name in ids:
                            await rep.call(
                                "PATCH", f"/crm/v3/objects/deals/{ids[deal.name]}", {"properties": deal.edits}
                            )

                steps = [
                    ("rep creates the book of deals in HubSpot", seed),
                    ("rep edits amounts, stages and close dates", edit),
                    *_moves(clouds, stack, session),
                ]
                deadline = started + duration
                with Live(_table(stack, result, started), console=console, refresh_per_second=4) as live:
                    for label, step in steps:
                        console.log(label)
                        await step()
                        end = time.monotonic() + pause * 2
                        while time.monotonic() < end:
                            _observe(stack, result, created_at)
                            live.update(_table(stack, result, started))
                            await asyncio.sleep(0.25)
                    sync_loops = [s.name for s in rt.scheduler.schedules]
                    for name in sync_loops:
                        # Pull-based flows (referral poll, invitation poll) run now rather than at their slot.
                        from ..events import schedule_tick

                        tick = schedule_tick(name, int(time.time() * 1000))
                        await rt.context.queue.send([(tick.to_json(), tick.ordering_key, tick.dedupe_key)])
                    while time.monotonic() < deadline:
                        _observe(stack, result, created_at)
                        live.update(_table(stack, result, started))
                        if result.complete:
                            break
                        await asyncio.sleep(0.25)
                result.elapsed = time.monotonic() - started
                rt.stop()
                await worker
        finally:
            await stack.stop()
    _summary(console, result)
    return result


def _moves(
    clouds: tuple[DemoCloudSpec, ...], stack: SandboxStack, session: aiohttp.ClientSession
) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    """Every cloud's incoming moves, then every cloud's reviews (of what cosync sent it meanwhile)."""
    actions = [a for c in clouds for a in c.incoming] + [a for c in clouds for a in c.reviews]
    return [(a.label, functools.partial(a.run, stack, session)) for a in actions]


def _summary(console: Console, result: DemoResult) -> None:
    table = Table(title="What synced", expand=True)
    table.add_column("hop")
    table.add_column("result")
    for hop in result.expected_hops:
        seconds = result.hops.get(hop)
        table.add_row(
            hop, f"[green]synced in {seconds:.1f} s[/]" if seconds is not None else "[red]not synced[/]"
        )
    for hop, ok in result.incoming.items():
        table.add_row(hop, "[green]synced[/]" if ok else "[red]not synced[/]")
    console.print(table)
    done = len(result.hops) + sum(result.incoming.values())
    total = len(result.expected_hops) + len(result.incoming)
    console.print(f"{done} of {total} hops synced in {result.elapsed:.1f} s")
