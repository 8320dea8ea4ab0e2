"""``connectors.microsoft`` in config.yaml, validated at start so a bad section refuses to start the worker.

Referral fields and enums: https://learn.microsoft.com/en-us/partner-center/developer/referral-resources
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cosync_worker.config import SecretRef

__all__ = [
    "DEFAULT_STAGE_MAP",
    "DEFAULT_STATUS_STAGE_MAP",
    "LOOPBACK_HOSTS",
    "MicrosoftConfig",
    "StatusPair",
]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# (status, substatus) as the Referrals API names them (ReferralStatus / ReferralSubstatus).
StatusPair = tuple[str, str]

# HubSpot's default sales pipeline stage → referral status/substatus (outgoing: deal → referral).
DEFAULT_STAGE_MAP: dict[str, list[str]] = {
    "appointmentscheduled": ["Active", "Accepted"],
    "qualifiedtobuy": ["Active", "Accepted"],
    "presentationscheduled": ["Active", "Engaged"],
    "decisionmakerboughtin": ["Active", "Engaged"],
    "contractsent": ["Active", "Engaged"],
    "closedwon": ["Closed", "Won"],
    "closedlost": ["Closed", "Lost"],
}

# "status/substatus" (or just "status") → HubSpot stage (incoming: referral → deal).
DEFAULT_STATUS_STAGE_MAP: dict[str, str] = {
    "New": "appointmentscheduled",
    "Active/Accepted": "qualifiedtobuy",
    "Active/Engaged": "presentationscheduled",
    "Active": "qualifiedtobuy",
    "Closed/Won": "closedwon",
    "Closed": "closedlost",
}

_SUBSTATUS: dict[str, tuple[str, ...]] = {
    "New": ("Pending", "Received"),
    "Active": ("Accepted", "Engaged"),
    "Closed": ("Declined", "Lost", "Won", "Expired"),
}


class MicrosoftConfig(BaseModel):
    """Where the Referrals API and Azure AD are, who we are to them, and how deals map onto referrals.

    Authentication: either ``access_token`` (a plain bearer token, the seed's simple setup) or
    ``client_id`` + ``client_secret`` (+ ``refresh_token`` for the app + user flow the Referrals API
    requires; without it MSAL's client-credentials flow is used). Without ``tenant_id`` and a token the
    connector is installed but idle, so an empty section is valid.
    """

    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://api.partner.microsoft.com"
    tenant_id: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    authority: str | None = Field(
        None, description="Azure AD authority; default https://login.microsoftonline.com/<tenant_id>"
    )
    scope: str = "https://api.partner.microsoft.com/.default"
    client_id: str | None = None
    client_secret: SecretRef | None = None
    refresh_token: SecretRef | None = None
    access_token: SecretRef | None = None
    deal_tag: str = Field("#Microsoft", min_length=1)
    stage_map: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_STAGE_MAP.items()}
    )
    status_stage_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_STATUS_STAGE_MAP))
    default_status: list[str] = Field(default_factory=lambda: ["Active", "Accepted"])
    referral_type: Literal["Independent", "Shared"] = "Independent"
    qualification: Literal["MarketingQualified", "SalesQualified", "Direct", "Unknown"] = "SalesQualified"
    consent_share_with_microsoft_sellers: bool = False
    consent_to_contact: bool = True
    consent_share_info_with_others: bool = False
    # FY26 co-sell solution areas / plays (Microsoft reorganised them for FY26; keep them configurable).
    solution_area: str | None = None
    solution_play: str | None = None
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    required_customer_fields: list[str] = Field(
        default_factory=lambda: ["name", "address.country", "team[0].email"],
        description="customerProfile fields a referral must have before cosync sends it",
    )
    poll_interval_seconds: float = Field(900.0, gt=0)
    poll_statuses: list[Literal["New", "Active"]] = Field(default=["New", "Active"], min_length=1)
    poll_page_size: int = Field(100, ge=1, le=500)
    poll_overlap_seconds: float = Field(
        120.0, ge=0, description="re-read this much before the cursor (clock skew)"
    )
    pipeline: str = "default"
    request_timeout_seconds: float = Field(30.0, gt=0)
    max_retries: int = Field(4, ge=0, le=10)
    backoff_base_seconds: float = Field(0.5, ge=0)
    requests_per_minute: int = Field(
        600, ge=1, description="the request budget every replica shares through the state store"
    )
    max_inline_wait_seconds: float = Field(
        10.0, ge=0, description="a Retry-After longer than this defers the event instead of sleeping"
    )

    @field_validator("base_url", "authority")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError("plain http is only allowed on loopback (the sandbox)")
        return value.rstrip("/")

    @field_validator("stage_map")
    @classmethod
    def _pairs(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for stage, pair in value.items():
            cls._check_pair(pair, f"stage_map.{stage}")
        return value

    @field_validator("default_status")
    @classmethod
    def _default_pair(cls, value: list[str]) -> list[str]:
        cls._check_pair(value, "default_status")
        return value

    @staticmethod
    def _check_pair(pair: list[str], where: str) -> None:
        if len(pair) != 2 or pair[0] not in _SUBSTATUS or pair[1] not in _SUBSTATUS[pair[0]]:
            valid = "; ".join(f"{s}: {', '.join(subs)}" for s, subs in _SUBSTATUS.items())
            raise ValueError(f"{where} must be [status, substatus] with a matching pair ({valid})")

    @field_validator("status_stage_map")
    @classmethod
    def _status_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            status, _, sub = key.partition("/")
            if status not in _SUBSTATUS or (sub and sub not in _SUBSTATUS[status]):
                raise ValueError(f"status_stage_map key {key!r} must be 'Status' or 'Status/Substatus'")
        return value

    @model_validator(mode="after")
    def _auth(self) -> MicrosoftConfig:
        if self.access_token is None and self.client_id is not None:
            missing = [n for n in ("tenant_id", "client_secret") if getattr(self, n) is None]
            if missing:
                raise ValueError(f"client_id is set, so {' and '.join(missing)} must be set too")
        if self.refresh_token is not None and self.client_id is None:
            raise ValueError(
                "refresh_token needs client_id, tenant_id and client_secret (MSAL app + user flow)"
            )
        return self

    @property
    def configured(self) -> bool:
        return self.access_token is not None or self.client_id is not None

    @property
    def authority_url(self) -> str:
        return self.authority or f"https://login.microsoftonline.com/{self.tenant_id}"

    def stage_to_status(self, stage: str | None) -> StatusPair:
        pair = self.stage_map.get(stage or "") or self.default_status
        return pair[0], pair[1]

    def status_to_stage(self, status: str | None, substatus: str | None) -> str | None:
        return self.status_stage_map.get(f"{status}/{substatus}") or self.status_stage_map.get(status or "")
