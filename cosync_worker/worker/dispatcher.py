"""Decode one message and run it through every connector that declared its type, exactly once each."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Literal

import structlog

from .. import metrics
from ..errors import Busy, PermanentError, Retry, UnknownEventType
from ..events import Event, InvalidEvent, decode_message
from ..hooks import Connector, Context, maybe_await
from ..logs import get_logger

__all__ = ["Dispatcher", "Outcome", "shorten"]

log = get_logger("cosync.dispatcher")

_MAX_REASON = 300


def shorten(text: str, limit: int = _MAX_REASON) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Outcome:
    """What the worker must do with a message: ack it, retry it later, or dead-letter it with a reason.

    ``failed`` names the connectors that did not finish the event: a dead letter is addressed to them
    alone, so its replay does not run the connectors that did."""

    action: Literal["ack", "retry", "dead_letter"]
    reason: str = ""
    defer: float | None = None
    event: Event | None = None
    ran: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    waiting: bool = False  # a re-sent retry received before its time: put back, not run, not an attempt
    busy: bool = False  # every retry was ``Busy`` (another worker holds the object): not an attempt

    def dead_letter_body(self) -> str | None:
        """The body to park: the event addressed to the connectors that failed it (``None``: the message's
        own body, for a message no connector ran, e.g. one that does not decode)."""
        if self.event is None or not self.failed:
            return None
        return self.event.addressed_to(self.failed).to_json()


@dataclass
class _Step:
    """One connector's result for one event."""

    connector: str
    key: str
    action: Literal["done", "retry", "dead_letter"]
    reason: str = ""
    defer: float | None = None
    busy: bool = False


