"""The synthesized task definitions describe a configuration the real loader and every connector accept.

A task that exits 2 on a bad key crash-loops in ECS; the template alone would not show it. So each task
definition's environment (its ECS ``secrets`` stubbed with a value, CloudFormation tokens with a placeholder)
goes through ``load_settings`` on the image's ``config.yaml``, the image's connectors' validation and secret
resolution: what ``cosync run`` / ``cosync relay`` do before anything else.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import IMAGE_CONFIG, image_plugin_manager, image_plugins


def _containers(template: Any) -> dict[str, dict[str, Any]]:
    found = {}
    for logical_id, task in template.find_resources("AWS::ECS::TaskDefinition").items():
        for container in task["Properties"]["ContainerDefinitions"]:
            if container["Name"] == "cosync":
                found[logical_id] = container
    return found


def _value(value: Any, name: str) -> str:
    """A CloudFormation value as the container would see it: joins joined, references a placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_value(p, name) for p in parts)
    return f"https://stub.invalid/{name.lower()}"  # a queue URL, table name or topic ARN


def task_environment(container: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    """What the container sees: ``Environment`` with tokens replaced, ``Secrets`` with stub values."""
    env = {e["Name"]: _value(e["Value"], e["Name"]) for e in container.get("Environment", [])}
    secret_names = {s["Name"] for s in container.get("Secrets", [])}
    env.update({name: f"stub-{name.lower()}" for name in secret_names})
    return env, secret_names


def test_both_services_run_the_image_config(template: Any) -> None:
    containers = _containers(template)
    assert len(containers) == 2
    for container in containers.values():
        assert "/app/config.yaml" in container["Command"]


def test_dockerfile_installs_the_cloud_connectors_only() -> None:
    assert image_plugins() == {"aws", "gcp", "microsoft"}


@pytest.mark.parametrize("service", ["Worker", "Relay"])
async def test_task_environment_is_a_valid_configuration(
    template: Any, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cosync_worker.config import load_settings
    from cosync_worker.config.loader import resolve_secrets

    (container,) = [c for lid, c in _containers(template).items() if lid.startswith(service)]
    environ, secret_names = task_environment(container)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)  # env: references resolve from the process environment

    settings = load_settings(IMAGE_CONFIG, environ)
    plugins = image_plugin_manager(settings)
    configs = plugins.validate_connector_configs(settings)
    await resolve_secrets(settings, configs)

    assert settings.queue.kind == "sqs" and settings.store.kind == "dynamodb"
    assert secret_names, "secrets reach the task through ECS secrets (valueFrom)"
    assert not [k for k, v in environ.items() if v.startswith("secretsmanager:")]
    assert settings.hubspot.access_token is not None
    assert settings.hubspot.access_token.get() == f"stub-{_secret_var(container, 'HUBSPOT__ACCESS_TOKEN')}"
    assert set(configs) >= {"aws", "gcp", "microsoft"}


def _secret_var(container: dict[str, Any], key: str) -> str:
    (name,) = [s["Name"] for s in container["Secrets"] if s["Name"].endswith(key)]
    return name.lower()
