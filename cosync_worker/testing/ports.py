"""A loopback port where nothing answers, for tests of an unreachable endpoint."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

__all__ = ["refused_port"]


@contextlib.contextmanager
def refused_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port on ``host`` that refuses every connection while the block runs: bound, never listening, so no
    other process can take it. A port found free and released could be bound meanwhile by a parallel test
    (pytest-xdist), and the "unreachable" endpoint would answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        yield int(sock.getsockname()[1])
