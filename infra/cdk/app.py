#!/usr/bin/env python3
"""``cdk synth`` / ``cdk deploy`` entry point: settings from the ``cosync`` context (or ``-c cosync_file=...``)."""

from __future__ import annotations

import sys

from aws_cdk import App
from cosync_infra.settings import SettingsError, load_settings
from cosync_infra.stack import build_app


def main() -> None:
    app = App()
    try:
        settings = load_settings(app.node.try_get_context("cosync"), app.node.try_get_context("cosync_file"))
    except SettingsError as exc:
        sys.exit(str(exc))
    build_app(settings, app)
    app.synth()


if __name__ == "__main__":
    main()
