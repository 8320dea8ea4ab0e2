"""How cosync is doing: the data behind the console's overview and ``cosync status``.

Counters of the worker live in its process (Prometheus), so a relay with the console on records them into
the store every ``relay.console.sample_seconds`` (:class:`ActivitySampler`): hourly buckets of events and
remote writes, and the last success of each scheduled loop. :func:`build_status` reads those, the queue and
the conflict book, so a separate process (``cosync status`` on a laptop) sees what the deployment sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prometheus_client import REGISTRY
from pydantic import BaseModel, Field

from .config import Settings
from .conflicts import ConflictBook
from .hooks import PluginManager
from .queue import DeadLetter, Queue
from .store import ConflictError, Store

__all__ = [
    "ActivitySampler",
    "StatusReport",
    "build_status",
    "dead_letter_connectors",
]

HOUR = 3600.0
DAY = 24 * HOUR
_LIVE_KEY = "status:live"
# A loop is overdue once this many intervals passed without a success (one missed tick is normal jitter).
_OVERDUE_INTERVALS = 2.0
_DLQ_SCAN = 1000


def _hour_key(hour: int) -> str:
    return f"status:activity:{hour}"


class Counts(BaseModel):
    processed: int = 0
    failed: int = 0
    dead_lettered: int = 0


class ConnectorStatus(BaseModel):
    name: str
    configured: bool
    healthy: bool
    dead_letters: int = 0
    problem: str | None = None


class LoopStatus(BaseModel):
    name: str
    connector: str
    enabled: bool
    interval_seconds: float
    last_success: float | None = None
    next_due: float | None = None
    overdue: bool = False


class QueueStatus(BaseModel):
    depth: int | None = None
    oldest_age_seconds: float | None = None
    dead_letters: int = 0
    oldest_dead_letter_age_seconds: float | None = None


class WriteBudget(BaseModel):
    """A connector's remote write quota (declared by its ``daily_write_cap`` and ``write_rate_per_second``)."""

    connector: str
    used_24h: int
    daily_cap: int | None = None
    rate_per_second: float = 0.0
    rate_limit_per_second: float | None = None


class HubSpotUsage(BaseModel):
    calls_last_hour: int = 0
    calls_24h: int = 0
    requests_per_10s: int
    search_per_second: int


class HourPoint(BaseModel):
    hour: float = Field(description="start of the hour, epoch seconds")
    events: int = 0
    writes: int = 0


class StatusReport(BaseModel):
    generated_at: float
    connectors: list[ConnectorStatus]
    loops: list[LoopStatus]
    last_hour: Counts
    last_day: Counts
    queue: QueueStatus
    write_budgets: list[WriteBudget]
    hubspot: HubSpotUsage
    chart: list[HourPoint]
    conflicts_pending: int = 0
    sampled_at: float | None = Field(None, description="when the counters were last recorded (None: never)")
    problems: list[str] = Field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return bool(self.problems)


# -- recording --------------------------------------------------------------------------------------------


