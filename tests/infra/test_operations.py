"""The deployment can be reached only where intended, watched in CloudWatch and operated with ECS Exec."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .conftest import IMAGE_CONFIG, image_plugin_manager


def _public_rules(template: Any) -> list[dict[str, Any]]:
    listeners = template.find_resources(
        "AWS::ElasticLoadBalancingV2::Listener", {"Properties": {"Port": 443}}
    )
    (listener_id,) = listeners
    (listener,) = listeners.values()
    (default,) = listener["Properties"]["DefaultActions"]
    assert default["Type"] == "fixed-response" and default["FixedResponseConfig"]["StatusCode"] == "404"
    return [
        r["Properties"]
        for r in template.find_resources("AWS::ElasticLoadBalancingV2::ListenerRule").values()
        if r["Properties"]["ListenerArn"] == {"Ref": listener_id}
    ]


def _alb_match(pattern: str, path: str) -> bool:
    """ALB path-pattern semantics: case-sensitive, ``*`` any characters (``/`` too), ``?`` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, path) is not None


def _publicly_routed(rules: list[dict[str, Any]], method: str, path: str) -> bool:
    for rule in rules:
        conditions = {c["Field"]: c for c in rule["Conditions"]}
        methods = conditions.get("http-request-method", {}).get("HttpRequestMethodConfig", {}).get("Values")
        if methods is not None and method not in methods:
            continue
        patterns = conditions["path-pattern"]["PathPatternConfig"]["Values"]
        if any(_alb_match(p, path) for p in patterns):
            return True
    return False


async def _relay_operations(tmp_path: Path) -> list[tuple[str, str, bool]]:
    """(method, path with sample parameters, needs auth) of every operation a relay with the image's
    connectors serves, read from its own /openapi.json."""
    import aiohttp

    from cosync_worker.config import load_settings
    from cosync_worker.hooks import Context
    from cosync_worker.queue.local import LocalQueue
    from cosync_worker.relay import RelayServer, create_app
    from cosync_worker.store.sqlite import SqliteStore

    settings = load_settings(
        IMAGE_CONFIG,
        {
            "COSYNC__QUEUE__PATH": str(tmp_path / "q.db"),
            "COSYNC__STORE__PATH": str(tmp_path / "s.db"),
        },
    )
    plugins = image_plugin_manager(settings)
    configs = plugins.validate_connector_configs(settings)
    queue, store = LocalQueue(settings.queue.path), SqliteStore(settings.store.path)
    await queue.open()
    await store.open()
    context = Context(settings=settings, store=store, queue=queue, connector_configs=configs)
    app = create_app(settings=settings, queue=queue, store=store, plugins=plugins, context=context)
    server = RelayServer(app, "127.0.0.1", 0)
    url = await server.start()
    try:
        async with aiohttp.ClientSession() as session, session.get(url + "/openapi.json") as resp:
            document = await resp.json()
    finally:
        await server.stop()
        await queue.close()
        await store.close()
    found = []
    for path, item in document["paths"].items():
        sample = re.sub(r"\{[^}]+\}", "x", path)
        for method, op in item.items():
            found.append((method.upper(), sample, bool(op.get("security"))))
    return found


async def test_public_listener_routes_the_webhooks_and_the_authenticated_api_only(
    template: Any, tmp_path: Path
) -> None:
    rules = _public_rules(template)
    operations = await _relay_operations(tmp_path)
    webhooks = [(m, p) for m, p, auth in operations if p.startswith(("/webhook/", "/webhooks/"))]
    assert ("POST", "/webhooks/hubspot") in webhooks
    for method, path in webhooks:
        assert _publicly_routed(rules, method, path), f"{method} {path} is not reachable"
    for method, path, auth in operations:
        if (method, path) in webhooks:
            continue
        # Every authenticated API route is public; nothing unauthenticated is.
        assert _publicly_routed(rules, method, path) == auth, f"{method} {path} (auth={auth})"
    for private in ("/metrics", "/readyz", "/healthz", "/openapi.json", "/console", "/console/x"):
        assert not _publicly_routed(rules, "GET", private), private
    assert not _publicly_routed(rules, "GET", "/webhooks/hubspot")