class Dispatcher:
    """Routes events to connectors. A connector that finished an event is recorded under
    ``done:<connector>:<dedupe key>`` in the store, so a redelivery or a retry after a partial failure runs
    only the connectors that have not finished it.

    The connectors of one event run concurrently and fail alone: one waiting on a lock, asking for a retry
    or failing permanently neither delays nor stops the others. A permanent failure is dead-lettered once
    every other connector has finished (or itself failed permanently), addressed to the failed ones."""

    def __init__(self, connectors: list[Connector], context: Context, processed_ttl: float) -> None:
        self.connectors = connectors
        self.context = context
        self.processed_ttl = processed_ttl
        metrics.declare_event_types(
            t
            for c in connectors
            for t in (*c.spec.event_types, *(f"schedule.{s.name}" for s in c.spec.schedules))
        )

    def handlers_for(self, event_type: str) -> list[Connector]:
        return [c for c in self.connectors if c.spec.handles(event_type) and c.hook("cosync_handle_event")]

    @staticmethod
    def done_key(connector: Connector, event: Event) -> str:
        return f"done:{connector.spec.name}:{event.dedupe_key}"

    def handlers_of(self, event: Event) -> list[Connector]:
        """The connectors ``event`` runs through: those that declared its type, narrowed to the ones it is
        addressed to (a replayed dead letter)."""
        handlers = self.handlers_for(event.type)
        if event.connectors is None:
            return handlers
        return [c for c in handlers if c.spec.name in event.connectors]

    def others(self, event: Event, failed: list[str]) -> list[str]:
        """The connectors of ``event`` that are not in ``failed``: those a retry of ``failed`` must not hold."""
        return [c.spec.name for c in self.handlers_of(event) if c.spec.name not in failed]

    def done_keys(self, event: Event) -> list[str]:
        return [self.done_key(c, event) for c in self.handlers_of(event)]

    def decode(self, body: str) -> Event | Outcome:
        """The event, or a dead-letter outcome naming what is wrong with the message; never raises, so one
        bad message cannot take its batch down. The worker logs the outcome (one line, with the reason)."""
        try:
            return decode_message(body)
        except InvalidEvent as exc:
            return self.undecodable(f"invalid message: {exc}")
        except (
            Exception
        ) as exc:  # e.g. RecursionError on deep nesting: a parser's gap, still this message only
            return self.undecodable(f"undecodable message: {type(exc).__name__}: {exc}")

    @staticmethod
    def undecodable(reason: str) -> Outcome:
        metrics.EVENTS_DEAD_LETTERED.labels(type="invalid", connector="").inc()
        # The reason lands in logs and the DLQ: bounded, since a parser's message may quote the body.
        return Outcome("dead_letter", reason=shorten(reason))

    async def dispatch_body(self, body: str) -> Outcome:
        decoded = self.decode(body)
        return decoded if isinstance(decoded, Outcome) else await self.dispatch(decoded)

    async def dispatch(self, event: Event, *, done: set[str] | None = None, force: bool = False) -> Outcome:
        """Run ``event`` through its connectors. With ``done`` (keys known finished, e.g. checked for a whole
        batch at once) the caller records ``outcome.ran`` itself; without it each key is checked and
        recorded here, one round trip each."""
        label = metrics.event_type_label(event.type)
        metrics.EVENTS_RECEIVED.labels(type=label).inc()
        metrics.QUEUE_LAG_SECONDS.set(max(0.0, time.time() - event.received_at.timestamp()))
        handlers = self.handlers_of(event)
        if not handlers:
            return self._unhandled(event, label)
        record_here = done is None
        if done is None:
            done = set() if force else await self.context.store.existing_keys(self.done_keys(event))
        pending = [c for c in handlers if force or self.done_key(c, event) not in done]
        steps = await asyncio.gather(*(self._step(c, event) for c in pending))
        outcome = Outcome("ack", event=event)
        for step in steps:
            if step.action == "done":
                done.add(step.key)
                outcome.ran.append(step.key)
            else:
                outcome.failed.append(step.connector)
        retries = [s for s in steps if s.action == "retry"]
        # A retry wins over a permanent failure: the message must come back for the retrying connector, and
        # the failed one is dead-lettered when the retry settles (only failures are left then).
        failures = retries or [s for s in steps if s.action == "dead_letter"]
        if failures:
            outcome.action = "retry" if retries else "dead_letter"
            outcome.reason = "; ".join(s.reason for s in failures)
            defers = [s.defer for s in retries if s.defer is not None]
            outcome.defer = max(defers) if defers else None
            outcome.busy = bool(retries) and all(s.busy for s in retries)
        if record_here:
            await self.context.store.record_keys(outcome.ran, self.processed_ttl)
        return outcome

    def _unhandled(self, event: Event, label: str) -> Outcome:
        if event.connectors is None:
            exc = UnknownEventType(f"unknown event type {event.type!r}: no connector declared it")
            log.warning("unknown_event_type", event_type=event.type, event_id=event.id)
            reason = exc.reason
        else:
            # A replayed dead letter whose connector is gone (uninstalled, or no longer declares the type).
            names = ", ".join(event.connectors)
            reason = f"addressed to {names}: no such connector handles {event.type!r}"
            log.warning("unhandled_addressed_event", event_type=event.type, event_id=event.id)
        metrics.EVENTS_DEAD_LETTERED.labels(type=label, connector="").inc()
        return Outcome("dead_letter", reason=reason, event=event)

    async def _step(self, connector: Connector, event: Event) -> _Step:
        name, label = connector.spec.name, metrics.event_type_label(event.type)
        key = self.done_key(connector, event)
        handler = connector.hook("cosync_handle_event")
        assert handler is not None
        # Each connector runs in its own task (gather), so these bindings stay its own.
        with structlog.contextvars.bound_contextvars(
            event_id=event.id, ordering_key=event.ordering_key, connector=name, event_type=event.type
        ):
            try:
                await maybe_await(handler(event=event, context=self.context))
            except PermanentError as exc:
                metrics.EVENTS_DEAD_LETTERED.labels(type=label, connector=name).inc()
                log.warning("event_failed_permanently", reason=exc.reason)
                return _Step(name, key, "dead_letter", f"{name}: {exc.reason}")
            except Retry as exc:
                metrics.EVENTS_FAILED.labels(type=label, connector=name).inc()
                log.info("event_retry_requested", reason=exc.reason, defer=exc.defer)
                return _Step(name, key, "retry", f"{name}: {exc.reason}", exc.defer, isinstance(exc, Busy))
            except Exception as exc:  # a bug or an unclassified transient fault: retry, then dead-letter
                metrics.EVENTS_FAILED.labels(type=label, connector=name).inc()
                log.exception("event_failed", error=type(exc).__name__)
                return _Step(name, key, "retry", f"{name}: {type(exc).__name__}: {exc}")
        metrics.EVENTS_PROCESSED.labels(type=label, connector=name).inc()
        return _Step(name, key, "done")
