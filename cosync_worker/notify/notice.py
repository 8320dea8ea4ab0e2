"""What a connector tells the notification service (:class:`Notice`) and what the service makes of it
(:class:`Message`): connectors say *what happened*, the service decides everything else."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .config import Priority

__all__ = ["Message", "Notice", "NoticeError"]


class NoticeError(ValueError):
    """A connector passed a notice the service cannot use (unknown kind, missing deal, bad facts)."""


@dataclass(frozen=True)
class Notice:
    """One event a rep must hear about.

    ``kind`` names a catalogue entry (``"aws.review_status"``); ``deal_id`` is the HubSpot deal; ``change_key``
    identifies *this* change (a new status, a score pair, a revision) so that redelivery maps to the same
    notice and a later, different change to a new one. ``facts`` feed the text (names, scores, feedback).
    """

    kind: str
    deal_id: str
    change_key: str
    facts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("kind", "deal_id", "change_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise NoticeError(f"notice {name} must be a non-empty string, got {value!r}")
        if not isinstance(self.facts, dict):
            raise NoticeError(f"notice facts must be a mapping, got {type(self.facts).__name__}")

    @property
    def key(self) -> str:
        """Deterministic across processes and replicas: the same (kind, deal, change) is one notice."""
        raw = "\x1f".join((self.kind, self.deal_id.strip(), self.change_key))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "deal_id": self.deal_id,
            "change_key": self.change_key,
            "facts": self.facts,
        }


@dataclass(frozen=True)
class Message:
    """A rendered notice: the text, priority and due time every channel sends (each in its own format)."""

    key: str
    notice: Notice
    priority: Priority
    icon: str
    title: str
    context: tuple[str, ...]
    actions: tuple[str, ...]
    due_at: datetime
    deal_name: str = ""
    owner_id: str | None = None
    task: bool = True  # False: HubSpot gets the note only (the catalogue's ``Verdict.task``)

    @property
    def subject(self) -> str:
        return f"{self.icon} {self.title}"
