"""Worker autoscaling on backlog per task: visible messages divided by running tasks, tracked to a target.

Target tracking on a metric-math expression:
https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking-metric-math.html
"""

from __future__ import annotations

from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .settings import WorkerServiceSettings

__all__ = ["BacklogScaling"]


class BacklogScaling(Construct):
    """Keeps ``visible messages / running tasks`` near ``backlog_per_task`` between min and max tasks."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: ecs.FargateService,
        cluster: ecs.ICluster,
        queue: sqs.IQueue,
        sizes: WorkerServiceSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        self.target = appscaling.ScalableTarget(
            self,
            "Target",
            service_namespace=appscaling.ServiceNamespace.ECS,
            resource_id=f"service/{cluster.cluster_name}/{service.service_name}",
            scalable_dimension="ecs:service:DesiredCount",
            min_capacity=sizes.min_tasks,
            max_capacity=sizes.max_tasks,
        )
        self.target.node.add_dependency(service)
        metric = appscaling.CfnScalingPolicy.TargetTrackingMetricStatProperty
        self.policy = appscaling.CfnScalingPolicy(
            self,
            "BacklogPerTask",
            policy_name=f"{service.node.id}-backlog-per-task",
            policy_type="TargetTrackingScaling",
            scaling_target_id=self.target.scalable_target_id,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=float(sizes.backlog_per_task),
                scale_in_cooldown=120,
                scale_out_cooldown=30,
                customized_metric_specification=appscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                    metrics=[
                        appscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
                            id="visible",
                            return_data=False,
                            metric_stat=metric(
                                stat="Sum",
                                metric=_metric(
                                    "AWS/SQS",
                                    "ApproximateNumberOfMessagesVisible",
                                    QueueName=queue.queue_name,
                                ),
                            ),
                        ),
                        appscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
                            id="tasks",
                            return_data=False,
                            metric_stat=metric(
                                stat="Average",
                                metric=_metric(
                                    "ECS/ContainerInsights",
                                    "RunningTaskCount",
                                    ClusterName=cluster.cluster_name,
                                    ServiceName=service.service_name,
                                ),
                            ),
                        ),
                        appscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
                            id="backlog_per_task",
                            expression="visible / tasks",
                            label="visible messages per running task",
                            return_data=True,
                        ),
                    ]
                ),
            ),
        )


def _metric(
    namespace: str, name: str, **dimensions: str
) -> appscaling.CfnScalingPolicy.TargetTrackingMetricProperty:
    return appscaling.CfnScalingPolicy.TargetTrackingMetricProperty(
        namespace=namespace,
        metric_name=name,
        dimensions=[
            appscaling.CfnScalingPolicy.TargetTrackingMetricDimensionProperty(name=k, value=v)
            for k, v in dimensions.items()
        ],
    )
