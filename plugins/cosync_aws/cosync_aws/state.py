"""What the connector keeps in the state store: the typed per-deal state and the keys of the rest.

A deal's state is written by handlers under different ordering keys (the HubSpot deal and the Partner Central
opportunity) and by flows that do not take the deal's lock (submission), so it is never written back whole
from a copy read before a long call: every write is :meth:`BoundState.update`, a compare-and-set on the
record's version that re-applies its change when another writer got there first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cosync_worker.connector import ObjectState

__all__ = [
    "RECONCILE_CURSOR",
    "Creating",
    "DealState",
    "deal_state",
    "invitation_key",
    "note_key",
    "opportunity_key",
    "related_key",
    "replace",
    "setting",
]

RECONCILE_CURSOR = "aws:reconcile:last_modified"


class Creating(BaseModel):
    """A CreateOpportunity under way: sent again exactly, so its ClientToken returns the same opportunity."""

    request: dict[str, Any]
    owned: dict[str, Any]
    read_at_ms: int = 0


class DealState(BaseModel):
    """The last state synced for a deal (``aws:deal:<deal id>``; state written before the SDK is read as is)."""

    # A key this model does not name (written by an older or newer release) is carried, never dropped.
    model_config = ConfigDict(extra="allow")

    opportunity_id: str | None = None
    # False: created, but the write-back to the deal (solutions, properties, note) has not finished.
    linked: bool | None = None
    tagged: bool | None = None  # False: no tag, so no event of the deal costs a call until its name changes
    error: str | None = None  # why the opportunity could not be created
    creating: Creating | None = None
    owned: dict[str, Any] = Field(default_factory=dict)  # what the opportunity holds, by owned path
    hubspot: dict[str, Any] = Field(default_factory=dict)  # the deal's view of it, by HubSpot property
    read_at_ms: int = 0  # when the deal was read for ``owned``: older events are covered
    reverse_written_ms: int = 0  # when a reverse sync last wrote to the deal: an older read must not push
    solutions: list[str] | None = None  # associated after the creation (None: not yet tried)
    sending: dict[str, Any] = Field(default_factory=dict)  # what a push is writing right now, by owned path
    conflicts: dict[str, str] = Field(default_factory=dict)  # owned path -> pending manual conflict id
    submitting: float | None = None  # when cosync's own submission started
    submit_task_id: str | None = None
    submit_error: str | None = None  # the last "cannot submit" message told to the rep
    submitted: bool = False
    assignee: str | None = None  # the Partner Central user the opportunity is assigned to
    # cosync's own last write: when its answer came (our clock) and the LastModifiedDate it answered. An event
    # at or before it, or a reconcile record at or before it, is that write's echo and costs no read.
    own_write_ms: int = 0
    own_modified: str = ""
    # Events cosync's own writes still owe (see echoes.py), none older than ``own_since`` (AWS's clock).
    own_echoes: int = 0
    own_since: str = ""


# Declared on the connector (``AwsConnector.deals``); ``legacy`` reads what was written before the move.
deal_state = ObjectState(DealState, "deal", legacy=True)


def setting(**fields: Any) -> Callable[[DealState], DealState]:
    """An update that sets ``fields`` and keeps the rest as the store has it now."""
    return lambda state: state.model_copy(update=fields)


def replace(state: DealState) -> Callable[[DealState], DealState]:
    """An update that replaces whatever the store has with ``state``."""
    return lambda _: state


def opportunity_key(opportunity_id: str) -> str:
    """``{"deal_id"}``: which deal an opportunity belongs to, without a HubSpot search."""
    return f"aws:opportunity:{opportunity_id}"


def invitation_key(invitation_id: str) -> str:
    """``{"task_id", "opportunity_id", "deal_id"}``: how far accepting an invitation got."""
    return f"aws:invitation:{invitation_id}"


def note_key(kind: str, ident: str) -> str:
    return f"aws:note:{kind}:{ident}"


def related_key(object_type: str, object_id: str) -> str:
    """``{"read_at_ms"}``: when the last push for a company's or contact's change read HubSpot (coalescing)."""
    return f"aws:related:{object_type}:{object_id}"
