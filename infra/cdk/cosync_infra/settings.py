"""Typed deployment settings: what differs between one AWS account's cosync and another's.

Read from the CDK context key ``cosync`` (``cdk.json``, or ``cdk deploy -c cosync_file=settings.json``), validated
once before any construct is built, so a typo fails ``cdk synth`` with the field's path instead of a half-made
template.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "PARTNER_CENTRAL_REGION",
    "DeploySettings",
    "RelayServiceSettings",
    "SecretSettings",
    "SettingsError",
    "WorkerServiceSettings",
    "load_settings",
]

# Partner Central's API and its EventBridge events exist in us-east-1 only:
# https://docs.aws.amazon.com/partner-central/latest/APIReference/selling-api-events.html
PARTNER_CENTRAL_REGION = "us-east-1"

# Fargate's valid CPU/memory pairs:
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#task_size
_FARGATE_MEMORY: dict[int, range] = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
}


class SettingsError(ValueError):
    """Settings that cannot describe a deployment; the message lists every problem with its path."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TaskSize(_Section):
    cpu: int = 512
    memory_mib: int = 1024
    min_tasks: int = Field(1, ge=1, le=100)
    max_tasks: int = Field(4, ge=1, le=100)

    @model_validator(mode="after")
    def _check(self) -> _TaskSize:
        allowed = _FARGATE_MEMORY.get(self.cpu)
        if allowed is None:
            raise ValueError(f"cpu {self.cpu} is not a Fargate size (one of {sorted(_FARGATE_MEMORY)})")
        if self.memory_mib not in allowed:
            raise ValueError(
                f"memory_mib {self.memory_mib} does not fit cpu {self.cpu} "
                f"({allowed.start}..{allowed.stop - 1} in steps of {allowed.step})"
            )
        if self.min_tasks > self.max_tasks:
            raise ValueError(f"min_tasks {self.min_tasks} is above max_tasks {self.max_tasks}")
        return self


class WorkerServiceSettings(_TaskSize):
    """The queue consumers. ``min_tasks`` is at least 1: the scaling metric divides by the running count."""

    backlog_per_task: int = Field(100, ge=1, description="visible messages one task is expected to absorb")
    stop_timeout_seconds: int = Field(30, ge=2, le=120)
    drain_seconds: int = Field(25, ge=1)
    concurrency: int = Field(16, ge=1, le=1024)

    @model_validator(mode="after")
    def _drain_fits(self) -> WorkerServiceSettings:
        # ECS sends SIGKILL stop_timeout after SIGTERM; the worker must finish draining first.
        if self.drain_seconds >= self.stop_timeout_seconds:
            raise ValueError(
                f"drain_seconds {self.drain_seconds} must be below stop_timeout_seconds {self.stop_timeout_seconds}"
            )
        return self


