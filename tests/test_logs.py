"""Logging survives a caller that swaps ``sys.stderr`` for a while (click's test runner does, per command)."""

from __future__ import annotations

import io
import sys
from typing import Any

from cosync_worker.logs import configure_logging, get_logger


def test_lines_go_to_the_stderr_of_the_moment_not_the_one_at_configure_time(capsys: Any) -> None:
    swapped = io.StringIO()
    real, sys.stderr = sys.stderr, swapped
    try:
        configure_logging(fmt="json")
        get_logger("t").info("while_swapped")
    finally:
        sys.stderr = real
        swapped.close()  # what CliRunner does with its capture when the command returns
    get_logger("t").info("after_restore", token="hunter2")
    err = capsys.readouterr().err
    assert "after_restore" in err
    assert "hunter2" not in err  # still redacted
