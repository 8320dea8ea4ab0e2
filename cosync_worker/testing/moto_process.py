"""moto's server in a process of its own: ``python -m cosync_worker.testing.moto_process [--port P] [--serialized]``.

The in-process ``ThreadedMotoServer`` shares the test process's interpreter lock with the emulators and the
relay. For most tests that is fine; under the fault suite's load (three replicas polling SQS and drawing on
DynamoDB while the relay takes thousands of webhooks) moto and the emulators starve each other and the run
measures that contention, not cosync. A separate process gives moto its own interpreter.

Two of moto's SQS costs are trimmed here, both invisible to a client (see :func:`_trim_sqs_costs`).

``--serialized`` answers one request at a time (see :class:`cosync_worker.testing.moto._OneRequestAtATime`):
for DynamoDB shared by several processes, never for SQS (a long poll would hold up every other request).
Without ``--port`` (or with 0) it binds a port the kernel picks and prints it in its first line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

__all__ = ["moto_process"]

_READY_TIMEOUT = 60.0
_LISTENING = "moto listening on 127.0.0.1:"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--serialized", action="store_true")
    args = parser.parse_args(argv)
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from .moto import _OneRequestAtATime

    _trim_sqs_costs()
    # werkzeug formats a log line per request: a tenth of the server's time under load, read by nobody.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = DomainDispatcherApplication(create_backend_app)
    served = _OneRequestAtATime(app) if args.serialized else app
    server = make_server("127.0.0.1", args.port, served, threaded=True, request_handler=MotoRequestHandler)
    # shutdown() from the serving thread would wait for itself: leave serve_forever by an exception instead.
    signal.signal(signal.SIGTERM, _leave)
    parent = os.getppid()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    print(f"{_LISTENING}{server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def _leave(*_: object) -> None:
    raise KeyboardInterrupt


def _exit_with_parent(parent: int) -> None:
    """A test run killed outright cannot stop its servers: they go when they notice they were orphaned."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _trim_sqs_costs() -> None:
    """Three of moto's SQS costs, none visible to a client. It reads the clock through two datetime
    constructions and an import per call, several times per message; it recomputes a queue's approximate
    counts (a scan of every message) several times per message sent and per message received; and a long
    poll on a FIFO queue whose visible messages all belong to groups in flight spins instead of waiting.
    With thousands of messages queued that is seconds of CPU per batch. Here the clock is ``time.time()``,
    the counts are kept for a second (AWS documents them as approximate and eventually consistent:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/confirm-queue-is-empty.html)
    and a long poll re-checks every 50 ms or as soon as a message arrives."""
    import moto.sqs.models as sqs_models
    from moto.sqs.models import Queue

    slow_unix_time = sqs_models.unix_time

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else float(slow_unix_time(dt))

    sqs_models.unix_time = unix_time
    sqs_models.unix_time_millis = lambda dt=None: unix_time(dt) * 1000.0
    for name in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_not_visible",
        "approximate_number_of_messages_delayed",
    ):
        setattr(Queue, name, property(_kept_for(1.0, name, getattr(Queue, name).fget)))

    def wait_for_messages(self: Queue, timeout: int) -> None:
        with self._messages_lock:
            self._messages_lock.wait(min(timeout, 0.05))

    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]


def _kept_for(seconds: float, name: str, compute: Callable[[Any], int]) -> Callable[[Any], int]:
    def get(queue: Any) -> int:
        kept: dict[str, tuple[float, int]] = queue.__dict__.setdefault("_cosync_kept_counts", {})
        now = time.monotonic()
        hit = kept.get(name)
        if hit is None or now - hit[0] > seconds:
            hit = kept[name] = (now, compute(queue))
        return hit[1]

    return get


@contextlib.asynccontextmanager
async def moto_process(*, serialized: bool = False) -> AsyncIterator[str]:
    """Start moto's server in a child process on a loopback port it binds itself (a port found free here and
    released could be taken by a parallel test before the child binds it); yields its URL once it answers."""
    cmd = [sys.executable, "-m", "cosync_worker.testing.moto_process"]
    if serialized:
        cmd.append("--serialized")
    proc = await asyncio.create_subprocess_exec(
        *cmd, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        url = await _listening_url(proc)
        await _wait_ready(url, proc)
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _listening_url(proc: asyncio.subprocess.Process) -> str:
    """The URL in the child's first line (the only one it prints)."""
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), _READY_TIMEOUT)).decode()
    except TimeoutError:
        raise RuntimeError(f"moto server printed no port within {_READY_TIMEOUT:.0f}s") from None
    if not line.startswith(_LISTENING):
        raise RuntimeError(f"moto server exited with {await proc.wait()} before listening")
    return f"http://127.0.0.1:{int(line[len(_LISTENING) :])}"


async def _wait_ready(url: str, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"moto server exited with {proc.returncode} before answering")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{url}/moto-api/"):
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"moto server at {url} did not answer within {_READY_TIMEOUT:.0f}s")


if __name__ == "__main__":
    main()
