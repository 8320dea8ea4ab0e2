"""``cosync status``: the report of :mod:`cosync_worker.status` read locally or through a relay, as rich
tables."""

from __future__ import annotations

import time

import aiohttp
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from .config import Settings
from .hooks import PluginManager
from .status import StatusReport, build_status

__all__ = ["StatusUnavailable", "ago", "fetch_status", "local_status", "render_status"]


class StatusUnavailable(RuntimeError):
    """The relay asked with ``--url`` did not give a report; the message says why (never the token)."""


async def local_status(settings: Settings) -> StatusReport:
    """The report from the queue and store ``settings`` name (what the deployment's console reads)."""
    from .runtime import open_queue, open_store

    plugins = PluginManager().load(settings)
    configs = plugins.validate_connector_configs(settings)
    queue = await open_queue(settings.queue)
    try:
        store = await open_store(settings.store)
        try:
            return await build_status(settings, queue, store, plugins, configs)
        finally:
            await store.close()
    finally:
        await queue.close()


async def fetch_status(url: str, token: str) -> StatusReport:
    target = url.rstrip("/") + "/status"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.get(target, headers=headers) as resp,
        ):
            if resp.status == 401:
                raise StatusUnavailable(f"{target} refused the token (401)")
            if resp.status != 200:
                raise StatusUnavailable(f"{target} answered {resp.status}")
            data = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise StatusUnavailable(f"cannot reach {target} ({type(exc).__name__})") from None
    try:
        return StatusReport.model_validate(data)
    except ValidationError:
        raise StatusUnavailable(f"{target} did not answer with a status report") from None


def ago(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "never"
    seconds = max(0.0, (time.time() if now is None else now) - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def _in(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    delta = ts - now
    return f"in {delta:.0f}s" if delta >= 0 else f"{-delta:.0f}s late"


def render_status(report: StatusReport, console: Console | None = None) -> None:
    out = console or Console()
    now = report.generated_at
    connectors = Table(title="Connectors")
    for column in ("connector", "configured", "healthy", "dead letters", "problem"):
        connectors.add_column(column)
    for c in report.connectors:
        connectors.add_row(
            c.name, "yes" if c.configured else "no", "yes" if c.healthy else "NO", str(c.dead_letters),
            c.problem or "",
        )  # fmt: skip
    out.print(connectors)
    loops = Table(title="Scheduled loops")
    for column in ("loop", "connector", "every", "last success", "next due", "state"):
        loops.add_column(column)
    for loop in report.loops:
        state = "disabled" if not loop.enabled else ("OVERDUE" if loop.overdue else "ok")
        loops.add_row(
            loop.name, loop.connector, f"{loop.interval_seconds:g}s", ago(loop.last_success, now),
            _in(loop.next_due, now), state,
        )  # fmt: skip
    out.print(loops)
    activity = Table(title="Events")
    for column in ("window", "processed", "failed", "dead-lettered"):
        activity.add_column(column)
    for label, counts in (("last hour", report.last_hour), ("last 24 h", report.last_day)):
        activity.add_row(label, str(counts.processed), str(counts.failed), str(counts.dead_lettered))
    out.print(activity)
    q = report.queue
    oldest = "-" if q.oldest_age_seconds is None else f"{q.oldest_age_seconds:.0f}s"
    out.print(
        f"queue: {'?' if q.depth is None else q.depth} waiting, oldest {oldest}; "
        f"dead letters: {q.dead_letters}; conflicts pending: {report.conflicts_pending}"
    )
    for b in report.write_budgets:
        cap = "" if b.daily_cap is None else f" of {b.daily_cap}"
        rate = "" if b.rate_limit_per_second is None else f" (limit {b.rate_limit_per_second:g}/s)"
        out.print(f"{b.connector} writes: {b.used_24h}{cap} in 24 h; now {b.rate_per_second:g}/s{rate}")
    h = report.hubspot
    out.print(f"hubspot calls: {h.calls_last_hour} last hour, limit {h.requests_per_10s}/10 s")
    out.print(f"counters recorded: {ago(report.sampled_at, now)}")
    if report.problems:
        out.print("[bold red]needs attention:[/]")
        for problem in report.problems:
            out.print(f"  - {problem}", markup=False)
    else:
        out.print("[green]all good[/]")
