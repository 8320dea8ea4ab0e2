"""The ``notify:`` section of ``config.yaml``; every threshold of seeds 001 §4 and 004 with the seeds' defaults.

Seed 001 §4 sets the score-change threshold to 15 points and "high score" to 80; seed 004 sets due hours by
priority (HIGH 24, MEDIUM 72, LOW 168). Per-kind due hours (e.g. conflicts 12 h, action required 48 h) follow
the seed 004 event table and live in :mod:`.catalogue`; ``due_hours_by_kind`` overrides them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChannelSettings", "DigestSettings", "NotifySettings", "Priority"]

Priority = Literal["HIGH", "MEDIUM", "LOW"]
ALL_PRIORITIES: tuple[Priority, ...] = ("HIGH", "MEDIUM", "LOW")


def _all() -> list[Priority]:
    return list(ALL_PRIORITIES)


def _low() -> list[Priority]:
    return ["LOW"]


def _due() -> dict[Priority, float]:
    return {"HIGH": 24.0, "MEDIUM": 72.0, "LOW": 168.0}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelSettings(BaseModel):
    """One channel: on/off, which priorities it carries, plus channel-specific options (topic ARN, URL...)."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = True
    priorities: list[Priority] = Field(default_factory=_all)

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class DigestSettings(_Section):
    """Seed 004's roadmap "digest mode": LOW items are gathered per owner and sent once a day."""

    enabled: bool = False
    priorities: list[Priority] = Field(default_factory=_low)


class NotifySettings(_Section):
    score_change_threshold: float = Field(15, ge=0, description="seed 001: notify on +/-15 point changes")
    high_score: float = Field(80, ge=0, le=100, description="seed 001/004: scores 80+ are high priority")
    due_hours: dict[Priority, float] = Field(
        default_factory=_due,
        description="seed 004 DUE_HOURS; used when a catalogue entry has no due time of its own",
    )
    due_hours_by_kind: dict[str, float] = Field(default_factory=dict)
    fallback_owner_id: str | None = Field(None, description="task owner for deals that have none")
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)
    digest: DigestSettings = DigestSettings()
    batch_window_seconds: float = Field(0.05, ge=0, le=10)
    delivery_attempts: int = Field(3, ge=1, le=20)
    retry_delay_seconds: float = Field(0.5, ge=0)
    lease_seconds: float = Field(120.0, gt=0, description="how long one replica owns a notice it delivers")
    ledger_ttl_seconds: float = Field(90 * 24 * 3600.0, gt=0)

    def channel(self, name: str) -> ChannelSettings | None:
        return self.channels.get(name)