class RelayServiceSettings(_TaskSize):
    """The webhook intake behind the HTTPS load balancer."""

    min_tasks: int = Field(2, ge=1, le=100)
    certificate_arn: str
    public_url: str | None = Field(None, description="https://host the HubSpot app posts webhooks to")
    ingress_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"], min_length=1)
    requests_per_target: int = Field(200, ge=1, description="ALB requests per target per minute to scale on")

    @field_validator("certificate_arn")
    @classmethod
    def _acm(cls, value: str) -> str:
        if not re.fullmatch(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+", value):
            raise ValueError(f"{value!r} is not an ACM certificate ARN")
        return value

    @field_validator("public_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must start with https:// (HubSpot only calls HTTPS webhook URLs)")
        return value.rstrip("/") if value else value


# Configuration keys whose value is a list: the secret becomes its one element.
LIST_VALUED_SECRETS = frozenset({"COSYNC__RELAY__API_TOKENS"})


class SecretSettings(_Section):
    """Secrets Manager names, created empty by the stack and filled by the operator (see docs/deploy.md).

    Keys are the ``COSYNC__SECTION__KEY`` configuration overrides the secrets fill. ECS injects each secret
    (``valueFrom``) into its own variable, ``COSYNC_SECRET_<SECTION__KEY>``, and the override refers to it
    as ``env:COSYNC_SECRET_<SECTION__KEY>``: the value never passes through the overrides' YAML parsing (a
    JSON key would become a mapping) and never appears in the template.
    """

    names: dict[str, str] = Field(
        default_factory=lambda: {
            "COSYNC__HUBSPOT__ACCESS_TOKEN": "cosync/hubspot-token",
            "COSYNC__HUBSPOT__CLIENT_SECRET": "cosync/hubspot-client-secret",
            "COSYNC__RELAY__API_TOKENS": "cosync/api-token",
            "COSYNC__CONNECTORS__MICROSOFT__CLIENT_SECRET": "cosync/microsoft-client-secret",
            "COSYNC__CONNECTORS__GCP__SERVICE_ACCOUNT_JSON": "cosync/gcp-service-account",
        }
    )

    @field_validator("names")
    @classmethod
    def _shape(cls, value: dict[str, str]) -> dict[str, str]:
        for env, name in value.items():
            if not re.fullmatch(r"COSYNC__[A-Z0-9_]+", env):
                raise ValueError(f"{env!r} is not a COSYNC__SECTION__KEY environment variable")
            if not re.fullmatch(r"[A-Za-z0-9/_+=.@-]{1,512}", name):
                raise ValueError(f"{name!r} (for {env}) is not a valid Secrets Manager name")
        return value

    @staticmethod
    def variable(override: str) -> str:
        """The variable ECS puts the secret of ``override`` in."""
        return "COSYNC_SECRET_" + override.removeprefix("COSYNC__")

    def overrides(self) -> dict[str, str]:
        """``COSYNC__…`` override -> its ``env:`` reference (a one-element list for list-valued keys)."""
        out = {}
        for override in self.names:
            ref = f"env:{self.variable(override)}"
            out[override] = f"[{ref}]" if override in LIST_VALUED_SECRETS else ref
        return out


class DeploySettings(_Section):
    account: str
    region: str = PARTNER_CENTRAL_REGION
    name: str = Field(
        "cosync", pattern=r"^[a-z][a-z0-9-]{1,30}$", description="prefix of every named resource"
    )
    image: str = Field(
        description="container image, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/cosync:1.0"
    )
    worker: WorkerServiceSettings = WorkerServiceSettings()
    relay: RelayServiceSettings
    secrets: SecretSettings = SecretSettings()
    catalogs: list[str] = Field(default_factory=lambda: ["AWS"], min_length=1)
    partner_role_arn: str | None = Field(None, description="role the connectors assume for Partner Central")
    visibility_timeout_seconds: int = Field(30, ge=5, le=43_200)
    max_receives: int = Field(10, ge=2, le=1000)  # must exceed the worker's retry.max_attempts (8 by default)
    log_retention_days: int = 30
    nat_gateways: int = Field(1, ge=1, le=3)
    max_azs: int = Field(2, ge=2, le=3)
    vpc_cidr: str = Field("10.0.0.0/16", pattern=r"^\d{1,3}(\.\d{1,3}){3}/(1[6-9]|2[0-4])$")
    availability_zones: list[str] | None = Field(
        None,
        min_length=2,
        description="zones of the VPC; default the region's first max_azs (a, b, c), so synth needs no lookup",
    )
    metrics_agent_image: str = Field(
        "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300059.0b1207",
        description="CloudWatch agent image of the metrics sidecar (pin a tag; docs/deploy.md)",
    )
    oldest_message_alarm_seconds: int = Field(900, ge=60)
    relay_5xx_alarm_count: int = Field(5, ge=1)
    partner_central_daily_write_cap: int = Field(10_000, ge=1)
    partner_central_write_alarm_ratio: float = Field(0.8, gt=0, le=1)
    alarm_emails: list[str] = Field(default_factory=list)
    extra_environment: dict[str, str] = Field(default_factory=dict)

    @field_validator("account")
    @classmethod
    def _account(cls, value: str) -> str:
        if not re.fullmatch(r"\d{12}", value):
            raise ValueError(f"{value!r} is not a 12-digit AWS account id")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", value):
            raise ValueError(f"{value!r} is not an AWS region name")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        tagged = ":" in value.rsplit("/", 1)[-1] or "@" in value
        if not value or any(c.isspace() for c in value) or not tagged:
            raise ValueError(f"{value!r} must be an image reference with a tag or digest")
        return value

    @field_validator("catalogs")
    @classmethod
    def _catalogs(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if c not in ("AWS", "Sandbox")]
        if bad:
            raise ValueError(f"unknown Partner Central catalog(s) {bad}; use AWS and/or Sandbox")
        return value

    @field_validator("partner_role_arn")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", value):
            raise ValueError(f"{value!r} is not an IAM role ARN")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        # The values CloudWatch Logs accepts:
        # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
        allowed = (
            1,
            3,
            5,
            7,
            14,
            30,
            60,
            90,
            120,
            150,
            180,
            365,
            400,
            545,
            731,
            1096,
            1827,
            2192,
            2557,
            2922,
            3288,
            3653,
        )
        if value not in allowed:
            raise ValueError(f"{value} is not a CloudWatch Logs retention (one of {allowed})")
        return value

    @model_validator(mode="after")
    def _zones_in_region(self) -> DeploySettings:
        bad = [
            z for z in self.availability_zones or [] if not re.fullmatch(re.escape(self.region) + r"[a-z]", z)
        ]
        if bad:
            raise ValueError(f"availability_zones {bad} are not zones of {self.region}")
        return self

    @property
    def zones(self) -> list[str]:
        """The VPC's availability zones, known without asking AWS (``cdk synth`` stays offline)."""
        return self.availability_zones or [f"{self.region}{letter}" for letter in "abc"[: self.max_azs]]

    @property
    def in_partner_central_region(self) -> bool:
        return self.region == PARTNER_CENTRAL_REGION

    @property
    def partner_central_write_alarm_threshold(self) -> int:
        return int(self.partner_central_daily_write_cap * self.partner_central_write_alarm_ratio)


def load_settings(context: Any, file: str | Path | None = None) -> DeploySettings:
    """Validate settings from a context value (a dict) or, when ``file`` is given, from that JSON file.

    Raises :class:`SettingsError` listing each problem as ``path: message``.
    """
    if file is not None:
        try:
            context = json.loads(Path(file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(f"cannot read settings file {file}: {exc.strerror}") from None
        except ValueError as exc:
            raise SettingsError(f"settings file {file} is not valid JSON: {exc}") from None
    if not isinstance(context, dict):
        raise SettingsError("settings: expected an object under the CDK context key 'cosync'")
    try:
        return DeploySettings.model_validate(context)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()]
        raise SettingsError("invalid cosync deployment settings:\n  " + "\n  ".join(lines)) from None
