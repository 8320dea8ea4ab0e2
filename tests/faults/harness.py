"""The fault suite's moving parts: the relay and the emulators in this process, worker replicas as
``cosync run --no-relay`` subprocesses that a chaos loop SIGKILLs and restarts, the load, and the checks.

Everything is driven through public interfaces: the rep edits deals over HubSpot's API (signed webhooks reach
the relay), AWS changes opportunities through the Partner Central operator API (events reach the queue
through the EventBridge sink), faults are switched on with ``/_sandbox/faults``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from cosync_aws.config import DEFAULT_STAGE_MAP
from cosync_aws.properties import PROPERTIES

from cosync_worker.config import Settings
from cosync_worker.events import schedule_tick
from cosync_worker.runtime import Runtime
from cosync_worker.sandbox.base import Emulator
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.sandbox.stack import HUBSPOT_SUBSCRIPTIONS, eventbridge_sink

ROOT = Path(__file__).resolve().parents[2]
TIME_SCALE = 20.0
STAGES = ("qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent")
PROPS = ("amount", "closedate", "dealstage")
TODAY = date.today()


def config(
    tmp_path: Path,
    hs: HubSpotEmulator,
    pc: PartnerCentralEmulator,
    queue: dict[str, Any],
    store: dict[str, Any],
) -> dict[str, Any]:
    """One config for the relay (this process) and every worker replica; only the AWS connector runs."""
    return {
        "queue": {"visibility_timeout": 5, **queue},
        "store": store,
        "worker": {
            "concurrency": 16,
            "wait_seconds": 1,
            "drain_seconds": 5,
            "heartbeat_seconds": 1,
            # The defaults' attempt count; shorter delays so the suite converges in minutes
            "retry": {"max_attempts": 8, "base_delay": 0.2, "max_delay": 2.0},
        },
        "relay": {"enabled": True, "port": 0, "api_tokens": ["fault-suite-token"]},
        "logging": {"format": "json"},
        "hubspot": {
            "base_url": hs.base_url,
            "access_token": hs.access_token,
            "client_secret": hs.client_secret,
            "app_id": hs.webhooks.app_id,
            "requests_per_10s": 10_000,
            "search_per_second": 1_000,
        },
        "plugins": {"example": False, "gcp": False, "microsoft": False},
        "connectors": {
            "aws": {
                "endpoint_url": pc.base_url,
                "catalog": "Sandbox",
                "aws_access_key_id": "sandbox",
                "aws_secret_access_key": "sandbox",
                "coalesce_seconds": 1.0,
                "task_poll_seconds": 0.05,
                # A SIGKILLed acceptance holds its invitation's lock for task_timeout + 30 s
                "task_timeout_seconds": 10,
                # Half the scaled quota: the time scale also scales the jitter between drawing a token and
                # the request landing (see plugins/cosync_aws/tests_aws/test_write_budget.py)
                "write_rate_per_second": TIME_SCALE * 0.5,
                "read_rate_per_second": 10 * TIME_SCALE * 0.8,
            }
        },
        "schedules": {
            name: {"enabled": False}
            for name in ("aws_reconcile", "aws_invitations", "aws_summary", "aws_submission_rules")
        },
    }


@dataclass
class Replicas:
    """Worker processes; ``kill_one`` SIGKILLs the oldest and starts a fresh one in its place."""

    config_path: Path
    logs: Path
    count: int
    procs: list[asyncio.subprocess.Process] = field(default_factory=list)
    kills: int = 0
    started: int = 0

    async def _spawn(self) -> asyncio.subprocess.Process:
        self.started += 1
        log = (self.logs / f"worker{self.started}.log").open("wb")
        try:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cosync_worker",
                "run",
                "--no-relay",
                "-c",
                str(self.config_path),
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                cwd=self.config_path.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()

    async def start(self) -> None:
        for _ in range(self.count):
            self.procs.append(await self._spawn())

    async def kill_one(self) -> None:
        victim = self.procs.pop(0)
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        self.kills += 1
        self.procs.append(await self._spawn())

    async def chaos(self, every: float, until: asyncio.Event) -> None:
        while not until.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), every)
            if not until.is_set():
                await self.kill_one()

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()

    def log_count(self, needle: bytes) -> int:
        return sum(p.read_bytes().count(needle) for p in self.logs.glob("worker*.log"))

    def lines_about(self, ident: str, most: int = 30) -> list[str]:
        """The replicas' log lines naming ``ident`` (a deal or opportunity id), oldest first: what a failed
        run leaves to read once its store and emulators are gone."""
        lines = [
            line
            for p in sorted(self.logs.glob("worker*.log"))
            for line in p.read_text(errors="replace").splitlines()
            if ident in line
        ]
        return sorted(lines, key=lambda line: line.partition('"timestamp": ')[2])[-most:]


@dataclass
class Suite:
    rt: Runtime
    hs: HubSpotEmulator
    pc: PartnerCentralEmulator
    session: aiohttp.ClientSession
    replicas: Replicas
    rep_retries: Counter[str] = field(default_factory=Counter)
    # The rep's last value of each (deal, property) they changed: what HubSpot must still hold at the end
    rep_values: dict[tuple[str, str], str] = field(default_factory=dict)

    # -- the rep and AWS, through public APIs; injected faults are retried as any client would -------------
    async def rep(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.hs.user_token}"}
        for _ in range(200):
            async with self.session.request(method, self.hs.base_url + path, json=body, headers=headers) as r:
                data = await r.json(content_type=None)
                if r.status == 429 or r.status >= 500:
                    self.rep_retries[str(r.status)] += 1
                    await asyncio.sleep(float(r.headers.get("Retry-After", "0")) or 0.05)
                    continue
                assert r.status < 300, (r.status, data)
                return data
        raise AssertionError(f"{method} {path} kept failing")

    async def operator(self, emulator: Emulator, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, emulator.base_url + path, json=body) as r:
            data = await r.json(content_type=None)
            assert r.status < 300, (r.status, data)
            return data

    async def faults(self, body: dict[str, Any] | None) -> None:
        for em in (self.hs, self.pc):
            await self.operator(em, "DELETE" if body is None else "POST", "/_sandbox/faults", body)

    # -- load -----------------------------------------------------------------------------------------------
    async def make_deals(self, n: int, companies: int) -> list[str]:
        company_ids = []
        for c in range(companies):
            made = await self.rep(
                "POST",
                "/crm/v3/objects/companies",
                {"properties": {"name": f"Fault Co {c}", "domain": f"faultco{c}.example"}},
            )
            company_ids.append(str(made["id"]))

        async def one(i: int) -> str:
            body = {
                "properties": {
                    "dealname": f"Fault deal {i} #AWS",
                    "description": "Move the order system to managed services before the peak season",
                    "dealstage": STAGES[0],
                    "closedate": (TODAY + timedelta(days=60)).isoformat(),
                    "amount": "1000",
                },
                "associations": [
                    {
                        "to": {"id": company_ids[i % companies]},
                        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}],
                    }
                ],
            }
            made = await self.rep("POST", "/crm/v3/objects/deals", body)
            return str(made["id"])

        return await gather_limited([lambda i=i: one(i) for i in range(n)], 10)

    async def change_deals(self, deal_ids: list[str], rounds: int, pause: float) -> int:
        """``rounds`` times one property change per deal; returns how many changes were made."""
        made = 0
        for r in range(1, rounds + 1):
            jobs = []
            for i, deal_id in enumerate(deal_ids):
                prop = PROPS[(r + i) % len(PROPS)]
                if prop == "amount":
                    value = str(1000 + 10 * r + i)
                elif prop == "closedate":
                    value = (TODAY + timedelta(days=60 + r + i % 30)).isoformat()
                else:
                    value = STAGES[(r + i) % len(STAGES)]
                jobs.append(
                    lambda d=deal_id, p=prop, v=value: self.rep(
                        "PATCH", f"/crm/v3/objects/deals/{d}", {"properties": {p: v}}
                    )
                )
                self.rep_values[(deal_id, prop)] = value
            await gather_limited(jobs, 20)
            made += len(jobs)
            await asyncio.sleep(pause)
        return made

    async def aws_changes(self, opp_ids: list[str]) -> int:
        """AWS scores and comments on some opportunities: each emits EventBridge events to the queue."""
        for n, opp_id in enumerate(opp_ids):
            await self.operator(
                self.pc,
                "POST",
                f"/_sandbox/opportunities/{opp_id}",
                {"EngagementScore": ("High", "Medium", "Low")[n % 3], "NextSteps": f"AWS follow-up {n}"},
            )
        return len(opp_ids)

    async def invitations(self, n: int) -> list[str]:
        made = []
        for i in range(n):
            data = await self.operator(
                self.pc,
                "POST",
                "/_sandbox/invitations",
                {
                    "catalog": "Sandbox",
                    "customer": {"CompanyName": f"Referral Co {i}", "CountryCode": "US"},
                    "project": {
                        "Title": f"Referral {i}",
                        "ExpectedCustomerSpend": 2000,
                        "CustomerBusinessProblem": "Needs a partner to run the data lake migration",
                    },
                },
            )
            made.append(str(data["invitation_id"]))
        return made

    async def forge(self) -> tuple[list[str], int]:
        """Messages that must end in the DLQ (put on the queue on purpose) and a forged webhook the relay
        must refuse. Returns the bodies put on the queue and the relay's status for the forgery."""
        queue = self.rt.context.queue
        bodies = [
            "this is not json",
            schedule_tick("nobody_handles_this", 1).to_json(),
            json.dumps({"detail-type": "Opportunity Updated", "source": "aws.partnercentral-selling"}),
        ]
        await queue.send([(b, f"forged-{i}", f"forged-{i}") for i, b in enumerate(bodies)])
        forged_webhook = [{"eventId": 1, "subscriptionType": "deal.deletion", "objectId": 1, "occurredAt": 1}]
        async with self.session.post(
            f"{self.rt.relay_url}/webhooks/hubspot",
            json=forged_webhook,
            headers={
                "X-HubSpot-Signature-v3": "Zm9yZ2Vk",
                "X-HubSpot-Request-Timestamp": str(int(time.time() * 1000)),
            },
        ) as r:
            return bodies, r.status

    # -- checks ---------------------------------------------------------------------------------------------
    def mismatches(self, deal_ids: list[str]) -> list[str]:
        """Deals whose opportunity does not hold the deal's current values (empty when converged)."""
        deals = self.hs.objects("deals")
        opps = self.pc.opportunities("Sandbox")
        wrong = []
        for deal_id in deal_ids:
            props = deals[deal_id]["properties"]
            opp = opps.get(props.get("aws_opportunity_id") or "")
            if opp is None:
                wrong.append(f"{deal_id}: no opportunity")
                continue
            have = (
                opp["LifeCycle"].get("Stage"),
                str(opp["LifeCycle"].get("TargetCloseDate"))[:10],
                opp["Project"]["ExpectedCustomerSpend"][0]["Amount"],
            )
            want = (DEFAULT_STAGE_MAP[props["dealstage"]], str(props["closedate"])[:10], props["amount"])
            if have != want:
                wrong.append(f"{deal_id}: {have} != {want}")
        return wrong

    def overwritten(self) -> list[str]:
        """The rep's edits HubSpot no longer holds (a stale write-back from Partner Central would do that and
        still leave both sides equal, so :meth:`mismatches` alone would not see it)."""
        deals = self.hs.objects("deals")
        lost = []
        for (deal_id, prop), value in sorted(self.rep_values.items()):
            have = str(deals[deal_id]["properties"].get(prop) or "")
            if have[:10] != value[:10]:
                lost.append(f"{deal_id}.{prop}: {have!r} != the rep's {value!r}")
        return lost

    def duplicates(self) -> dict[str, Any]:
        """Anything created twice: opportunities per deal, deals per opportunity, notes and tasks per deal."""
        deals = self.hs.objects("deals")
        opps = self.pc.opportunities("Sandbox")
        per_partner_id = Counter(o.get("PartnerOpportunityIdentifier") for o in opps.values())
        per_opp = Counter(d["properties"].get("aws_opportunity_id") for d in deals.values())
        found: dict[str, Any] = {
            "opportunities": {k: n for k, n in per_partner_id.items() if k and n > 1},
            "deals": {k: n for k, n in per_opp.items() if k and n > 1},
        }
        for kind, prop in (("notes", "hs_note_body"), ("tasks", "hs_task_subject")):
            records = self.hs.objects(kind)
            dup = {}
            for deal_id in deals:
                linked = self.hs.portal.associated("deals", deal_id, kind)
                texts = Counter(str(records[x]["properties"].get(prop)) for x in linked if x in records)
                extra = {t: n for t, n in texts.items() if n > 1}
                if extra:
                    dup[deal_id] = extra
            found[kind] = dup
        return {k: v for k, v in found.items() if v}


