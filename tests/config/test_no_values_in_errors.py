"""No configuration error message prints a configuration value (issue 15: a value can be a secret)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cosync_worker.cli import main

SECRET = "s3cr3t-Value-42"

BAD = f"""
connectors:
  gcp:
    base_url: "ftp://user:{SECRET}@host"
    service_account_json: "{{}}"
    stage_map:
      closedwon: "lower-{SECRET}"
  microsoft:
    base_url: "http://user:{SECRET}@example.com"
notify:
  channels:
    sns:
      topic_arn: "arn:{SECRET}"
"""


def test_connector_and_channel_validation_errors_never_print_the_value(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(BAD)
    result = CliRunner().invoke(main, ["config", "check", "-c", str(config)])
    assert result.exit_code != 0
    out = result.output
    assert "connectors.gcp.base_url" in out
    assert "connectors.microsoft.base_url" in out
    assert "connectors.gcp.stage_map" in out
    assert SECRET not in out
