"""``QueueUnavailable`` (never a raw driver error) when the backend is gone, on both backends."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cosync_worker.queue import Message, Queue, QueueUnavailable
from cosync_worker.queue.local import LocalQueue
from cosync_worker.queue.sqs import SqsQueue
from cosync_worker.testing.ports import refused_port

_STRAY = Message(id="m", body="x", receipt="r", receive_count=1, group="g")


@pytest.fixture(params=["local", "sqs"])
async def gone(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Queue]:
    """A queue whose backend cannot be reached: a path in a missing directory, or SQS on a closed port."""
    if request.param == "local":
        yield LocalQueue(tmp_path / "missing-dir" / "queue.db")
        return
    request.getfixturevalue("moto_endpoint")  # only for the dummy credentials it sets
    with refused_port() as port:
        endpoint = f"http://127.0.0.1:{port}"
        queue = SqsQueue(f"{endpoint}/123456789012/nowhere.fifo", endpoint_url=endpoint, max_attempts=1)
        await queue.open()
        yield queue
        await queue.close()


async def test_backend_gone_raises_queue_unavailable(gone: Queue) -> None:
    if isinstance(gone, LocalQueue):
        with pytest.raises(QueueUnavailable, match="missing-dir"):
            await gone.open()
    started = time.monotonic()
    with pytest.raises(QueueUnavailable):
        await gone.ping()
    with pytest.raises(QueueUnavailable):
        await gone.send([("x", "g", "d")])
    with pytest.raises(QueueUnavailable):
        await gone.receive(1, wait_seconds=0)
    with pytest.raises(QueueUnavailable):
        await gone.ack([_STRAY])
    # Fails fast enough for a readiness probe, not after minutes of retries.
    assert time.monotonic() - started < 10


async def test_local_queue_used_before_open_names_the_problem(tmp_path: Path) -> None:
    queue = LocalQueue(tmp_path / "q.db")
    with pytest.raises(QueueUnavailable, match="not open"):
        await queue.ping()


async def test_local_queue_on_a_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(QueueUnavailable, match=str(tmp_path)):
        await LocalQueue(tmp_path).open()


async def test_sqs_missing_queue_is_unavailable(moto_endpoint: str) -> None:
    url = f"{moto_endpoint}/123456789012/never-created.fifo"
    queue = SqsQueue(url, endpoint_url=moto_endpoint)
    await queue.open()
    try:
        with pytest.raises(QueueUnavailable, match="never-created"):
            await queue.ping()
        with pytest.raises(QueueUnavailable):
            await queue.send([("x", "g", "d")])
    finally:
        await queue.close()


async def test_sqs_dead_letter_without_dlq_names_the_setting(moto_endpoint: str) -> None:
    queue = SqsQueue(f"{moto_endpoint}/123456789012/q.fifo", endpoint_url=moto_endpoint)
    with pytest.raises(QueueUnavailable, match="dlq_url"):
        await queue.dead_letter(_STRAY, "reason")
