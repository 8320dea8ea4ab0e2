"""The AWS connector's end-to-end stack (tests_aws's fixtures) for the write-path tests that need it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(
    0, str(Path(__file__).resolve().parents[2] / "plugins" / "cosync_aws")
)  # as tests/aws_rep does
from tests_aws.conftest import odd_stack, stack

__all__ = ["odd_stack", "stack"]
