"""Assertions on the synthesized CloudFormation template of infra/cdk (synthesized once per session)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import example_settings


def _resources(template: Any, kind: str) -> dict[str, Any]:
    return dict(template.find_resources(kind))


def _one(template: Any, kind: str, **props: Any) -> dict[str, Any]:
    from aws_cdk.assertions import Match

    found = template.find_resources(kind, {"Properties": Match.object_like(props)} if props else None)
    assert len(found) == 1, f"expected one {kind} with {props}, found {len(found)}"
    return dict(next(iter(found.values())))


def test_fifo_queue_redrives_to_fifo_dlq(template: Any) -> None:
    work = _one(template, "AWS::SQS::Queue", QueueName="cosync-work.fifo")["Properties"]
    dlq_id = next(
        k
        for k, v in _resources(template, "AWS::SQS::Queue").items()
        if v["Properties"].get("QueueName") == "cosync-dlq.fifo"
    )
    assert work["FifoQueue"] is True
    assert work["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 10,
    }
    assert work["VisibilityTimeout"] == 30
    assert _resources(template, "AWS::SQS::Queue")[dlq_id]["Properties"]["FifoQueue"] is True


def test_rules_match_partner_central_events_with_group_id_from_event(template: Any) -> None:
    rules = _resources(template, "AWS::Events::Rule")
    assert len(rules) == 5
    groups = {}
    for rule in rules.values():
        props = rule["Properties"]
        pattern = props["EventPattern"]
        assert pattern["source"] == ["aws.partnercentral-selling"]
        assert pattern["detail"] == {"catalog": ["AWS"]}
        (prefix,) = pattern["detail-type"]
        (target,) = props["Targets"]
        assert target["SqsParameters"]["MessageGroupId"].startswith("$.detail.")
        assert "DeadLetterConfig" in target
        groups[prefix["prefix"]] = target["SqsParameters"]["MessageGroupId"]
    assert groups["Opportunity "] == "$.detail.opportunity.identifier"
    assert groups["Engagement Invitation "] == "$.detail.engagementInvitation.identifier"


def test_rule_prefixes_give_each_detail_type_exactly_one_rule() -> None:
    from cosync_infra.partner_central_events import EVENT_KINDS

    from cosync_worker.sandbox.partnercentral.events import DETAIL_TYPES

    for detail_type in DETAIL_TYPES:
        matching = [k for k in EVENT_KINDS if detail_type.startswith(k.detail_type_prefix)]
        assert len(matching) == 1, f"{detail_type!r} matches {[k.rule_id for k in matching]}"


def test_table_matches_the_dynamodb_store(template: Any) -> None:
    props = _one(template, "AWS::DynamoDB::Table")["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True


def _container(template: Any, family_part: str) -> dict[str, Any]:
    for task in _resources(template, "AWS::ECS::TaskDefinition").values():
        (container,) = [c for c in task["Properties"]["ContainerDefinitions"] if c["Name"] == "cosync"]
        if family_part in json.dumps(task["Properties"].get("Family", "")):
            return {"task": task["Properties"], "container": container}
    raise AssertionError(f"no task definition like {family_part}")


def test_worker_and_relay_tasks(template: Any) -> None:
    worker = _container(template, "Worker")
    relay = _container(template, "Relay")
    assert worker["task"]["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    # The worker's own relay serves /metrics on the task's loopback, for the metrics agent.
    assert worker["container"]["Command"] == ["run", "--config", "/app/config.yaml"]
    assert relay["container"]["Command"] == ["relay", "--config", "/app/config.yaml"]
    assert worker["container"]["StopTimeout"] == 30
    env = {e["Name"]: e["Value"] for e in worker["container"]["Environment"]}
    assert env["COSYNC__QUEUE__KIND"] == "sqs" and env["COSYNC__STORE__KIND"] == "dynamodb"
    assert int(env["COSYNC__WORKER__DRAIN_SECONDS"]) < worker["container"]["StopTimeout"]
    assert env["COSYNC__RELAY__HOST"] == "127.0.0.1"
    # Secrets come through ECS secrets (valueFrom) into their own variable, which the override refers to.
    assert env["COSYNC__HUBSPOT__ACCESS_TOKEN"] == "env:COSYNC_SECRET_HUBSPOT__ACCESS_TOKEN"
    assert env["COSYNC__RELAY__API_TOKENS"] == "[env:COSYNC_SECRET_RELAY__API_TOKENS]"
    assert all(
        isinstance(v, dict) or not v.startswith(("arn:aws:secretsmanager", "secretsmanager:"))
        for v in env.values()
    )
    secrets = {s["Name"]: s["ValueFrom"] for s in worker["container"]["Secrets"]}
    assert set(secrets) == {
        "COSYNC_SECRET_HUBSPOT__ACCESS_TOKEN",
        "COSYNC_SECRET_HUBSPOT__CLIENT_SECRET",
        "COSYNC_SECRET_RELAY__API_TOKENS",
        "COSYNC_SECRET_CONNECTORS__MICROSOFT__CLIENT_SECRET",
        "COSYNC_SECRET_CONNECTORS__GCP__SERVICE_ACCOUNT_JSON",
    }
    assert all("Ref" in v for v in secrets.values())
    assert relay["container"]["PortMappings"][0]["ContainerPort"] == 8080
    # Worker has no load balancer; the relay's service does.
    services = _resources(template, "AWS::ECS::Service")
    with_lb = [s for s in services.values() if s["Properties"].get("LoadBalancers")]
    assert len(services) == 2 and len(with_lb) == 1


def test_https_listener_with_certificate_and_healthz(template: Any) -> None:
    listener = _one(template, "AWS::ElasticLoadBalancingV2::Listener", Port=443)["Properties"]
    assert listener["Protocol"] == "HTTPS"
    assert listener["Certificates"][0]["CertificateArn"] == example_settings()["relay"]["certificate_arn"]
    group = _one(template, "AWS::ElasticLoadBalancingV2::TargetGroup")["Properties"]
    assert group["HealthCheckPath"] == "/healthz"
    assert group["Port"] == 8080


def test_worker_scales_on_backlog_per_task(template: Any) -> None:
    policies = [
        p["Properties"]
        for p in _resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
        if "CustomizedMetricSpecification"
        in p["Properties"].get("TargetTrackingScalingPolicyConfiguration", {})
    ]
    assert len(policies) == 1
    config = policies[0]["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == 100
    metrics = {m["Id"]: m for m in config["CustomizedMetricSpecification"]["Metrics"]}
    assert metrics["visible"]["MetricStat"]["Metric"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert metrics["tasks"]["MetricStat"]["Metric"]["MetricName"] == "RunningTaskCount"
    assert metrics["backlog_per_task"]["Expression"] == "visible / tasks"
    targets = [
        t["Properties"] for t in _resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    ]
    assert {"MinCapacity": 1, "MaxCapacity": 4} in [
        {"MinCapacity": t["MinCapacity"], "MaxCapacity": t["MaxCapacity"]} for t in targets
    ]


def _statements(template: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for policy in _resources(template, "AWS::IAM::Policy").values():
        out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def test_no_wildcard_action_anywhere(template: Any) -> None:
    for statement in _statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert action != "*" and not action.endswith(":*"), statement


def test_data_resources_are_never_granted_with_star_resource(template: Any) -> None:
    data_prefixes = ("sqs:", "dynamodb:", "secretsmanager:", "sns:", "sts:")
    for statement in _statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(a.startswith(data_prefixes) for a in actions):
            assert statement["Resource"] != "*", statement


def test_worker_role_lists_partner_central_actions_and_partner_role(stack: Any, template: Any) -> None:
    from cosync_infra.task_permissions import PARTNER_CENTRAL_LIST_ACTIONS

    statements = {s.get("Sid"): s for s in _statements(template)}
    assert statements["AssumePartnerRole"]["Action"] == "sts:AssumeRole"
    assert statements["AssumePartnerRole"]["Resource"] == example_settings()["partner_role_arn"]
    lists = statements["PartnerCentralLists"]
    assert sorted(lists["Action"]) == sorted(PARTNER_CENTRAL_LIST_ACTIONS)
    assert lists["Condition"] == {"StringEquals": {"partnercentral:Catalog": ["AWS"]}}
    assert "partnercentral:CreateOpportunity" in statements["PartnerCentralObjects"]["Action"]


def test_relay_role_cannot_touch_partner_central(stack: Any) -> None:
    from aws_cdk import Stack

    role_policy = json.dumps(
        Stack.of(stack).resolve(
            stack.relay.task_definition.task_role.node.find_child("DefaultPolicy").document.to_json()
        )
    )
    assert "partnercentral:" not in role_policy and "sts:AssumeRole" not in role_policy
    assert "sqs:SendMessage" in role_policy


def test_alarms_present(template: Any) -> None:
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in _resources(template, "AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) >= {
        "cosync-oldest-message-age",
        "cosync-dlq-not-empty",
        "cosync-relay-5xx",
        "cosync-partner-central-daily-writes",
        "cosync-undeliverable-events",
    }
    assert alarms["cosync-oldest-message-age"]["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarms["cosync-dlq-not-empty"]["Threshold"] == 0
    assert alarms["cosync-partner-central-daily-writes"]["Threshold"] == 8000
    assert alarms["cosync-partner-central-daily-writes"]["Period"] == 86400
    # Rolling 24 h, as the quota counts, not a calendar day.
    assert "WallClockWindow" not in json.dumps(alarms["cosync-partner-central-daily-writes"])
    assert "last 24 h" in alarms["cosync-partner-central-daily-writes"]["AlarmDescription"]
    assert all(a.get("AlarmActions") for a in alarms.values())


def test_log_groups_have_retention(template: Any) -> None:
    groups = _resources(template, "AWS::Logs::LogGroup")
    assert len(groups) >= 2
    assert all(g["Properties"].get("RetentionInDays") for g in groups.values())


def test_secrets_created_by_name(template: Any) -> None:
    names = {s["Properties"]["Name"] for s in _resources(template, "AWS::SecretsManager::Secret").values()}
    assert names == {
        "cosync/hubspot-token",
        "cosync/hubspot-client-secret",
        "cosync/microsoft-client-secret",
        "cosync/gcp-service-account",
        "cosync/api-token",
    }


def test_cdk_nag_reports_no_unsuppressed_finding(synthesized: Any) -> None:
    from aws_cdk.assertions import Annotations, Match

    for stack in synthesized.node.children:
        if not hasattr(stack, "template_options"):
            continue
        annotations = Annotations.from_stack(stack)
        findings = [
            *annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")),
            *annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*")),
        ]
        assert findings == [], [f"{f.id}: {str(f.entry.data)[:120]}" for f in findings]


def test_other_region_gets_a_forwarder_in_us_east_1() -> None:
    from aws_cdk import App
    from aws_cdk.assertions import Template
    from cosync_infra import build_app, load_settings

    settings = {**example_settings(), "region": "eu-west-1"}
    settings["relay"] = {
        **settings["relay"],
        "certificate_arn": settings["relay"]["certificate_arn"].replace("us-east-1", "eu-west-1"),
    }
    app = build_app(load_settings(settings), App(), nag=False)
    forwarder = app.node.find_child("cosync-events-forwarder")
    assert forwarder.region == "us-east-1"
    (rule,) = Template.from_stack(forwarder).find_resources("AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":events:eu-west-1:123456789012:event-bus/default"],
        ]
    }
    assert rule["Properties"]["EventPattern"]["source"] == ["aws.partnercentral-selling"]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"account": "12345"}, "account: Value error, '12345' is not a 12-digit AWS account id"),
        ({"image": "cosync"}, "image: Value error, 'cosync' must be an image reference with a tag or digest"),
        ({"worker": {"cpu": 512, "memory_mib": 256}}, "memory_mib 256 does not fit cpu 512"),
        ({"worker": {"min_tasks": 5, "max_tasks": 2}}, "min_tasks 5 is above max_tasks 2"),
        ({"worker": {"drain_seconds": 40}}, "drain_seconds 40 must be below stop_timeout_seconds 30"),
        ({"catalogs": ["Prod"]}, "unknown Partner Central catalog(s) ['Prod']"),
        ({"log_retention_days": 31}, "31 is not a CloudWatch Logs retention"),
        (
            {"relay": {"certificate_arn": "nope"}},
            "relay.certificate_arn: Value error, 'nope' is not an ACM certificate ARN",
        ),
        ({"bogus": 1}, "bogus: Extra inputs are not permitted"),
    ],
)
def test_bad_settings_name_the_problem(patch: dict[str, Any], message: str) -> None:
    from cosync_infra import SettingsError, load_settings

    with pytest.raises(SettingsError) as info:
        load_settings({**example_settings(), **patch})
    assert message in str(info.value)


def test_settings_file_errors_are_clear(tmp_path: Any) -> None:
    from cosync_infra import SettingsError, load_settings

    bad = tmp_path / "s.json"
    bad.write_text("{not json")
    with pytest.raises(SettingsError, match="is not valid JSON"):
        load_settings(None, bad)
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings(None, tmp_path / "missing.json")
    with pytest.raises(SettingsError, match="expected an object"):
        load_settings(None)
