"""Settings for worker tests on both queue backends: the local SQLite default and SQS on moto's server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cosync_worker.config import Settings


def make_settings(
    tmp_path: Path, backend: str, sqs: Any = None, recorder: dict[str, Any] | None = None, **worker: Any
) -> Settings:
    queue: dict[str, Any] = {"kind": "local", "path": str(tmp_path / "queue.db"), "visibility_timeout": 5}
    if backend == "sqs":
        queue_url, dlq_url, endpoint = sqs
        queue = {
            "kind": "sqs",
            "queue_url": queue_url,
            "dlq_url": dlq_url,
            "endpoint_url": endpoint,
            "visibility_timeout": 5,
        }
    return Settings.model_validate(
        {
            "queue": queue,
            "store": {"kind": "sqlite", "path": str(tmp_path / "state.db")},
            "worker": {"concurrency": 16, "wait_seconds": 1, "drain_seconds": 10, **worker}
            | {"retry": {"max_attempts": 3, "base_delay": 0.05, "max_delay": 0.2, **worker.get("retry", {})}},
            "relay": {"enabled": False},
            "plugin_modules": ["tests.support.recorder"],
            "load_entry_points": False,
            "connectors": {"recorder": recorder or {}},
        }
    )


@pytest.fixture(params=["local", "sqs"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings_for(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Any:
    sqs = None
    if backend == "sqs":
        endpoint = request.getfixturevalue("moto_endpoint")
        urls = request.getfixturevalue("sqs_queue_urls")
        sqs = (urls[0], urls[1], endpoint)

    def build(recorder: dict[str, Any] | None = None, **worker: Any) -> Settings:
        return make_settings(tmp_path, backend, sqs, recorder, **worker)

    return build
