"""The receive → dispatch → ack loop: bounded concurrency, per-key order, retries, DLQ, graceful drain."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import metrics
from ..config import WorkerSettings
from ..events import Event
from ..logs import get_logger, redact
from ..queue import Message, Queue
from ..relay.jobs import update_job
from .backoff import backoff_delay
from .dispatcher import Dispatcher, Outcome, shorten

__all__ = ["Worker"]


@dataclass
class _Batch:
    """The bookkeeping of one received batch."""

    decoded: dict[str, Event | Outcome]
    done: set[str]
    unsettled: dict[str, Message]
    acks: list[Message] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)

    def held(self) -> list[Message]:
        """Messages still invisible on our behalf: running, waiting to run, or done and waiting for the
        batch's one ack call. A done message whose visibility lapsed would be delivered again before its key
        is recorded, and run twice (and out of order with its group's next message)."""
        return [*self.unsettled.values(), *self.acks]


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
        self._batches: dict[asyncio.Task[None], int] = {}
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

    async def run(self) -> None:
        log.info("worker_started", concurrency=self.settings.concurrency)
        try:
            while not self._stopping.is_set():
                free = self._max_held - sum(self._batches.values())
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
                    task = asyncio.create_task(self._process_batch(messages))
                    self._batches[task] = len(messages)
                    task.add_done_callback(self._forget_batch)
        finally:
            await self._drain()
        log.info("worker_stopped", processed=self.processed)

    def _forget_batch(self, task: asyncio.Task[None]) -> None:
        self._batches.pop(task, None)

    async def _wait_for_room(self) -> None:
        if self._batches:
            await asyncio.wait(self._batches, return_when=asyncio.FIRST_COMPLETED)

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def _drain(self) -> None:
        await asyncio.gather(self._release_last_receive(), self._drain_batches())

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
    async def _process_batch(self, messages: Sequence[Message]) -> None:
        # Messages of one group in a batch run one after another, in the order received; groups run in
        # parallel. A failure stops its group: later messages of it are released, never run out of order.
        try:
            await self._run_batch(messages)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Only the store or the queue failing gets here (each message's own faults are settled on it):
            # what was not acked reappears after its visibility timeout, so this is logged, never raised
            # into a task nobody awaits (a bare traceback).
            log.warning("batch_failed", messages=len(messages), error=_brief(exc))

    async def _run_batch(self, messages: Sequence[Message]) -> None:
        decoded = {m.id: self._decode(m) for m in messages}
        candidate_keys = [k for ev, keys in decoded.values() for k in keys]
        # One store round trip for the whole batch; the set also catches a duplicate inside this batch.
        done = await self.dispatcher.context.store.existing_keys(candidate_keys)
        groups: OrderedDict[str, list[Message]] = OrderedDict()
        for m in messages:
            groups.setdefault(m.group or f"msg:{m.id}", []).append(m)
        batch = _Batch(
            decoded={mid: ev for mid, (ev, _) in decoded.items()},
            done=done,
            unsettled={m.id: m for m in messages},
        )
        heartbeat = asyncio.create_task(self._heartbeat(batch))
        try:
            await asyncio.gather(*(self._process_group(g, batch) for g in groups.values()))
        except asyncio.CancelledError:
            # Drain time ran out: record what finished and give the rest back right away.
            await asyncio.shield(self._settle_batch(batch, release_unsettled=True))
            raise
        finally:
            heartbeat.cancel()
        await self._settle_batch(batch)

    def _decode(self, message: Message) -> tuple[Event | Outcome, list[str]]:
        """The message's event (or the outcome that settles it alone) and the done keys to look up."""
        decoded = self.dispatcher.decode(message.body)
        if isinstance(decoded, Outcome):
            return decoded, []
        try:
            return decoded, self.dispatcher.done_keys(decoded)
        except Exception as exc:
            return self.dispatcher.undecodable(f"undecodable message: {_brief(exc)}"), []

    async def _settle_batch(self, batch: _Batch, *, release_unsettled: bool = False) -> None:
        try:
            # Finished work is recorded before its message is acked: a crash in between means a redelivery
            # that the recorded keys turn into a no-op, never a lost event.
            await self.dispatcher.context.store.record_keys(batch.ran, self.dispatcher.processed_ttl)
            if batch.acks:
                await self.queue.ack(batch.acks)
            if release_unsettled:
                for m in batch.unsettled.values():
                    await self.queue.nack(m, 0)
        except Exception as exc:
            log.warning("settle_failed", error=f"{type(exc).__name__}: {exc}")
            if not release_unsettled:
                raise

    async def _heartbeat(self, batch: _Batch) -> None:
        interval = min(self.settings.heartbeat_seconds, self.visibility_timeout / 3)
        while True:
            await asyncio.sleep(interval)
            for m in batch.held():
                try:
                    await self.queue.extend(m, self.visibility_timeout)
                except Exception as exc:
                    log.warning("heartbeat_failed", message_id=m.id, error=type(exc).__name__)

    async def _process_group(self, group: list[Message], batch: _Batch) -> None:
        for i, message in enumerate(group):
            async with self._slots:
                started = time.perf_counter()
                outcome = await self._outcome(batch.decoded[message.id], batch)
                try:
                    settled = await self._settle(message, outcome, batch.acks)
                except Exception as exc:  # the queue failed: the message reappears after its visibility
                    log.warning("settle_failed", message_id=message.id, error=_brief(exc))
                    settled = False
                if outcome.event is not None:
                    label = metrics.event_type_label(outcome.event.type)
                    metrics.PROCESSING_SECONDS.labels(type=label).observe(time.perf_counter() - started)
            batch.unsettled.pop(message.id, None)
            if not settled:
                for later in group[i + 1 :]:
                    await self._release(later)
                    batch.unsettled.pop(later.id, None)
                return

    async def _outcome(self, decoded: Event | Outcome, batch: _Batch) -> Outcome:
        if isinstance(decoded, Outcome):
            return decoded
        try:
            outcome = await self.dispatcher.dispatch(decoded, done=batch.done)
        except Exception as exc:
            # Connectors' own faults are outcomes already; this is the core failing on this one event, the
            # same way every time, so it is parked with the reason rather than retried.
            return Outcome("dead_letter", reason=f"dispatch failed: {_brief(exc)}", event=decoded)
        batch.ran.extend(outcome.ran)
        return outcome

    async def _release(self, message: Message) -> None:
        try:
            await self.queue.nack(message, 0)
        except Exception as exc:  # it reappears after its visibility timeout instead
            log.warning("release_failed", message_id=message.id, error=_brief(exc))

    async def _settle(self, message: Message, outcome: Outcome, acks: list[Message]) -> bool:
        """Apply the outcome; True when the group may go on (acked or dead-lettered)."""
        if outcome.action == "ack":
            acks.append(message)
            self.processed += 1
            return True
        reason = str(redact(outcome.reason))
        if outcome.action == "retry" and message.receive_count < self.settings.retry.max_attempts:
            delay = outcome.defer
            if delay is None:
                retry = self.settings.retry
                delay = backoff_delay(message.receive_count, retry.base_delay, retry.max_delay)
            log.info(
                "event_retry", message_id=message.id, attempt=message.receive_count, delay=round(delay, 3)
            )
            # The connectors that finished are recorded before the message can come back, so its next
            # attempt runs only the one that asked for the retry (not when the batch settles, which may be
            # after a short delay has already handed it out again).
            await self.dispatcher.context.store.record_keys(outcome.ran, self.dispatcher.processed_ttl)
            await self.queue.nack(message, delay)
            return False
        if outcome.action == "retry":
            reason = f"gave up after {message.receive_count} attempts: {reason}"
        log.warning(
            "event_dead_lettered", message_id=message.id, reason=reason, connectors=outcome.failed or None
        )
        # Addressed to the connectors that failed it: the others finished, and a replay must not run them.
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
