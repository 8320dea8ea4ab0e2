"""API calls per AWS flow: the real Runtime (worker + relay, local SQLite queue and store) between the HubSpot
and Partner Central emulators, each flow run end to end and measured with the emulators' ``/_sandbox/calls``.

The rep acts in HubSpot with the user token (signed webhooks reach the relay), AWS acts through the Partner
Central operator API (not counted), ticks are put on the queue as the scheduler would. HubSpot's counter also
sees the rep's own clicks; the bench's HubSpot emulator counts those apart and they are subtracted, so every
figure is a call cosync made. Loopback only; bounded by ``--cap`` seconds.
Run: ``.venv/bin/python bench/aws_calls_per_flow.py`` (``--deals 50`` for the summary and reconcile flows).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cosync_aws.properties import PROPERTIES

from cosync_worker.config import Settings
from cosync_worker.events import schedule_tick
from cosync_worker.logs import configure_logging
from cosync_worker.runtime import Runtime
from cosync_worker.sandbox.base import CALL_NAME, Handler
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.sandbox.partnercentral.app import WRITE_OPERATIONS
from cosync_worker.sandbox.stack import HUBSPOT_SUBSCRIPTIONS, eventbridge_sink

API_TOKEN = "bench-api-token"
FUTURE = (date.today() + timedelta(days=60)).isoformat()
# The first owner of the emulator's portal (cosync_worker/sandbox/hubspot/catalog.py).
OWNER_ID = "70000001"
_slots = itertools.count(1)


class RepAwareHubSpot(HubSpotEmulator):
    """The HubSpot emulator that also counts the rep's own requests (user token) under the same names, so
    ``/_sandbox/calls`` minus these is what cosync spent."""

    def __init__(self, **kwargs: Any) -> None:
        self.rep_calls: Counter[str] = Counter()
        super().__init__(**kwargs)

    @web.middleware
    async def _count_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await super()._count_middleware(request, handler)
        finally:
            rep = request.headers.get("Authorization") == f"Bearer {self.user_token}"
            if rep and not request.path.startswith("/_sandbox/"):
                name = request.get(CALL_NAME)
                if name is None:
                    resource = request.match_info.route.resource
                    name = f"{request.method} {resource.canonical if resource is not None else request.path}"
                self.rep_calls[name] += 1


@dataclass
class Delta:
    """What cosync called during one flow."""

    flow: str
    hubspot: Counter[str]
    partnercentral: Counter[str]
    seconds: float

    @property
    def pc_reads(self) -> int:
        return sum(n for op, n in self.partnercentral.items() if op not in WRITE_OPERATIONS)

    @property
    def pc_writes(self) -> int:
        return sum(n for op, n in self.partnercentral.items() if op in WRITE_OPERATIONS)

    def row(self, seed: tuple[str, str, str]) -> str:
        hs = ", ".join(f"{n} {_short(k)}" for k, n in sorted(self.hubspot.items())) or "none"
        reads = ", ".join(
            f"{n} {op}" for op, n in sorted(self.partnercentral.items()) if op not in WRITE_OPERATIONS
        )
        writes = ", ".join(
            f"{n} {op}" for op, n in sorted(self.partnercentral.items()) if op in WRITE_OPERATIONS
        )
        return (
            f"| {self.flow} | {sum(self.hubspot.values())}: {hs} "
            f"| {self.pc_reads}{': ' + reads if reads else ''} "
            f"| {self.pc_writes}{': ' + writes if writes else ''} | {' | '.join(seed)} |"
        )


def _short(name: str) -> str:
    method, _, path = name.partition(" ")
    return f"{method} {path.removeprefix('/crm')}"


class Bench:
    """The stack plus the rep, AWS, and the measuring."""

    def __init__(
        self, rt: Runtime, hs: RepAwareHubSpot, pc: PartnerCentralEmulator, session: aiohttp.ClientSession
    ) -> None:
        self.rt, self.hs, self.pc, self.session = rt, hs, pc, session
        self.queue_path = Path(rt.settings.queue.path)

    # -- the rep in HubSpot (user token) -----------------------------------------------------------
    async def rep(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.hs.user_token}"}
        async with self.session.request(method, self.hs.base_url + path, json=body, headers=headers) as r:
            data = await r.json(content_type=None)
            if r.status >= 300:
                raise RuntimeError(f"HubSpot {method} {path}: {r.status} {data}")
            return data

    async def rep_create(
        self, kind: str, props: dict[str, str], links: dict[int, list[str]] | None = None
    ) -> str:
        body: dict[str, Any] = {"properties": props}
        if links:
            body["associations"] = [
                {
                    "to": {"id": to},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}],
                }
                for t, ids in links.items()
                for to in ids
            ]
        made = await self.rep("POST", f"/crm/v3/objects/{kind}", body)
        return str(made["id"])

    async def rep_update(self, kind: str, object_id: str, props: dict[str, str]) -> None:
        await self.rep("PATCH", f"/crm/v3/objects/{kind}/{object_id}", {"properties": props})

    # -- AWS (operator API, not counted) and cosync's own REST API -----------------------------------
    async def aws(self, path: str, body: dict[str, Any]) -> Any:
        async with self.session.post(self.pc.base_url + path, json=body) as r:
            data = await r.json(content_type=None)
            if r.status >= 300:
                raise RuntimeError(f"operator {path}: {r.status} {data}")
            return data

    async def relay(self, path: str, body: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with self.session.post(f"{self.rt.relay_url}{path}", json=body, headers=headers) as r:
            data = await r.json(content_type=None)
            if r.status >= 300:
                raise RuntimeError(f"relay {path}: {r.status} {data}")
            return data

    async def tick(self, loop: str) -> None:
        event = schedule_tick(loop, next(_slots) + int(time.time()))
        await self.rt.context.queue.send([(event.to_json(), event.ordering_key, event.dedupe_key)])

    # -- observing ----------------------------------------------------------------------------------
    def deal(self, deal_id: str) -> dict[str, str]:
        return dict(self.hs.objects("deals")[deal_id]["properties"])

    async def counters(self) -> tuple[Counter[str], Counter[str]]:
        """Both emulators' ``/_sandbox/calls``, HubSpot's less the rep's own requests."""
        async with self.session.get(self.hs.base_url + "/_sandbox/calls") as r:
            hs = Counter[str](await r.json())
        async with self.session.get(self.pc.base_url + "/_sandbox/calls") as r:
            pc = Counter[str](await r.json())
        hs.subtract(self.hs.rep_calls)
        return hs, pc

    def _unacked(self) -> int:
        # Read-only look at the local queue's file: received-but-unacked messages are still work in progress
        # (a write waiting for its turn, a task poll), which ``depth()`` does not count.
        with sqlite3.connect(f"file:{self.queue_path}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    async def quiet(self, timeout: float = 30.0) -> None:
        """Wait until webhooks are delivered, the queue is empty and no counter moved for two polls."""
        deadline = time.monotonic() + timeout
        last: tuple[Counter[str], Counter[str]] | None = None
        stable = 0
        while time.monotonic() < deadline:
            await self.hs.drain_webhooks()
            pending = await asyncio.to_thread(self._unacked)
            now = await self.counters()
            stable = stable + 1 if pending == 0 and now == last else 0
            if stable >= 2:
                return
            last = now
            await asyncio.sleep(0.25)
        raise TimeoutError(f"the stack did not go quiet within {timeout}s")

    async def until(self, check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not done within {timeout}s")
            await asyncio.sleep(0.05)

    async def measure(
        self, flow: str, action: Callable[[], Awaitable[Any]], done: Callable[[], bool]
    ) -> Delta:
        await self.quiet()
        hs0, pc0 = await self.counters()
        started = time.monotonic()
        await action()
        await self.until(done, flow)
        await self.quiet()
        hs1, pc1 = await self.counters()
        return Delta(flow, +(hs1 - hs0), +(pc1 - pc0), time.monotonic() - started)


def settings_for(tmp: Path, hs: HubSpotEmulator, pc: PartnerCentralEmulator) -> Settings:
    """Production defaults except: quotas opened up (calls are counted, not timed) and fast task polling so
    the run is short; schedules off (the bench ticks them itself)."""
    return Settings.model_validate(
        {
            "queue": {"kind": "local", "path": str(tmp / "queue.db"), "visibility_timeout": 10},
            "store": {"kind": "sqlite", "path": str(tmp / "state.db")},
            "worker": {"concurrency": 16, "wait_seconds": 0.2, "drain_seconds": 5, "heartbeat_seconds": 1},
            "relay": {"enabled": True, "host": "127.0.0.1", "port": 0, "api_tokens": [API_TOKEN]},
            "hubspot": {
                "base_url": hs.base_url,
                "access_token": hs.access_token,
                "client_secret": hs.client_secret,
                "app_id": hs.webhooks.app_id,
                "requests_per_10s": 10_000,
                "search_per_second": 1_000,
            },
            "plugins": {"example": False, "gcp": False},
            "connectors": {
                "aws": {
                    "endpoint_url": pc.base_url,
                    "catalog": "Sandbox",
                    "aws_access_key_id": "sandbox",
                    "aws_secret_access_key": "sandbox",
                    "task_poll_seconds": 0.05,
                    "write_rate_per_second": 1000,
                    "read_rate_per_second": 1000,
                }
            },
            "schedules": {
                name: {"enabled": False}
                for name in ("aws_reconcile", "aws_invitations", "aws_summary", "aws_submission_rules")
            },
        }
    )


@asynccontextmanager
async def bench_stack(tmp: Path) -> AsyncIterator[Bench]:
    """Emulators, Runtime (relay + worker) and the webhook/EventBridge wiring; torn down on exit."""
    hs = RepAwareHubSpot(burst_limit=10_000, search_per_second=1_000, webhook_flush_seconds=0.05)
    pc = PartnerCentralEmulator(write_rate=1000.0, read_rate=1000.0, task_seconds=0.05)
    await hs.start()
    await pc.start()
    try:
        async with Runtime(settings_for(tmp, hs, pc)) as rt, aiohttp.ClientSession() as session:
            await rt.start_relay()
            await rt.context.service("hubspot").ensure_properties(list(PROPERTIES))
            hs.subscribe(f"{rt.relay_url}/webhooks/hubspot", HUBSPOT_SUBSCRIPTIONS)
            pc.set_event_sink(eventbridge_sink(rt.context.queue))
            worker = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False))
            try:
                yield Bench(rt, hs, pc, session)
            finally:
                pc.set_event_sink(None)
                rt.stop()
                await asyncio.wait_for(worker, 15)
    finally:
        await pc.stop()
        await hs.stop()


