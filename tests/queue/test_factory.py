"""``create_queue``: the right backend by name, and clear errors for bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from cosync_worker.queue import Queue
from cosync_worker.queue.factory import create_queue
from cosync_worker.queue.local import LocalQueue
from cosync_worker.queue.sqs import SqsQueue


async def test_local_kind_builds_a_working_local_queue(tmp_path: Path) -> None:
    queue = create_queue("local", path=tmp_path / "q.db", visibility_timeout=2, max_receives=3)
    assert isinstance(queue, LocalQueue) and isinstance(queue, Queue)
    assert (queue.visibility_timeout, queue.max_receives) == (2, 3)
    await queue.open()
    try:
        await queue.send([("x", None, None)])
        assert await queue.depth() == 1
    finally:
        await queue.close()


def test_sqs_kind_builds_an_sqs_queue() -> None:
    queue = create_queue(
        "sqs", queue_url="http://127.0.0.1:1/123/q.fifo", dlq_url="http://127.0.0.1:1/123/d.fifo"
    )
    assert isinstance(queue, SqsQueue)
    assert queue.fifo and queue.dlq_url == "http://127.0.0.1:1/123/d.fifo"


@pytest.mark.parametrize(
    ("kind", "settings", "message"),
    [
        ("kafka", {}, "queue kind 'kafka' is not one of local, sqs"),
        ("local", {}, "setting 'path' is required"),
        ("sqs", {"queue_url": ""}, "setting 'queue_url' is required"),
        ("local", {"path": "q.db", "visiblity_timeout": 3}, "unknown setting\\(s\\) visiblity_timeout"),
    ],
)
def test_bad_settings_name_the_problem(kind: str, settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_queue(kind, **settings)  # type: ignore[arg-type]
