"""``connectors.gcp`` in config.yaml, validated at start so a bad section refuses to start the worker."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cosync_worker.config import SecretRef

__all__ = ["DEFAULT_STAGE_MAP", "GcpConfig"]

# HubSpot's default sales pipeline stage ids → Opportunity.salesStage.
# SalesStage enum: https://developers.google.com/cloud-crm-partners/reference/rest/v1/partners.opportunities
DEFAULT_STAGE_MAP: dict[str, str] = {
    "appointmentscheduled": "QUALIFYING",
    "qualifiedtobuy": "QUALIFIED",
    "presentationscheduled": "PROPOSAL",
    "decisionmakerboughtin": "PROPOSAL",
    "contractsent": "NEGOTIATING",
    "closedwon": "CLOSED_WON",
    "closedlost": "CLOSED_LOST",
}

_ENUM = re.compile(r"^[A-Z][A-Z0-9_]*$")


class GcpConfig(BaseModel):
    """Where the Cloud CRM Partners API is, who we are to it, and how deals map onto its resources.

    Exactly one of ``service_account_json`` (the key JSON itself, usually ``file:``/``ssm:`` ref) or
    ``service_account_file`` (a path read at start) is required.
    """

    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://cloudcrmpartners.googleapis.com"
    token_url: str | None = Field(None, description="overrides the key's token_uri (the sandbox's /token)")
    partner_id: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    service_account_json: SecretRef | None = None
    service_account_file: str | None = None
    deal_tag: str = Field("#GCP", min_length=1)
    stage_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_STAGE_MAP))
    refresh_interval_seconds: float = Field(900.0, gt=0)
    product_family: str = "GOOGLE_CLOUD_PLATFORM"
    currency_code: str = Field("USD", pattern=r"^[A-Z]{3}$")
    engagement_model: str = "ENGAGEMENT_MODEL_PARTNER_LED"
    deal_transaction_type: str = "DEAL_TRANSACTION_TYPE_NEW"
    support_level: str = "SUPPORT_LEVEL_STANDARD"
    deal_term_months: int = Field(12, ge=1, le=120)
    request_timeout_seconds: float = Field(30.0, gt=0)
    max_retries: int = Field(4, ge=0, le=10)
    backoff_base_seconds: float = Field(0.5, ge=0)
    requests_per_minute: int = Field(
        600, ge=1, description="the request budget every replica shares through the state store"
    )
    # How a lead's opportunity is found: "lead" (leads.get, which today exposes no link, so the rep or a
    # refresh picks it up from gcp_opportunity_id) or "sandbox" (the emulator's operator API; never Google).
    link_lookup: Literal["lead", "sandbox"] = "lead"
    sandbox_operator_url: str | None = None
    refresh_concurrency: int = Field(4, ge=1, le=32)

    @field_validator("base_url", "token_url", "sandbox_operator_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("stage_map")
    @classmethod
    def _stages_are_enums(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(stage for stage, v in value.items() if not _ENUM.match(v))
        if bad:
            # The keys are paths, so naming them is safe; the values themselves are never echoed.
            raise ValueError(f"salesStage values must be UPPER_SNAKE enum names: see {', '.join(bad)}")
        return value

    @field_validator("product_family", "engagement_model", "deal_transaction_type", "support_level")
    @classmethod
    def _enum(cls, value: str) -> str:
        if not _ENUM.match(value):
            raise ValueError("must be an UPPER_SNAKE enum name")
        return value

    @property
    def configured(self) -> bool:
        """Without ``partner_id`` the connector is installed but idle (so an empty section is valid)."""
        return self.partner_id is not None

    @model_validator(mode="after")
    def _one_key_source(self) -> GcpConfig:
        if not self.configured:
            return self
        if (self.service_account_json is None) == (self.service_account_file is None):
            raise ValueError("set exactly one of service_account_json or service_account_file")
        return self
