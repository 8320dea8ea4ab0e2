"""The receive → dispatch → ack loop: bounded concurrency, per-key order, retries, DLQ, graceful drain."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence

from .. import metrics
from ..config import WorkerSettings
from ..logs import get_logger, redact
from ..queue import Message, Queue
from .backoff import backoff_delay
from .dispatcher import Dispatcher, Outcome

__all__ = ["Worker"]

log = get_logger("cosync.worker")


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
        self.processed = 0

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        log.info("worker_started", concurrency=self.settings.concurrency)
        try:
            while not self._stopping.is_set():
                free = self.settings.concurrency - len(self._batches) * self.settings.batch_size
                if free <= 0:
                    await self._wait_for_room()
                    continue
                receive = asyncio.ensure_future(
                    self.queue.receive(min(self.settings.batch_size, free), self.settings.wait_seconds)
                )
                stop = asyncio.ensure_future(self._stopping.wait())
                done, _ = await asyncio.wait({receive, stop}, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                if receive not in done:
                    receive.cancel()
                    # A receive cut short may still have claimed messages: they become visible again after
                    # their visibility timeout, so cancelling loses nothing.
                    break
                try:
                    messages = receive.result()
                except Exception as exc:  # backend hiccup: back off, never die
                    log.warning("receive_failed", error=f"{type(exc).__name__}: {exc}")
                    await self._sleep_unless_stopping(1.0)
                    continue
                if messages:
                    task = asyncio.create_task(self._process_batch(messages))
                    self._batches.add(task)
                    task.add_done_callback(self._batches.discard)
        finally:
            await self._drain()
        log.info("worker_stopped", processed=self.processed)

    async def _wait_for_room(self) -> None:
        if self._batches:
            await asyncio.wait(self._batches, return_when=asyncio.FIRST_COMPLETED)

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def _drain(self) -> None:
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
        groups: OrderedDict[str, list[Message]] = OrderedDict()
        for m in messages:
            groups.setdefault(m.group or f"msg:{m.id}", []).append(m)
        acks: list[Message] = []
        unsettled = {m.id: m for m in messages}
        heartbeat = asyncio.create_task(self._heartbeat(unsettled))
        try:
            await asyncio.gather(*(self._process_group(g, acks, unsettled) for g in groups.values()))
        except asyncio.CancelledError:
            # Drain time ran out: give the unfinished messages back right away.
            await asyncio.shield(self._release(list(unsettled.values()), acks))
            raise
        finally:
            heartbeat.cancel()
        if acks:
            await self.queue.ack(acks)

    async def _release(self, unsettled: list[Message], acks: list[Message]) -> None:
        try:
            if acks:
                await self.queue.ack(acks)
            for m in unsettled:
                if m not in acks:
                    await self.queue.nack(m, 0)
        except Exception as exc:
            log.warning("release_failed", error=f"{type(exc).__name__}: {exc}")

    async def _heartbeat(self, unsettled: dict[str, Message]) -> None:
        interval = min(self.settings.heartbeat_seconds, self.visibility_timeout / 3)
        while True:
            await asyncio.sleep(interval)
            for m in list(unsettled.values()):
                try:
                    await self.queue.extend(m, self.visibility_timeout)
                except Exception as exc:
                    log.warning("heartbeat_failed", message_id=m.id, error=type(exc).__name__)

    async def _process_group(
        self, group: list[Message], acks: list[Message], unsettled: dict[str, Message]
    ) -> None:
        for i, message in enumerate(group):
            async with self._slots:
                started = time.perf_counter()
                outcome = await self.dispatcher.dispatch_body(message.body)
                settled = await self._settle(message, outcome, acks)
                if outcome.event is not None:
                    metrics.PROCESSING_SECONDS.labels(type=outcome.event.type).observe(
                        time.perf_counter() - started
                    )
            unsettled.pop(message.id, None)
            if not settled:
                for later in group[i + 1 :]:
                    await self.queue.nack(later, 0)
                    unsettled.pop(later.id, None)
                return

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
            await self.queue.nack(message, delay)
            return False
        if outcome.action == "retry":
            reason = f"gave up after {message.receive_count} attempts: {reason}"
        log.warning("event_dead_lettered", message_id=message.id, reason=reason)
        await self.queue.dead_letter(message, reason)
        return True