async def gather_limited(jobs: list[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(run(j) for j in jobs)))


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, every: float = 0.5) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(every)
    raise AssertionError(f"not converged within {timeout}s")


async def start_suite(
    tmp_path: Path,
    hs: HubSpotEmulator,
    pc: PartnerCentralEmulator,
    *,
    queue: dict[str, Any],
    store: dict[str, Any],
    workers: int,
) -> AsyncIterator[Suite]:
    data = config(tmp_path, hs, pc, queue, store)
    config_path = tmp_path / "cosync.yaml"
    worker_data = {**data, "relay": {"enabled": False}}
    config_path.write_text(yaml.safe_dump(worker_data))
    async with Runtime(Settings.model_validate(data)) as rt, aiohttp.ClientSession() as session:
        await rt.start_relay()
        await rt.context.service("hubspot").ensure_properties(list(PROPERTIES))
        hs.subscribe(f"{rt.relay_url}/webhooks/hubspot", HUBSPOT_SUBSCRIPTIONS)
        pc.set_event_sink(eventbridge_sink(rt.context.queue))
        replicas = Replicas(config_path, tmp_path, workers)
        await replicas.start()
        try:
            yield Suite(rt, hs, pc, session, replicas)
        finally:
            pc.set_event_sink(None)
            await replicas.stop()