# -- the flows -------------------------------------------------------------------------------------------


def deal_props(name: str, n: int = 0) -> dict[str, str]:
    return {
        "dealname": f"{name} #AWS",
        "description": f"Move {40 + n} on-prem databases to Amazon RDS before the data centre lease ends",
        "dealstage": "qualifiedtobuy",
        "closedate": FUTURE,
        "amount": str(12_000 + n),
    }


async def flow_create(b: Bench) -> tuple[Delta, str, str, str]:
    """(1) The rep creates a company, two contacts and a tagged deal associated with all three.
    Returns the delta, the deal id, the company id and a contact id."""
    ids: dict[str, str] = {}

    async def act() -> None:
        ids["company"] = await b.rep_create("companies", {"name": "BigCorp", "domain": "bigcorp.example"})
        ids["contact"] = await b.rep_create(
            "contacts", {"email": "cto@bigcorp.example", "firstname": "Cora", "lastname": "Tan"}
        )
        other = await b.rep_create(
            "contacts", {"email": "it@bigcorp.example", "firstname": "Ivo", "lastname": "Tee"}
        )
        # The rep made these before the deal (as usual): their events are handled before it exists, which
        # also keeps the count from depending on which of two racing handlers sees the opportunity first.
        await b.quiet()
        ids["deal"] = await b.rep_create(
            "deals", deal_props("BigCorp Cloud Migration"), {5: [ids["company"]], 3: [ids["contact"], other]}
        )

    delta = await b.measure(
        "1. tagged deal created (company + 2 contacts)",
        act,
        lambda: "deal" in ids and bool(b.deal(ids["deal"]).get("aws_opportunity_id")),
    )
    return delta, ids["deal"], ids["company"], ids["contact"]


