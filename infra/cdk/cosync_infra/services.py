"""The two Fargate services on ARM64: the worker (no load balancer) and the relay (behind an HTTPS ALB).

Both run the same image; the worker runs ``cosync run`` with its relay bound to the task's loopback (only the
metrics agent next to it reads that ``/metrics``), the relay ``cosync relay``. Secrets reach the container as
ECS ``secrets`` (``valueFrom`` Secrets Manager, injected by the agent at start), never as template values.
Task sizes: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct

from .settings import DeploySettings

__all__ = ["CONFIG_PATH", "RELAY_PORT", "container_image", "fargate_service"]

RELAY_PORT = 8080
CONFIG_PATH = "/app/config.yaml"

_ECR = re.compile(
    r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)(?::([^@]+))?(?:@(.+))?$"
)


def container_image(scope: Construct, image: str) -> ecs.ContainerImage:
    """A private ECR image gets a pull grant on its repository; anything else is pulled from its registry."""
    match = _ECR.match(image)
    if match is None:
        return ecs.ContainerImage.from_registry(image)
    account, region, name, tag, digest = match.groups()
    repo = ecr.Repository.from_repository_attributes(
        scope,
        "ImageRepository",
        repository_arn=f"arn:aws:ecr:{region}:{account}:repository/{name}",
        repository_name=name,
    )
    return ecs.ContainerImage.from_ecr_repository(repo, digest or tag)


def fargate_service(
    scope: Construct,
    construct_id: str,
    *,
    settings: DeploySettings,
    cluster: ecs.ICluster,
    image: ecs.ContainerImage,
    command: Sequence[str],
    cpu: int,
    memory_mib: int,
    desired_count: int,
    environment: Mapping[str, str],
    secrets: Mapping[str, ecs.Secret],
    stop_timeout: Duration,
    security_group: ec2.ISecurityGroup,
    port: int | None = None,
    execute_command: bool = False,
) -> tuple[ecs.FargateService, ecs.ContainerDefinition, logs.LogGroup]:
    """A service in the private subnets with its own log group (retention from settings).

    ``execute_command`` enables ECS Exec (``aws ecs execute-command``, docs/deploy.md) while the root
    filesystem stays read-only: the directories the injected SSM agent writes are task-scoped volumes."""
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        log_group_name=f"/{settings.name}/{construct_id.lower()}",
        retention=_retention(settings.log_retention_days),
        removal_policy=RemovalPolicy.RETAIN,
    )
    task = ecs.FargateTaskDefinition(
        scope,
        f"{construct_id}Task",
        cpu=cpu,
        memory_limit_mib=memory_mib,
        runtime_platform=ecs.RuntimePlatform(
            cpu_architecture=ecs.CpuArchitecture.ARM64,
            operating_system_family=ecs.OperatingSystemFamily.LINUX,
        ),
    )
    container = task.add_container(
        "cosync",
        image=image,
        command=list(command),
        environment=dict(environment),
        secrets=dict(secrets),
        logging=ecs.LogDrivers.aws_logs(stream_prefix=construct_id.lower(), log_group=log_group),
        stop_timeout=stop_timeout,
        readonly_root_filesystem=True,
        port_mappings=[ecs.PortMapping(container_port=port)] if port is not None else None,
    )
    if execute_command:
        for volume, path in _EXEC_AGENT_PATHS.items():
            task.add_volume(name=volume)
            container.add_mount_points(
                ecs.MountPoint(container_path=path, source_volume=volume, read_only=False)
            )
    service = ecs.FargateService(
        scope,
        construct_id,
        service_name=f"{settings.name}-{construct_id.lower()}",
        cluster=cluster,
        task_definition=task,
        desired_count=desired_count,
        security_groups=[security_group],
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        assign_public_ip=False,
        circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        min_healthy_percent=100,
        max_healthy_percent=200,
        enable_execute_command=execute_command,
    )
    return service, container, log_group


# Where ECS Exec's SSM agent writes inside the container (it fails on a read-only root without these):
# https://github.com/aws/containers-roadmap/issues/1359
_EXEC_AGENT_PATHS = {
    "exec-managed-agents": "/managed-agents",
    "exec-ssm-state": "/var/lib/amazon/ssm",
    "exec-ssm-logs": "/var/log/amazon/ssm",
}


_RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def _retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a number of days (the settings accept only these)."""
    try:
        return _RETENTION[days]
    except KeyError:
        raise ValueError(f"no CloudWatch Logs retention of {days} days") from None
