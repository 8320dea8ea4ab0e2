"""Synthesize the CDK app once per session; every test reads the same template.

The CDK app lives in infra/cdk (run by `cdk` from that folder), so its package is put on sys.path here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

CDK_DIR = Path(__file__).resolve().parents[2] / "infra" / "cdk"
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
if str(CDK_DIR) not in sys.path:
    sys.path.insert(0, str(CDK_DIR))

pytest.importorskip("aws_cdk", reason="aws-cdk-lib is not installed")


def example_settings() -> dict[str, Any]:
    """The settings checked into cdk.json, so the tests cover what `cdk synth` synthesizes."""
    return json.loads((CDK_DIR / "cdk.json").read_text())["context"]["cosync"]


@pytest.fixture(scope="session")
def synthesized() -> Any:
    from aws_cdk import App
    from cosync_infra import build_app, load_settings

    app = build_app(load_settings(example_settings()), App())
    app.synth()
    return app


@pytest.fixture(scope="session")
def stack(synthesized: Any) -> Any:
    return synthesized.node.find_child("cosync")


@pytest.fixture(scope="session")
def template(stack: Any) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_stack(stack)
