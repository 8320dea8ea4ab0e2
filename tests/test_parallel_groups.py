"""The parallel run's groups (tests/conftest.py): the scheduler `make test` gets really groups by path, and
every path the table names still exists (a renamed file would silently fall out of its group)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from cosync_worker.testing.ports import refused_port

from .conftest import GROUPS, LONGEST, pytest_xdist_make_scheduler

ROOT = Path(__file__).resolve().parents[1]


class _LoadGroupConfig:
    """What xdist's scheduler reads of the config for `-n 3 --dist loadgroup`."""

    def getvalue(self, name: str) -> Any:
        return {"dist": "loadgroup", "tx": ["3*popen"]}[name]


def test_the_scheduler_puts_each_group_on_one_worker_by_path() -> None:
    pytest.importorskip("xdist")
    sched = pytest_xdist_make_scheduler(_LoadGroupConfig(), None)  # type: ignore[arg-type]
    scope = sched._split_scope
    assert scope("tests/faults/test_sqlite.py::test_a") == scope("tests/faults/test_sqs_dynamodb.py::test_b")
    assert scope("tests/infra/test_cdk_stack.py::t") == scope("tests/infra/test_operations.py::t[x]")
    assert scope("tests/config/test_config.py::t1") != scope("tests/config/test_config.py::t2")
    # xdist's own mark, once it reaches the node id again (pytest-xdist#1386), still groups
    assert scope("tests/a.py::t@g") == scope("tests/b.py::u@g") == "g"


def test_every_path_the_tables_name_exists() -> None:
    for prefix in [*GROUPS, *LONGEST]:
        path = prefix.split("::", 1)[0]
        assert (ROOT / path).exists(), prefix


def test_a_refused_port_refuses_and_cannot_be_taken_meanwhile() -> None:
    with refused_port() as port:
        with socket.socket() as client, pytest.raises(ConnectionRefusedError):
            client.connect(("127.0.0.1", port))
        with socket.socket() as other, pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", port))
