"""The notification service: ``context.service("notify")``. Connectors call :meth:`Notifier.notify`; the
service classifies, renders, picks channels, de-duplicates and delivers, in batches.

Exactly once, with the state store (never by searching HubSpot). Per notice key (kind, deal, change):

* ``notify:<key>`` (state) is the ledger: the notice, its status and one record per channel. Channels
  checkpoint into it before and after each remote write (see :mod:`.hubspot_channel`).
* ``notify-lease:<key>`` (claimed key with a TTL) says which replica is delivering it right now.

Claiming the key *after* the channel succeeded would duplicate on a crash in between; claiming it *before*
as "done" would lose the notice on a crash in between. Here the claim is only a lease: a crash leaves the
ledger at ``pending`` with whatever ids it had recorded, the lease expires, the event is redelivered (it was
never acked, because :meth:`notify` returns only after delivery) and the next attempt resumes from the
ledger: a task whose id is recorded is not created again, one whose create was in flight is looked up by
its unique key. A replica that finds the lease held by another raises ``Retry`` (the event comes back later
and finds the notice done), so nothing is both skipped and lost. ``done`` notices are answered "duplicate".

A channel failing never fails the sync: it is retried ``delivery_attempts`` times, then recorded in the
ledger as ``failed`` (and retried on the next redelivery of the same notice).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cosync_worker.config import ConfigError, validate_section
from cosync_worker.errors import Retry
from cosync_worker.hooks.manager import PluginManager
from cosync_worker.hooks.types import NotificationChannelSpec
from cosync_worker.logs import get_logger

from ..shared_task import start_shared
from .catalogue import Catalogue
from .channel import Channel, Delivery
from .config import NotifySettings
from .notice import Message, Notice

__all__ = ["Notifier", "Outcome", "build_notifier"]

log = get_logger("cosync.notify")

Outcome = Literal["sent", "partial", "duplicate", "skipped", "digested"]
_MAX_BATCH = 100


@dataclass
class _Pending:
    notice: Notice
    waiters: list[asyncio.Future[Outcome]] = field(default_factory=list)


class Notifier:
    """One per process. Use :func:`build_notifier`; ``await notifier.close()`` at shutdown."""

    def __init__(
        self,
        settings: NotifySettings,
        *,
        store: Any,
        hubspot: Any | None,
        channels: Sequence[Channel],
        now: Any = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue or Catalogue()
        self.store = store
        self.hubspot = hubspot
        self.channels = list(channels)
        self._now = now or (lambda: datetime.now(UTC))
        self._pending: dict[str, _Pending] = {}
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._digest_lock = asyncio.Lock()
        self.failures: list[dict[str, Any]] = []

    # -- the public API ------------------------------------------------------------------------------
    async def notify(self, notice: Notice) -> Outcome:
        """Deliver ``notice`` on every channel it qualifies for; returns once the ledger says where it stands.

        Raises :class:`~.notice.NoticeError` for a bad notice (unknown kind, bad facts) and ``Retry`` only when
        another replica is delivering the same notice right now; channel failures never raise.
        """
        return (await self.notify_many([notice]))[0]

    async def notify_many(self, notices: Sequence[Notice]) -> list[Outcome]:
        """Bursts (e.g. 500 score changes after a summary sync): batched into 100s per HubSpot call."""
        for n in notices:
            self.catalogue.classify(
                n, self.settings
            )  # reject bad input in the caller's frame, before anything is written
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Outcome]] = []
        for n in notices:
            fut: asyncio.Future[Outcome] = loop.create_future()
            self._pending.setdefault(n.key, _Pending(n)).waiters.append(fut)
            futures.append(fut)
        if self._runner is None or self._runner.done():
            self._runner = start_shared(self._run())
        self._wake.set()
        return list(await asyncio.gather(*futures))

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        for ch in self.channels:
            await ch.close()

    # -- the batching loop ---------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.settings.batch_window_seconds:
                await asyncio.sleep(self.settings.batch_window_seconds)  # let concurrent handlers join in
            while self._pending:
                keys = list(self._pending)[:_MAX_BATCH]
                batch = [self._pending.pop(k) for k in keys]
                try:
                    outcomes = await self._process([p.notice for p in batch])
                except BaseException as exc:
                    for p in batch:
                        for w in p.waiters:
                            if not w.done():
                                w.set_exception(
                                    exc if isinstance(exc, Exception) else Retry("notify stopped")
                                )
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for p, outcome in zip(batch, outcomes, strict=True):
                    for w in p.waiters:
                        if not w.done():
                            if isinstance(outcome, Exception):
                                w.set_exception(outcome)
                            else:
                                w.set_result(outcome)

    async def _process(self, notices: list[Notice]) -> list[Outcome | Exception]:
        results: dict[str, Outcome | Exception] = {}
        ledgers: dict[str, dict[str, Any]] = {}
        active: list[Notice] = []
        for n in notices:
            verdict = self.catalogue.classify(n, self.settings)
            if verdict is None:
                results[n.key] = "skipped"
                continue
            ledger = await self.store.get_state(_ledger_key(n.key)) or {}
            if ledger.get("status") in ("done", "digested"):
                results[n.key] = "duplicate"
                continue
            if not await self.store.claim_key(_lease_key(n.key), self.settings.lease_seconds):
                results[n.key] = Retry(
                    f"notification {n.kind} for deal {n.deal_id} is being delivered by another worker",
                    defer=self.settings.lease_seconds,
                )
                continue
            ledger.setdefault("notice", n.to_dict())
            ledger.setdefault("channels", {})
            ledger["status"] = "pending"
            await self.store.put_state(_ledger_key(n.key), ledger)
            ledgers[n.key] = ledger
            active.append(n)
        if active:
            try:
                await self._send(active, ledgers, results)
            except BaseException:
                # The ledger keeps what was done; free the leases so the redelivered event resumes at once.
                for n in active:
                    await self.store.release_key(_lease_key(n.key))
                raise
        return [results[n.key] for n in notices]

    async def _send(
        self,
        active: list[Notice],
        ledgers: dict[str, dict[str, Any]],
        results: dict[str, Outcome | Exception],
    ) -> None:
        if active:
            messages = await self._render(active)
            digest_on = self.settings.digest.enabled
            to_digest = [m for m in messages if digest_on and m.priority in self.settings.digest.priorities]
            if to_digest:
                await self._add_to_digest(to_digest)
                for m in to_digest:
                    ledgers[m.key]["status"] = "digested"
                    await self.store.put_state(_ledger_key(m.key), ledgers[m.key])
                    results[m.key] = "digested"
            direct = [m for m in messages if m not in to_digest]
            for key, outcome in (await self._deliver(direct, ledgers)).items():
                results[key] = outcome

    async def _deliver(
        self, messages: list[Message], ledgers: dict[str, dict[str, Any]]
    ) -> dict[str, Outcome]:
        for ch in self.channels:
            wanted = self._priorities(ch.name)
            items = [
                Delivery(m, ledgers[m.key]["channels"].setdefault(ch.name, {}))
                for m in messages
                if m.priority in wanted
                and ledgers[m.key]["channels"].get(ch.name, {}).get("status") != "done"
            ]
            if items:
                await self._deliver_on(ch, items, ledgers)
        outcomes: dict[str, Outcome] = {}
        for m in messages:
            ledger = ledgers[m.key]
            failed = [name for name, rec in ledger["channels"].items() if rec.get("status") != "done"]
            ledger["status"] = "partial" if failed else "done"
            await self.store.put_state(_ledger_key(m.key), ledger)
            if failed:
                # Let the next redelivery retry the failed channels without waiting for the lease to expire.
                await self.store.release_key(_lease_key(m.key))
            outcomes[m.key] = "partial" if failed else "sent"
        return outcomes

    async def _deliver_on(
        self, ch: Channel, items: list[Delivery], ledgers: dict[str, dict[str, Any]]
    ) -> None:
        async def checkpoint(done: Sequence[Delivery]) -> None:
            for d in done:
                await self.store.put_state(_ledger_key(d.message.key), ledgers[d.message.key])

        error = ""
        for attempt in range(1, self.settings.delivery_attempts + 1):
            try:
                await ch.deliver(items, checkpoint)
            except Exception as exc:  # a channel must never fail the sync that triggered it
                error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("notify.channel_failed", channel=ch.name, attempt=attempt, error=error)
                if attempt < self.settings.delivery_attempts:
                    await asyncio.sleep(self.settings.retry_delay_seconds * 2 ** (attempt - 1))
                continue
            for d in items:
                d.record["status"] = "done"
            await checkpoint(items)
            return
        for d in items:
            d.record.update(status="failed", error=error, failed_at=time.time())
            self.failures.append({"channel": ch.name, "key": d.message.key, "error": error})
        await checkpoint(items)
        log.error("notify.channel_gave_up", channel=ch.name, notices=len(items), error=error)

    def _priorities(self, channel: str) -> set[str]:
        cfg = self.settings.channel(channel)
        return set(cfg.priorities) if cfg is not None else {"HIGH", "MEDIUM", "LOW"}

    # -- owners and text -----------------------------------------------------------------------------
    async def _deals(self, deal_ids: list[str]) -> dict[str, dict[str, Any]]:
        if self.hubspot is None:
            return {}
        records = await self.hubspot.batch_read(
            "deals", deal_ids, properties=["hubspot_owner_id", "dealname"]
        )
        return {str(r["id"]): r.get("properties") or {} for r in records}

    async def _render(self, notices: list[Notice]) -> list[Message]:
        deals = await self._deals(sorted({n.deal_id for n in notices}))
        now = self._now()
        out: list[Message] = []
        for n in notices:
            verdict = self.catalogue.classify(n, self.settings)
            assert verdict is not None
            props = deals.get(n.deal_id, {})
            owner = props.get("hubspot_owner_id") or self.settings.fallback_owner_id
            if not props.get("hubspot_owner_id"):
                log.warning(
                    "notify.deal_without_owner",
                    deal_id=n.deal_id,
                    fallback_owner=self.settings.fallback_owner_id,
                    outcome="fallback owner" if owner else "note only",
                )
            hours = self.settings.due_hours_by_kind.get(n.kind)
            if hours is None:
                hours = verdict.due_hours or self.settings.due_hours[verdict.priority]
            out.append(
                Message(
                    key=n.key,
                    notice=n,
                    priority=verdict.priority,
                    icon=verdict.icon,
                    title=verdict.title,
                    context=verdict.context,
                    actions=verdict.actions,
                    due_at=now + timedelta(hours=hours),
                    deal_name=str(props.get("dealname") or ""),
                    owner_id=str(owner) if owner else None,
                    task=verdict.task,
                )
            )
        return out

    # -- digest --------------------------------------------------------------------------------------
    def _day(self) -> str:
        return self._now().strftime("%Y-%m-%d")

    async def _add_to_digest(self, messages: list[Message]) -> None:
        # One process appends under a lock; replicas sharing a store should run digests on one replica
        # (put_state is a replace, not a compare-and-set), see docs/notifications.md.
        async with self._digest_lock:
            key = f"notify-digest:{self._day()}"
            doc = await self.store.get_state(key) or {"owners": {}}
            for m in messages:
                owner = m.owner_id or "-"
                entries = doc["owners"].setdefault(owner, [])
                if all(e["key"] != m.key for e in entries):
                    entries.append({"key": m.key, "deal_id": m.notice.deal_id, "subject": m.subject})
            await self.store.put_state(key, doc)

    async def send_digest(self, day: str | None = None) -> dict[str, Outcome]:
        """Send the day's digest: per owner one task (HubSpot) / one message (Slack) listing the items.

        Call it once a day (e.g. from a schedule); each (owner, day) digest is itself exactly-once.
        """
        day = day or self._day()
        doc = await self.store.get_state(f"notify-digest:{day}") or {"owners": {}}
        results: dict[str, Outcome] = {}
        for owner, entries in sorted(doc["owners"].items()):
            if not entries:
                continue
            key = hashlib.sha256(f"digest\x1f{owner}\x1f{day}".encode()).hexdigest()[:32]
            ledger = await self.store.get_state(_ledger_key(key)) or {}
            if ledger.get("status") == "done":
                results[owner] = "duplicate"
                continue
            if not await self.store.claim_key(_lease_key(key), self.settings.lease_seconds):
                raise Retry(f"digest of {day} for owner {owner} is being sent by another worker")
            ledger.setdefault("channels", {})
            deal_ids = tuple(dict.fromkeys(e["deal_id"] for e in entries))
            notice = Notice("notify.digest", deal_ids[0], f"{owner}:{day}", {"items": entries})
            message = Message(
                key=key,
                notice=notice,
                priority="LOW",
                icon="📋",
                title=f"Co-sell digest for {day}: {len(entries)} updates",
                context=tuple(f"{e['subject']} (deal {e['deal_id']})" for e in entries),
                actions=("Review the updates at your convenience",),
                due_at=self._now() + timedelta(hours=self.settings.due_hours["LOW"]),
                owner_id=None if owner == "-" else owner,
            )
            ledgers = {key: ledger}
            for ch in self.channels:
                if ch.name not in ("hubspot", "slack"):
                    continue  # SNS subscribers already get every item; the digest is for people
                record = ledger["channels"].setdefault(ch.name, {})
                if record.get("status") == "done":
                    continue
                item = Delivery(message, record, extra_deal_ids=deal_ids[1:], with_note=False)
                await self._deliver_on(ch, [item], ledgers)
            failed = [n for n, r in ledger["channels"].items() if r.get("status") != "done"]
            ledger["status"] = "partial" if failed else "done"
            await self.store.put_state(_ledger_key(key), ledger)
            if failed:
                await self.store.release_key(_lease_key(key))
            results[owner] = "partial" if failed else "sent"
        return results


def _ledger_key(key: str) -> str:
    return f"notify:{key}"


def _lease_key(key: str) -> str:
    return f"notify-lease:{key}"


def build_notifier(settings: Any, context: Any, *, plugins: PluginManager | None = None) -> Notifier:
    """Build the process's notifier from ``settings.notify``; register it as ``context.services["notify"]``.

    ``plugins`` is the runtime's plugin manager (pass ``rt.plugins``); without it the default plugins plus
    ``plugin_modules`` are loaded. Raises ``ConfigError`` naming every bad ``notify.*`` setting.
    """
    config = validate_section(NotifySettings, settings.notify, "notify")
    if plugins is None:
        plugins = PluginManager().load(settings, entry_points=False)
    try:
        catalogue = Catalogue.from_plugins(plugins)
    except ValueError as exc:
        raise ConfigError([f"plugins: {exc}"]) from None
    specs: dict[str, NotificationChannelSpec] = {}
    for found in plugins.hook.cosync_notification_channels(context=context):
        for spec in found or []:
            specs[spec.name] = spec
    unknown = sorted(set(config.channels) - set(specs))
    if unknown:
        raise ConfigError(
            [f"notify.channels.{n}: no installed plugin offers a channel named {n!r}" for n in unknown]
        )
    channels: list[Channel] = []
    for name, spec in specs.items():
        cfg = config.channel(name)
        enabled = cfg.enabled if cfg is not None else spec.enabled_by_default
        if not enabled:
            continue
        if name == "hubspot" and "hubspot" not in context.services:
            log.warning("notify.hubspot_channel_disabled", reason="no HubSpot client configured")
            continue
        channels.append(spec.factory(context, cfg.options() if cfg is not None else {}))
    hubspot = context.services.get("hubspot")
    return Notifier(config, store=context.store, hubspot=hubspot, channels=channels, catalogue=catalogue)