def test_ops_port_is_open_to_the_vpc_only(template: Any) -> None:
    ingress = [
        rule
        for group in template.find_resources("AWS::EC2::SecurityGroup").values()
        for rule in group["Properties"].get("SecurityGroupIngress", [])
        if rule.get("FromPort") == 8080
    ]
    assert ingress and all(rule.get("CidrIp") == "10.0.0.0/16" for rule in ingress)


def _task(template: Any, service: str) -> dict[str, Any]:
    (task,) = [
        t["Properties"]
        for lid, t in template.find_resources("AWS::ECS::TaskDefinition").items()
        if lid.startswith(service)
    ]
    return task


def test_each_task_publishes_its_metrics_to_cloudwatch(template: Any) -> None:
    from cosync_infra.monitoring import EXPORTED_METRICS

    for service in ("Worker", "Relay"):
        containers = {c["Name"]: c for c in _task(template, service)["ContainerDefinitions"]}
        agent = containers["metrics-agent"]
        assert agent["Image"].startswith("public.ecr.aws/cloudwatch-agent/cloudwatch-agent:")
        assert agent["Essential"] is False
        env = {e["Name"]: e["Value"] for e in agent["Environment"]}
        scrape = json.loads(env["PROMETHEUS_CONFIG_CONTENT"])
        (job,) = scrape["scrape_configs"]
        assert job["static_configs"][0]["targets"] == ["127.0.0.1:8080"] and job["metrics_path"] == "/metrics"
        config = json.loads(env["CW_CONFIG_CONTENT"])
        emf = config["logs"]["metrics_collected"]["prometheus"]["emf_processor"]
        assert emf["metric_namespace"] == "Cosync"
        (declaration,) = emf["metric_declaration"]
        assert ["service", "connector"] in declaration["dimensions"]
        assert {s.strip("^$") for s in declaration["metric_selectors"]} == set(EXPORTED_METRICS)


def test_exported_metrics_exist_in_the_process() -> None:
    from cosync_infra.monitoring import EXPORTED_METRICS
    from prometheus_client import REGISTRY

    import cosync_worker.metrics  # noqa: F401  (registers the series)

    names = {f"{f.name}_total" if f.type == "counter" else f.name for f in REGISTRY.collect()}
    assert set(EXPORTED_METRICS) <= names


def test_dashboard_shows_queue_dlq_throughput_quota_and_errors(template: Any) -> None:
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    queues = template.find_resources("AWS::SQS::Queue")
    (dlq_id,) = [k for k, q in queues.items() if q["Properties"].get("QueueName") == "cosync-dlq.fifo"]
    assert dlq_id in body
    for needle in (
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "cosync_events_processed_total",
        "PartnerCentralWrites",
        "daily quota",
        "cosync_events_failed_total",
        "connector",
    ):
        assert needle in body, needle


def test_ecs_exec_is_enabled_on_the_worker(template: Any) -> None:
    services = template.find_resources("AWS::ECS::Service")
    worker = next(
        s["Properties"] for s in services.values() if s["Properties"]["ServiceName"] == "cosync-worker"
    )
    assert worker["EnableExecuteCommand"] is True
    cosync = next(c for c in _task(template, "Worker")["ContainerDefinitions"] if c["Name"] == "cosync")
    # Read-only root kept; the exec agent writes to task volumes.
    assert cosync["ReadonlyRootFilesystem"] is True
    assert {m["ContainerPath"] for m in cosync["MountPoints"]} >= {"/managed-agents", "/var/lib/amazon/ssm"}


def test_vpc_zones_are_explicit(template: Any) -> None:
    zones = {
        s["Properties"]["AvailabilityZone"] for s in template.find_resources("AWS::EC2::Subnet").values()
    }
    assert zones == {"us-east-1a", "us-east-1b"}


def test_exec_recipe_is_in_the_docs_and_in_cosync_help() -> None:
    from click.testing import CliRunner

    from cosync_worker.cli import main

    help_text = CliRunner().invoke(main, ["--help"]).output
    docs = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text()
    for text in (help_text, docs):
        assert "aws ecs execute-command --cluster cosync" in text
        assert '--command "cosync dlq list --config /app/config.yaml"' in text
    assert "aws ecs run-task" in docs and '"properties","create"' in docs
