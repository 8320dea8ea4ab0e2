"""The cosync stack: queue, table, rules, secrets, topics, network, the two services, metrics, alarms.

``build_app`` is what ``app.py`` and the tests call: one stack in the service's region, plus a small
forwarder stack in us-east-1 when the service runs elsewhere (Partner Central publishes there only).
"""

from __future__ import annotations

from aws_cdk import App, Aspects, CfnOutput, Duration, Environment, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from .alarms import OperationalAlarms
from .messaging import WorkQueues
from .monitoring import OperationsDashboard, add_metrics_agent
from .nag_suppressions import suppress
from .partner_central_events import PartnerCentralEventRules, PartnerCentralForwarder
from .public_paths import API_PATTERNS, MAX_VALUES_PER_RULE, WEBHOOK_PATTERNS, chunks
from .scaling import BacklogScaling
from .services import CONFIG_PATH, RELAY_PORT, container_image, fargate_service
from .settings import PARTNER_CENTRAL_REGION, DeploySettings
from .state_table import StateTable
from .task_permissions import grant_relay_permissions, grant_task_permissions

__all__ = ["WORKER_COMMAND", "CosyncStack", "build_app"]

WORKER_COMMAND = ("run", "--config", CONFIG_PATH)


class CosyncStack(Stack):
    """Everything cosync needs in one region; attributes expose the parts tests and docs refer to."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: DeploySettings, env: Environment
    ) -> None:
        super().__init__(
            scope, construct_id, env=env, description="cosync: HubSpot <-> partner programs sync"
        )
        self.settings = settings
        name = settings.name

        self.queues = WorkQueues(self, "Queues", settings=settings)
        self.state = StateTable(self, "State", settings=settings)
        self.events = PartnerCentralEventRules(
            self,
            "PartnerCentralEvents",
            settings=settings,
            queue=self.queues.queue,
            undeliverable=self.queues.undeliverable,
        )

        self.secrets: dict[str, secretsmanager.Secret] = {}
        for env_name, secret_name in settings.secrets.names.items():
            # Created with a random placeholder; the operator puts the real value (docs/deploy.md, step 3).
            self.secrets[env_name] = secretsmanager.Secret(
                self,
                "Secret" + "".join(p.title() for p in env_name.removeprefix("COSYNC__").split("_") if p),
                secret_name=secret_name,
                description=f"cosync: value of {env_name}",
                removal_policy=RemovalPolicy.RETAIN,
            )

        topic_key = kms.Key(
            self,
            "TopicKey",
            enable_key_rotation=True,
            description="cosync: SNS topics (alarms, notifications)",
        )
        self.notification_topic = sns.Topic(
            self,
            "NotificationTopic",
            topic_name=f"{name}-notifications",
            master_key=topic_key,
            enforce_ssl=True,
        )
        self.alarm_topic = sns.Topic(
            self, "AlarmTopic", topic_name=f"{name}-alarms", master_key=topic_key, enforce_ssl=True
        )
        for email in settings.alarm_emails:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(email))
        # CloudWatch alarms publish to the encrypted topic through the key's policy.
        topic_key.grant_encrypt_decrypt(_service_principal("cloudwatch.amazonaws.com"))

        self.vpc = ec2.Vpc(
            self,
            "Network",
            # Explicit zones: max_azs in an environment-bound stack needs an AWS lookup at synth.
            availability_zones=settings.zones,
            ip_addresses=ec2.IpAddresses.cidr(settings.vpc_cidr),
            nat_gateways=settings.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
                ),
            ],
        )
        self.vpc.add_flow_log("FlowLogs", traffic_type=ec2.FlowLogTrafficType.REJECT)
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=name,
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        image = container_image(self, settings.image)

        base_env = {
            "COSYNC__QUEUE__KIND": "sqs",
            "COSYNC__QUEUE__QUEUE_URL": self.queues.queue.queue_url,
            "COSYNC__QUEUE__DLQ_URL": self.queues.dlq.queue_url,
            "COSYNC__QUEUE__REGION": self.region,
            "COSYNC__QUEUE__VISIBILITY_TIMEOUT": str(settings.visibility_timeout_seconds),
            "COSYNC__QUEUE__MAX_RECEIVES": str(settings.max_receives),
            "COSYNC__STORE__KIND": "dynamodb",
            "COSYNC__STORE__TABLE": self.state.table.table_name,
            "COSYNC__STORE__REGION": self.region,
            "COSYNC__LOGGING__FORMAT": "json",
            "AWS_REGION": self.region,
            **settings.secrets.overrides(),
        }
        container_secrets = {
            settings.secrets.variable(override): ecs.Secret.from_secrets_manager(secret)
            for override, secret in self.secrets.items()
        }
        worker_env = {
            **base_env,
            "COSYNC__WORKER__DRAIN_SECONDS": str(settings.worker.drain_seconds),
            "COSYNC__WORKER__CONCURRENCY": str(settings.worker.concurrency),
            # The worker's relay serves /metrics to the metrics agent in the same task, and no one else.
            "COSYNC__RELAY__HOST": "127.0.0.1",
            "COSYNC__RELAY__PORT": str(RELAY_PORT),
            "COSYNC__NOTIFY__CHANNELS__SNS__TOPIC_ARN": self.notification_topic.topic_arn,
            "COSYNC__NOTIFY__CHANNELS__SNS__REGION": self.region,
            **(
                {"COSYNC__CONNECTORS__AWS__ROLE_ARN": settings.partner_role_arn}
                if settings.partner_role_arn
                else {}
            ),
            **settings.extra_environment,
        }
        relay_env = {
            **base_env,
            "COSYNC__RELAY__HOST": "0.0.0.0",
            "COSYNC__RELAY__PORT": str(RELAY_PORT),
            # Only the load balancer, inside the VPC, may set X-Forwarded-* headers.
            "COSYNC__RELAY__TRUSTED_PROXIES": f"[{settings.vpc_cidr}]",
            **({"COSYNC__RELAY__PUBLIC_URL": settings.relay.public_url} if settings.relay.public_url else {}),
            **settings.extra_environment,
        }

        worker_sg = ec2.SecurityGroup(
            self, "WorkerSecurity", vpc=self.vpc, description="cosync worker: egress only"
        )
        self.worker, self.worker_container, self.worker_logs = fargate_service(
            self,
            "Worker",
            settings=settings,
            cluster=self.cluster,
            image=image,
            command=list(WORKER_COMMAND),
            cpu=settings.worker.cpu,
            memory_mib=settings.worker.memory_mib,
            desired_count=settings.worker.min_tasks,
            environment=worker_env,
            secrets=container_secrets,
            stop_timeout=Duration.seconds(settings.worker.stop_timeout_seconds),
            security_group=worker_sg,
            execute_command=True,
        )
        grant_task_permissions(
            self.worker.task_definition.task_role,
            settings=settings,
            queues=[self.queues.queue, self.queues.dlq],
            table=self.state.table,
            topic=self.notification_topic,
        )
        self.worker_scaling = BacklogScaling(
            self,
            "WorkerScaling",
            service=self.worker,
            cluster=self.cluster,
            queue=self.queues.queue,
            sizes=settings.worker,
        )

        self._build_relay(settings, image, relay_env, container_secrets)

        self.alarms = OperationalAlarms(
            self,
            "Alarms",
            settings=settings,
            queue=self.queues.queue,
            dlq=self.queues.dlq,
            undeliverable=self.queues.undeliverable,
            target_group=self.relay_target_group,
            load_balancer=self.load_balancer,
            worker_logs=self.worker_logs,
            topic=self.alarm_topic,
        )
        self.operations = OperationsDashboard(
            self,
            "Operations",
            settings=settings,
            queue=self.queues.queue,
            dlq=self.queues.dlq,
            partner_central_writes=self.alarms.partner_central_writes_metric,
        )
        for service_name, service, logs_group in (
            ("worker", self.worker, self.worker_logs),
            ("relay", self.relay, self.relay_logs),
        ):
            add_metrics_agent(
                service.task_definition,
                settings=settings,
                service=service_name,
                region=self.region,
                log_group=self.operations.metrics_log_group,
                app_logs=logs_group,
            )
        CfnOutput(self, "LoadBalancerDns", value=self.load_balancer.load_balancer_dns_name)
        CfnOutput(self, "WorkerTaskRoleArn", value=self.worker.task_definition.task_role.role_arn)
        CfnOutput(self, "WorkQueueUrl", value=self.queues.queue.queue_url)
        CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)
        CfnOutput(self, "WorkerTaskDefinitionArn", value=self.worker.task_definition.task_definition_arn)
        CfnOutput(
            self,
            "WorkerNetwork",
            value=Fn.join(
                ",",
                [
                    *[subnet.subnet_id for subnet in self.vpc.private_subnets],
                    worker_sg.security_group_id,
                ],
            ),
            description="private subnets and the worker's security group, for one-off `aws ecs run-task`",
        )
        self._suppress_justified_findings()

    @property
    def availability_zones(self) -> list[str]:
        """The settings' zones: the default asks AWS at synth (a context lookup) for an env-bound stack,
        which needs credentials; constructs that spread over zones (the VPC, the load balancer) call this."""
        return self.settings.zones

    def _suppress_justified_findings(self) -> None:
        # cdk-nag names a resource as the template spells it: a literal partition under the
        # @aws-cdk/core:enablePartitionLiterals flag (cdk.json), the pseudo parameter otherwise.
        partition = "<AWS::Partition>" if Token.is_unresolved(self.partition) else self.partition
        for secret in self.secrets.values():
            suppress(secret, "AwsSolutions-SMG4")
        for service in (self.worker, self.relay):
            suppress(service.task_definition, "AwsSolutions-ECS2")
            suppress(
                service.task_definition.task_role,
                "AwsSolutions-IAM5",
                applies_to=["Resource::*"],
                reason=(
                    "ECS Exec's ssmmessages:Create/OpenControlChannel and Create/OpenDataChannel have no "
                    "resource-level permission; the worker and relay task roles carry them for execute-command."
                ),
            )
            suppress(
                service.task_definition.obtain_execution_role(),
                "AwsSolutions-IAM5",
                applies_to=["Resource::*"],
                reason="ecr:GetAuthorizationToken has no resource-level permission; its Resource must be '*'.",
            )
        suppress(self.load_balancer.connections.security_groups[0], "AwsSolutions-EC23")
        suppress(self.access_logs, "AwsSolutions-S1")
        suppress(self.queues.undeliverable, "AwsSolutions-SQS3")
        suppress(
            self.worker.task_definition.task_role,
            "AwsSolutions-IAM5",
            applies_to=[
                "Action::kms:GenerateDataKey*",
                "Action::kms:ReEncrypt*",
                "Resource::*",
                *(
                    f"Resource::arn:{partition}:partnercentral:{PARTNER_CENTRAL_REGION}:"
                    f"{self.settings.account}:catalog/{c}/*"
                    for c in self.settings.catalogs
                ),
            ],
            reason=(
                "KMS: grant_publish on the encrypted topic, scoped to the topic's one key. Partner Central: "
                "object actions are scoped to our account's catalogs (object ids are not known in advance) and "
                "List* actions support no resource-level permission; both carry a partnercentral:Catalog condition."
            ),
        )

    def _build_relay(
        self,
        settings: DeploySettings,
        image: ecs.ContainerImage,
        relay_env: dict[str, str],
        container_secrets: dict[str, ecs.Secret],
    ) -> None:
        alb_sg = ec2.SecurityGroup(
            self,
            "LoadBalancerSecurity",
            vpc=self.vpc,
            description="cosync relay ALB",
            allow_all_outbound=False,
        )
        for cidr in settings.relay.ingress_cidrs:
            alb_sg.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS webhooks and REST API")
            alb_sg.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(80), "redirect to HTTPS")
        relay_sg = ec2.SecurityGroup(self, "RelaySecurity", vpc=self.vpc, description="cosync relay tasks")
        relay_sg.add_ingress_rule(alb_sg, ec2.Port.tcp(RELAY_PORT), "from the load balancer")
        # /readyz, /metrics and /openapi.json are served here, to the VPC only (the public listener 404s them).
        relay_sg.add_ingress_rule(
            ec2.Peer.ipv4(settings.vpc_cidr), ec2.Port.tcp(RELAY_PORT), "ops paths, from the VPC only"
        )
        alb_sg.add_egress_rule(relay_sg, ec2.Port.tcp(RELAY_PORT), "to the relay tasks")

        self.relay, _, self.relay_logs = fargate_service(
            self,
            "Relay",
            settings=settings,
            cluster=self.cluster,
            image=image,
            command=["relay", "--config", CONFIG_PATH],
            cpu=settings.relay.cpu,
            memory_mib=settings.relay.memory_mib,
            desired_count=settings.relay.min_tasks,
            environment=relay_env,
            secrets=container_secrets,
            stop_timeout=Duration.seconds(settings.worker.stop_timeout_seconds),
            security_group=relay_sg,
            port=RELAY_PORT,
            execute_command=True,
        )
        grant_relay_permissions(
            self.relay.task_definition.task_role,
            queues=[self.queues.queue],
            table=self.state.table,
        )

        self.access_logs = s3.Bucket(
            self,
            "LoadBalancerAccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(settings.log_retention_days))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            load_balancer_name=f"{settings.name}-relay",
            vpc=self.vpc,
            internet_facing=True,
            security_group=alb_sg,
            drop_invalid_header_fields=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        )
        self.load_balancer.log_access_logs(self.access_logs, prefix="relay")
        certificate = acm.Certificate.from_certificate_arn(
            self, "Certificate", settings.relay.certificate_arn
        )
        self.https_listener = self.load_balancer.add_listener(
            "Https",
            port=443,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[certificate],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            open=False,
        )
        self.load_balancer.add_redirect(source_port=80, target_port=443, open=False)
        # Only the webhook intake and the authenticated API go through; anything else is a 404 here.
        self.https_listener.add_action(
            "NotPublic",
            action=elbv2.ListenerAction.fixed_response(
                404,
                content_type="application/problem+json",
                message_body='{"title":"not found","status":404}',
            ),
        )
        self.relay_target_group = elbv2.ApplicationTargetGroup(
            self,
            "RelayTargets",
            vpc=self.vpc,
            port=RELAY_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            targets=[self.relay],
            deregistration_delay=Duration.seconds(20),
            health_check=elbv2.HealthCheck(
                path="/healthz",
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        forward = elbv2.ListenerAction.forward([self.relay_target_group])
        self.https_listener.add_action(
            "Webhooks",
            priority=10,
            conditions=[
                elbv2.ListenerCondition.http_request_methods(["POST"]),
                elbv2.ListenerCondition.path_patterns(list(WEBHOOK_PATTERNS)),
            ],
            action=forward,
        )
        for index, patterns in enumerate(chunks(API_PATTERNS, MAX_VALUES_PER_RULE), start=1):
            self.https_listener.add_action(
                f"Api{index}",
                priority=10 + index,
                conditions=[elbv2.ListenerCondition.path_patterns(list(patterns))],
                action=forward,
            )
        relay_scaling = self.relay.auto_scale_task_count(
            min_capacity=settings.relay.min_tasks, max_capacity=settings.relay.max_tasks
        )
        relay_scaling.scale_on_request_count(
            "RequestsPerTarget",
            requests_per_target=settings.relay.requests_per_target,
            target_group=self.relay_target_group,
        )


def _service_principal(service: str) -> iam.ServicePrincipal:
    return iam.ServicePrincipal(service)


def build_app(settings: DeploySettings, app: App | None = None, *, nag: bool = True) -> App:
    """Add cosync's stacks to ``app`` (a new one if None); cdk-nag's AwsSolutions pack runs on synth."""
    app = app or App()
    stack = CosyncStack(
        app,
        f"{settings.name}",
        settings=settings,
        env=Environment(account=settings.account, region=settings.region),
    )
    if not settings.in_partner_central_region:
        forwarder = PartnerCentralForwarder(
            app,
            f"{settings.name}-events-forwarder",
            settings=settings,
            env=Environment(account=settings.account, region=PARTNER_CENTRAL_REGION),
        )
        stack.add_dependency(forwarder)
    if nag:
        Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app
