"""Metrics where an AWS operator looks: a CloudWatch agent sidecar per task and one dashboard.

Each task runs the CloudWatch agent next to cosync. The agent scrapes cosync's Prometheus ``/metrics`` on
the task's loopback (awsvpc tasks share one network namespace, so nothing outside the task can reach that
address) and writes the samples as embedded-metric-format log lines, which CloudWatch turns into metrics
in the ``Cosync`` namespace (counters as per-scrape deltas). Why a sidecar rather than EMF from the process:
``/metrics`` is already the tested contract (tests/relay), it stays what a Prometheus user scrapes, and the
hot path does no CloudWatch formatting or I/O; the cost is one small container per task.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ContainerInsights-Prometheus-Setup-configure-ECS.html
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .settings import DeploySettings

__all__ = [
    "EXPORTED_METRICS",
    "METRICS_PORT",
    "METRIC_NAMESPACE",
    "OperationsDashboard",
    "add_metrics_agent",
    "agent_config",
    "metrics_log_group_name",
    "scrape_config",
]

METRIC_NAMESPACE = "Cosync"
METRICS_PORT = 8080  # cosync's own port; the agent reaches it as 127.0.0.1 inside the task
# The Prometheus series (cosync_worker/metrics.py) published to CloudWatch; the rest stay on /metrics.
EXPORTED_METRICS = (
    "cosync_events_received_total",
    "cosync_events_processed_total",
    "cosync_events_failed_total",
    "cosync_events_dead_lettered_total",
    "cosync_queue_lag_seconds",
    "cosync_webhook_events_accepted_total",
    "cosync_webhook_rejected_total",
)


def metrics_log_group_name(settings: DeploySettings) -> str:
    """Where the agent writes its EMF lines (a literal, so the agent's configuration is plain text)."""
    return f"/{settings.name}/metrics"


def scrape_config(service: str) -> str:
    """The Prometheus scrape configuration (JSON is YAML) of one task's agent."""
    return json.dumps(
        {
            "global": {"scrape_interval": "1m", "scrape_timeout": "10s"},
            "scrape_configs": [
                {
                    "job_name": "cosync",
                    "metrics_path": "/metrics",
                    "static_configs": [
                        {"targets": [f"127.0.0.1:{METRICS_PORT}"], "labels": {"service": service}}
                    ],
                }
            ],
        }
    )


def agent_config(region: str, log_group: str) -> str:
    """The CloudWatch agent's configuration: Prometheus in, EMF out, dimensions by service and connector."""
    selectors = [f"^{name}$" for name in EXPORTED_METRICS]
    return json.dumps(
        {
            "agent": {"region": region},
            "logs": {
                "metrics_collected": {
                    "prometheus": {
                        "log_group_name": log_group,
                        "prometheus_config_path": "env:PROMETHEUS_CONFIG_CONTENT",
                        "emf_processor": {
                            "metric_namespace": METRIC_NAMESPACE,
                            "metric_declaration": [
                                {
                                    "source_labels": ["job"],
                                    "label_matcher": "^cosync$",
                                    "dimensions": [["service"], ["service", "connector"]],
                                    "metric_selectors": selectors,
                                }
                            ],
                        },
                    }
                },
                "force_flush_interval": 5,
            },
        }
    )


def add_metrics_agent(
    task: ecs.TaskDefinition,
    *,
    settings: DeploySettings,
    service: str,
    region: str,
    log_group: logs.LogGroup,
    app_logs: logs.ILogGroup,
) -> ecs.ContainerDefinition:
    """The agent container of ``task``; non-essential, so a broken agent never stops cosync."""
    container = task.add_container(
        "metrics-agent",
        image=ecs.ContainerImage.from_registry(settings.metrics_agent_image),
        essential=False,
        cpu=64,
        memory_reservation_mib=64,
        readonly_root_filesystem=False,  # the agent writes its state and generated config under /opt/aws
        environment={
            "CW_CONFIG_CONTENT": agent_config(region, metrics_log_group_name(settings)),
            "PROMETHEUS_CONFIG_CONTENT": scrape_config(service),
        },
        logging=ecs.LogDrivers.aws_logs(stream_prefix=f"{service}-metrics-agent", log_group=app_logs),
    )
    log_group.grant_write(task.task_role)
    return container


class OperationsDashboard(Construct):
    """``<name>-operations``: the queue, the dead letters, throughput, Partner Central's quota, errors."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings,
        queue: sqs.IQueue,
        dlq: sqs.IQueue,
        partner_central_writes: cloudwatch.IMetric,
    ) -> None:
        super().__init__(scope, construct_id)
        minute = Duration.minutes(1)
        self.metrics_log_group = logs.LogGroup(
            self,
            "MetricsLogs",
            log_group_name=metrics_log_group_name(settings),
            retention=logs.RetentionDays.TWO_WEEKS,
            removal_policy=RemovalPolicy.DESTROY,  # derived data: the metrics themselves outlive it
        )
        processed = cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name="cosync_events_processed_total",
            dimensions_map={"service": "worker"},
            statistic="Sum",
            period=minute,
        )
        events_per_second = cloudwatch.MathExpression(
            expression="processed / PERIOD(processed)",
            using_metrics={"processed": processed},
            label="events handled per second",
            period=minute,
        )
        errors_by_connector = cloudwatch.MathExpression(
            expression=(
                f"SEARCH('{{{METRIC_NAMESPACE},service,connector}} "
                "MetricName=\"cosync_events_failed_total\"', 'Sum', 60)"
            ),
            label="",
            period=minute,
        )
        cap = settings.partner_central_daily_write_cap
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{settings.name}-operations",
            default_interval=Duration.hours(6),
            widgets=[
                [
                    cloudwatch.GraphWidget(
                        title="Work queue depth",
                        left=[
                            queue.metric_approximate_number_of_messages_visible(period=minute),
                            queue.metric_approximate_number_of_messages_not_visible(period=minute),
                        ],
                        width=8,
                    ),
                    cloudwatch.GraphWidget(
                        title="Oldest message age (s)",
                        left=[
                            queue.metric_approximate_age_of_oldest_message(period=minute, statistic="Maximum")
                        ],
                        left_annotations=[
                            cloudwatch.HorizontalAnnotation(
                                value=settings.oldest_message_alarm_seconds, label="alarm"
                            )
                        ],
                        width=8,
                    ),
                    cloudwatch.GraphWidget(
                        title="Dead letters",
                        left=[dlq.metric_approximate_number_of_messages_visible(period=minute)],
                        width=8,
                    ),
                ],
                [
                    cloudwatch.GraphWidget(title="Events per second", left=[events_per_second], width=8),
                    cloudwatch.GraphWidget(
                        title="Partner Central writes, rolling 24 h, against the daily quota",
                        left=[partner_central_writes],
                        left_annotations=[
                            cloudwatch.HorizontalAnnotation(value=cap, label="daily quota"),
                            cloudwatch.HorizontalAnnotation(
                                value=settings.partner_central_write_alarm_threshold, label="alarm"
                            ),
                        ],
                        width=8,
                    ),
                    cloudwatch.GraphWidget(
                        title="Connector errors by connector", left=[errors_by_connector], width=8
                    ),
                ],
            ],
        )
