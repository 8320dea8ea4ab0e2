"""The one event envelope every source (relay, EventBridge, scheduler, REST API) is normalised into."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Event", "ObjectRef", "Source"]

Source = Literal["hubspot", "eventbridge", "schedule", "api"]


class ObjectRef(BaseModel):
    """The remote object an event concerns, e.g. ``hubspot`` deal ``123`` or ``partnercentral`` ``O123``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str = Field(min_length=1)
    type: str = Field(min_length=1)
    id: str = Field(min_length=1)

    @property
    def key(self) -> str:
        return f"{self.system}:{self.type}:{self.id}"


class Event(BaseModel):
    """A unit of work on the queue.

    ``ordering_key`` serialises work on one object (SQS FIFO message group); ``dedupe_key`` makes a
    redelivered or re-sent event run once (SQS deduplication id and the processed-key store).
    ``connectors`` addresses the event to those connectors only: a dead letter carries the connectors that
    failed it, so its replay runs them alone (``None``: every connector that declared the type); so does a
    retry re-sent for the connectors that asked for it (``not_before``, ``attempt``).
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    source: Source
    type: str = Field(min_length=1)
    object: ObjectRef
    ordering_key: str = Field(min_length=1, max_length=128)
    dedupe_key: str = Field(min_length=1, max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict)
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    attempt: int = Field(default=0, ge=0)
    connectors: list[str] | None = Field(default=None, min_length=1)
    # A retry re-sent outside its object's group (so one connector's retry holds no one else): not run
    # before this epoch time; ``attempt`` carries the attempts it already had.
    not_before: float | None = None
    # How often it was re-sent because another worker held its object (``Busy``): not attempts, bounded apart.
    waits: int = Field(default=0, ge=0)

    def to_json(self) -> str:
        # Left out when unset: the bodies of every ordinary event stay as they were.
        unset = {k for k in ("connectors", "not_before") if getattr(self, k) is None}
        if not self.waits:
            unset.add("waits")
        return self.model_dump_json(exclude=unset or None)

    def addressed_to(self, connectors: list[str]) -> Event:
        """A copy of this event for ``connectors`` alone (what a dead letter holds)."""
        return self.model_copy(update={"connectors": sorted(connectors)})

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        return cls.model_validate_json(raw)
