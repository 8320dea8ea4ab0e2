"""Stores on both backends (SQLite file, DynamoDB table in moto's server): the store suite's fixtures; and
the AWS connector's test helpers (tests_aws), as tests/aws_rest reaches them."""

import sys
from pathlib import Path

from tests.store.conftest import MakeStore, aio_session, backend, clock, make_store

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "cosync_aws"))

__all__ = ["MakeStore", "aio_session", "backend", "clock", "make_store"]
