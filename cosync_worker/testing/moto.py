"""moto's server on loopback for SQS, DynamoDB, SNS and EventBridge, started once per test session."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

__all__ = ["moto_endpoint", "sqs_queue_urls"]

_DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_SESSION_TOKEN": "testing",
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a ``ThreadedMotoServer`` on 127.0.0.1 (dummy AWS credentials set for the session)."""
    from moto.server import ThreadedMotoServer

    from ..sandbox.stack import free_port

    saved = {k: os.environ.get(k) for k in _DUMMY_ENV}
    os.environ.update(_DUMMY_ENV)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
async def sqs_queue_urls(moto_endpoint: str) -> AsyncIterator[tuple[str, str]]:
    """A fresh FIFO queue and its DLQ (redrive after 5 receives) on moto's server: ``(queue_url, dlq_url)``."""
    from ..queue.sqs import ensure_queues

    yield await ensure_queues(
        f"cosync-{uuid.uuid4().hex[:12]}", endpoint_url=moto_endpoint, visibility_timeout=5
    )