@dataclass
class Load:
    deals: int
    rounds: int  # each round changes one property of every deal
    invitations: int = 5
    aws_changes: int = 50
    kill_every: float = 4.0
    storm_seconds: float = 3.0
    error_rate: float = 0.1
    converge_timeout: float = 150.0


async def run_scenario(suite: Suite, load: Load) -> dict[str, Any]:
    """Load + faults + kills, then wait until converged; returns the figures (and asserts nothing)."""
    started = time.monotonic()
    chaos_over = asyncio.Event()
    await suite.faults({"error_rate": load.error_rate, "seed": 11})
    chaos = asyncio.create_task(suite.replicas.chaos(load.kill_every, chaos_over))
    try:
        deal_ids = await suite.make_deals(load.deals, companies=20)
        invitation_ids = await suite.invitations(load.invitations)
        half = load.rounds // 2
        changes = await suite.change_deals(deal_ids, half, pause=0.5)
        await suite.faults({"storm": {"seconds": load.storm_seconds, "retry_after": 1}})
        changes += await suite.change_deals(deal_ids, load.rounds - half, pause=0.5)

        async def some_opportunities() -> bool:
            deals = suite.hs.objects("deals")
            return sum(1 for d in deal_ids if deals[d]["properties"].get("aws_opportunity_id")) >= min(
                load.aws_changes, load.deals
            )

        await wait_until(some_opportunities, load.converge_timeout)
        deals = suite.hs.objects("deals")
        opp_ids = [
            deals[d]["properties"]["aws_opportunity_id"]
            for d in deal_ids
            if deals[d]["properties"].get("aws_opportunity_id")
        ][: load.aws_changes]
        aws_changes = await suite.aws_changes(opp_ids)
        forged, forged_status = await suite.forge()
        load_seconds = time.monotonic() - started
    finally:
        chaos_over.set()
        await chaos
    injected = {
        name: dict((await suite.operator(em, "GET", "/_sandbox/faults"))["injected"])
        for name, em in (("hubspot", suite.hs), ("partnercentral", suite.pc))
    }
    await suite.faults(None)

    def invitation_deals() -> list[dict[str, Any]]:
        return [
            d
            for d in suite.hs.objects("deals").values()
            if str(d["properties"].get("dealname", "")).startswith("Referral")
        ]

    async def converged() -> bool:
        await suite.hs.drain_webhooks()
        return (
            not suite.mismatches(deal_ids)
            and len([d for d in invitation_deals() if d["properties"].get("aws_opportunity_id")])
            >= load.invitations
            and await suite.rt.context.queue.depth() == 0
        )

    try:
        converge_seconds: float | None = await wait_until(converged, load.converge_timeout)
    except AssertionError:
        converge_seconds = None  # reported in the figures; assert_clean names the deals that differ
    await asyncio.sleep(3.0)  # anything still in flight (a late retry) shows up in the checks below
    pc_calls = await suite.operator(suite.pc, "GET", "/_sandbox/calls")
    hs_calls = await suite.operator(suite.hs, "GET", "/_sandbox/calls")
    delivered = await suite.operator(suite.hs, "GET", "/_sandbox/webhooks/deliveries")
    return {
        "deal_ids": deal_ids,
        "invitation_ids": invitation_ids,
        "forged": forged,
        "forged_webhook_status": forged_status,
        "figures": {
            "workers": suite.replicas.count,
            "deals": len(deal_ids),
            "hubspot_changes": changes,
            "aws_side_changes": aws_changes,
            "invitations": len(invitation_ids),
            "webhook_events_delivered": delivered["delivered"],
            "partnercentral_events": len(suite.pc.events),
            "forged_messages": len(forged),
            "load_seconds": round(load_seconds, 1),
            "converged": converge_seconds is not None,
            "converge_seconds_after_load": round(converge_seconds or load.converge_timeout, 1),
            "deals_out_of_sync": len(suite.mismatches(deal_ids)),
            "rep_edits_overwritten": len(suite.overwritten()),
            "invitation_deals": len(invitation_deals()),
            "dead_letters": len(await suite.rt.context.queue.list_dead_letters(limit=1000)),
            "total_seconds": round(time.monotonic() - started, 1),
            "sigkills": suite.replicas.kills,
            "faults_injected": injected,
            "partnercentral_calls": dict(sorted(pc_calls.items())),
            "hubspot_calls": sum(hs_calls.values()),
            "partnercentral_quota_throttles": {
                "writes": suite.pc.writes.refused,
                "reads": suite.pc.reads.refused,
            },
            "max_write_rate_observed": suite.pc.max_write_rate_observed,
            "worker_event_retries": suite.replicas.log_count(b'"event_retry"'),
            "rep_client_retries": dict(suite.rep_retries),
        },
    }


