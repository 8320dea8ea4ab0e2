"""One field that HubSpot and a partner cloud both changed since cosync last synced it."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Conflict", "ConflictStatus", "new_conflict_id"]

ConflictStatus = Literal["PENDING", "RESOLVED"]


def new_conflict_id() -> str:
    return f"conf-{uuid.uuid4().hex[:16]}"


class Conflict(BaseModel):
    """``remote_*`` is the partner cloud's side; timestamps are epoch seconds."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_conflict_id, min_length=1, max_length=64)
    connector: str = Field(min_length=1)
    object_key: str = Field(min_length=1, description="the remote object's key, <system>:<type>:<id>")
    remote_id: str = Field(min_length=1, description="the remote object's id")
    deal_id: str = Field(min_length=1)
    field: str = Field(min_length=1, description="the HubSpot property both sides changed")
    hubspot_value: Any = None
    hubspot_timestamp: float | None = None
    remote_value: Any = None
    remote_timestamp: float | None = None
    kind: str = "SIMULTANEOUS_UPDATE"
    detected_at: float = Field(default_factory=time.time)
    status: ConflictStatus = "PENDING"
    resolution: str | None = None
    resolved_value: Any = None
    reason: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = Field(None, description="who resolved it: a token's user, or cosync's rule")
