#!/usr/bin/env python3
"""``cdk synth`` / ``cdk deploy`` entry point: settings from the ``cosync`` context (or ``-c cosync_file=...``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aws_cdk import App
from cosync_infra.settings import SettingsError, load_settings
from cosync_infra.stack import build_app


def main() -> None:
    app = App()
    context = app.node.try_get_context("cosync")
    if context is None:
        # Run as plain `python app.py` (not through the cdk CLI): read the context from cdk.json ourselves.
        context = json.loads((Path(__file__).parent / "cdk.json").read_text())["context"].get("cosync")
    try:
        settings = load_settings(context, app.node.try_get_context("cosync_file"))
    except SettingsError as exc:
        sys.exit(str(exc))
    build_app(settings, app)
    app.synth()


if __name__ == "__main__":
    main()
