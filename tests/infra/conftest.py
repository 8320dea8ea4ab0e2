"""Synthesize the CDK app once per session; every test reads the same template.

The CDK app lives in infra/cdk (run by `cdk` from that folder), so its package is put on sys.path here.
aws-cdk-lib is a jsii library: importing it starts a `node` process, so without `node` on PATH (or in
JSII_NODE) these tests are skipped with that reason instead of erroring at collection.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CDK_DIR = REPO / "infra" / "cdk"
DOCKERFILE = REPO / "Dockerfile"
IMAGE_CONFIG = REPO / "config.yaml"  # what the Dockerfile copies to /app/config.yaml
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
if str(CDK_DIR) not in sys.path:
    sys.path.insert(0, str(CDK_DIR))


@pytest.fixture(scope="session", autouse=True)
def cdk_available() -> None:
    """Skip every test here, with the reason, where the CDK cannot run; a fixture rather than a module-level
    skip, which pytest reports as an error when this folder is named on the command line."""
    node = os.environ.get("JSII_NODE", "node")  # what jsii runs
    if shutil.which(node) is None:
        pytest.skip(f"the infra tests need Node.js: aws-cdk-lib (jsii) runs {node!r}, which is not on PATH")
    pytest.importorskip("aws_cdk", reason="aws-cdk-lib is not installed")


def image_plugins() -> set[str]:
    """The connector packages the Dockerfile installs (``plugins/cosync_<name>``), by connector name."""
    return set(re.findall(r"plugins/cosync_([a-z0-9_]+)", DOCKERFILE.read_text()))


def image_plugin_manager(settings: Any) -> Any:
    """The plugins ``cosync`` loads in the image: the dev venv has every package under plugins/ installed,
    the image only the Dockerfile's, so entry-point connectors outside that list are dropped."""
    from cosync_worker.hooks import PluginManager

    plugins = PluginManager().load(settings)
    for name, _ in list(plugins.list_name_plugin()):
        entry_point = "." not in name and not name.startswith("cosync_")
        if entry_point and name not in image_plugins():
            plugins.unregister(name=name)
    return plugins


def cdk_context() -> dict[str, Any]:
    """cdk.json's context: the settings and the feature flags `cdk synth` runs the app with."""
    context: dict[str, Any] = json.loads((CDK_DIR / "cdk.json").read_text())["context"]
    return context


def example_settings() -> dict[str, Any]:
    """The settings checked into cdk.json, so the tests cover what `cdk synth` synthesizes."""
    settings: dict[str, Any] = cdk_context()["cosync"]
    return settings


def cdk_app() -> Any:
    """An App with cdk.json's feature flags, as the cdk CLI builds it."""
    from aws_cdk import App

    return App(context={k: v for k, v in cdk_context().items() if k != "cosync"})


@pytest.fixture(scope="session")
def synthesized() -> Any:
    from cosync_infra import build_app, load_settings

    app = build_app(load_settings(example_settings()), cdk_app())
    app.synth()
    return app


@pytest.fixture(scope="session")
def stack(synthesized: Any) -> Any:
    return synthesized.node.find_child("cosync")


@pytest.fixture(scope="session")
def template(stack: Any) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_stack(stack)