def _counter_totals(name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Current values of a registered counter, per label set (empty if no such counter)."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for metric in REGISTRY.collect():
        if metric.name != name.removesuffix("_total"):
            continue
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _snapshot(connectors: Iterable[str]) -> dict[str, float]:
    """Flat totals: ``processed``, ``failed``, ``dead_lettered``, ``loop:<name>``, ``writes:<connector>``,
    ``remote:<service>``. Label values come from closed sets (see ``metrics``), so this stays small."""
    flat: dict[str, float] = {}

    def add(key: str, value: float) -> None:
        flat[key] = flat.get(key, 0.0) + value

    for kind in ("processed", "failed", "dead_lettered"):
        for labels, value in _counter_totals(f"cosync_events_{kind}_total").items():
            add(kind, value)
            event_type = dict(labels).get("type", "")
            if kind == "processed" and event_type.startswith("schedule."):
                add(f"loop:{event_type.removeprefix('schedule.')}", value)
    for labels, value in _counter_totals("cosync_remote_calls_total").items():
        add(f"remote:{dict(labels).get('service', 'other')}", value)
    for name in connectors:
        for value in _counter_totals(f"cosync_{name}_writes_total").values():
            add(f"writes:{name}", value)
    return flat


async def _update(store: Store, key: str, change: Any) -> None:
    """Read-modify-write under the record's version, so replicas sampling at once all count."""
    for _ in range(20):
        current = await store.read_versioned(key)
        value = dict(current.value or {})
        change(value)
        try:
            await store.write_versioned(key, value, current.version)
            return
        except ConflictError:
            await asyncio.sleep(0.01)


class ActivitySampler:
    """Adds what this process's counters gained since the last sample to the store's hourly buckets."""

    def __init__(
        self, store: Store, connectors: Sequence[str], clock: Any = time.time, interval: float = 30.0
    ) -> None:
        self.store = store
        self.connectors = list(connectors)
        self.clock = clock
        self.interval = interval
        self._last: dict[str, float] | None = None
        self._last_at: float | None = None

    async def sample(self) -> None:
        now = self.clock()
        current = _snapshot(self.connectors)
        previous, previous_at = self._last or {}, self._last_at
        delta = {k: v - previous.get(k, 0.0) for k, v in current.items() if v - previous.get(k, 0.0) > 0}
        self._last, self._last_at = current, now
        hour = int(now // HOUR * HOUR)

        def add_counts(bucket: dict[str, Any]) -> None:
            for key, value in delta.items():
                bucket[key] = bucket.get(key, 0) + int(value)

        if delta:
            await _update(self.store, _hour_key(hour), add_counts)
        elapsed = None if previous_at is None else max(now - previous_at, 1e-9)

        def live(doc: dict[str, Any]) -> None:
            doc["sampled_at"] = now
            loops = doc.setdefault("loops", {})
            for key in delta:
                if key.startswith("loop:"):
                    loops[key.removeprefix("loop:")] = now
            doc.setdefault("since", now)
            if elapsed is not None:
                doc["write_rate"] = {
                    name: delta.get(f"writes:{name}", 0.0) / elapsed for name in self.connectors
                }

        await _update(self.store, _LIVE_KEY, live)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a store hiccup must not end the sampling for good
                await self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
        with contextlib.suppress(Exception):
            await self.sample()


# -- reading ----------------------------------------------------------------------------------------------


def dead_letter_connectors(letter: DeadLetter, known: Iterable[str]) -> list[str]:
    """The connectors a dead letter is addressed to, else the one its reason names (``<connector>: why``);
    empty when neither says."""
    if letter.connectors:
        return list(letter.connectors)
    prefix = letter.reason.partition(":")[0].strip()
    return [prefix] if prefix in set(known) else []


async def _buckets(store: Store, now: float) -> dict[int, dict[str, int]]:
    current = int(now // HOUR * HOUR)
    hours = [current - i * int(HOUR) for i in range(24)]
    docs = await asyncio.gather(*(store.read_versioned(_hour_key(h)) for h in hours))
    return {h: dict(d.value or {}) for h, d in zip(hours, docs, strict=True)}


def _counts(buckets: Mapping[int, Mapping[str, int]], hours: Iterable[int]) -> Counts:
    picked = [buckets[h] for h in hours]
    return Counts(
        processed=sum(b.get("processed", 0) for b in picked),
        failed=sum(b.get("failed", 0) for b in picked),
        dead_lettered=sum(b.get("dead_lettered", 0) for b in picked),
    )


def _loops(
    settings: Settings, plugins: PluginManager, live: Mapping[str, Any], now: float
) -> list[LoopStatus]:
    last_runs: Mapping[str, float] = live.get("loops", {})
    since = live.get("since")
    loops = []
    for connector in plugins.connectors():
        for schedule in connector.spec.schedules:
            override = settings.schedules.get(schedule.name)
            enabled = override.enabled if override else True
            interval = (override.interval_seconds if override else None) or schedule.interval_seconds
            last = last_runs.get(schedule.name)
            base = last if last is not None else since
            next_due = None if base is None or not enabled else base + interval
            overdue = enabled and base is not None and now - base > _OVERDUE_INTERVALS * interval
            loops.append(
                LoopStatus(
                    name=schedule.name,
                    connector=connector.spec.name,
                    enabled=enabled,
                    interval_seconds=interval,
                    last_success=last,
                    next_due=next_due,
                    overdue=overdue,
                )
            )
    return sorted(loops, key=lambda loop: loop.name)


def _write_budgets(
    configs: Mapping[str, Any], buckets: Mapping[int, Mapping[str, int]], live: Mapping[str, Any]
) -> list[WriteBudget]:
    budgets = []
    rates: Mapping[str, float] = live.get("write_rate", {})
    for name, config in sorted(configs.items()):
        cap = getattr(config, "daily_write_cap", None)
        limit = getattr(config, "write_rate_per_second", None)
        if cap is None and limit is None:
            continue
        used = sum(b.get(f"writes:{name}", 0) for b in buckets.values())
        budgets.append(
            WriteBudget(
                connector=name,
                used_24h=used,
                daily_cap=cap,
                rate_per_second=round(float(rates.get(name, 0.0)), 3),
                rate_limit_per_second=limit,
            )
        )
    return budgets


async def build_status(
    settings: Settings,
    queue: Queue,
    store: Store,
    plugins: PluginManager,
    connector_configs: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> StatusReport:
    """The whole report; anything that needs a person is listed in ``problems`` (each a sentence)."""
    now = time.time() if now is None else now
    configs = dict(connector_configs or {})
    names = sorted(c.spec.name for c in plugins.connectors())
    problems: list[str] = []
    queue_status = QueueStatus()
    letters: list[DeadLetter] = []
    try:
        queue_status.depth = await queue.depth()
        letters = await queue.list_dead_letters(_DLQ_SCAN)
        queue_status.oldest_age_seconds = await queue.oldest_age()
    except Exception as exc:
        problems.append(f"the queue cannot be read ({type(exc).__name__})")
    queue_status.dead_letters = len(letters)
    if letters:
        queue_status.oldest_dead_letter_age_seconds = max(0.0, now - min(d.failed_at for d in letters))
        problems.append(f"{len(letters)} dead letter(s) wait for a replay (cosync dlq list)")
    per_connector: dict[str, int] = {}
    for letter in letters:
        for name in dead_letter_connectors(letter, names):
            per_connector[name] = per_connector.get(name, 0) + 1
    buckets = await _buckets(store, now)
    live = (await store.read_versioned(_LIVE_KEY)).value or {}
    current = int(now // HOUR * HOUR)
    loops = _loops(settings, plugins, live, now)
    for loop in loops:
        if loop.overdue:
            problems.append(f"loop {loop.name} is overdue (no success in {_OVERDUE_INTERVALS:g} intervals)")
    connectors = []
    models = {c.spec.name: c.spec.config_model for c in plugins.connectors()}
    for name in names:
        # A connector with settings is configured once its section exists; one without has nothing to set.
        configured = name in settings.connectors or models.get(name) is None
        failing = per_connector.get(name, 0)
        problem = f"{failing} dead letter(s)" if failing else None
        if not configured:
            problem = "not configured (connectors." + name + ")"
        connectors.append(
            ConnectorStatus(
                name=name,
                configured=configured,
                healthy=configured and not failing,
                dead_letters=failing,
                problem=problem,
            )
        )
        if failing:
            problems.append(f"connector {name} is failing: {failing} dead letter(s)")
    write_budgets = _write_budgets(configs, buckets, live)
    for budget in write_budgets:
        if budget.daily_cap and budget.used_24h >= 0.9 * budget.daily_cap:
            problems.append(f"{budget.connector} used {budget.used_24h} of {budget.daily_cap} writes in 24 h")
    chart = [
        HourPoint(
            hour=h,
            events=buckets[h].get("processed", 0) + buckets[h].get("dead_lettered", 0),
            writes=sum(v for k, v in buckets[h].items() if k.startswith("writes:")),
        )
        for h in sorted(buckets)
    ]
    return StatusReport(
        generated_at=now,
        connectors=connectors,
        loops=loops,
        last_hour=_counts(buckets, [current]),
        last_day=_counts(buckets, buckets),
        queue=queue_status,
        write_budgets=write_budgets,
        hubspot=HubSpotUsage(
            calls_last_hour=buckets[current].get("remote:hubspot", 0),
            calls_24h=sum(b.get("remote:hubspot", 0) for b in buckets.values()),
            requests_per_10s=settings.hubspot.requests_per_10s,
            search_per_second=settings.hubspot.search_per_second,
        ),
        chart=chart,
        conflicts_pending=len(await ConflictBook(store).pending()),
        sampled_at=live.get("sampled_at"),
        problems=problems,
    )
