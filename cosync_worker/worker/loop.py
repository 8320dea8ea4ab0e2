"""The receive → dispatch → ack loop: bounded concurrency, per-key order, retries, DLQ, graceful drain."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from .. import metrics, trailing
from ..backlog import backlog_of
from ..config import WorkerSettings
from ..events import Event
from ..logs import get_logger, redact
from ..queue import Message, Queue
from ..relay.jobs import update_job
from .acks import Acker
from .backoff import backoff_delay
from .dispatcher import Dispatcher, Outcome, shorten

__all__ = ["Worker", "retry_lane"]

# What a re-sent retry's queue group adds to its object's group: its own lane, so it holds no later event.
RETRY_LANE = "|retry:"


@dataclass
class _Batch:
    """The bookkeeping of one received batch: its decoded events, the done keys already recorded for them,
    and its messages nobody has settled yet (the ones a cancelled drain gives back)."""

    decoded: dict[str, Event | Outcome]
    done: set[str]
    unsettled: dict[str, Message]
    full: bool = False  # the receive brought as many as asked: more may wait in the queue


log = get_logger("cosync.worker")


def _brief(exc: BaseException) -> str:
    return shorten(f"{type(exc).__name__}: {exc}")


class Worker:
    """Owns the consume loop. ``stop()`` (wired to SIGTERM/SIGINT by the runtime) stops receiving; in-flight
    batches get ``drain_seconds`` to finish, and whatever is still running then is released to the queue so
    another worker (or this one after a restart) picks it up. Nothing is acked before its work is done."""

    def __init__(
        self, queue: Queue, dispatcher: Dispatcher, settings: WorkerSettings, *, visibility_timeout: float
    ) -> None:
        self.queue = queue
        self.dispatcher = dispatcher
        self.settings = settings
        self.visibility_timeout = visibility_timeout
        self._stopping = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._batches: set[asyncio.Task[None]] = set()
        # Every message received and not yet settled (acked, released, dead-lettered), whatever its batch:
        # the heartbeat keeps these invisible, and they are what bounds how much more is received.
        self._held: dict[str, Message] = {}
        self._room = asyncio.Event()
        self._acker = Acker(queue, dispatcher.context.store, dispatcher.processed_ttl)
        # Messages held at once: enough to keep every slot busy while the next batch is being claimed,
        # few enough that held messages do not wait long for a slot (the heartbeat covers them anyway).
        self._max_held = settings.concurrency + 2 * settings.batch_size
        self.processed = 0
        self._last_receive: asyncio.Future[list[Message]] | None = None

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def in_flight(self) -> int:
        """Messages received and not yet settled: running, waiting for their turn, or being acked."""
        return len(self._held)

    def idle(self) -> bool:
        """Nothing received is left to settle, nor any write a settled event left trailing
        (``cosync_worker.trailing``). A receive under way may be claiming messages at this very
        moment (they count once it returns), so a caller waiting for quiet checks twice, a poll apart."""
        return not self._held and not self._batches and not trailing.pending()

    async def run(self) -> None:
        log.info("worker_started", concurrency=self.settings.concurrency)
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while not self._stopping.is_set():
                free = self._max_held - len(self._held)
                if free <= 0:
                    await self._wait_for_room()
                    continue
                receive = asyncio.ensure_future(
                    self.queue.receive(
                        min(self.settings.batch_size, free), self.settings.wait_seconds, self._stopping
                    )
                )
                stop = asyncio.ensure_future(self._stopping.wait())
                done, _ = await asyncio.wait({receive, stop}, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                if receive not in done:
                    # Not cancelled: the service would still complete a long poll whose client went away,
                    # hiding what it claimed (and, on FIFO, its whole group) for a visibility timeout.
                    # The drain lets it finish and gives its messages straight back.
                    self._last_receive = receive
                    break
                try:
                    messages = receive.result()
                except Exception as exc:  # backend hiccup: back off, never die
                    log.warning("receive_failed", error=f"{type(exc).__name__}: {exc}")
                    await self._sleep_unless_stopping(1.0)
                    continue
                if messages:
                    self._held.update((m.id, m) for m in messages)
                    # A full receive: the queue may hold more (cosync_worker.backlog).
                    full = len(messages) >= min(self.settings.batch_size, free)
                    task = asyncio.create_task(self._process_batch(messages, full))
                    self._batches.add(task)
                    task.add_done_callback(self._batches.discard)
        finally:
            try:
                await self._drain()
            finally:
                heartbeat.cancel()
        log.info("worker_stopped", processed=self.processed)

    def _let_go(self, message: Message) -> None:
        self._held.pop(message.id, None)
        self._room.set()

    async def _wait_for_room(self) -> None:
        self._room.clear()
        room = asyncio.ensure_future(self._room.wait())
        stop = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({room, stop}, return_when=asyncio.FIRST_COMPLETED)
        room.cancel()
        stop.cancel()

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def _drain(self) -> None:
        await asyncio.gather(self._release_last_receive(), self._drain_batches())
        # The finished messages of cancelled batches are still being acked: before the queue closes.
        await self._acker.wait()

    async def _release_last_receive(self) -> None:
        receive, self._last_receive = self._last_receive, None
        if receive is None:
            return
        try:
            messages = await asyncio.wait_for(receive, self.settings.wait_seconds + 5)
            for m in messages:
                await self.queue.nack(m, 0)
        except Exception as exc:  # they reappear after their visibility timeout: late, never lost
            log.warning("release_failed", error=f"{type(exc).__name__}: {exc}")

    async def _drain_batches(self) -> None:
        if not self._batches:
            return
        log.info("worker_draining", batches=len(self._batches), drain_seconds=self.settings.drain_seconds)
        _, pending = await asyncio.wait(set(self._batches), timeout=self.settings.drain_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # -- one batch ---------------------------------------------------------------------------------
    async def _process_batch(self, messages: Sequence[Message], full: bool = False) -> None:
        # Messages of one group in a batch run one after another, in the order received; groups run in
        # parallel. A failure stops its group: later messages of it are released, never run out of order.
        try:
            await self._run_batch(messages, full)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Only the store or the queue failing gets here (each message's own faults are settled on it):
            # what was not acked reappears after its visibility timeout, so this is logged, never raised
            # into a task nobody awaits (a bare traceback).
            log.warning("batch_failed", messages=len(messages), error=_brief(exc))

    async def _run_batch(self, messages: Sequence[Message], full: bool = False) -> None:
        decoded = {m.id: self._decode(m) for m in messages}
        candidate_keys = [k for ev, keys in decoded.values() for k in keys]
        batch = _Batch(
            decoded={mid: ev for mid, (ev, _) in decoded.items()},
            done=set(),
            unsettled={m.id: m for m in messages},
            full=full,
        )
        groups: OrderedDict[str, list[Message]] = OrderedDict()
        for m in messages:
            groups.setdefault(m.group or f"msg:{m.id}", []).append(m)
        try:
            try:
                # One store round trip for the whole batch; the set also catches a duplicate inside it.
                batch.done = await self.dispatcher.context.store.existing_keys(candidate_keys)
            except Exception:
                # Nothing ran: the batch reappears after its visibility timeout.
                for m in messages:
                    self._let_go(m)
                raise
            ran = await asyncio.gather(
                *(self._process_group(g, batch) for g in groups.values()), return_exceptions=True
            )
            faults = [r for r in ran if isinstance(r, BaseException)]
            if faults:
                # A group that broke left its messages held: given back, or the heartbeat would hide them
                # for good. (Every other group finished on its own first.)
                await self._release_all(list(batch.unsettled.values()))
                raise faults[0]
        except asyncio.CancelledError:
            # Drain time ran out: give what has not finished back right away (what finished is acked).
            await asyncio.shield(self._release_all(list(batch.unsettled.values())))
            raise

    def _decode(self, message: Message) -> tuple[Event | Outcome, list[str]]:
        """The message's event (or the outcome that settles it alone) and the done keys to look up."""
        decoded = self.dispatcher.decode(message.body)
        if isinstance(decoded, Outcome):
            return decoded, []
        try:
            return decoded, self.dispatcher.done_keys(decoded)
        except Exception as exc:
            return self.dispatcher.undecodable(f"undecodable message: {_brief(exc)}"), []

    async def _heartbeat(self) -> None:
        interval = min(self.settings.heartbeat_seconds, self.visibility_timeout / 3)
        while True:
            await asyncio.sleep(interval)
            held = list(self._held.values())
            if not held:
                continue
            try:
                lost = await self.queue.extend_many(held, self.visibility_timeout)
            except Exception as exc:
                code = getattr(exc, "code", "") or type(exc).__name__
                log.warning("heartbeat_failed", messages=len(held), error=str(code))
                continue
            for m in lost:
                # Settled meanwhile, or its visibility lapsed and another worker has it: extending it again
                # cannot work, and its work here ends with a settle the queue refuses (it runs again there).
                log.warning("heartbeat_lost_message", message_id=m.id)
                self._held.pop(m.id, None)

    async def _process_group(self, group: list[Message], batch: _Batch) -> None:
        # Each message is settled as soon as it finishes, before the next of its group runs: the queue keeps
        # the group closed to everyone else while a later message of it is still held here, and a settle
        # that fails stops the group, so a redelivery never runs after its successor.
        for i, message in enumerate(group):
            async with self._slots:
                started = time.perf_counter()
                with backlog_of(batch.full or i < len(group) - 1):
                    outcome = await self._outcome(batch.decoded[message.id], batch)
                if outcome.event is not None:
                    label = metrics.event_type_label(outcome.event.type)
                    metrics.PROCESSING_SECONDS.labels(type=label).observe(time.perf_counter() - started)
            batch.unsettled.pop(message.id, None)
            try:
                settled = await self._settle(message, outcome)
            except Exception as exc:  # the queue failed: the message reappears after its visibility
                log.warning("settle_failed", message_id=message.id, error=_brief(exc))
                self._let_go(message)
                settled = False
            if not settled:
                later = group[i + 1 :]
                for m in later:
                    batch.unsettled.pop(m.id, None)
                await self._release_all(later)
                return

    async def _release_all(self, messages: Sequence[Message]) -> None:
        for m in messages:
            await self._release(m)

    async def _outcome(self, decoded: Event | Outcome, batch: _Batch) -> Outcome:
        if isinstance(decoded, Outcome):
            return decoded
        due = decoded.not_before
        if due is not None and due > time.time():
            return Outcome(
                "retry", reason="not due yet", defer=due - time.time(), event=decoded, waiting=True
            )
        try:
            return await self.dispatcher.dispatch(decoded, done=batch.done)
        except Exception as exc:
            # Connectors' own faults are outcomes already; this is the core failing on this one event, the
            # same way every time, so it is parked with the reason rather than retried.
            return Outcome("dead_letter", reason=f"dispatch failed: {_brief(exc)}", event=decoded)

    async def _release(self, message: Message) -> None:
        try:
            await self.queue.nack(message, 0)
        except Exception as exc:  # it reappears after its visibility timeout instead
            log.warning("release_failed", message_id=message.id, error=_brief(exc))
        finally:
            self._let_go(message)

    async def _settle(self, message: Message, outcome: Outcome) -> bool:
        """Apply the outcome; True when the group may go on (acked or dead-lettered). The message is let go
        (no longer held) once the queue has it back, or it is gone."""
        if outcome.action == "ack":
            return await self._ack(message, outcome)
        try:
            return await self._settle_failure(message, outcome)
        finally:
            self._let_go(message)

    async def _ack(self, message: Message, outcome: Outcome) -> bool:
        settling = self._acker.submit(message, outcome.ran)
        settling.add_done_callback(lambda _: self._let_go(message))
        # Shielded: a drain that cancels this group still lets the ack of finished work land.
        error = await asyncio.shield(settling)
        if error is not None:
            log.warning("settle_failed", message_id=message.id, error=_brief(error))
            return False
        self.processed += 1
        log.debug("event_acked", message_id=message.id, event_id=outcome.event and outcome.event.id)
        return True

    @staticmethod
    def _attempts(message: Message, event: Event | None) -> int:
        """Attempts so far, across the re-sends of a retry (the receive that found it not due is not one)."""
        if event is None:
            return message.receive_count
        return event.attempt + message.receive_count - (1 if event.not_before is not None else 0)

    async def _resend_retry(
        self, message: Message, event: Event, outcome: Outcome, delay: float, *, busy: bool = False
    ) -> None:
        """Re-send the event for the connectors that asked for a retry, in a group of their own, and settle
        this message: its group goes on for every other connector (a ``Retry(defer=...)`` on a lock held by a
        killed replica would otherwise hold the object's later events for all of them). ``busy``: the object
        was held by another worker, so this was a wait, not an attempt (the re-send resets the queue's own
        receive count too, which would otherwise dead-letter it without a reason)."""
        attempts = self._attempts(message, event)
        failed = sorted(outcome.failed)
        counted, waits = (attempts - 1, event.waits + 1) if busy else (attempts, event.waits)
        again = event.addressed_to(failed).model_copy(
            update={"attempt": max(0, counted), "waits": waits, "not_before": time.time() + delay}
        )
        lane = retry_lane(message.group or event.ordering_key, failed)
        dedupe = f"{event.dedupe_key}|retry:{attempts}.{waits}:{'+'.join(failed)}"
        await self.dispatcher.context.store.record_keys(outcome.ran, self.dispatcher.processed_ttl)
        await self.queue.send([(again.to_json(), lane, dedupe)])
        # Sent before the ack: a crash in between runs the event twice for the failed ones, never zero times.
        await self.queue.ack([message])

    async def _settle_failure(self, message: Message, outcome: Outcome) -> bool:
        reason = str(redact(outcome.reason))
        event = outcome.event
        if outcome.waiting and outcome.defer is not None:
            await self.queue.nack(message, outcome.defer)  # holds only its own retry group
            return False
        attempts = self._attempts(message, event)
        if (
            outcome.action == "retry"
            and outcome.busy
            and event is not None
            and event.waits < self.settings.retry.max_busy_waits
        ):
            pause = outcome.defer if outcome.defer is not None else self.settings.retry.base_delay
            log.info(
                "event_busy_resent",
                message_id=message.id,
                waits=event.waits + 1,
                delay=round(pause, 3),
                connectors=outcome.failed,
            )
            await self._resend_retry(message, event, outcome, pause, busy=True)
            return True
        if outcome.action == "retry" and outcome.busy and event is not None:
            reason = f"gave up after {event.waits} waits for another worker: {reason}"
        elif outcome.action == "retry" and attempts < self.settings.retry.max_attempts:
            delay = outcome.defer
            if delay is None:
                retry = self.settings.retry
                delay = backoff_delay(attempts, retry.base_delay, retry.max_delay)
            if event is not None and self.dispatcher.others(event, outcome.failed):
                log.info(
                    "event_retry_resent",
                    message_id=message.id,
                    attempt=attempts,
                    delay=round(delay, 3),
                    connectors=outcome.failed,
                )
                await self._resend_retry(message, event, outcome, delay)
                return True
            log.info("event_retry", message_id=message.id, attempt=attempts, delay=round(delay, 3))
            # The connectors that finished are recorded before the message can come back, so its next
            # attempt runs only the one that asked for the retry (not when the batch settles, which may be
            # after a short delay has already handed it out again).
            await self.dispatcher.context.store.record_keys(outcome.ran, self.dispatcher.processed_ttl)
            await self.queue.nack(message, delay)
            return False
        elif outcome.action == "retry":
            reason = f"gave up after {attempts} attempts: {reason}"
        log.warning(
            "event_dead_lettered", message_id=message.id, reason=reason, connectors=outcome.failed or None
        )
        # Addressed to the connectors that failed it: the others finished, and a replay must not run them.
        await self.dispatcher.context.store.record_keys(outcome.ran, self.dispatcher.processed_ttl)
        await self.queue.dead_letter(message, reason, body=outcome.dead_letter_body())
        await self._fail_job(outcome.event, reason)
        return True

    async def _fail_job(self, event: Event | None, reason: str) -> None:
        """An API job's event (``POST /conflicts/resolve``, ``POST /rollback``) carries its ``job_id``; once the
        event is dead-lettered nobody will finish the job, which would otherwise say "running" forever."""
        job_id = event.payload.get("job_id") if event is not None else None
        if not job_id:
            return
        try:
            await update_job(
                self.dispatcher.context.store, str(job_id), "failed", error=f"dead-lettered: {reason}"
            )
        except LookupError:
            return  # a job id the store does not know (the event was not made by a route)
        except Exception as exc:
            log.warning("job_update_failed", job_id=str(job_id), error=type(exc).__name__)


def retry_lane(group: str, failed: list[str]) -> str:
    """The queue group of a re-sent retry: the object's group with the failed connectors named once. A retry
    re-sent again keeps its lane (appended each time, a lock waited on 50 times made a group of 700 characters)."""
    base = group.split(RETRY_LANE, 1)[0]
    return f"{base}{RETRY_LANE}{'+'.join(failed)}"
