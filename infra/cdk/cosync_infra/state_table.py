"""The one DynamoDB table of the state store (single-table design, see docs/deploy.md for key patterns).

Key schema and TTL attribute match ``cosync_worker/store/dynamodb.py``: partition key ``pk``, sort key
``sk`` (strings), expiry in epoch seconds in ``expires_at``.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from .settings import DeploySettings

__all__ = ["PARTITION_KEY", "SORT_KEY", "TTL_ATTRIBUTE", "StateTable"]

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expires_at"


class StateTable(Construct):
    """On-demand (traffic is bursty and small), point-in-time recovery, KMS encryption, retained on delete."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=f"{settings.name}-state",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.RETAIN,
            deletion_protection=True,
        )
