"""`cdk synth` as docs/deploy.md spells it, by the CLI the project pins, with no AWS credentials at all."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import CDK_DIR, REPO

DOCS = REPO / "docs" / "deploy.md"
CLI = CDK_DIR / "node_modules" / ".bin" / "cdk"


def documented_synth() -> str:
    """The shell block right after the ``<!-- offline-synth -->`` marker of docs/deploy.md."""
    match = re.search(r"<!-- offline-synth -->\s*```(?:sh|bash)?\n(.*?)```", DOCS.read_text(), re.S)
    assert match, "docs/deploy.md has no <!-- offline-synth --> block"
    return match.group(1)


@pytest.mark.slow
def test_documented_cdk_synth_runs_offline_without_credentials(tmp_path: Path) -> None:
    if not CLI.exists():
        pytest.skip("the pinned CDK CLI is not installed: `make cdk-cli` (make test does it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_", "VIRTUAL_ENV"))}
    env.update(
        HOME=str(tmp_path),  # no ~/.aws, no ~/.cdk cache
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    script = documented_synth()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "Need to perform AWS calls" not in done.stderr
    assert (CDK_DIR / "cdk.out" / "cosync.template.json").exists()
