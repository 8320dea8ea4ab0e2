"""moto's server on loopback for SQS, DynamoDB, SNS and EventBridge, started once per test session."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

__all__ = ["moto_endpoint", "serialized_moto_endpoint", "sqs_queue_urls"]

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

    saved = {k: os.environ.get(k) for k in _DUMMY_ENV}
    os.environ.update(_DUMMY_ENV)
    # Port 0: the server binds a port the kernel picks. A port found free and then released could be taken by
    # a parallel test (pytest-xdist) before moto binds it.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.get_host_and_port()[1]}"
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


class _OneRequestAtATime:
    """WSGI middleware: moto's DynamoDB checks a ConditionExpression and then writes without a lock, so two
    concurrent requests on its threaded server can both pass the same condition. Real DynamoDB makes every
    conditional write atomic; serialising requests restores that guarantee for multi-process tests."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


@pytest.fixture(scope="session")
def serialized_moto_endpoint(moto_endpoint: str) -> Iterator[str]:
    """A second moto server that handles one request at a time: for DynamoDB shared by several processes
    (see :class:`_OneRequestAtATime`). Not for SQS: one long poll would hold up every other request.

    Depends on ``moto_endpoint`` only for its dummy AWS credentials in the environment."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = _OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