async def flow_update_burst(b: Bench, deal_id: str) -> Delta:
    """(2) Three quick edits of one deal: stage, amount, close date."""
    opp_id = b.deal(deal_id)["aws_opportunity_id"]
    new_close = (date.today() + timedelta(days=75)).isoformat()

    async def act() -> None:
        await b.rep_update("deals", deal_id, {"dealstage": "presentationscheduled"})
        await b.rep_update("deals", deal_id, {"amount": "15000"})
        await b.rep_update("deals", deal_id, {"closedate": new_close})

    def done() -> bool:
        opp = b.pc.opportunities("Sandbox")[opp_id]
        return (
            opp["LifeCycle"]["Stage"] == "Technical Validation"
            and opp["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "15000"
            and opp["LifeCycle"]["TargetCloseDate"] == new_close
        )

    return await b.measure("2. update burst on one deal (stage, amount, close date)", act, done)


async def flow_company_change(b: Bench, deal_id: str, company_id: str) -> Delta:
    opp_id = b.deal(deal_id)["aws_opportunity_id"]
    return await b.measure(
        "3a. company domain changed",
        lambda: b.rep_update("companies", company_id, {"domain": "bigcorp.io"}),
        lambda: (
            b.pc.opportunities("Sandbox")[opp_id]["Customer"]["Account"]["WebsiteUrl"] == "https://bigcorp.io"
        ),
    )


async def flow_contact_change(b: Bench, deal_id: str, contact_id: str) -> Delta:
    opp_id = b.deal(deal_id)["aws_opportunity_id"]

    def done() -> bool:
        contacts = b.pc.opportunities("Sandbox")[opp_id]["Customer"].get("Contacts") or []
        return any(c.get("Email") == "cora.tan@bigcorp.example" for c in contacts)

    return await b.measure(
        "3b. contact email changed",
        lambda: b.rep_update("contacts", contact_id, {"email": "cora.tan@bigcorp.example"}),
        done,
    )


async def flow_owner(b: Bench, deal_id: str) -> Delta:
    return await b.measure(
        "4. deal owner changed → AssignOpportunity",
        lambda: b.rep_update("deals", deal_id, {"hubspot_owner_id": OWNER_ID}),
        lambda: bool(b.deal(deal_id).get("aws_assigned_partner_user")),
    )


async def flow_submit(b: Bench, deal_id: str) -> Delta:
    return await b.measure(
        "5. POST /submit-opportunity",
        lambda: b.relay("/submit-opportunity", {"deal_id": deal_id}),
        lambda: bool(b.deal(deal_id).get("aws_submission_date")),
    )


async def flow_invitation(b: Bench) -> Delta:
    made: dict[str, str] = {}

    async def act() -> None:
        made.update(
            await b.aws(
                "/_sandbox/invitations",
                {
                    "catalog": "Sandbox",
                    "customer": {
                        "CompanyName": "Globex",
                        "CountryCode": "US",
                        "WebsiteUrl": "https://globex.example",
                    },
                    "project": {
                        "Title": "Globex data lake",
                        "CustomerBusinessProblem": "Consolidate 9 data silos",
                    },
                },
            )
        )

    def done() -> bool:
        return any(
            d["properties"].get("aws_invitation_id") == made.get("invitation_id")
            for d in b.hs.objects("deals").values()
        )

    return await b.measure("6. invitation accepted → new deal", act, done)


async def flow_reverse(b: Bench, deal_id: str) -> Delta:
    opp_id = b.deal(deal_id)["aws_opportunity_id"]
    return await b.measure(
        "7. AWS changes the opportunity (Opportunity Updated event)",
        lambda: b.aws(
            f"/_sandbox/opportunities/{opp_id}",
            {"ReviewStatus": "Action Required", "ReviewComments": "add the customer's website"},
        ),
        lambda: b.deal(deal_id).get("aws_review_status") == "Action Required",
    )


async def make_deals(b: Bench, count: int) -> list[str]:
    """Setup, not measured: ``count`` tagged deals, each with its own company, synced to opportunities."""
    deal_ids: list[str] = []
    for n in range(count):
        company = await b.rep_create("companies", {"name": f"Corp {n}", "domain": f"corp{n}.example"})
        deal_ids.append(await b.rep_create("deals", deal_props(f"Corp {n} migration", n), {5: [company]}))
    await b.until(
        lambda: all(b.deal(d).get("aws_opportunity_id") for d in deal_ids), "setup: deals synced", timeout=60
    )
    await b.quiet()
    return deal_ids


async def flow_summary(b: Bench, deal_ids: list[str]) -> Delta:
    # AWS has rated every opportunity (setup: these events are reverse-synced before the tick is measured)
    for n, deal_id in enumerate(deal_ids):
        opp_id = b.deal(deal_id)["aws_opportunity_id"]
        await b.aws(
            f"/_sandbox/opportunities/{opp_id}",
            {"EngagementScore": ("High", "Medium", "Low")[n % 3], "NextSteps": f"Joint call {n}"},
        )
    await b.quiet()
    synced = sum(1 for d in b.hs.objects("deals").values() if d["properties"].get("aws_opportunity_id"))
    return await b.measure(
        f"8. summary sync, {synced} deals (one tick)",
        lambda: b.tick("aws_summary"),
        lambda: all(b.deal(d).get("aws_last_summary_sync") for d in deal_ids),
    )


async def flow_reconcile(b: Bench, deal_ids: list[str], changed: int = 5) -> tuple[Delta, Delta, Delta]:
    first = await b.measure(
        "9a. reconcile, first run (no cursor yet)", lambda: b.tick("aws_reconcile"), lambda: True
    )
    idle = await b.measure("9b. reconcile, nothing changed", lambda: b.tick("aws_reconcile"), lambda: True)
    b.pc.set_event_sink(None)  # EventBridge is best effort: these changes reach cosync only by reconciling
    targets = deal_ids[:changed]
    for deal_id in targets:
        await b.aws(
            f"/_sandbox/opportunities/{b.deal(deal_id)['aws_opportunity_id']}", {"ReviewStatus": "Submitted"}
        )
    b.pc.set_event_sink(eventbridge_sink(b.rt.context.queue))
    some = await b.measure(
        f"9c. reconcile, {changed} changed in AWS (events lost)",
        lambda: b.tick("aws_reconcile"),
        lambda: all(b.deal(d).get("aws_review_status") == "Submitted" for d in targets),
    )
    return first, idle, some


async def flow_lifecycle(b: Bench, deal_id: str) -> list[Delta]:
    """Issue 18, after submission (flow 5 made the deal's engagement): the engagement loop, a team member
    added, AWS sharing a snapshot (event), the resource loop, a partner upload."""
    opp_id = b.deal(deal_id)["aws_opportunity_id"]
    eng_id = b.deal(deal_id)["aws_engagement_id"]
    rows = [
        await b.measure(
            "10a. engagement sync, first run (every engagement)",
            lambda: b.tick("aws_engagements"),
            lambda: True,
        ),
        await b.measure(
            "10b. engagement sync, nothing changed", lambda: b.tick("aws_engagements"), lambda: True
        ),
    ]
    member = {"dealId": deal_id, "memberEmail": "cyd.manager@example.com", "role": "Primary Contact"}
    rows.append(
        await b.measure(
            "11. POST /opportunity-team/add (assignee role)",
            lambda: b.relay("/opportunity-team/add", member),
            lambda: "cyd.manager" in b.deal(deal_id).get("aws_opportunity_team", ""),
        )
    )
    rows.append(
        await b.measure(
            "12a. AWS shares a snapshot (two snapshot events)",
            lambda: b.aws(f"/_sandbox/engagements/{eng_id}/snapshots", {"opportunity_id": opp_id}),
            lambda: bool(b.deal(deal_id).get("aws_synced_resources")),
        )
    )
    rows.append(
        await b.measure("12b. resource sync, nothing new", lambda: b.tick("aws_resources"), lambda: True)
    )
    upload = {
        "dealId": deal_id,
        "resourceType": "Case Study",
        "title": "Acme case study",
        "url": "https://partner.example.com/acme.pdf",
    }
    rows.append(
        await b.measure(
            "13. POST /resources/upload",
            lambda: b.relay("/resources/upload", upload),
            lambda: bool(b.deal(deal_id).get("aws_partner_resources")),
        )
    )
    return rows


async def run_all(tmp: Path, deals: int) -> tuple[list[Delta], int]:
    """Every flow in order; returns the rows and how many deals had an opportunity at the end."""
    rows: list[Delta] = []
    async with bench_stack(tmp) as b:
        await b.quiet()
        create, deal_id, company_id, contact_id = await flow_create(b)
        rows.append(create)
        rows.append(await flow_update_burst(b, deal_id))
        rows.append(await flow_company_change(b, deal_id, company_id))
        rows.append(await flow_contact_change(b, deal_id, contact_id))
        rows.append(await flow_owner(b, deal_id))
        rows.append(await flow_submit(b, deal_id))
        rows.append(await flow_invitation(b))
        rows.append(await flow_reverse(b, deal_id))
        many = await make_deals(b, deals)
        rows.append(await flow_summary(b, many))
        rows.extend(await flow_reconcile(b, many))
        rows.extend(await flow_lifecycle(b, deal_id))
        synced = sum(1 for d in b.hs.objects("deals").values() if d["properties"].get("aws_opportunity_id"))
    return rows, synced


def seed_design(flow: str, n: int, rated: int) -> tuple[str, str, str]:
    """What the seeds' Lambdas would call for the same flow: (HubSpot, Partner Central reads, writes).
    ``n`` deals have an opportunity, ``rated`` of them got a new engagement score before the summary run.
    Counted from the seeds' workflow steps, one call per step, a note as one call (a lower bound): the
    derivation of each figure, quoting the seeds, is in docs/benchmarks.md."""
    per_run = ("1", str(n), "0")
    return {
        "1": ("6", "1", "8"),
        "2": ("9", "3", "3"),
        "3a": ("4", "1", "1"),
        "3b": ("4", "1", "1"),
        "4": ("4", "1", "1"),
        "5": ("3", "2+", "1"),
        "6": ("1", "2", "1"),
        "7": ("3", "1", "0"),
        "8": (str(1 + n + rated), str(n), "0"),
        "9a": per_run,
        "9b": per_run,
        "9c": ("11", str(n), "0"),
        # Seed 002 §2: ListEngagements + GetEngagement + ListEngagementMembers per opportunity every 30 min,
        # and the deal updated each time.
        "10a": (str(n), str(3 * n), "0"),
        "10b": (str(n), str(3 * n), "0"),
        # Seed 002 §3: AssignOpportunity, the team synced back (ListEngagementMembers), the deal, a timeline note.
        "11": ("2", "1", "1"),
        # Seed 001 §3, every 4 h: search the deals, then per deal ListEngagements + GetResourceSnapshot, a note
        # per new resource and the deal's properties.
        "12a": (str(1 + 2), str(2 * n), "0"),
        "12b": ("1", str(2 * n), "0"),
        # Seed 002 §4: CreateResourceSnapshot + AssociateOpportunity, the list synced back, the deal, two notes.
        "13": ("3", "1", "2"),
    }.get(flow.split(".", 1)[0], ("?", "?", "?"))


def table(rows: list[Delta], n: int, rated: int) -> str:
    lines = [
        "| flow | cosync: HubSpot | cosync: PC reads | cosync: PC writes | seeds: HubSpot | seeds: PC reads "
        "| seeds: PC writes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    return "\n".join(lines + [r.row(seed_design(r.flow, n, rated)) for r in rows])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, default=50, help="deals for the summary and reconcile flows")
    parser.add_argument("--cap", type=float, default=120.0, help="give up after this many seconds")
    args = parser.parse_args()
    configure_logging("WARNING")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            rows, synced = await asyncio.wait_for(run_all(Path(tmp), args.deals), args.cap)
        except TimeoutError:
            print(f"not finished within the {args.cap:g} s cap", file=sys.stderr)
            raise SystemExit(1) from None
    print(table(rows, synced, args.deals))
    print(f"\n{time.monotonic() - started:.1f} s in all")


if __name__ == "__main__":
    asyncio.run(main())
