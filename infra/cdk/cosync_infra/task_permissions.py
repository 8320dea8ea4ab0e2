"""The least-privilege task role: every action named, every resource the deployment's own.

Partner Central actions are the ones the connectors call (the operations the sandbox emulator serves);
their resource types and condition keys:
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awspartnercentralselling.html
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from .settings import PARTNER_CENTRAL_REGION, DeploySettings

__all__ = [
    "PARTNER_CENTRAL_LIST_ACTIONS",
    "PARTNER_CENTRAL_RESOURCE_ACTIONS",
    "QUEUE_ACTIONS",
    "TABLE_ACTIONS",
    "grant_relay_permissions",
    "grant_task_permissions",
]

QUEUE_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)

TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
    "dynamodb:DescribeTable",
)

# Actions on one opportunity, invitation, engagement or snapshot: scoped to our catalogs' ARNs.
PARTNER_CENTRAL_RESOURCE_ACTIONS = (
    "partnercentral:GetOpportunity",
    "partnercentral:CreateOpportunity",
    "partnercentral:UpdateOpportunity",
    "partnercentral:SubmitOpportunity",
    "partnercentral:AssignOpportunity",
    "partnercentral:AssociateOpportunity",
    "partnercentral:DisassociateOpportunity",
    "partnercentral:GetAwsOpportunitySummary",
    "partnercentral:GetEngagementInvitation",
    "partnercentral:AcceptEngagementInvitation",
    "partnercentral:RejectEngagementInvitation",
    "partnercentral:StartEngagementByAcceptingInvitationTask",
    "partnercentral:StartEngagementFromOpportunityTask",
    "partnercentral:GetEngagement",
    "partnercentral:ListEngagementMembers",
    "partnercentral:CreateResourceSnapshot",
    "partnercentral:GetResourceSnapshot",
)

# List actions support no resource-level permission (Resource must be "*"); the catalog condition bounds them.
PARTNER_CENTRAL_LIST_ACTIONS = (
    "partnercentral:ListOpportunities",
    "partnercentral:ListEngagementInvitations",
    "partnercentral:ListEngagements",
    "partnercentral:ListResourceSnapshots",
    "partnercentral:ListSolutions",
    "partnercentral:ListEngagementByAcceptingInvitationTasks",
    "partnercentral:ListEngagementFromOpportunityTasks",
)


def grant_task_permissions(
    role: iam.IRole,
    *,
    settings: DeploySettings,
    queues: Sequence[sqs.IQueue],
    table: dynamodb.ITable,
    topic: sns.ITopic,
) -> None:
    """Attach the worker's permissions to ``role``: queues, table, topic, Partner Central. Secrets are not
    among them: ECS injects them at start with the execution role (``secrets``/``valueFrom``)."""
    for queue in queues:
        queue.grant(role, *QUEUE_ACTIONS)
    table.grant(role, *TABLE_ACTIONS)
    topic.grant_publish(role)
    stack = Stack.of(role)
    catalog_condition = {"StringEquals": {"partnercentral:Catalog": list(settings.catalogs)}}
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="PartnerCentralObjects",
            actions=list(PARTNER_CENTRAL_RESOURCE_ACTIONS),
            resources=[
                f"arn:{stack.partition}:partnercentral:{PARTNER_CENTRAL_REGION}:{settings.account}:catalog/{c}/*"
                for c in settings.catalogs
            ],
            conditions=catalog_condition,
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="PartnerCentralLists",
            actions=list(PARTNER_CENTRAL_LIST_ACTIONS),
            resources=["*"],
            conditions=catalog_condition,
        )
    )
    if settings.partner_role_arn:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="AssumePartnerRole", actions=["sts:AssumeRole"], resources=[settings.partner_role_arn]
            )
        )


def grant_relay_permissions(
    role: iam.IRole,
    *,
    queues: Sequence[sqs.IQueue],
    table: dynamodb.ITable,
) -> None:
    """The relay enqueues webhooks, serves the REST API from the store and verifies signatures: no Partner
    Central, no partner role, no topic."""
    for queue in queues:
        queue.grant(role, *QUEUE_ACTIONS)
    table.grant(role, *TABLE_ACTIONS)
