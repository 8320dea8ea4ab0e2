"""Partner Central's write quota under load (issue 22): cosync beside the seeds' per-webhook design, same
emulators, same edits, in one run.

Each load is run on a fresh pair of emulators (HubSpot; Partner Central at AWS's real quota, 1 write/s and
10 reads/s, ``--time-scale`` times faster) with ``deals`` #AWS deals that cosync created opportunities for
(setup, not measured). The rep then makes the load's edits with HubSpot's official SDK (hubspot-api-client),
each one a new ``amount`` (rising per deal, so "the opportunity carries edit k" is "its amount is at least
edit k's"). The systems:

* ``seeds``: bench/seeds_design.py in a process of its own (read the deal, GetOpportunity, UpdateOpportunity,
  3 attempts, give up);
* ``cosync``: one ``cosync run --no-relay`` worker process, the relay in this process (as the fault suite
  runs it, tests/faults/harness.py), scheduled loops off so only the edits spend the budget;
  ``cosync, no notes``: the same with ``push_notes: false``;
* ``cosync x3``: three worker processes on one SQLite queue and store, the first load only, where the
  quota is exceeded if the replicas' shared budget leaks (its ThrottlingExceptions are the emulator's own
  refusals, ``QuotaBucket.refused``).

Times are printed in AWS seconds (wall seconds x the time scale); the CPU seconds are the system's
process only (cosync's relay, in this process, is left out). Loopback only; every wait is bounded.
Run: ``.venv/bin/python bench/write_budget.py`` (``--quick`` for a smoke run of a few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml
from hubspot import HubSpot
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyInput
from hubspot.crm.deals import SimplePublicObjectInput, SimplePublicObjectInputForCreate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from aws_calls_per_flow import RepAwareHubSpot, deal_props  # noqa: E402

from cosync_worker.config import Settings  # noqa: E402
from cosync_worker.logs import configure_logging  # noqa: E402
from cosync_worker.runtime import Runtime  # noqa: E402
from cosync_worker.sandbox.hubspot.catalog import DEFAULT_ASSOCIATION  # noqa: E402
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator  # noqa: E402
from cosync_worker.sandbox.partnercentral.app import WRITE_OPERATIONS  # noqa: E402
from cosync_worker.sandbox.stack import HUBSPOT_SUBSCRIPTIONS, eventbridge_sink  # noqa: E402
from tests.faults.harness import Replicas, declared_loops, gather_limited  # noqa: E402

T = TypeVar("T")
SEEDS, COSYNC, NO_NOTES, REPLICAS = "seeds", "cosync", "cosync, no notes", "cosync x3"
ALL_SYSTEMS = (SEEDS, COSYNC, NO_NOTES, REPLICAS)
FIRST_AMOUNT = 20_000  # above every setup amount (deal_props: 12,000 + n)
SOLUTION = "S-1000001"  # the first of the emulator's solutions (sandbox/partnercentral/solutions.py)


@dataclass(frozen=True)
class Load:
    label: str
    edits: int
    seconds: float  # AWS seconds the edits are spread over
    time_scale: float
    systems: tuple[str, ...]


@dataclass
class Figures:
    system: str
    deals: int
    edits: int
    stale: int
    writes: int  # write requests sent (throttled ones included)
    accepted: int
    converged: float | None  # AWS seconds from the last edit until every opportunity was right
    p50: float | None
    p99: float | None
    lost: int  # edits the opportunity never carried (nor a later value)
    overwritten: int  # accepted writes that put an older amount over a newer one, plus HubSpot rollbacks
    pc_reads: int
    hubspot: Counter[str]
    cpu: float
    throttled: int  # the quota's own ThrottlingExceptions
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hubspot_calls(self) -> int:
        return sum(self.hubspot.values())


class RecordingPC(PartnerCentralEmulator):
    """Partner Central that notes each accepted change's time and amount (from its own events)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.amounts: list[tuple[float, str, int]] = []

    async def opportunity_event(self, detail_type: str, record: dict[str, Any]) -> None:
        if detail_type == "Opportunity Updated":
            spend = (record.get("Project") or {}).get("ExpectedCustomerSpend") or [{}]
            amount = int(float(spend[0].get("Amount") or 0))
            self.amounts.append((time.monotonic(), record["Id"], amount))
        await super().opportunity_event(detail_type, record)


