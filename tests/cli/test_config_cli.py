"""``cosync config check`` and ``cosync run`` report the same problems, by YAML path, never a value."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import cli

SECRET = "pat-na1-0f9e8d7c-super-secret"


async def _both(tmp_path: Path, env: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    return [
        await cli(tmp_path, "config", "check", "-c", "config.yaml", env=env),
        await cli(tmp_path, "run", "--no-relay", "-c", "config.yaml", env=env),
    ]


@pytest.mark.parametrize(
    ("content", "where"),
    [
        # an escape YAML does not know, inside the quoted token
        (f'hubspot:\n  access_token: "{SECRET}\\q"\n', "found unknown escape character at line 2, column"),
        # a flow mapping never closed: PyYAML's message would quote the line holding the token
        (f"hubspot: {{access_token: {SECRET}\n", "at line 2, column 1"),
        # an alias named after the value
        (f"hubspot:\n  access_token: *{SECRET}\n", "found undefined alias at line 2, column 17"),
        # a tab where indentation was expected
        (f"hubspot:\n\taccess_token: {SECRET}\n", "at line 2, column 1"),
    ],
)
async def test_a_yaml_syntax_error_names_its_position_never_the_text(
    tmp_path: Path, content: str, where: str
) -> None:
    (tmp_path / "config.yaml").write_text(content)
    for code, out, err in await _both(tmp_path):
        assert code == 2, err
        assert "config error: config.yaml: not valid YAML: " in err
        assert where in err
        assert "super-secret" not in out + err
        assert "Traceback" not in err


async def test_an_unset_secret_reference_is_refused_by_check_and_run_alike(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "hubspot:\n"
        "  access_token: env:NOT_SET\n"
        "  client_secret: env:COSYNC_TEST_CLIENT_SECRET\n"
        "relay:\n"
        "  api_tokens: [env:COSYNC_TEST_CLIENT_SECRET, file:/nonexistent/token]\n"
        "connectors:\n"
        "  aws:\n"
        "    endpoint_url: http://127.0.0.1:9\n"
        "    aws_access_key_id: sandbox\n"
        "    aws_secret_access_key: env:ALSO_NOT_SET\n"
    )
    expected = [
        "config error: relay.api_tokens.1: cannot read file /nonexistent/token (No such file or directory)",
        "config error: hubspot.access_token: environment variable NOT_SET is not set",
        "config error: connectors.aws.aws_secret_access_key: environment variable ALSO_NOT_SET is not set",
    ]
    (check, run) = await _both(tmp_path, env={"COSYNC_TEST_CLIENT_SECRET": SECRET})
    for code, out, err in (check, run):
        assert code == 2, err
        assert err.strip().splitlines() == expected
        assert "config ok" not in out
        assert "super-secret" not in out + err


async def test_config_check_resolves_what_is_set(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("hubspot:\n  access_token: env:COSYNC_TEST_TOKEN\n")
    code, out, err = await cli(
        tmp_path, "config", "check", "-c", "config.yaml", env={"COSYNC_TEST_TOKEN": SECRET}
    )
    assert (code, out.strip()) == (0, "config ok"), err
    assert "super-secret" not in out + err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("queue:\n  kind: sqs\n", "config error: queue.queue_url: required when queue.kind is sqs"),
        ("store:\n  kind: dynamodb\n", "config error: store.table: required when store.kind is dynamodb"),
    ],
)
async def test_a_rule_between_keys_is_refused_by_check_and_run_alike(
    tmp_path: Path, content: str, expected: str
) -> None:
    (tmp_path / "config.yaml").write_text(content)
    for code, out, err in await _both(tmp_path):
        assert code == 2, err
        assert err.strip().splitlines() == [expected]
        assert "config ok" not in out
