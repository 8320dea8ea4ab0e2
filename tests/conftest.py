"""How `make test` shares the suite between pytest-xdist workers (`-n 3 --dist loadgroup`).

The suite is bound by waiting (scaled quotas, convergence waits, child processes), so three workers on two
cores finish sooner than one. Some tests must share a worker, one after another:

* the two fault suites each start a fleet of processes and load the machine for minutes; side by side on a
  busy 2-core machine they would measure each other;
* a module whose last test checks what its other tests recorded (every HubSpot route the emulator serves
  was validated against the spec): spread over workers, the worker that runs it saw only part of them;
* module- and session-scoped fixtures are built once per worker: the CDK synth (node, CPU-bound) and the
  console's running system with its browser would otherwise be built again on every worker given one test.

xdist's own ``xdist_group`` marks do nothing on pytest 9.2 (xdist 3.8 writes the group into a node id field
pytest no longer reads: https://github.com/pytest-dev/pytest-xdist/issues/1386), so the groups are decided
here, from each test's path, by the scheduler itself. The longest tests are handed out first, so they start
at once instead of ending the run on one worker while the others sit idle. A serial run is unaffected.
"""

from __future__ import annotations

from typing import Any

import pytest

from cosync_worker.testing.cpu_report import register as register_cpu_report

# Path prefixes (from the rootdir) of tests that run on one worker, one after another.
GROUPS = {
    "tests/faults/": "faults",
    "tests/sandbox/test_hubspot_emulator.py": "hubspot-spec-coverage",
    "tests/console/test_console.py": "console-browser",
    "tests/infra/test_cdk_stack.py": "cdk-synth",
    "tests/infra/test_operations.py": "cdk-synth",
    "tests/infra/test_task_environment.py": "cdk-synth",
}

# Tests of half a minute or more on a busy machine (`--durations` of `make test`), longest first. Only an
# order: a stale entry costs a little idle time at the end of a run, never a failure.
LONGEST = (
    "tests/linking/test_first_day.py::test_link_then_backfill_a_populated_portal_killed_and_resumed",
    "plugins/cosync_aws/tests_aws/test_write_budget.py::test_burst_of_300_changes",
    "tests/infra/test_runtime_wheels.py::",
    "tests/demo/test_demo.py::",
    "tests/docs/test_writing_a_connector.py::",
    "tests/infra/test_cdk_cli.py::",
    "tests/linking/test_sync_deal_and_budget.py::test_a_plan_over_the_days_quota",
)


def group_of(nodeid: str) -> str | None:
    path = nodeid.split("::", 1)[0]
    return next((group for prefix, group in GROUPS.items() if path.startswith(prefix)), None)


def _rank(item: pytest.Item) -> int:
    hits = [i for i, prefix in enumerate(LONGEST) if item.nodeid.startswith(prefix)]
    return hits[0] if hits else len(LONGEST)


def pytest_configure(config: pytest.Config) -> None:
    register_cpu_report(config)  # COSYNC_CPU_REPORT=1: where the suite's CPU goes


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, the long tests first (every worker sorts alike, as xdist requires). xdist then
    hands out the groups first, largest first, and the single tests in this order."""
    if hasattr(config, "workerinput"):
        items.sort(key=_rank)  # stable: the rest keep their collection order


@pytest.hookimpl(optionalhook=True)  # a hook only where xdist is installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class PathGroupScheduling(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid) or super()._split_scope(nodeid)

    return PathGroupScheduling(config, log)