class Rep:
    """The rep, through HubSpot's official SDK (synchronous: each call runs in a thread of its own pool)."""

    def __init__(self, hs: RepAwareHubSpot) -> None:
        self.sdk = HubSpot(access_token=hs.user_token, host=hs.base_url)
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="rep")

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, lambda: fn(*args, **kwargs))

    async def make_deals(self, count: int) -> list[str]:
        async def one(n: int) -> str:
            company = await self.call(
                self.sdk.crm.companies.basic_api.create,
                simple_public_object_input_for_create=CompanyInput(
                    properties={"name": f"Corp {n}", "domain": f"corp{n}.example", "country": "US"}
                ),
            )
            link = {
                "to": {"id": company.id},
                "types": [
                    {
                        "associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": DEFAULT_ASSOCIATION[("deals", "companies")],
                    }
                ],
            }
            # one solution named per deal: the setup then makes 2 writes a deal, not the matcher's 7
            props = deal_props(f"Corp {n} migration", n) | {"aws_solution_ids": SOLUTION}
            body = SimplePublicObjectInputForCreate(properties=props, associations=[link])
            deal = await self.call(
                self.sdk.crm.deals.basic_api.create, simple_public_object_input_for_create=body
            )
            return str(deal.id)

        jobs: list[Callable[[], Awaitable[str]]] = [functools.partial(one, n) for n in range(count)]
        return list(await gather_limited(list(jobs), 8))

    async def edit(self, deal_id: str, amount: int) -> float:
        body = SimplePublicObjectInput(properties={"amount": str(amount)})
        await self.call(self.sdk.crm.deals.basic_api.update, deal_id, simple_public_object_input=body)
        return time.monotonic()

    async def load(self, deal_ids: list[str], load: Load) -> list[tuple[float, str, int]]:
        """Edit ``i`` of the load lands at ``i * seconds / edits`` (scaled), on deal ``i % deals``: returns
        ``(answered at, deal, amount)`` for each."""
        gap = load.seconds / load.edits / load.time_scale
        started = time.monotonic()
        jobs: list[Awaitable[tuple[float, str, int]]] = []

        async def one(i: int) -> tuple[float, str, int]:
            deal_id, amount = deal_ids[i % len(deal_ids)], FIRST_AMOUNT + i
            return await self.edit(deal_id, amount), deal_id, amount

        for i in range(load.edits):
            await asyncio.sleep(max(0.0, started + i * gap - time.monotonic()))
            jobs.append(asyncio.ensure_future(one(i)))
        return list(await asyncio.gather(*jobs))

    def close(self) -> None:
        self.pool.shutdown(wait=False)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process, from ``/proc`` (fields 14 and 15 of ``stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cosync_config(
    tmp: Path, hs: RepAwareHubSpot, pc: PartnerCentralEmulator, time_scale: float, push_notes: bool
) -> dict[str, Any]:
    """The relay's and the workers' config: Partner Central's real quota on the scaled clock, HubSpot's
    opened up (it is not what is measured), every scheduled loop off (only the edits spend the budget)."""
    data: dict[str, Any] = {
        "queue": {"kind": "local", "path": str(tmp / "queue.db"), "visibility_timeout": 10},
        "store": {"kind": "sqlite", "path": str(tmp / "state.db")},
        "worker": {"concurrency": 16, "wait_seconds": 0.2, "drain_seconds": 5, "heartbeat_seconds": 1},
        "relay": {"enabled": True, "host": "127.0.0.1", "port": 0, "api_tokens": ["bench-token"]},
        "logging": {"level": "WARNING", "format": "json"},
        "hubspot": {
            "base_url": hs.base_url,
            "access_token": hs.access_token,
            "client_secret": hs.client_secret,
            "app_id": hs.webhooks.app_id,
            "requests_per_10s": 100_000,
            "search_per_second": 10_000,
        },
        "plugins": {"example": False, "gcp": False, "microsoft": False},
        "connectors": {
            "aws": {
                "endpoint_url": pc.base_url,
                "catalog": "Sandbox",
                "aws_access_key_id": "sandbox",
                "aws_secret_access_key": "sandbox",
                "task_poll_seconds": 0.05,
                "write_rate_per_second": 1.0 * time_scale,
                "read_rate_per_second": 10.0 * time_scale,
                "push_notes": push_notes,
            }
        },
    }
    data["schedules"] = {name: {"enabled": False} for name in declared_loops(data)}
    return data


@asynccontextmanager
async def cosync_system(
    tmp: Path,
    hs: RepAwareHubSpot,
    pc: PartnerCentralEmulator,
    load: Load,
    *,
    workers: int,
    push_notes: bool,
    log_level: str = "WARNING",
) -> AsyncIterator[Replicas]:
    """The relay in this process, ``workers`` worker processes (the fault suite's :class:`Replicas`)."""
    data = cosync_config(tmp, hs, pc, load.time_scale, push_notes)
    config_path = tmp / "cosync.yaml"
    workers_data = {**data, "relay": {"enabled": False}, "logging": {**data["logging"], "level": log_level}}
    config_path.write_text(yaml.safe_dump(workers_data))
    async with Runtime(Settings.model_validate(data)) as rt:
        await rt.start_relay()
        declared = [spec for batch in rt.plugins.hook.cosync_hubspot_properties() for spec in batch or []]
        await rt.context.service("hubspot").ensure_properties(declared)
        hs.subscribe(f"{rt.relay_url}/webhooks/hubspot", HUBSPOT_SUBSCRIPTIONS)
        pc.set_event_sink(eventbridge_sink(rt.context.queue))
        replicas = Replicas(config_path, tmp, workers)
        await replicas.start()
        try:
            yield replicas
        finally:
            pc.set_event_sink(None)
            hs.webhooks.subscriptions.clear()
            await replicas.stop()


@asynccontextmanager
async def seeds_system(
    tmp: Path, hs: RepAwareHubSpot, pc: PartnerCentralEmulator, load: Load
) -> AsyncIterator[asyncio.subprocess.Process]:
    conf = {
        "hubspot_url": hs.base_url,
        "access_token": hs.access_token,
        "client_secret": hs.client_secret,
        "pc_url": pc.base_url,
        "catalog": "Sandbox",
        "time_scale": load.time_scale,
    }
    path = tmp / "seeds.json"
    path.write_text(json.dumps(conf))
    with (tmp / "seeds.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "seeds_design.py"),
            str(path),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        if not line.startswith("port "):
            raise RuntimeError(f"the seeds' design did not start: {(tmp / 'seeds.log').read_text()[-2000:]}")
        hs.subscribe(f"http://127.0.0.1:{int(line.split()[1])}/webhook", ["deal.propertyChange"])
        yield proc
    finally:
        hs.webhooks.subscriptions.clear()
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


async def settle(
    hs: RepAwareHubSpot, pc: PartnerCentralEmulator, right: Callable[[], bool], quiet: float, bound: float
) -> None:
    """Until no call reached either emulator for ``quiet`` seconds (three times that while some
    opportunity is still wrong: a retry may be waiting), or ``bound`` seconds."""
    started = last_change = time.monotonic()
    last: tuple[int, int] | None = None
    while time.monotonic() - started < bound:
        now = (sum(hs.calls.values()), sum(pc.calls.values()))
        if now != last:
            last, last_change = now, time.monotonic()
        elif time.monotonic() - last_change >= (quiet if right() else 3 * quiet):
            return
        await asyncio.sleep(0.1)


def log_offsets(tmp: Path) -> dict[Path, int]:
    """Where each worker's log ends now."""
    return {p: p.stat().st_size for p in tmp.glob("worker*.log")}


def held_too_long(logs: dict[Path, int]) -> int:
    """Turns the workers' write schedulers passed on because the holder neither wrote nor left within
    ``hold_seconds`` (their ``write_turn_held_too_long`` warnings), written after the given offsets."""
    count = 0
    for path, offset in logs.items():
        with path.open("rb") as f:
            f.seek(offset)
            count += f.read().count(b"write_turn_held_too_long")
    return count


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def run_system(
    tmp: Path, system: str, load: Load, deals: int, worker_log_level: str = "WARNING"
) -> Figures:
    """A fresh stack, setup by cosync, then the load on ``system``; the figures of that load."""
    scale = load.time_scale
    hs = RepAwareHubSpot(burst_limit=100_000, search_per_second=10_000, webhook_flush_seconds=0.05)
    pc = RecordingPC(write_rate=1.0, read_rate=10.0, time_scale=scale, task_seconds=0.05)
    await hs.start()
    await pc.start()
    rep = Rep(hs)
    quiet = max(2.0, 10.0 / scale)
    try:
        workers = 3 if system == REPLICAS else 1
        async with cosync_system(
            tmp, hs, pc, load, workers=workers, push_notes=system != NO_NOTES, log_level=worker_log_level
        ) as replicas:
            deal_ids = await rep.make_deals(deals)

            def synced() -> bool:
                return all(hs.objects("deals")[d]["properties"].get("aws_opportunity_id") for d in deal_ids)

            # a worker process starts in seconds on an idle machine, many more on a busy one
            deadline = time.monotonic() + 180 + 4 * deals / scale
            while not synced():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"setup: cosync did not create every opportunity (logs in {tmp})")
                await asyncio.sleep(0.1)
            await settle(hs, pc, synced, quiet, bound=60)
            if system != SEEDS:
                logs = log_offsets(tmp)
                figures = await measure(hs, pc, rep, deal_ids, load, system, replicas.procs[0].pid, quiet)
                figures.extra["held_too_long"] = held_too_long(logs)
                return figures
        async with seeds_system(tmp, hs, pc, load) as proc:
            return await measure(hs, pc, rep, deal_ids, load, system, proc.pid, quiet)
    finally:
        rep.close()
        await pc.stop()
        await hs.stop()


async def measure(
    hs: RepAwareHubSpot,
    pc: RecordingPC,
    rep: Rep,
    deal_ids: list[str],
    load: Load,
    system: str,
    pid: int,
    quiet: float,
) -> Figures:
    scale = load.time_scale
    opp_of = {d: hs.objects("deals")[d]["properties"]["aws_opportunity_id"] for d in deal_ids}
    hs0, rep0, pc0 = Counter(hs.calls), Counter(hs.rep_calls), Counter(pc.calls)
    refused0, records0, cpu0 = pc.writes.refused, len(pc.amounts), cpu_seconds(pid)
    edits = await rep.load(deal_ids, load)
    last_edit = max(t for t, _, _ in edits)
    wanted = {d: a for _, d, a in sorted(edits, key=lambda e: e[2])}

    def amount_of(opp: dict[str, Any]) -> int:
        return int(float(opp["Project"]["ExpectedCustomerSpend"][0]["Amount"]))

    def right() -> bool:
        opps = pc.opportunities("Sandbox")
        return all(amount_of(opps[opp_of[d]]) == a for d, a in wanted.items())

    await settle(hs, pc, right, quiet, bound=60 + 6 * (len(deal_ids) + load.seconds) / scale)
    cpu = cpu_seconds(pid) - cpu0
    hubspot = Counter(hs.calls) - hs0
    hubspot.subtract(Counter(hs.rep_calls) - rep0)
    calls = Counter(pc.calls) - pc0
    records = pc.amounts[records0:]
    by_opp: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for t, opp_id, amount in records:
        by_opp[opp_id].append((t, amount))

    overwritten = 0
    for seen in by_opp.values():
        highest = 0
        for _, amount in seen:
            overwritten += amount < highest
            highest = max(highest, amount)
    deals_now = hs.objects("deals")
    overwritten += sum(1 for d, a in wanted.items() if int(float(deals_now[d]["properties"]["amount"])) != a)

    latencies, lost = [], 0
    for t, deal_id, amount in edits:
        carried = next((at for at, have in by_opp[opp_of[deal_id]] if have >= amount), None)
        if carried is None:
            lost += 1
        else:
            latencies.append(max(0.0, carried - t) * scale)
    opps = pc.opportunities("Sandbox")
    stale = sum(1 for d, a in wanted.items() if amount_of(opps[opp_of[d]]) != a)
    # the spacing the writes actually had while a backlog waited (the quota allows 1 s)
    times = sorted(t for t, _, _ in records)
    gaps = [(b - a) * scale for a, b in itertools.pairwise(times)]
    longest = max(range(len(gaps)), key=gaps.__getitem__, default=None)
    converged = None
    if stale == 0:
        done = [next(at for at, have in by_opp[opp_of[d]] if have >= a) for d, a in wanted.items()]
        converged = max(0.0, max(done) - last_edit) * scale
    return Figures(
        system=system,
        deals=len(deal_ids),
        edits=len(edits),
        stale=stale,
        writes=sum(n for op, n in calls.items() if op in WRITE_OPERATIONS),
        accepted=len(records),
        converged=converged,
        p50=_percentile(latencies, 50),
        p99=_percentile(latencies, 99),
        lost=lost,
        overwritten=overwritten,
        pc_reads=sum(n for op, n in calls.items() if op not in WRITE_OPERATIONS),
        hubspot=+hubspot,
        cpu=cpu,
        throttled=pc.writes.refused - refused0,
        extra={
            "load_average": os.getloadavg()[0],
            "write_gap_p50": _percentile(gaps, 50),
            # the longest gap between two accepted writes, and when it began (AWS s after the last edit)
            "write_gap_max": None if longest is None else gaps[longest],
            "write_gap_max_at": None if longest is None else (times[longest] - last_edit) * scale,
            "ideal": ideal(sorted(((t - edits[0][0]) * scale, d) for t, d, _ in edits)),
        },
    )


@dataclass
class Ideal:
    """What a scheduler with no overhead would do with the same edits at 1 write/s: each write, as soon as
    the quota allows, takes the deal waiting longest and carries its state at that moment."""

    writes: int
    converged: float
    p50: float
    p99: float


def ideal(edits: list[tuple[float, str]]) -> Ideal:
    """``edits``: (AWS seconds, deal) in time order."""
    waiting: dict[str, float] = {}  # deal -> when its oldest unwritten edit landed
    pending: dict[str, list[float]] = defaultdict(list)
    latencies: list[float] = []
    writes, clock, i = 0, float("-inf"), 0
    last_write = 0.0
    while i < len(edits) or waiting:
        if not waiting:
            clock = max(clock, edits[i][0])
        while i < len(edits) and edits[i][0] <= clock:
            t, deal = edits[i]
            waiting.setdefault(deal, t)
            pending[deal].append(t)
            i += 1
        if not waiting:
            continue
        deal = min(waiting, key=waiting.__getitem__)
        del waiting[deal]
        latencies += [clock - t for t in pending.pop(deal)]
        writes, last_write = writes + 1, clock
        clock += 1.0
    return Ideal(
        writes,
        last_write - edits[-1][0],
        _percentile(latencies, 50) or 0.0,
        _percentile(latencies, 99) or 0.0,
    )


def _s(value: float | None) -> str:
    # Under the quota latencies are tenths of a second, where one decimal cannot tell a 1.2x ratio.
    if value is None:
        return "never"
    return f"{value:.2f} s" if abs(value) < 10 else f"{value:.1f} s"


def table(load: Load, rows: list[Figures]) -> str:
    deals = rows[0].deals
    floor_s = deals / 1.0  # one write per deal at 1 write/s
    best: Ideal = rows[0].extra["ideal"]
    lines = [
        f"### {load.label} (time scale {load.time_scale:g})",
        "",
        "| figure | floor | " + " | ".join(r.system for r in rows) + " |",
        "| --- | --- | " + " | ".join("---" for _ in rows) + " |",
    ]

    def row(name: str, floor: str, cell: Callable[[Figures], str]) -> None:
        lines.append(f"| {name} | {floor} | " + " | ".join(cell(r) for r in rows) + " |")

    row("deals left stale", "0", lambda r: f"{r.stale} / {r.deals}")
    row(
        "PC writes (accepted)",
        f"{deals} (ideal: {best.writes})",
        lambda r: f"{r.writes} ({r.accepted}), {r.writes / deals:.2f}x",
    )
    row(
        "last edit → every opportunity right",
        f"{floor_s:.0f} s (ideal: {best.converged:.0f} s)",
        lambda r: _s(r.converged) + ("" if r.converged is None else f", {r.converged / floor_s:.2f}x"),
    )
    row(
        "per-edit latency p50 / p99",
        f"ideal: {best.p50:.1f} s / {best.p99:.1f} s",
        lambda r: f"{_s(r.p50)} / {_s(r.p99)}",
    )
    row("PC reads (per write)", "≤ 1", lambda r: f"{r.pc_reads} ({r.pc_reads / max(r.writes, 1):.2f})")
    row(
        "HubSpot calls (per edit)",
        "≤ 1",
        lambda r: f"{r.hubspot_calls} ({r.hubspot_calls / r.edits:.2f})",
    )
    row("CPU seconds of the process", "—", lambda r: f"{r.cpu:.1f}")
    row("median gap between accepted writes", "1 s", lambda r: _s(r.extra["write_gap_p50"]))
    row(
        "longest gap (starting at, after the last edit)",
        "1 s",
        lambda r: f"{_s(r.extra['write_gap_max'])} ({_s(r.extra['write_gap_max_at'])})",
    )
    row("lost / overwritten", "0 / 0", lambda r: f"{r.lost} / {r.overwritten}")
    row("ThrottlingException (quota)", "0", lambda r: str(r.throttled))
    row("write turns held past hold_seconds", "0", lambda r: str(r.extra.get("held_too_long", "n/a")))
    lines.append("")
    for r in rows:
        calls = ", ".join(f"{n} {k}" for k, n in sorted(r.hubspot.items()))
        lines.append(
            f"* {r.system}: HubSpot calls {calls or 'none'}; load average {r.extra['load_average']:.1f}"
        )
    return "\n".join(lines)


def loads(quick: bool, time_scale: float, slow_time_scale: float) -> tuple[int, list[Load]]:
    """The issue's three loads on 60 deals; ``quick``: a fifth of the deals and edits, the same rates."""
    deals, edits, k = (12, 60, 5) if quick else (60, 300, 1)
    all_systems = (SEEDS, COSYNC, NO_NOTES)
    return deals, [
        Load(
            f"{edits} edits in {12 / k:g} s (5x the quota)",
            edits,
            12 / k,
            time_scale,
            (*all_systems, REPLICAS),
        ),
        Load(f"{edits} edits in {60 / k:g} s", edits, 60 / k, time_scale, all_systems),
        Load(
            f"{edits} edits in {600 / k:g} s (under the quota)", edits, 600 / k, slow_time_scale, all_systems
        ),
    ]


@dataclass(frozen=True)
class Options:
    quick: bool = False
    time_scale: float = 5.0
    slow_time_scale: float = 10.0
    loads: tuple[int, ...] = (1, 2, 3)  # which of the three loads (1: 5x, 2: 60 s, 3: under the quota)
    systems: tuple[str, ...] = ()  # empty: each load's own systems
    keep_logs: bool = False  # keep each system's directory (the workers' logs) and print where
    worker_log_level: str = "WARNING"


async def run(options: Options) -> list[tuple[Load, list[Figures]]]:
    deals, plan = loads(options.quick, options.time_scale, options.slow_time_scale)
    results = []
    for n, load in enumerate(plan, 1):
        if n not in options.loads:
            continue
        if options.systems:
            load = replace(load, systems=tuple(s for s in load.systems if s in options.systems))
        rows = []
        for system in load.systems:
            tmp = Path(tempfile.mkdtemp(prefix="write-budget-"))
            try:
                rows.append(await run_system(tmp, system, load, deals, options.worker_log_level))
            except (RuntimeError, TimeoutError) as err:  # one system's failure leaves the others' figures
                print(f"{load.label}, {system}: {err} (logs kept in {tmp})", file=sys.stderr, flush=True)
                continue
            if options.keep_logs:
                print(f"{load.label}, {system}: logs in {tmp}", file=sys.stderr, flush=True)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
        if rows:
            print(table(load, rows), end="\n\n", flush=True)
        results.append((load, rows))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 deals, 60 edits, time scale 20: a smoke run")
    parser.add_argument("--time-scale", type=float, help="for the 12 s and 60 s loads (default 5, quick 20)")
    parser.add_argument("--slow-time-scale", type=float, help="for the 600 s load (default 10, quick 20)")
    parser.add_argument("--loads", default="1,2,3", help="which loads: 1 (5x), 2 (60 s), 3 (under the quota)")
    parser.add_argument("--systems", default="", help=f"comma-separated subset of: {', '.join(ALL_SYSTEMS)}")
    parser.add_argument("--keep-logs", action="store_true", help="keep the workers' logs (paths on stderr)")
    parser.add_argument("--worker-log-level", default="WARNING", help="the workers' log level")
    args = parser.parse_args()
    configure_logging("WARNING")
    systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    if unknown := set(systems) - set(ALL_SYSTEMS):
        parser.error(f"unknown systems: {sorted(unknown)}")
    options = Options(
        quick=args.quick,
        time_scale=args.time_scale or (20.0 if args.quick else 5.0),
        slow_time_scale=args.slow_time_scale or (20.0 if args.quick else 10.0),
        loads=tuple(int(n) for n in args.loads.split(",")),
        systems=systems,
        keep_logs=args.keep_logs,
        worker_log_level=args.worker_log_level.upper(),
    )
    started = time.monotonic()
    results = asyncio.run(run(options))
    print(f"{time.monotonic() - started:.0f} s in all; load average {os.getloadavg()[0]:.1f}")
    if any(len(rows) < len(load.systems) for load, rows in results):
        raise SystemExit(1)
    throttled = [r for _, rows in results for r in rows if r.system.startswith("cosync") and r.throttled]
    if throttled:
        print(f"FAIL: cosync exceeded the quota: {[(r.system, r.throttled) for r in throttled]}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
