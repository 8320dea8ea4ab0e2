"""Configuration: YAML + environment, every error named by its path, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from cosync_worker.config import ConfigError, SecretRef, load_settings, resolve_secrets
from cosync_worker.logs import redact


def test_defaults_are_the_embedded_setup() -> None:
    s = load_settings(None, {})
    assert (s.queue.kind, s.store.kind) == ("local", "sqlite")
    assert (s.relay.host, s.relay.port) == ("127.0.0.1", 8080)


def test_env_overrides_nested_keys_and_parses_scalars(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("worker:\n  concurrency: 4\nrelay:\n  cors_origins: [https://a.example]\n")
    s = load_settings(
        cfg, {"COSYNC__WORKER__CONCURRENCY": "32", "COSYNC__RELAY__ENABLED": "false", "OTHER": "x"}
    )
    assert s.worker.concurrency == 32
    assert s.relay.enabled is False
    assert s.relay.cors_origins == ["https://a.example"]


def test_every_error_is_listed_with_its_path(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("worker:\n  concurrency: 0\n  typo: 1\nqueue:\n  kind: kafka\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, {})
    problems = info.value.problems
    assert "worker.concurrency: Input should be greater than or equal to 1" in problems
    assert "worker.typo: unknown key" in problems
    assert "queue.kind: Input should be 'local' or 'sqs'" in problems


def test_queue_redrive_must_come_after_the_workers_retries(tmp_path: Path) -> None:
    # Otherwise the queue dead-letters, without a reason, events the worker still meant to retry.
    cfg = tmp_path / "c.yaml"
    cfg.write_text("queue:\n  max_receives: 5\nworker:\n  retry:\n    max_attempts: 8\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, {})
    assert any(
        "queue.max_receives (5) must be greater than worker.retry.max_attempts (8)" in p
        for p in info.value.problems
    ), info.value.problems
    assert load_settings(None, {}).queue.max_receives > load_settings(None, {}).worker.retry.max_attempts


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.yaml", {})


async def test_secret_references_resolve_and_never_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("file-secret-value\n")
    monkeypatch.setenv("HS_TOKEN", "env-secret-value")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"hubspot:\n  access_token: env:HS_TOKEN\n  client_secret: file:{secret_file}\n")
    s = load_settings(cfg, {})
    await resolve_secrets(s)
    assert s.hubspot.access_token is not None and s.hubspot.access_token.get() == "env-secret-value"
    assert s.hubspot.client_secret is not None and s.hubspot.client_secret.get() == "file-secret-value"
    dumped = s.model_dump_json() + repr(s) + str(s)
    assert "secret-value" not in dumped
    assert "env:HS_TOKEN" in dumped


async def test_unresolvable_secrets_are_all_named_by_their_yaml_path() -> None:
    s = load_settings(
        None,
        {
            "COSYNC__HUBSPOT__ACCESS_TOKEN": "env:NOPE_1",
            "COSYNC__HUBSPOT__CLIENT_SECRET": "file:/nope",
            "COSYNC__RELAY__API_TOKENS": "[literal-token, env:NOPE_2]",
        },
    )
    with pytest.raises(ConfigError) as info:
        await resolve_secrets(s)
    assert info.value.problems == [
        "relay.api_tokens.1: environment variable NOPE_2 is not set",
        "hubspot.access_token: environment variable NOPE_1 is not set",
        "hubspot.client_secret: cannot read file /nope (No such file or directory)",
    ]


def test_literal_secret_is_hidden() -> None:
    ref = SecretRef("plain-literal-token")
    assert ref.get() == "plain-literal-token"
    assert "plain-literal-token" not in repr(ref)


def test_log_redaction_masks_secrets_and_bearer_tokens() -> None:
    out = redact(
        {"access_token": "abc", "nested": {"client_secret": "x"}, "msg": "Authorization: Bearer abc.def"}
    )
    assert out == {
        "access_token": "***",
        "nested": {"client_secret": "***"},
        "msg": "Authorization: Bearer ***",
    }
