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
from cosync_gcp.config import DEFAULT_STAGE_MAP as GOOGLE_STAGE_MAP
from cosync_microsoft.config import DEFAULT_STAGE_MAP as MICROSOFT_STAGE_MAP

from cosync_worker.config import Settings
from cosync_worker.events import schedule_tick
from cosync_worker.hooks import PluginManager
from cosync_worker.runtime import Runtime
from cosync_worker.sandbox.base import Emulator
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.sandbox.stack import HUBSPOT_SUBSCRIPTIONS, eventbridge_sink, registered_emulators

ROOT = Path(__file__).resolve().parents[2]
TIME_SCALE = 20.0
STAGES = ("qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent")
PROPS = ("amount", "closedate", "dealstage")
TODAY = date.today()
# Every loop ticks this often during the load: a reconcile or summary run lands amid the rep's edits and
# cosync's pushes of them, as it will at some point in production.
SCHEDULE_SECONDS = 10.0
MID_BURST_SLOT = 1  # a slot the scheduler never uses (it numbers slots from the epoch)
ERROR_SLOTS_FROM = 2  # further such slots: the ticks that make a quiet emulator meet its injected faults
# The calls the rep makes on HubSpot (create, edit): a storm's throttles of these are not cosync's to handle.
REP_CALLS = frozenset({"POST /crm/v3/objects/{objectType}", "PATCH /crm/v3/objects/{objectType}/{objectId}"})
# The other clouds' emulators a run may add (by the name their plugin registers them under) and their tags
CLOUD_CONNECTORS = {"google": "gcp", "microsoft": "microsoft"}
CLOUD_TAGS = {"google": "#GCP", "microsoft": "#Microsoft"}


def config(
    tmp_path: Path,
    hs: HubSpotEmulator,
    pc: PartnerCentralEmulator,
    queue: dict[str, Any],
    store: dict[str, Any],
    clouds: dict[str, Emulator] | None = None,
) -> dict[str, Any]:
    """One config for the relay (this process) and every worker replica: the AWS connector, plus Google's and
    Microsoft's for the emulators in ``clouds``, with every loop they declare at ``SCHEDULE_SECONDS`` (run by
    this process's scheduler, see :func:`start_suite`)."""
    sections = cloud_sections(clouds or {})
    data: dict[str, Any] = {
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
        "plugins": {"example": False, "gcp": "gcp" in sections, "microsoft": "microsoft" in sections},
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
            },
            **sections,
        },
    }
    data["schedules"] = {
        name: {"interval_seconds": SCHEDULE_SECONDS, "jitter_seconds": 0} for name in declared_loops(data)
    }
    return data


def cloud_sections(clouds: dict[str, Emulator]) -> dict[str, Any]:
    """``connectors.gcp``/``connectors.microsoft`` for these emulators, as ``cosync sandbox --write-config``
    writes them (each plugin's own ``cosync_sandbox_config`` from its emulator's connection info)."""
    if not clouds:
        return {}
    plugins = PluginManager().load(None)
    specs = {s.name: s for s in registered_emulators(plugins)}
    info = {name: specs[name].connection(em) for name, em in clouds.items()}
    found: dict[str, Any] = {}
    for section in plugins.hook.cosync_sandbox_config(sandbox=info):
        found.update(section or {})
    wanted = {CLOUD_CONNECTORS[name] for name in clouds}
    assert wanted <= found.keys(), f"no sandbox config for {sorted(wanted - found.keys())}"
    return {name: section for name, section in found.items() if name in wanted}


def declared_loops(data: dict[str, Any]) -> list[str]:
    """Every loop of every connector the config runs, as the connectors declare them (none left out)."""
    plugins = PluginManager().load(Settings.model_validate(data))
    return sorted(s.name for c in plugins.connectors() for s in c.spec.schedules)


