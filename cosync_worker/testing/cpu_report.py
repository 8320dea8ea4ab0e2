"""Where the suite's CPU goes: ``COSYNC_CPU_REPORT=1 pytest ...`` prints the 30 costliest tests and files.

Each test is charged the CPU its process spent from its setup to its teardown (``time.process_time``) plus
that of the child processes reaped meanwhile (``RUSAGE_CHILDREN``: a child counts only once waited for, so a
session-scoped server's CPU lands on the test whose teardown stops it). A module or session fixture is
charged to the test that first needs it. ``COSYNC_CPU_REPORT=<path>`` also appends one JSON line per test to
that file, which is how an xdist run (whose workers print nothing) or several runs are added up.

Off unless the variable is set. ``tests/conftest.py`` registers it; elsewhere ``-p
cosync_worker.testing.cpu_report``.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections import defaultdict
from collections.abc import Generator
from dataclasses import dataclass, field

import pytest

__all__ = ["CpuReport", "register"]

_ENV = "COSYNC_CPU_REPORT"
_TOP = 30


def _children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuReport:
    path: str | None
    costs: dict[str, tuple[float, float]] = field(default_factory=dict)  # nodeid -> (own, children)
    started: tuple[float, float] = field(default_factory=lambda: (time.process_time(), _children()))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        own, children = time.process_time(), _children()
        yield
        cost = (time.process_time() - own, _children() - children)
        self.costs[item.nodeid] = cost
        if self.path:
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"test": item.nodeid, "own": cost[0], "children": cost[1]}) + "\n")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        write = terminalreporter.write_line
        own_total = sum(c[0] for c in self.costs.values())
        children_total = sum(c[1] for c in self.costs.values())
        whole = time.process_time() - self.started[0] + _children() - self.started[1]
        terminalreporter.section("CPU seconds (own + reaped children)")
        write(
            f"tests: {own_total + children_total:.1f} s ({own_total:.1f} own, {children_total:.1f} children); "
            f"the whole session (collection included): {whole:.1f} s"
        )
        files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for nodeid, (own, children) in self.costs.items():
            row = files[nodeid.split("::", 1)[0]]
            row[0] += own
            row[1] += children
        write(f"top {_TOP} files:  total    own  children")
        for name, (own, children) in sorted(files.items(), key=lambda kv: -sum(kv[1]))[:_TOP]:
            write(f"  {own + children:8.1f} {own:6.1f} {children:9.1f}  {name}")
        write(f"top {_TOP} tests:  total    own  children")
        for nodeid, (own, children) in sorted(self.costs.items(), key=lambda kv: -sum(kv[1]))[:_TOP]:
            write(f"  {own + children:8.1f} {own:6.1f} {children:9.1f}  {nodeid}")


def register(config: pytest.Config) -> None:
    """Register the report once when ``COSYNC_CPU_REPORT`` is set (``1``, or a file to append to)."""
    value = os.environ.get(_ENV, "")
    if not value or value == "0" or config.pluginmanager.has_plugin(_ENV):
        return
    config.pluginmanager.register(CpuReport(None if value == "1" else value), _ENV)


def pytest_configure(config: pytest.Config) -> None:
    register(config)