async def assert_clean(suite: Suite, result: dict[str, Any]) -> None:
    """What issue 11 asks of the run: all synced, nothing twice, only the forged in the DLQ, quota kept."""
    deal_ids = result["deal_ids"]
    wrong = suite.mismatches(deal_ids)
    if wrong:
        first = wrong[0].partition(":")[0]
        trail = "\n".join(suite.replicas.lines_about(first))
        raise AssertionError(
            f"{len(wrong)} deals out of sync, e.g. {wrong[:5]}; the log of {first}:\n{trail}"
        )
    lost = suite.overwritten()
    assert lost == [], f"{len(lost)} of the rep's edits overwritten, e.g. {lost[:5]}"
    assert suite.duplicates() == {}
    opps = suite.pc.opportunities("Sandbox")
    deals = suite.hs.objects("deals")
    assert len(opps) == len(deal_ids) + len(result["invitation_ids"])
    assert len(deals) == len(opps)
    assert result["forged_webhook_status"] == 401
    dead = await suite.rt.context.queue.list_dead_letters(limit=1000)
    assert sorted(d.body for d in dead) == sorted(result["forged"]), [d.reason for d in dead]
    assert await suite.rt.context.queue.depth() == 0
    assert suite.pc.max_write_rate_observed <= 1.0
    figures = result["figures"]
    assert figures["sigkills"] >= 3
    assert figures["faults_injected"]["hubspot"].get("error", 0) > 0
    assert figures["faults_injected"]["partnercentral"].get("error", 0) > 0
    assert figures["faults_injected"]["hubspot"].get("throttle", 0) > 0
    assert figures["faults_injected"]["partnercentral"].get("throttle", 0) > 0