@dataclass
class Replicas:
    """Worker processes; ``kill_one`` SIGKILLs the oldest and starts a fresh one in its place."""

    config_path: Path
    logs: Path
    count: int
    procs: list[asyncio.subprocess.Process] = field(default_factory=list)
    kills: int = 0
    started: int = 0
    log_of: dict[int, Path] = field(default_factory=dict)

    async def _spawn(self) -> asyncio.subprocess.Process:
        self.started += 1
        path = self.logs / f"worker{self.started}.log"
        log = path.open("wb")
        try:
            proc = await asyncio.create_subprocess_exec(
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
            self.log_of[proc.pid] = path
            return proc
        finally:
            log.close()

    def tail(self, proc: asyncio.subprocess.Process, lines: int = 15) -> str:
        return "\n".join(self.log_of[proc.pid].read_text(errors="replace").splitlines()[-lines:])

    async def start(self) -> None:
        for _ in range(self.count):
            self.procs.append(await self._spawn())

    async def kill_one(self) -> None:
        victim = self.procs.pop(0)
        if victim.returncode is not None:  # a replica that died by itself is a finding, not a kill
            raise AssertionError(f"a worker exited with {victim.returncode} on its own:\n{self.tail(victim)}")
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        self.kills += 1
        self.procs.append(await self._spawn())

    async def chaos(self, every: float, kills: int) -> None:
        """``kills`` SIGKILLs, ``every`` seconds apart: a count, not a rate over the load, so a slow machine
        (a longer load) does not kill more often and push a batch's messages past the queue's max receives."""
        for _ in range(kills):
            await asyncio.sleep(every)
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
    clouds: dict[str, Emulator] = field(default_factory=dict)  # Google's and Microsoft's, when they run
    # The deals tagged for each of them (every deal is tagged #AWS)
    cloud_deals: dict[str, list[str]] = field(default_factory=dict)
    rep_retries: Counter[str] = field(default_factory=Counter)
    # The rep's last value of each (deal, property) they changed: what HubSpot must still hold at the end
    rep_values: dict[tuple[str, str], str] = field(default_factory=dict)
    # The ticks ``drive`` sent and the next slot it uses
    extra_ticks: list[str] = field(default_factory=list)
    next_slot: int = ERROR_SLOTS_FROM

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

    @property
    def emulators(self) -> dict[str, Emulator]:
        return {"hubspot": self.hs, "partnercentral": self.pc, **self.clouds}

    async def faults(self, body: dict[str, Any] | None) -> None:
        for em in self.emulators.values():
            await self.operator(em, "DELETE" if body is None else "POST", "/_sandbox/faults", body)

    def storm_share(self, em: Emulator, throttles: int) -> int:
        """How many of cosync's calls the storm must refuse on ``em``: Google and Microsoft see a few calls a
        loop tick, not a stream of them, so a share of the target still makes cosync meet their throttling
        without waiting on traffic they never get."""
        return throttles if em is self.hs or em is self.pc else max(1, throttles // 5)

    async def storm(self, throttles: int, bound: float) -> None:
        """A 429 storm on each emulator, ended once it has refused ``throttles`` of cosync's calls."""

        async def refused(em: Emulator) -> int:
            injected = (await self.operator(em, "GET", "/_sandbox/faults"))["injected"]
            return sum(
                n
                for k, n in injected.items()
                if k.startswith("throttle ") and k[len("throttle ") :] not in REP_CALLS
            )

        async def one(em: Emulator) -> None:
            share = self.storm_share(em, throttles)
            target = await refused(em) + share
            await self.operator(
                em, "POST", "/_sandbox/faults", {"storm": {"seconds": bound, "retry_after": 1}}
            )
            name = next(n for n, e in self.emulators.items() if e is em)

            async def quiet() -> set[str]:
                return set() if await refused(em) >= target else {CLOUD_CONNECTORS.get(name, "aws")}

            try:
                if name in CLOUD_CONNECTORS:
                    await self.drive(quiet, bound, "the storm")
                else:
                    await wait_until(lambda: _at_least(refused(em), target), bound, every=0.05)
            finally:
                await self.operator(em, "POST", "/_sandbox/faults", {"storm": {"seconds": 0}})

        await asyncio.gather(*(one(em) for em in self.emulators.values()))

    async def tick_every_loop(self, slot: int, connectors: set[str] | None = None) -> list[str]:
        """One tick of every loop (of ``connectors``) now, through the queue, as ``cosync sync NAME --once``
        sends it; returns the done keys the ticks leave once finished."""
        schedules = [
            s for s in self.rt.scheduler.schedules if connectors is None or s.connector in connectors
        ]
        ticks = [schedule_tick(s.name, slot) for s in schedules]
        await self.rt.context.queue.send([(t.to_json(), t.ordering_key, t.dedupe_key) for t in ticks])
        return [f"done:{s.connector}:{t.dedupe_key}" for s, t in zip(schedules, ticks, strict=True)]

    async def drive(self, quiet: Callable[[], Awaitable[set[str]]], bound: float, what: str) -> None:
        """Tick the loops of the connectors ``quiet()`` names (slots the scheduler never uses) until it names
        none: Google and Microsoft see a few calls a tick, so whether the load alone makes cosync meet a fault
        of theirs is luck. ``bound`` only fails a run in which cosync stopped calling them. The ticks' done
        keys go to ``extra_ticks``: they must finish too before the run has converged."""

        async def met() -> bool:
            return not await quiet()

        started = time.monotonic()
        while missing := await quiet():
            assert time.monotonic() - started < bound, f"{what} never met by {sorted(missing)}"
            self.extra_ticks += await self.tick_every_loop(self.next_slot, missing)
            self.next_slot += 1
            with contextlib.suppress(AssertionError):  # not yet: tick again
                await wait_until(met, 10.0, every=0.2)

    async def errors_met(self, bound: float) -> None:
        """Each emulator has answered at least one of cosync's calls with an injected server error."""

        async def quiet() -> set[str]:
            names = set()
            for name, em in self.emulators.items():
                if not (await self.operator(em, "GET", "/_sandbox/faults"))["injected"].get("error"):
                    names.add(CLOUD_CONNECTORS.get(name, "aws"))
            return names

        await self.drive(quiet, bound, "an injected server error")

    async def ticks_done(self, slots: Callable[[float], range]) -> dict[str, int]:
        """How many ticks of each loop, among ``slots(interval)``, a connector finished."""
        done: dict[str, int] = {}
        for s in self.rt.scheduler.schedules:
            keys = [
                f"done:{s.connector}:{schedule_tick(s.name, slot).dedupe_key}" for slot in slots(s.interval)
            ]
            done[s.name] = len(await self.rt.context.store.existing_keys(keys))
        return done

    # -- load -----------------------------------------------------------------------------------------------
    async def make_deals(self, n: int, companies: int, cloud_every: int = 0) -> list[str]:
        """``n`` #AWS deals; with ``cloud_every``, one in that many is also tagged for each cloud in
        ``clouds`` (different deals for each), with the contact Microsoft's referral needs."""
        company_ids, contact_ids = [], []
        for c in range(companies):
            made = await self.rep(
                "POST",
                "/crm/v3/objects/companies",
                {"properties": {"name": f"Fault Co {c}", "domain": f"faultco{c}.example", "country": "US"}},
            )
            company_ids.append(str(made["id"]))
            person = {"firstname": "Pat", "lastname": f"Buyer {c}", "email": f"pat{c}@faultco{c}.example"}
            made = await self.rep("POST", "/crm/v3/objects/contacts", {"properties": person})
            contact_ids.append(str(made["id"]))
        tagged: dict[int, list[str]] = {}
        for k, name in enumerate(sorted(self.clouds)):
            for i in range(n):
                if cloud_every and i % cloud_every == k + 1:
                    tagged.setdefault(i, []).append(name)

        def link(to: str, type_id: int) -> dict[str, Any]:
            return {
                "to": {"id": to},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
            }

        async def one(i: int) -> str:
            tags = " ".join(["#AWS", *(CLOUD_TAGS[c] for c in tagged.get(i, []))])
            associations = [link(company_ids[i % companies], 5)]
            if tagged.get(i):
                associations.append(link(contact_ids[i % companies], 3))
            body = {
                "properties": {
                    "dealname": f"Fault deal {i} {tags}",
                    "description": "Move the order system to managed services before the peak season",
                    "dealstage": STAGES[0],
                    "closedate": (TODAY + timedelta(days=60)).isoformat(),
                    "amount": "1000",
                },
                "associations": associations,
            }
            made = await self.rep("POST", "/crm/v3/objects/deals", body)
            return str(made["id"])

        deal_ids = await gather_limited([lambda i=i: one(i) for i in range(n)], 10)
        for i, clouds in tagged.items():
            for cloud in clouds:
                self.cloud_deals.setdefault(cloud, []).append(deal_ids[i])
        return deal_ids

    async def change_deals(self, deal_ids: list[str], rounds: range, pause: float) -> int:
        """Each of ``rounds`` (numbered on from earlier calls, so no value repeats an older one) changes one
        property per deal; returns how many changes were made."""
        made = 0
        for r in rounds:
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

    def lost(self) -> list[str]:
        """The rep's edits Partner Central does not hold: pushed and then undone, or never pushed."""
        deals = self.hs.objects("deals")
        opps = self.pc.opportunities("Sandbox")
        lost = []
        for (deal_id, prop), value in sorted(self.rep_values.items()):
            opp = opps.get(deals[deal_id]["properties"].get("aws_opportunity_id") or "") or {}
            life, project = opp.get("LifeCycle") or {}, opp.get("Project") or {}
            if prop == "amount":
                have, want = (project.get("ExpectedCustomerSpend") or [{}])[0].get("Amount"), value
            elif prop == "closedate":
                have, want = str(life.get("TargetCloseDate"))[:10], value[:10]
            else:
                have, want = life.get("Stage"), DEFAULT_STAGE_MAP[value]
            if have != want:
                lost.append(f"{deal_id}.{prop}: Partner Central has {have!r}, the rep set {value!r}")
        return lost

    def cloud_mismatches(self) -> list[str]:
        """Deals tagged for Google or Microsoft whose lead and opportunity, or referral, is missing, made twice,
        or does not hold the deal's current values (which are the rep's last edits: see :meth:`overwritten`)."""
        deals = self.hs.objects("deals")
        wrong: list[str] = []
        if "google" in self.clouds:
            google: Any = self.clouds["google"]
            leads = Counter(lead.get("externalSystemId") for lead in google.leads().values())
            opps = google.opportunities()
            for deal_id in self.cloud_deals.get("google", []):
                props = deals[deal_id]["properties"]
                count = leads[f"hubspot-deal-{deal_id}"]
                opp = opps.get(props.get("gcp_opportunity_name") or "")
                if count != 1 or opp is None or opp.get("lead") != props.get("gcp_lead_name"):
                    wrong.append(f"google {deal_id}: {count} leads, opportunity {opp and opp.get('name')}")
                    continue
                day = date.fromisoformat(str(props["closedate"])[:10])
                have = (opp.get("salesStage"), opp.get("closeDate"), opp.get("dealSize"))
                want = (
                    GOOGLE_STAGE_MAP[props["dealstage"]],
                    {"year": day.year, "month": day.month, "day": day.day},
                    float(props["amount"]),
                )
                if have != want:
                    wrong.append(f"google {deal_id}: {have} != {want}")
        if "microsoft" in self.clouds:
            microsoft: Any = self.clouds["microsoft"]
            referrals = microsoft.referrals()
            per_deal = Counter(r.get("externalReferenceId") for r in referrals.values())
            for deal_id in self.cloud_deals.get("microsoft", []):
                props = deals[deal_id]["properties"]
                count = per_deal[deal_id]
                referral = referrals.get(props.get("microsoft_referral_id") or "")
                if count != 1 or referral is None or referral.get("externalReferenceId") != deal_id:
                    wrong.append(f"microsoft {deal_id}: {count} referrals, linked {referral is not None}")
                    continue
                details = referral.get("details") or {}
                have_ms = (
                    [referral.get("status"), referral.get("substatus")],
                    str(details.get("closingDateTime"))[:10],
                    float(details.get("dealValue") or "nan"),
                )
                want_ms = (
                    MICROSOFT_STAGE_MAP[props["dealstage"]],
                    str(props["closedate"])[:10],
                    float(props["amount"]),
                )
                if have_ms != want_ms:
                    wrong.append(f"microsoft {deal_id}: {have_ms} != {want_ms}")
        return wrong

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


async def _at_least(count: Awaitable[int], target: int) -> bool:
    return await count >= target


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
    clouds: dict[str, Emulator] | None = None,
) -> AsyncIterator[Suite]:
    """The relay and the replicas on ``queue``/``store``; ``clouds`` adds Google's and Microsoft's
    connectors for those emulators (``{"google": ..., "microsoft": ...}``, the names they register)."""
    data = config(tmp_path, hs, pc, queue, store, clouds)
    config_path = tmp_path / "cosync.yaml"
    # The replicas' schedulers stay off: this process's scheduler sends the same ticks during the load only,
    # so that afterwards the queue empties and convergence can be seen.
    off = {name: {"enabled": False} for name in data["schedules"]}
    worker_data = {**data, "relay": {"enabled": False}, "schedules": off}
    config_path.write_text(yaml.safe_dump(worker_data))
    async with Runtime(Settings.model_validate(data)) as rt, aiohttp.ClientSession() as session:
        await rt.start_relay()
        # Every declared property, as `cosync properties create` would: a replica refuses to start without one.
        declared = [spec for batch in rt.plugins.hook.cosync_hubspot_properties() for spec in batch or []]
        await rt.context.service("hubspot").ensure_properties(declared)
        assert sorted(s.name for s in rt.scheduler.schedules) == declared_loops(data), "a loop is left out"
        hs.subscribe(f"{rt.relay_url}/webhooks/hubspot", HUBSPOT_SUBSCRIPTIONS)
        pc.set_event_sink(eventbridge_sink(rt.context.queue))
        replicas = Replicas(config_path, tmp_path, workers)
        await replicas.start()
        try:
            yield Suite(rt, hs, pc, session, replicas, dict(clouds or {}))
        finally:
            pc.set_event_sink(None)
            await replicas.stop()


@dataclass
class Load:
    deals: int
    rounds: int  # each round changes one property of every deal
    linked_rounds: int = 2  # of them, the last ones: only on deals that have their opportunity by then,
    linked_deals: int = 60  # at least this many
    invitations: int = 5
    aws_changes: int = 50
    kill_every: float = 4.0
    kills: int = 5
    # The 429 storm lasts until each emulator has refused this many of cosync's calls (never a time window
    # that a slow machine could miss); storm_bound only fails a run in which cosync stopped calling.
    storm_throttles: int = 10
    storm_bound: float = 120.0
    error_rate: float = 0.1
    converge_timeout: float = 150.0
    # With Google and Microsoft running, one deal in this many is also tagged for each (different deals)
    cloud_every: int = 5


async def run_scenario(suite: Suite, load: Load) -> dict[str, Any]:
    """Load + faults + kills, then wait until converged; returns the figures (and asserts nothing)."""
    started = time.monotonic()
    ticks_from = time.time()
    await suite.faults({"error_rate": load.error_rate, "seed": 11})
    chaos = asyncio.create_task(suite.replicas.chaos(load.kill_every, load.kills))
    scheduler = asyncio.create_task(suite.rt.scheduler.run())
    try:
        deal_ids = await suite.make_deals(load.deals, companies=20, cloud_every=load.cloud_every)
        invitation_ids = await suite.invitations(load.invitations)
        early = load.rounds - load.linked_rounds
        changes = await suite.change_deals(deal_ids, range(1, early // 2 + 1), pause=0.5)
        storm = asyncio.create_task(suite.storm(load.storm_throttles, load.storm_bound))
        changes += await suite.change_deals(deal_ids, range(early // 2 + 1, early + 1), pause=0.5)
        await storm

        def linked() -> list[str]:
            deals = suite.hs.objects("deals")
            return [d for d in deal_ids if deals[d]["properties"].get("aws_opportunity_id")]

        async def enough_linked() -> bool:
            return len(linked()) >= min(load.linked_deals, load.deals)

        # Most earlier edits land before their deal's opportunity exists and ride on its creation. These land
        # after, so each is a push (queued behind the other deals' creations for the write budget), while the
        # loops' reconcile runs read the opportunities being pushed: issue 15's burst.
        await wait_until(enough_linked, load.converge_timeout)
        changes += await suite.change_deals(linked(), range(early + 1, load.rounds + 1), pause=0.5)
        # Whatever the scheduler's timing, every loop also runs once right after these edits, before their
        # pushes can all have gone through the budget: the "one aws_reconcile tick mid-burst".
        await suite.tick_every_loop(MID_BURST_SLOT)
        deals = suite.hs.objects("deals")
        opp_ids = [deals[d]["properties"]["aws_opportunity_id"] for d in linked()][: load.aws_changes]
        aws_changes = await suite.aws_changes(opp_ids)
        forged, forged_status = await suite.forge()
        await suite.errors_met(load.storm_bound)
        load_seconds = time.monotonic() - started
        suite.rt.scheduler.stop()
        await chaos  # every kill happens, even after a short load
    finally:
        chaos.cancel()
        suite.rt.scheduler.stop()
        await scheduler
        with contextlib.suppress(asyncio.CancelledError):
            await chaos
    ticks_until = time.time()
    injected = {
        name: dict((await suite.operator(em, "GET", "/_sandbox/faults"))["injected"])
        for name, em in suite.emulators.items()
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
            and not suite.cloud_mismatches()
            and len([d for d in invitation_deals() if d["properties"].get("aws_opportunity_id")])
            >= load.invitations
            and await suite.rt.context.queue.depth() == 0
            # depth() counts waiting messages, not ones a worker holds: a loop's tick can still be running
            # (a reconcile under the storm takes a while) behind an empty queue, and its writes are part of
            # what has to converge.
            and all(
                n == 1
                for n in (
                    await suite.ticks_done(lambda _: range(MID_BURST_SLOT, MID_BURST_SLOT + 1))
                ).values()
            )
            and await extra_ticks_done()
        )

    async def extra_ticks_done() -> bool:
        """The ticks ``Suite.drive`` sent are finished too: their writes are part of what converges."""
        ticks = suite.extra_ticks
        return len(await suite.rt.context.store.existing_keys(ticks)) == len(ticks)

    try:
        converge_seconds: float | None = await wait_until(converged, load.converge_timeout)
    except AssertionError:
        converge_seconds = None  # reported in the figures; assert_clean names the deals that differ
    await asyncio.sleep(3.0)  # anything still in flight (a late retry) shows up in the checks below
    pc_calls = await suite.operator(suite.pc, "GET", "/_sandbox/calls")
    hs_calls = await suite.operator(suite.hs, "GET", "/_sandbox/calls")
    cloud_calls = {
        name: sum((await suite.operator(em, "GET", "/_sandbox/calls")).values())
        for name, em in suite.clouds.items()
    }
    delivered = await suite.operator(suite.hs, "GET", "/_sandbox/webhooks/deliveries")
    return {
        "deal_ids": deal_ids,
        "invitation_ids": invitation_ids,
        "forged": forged,
        "forged_webhook_status": forged_status,
        "storm_throttles": load.storm_throttles,
        "kills": load.kills,
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
            **{f"{name}_deals": len(ids) for name, ids in sorted(suite.cloud_deals.items())},
            "cloud_deals_out_of_sync": len(suite.cloud_mismatches()),
            "rep_edits_overwritten": len(suite.overwritten()),
            "rep_edits_lost": len(suite.lost()),
            "schedule_ticks_done": await suite.ticks_done(
                lambda interval: range(int(ticks_from // interval), int(ticks_until // interval) + 1)
            ),
            "mid_burst_ticks_done": await suite.ticks_done(
                lambda _: range(MID_BURST_SLOT, MID_BURST_SLOT + 1)
            ),
            "invitation_deals": len(invitation_deals()),
            "dead_letters": len(await suite.rt.context.queue.list_dead_letters(limit=1000)),
            "total_seconds": round(time.monotonic() - started, 1),
            "sigkills": suite.replicas.kills,
            "faults_injected": injected,
            "partnercentral_calls": dict(sorted(pc_calls.items())),
            "hubspot_calls": sum(hs_calls.values()),
            **{f"{name}_calls": n for name, n in sorted(cloud_calls.items())},
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
    cloud_wrong = suite.cloud_mismatches()
    if cloud_wrong:
        first = cloud_wrong[0].split(" ")[1].rstrip(":")
        trail = "\n".join(suite.replicas.lines_about(first))
        raise AssertionError(
            f"{len(cloud_wrong)} Google/Microsoft deals out of sync, e.g. {cloud_wrong[:5]}; the log of "
            f"{first}:\n{trail}"
        )
    for name in suite.clouds:
        assert len(suite.cloud_deals.get(name, [])) > 0, f"no deal tagged for {name}"
    overwritten = suite.overwritten()
    assert overwritten == [], f"{len(overwritten)} of the rep's edits overwritten, e.g. {overwritten[:5]}"
    lost = suite.lost()
    assert lost == [], f"{len(lost)} of the rep's edits never reached Partner Central, e.g. {lost[:5]}"
    assert suite.duplicates() == {}
    opps = suite.pc.opportunities("Sandbox")
    deals = suite.hs.objects("deals")
    assert len(opps) == len(deal_ids) + len(result["invitation_ids"])
    assert len(deals) == len(opps)
    assert result["forged_webhook_status"] == 401
    dead = await suite.rt.context.queue.list_dead_letters(limit=1000)
    unexpected = [f"{d.reason}: {str(d.body)[:300]}" for d in dead if d.body not in result["forged"]]
    assert sorted(d.body for d in dead) == sorted(result["forged"]), unexpected or [d.reason for d in dead]
    assert await suite.rt.context.queue.depth() == 0
    assert suite.pc.max_write_rate_observed <= 1.0
    figures = result["figures"]
    assert figures["sigkills"] == result["kills"]
    # The scheduler's first tick of each loop is sent at once; how many more fit in the load is the machine's
    # speed, so only reported. The mid-burst tick of each is sent by the load itself.
    assert all(n >= 1 for n in figures["schedule_ticks_done"].values()), figures["schedule_ticks_done"]
    assert all(n == 1 for n in figures["mid_burst_ticks_done"].values()), figures["mid_burst_ticks_done"]
    for name in suite.emulators:
        assert figures["faults_injected"][name].get("error", 0) > 0, name
        # The storm ran until each emulator had refused this many of cosync's calls (Suite.storm).
        wanted = suite.storm_share(suite.emulators[name], result["storm_throttles"])
        assert figures["faults_injected"][name].get("throttle", 0) >= wanted, name
