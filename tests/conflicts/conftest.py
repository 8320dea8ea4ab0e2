"""The store contract's fixtures (SQLite on a tmp file, DynamoDB in moto's server), reused so the conflict
book is proven on both backends, and the relay factory for the routes."""

from __future__ import annotations

from tests.relay.conftest import make_relay
from tests.store.conftest import aio_session, backend, clock, make_store, store

__all__ = ["aio_session", "backend", "clock", "make_relay", "make_store", "store"]
