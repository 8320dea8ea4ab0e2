"""CloudWatch alarms, each with a runbook entry in docs/deploy.md under the same name.

SQS metrics: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
ALB metrics: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .settings import DeploySettings

__all__ = ["METRIC_NAMESPACE", "PARTNER_CENTRAL_WRITE_FILTER", "OperationalAlarms"]

METRIC_NAMESPACE = "Cosync"
# The worker logs one JSON line per Partner Central write with this event name (structlog's "event" key).
PARTNER_CENTRAL_WRITE_FILTER = '{ $.event = "partnercentral.write" }'


class OperationalAlarms(Construct):
    """The four alarms of the issue plus undeliverable events; all notify ``topic``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings,
        queue: sqs.IQueue,
        dlq: sqs.IQueue,
        undeliverable: sqs.IQueue,
        target_group: elbv2.ApplicationTargetGroup,
        load_balancer: elbv2.ApplicationLoadBalancer,
        worker_logs: logs.ILogGroup,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        name = settings.name
        self.oldest_message = queue.metric_approximate_age_of_oldest_message(
            period=Duration.minutes(1), statistic="Maximum"
        ).create_alarm(
            self,
            "OldestMessageAge",
            alarm_name=f"{name}-oldest-message-age",
            alarm_description="Work waits in the queue longer than expected: workers are stuck, too few, or throttled.",
            threshold=settings.oldest_message_alarm_seconds,
            evaluation_periods=5,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.dlq_not_empty = dlq.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic="Maximum"
        ).create_alarm(
            self,
            "DeadLettersPresent",
            alarm_name=f"{name}-dlq-not-empty",
            alarm_description="Events were dead-lettered; inspect with `cosync dlq list`, fix, `cosync dlq replay`.",
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.undeliverable_events = undeliverable.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(5), statistic="Maximum"
        ).create_alarm(
            self,
            "UndeliverableEvents",
            alarm_name=f"{name}-undeliverable-events",
            alarm_description="EventBridge could not put Partner Central events on the work queue.",
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        relay_5xx = cloudwatch.MathExpression(
            expression="target + elb",
            using_metrics={
                "target": target_group.metrics.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=Duration.minutes(1), statistic="Sum"
                ),
                "elb": load_balancer.metrics.http_code_elb(
                    elbv2.HttpCodeElb.ELB_5XX_COUNT, period=Duration.minutes(1), statistic="Sum"
                ),
            },
            period=Duration.minutes(1),
            label="relay 5xx",
        )
        self.relay_5xx = relay_5xx.create_alarm(
            self,
            "Relay5xx",
            alarm_name=f"{name}-relay-5xx",
            alarm_description="The relay (or the load balancer in front of it) answers 5xx; HubSpot will retry.",
            threshold=settings.relay_5xx_alarm_count,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        writes = logs.MetricFilter(
            self,
            "PartnerCentralWrites",
            log_group=worker_logs,
            filter_pattern=logs.FilterPattern.literal(PARTNER_CENTRAL_WRITE_FILTER),
            metric_namespace=METRIC_NAMESPACE,
            metric_name="PartnerCentralWrites",
            metric_value="1",
            default_value=0,
        )
        # A rolling 24 h, as the quota counts: one period of a day under the alarm's default evaluation
        # window, the sliding one, which ends at each evaluation (no EvaluationWindow: CloudFormation has no
        # way to spell an empty SlidingWindow, and WallClockWindow is what would make it a calendar day).
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation-window.html
        self.partner_central_writes_metric = writes.metric(period=Duration.days(1), statistic="Sum")
        self.partner_central_writes = self.partner_central_writes_metric.create_alarm(
            self,
            "PartnerCentralDailyWrites",
            alarm_name=f"{name}-partner-central-daily-writes",
            alarm_description=(
                f"Partner Central writes in the last 24 h approach the daily cap of {settings.partner_central_daily_write_cap}."
            ),
            threshold=settings.partner_central_write_alarm_threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarms = [
            self.oldest_message,
            self.dlq_not_empty,
            self.undeliverable_events,
            self.relay_5xx,
            self.partner_central_writes,
        ]
        action = actions.SnsAction(topic)
        for alarm in self.alarms:
            alarm.add_alarm_action(action)
