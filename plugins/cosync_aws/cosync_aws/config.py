"""``connectors.aws`` in config.yaml: where Partner Central is, how to authenticate, and the sync rules."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cosync_worker.config import SecretRef

from .conflict_rules import ConflictRules

__all__ = ["DEFAULT_STAGE_MAP", "PC_STAGES", "AwsConfig", "ResourceRules", "SubmissionRules"]

# botocore's ``partnercentral-selling`` model, shape ``Stage``.
PC_STAGES = (
    "Prospect",
    "Qualified",
    "Technical Validation",
    "Business Validation",
    "Committed",
    "Launched",
    "Closed Lost",
)
# HubSpot's default sales pipeline stage ids -> Partner Central stages.
DEFAULT_STAGE_MAP: dict[str, str] = {
    "appointmentscheduled": "Prospect",
    "qualifiedtobuy": "Qualified",
    "presentationscheduled": "Technical Validation",
    "decisionmakerboughtin": "Business Validation",
    "contractsent": "Committed",
    "closedwon": "Launched",
    "closedlost": "Closed Lost",
}


class SubmissionRules(BaseModel):
    """When cosync submits an opportunity to AWS on its own (besides ``POST /submit-opportunity``)."""

    model_config = ConfigDict(extra="forbid")

    on_stages: list[str] = Field(default_factory=list, description="HubSpot stages that trigger submission")
    pending_days: float | None = Field(None, gt=0, description="submit when pending longer than this")
    involvement_type: Literal["Co-Sell", "For Visibility Only"] = "Co-Sell"
    visibility: Literal["Full", "Limited"] = "Full"


class ResourceRules(BaseModel):
    """What ``POST /resources/upload`` accepts (seed 002 "Security considerations": approved file types only)."""

    model_config = ConfigDict(extra="forbid")

    allowed_file_types: list[str] = Field(
        default_factory=lambda: ["PDF", "PPTX", "DOCX", "XLSX", "PNG", "JPG", "MP4"],
        min_length=1,
        description="file extensions a resource URL may end in (JPG also admits .jpeg)",
    )
    max_bytes: int = Field(50 * 1024 * 1024, gt=0, description="largest sizeBytes an upload may declare")
    console_url: str = Field(
        "https://partnercentral.awspartner.com",
        pattern=r"^https://",
        description="where a resource note links to: Partner Central's console (the API has no resource URL)",
    )


class AwsConfig(BaseModel):
    """Validated ``connectors.aws``; secrets are :class:`SecretRef` and never appear in logs."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    enabled: bool | None = Field(
        None,
        description="run the connector; unset = on when endpoint_url, role_arn or access keys are set "
        "(set true to use the default credential chain, e.g. a Fargate task role)",
    )
    endpoint_url: str | None = Field(
        None, description="None = real AWS; the sandbox emulator's URL otherwise"
    )
    region: str = "us-east-1"
    catalog: Literal["Sandbox", "AWS"] = "Sandbox"
    role_arn: str | None = None
    external_id: SecretRef | None = None
    aws_access_key_id: SecretRef | None = None
    aws_secret_access_key: SecretRef | None = None
    deal_tag: str = Field("#AWS", min_length=1)
    stage_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_STAGE_MAP))
    default_country_code: str = Field("US", min_length=2, max_length=2)
    default_industry: str = "Other"
    default_currency: str = Field("USD", min_length=3, max_length=3)
    # Partner Central quotas (https://docs.aws.amazon.com/partner-central/latest/developer-guide/quotas.html)
    write_rate_per_second: float = Field(1.0, gt=0)
    read_rate_per_second: float = Field(10.0, gt=0)
    daily_write_cap: int = Field(10_000, ge=1)
    daily_warning_ratio: float = Field(0.8, gt=0, le=1)
    # Kept so existing configs stay valid: writes no longer wait a fixed window (the write scheduler merges
    # the changes that land while a deal waits for its turn; an idle budget writes at once).
    coalesce_seconds: float = Field(0.0, ge=0, le=60, description="ignored since the write scheduler")
    submission: SubmissionRules = Field(default_factory=SubmissionRules)
    notify_score_changes: Literal["any", "up", "down", "none"] = "any"
    push_notes: bool = True  # seed 001 §1: a note on the deal per push naming what was sent
    fallback_solution_id: str | None = None
    solution_cache_seconds: float = Field(3600, ge=0)
    task_poll_seconds: float = Field(1.0, gt=0)
    task_timeout_seconds: float = Field(120, gt=0)
    conflicts: ConflictRules = Field(default_factory=ConflictRules)
    resources: ResourceRules = Field(default_factory=ResourceRules)
    notify_reassignment: bool = Field(
        False, description="seed 002 §3 step 7: tell the new assignee through the notification service (SNS)"
    )

    @property
    def configured(self) -> bool:
        """Installed is not enabled: without any of these the connector stays idle, so a worker that only
        syncs Google or Microsoft starts without AWS settings."""
        if self.enabled is not None:
            return self.enabled
        return any(v is not None for v in (self.endpoint_url, self.role_arn, self.aws_access_key_id))

    @model_validator(mode="after")
    def _check(self) -> AwsConfig:
        bad = sorted(v for v in self.stage_map.values() if v not in PC_STAGES)
        if bad:
            raise ValueError(
                f"stage_map: {', '.join(bad)} not a Partner Central stage ({', '.join(PC_STAGES)})"
            )
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            raise ValueError("aws_access_key_id and aws_secret_access_key must be given together")
        if self.external_id is not None and self.role_arn is None:
            raise ValueError("external_id needs role_arn")
        return self

    def reverse_stage(self, pc_stage: str) -> str | None:
        """The HubSpot stage for a Partner Central stage: the first mapping entry that produces it."""
        return next((hs for hs, pc in self.stage_map.items() if pc == pc_stage), None)
