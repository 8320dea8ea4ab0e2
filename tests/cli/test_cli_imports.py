"""The CLI imports a command's dependencies when that command runs: ``--help``, ``--version`` and a mistyped
command answer without importing the configuration models, the plugin manager or asyncio (about 0.6
CPU-seconds a process, paid hundreds of times by the suite)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cosync_worker import __version__

from .helpers import ROOT

HEAVY = ("aiohttp", "aiobotocore", "asyncio", "boto3", "botocore", "pluggy", "pydantic", "rich", "structlog")

# Runs the CLI as `python -m cosync_worker ARGS` does, then prints the heavy packages it imported on exit.
_PROBE = """
import atexit, json, sys
heavy = {heavy!r}
atexit.register(lambda: print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))), file=sys.stderr))
from cosync_worker.cli import main
main({args!r}, prog_name="cosync")
"""


def _probe(*args: str) -> tuple[int, str, list[str]]:
    code = _PROBE.format(heavy=HEAVY, args=list(args))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    *_, imported = done.stderr.strip().splitlines()
    return done.returncode, done.stdout, json.loads(imported)


@pytest.mark.parametrize(
    ("args", "expected_code", "expected_out"),
    [
        (("--version",), 0, f"cosync {__version__}"),
        (("--help",), 0, "dlq"),
        (("dlq", "--help"), 0, "replay"),
        (("config", "--help"), 0, "check"),
        (("nosuch",), 2, ""),
    ],
)
def test_help_version_and_a_mistyped_command_import_nothing_heavy(
    args: tuple[str, ...], expected_code: int, expected_out: str
) -> None:
    code, out, imported = _probe(*args)
    assert code == expected_code
    assert expected_out in out
    assert imported == []


def test_a_command_still_gets_what_it_needs() -> None:
    code, out, imported = _probe("plugins", "--json")
    assert code == 0
    assert any(json.loads(line)["connector"] == "aws" for line in out.splitlines())
    assert {"pluggy", "pydantic", "structlog"} <= set(imported)


@pytest.mark.parametrize(
    "command",
    [
        ("run", "--no-relay"),
        ("config", "check"),
        ("plugins",),
        ("dlq", "list"),
        ("status",),
        ("properties", "create"),
        ("sync", "some_loop", "--once"),
    ],
)
def test_a_refused_configuration_exits_before_the_command_imports_what_it_runs(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("hubspot:\n\taccess_token: x\n")
    code, _, imported = _probe(*command, "-c", str(bad))
    assert code == 2
    # the configuration's models and its secret resolution, nothing a command runs with
    assert set(imported) <= {"asyncio", "pydantic"}
